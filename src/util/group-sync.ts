/**
 * Group commit for fsync: many writers that each need "everything I wrote so
 * far is durable" share one fsync instead of queueing one each. A sync that is
 * already running may have started before a caller's write, so a caller that
 * arrives during it waits for the next one — which then covers every caller
 * that arrived meanwhile. The fsync itself runs on libuv's thread pool, so the
 * event loop keeps serving while the disk works.
 */
import { close, constants as fsConstants, fdatasync, fsync, open } from 'node:fs';
import { dirname } from 'node:path';
import { promisify } from 'node:util';

const openFd = promisify(open) as (path: string, flags: number) => Promise<number>;
const fsyncFd = promisify(fsync);
const fdatasyncFd = promisify(fdatasync);
const closeFd = promisify(close);

export class GroupSync {
  readonly #sync: () => Promise<void>;
  #current: Promise<void> | undefined;
  #next: Promise<void> | undefined;
  /** Syncs actually performed (tests and the benchmark read it). */
  syncs = 0;

  constructor(sync: () => Promise<void>) {
    this.#sync = sync;
  }

  /** Resolves once a sync that started after this call has completed; rejects if that sync fails. */
  sync(): Promise<void> {
    if (this.#next) return this.#next;
    if (!this.#current) return (this.#current = this.#start());
    this.#next = this.#current
      .catch(() => {})
      .then(() => {
        this.#next = undefined;
        return (this.#current = this.#start());
      });
    return this.#next;
  }

  #start(): Promise<void> {
    this.syncs++;
    const run: Promise<void> = this.#sync().finally(() => {
      if (this.#current === run) this.#current = undefined;
    });
    return run;
  }
}

/**
 * A GroupSync on one file or directory, kept open for the life of the process
 * (a raw descriptor: one per store, never closed by the garbage collector):
 * `fdatasync` for files, `fsync` for directories (which makes the names
 * created in them durable). A file's first sync also syncs its directory, so
 * that a file created since the last directory sync does not vanish.
 */
export class PathSync {
  readonly #path: string;
  readonly #directory: boolean;
  #fd: Promise<number> | undefined;
  readonly group: GroupSync;

  constructor(path: string, options: { directory: boolean }) {
    this.#path = path;
    this.#directory = options.directory;
    this.group = new GroupSync(async () => {
      this.#fd ??= this.#open().catch((err: unknown) => {
        // A failed open is retried by the next sync rather than remembered.
        this.#fd = undefined;
        throw err;
      });
      const fd = await this.#fd;
      await (this.#directory ? fsyncFd(fd) : fdatasyncFd(fd));
    });
  }

  async #open(): Promise<number> {
    if (this.#directory) return openFd(this.#path, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
    const dir = await openFd(dirname(this.#path), fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
    try {
      await fsyncFd(dir);
    } finally {
      await closeFd(dir);
    }
    return openFd(this.#path, fsConstants.O_RDONLY);
  }

  sync(): Promise<void> {
    return this.group.sync();
  }

  /** Syncs performed so far (several callers may share one). */
  get syncs(): number {
    return this.group.syncs;
  }

  async close(): Promise<void> {
    const fd = this.#fd;
    this.#fd = undefined;
    const n = await fd?.catch(() => undefined);
    if (n !== undefined) await closeFd(n);
  }
}
