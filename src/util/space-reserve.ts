/**
 * Emergency space on the data filesystem, so that a full disk can still be
 * emptied through the API. `<data>/.reserve` is a file of real (not sparse,
 * not compressible) bytes, made at start when there is room for it twice over. When a write
 * that frees space — DeleteObject, the blob collector's bookkeeping, an
 * audit record of a read — fails because the disk is full, the reserve is
 * unlinked and the write is tried once more: SQLite then has room to grow
 * its WAL and `-shm` files, and the delete commits. Without it, the disk
 * fills, a DELETE itself needs a few WAL pages, fails with SQLITE_FULL, and
 * nothing can ever be freed (issue #22).
 *
 * Once released, new data is refused (`refusingWrites`) until the reserve
 * could be made again, so uploads do not eat the space that deletes and
 * reads need; a timer retries while free space is short. Several worker
 * processes share one reserve file: whichever hits the full disk releases
 * it, and each learns of that when it hits the full disk itself.
 */
import { randomBytes } from 'node:crypto';
import { statSync, unlinkSync } from 'node:fs';
import { open, rename, stat, statfs, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { isOutOfSpace } from '../errors/out-of-space.js';

export const RESERVE_FILE = '.reserve';

export interface SpaceReserveOptions {
  dataDir: string;
  /** Size of the reserve; 0 disables it (and never refuses writes). */
  bytes: number;
  /** While the reserve is gone, how often to try to make it again. */
  refillIntervalMs: number;
  log?: Pick<Logger, 'info' | 'warn' | 'error'>;
}

/**
 * What the reserve is filled with: random bytes, not zeros, which a compressing
 * filesystem (ZFS, btrfs with compression) would store in no space at all.
 */
let filling: Buffer | undefined;
const fillingChunk = (): Buffer => (filling ??= randomBytes(1024 * 1024));

export class SpaceReserve {
  readonly #path: string;
  readonly #dir: string;
  readonly #bytes: number;
  readonly #intervalMs: number;
  readonly #log: SpaceReserveOptions['log'];
  #held = false;
  #timer: NodeJS.Timeout | undefined;
  #refilling: Promise<boolean> | undefined;
  #closed = false;

  private constructor(options: SpaceReserveOptions) {
    this.#dir = options.dataDir;
    this.#path = join(options.dataDir, RESERVE_FILE);
    this.#bytes = options.bytes;
    this.#intervalMs = options.refillIntervalMs;
    this.#log = options.log;
  }

  /** Takes the reserve file that is there, or makes it if there is room; never fails for want of space. */
  static async open(options: SpaceReserveOptions): Promise<SpaceReserve> {
    const reserve = new SpaceReserve(options);
    if (reserve.#bytes > 0 && !(await reserve.refill())) {
      reserve.#log?.warn(
        { path: reserve.#path, bytes: reserve.#bytes },
        'too little free space on the data filesystem for its reserve: new data is refused until there is room for it (delete objects to free space)',
      );
      reserve.#startTimer();
    }
    return reserve;
  }

  /** True while the reserve is gone: uploads are refused so that deletes and reads keep the space they need. */
  get refusingWrites(): boolean {
    return this.#bytes > 0 && !this.#held;
  }

  /**
   * Unlinks the reserve (synchronously, so that the caller's retry runs before
   * anything else in this process can take the space). True if this call freed
   * space; false if there was none to free (disabled, or already released, by
   * this process or another).
   */
  release(): boolean {
    if (this.#bytes === 0) return false;
    let freed = false;
    try {
      unlinkSync(this.#path);
      freed = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.#log?.error({ err, path: this.#path }, 'could not release the space reserve');
      }
    }
    if (this.#held || freed) {
      this.#log?.warn(
        { path: this.#path, bytes: this.#bytes, freed },
        'the data filesystem is full: released the space reserve so deletes can commit; new data is refused until space comes back',
      );
    }
    this.#held = false;
    this.#startTimer();
    return freed;
  }

  /** A write failed for want of space: if another process released the reserve, refuse writes here too. */
  noteOutOfSpace(): void {
    if (!this.#held) return;
    try {
      if (statSync(this.#path).size >= this.#bytes) return;
    } catch {
      // Gone: released by another process.
    }
    this.#held = false;
    this.#log?.warn({ path: this.#path }, 'the data filesystem is full and its space reserve is gone: new data is refused until space comes back');
    this.#startTimer();
  }

  /**
   * Runs `op`; if it fails for want of space, releases the reserve and, if that
   * freed some, runs it once more. For writes that free space or that reads need.
   */
  async retrying<T>(op: () => T | Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      if (!isOutOfSpace(err) || !this.release()) throw err;
    }
    return op();
  }

  /** Makes the reserve if it is missing and there is room for it twice over (once for it, once for new data). */
  refill(): Promise<boolean> {
    this.#refilling ??= this.#refill().finally(() => (this.#refilling = undefined));
    return this.#refilling;
  }

  async #refill(): Promise<boolean> {
    if (this.#bytes === 0) return true;
    let existing = 0;
    try {
      existing = (await stat(this.#path)).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (existing < this.#bytes) {
      const fs = await statfs(this.#dir);
      if (fs.bavail * fs.bsize + existing < 2 * this.#bytes) return false;
      // Written whole under a temporary name, then renamed: a crash or a full disk never
      // leaves a short file that would pass for the reserve.
      const tmp = `${this.#path}.${process.pid}.tmp`;
      try {
        const fh = await open(tmp, 'w', 0o600);
        try {
          for (let left = this.#bytes; left > 0; ) {
            const chunk = fillingChunk();
            const { bytesWritten } = await fh.write(chunk, 0, Math.min(left, chunk.length));
            left -= bytesWritten;
          }
          await fh.datasync();
        } finally {
          await fh.close();
        }
        await rename(tmp, this.#path);
      } catch (err) {
        await unlink(tmp).catch(() => {});
        if (isOutOfSpace(err)) return false;
        throw err;
      }
    }
    if (!this.#held && this.#timer) this.#log?.info({ path: this.#path }, 'space came back: the space reserve is made again and new data is accepted');
    this.#held = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    return true;
  }

  #startTimer(): void {
    if (this.#timer || this.#closed) return;
    this.#timer = setInterval(() => {
      this.refill().catch((err: unknown) => this.#log?.error({ err }, 'could not make the space reserve'));
    }, this.#intervalMs);
    this.#timer.unref();
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
