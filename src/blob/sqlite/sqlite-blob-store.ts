/**
 * BlobStore in a SQLite file, for small blobs (see TieredBlobStore): one
 * indexed row read instead of open + read + close, and a write that shares its
 * fsync with every other write in flight (group commit on the WAL) instead of
 * a file create + fsync + rename each — on a small object most of a PUT's cost.
 *
 * Rows are written `staged` and become published after the caller's metadata
 * commit; `recover` finds staged rows through a partial index, so startup never
 * scans the table. The file holds only what the blob format wrote (ciphertext);
 * it is created 0600 like every file in the data directory.
 */
import { randomUUID } from 'node:crypto';
import { chmodSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { Database as Db, Statement } from 'better-sqlite3';
import type { BlobStats, BlobStore, ByteRange, PendingBlob } from '../blob-store.js';
import { BlobNotFoundError, collectBlob } from '../blob-store.js';
import { PathSync } from '../../util/group-sync.js';
import { retryBusy } from '../../util/sqlite-busy.js';
import { closeConnection, fileIdentity, type FileIdentity } from '../../util/sqlite-connection.js';
import { isOutOfSpace } from '../../errors/out-of-space.js';
import { isBackendUnavailable } from '../../errors/backend-unavailable.js';

/** Ids of this store: `s` + 32 hex digits, so a router can tell them from other stores' ids. */
const ID_RE = /^s[0-9a-f]{32}$/;

export function isSqliteBlobId(id: string): boolean {
  return ID_RE.test(id);
}

export interface SqliteBlobStoreOptions {
  /** Database file path. */
  path: string;
  /**
   * Frees emergency space on the file's filesystem (util/space-reserve.ts); true
   * if it freed some. A batch that deletes blobs and fails because the disk is
   * full is tried once more after it: deleting must work on a full disk.
   */
  reclaimSpace?: () => boolean;
}

/** One connection to the database and its statements (made again by #reconnect). */
interface Connection {
  db: Db;
  /** The file it was opened on (see util/sqlite-connection.ts). */
  opened: FileIdentity | undefined;
  insert: Statement;
  get: Statement;
  publish: Statement;
  delete: Statement;
  staged: Statement;
}

function connect(path: string, options: { mustExist: boolean }): Connection {
  const db = new Database(path, { fileMustExist: options.mustExist });
  try {
    chmodSync(path, 0o600);
    db.pragma('journal_mode = WAL');
    // Commits are made durable by #walSync (off the event loop, shared), not by SQLite itself.
    db.pragma('synchronous = NORMAL');
    // Another process's lock is waited for in retryBusy, off the event loop.
    db.pragma('busy_timeout = 0');
    db.exec(`
      CREATE TABLE IF NOT EXISTS blobs (id TEXT PRIMARY KEY, staged INTEGER NOT NULL, data BLOB NOT NULL) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS blobs_staged ON blobs (id) WHERE staged = 1;
    `);
    return {
      db,
      opened: fileIdentity(path),
      insert: db.prepare('INSERT INTO blobs (id, staged, data) VALUES (?, 1, ?)'),
      get: db.prepare('SELECT data FROM blobs WHERE id = ?').pluck(),
      publish: db.prepare('UPDATE blobs SET staged = 0 WHERE id = ?'),
      delete: db.prepare('DELETE FROM blobs WHERE id = ?'),
      staged: db.prepare('SELECT id FROM blobs WHERE staged = 1').pluck(),
    };
  } catch (err) {
    // Not left open: on a full disk the caller frees space and constructs the store again.
    db.close();
    throw err;
  }
}

export class SqliteBlobStore implements BlobStore {
  readonly #path: string;
  #c: Connection;
  readonly #walSync: PathSync;
  /** The connection met the backend unavailable: each call tries a new one first (see #reconnect). */
  #broken = false;
  #bytesRead = 0;
  /** Rows written or published since the last flush: one transaction per event-loop turn, not per blob. */
  #inserts: { id: string; data: Buffer }[] = [];
  #publishes: string[] = [];
  /** Rows to delete: in the same transaction, after the inserts and publishes. */
  #deletes: string[] = [];
  #flushing: Promise<void> | undefined;
  readonly #reclaimSpace: (() => boolean) | undefined;

  constructor(options: SqliteBlobStoreOptions) {
    this.#path = options.path;
    this.#c = connect(options.path, { mustExist: false });
    this.#reclaimSpace = options.reclaimSpace;
    this.#walSync = new PathSync(`${options.path}-wal`, { directory: false });
  }

  /**
   * Runs `op` on the connection; if it meets the backend unavailable (EROFS, EIO,
   * SQLITE_IOERR…), once more on a new connection when one can be made. As in the
   * metadata store (metadata/sqlite/sqlite-store.ts #reconnect): a connection whose
   * filesystem failed and was mounted again is bound to the dead mount for good.
   * A failed transaction was rolled back, so running it again is safe.
   */
  #run<T>(op: (c: Connection) => T): T {
    if (this.#broken) this.#reconnect();
    try {
      return op(this.#c);
    } catch (err) {
      if (!isBackendUnavailable(err)) throw err;
      this.#broken = true;
      if (!this.#reconnect()) throw err;
    }
    try {
      return op(this.#c);
    } catch (err) {
      if (isBackendUnavailable(err)) this.#broken = true;
      throw err;
    }
  }

  /** A new connection, if the database is there (never created anew: see the metadata store) and reads. */
  #reconnect(): boolean {
    let c: Connection;
    try {
      c = connect(this.#path, { mustExist: true });
    } catch {
      return false;
    }
    try {
      c.staged.all();
    } catch {
      c.db.close();
      return false;
    }
    const old = this.#c;
    this.#c = c;
    this.#walSync.forget();
    this.#broken = false;
    // Not closed if it is on a mount that is gone: its close would delete the new mount's WAL.
    closeConnection(old.db, this.#path, old.opened);
    return true;
  }

  async #syncWal(): Promise<void> {
    try {
      await this.#walSync.sync();
    } catch (err) {
      if (isBackendUnavailable(err)) this.#broken = true;
      throw err;
    }
  }

  async write(source: AsyncIterable<Buffer>, options: { signal?: AbortSignal } = {}): Promise<PendingBlob> {
    const data = await collectBlob(source, options.signal);
    const blobId = `s${randomUUID().replaceAll('-', '')}`;
    this.#inserts.push({ id: blobId, data });
    await this.#flush();
    // Durable before the caller commits metadata that names it.
    await this.#syncWal();
    return {
      blobId,
      size: data.length,
      // Losing this update to a crash is harmless: recovery publishes staged rows that metadata
      // references. So it is batched and not synced.
      publish: () => {
        this.#publishes.push(blobId);
        return this.#flush();
      },
      discard: () => {
        this.#deletes.push(blobId);
        return this.#flush();
      },
    };
  }

  /** Writes the queued inserts, publishes and deletes in one transaction, at the end of this event-loop turn. */
  #flush(): Promise<void> {
    this.#flushing ??= new Promise<void>((resolve, reject) => {
      setImmediate(() => {
        this.#flushing = undefined;
        const inserts = this.#inserts;
        const publishes = this.#publishes;
        const deletes = this.#deletes;
        this.#inserts = [];
        this.#publishes = [];
        this.#deletes = [];
        const commit = () =>
          retryBusy(() =>
            this.#run((c) =>
              c.db.transaction(() => {
                for (const r of inserts) c.insert.run(r.id, r.data);
                for (const id of publishes) c.publish.run(id);
                for (const id of deletes) c.delete.run(id);
              })(),
            ),
          );
        commit()
          .catch((err: unknown) => {
            // The failed transaction was rolled back, so it can run again. The batch's inserts
            // may ride along: they were accepted before the disk filled, and no more are (the
            // reserve refuses new data once released).
            if (deletes.length === 0 || !isOutOfSpace(err) || !this.#reclaimSpace?.()) throw err;
            return commit();
          })
          .then(resolve, reject);
      });
    });
    return this.#flushing;
  }

  async read(blobId: string, range?: ByteRange): Promise<AsyncIterable<Buffer>> {
    const data = ID_RE.test(blobId) ? ((await retryBusy(() => this.#run((c) => c.get.get(blobId)))) as Buffer | undefined) : undefined;
    if (!data) throw new BlobNotFoundError(blobId);
    const start = range?.start ?? 0;
    const end = range ? range.end + 1 : data.length;
    if (end > data.length) throw new Error(`blob ${blobId} is shorter than expected`);
    const slice = data.subarray(start, end);
    this.#bytesRead += slice.length;
    return (async function* () {
      if (slice.length > 0) yield slice;
    })();
  }

  /** Deletes issued in one event-loop turn (the blob collector's round) share one transaction. */
  async delete(blobId: string): Promise<void> {
    if (!ID_RE.test(blobId)) return;
    this.#deletes.push(blobId);
    await this.#flush();
  }

  async recover(referenced: (blobIds: string[]) => Promise<Set<string>>): Promise<{ published: number; removed: number }> {
    const staged = this.#run((c) => c.staged.all()) as string[];
    if (staged.length === 0) return { published: 0, removed: 0 };
    const keep = await referenced(staged);
    let published = 0;
    let removed = 0;
    this.#run((c) =>
      c.db.transaction(() => {
        published = 0;
        removed = 0;
        for (const id of staged) {
          if (keep.has(id)) {
            c.publish.run(id);
            published++;
          } else {
            c.delete.run(id);
            removed++;
          }
        }
      })(),
    );
    await this.#syncWal();
    return { published, removed };
  }

  async probe(): Promise<void> {
    this.#run((c) => c.get.get(''));
  }

  stats(): BlobStats {
    return { bytesRead: this.#bytesRead };
  }

  async close(): Promise<void> {
    await this.#flush();
    await this.#walSync.close();
    closeConnection(this.#c.db, this.#path, this.#c.opened);
  }
}
