/**
 * A BlobStore that refuses new blobs while the data filesystem is out of
 * space (util/space-reserve.ts): once the reserve is released so that deletes
 * can commit, uploads must not take that space, so `write` fails at once —
 * before reading the body — with an out-of-space error (S3 answers 503, see
 * errors/s3-errors.ts storageFullError). Reads and deletes pass through.
 */
import { OutOfSpaceError, isOutOfSpace } from '../errors/out-of-space.js';
import type { BlobStats, BlobStore, ByteRange, PendingBlob, ReadOptions } from './blob-store.js';

export interface SpaceGuard {
  /** True while new data must be refused. */
  readonly refusingWrites: boolean;
  /** A write failed for want of space. */
  noteOutOfSpace(): void;
}

export class SpaceGuardedBlobStore implements BlobStore {
  readonly #inner: BlobStore;
  readonly #guard: SpaceGuard;

  constructor(inner: BlobStore, guard: SpaceGuard) {
    this.#inner = inner;
    this.#guard = guard;
  }

  async write(source: AsyncIterable<Buffer>, options?: { signal?: AbortSignal }): Promise<PendingBlob> {
    if (this.#guard.refusingWrites) throw new OutOfSpaceError('the data filesystem is full: new data is refused until space comes back');
    try {
      return await this.#inner.write(source, options);
    } catch (err) {
      if (isOutOfSpace(err)) this.#guard.noteOutOfSpace();
      throw err;
    }
  }

  read(blobId: string, range?: ByteRange, options?: ReadOptions): Promise<AsyncIterable<Buffer>> {
    return this.#inner.read(blobId, range, options);
  }

  delete(blobId: string): Promise<void> {
    return this.#inner.delete(blobId);
  }

  recover(referenced: (blobIds: string[]) => Promise<Set<string>>): Promise<{ published: number; removed: number }> {
    return this.#inner.recover(referenced);
  }

  stats(): BlobStats {
    return this.#inner.stats();
  }

  probe(): Promise<void> {
    return this.#inner.probe();
  }
}
