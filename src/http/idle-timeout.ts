/**
 * Idle limits on request bodies. Amazon S3 gives up on a request whose client
 * stops sending ("Your socket connection to the server was not read from or
 * written to within the timeout period", 400 RequestTimeout, after about 20
 * seconds); without such a limit a stalled upload holds its socket, its staged
 * file and their descriptors for ever. The limit is on silence, not on the
 * whole request: a 5 GiB PUT over a slow link that keeps sending is never cut off.
 */
import { S3Error } from '../errors/s3-errors.js';

/**
 * Wraps a request body so that waiting more than `ms` for its next bytes fails
 * the read with S3Error RequestTimeout. Only time spent waiting on the client
 * counts: while the consumer is busy with a chunk (encrypting, writing to disk,
 * applying backpressure) the clock is stopped.
 *
 * After a timeout the underlying stream is left alone (not destroyed), so the
 * server can still answer 400 RequestTimeout before it closes the connection.
 * One timer per body, re-armed with refresh(): no allocation per chunk beyond
 * the promise a read needs anyway.
 */
export function withIdleTimeout(source: AsyncIterable<Buffer>, ms: number): AsyncIterable<Buffer> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<Buffer> {
      const it = source[Symbol.asyncIterator]();
      let waiting: ((err: Error) => void) | undefined;
      let timedOut = false;
      const timer = setTimeout(() => {
        // A timer that fires while the consumer is busy (not waiting) means nothing.
        if (!waiting) return;
        timedOut = true;
        const fail = waiting;
        waiting = undefined;
        fail(new S3Error('RequestTimeout'));
      }, ms);
      timer.unref();
      return {
        next: (): Promise<IteratorResult<Buffer>> => {
          if (timedOut) return Promise.reject(new S3Error('RequestTimeout'));
          timer.refresh();
          return new Promise<IteratorResult<Buffer>>((resolve, reject) => {
            waiting = reject;
            it.next().then(
              (r) => {
                if (waiting !== reject) return; // timed out meanwhile: already rejected
                waiting = undefined;
                if (r.done) clearTimeout(timer);
                resolve(r);
              },
              (err: unknown) => {
                if (waiting !== reject) return;
                waiting = undefined;
                clearTimeout(timer);
                reject(err);
              },
            );
          });
        },
        return: async (): Promise<IteratorResult<Buffer>> => {
          clearTimeout(timer);
          // After a timeout the read still pending on the stream must not be torn down
          // with it: destroying the request would destroy the socket before the 400 is sent.
          if (!timedOut) await it.return?.();
          return { done: true, value: undefined };
        },
      };
    },
  };
}
