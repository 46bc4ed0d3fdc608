/**
 * Group commit for fsync: many writers that each need "everything I wrote so
 * far is durable" share one fsync instead of queueing one each. A sync that is
 * already running may have started before a caller's write, so a caller that
 * arrives during it waits for the next one — which then covers every caller
 * that arrived meanwhile. The fsync itself runs on libuv's thread pool, so the
 * event loop keeps serving while the disk works.
 */
import { close, constants as fsConstants, fdatasync, fstat, fsync, open, stat } from 'node:fs';
import { dirname } from 'node:path';
import { promisify } from 'node:util';

const openFd = promisify(open) as (path: string, flags: number) => Promise<number>;
const fsyncFd = promisify(fsync);
const fdatasyncFd = promisify(fdatasync);
const closeFd = promisify(close);
const fstatFd = promisify(fstat);
const statPath = promisify(stat);

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

  /** Settles when the sync running now (if any) has ended. */
  running(): Promise<void> {
    return (this.#current ?? Promise.resolve()).catch(() => {});
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
 * A GroupSync on one file or directory, kept open (a raw descriptor: one per
 * store, never closed by the garbage collector) until a sync fails while its
 * path leads to another file, or forget() is called:
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
      const fd = await this.#descriptor();
      try {
        await this.#syncFd(fd);
      } catch (err) {
        // A descriptor that failed (EIO, EROFS) may belong to a filesystem that is gone, its
        // volume mounted again at the path since: what must be durable is then the file the
        // path leads to now, so that one is synced, through a new descriptor. Only then: for
        // the same file, a new descriptor would not report the error the old one met
        // (Linux reports a writeback error to the descriptors open when it happened), and a
        // sync that passes would pass off lost writes as durable.
        if (!(await this.#pathLeadsElsewhere(fd))) throw err;
        this.forget();
        await this.#syncFd(await this.#descriptor());
      }
    });
  }

  #descriptor(): Promise<number> {
    this.#fd ??= this.#open().catch((err: unknown) => {
      // A failed open is retried by the next sync rather than remembered.
      this.#fd = undefined;
      throw err;
    });
    return this.#fd;
  }

  #syncFd(fd: number): Promise<void> {
    return this.#directory ? fsyncFd(fd) : fdatasyncFd(fd);
  }

  /** Whether the path no longer leads to the file `fd` is open on (another mount, or a new file). */
  async #pathLeadsElsewhere(fd: number): Promise<boolean> {
    const [open, now] = await Promise.all([fstatFd(fd).catch(() => undefined), statPath(this.#path).catch(() => undefined)]);
    if (now === undefined) return false;
    return open === undefined || open.dev !== now.dev || open.ino !== now.ino;
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

  /**
   * Drops the descriptor (closed once the sync using it, if any, has ended): the next
   * sync opens the path again. For a file that was reopened by path (a database
   * connection made again after its filesystem was remounted), whose old descriptor
   * may still sync a file that is no longer the one at the path.
   */
  forget(): void {
    const old = this.#fd;
    this.#fd = undefined;
    if (old === undefined) return;
    void this.group.running().then(async () => {
      const n = await old.catch(() => undefined);
      if (n !== undefined) await closeFd(n).catch(() => {});
    });
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
