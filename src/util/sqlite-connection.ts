/**
 * Closing a SQLite connection whose filesystem is gone must not harm the one
 * mounted in its place. When the last connection to a WAL database closes,
 * SQLite checkpoints it and then deletes the `-wal` and `-shm` files — by
 * path. A connection left on a volume that failed and was mounted again (its
 * descriptors on the dead mount) would so delete the live WAL and shared-memory
 * index of the database now at that path, under every other connection to it:
 * commits lost, connections that no longer share an index. So a connection is
 * closed only while its path still leads to the file it opened; otherwise it
 * is kept, unclosed, for the life of the process (a few descriptors on the dead
 * mount, and no finalizer may close it either).
 */
import { statSync } from 'node:fs';
import type { Database as Db } from 'better-sqlite3';

export interface FileIdentity {
  dev: number;
  ino: number;
}

/** The device and inode of the file at `path` now, or undefined (absent, ':memory:'). */
export function fileIdentity(path: string): FileIdentity | undefined {
  try {
    const s = statSync(path);
    return { dev: s.dev, ino: s.ino };
  } catch {
    return undefined;
  }
}

/** Connections never closed, held so that the garbage collector does not close them either. */
const abandoned: Db[] = [];

/**
 * Closes `db`, opened on `path` when the file there was `opened`, if the path
 * still leads to that file; otherwise abandons it (see the module comment).
 * Returns whether it was closed. Closing errors (a checkpoint on a failed
 * filesystem) are swallowed: nothing is lost, the WAL stays.
 */
export function closeConnection(db: Db, path: string, opened: FileIdentity | undefined): boolean {
  const now = fileIdentity(path);
  if (path !== ':memory:' && (opened === undefined || now === undefined || now.dev !== opened.dev || now.ino !== opened.ino)) {
    abandoned.push(db);
    return false;
  }
  try {
    db.close();
  } catch {
    /* see above */
  }
  return true;
}
