/**
 * Keeps the blobs of objects being read from the blob collector while the read
 * lasts, however long that is.
 *
 * The collector deletes a replaced multipart object's blobs only after a grace period
 * (storage/blob-collector.ts; a one-blob object's go at once, its reader holding the one
 * blob open), counted in the shared metadata store so that
 * every worker and node honours it. A download can outlast any fixed period
 * (an 11 MB object over a slow link, a multi-GB one over a fast link), so each
 * read is registered here and, every third of the grace period while it runs,
 * the grace period of its blobs is restarted in the metadata store
 * (MetadataStore.deferGarbage). A blob is queued at the earliest when the read
 * resolved the object, the first restart comes at most a third of the period
 * later and each next one a third after that: no collector anywhere sees the
 * entry old enough while the read holds it. The cost: while reads are in
 * flight, one metadata statement per held blob every third of the period,
 * which writes only for blobs already queued (their object was replaced).
 */
import type { MetadataStore } from '../metadata/metadata-store.js';

export interface ReadHoldsOptions {
  metadata: MetadataStore;
  /** The collector's grace period; 0 holds nothing (blobs go as soon as they are queued). */
  graceMs: number;
  /** Reports a failed restart (the next one tries again; the margin is two thirds of the period). */
  onError: (err: unknown) => void;
}

/** Ends a hold; calling it again does nothing. */
export type ReleaseHold = () => void;

const NOTHING_HELD: ReleaseHold = () => {};

export class ReadHolds {
  readonly #metadata: MetadataStore;
  readonly #periodMs: number;
  readonly #onError: (err: unknown) => void;
  readonly #held = new Map<number, readonly string[]>();
  #nextId = 0;
  #timer: NodeJS.Timeout | undefined;
  #renewing: Promise<void> | undefined;

  constructor(options: ReadHoldsOptions) {
    this.#metadata = options.metadata;
    this.#periodMs = Math.floor(options.graceMs / 3);
    this.#onError = options.onError;
  }

  /** Holds `blobIds` until the returned function is called, or `signal` aborts. */
  hold(blobIds: readonly string[], signal?: AbortSignal): ReleaseHold {
    if (this.#periodMs === 0 || blobIds.length === 0) return NOTHING_HELD;
    const id = this.#nextId++;
    this.#held.set(id, blobIds);
    if (!this.#timer) {
      this.#timer = setInterval(() => this.#renew(), this.#periodMs);
      this.#timer.unref();
    }
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      signal?.removeEventListener('abort', release);
      this.#held.delete(id);
      if (this.#held.size === 0) {
        clearInterval(this.#timer);
        this.#timer = undefined;
      }
    };
    // A response abandoned before its body was iterated (the client went away) still ends its hold.
    signal?.addEventListener('abort', release, { once: true });
    return release;
  }

  /** Runs `read` with `blobIds` held. */
  async during<T>(blobIds: readonly string[], read: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const release = this.hold(blobIds, signal);
    try {
      return await read();
    } finally {
      release();
    }
  }

  #renew(): void {
    // A store slower than a third of the grace period: no pile-up, the next tick sends the current set.
    if (this.#renewing) return;
    const ids = new Set<string>();
    for (const list of this.#held.values()) for (const id of list) ids.add(id);
    this.#renewing = this.#metadata
      .deferGarbage([...ids])
      .catch(this.#onError)
      .finally(() => {
        this.#renewing = undefined;
      });
  }
}

/**
 * `body`, ending `release` when it ends: read to the end, failed, or returned early
 * (the client closed the connection) — also when it was never started.
 */
export function releasingWhenDone(body: AsyncIterable<Buffer>, release: ReleaseHold): AsyncIterable<Buffer> {
  const it = body[Symbol.asyncIterator]();
  const iterator: AsyncIterator<Buffer> = {
    next: async () => {
      try {
        const r = await it.next();
        if (r.done) release();
        return r;
      } catch (err) {
        release();
        throw err;
      }
    },
    return: async () => {
      release();
      await it.return?.();
      return { done: true, value: undefined };
    },
  };
  return { [Symbol.asyncIterator]: () => iterator };
}
