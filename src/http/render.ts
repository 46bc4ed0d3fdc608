/**
 * The one place responses become bytes: S3Response values and S3 errors.
 * Anything thrown that is not an S3Error goes out as InternalError (but a full
 * disk or an unavailable storage backend: ServiceUnavailable), and its message
 * stays in the server log.
 */
import { validateHeaderName, validateHeaderValue, type IncomingMessage, type ServerResponse } from 'node:http';
import { isOutOfSpace } from '../errors/out-of-space.js';
import { isBackendUnavailable } from '../errors/backend-unavailable.js';
import { S3Error, storageFullError, storageUnavailableError } from '../errors/s3-errors.js';
import { buildXml, type XmlNode } from '../xml/xml.js';
import type { S3Response } from './types.js';

export function errorXml(err: S3Error, resource: string, requestId: string): string {
  const fields: XmlNode[] = Object.entries(err.fields).map(([k, v]) => [k, String(v)]);
  return buildXml([
    'Error',
    [['Code', err.code], ['Message', err.message], ...fields, ['Resource', resource], ['RequestId', requestId]],
  ]);
}

export function toS3Error(err: unknown): S3Error {
  if (err instanceof S3Error) return err;
  // A full disk is the operator's condition to fix, not a bug: a clean, retryable answer.
  if (isOutOfSpace(err)) return storageFullError();
  // So is a read-only, failing or vanished data filesystem: retryable, and passes once it is back.
  if (isBackendUnavailable(err)) return storageUnavailableError();
  return new S3Error('InternalError');
}

/** Renders an S3Error. HEAD responses and 304 carry no body, as S3 sends them. */
export function errorResponse(err: S3Error, opts: { method: string; resource: string; requestId: string }): S3Response {
  const headers: Record<string, string> = { ...err.headers };
  if (opts.method === 'HEAD' || err.status === 304) return { status: err.status, headers };
  headers['content-type'] = 'application/xml';
  return { status: err.status, headers, body: errorXml(err, opts.resource, opts.requestId) };
}

/**
 * The name of the first header node would refuse to send (a control character or a
 * character beyond Latin-1 in a value, a bad name), or undefined. Checked before anything
 * is written: setHeader throwing half-way would leave only a dropped connection to answer with.
 */
export function unsendableHeader(response: S3Response): string | undefined {
  for (const [name, value] of Object.entries(response.headers ?? {})) {
    if (value === undefined) continue;
    try {
      validateHeaderName(name);
      validateHeaderValue(name, typeof value === 'number' ? String(value) : value);
    } catch {
      return name;
    }
  }
  return undefined;
}

/** Lets the producer of a streamed body that will not be sent release what it holds (open blobs). */
export async function releaseBody(body: S3Response['body']): Promise<void> {
  if (body !== undefined && typeof body !== 'string' && !Buffer.isBuffer(body)) {
    await body[Symbol.asyncIterator]().return?.();
  }
}

/** Writes a response; resolves when the last byte is handed to the socket. Body bytes written are added to `sent.bytesOut`. */
export async function writeResponse(req: IncomingMessage, res: ServerResponse, response: S3Response, sent: { bytesOut: number } = { bytesOut: 0 }): Promise<void> {
  res.statusCode = response.status;
  for (const [name, value] of Object.entries(response.headers ?? {})) {
    if (value !== undefined) res.setHeader(name, typeof value === 'number' ? String(value) : value);
  }
  const body = response.body;
  const noBody = req.method === 'HEAD' || response.status === 304 || response.status === 204;
  if (body === undefined || noBody) {
    await releaseBody(body);
    if (!res.hasHeader('content-length') && !noBody) res.setHeader('content-length', '0');
    res.end();
    return;
  }
  if (typeof body === 'string' || Buffer.isBuffer(body)) {
    const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    res.setHeader('content-length', String(buf.length));
    res.end(buf);
    sent.bytesOut += buf.length;
    return;
  }
  await streamBody(res, body, sent);
}

/**
 * Streams `body` into the response with backpressure. A failing body destroys
 * the response (the client sees a cut connection, never a clean end); a client
 * that goes away stops the body. A plain loop instead of stream.pipeline: no
 * Readable, AbortController or extra buffering per response.
 */
const CORK_BYTES = 256 * 1024;

async function streamBody(res: ServerResponse, body: AsyncIterable<Buffer>, sent: { bytesOut: number }): Promise<void> {
  const it = body[Symbol.asyncIterator]();
  let ended = false;
  let corked = 0;
  try {
    for (;;) {
      const r = await it.next();
      if (r.done) {
        ended = true;
        break;
      }
      if (res.destroyed) break;
      // Pieces are gathered (cork) and go out as one writev per CORK_BYTES: a socket write
      // costs more than the bytes it moves at these sizes, and no copy is made to join them.
      if (corked === 0) res.cork();
      corked += r.value.length;
      sent.bytesOut += r.value.length;
      const more = res.write(r.value);
      if (corked >= CORK_BYTES || !more) {
        res.uncork();
        corked = 0;
      }
      if (!more) await drained(res);
    }
  } catch (err) {
    res.destroy(err instanceof Error ? err : new Error(String(err)));
    throw err;
  } finally {
    if (corked > 0) res.uncork();
    if (!ended) await it.return?.()?.catch(() => {});
  }
  if (!ended || res.destroyed) throw new Error('the client closed the connection before the response ended');
  await new Promise<void>((resolve, reject) => {
    const onClose = () => (res.writableFinished ? resolve() : reject(new Error('the client closed the connection before the response ended')));
    res.once('finish', () => {
      res.off('close', onClose);
      resolve();
    });
    res.once('close', onClose);
    res.end();
  });
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
