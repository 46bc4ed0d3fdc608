/**
 * Small blobs in one store, the rest in another: a write is buffered up to
 * `smallMax` bytes; if the source ends by then, the blob goes to `small`,
 * otherwise everything (the buffered start, then the rest as it streams) goes
 * to `large`. Reads and deletes are routed by id (`isSmall`).
 */
import type { BlobStats, BlobStore, ByteRange, PendingBlob, ReadOptions } from './blob-store.js';

export interface TieredBlobStoreOptions {
  small: BlobStore;
  large: BlobStore;
  /** Largest blob, in stored bytes, that goes to `small`. */
  smallMax: number;
  /** Whether an id was made by `small`. */
  isSmall: (blobId: string) => boolean;
}

export class TieredBlobStore implements BlobStore {
  readonly #o: TieredBlobStoreOptions;

  constructor(options: TieredBlobStoreOptions) {
    this.#o = options;
  }

  async write(source: AsyncIterable<Buffer>, options: { signal?: AbortSignal } = {}): Promise<PendingBlob> {
    const it = source[Symbol.asyncIterator]();
    const head: Buffer[] = [];
    let headBytes = 0;
    try {
      for (;;) {
        const r = await it.next();
        if (r.done) return await this.#o.small.write(from(head), options);
        head.push(r.value);
        headBytes += r.value.length;
        if (headBytes > this.#o.smallMax) break;
      }
    } catch (err) {
      await it.return?.();
      throw err;
    }
    return this.#o.large.write(
      (async function* () {
        yield* head;
        head.length = 0;
        for (;;) {
          const r = await it.next();
          if (r.done) return;
          yield r.value;
        }
      })(),
      options,
    );
  }

  read(blobId: string, range?: ByteRange, options?: ReadOptions): Promise<AsyncIterable<Buffer>> {
    return (this.#o.isSmall(blobId) ? this.#o.small : this.#o.large).read(blobId, range, options);
  }

  delete(blobId: string): Promise<void> {
    return (this.#o.isSmall(blobId) ? this.#o.small : this.#o.large).delete(blobId);
  }

  async recover(referenced: (blobIds: string[]) => Promise<Set<string>>): Promise<{ published: number; removed: number }> {
    const a = await this.#o.large.recover(referenced);
    const b = await this.#o.small.recover(referenced);
    return { published: a.published + b.published, removed: a.removed + b.removed };
  }

  stats(): BlobStats {
    return { bytesRead: this.#o.small.stats().bytesRead + this.#o.large.stats().bytesRead };
  }

  async probe(): Promise<void> {
    await Promise.all([this.#o.small.probe(), this.#o.large.probe()]);
  }
}

async function* from(chunks: Buffer[]): AsyncGenerator<Buffer> {
  yield* chunks;
}
