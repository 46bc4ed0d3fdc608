/**
 * What every PostgreSQL driver shares (metadata/postgres/, blob/postgres/): the
 * database's clock, BIGINT parsing, and which failures mean "unreachable".
 */
import pg from 'pg';
import { BackendUnavailableError } from '../errors/backend-unavailable.js';
import { S3Error } from '../errors/s3-errors.js';

/** The database's clock in ms: one clock for every node (garbage ages, staging leases). */
export const NOW_MS = '(extract(epoch from clock_timestamp()) * 1000)::bigint';

/** BIGINT (int8, oid 20) as a JS number: our values are ms timestamps and counts, far below 2^53. */
export const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/**
 * pg's own errors for a database it cannot reach (refused, reset, timed out, "Connection
 * terminated unexpectedly") carry no SQLSTATE: anything thrown by the pool or a connection
 * that is not the server's DatabaseError is the database being unreachable.
 */
export function asUnavailable(err: unknown): unknown {
  if (err instanceof S3Error) return err;
  // The server's own reports keep their SQLSTATE (isBackendUnavailable knows the ones that mean unavailable).
  if (err instanceof pg.DatabaseError) return err;
  return new BackendUnavailableError(`PostgreSQL unavailable: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}

/** A pool of this process (one per store): BIGINTs as numbers; an idle connection the server dropped is discarded, the next call opens another. */
export function createPool(url: string, options: { max: number; connectTimeoutMs: number }): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: options.max, connectionTimeoutMillis: options.connectTimeoutMs, types });
  pool.on('error', () => {});
  return pool;
}

/** One statement outside a transaction (autocommit); a database that cannot be reached is BackendUnavailableError (503). */
export async function poolQuery<R extends pg.QueryResultRow = Record<string, unknown>>(pool: pg.Pool, sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
  try {
    return await pool.query<R>(sql, params);
  } catch (err) {
    throw asUnavailable(err);
  }
}

/** A pooled connection; a database that cannot be reached is BackendUnavailableError (503). */
export async function poolConnect(pool: pg.Pool): Promise<pg.PoolClient> {
  try {
    return await pool.connect();
  } catch (err) {
    throw asUnavailable(err);
  }
}
