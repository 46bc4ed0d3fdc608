/**
 * Recognizes "the data filesystem is full" however it surfaces: an errno from
 * node:fs (ENOSPC, or EDQUOT for a quota), SQLite's SQLITE_FULL, or
 * SQLITE_IOERR_SHMSIZE — what SQLite reports when it cannot grow a WAL
 * database's `-shm` file, which on a full disk happens at the first read
 * after the database is opened — or PostgreSQL's SQLSTATE 53100 (disk_full).
 * Causes are followed (`Error.cause`), so a KMS error raised because its audit
 * record could not be written is recognized too.
 */

const CODES = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL', 'SQLITE_IOERR_SHMSIZE', '53100']);

export function isOutOfSpace(err: unknown): boolean {
  for (let e = err, depth = 0; e !== null && typeof e === 'object' && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && CODES.has(code)) return true;
  }
  return false;
}

/** Thrown (with its `code`) by code of ours that refuses to write because the disk is full. */
export class OutOfSpaceError extends Error {
  readonly code = 'ENOSPC';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OutOfSpaceError';
  }
}
