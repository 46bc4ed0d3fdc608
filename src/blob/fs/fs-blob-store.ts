/**
 * BlobStore on the local filesystem: `<root>/blobs/<2 hex>/<id>` for published
 * blobs and `<root>/tmp/<id>` for staged ones. A staged blob is fsynced (file
 * and directory) before `write` resolves, so once metadata commits, the bytes
 * are durable even if `publish`'s rename is lost to a crash.
 *
 * A missing file is a missing blob only while the store's directories are
 * there: when they are gone too (the volume was unmounted, the directory moved
 * away) the store is unavailable (BackendUnavailableError, S3's 503), never
 * "no such blob" — a GET must not answer 404 or 500 for data that comes back
 * with the volume, and the collector must not count a blob deleted that is not.
 */
import { randomUUID } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { access, mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { BlobStats, BlobStore, ByteRange, PendingBlob, ReadOptions } from '../blob-store.js';
import { BlobNotFoundError, SCRATCH_MIN_CHUNK } from '../blob-store.js';
import { PathSync } from '../../util/group-sync.js';
import { BackendUnavailableError } from '../../errors/backend-unavailable.js';

export interface FsBlobStoreOptions {
  root: string;
  /** Bytes gathered before one write syscall. */
  writeBufferSize?: number;
  /** Bytes per read call. */
  readChunkSize?: number;
}

const ID_RE = /^[0-9a-f]{32}$/;

/**
 * Scratch reads (ReadOptions.scratch) go through buffers of this size, at most SCRATCH_POOL of
 * them kept idle. A read is a round trip through libuv's thread pool: a GET of 1 MiB reads its
 * whole blob (1 MiB, plus the header and 16 tags) in one, where 256 KiB chunks took five (server
 * CPU per GET ~10% lower, bench/RESULTS.md).
 */
const SCRATCH_CHUNK = Math.max(1024 * 1024 + 4096, SCRATCH_MIN_CHUNK);
const SCRATCH_POOL = 8;

export class FsBlobStore implements BlobStore {
  readonly #root: string;
  readonly #tmp: string;
  readonly #blobs: string;
  readonly #writeBufferSize: number;
  readonly #readChunkSize: number;
  /** fsync of the staging directory, shared by the writes that finish together. */
  readonly #tmpDirSync: PathSync;
  #bytesRead = 0;

  private constructor(options: FsBlobStoreOptions) {
    this.#root = options.root;
    this.#tmp = join(this.#root, 'tmp');
    this.#blobs = join(this.#root, 'blobs');
    this.#writeBufferSize = options.writeBufferSize ?? 1024 * 1024;
    this.#readChunkSize = options.readChunkSize ?? 1024 * 1024;
    this.#tmpDirSync = new PathSync(this.#tmp, { directory: true });
  }

  static async open(options: FsBlobStoreOptions): Promise<FsBlobStore> {
    const store = new FsBlobStore(options);
    await mkdir(store.#tmp, { recursive: true, mode: 0o700 });
    for (let i = 0; i < 256; i++) await mkdir(join(store.#blobs, i.toString(16).padStart(2, '0')), { recursive: true, mode: 0o700 });
    return store;
  }

  #finalPath(id: string): string {
    return join(this.#blobs, id.slice(0, 2), id);
  }

  #stagedPath(id: string): string {
    return join(this.#tmp, id);
  }

  async write(source: AsyncIterable<Buffer>, options: { signal?: AbortSignal } = {}): Promise<PendingBlob> {
    const blobId = randomUUID().replaceAll('-', '');
    const path = this.#stagedPath(blobId);
    const fh = await open(path, 'wx', 0o600).catch(async (err: unknown) => {
      throw (err as NodeJS.ErrnoException).code === 'ENOENT' && (await storeMissing(this.#tmp)) ? storeMissingError(this.#tmp, err) : err;
    });
    let size = 0;
    try {
      let batch: Buffer[] = [];
      let batchBytes = 0;
      const flush = async (): Promise<void> => {
        // writev may write partially; loop until every byte of the batch is down.
        let pending = batch;
        while (pending.length > 0) {
          const { bytesWritten } = await fh.writev(pending);
          let n = bytesWritten;
          while (pending.length > 0 && n >= pending[0]!.length) n -= pending.shift()!.length;
          if (n > 0) pending[0] = pending[0]!.subarray(n);
        }
        batch = [];
        batchBytes = 0;
      };
      for await (const chunk of source) {
        options.signal?.throwIfAborted();
        if (chunk.length === 0) continue;
        batch.push(chunk);
        batchBytes += chunk.length;
        size += chunk.length;
        if (batchBytes >= this.#writeBufferSize) await flush();
      }
      if (batchBytes > 0) await flush();
      await fh.datasync();
      await fh.close();
      await this.#tmpDirSync.sync();
    } catch (err) {
      await fh.close().catch(() => {});
      await unlink(path).catch(() => {});
      throw err;
    }
    return {
      blobId,
      size,
      publish: async () => {
        try {
          await rename(path, this.#finalPath(blobId));
        } catch (err) {
          // Already collected: the object was replaced and its blob deleted before this publish.
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
      },
      discard: async () => {
        await unlink(path).catch(() => {});
      },
    };
  }

  async #openExisting(id: string): Promise<FileHandle> {
    if (!ID_RE.test(id)) throw new BlobNotFoundError(id);
    try {
      return await open(this.#finalPath(id), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    try {
      // Committed but not yet published (or its rename was lost to a crash).
      return await open(this.#stagedPath(id), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    try {
      // A reader of a just-committed object can look for the published file before `publish`
      // renames it there and for the staged one after: a third look settles it (rename is
      // atomic and happens once, so the file is in one of the two places unless deleted).
      return await open(this.#finalPath(id), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      const dir = dirname(this.#finalPath(id));
      if (await storeMissing(dir)) throw storeMissingError(dir, err);
      throw new BlobNotFoundError(id);
    }
  }

  async read(blobId: string, range?: ByteRange, options: ReadOptions = {}): Promise<AsyncIterable<Buffer>> {
    const fh = await this.#openExisting(blobId);
    const start = range?.start ?? 0;
    const end = range ? range.end + 1 : Infinity;
    const scratch = options.scratch === true;
    const chunkSize = scratch ? SCRATCH_CHUNK : this.#readChunkSize;
    const self = this;
    // Scratch reads take turns between two buffers from the pool (see ReadOptions.scratch).
    const buffers: Buffer[] = [];
    async function* chunks(): AsyncGenerator<Buffer> {
      try {
        let pos = start;
        let turn = 0;
        while (pos < end) {
          const want = Math.min(chunkSize, end - pos);
          let buf: Buffer;
          if (scratch) {
            buffers[turn] ??= self.#takeScratch(chunkSize);
            buf = buffers[turn]!.subarray(0, want);
            turn ^= 1;
          } else buf = Buffer.allocUnsafe(want);
          const { bytesRead } = await fh.read(buf, 0, want, pos);
          if (bytesRead === 0) {
            if (end !== Infinity) throw new Error(`blob ${blobId} is shorter than expected`);
            break;
          }
          self.#bytesRead += bytesRead;
          pos += bytesRead;
          yield bytesRead === want ? buf : buf.subarray(0, bytesRead);
        }
      } finally {
        for (const b of buffers) self.#returnScratch(b);
        await fh.close();
      }
    }
    return chunks();
  }

  /** Scratch read buffers no reader holds, for the next reader: a GET then allocates nothing per chunk. */
  readonly #scratchPool: Buffer[] = [];

  #takeScratch(size: number): Buffer {
    return this.#scratchPool.pop() ?? Buffer.allocUnsafeSlow(size);
  }

  #returnScratch(buf: Buffer): void {
    if (this.#scratchPool.length < SCRATCH_POOL) this.#scratchPool.push(buf);
  }

  /**
   * Staged copy first, then the published one: a `publish` that runs in between
   * either finds the staged file gone (and moves nothing) or has already moved it
   * (and the second unlink removes it). The other order could miss a file that
   * `publish` moves between the two unlinks and leave it behind for good.
   */
  async delete(blobId: string): Promise<void> {
    if (!ID_RE.test(blobId)) return;
    const staged = await unlinkIfPresent(this.#stagedPath(blobId));
    const published = await unlinkIfPresent(this.#finalPath(blobId));
    // Absent in both places is done only if the store is there: an unmounted volume's
    // blobs would otherwise be forgotten by the collector and stay on it for good.
    if (!staged && !published) {
      const dir = dirname(this.#finalPath(blobId));
      if (await storeMissing(dir)) throw storeMissingError(dir);
    }
  }

  async recover(referenced: (blobIds: string[]) => Promise<Set<string>>): Promise<{ published: number; removed: number }> {
    const staged = (await readdir(this.#tmp)).filter((n) => ID_RE.test(n));
    const others = (await readdir(this.#tmp)).filter((n) => !ID_RE.test(n));
    const keep = await referenced(staged);
    let published = 0;
    let removed = 0;
    for (const id of staged) {
      if (keep.has(id)) {
        await rename(this.#stagedPath(id), this.#finalPath(id));
        published++;
      } else {
        await unlink(this.#stagedPath(id));
        removed++;
      }
    }
    for (const name of others) {
      await rm(join(this.#tmp, name), { force: true, recursive: true });
      removed++;
    }
    return { published, removed };
  }

  stats(): BlobStats {
    return { bytesRead: this.#bytesRead };
  }

  async probe(): Promise<void> {
    // Both directories there, readable and writable: access(2) answers EROFS on a read-only mount.
    for (const dir of [this.#blobs, this.#tmp]) {
      try {
        await access(dir, fsConstants.R_OK | fsConstants.W_OK | fsConstants.X_OK);
      } catch (err) {
        throw (err as NodeJS.ErrnoException).code === 'ENOENT' ? storeMissingError(dir, err) : new BackendUnavailableError(`the blob store directory ${dir} is not usable (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
      }
    }
  }
}

/** Whether `dir`, a directory of the store, is not there: the store itself is missing. */
async function storeMissing(dir: string): Promise<boolean> {
  return stat(dir).then(
    (s) => !s.isDirectory(),
    () => true,
  );
}

function storeMissingError(dir: string, cause?: unknown): BackendUnavailableError {
  return new BackendUnavailableError(`the blob store directory ${dir} is missing (is the data volume mounted?)`, cause === undefined ? {} : { cause });
}

/** unlink(2) that treats an absent file as done (false): one system call, where `rm` makes two or three. */
async function unlinkIfPresent(path: string): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return false;
  }
}
