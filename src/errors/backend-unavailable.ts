/**
 * Recognizes "the storage backend is unavailable" however it surfaces: the
 * data filesystem went read-only under the running server (EROFS — ext4 with
 * errors=remount-ro does it on the first I/O error), the device failed (EIO),
 * the data directory vanished (an unmounted volume: our stores raise
 * BackendUnavailableError for an ENOENT of the store itself, never of one
 * blob), or SQLite reports the same: SQLITE_READONLY* (it could open its file
 * read-only only), SQLITE_IOERR* (a failed read, write or fsync underneath)
 * and SQLITE_CANTOPEN* (the database file is gone), or PostgreSQL does: SQLSTATE
 * class 08 (connection exception), 57P01-57P03 (the server is shutting down,
 * crashed, or not accepting connections yet) and 53300 (no connection slot left).
 * The PostgreSQL driver turns pg's own connection failures, which carry no
 * SQLSTATE, into BackendUnavailableError. A full disk is the other,
 * separate condition (out-of-space.ts; SQLITE_IOERR_SHMSIZE belongs there).
 * Causes are followed (`Error.cause`), as isOutOfSpace does.
 */
import { isOutOfSpace } from './out-of-space.js';

// ENXIO, ENODEV: the device went away; ESTALE: a network filesystem lost the file's server.
const ERRNOS = new Set(['EROFS', 'EIO', 'ENXIO', 'ENODEV', 'ESTALE', 'EBACKENDUNAVAILABLE']);
const SQLITE_PREFIXES = ['SQLITE_READONLY', 'SQLITE_IOERR', 'SQLITE_CANTOPEN'];
const POSTGRES_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);
const POSTGRES_CONNECTION_CLASS = /^08[0-9A-Z]{3}$/;

export function isBackendUnavailable(err: unknown): boolean {
  if (isOutOfSpace(err)) return false;
  for (let e = err, depth = 0; e !== null && typeof e === 'object' && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code !== 'string') continue;
    if (ERRNOS.has(code)) return true;
    if (SQLITE_PREFIXES.some((p) => code === p || code.startsWith(`${p}_`))) return true;
    if (POSTGRES_SQLSTATES.has(code) || POSTGRES_CONNECTION_CLASS.test(code)) return true;
  }
  return false;
}

/**
 * Thrown by our stores when the store itself is not there: its directory (or
 * database file) is missing, as when the volume holding it is not mounted. An
 * ENOENT for one blob in a store that is there stays BlobNotFoundError.
 */
export class BackendUnavailableError extends Error {
  readonly code = 'EBACKENDUNAVAILABLE';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BackendUnavailableError';
  }
}
