/**
 * BlobStore in PostgreSQL, for the small blobs of a cluster (see TieredBlobStore):
 * with --metadata-url and --blob-url, a 4 KiB object costs one INSERT in the
 * database the node talks to anyway instead of three round trips to the blob
 * backend (stage marker, blob, marker delete). The rows hold only what the blob
 * format wrote — ciphertext — like the backend bucket would.
 *
 * Rows are inserted staged (`staged_at`, by the database's clock) and published
 * (`staged_at` cleared) after the caller's metadata commit. `recover`, run by
 * every node at start and periodically, publishes staged rows the metadata
 * references and deletes unreferenced ones older than `stagingLeaseMs`: a write
 * whose node died before its metadata commit. A write in flight stays staged only
 * for the moment between its INSERT and its metadata commit (the whole body is
 * in hand before the INSERT), so the lease needs no renewal here.
 *
 * Its own small pool: blob reads and writes must not queue behind metadata
 * transactions for a connection (nor hold one a transaction waits for).
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { BlobStats, BlobStore, ByteRange, PendingBlob } from '../blob-store.js';
import { BlobNotFoundError, collectBlob } from '../blob-store.js';
import { NOW_MS, asUnavailable, createPool, poolConnect, poolQuery } from '../../util/postgres.js';

/** Ids of this store: `p` + 32 hex digits, so a router can tell them from other stores' ids. */
const ID_RE = /^p[0-9a-f]{32}$/;

export function isPostgresBlobId(id: string): boolean {
  return ID_RE.test(id);
}

export interface PostgresBlobStoreOptions {
  /** The database (the metadata store's: `--metadata-url`). */
  url: string;
  /** Connections of this store's pool (default 4). */
  maxConnections?: number;
  connectTimeoutMs?: number;
  /** How old an unreferenced staged row must be before recover takes it for a crashed write. Default 15 min; 0: at once (one node alone). */
  stagingLeaseMs?: number;
}

/** Taken while creating the table, so that nodes starting together do it one at a time. */
const CREATE_LOCK = 0x636f666662; // "coffb"

export class PostgresBlobStore implements BlobStore {
  readonly #pool: pg.Pool;
  readonly #leaseMs: number;
  #bytesRead = 0;

  constructor(options: PostgresBlobStoreOptions) {
    this.#leaseMs = options.stagingLeaseMs ?? 15 * 60 * 1000;
    this.#pool = createPool(options.url, { max: options.maxConnections ?? 4, connectTimeoutMs: options.connectTimeoutMs ?? 5000 });
  }

  #query<R extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
    return poolQuery<R>(this.#pool, sql, params);
  }

  /** Creates the table once (idempotent; serialized across nodes by an advisory lock). */
  async migrate(): Promise<void> {
    const client = await poolConnect(this.#pool);
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [CREATE_LOCK]);
      await client.query(`
        CREATE TABLE IF NOT EXISTS small_blobs (id TEXT COLLATE "C" PRIMARY KEY, staged_at BIGINT, data BYTEA NOT NULL);
        CREATE INDEX IF NOT EXISTS small_blobs_staged ON small_blobs (staged_at) WHERE staged_at IS NOT NULL;
      `);
      await client.query('COMMIT');
      client.release();
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      client.release(true);
      throw asUnavailable(err);
    }
  }

  async write(source: AsyncIterable<Buffer>, options: { signal?: AbortSignal } = {}): Promise<PendingBlob> {
    const data = await collectBlob(source, options.signal);
    const blobId = `p${randomUUID().replaceAll('-', '')}`;
    // Durable once the INSERT's commit returns (synchronous_commit=on): before the caller commits metadata naming it.
    await this.#query(`INSERT INTO small_blobs (id, staged_at, data) VALUES ($1, ${NOW_MS}, $2)`, [blobId, data]);
    return {
      blobId,
      size: data.length,
      // Losing this update to a crash is harmless: recovery publishes staged rows that metadata references.
      publish: async () => void (await this.#query('UPDATE small_blobs SET staged_at = NULL WHERE id = $1', [blobId])),
      discard: async () => void (await this.#query('DELETE FROM small_blobs WHERE id = $1', [blobId])),
    };
  }

  async read(blobId: string, range?: ByteRange): Promise<AsyncIterable<Buffer>> {
    if (!ID_RE.test(blobId)) throw new BlobNotFoundError(blobId);
    // Only the bytes asked for leave the database.
    const r = range
      ? await this.#query<{ data: Buffer; size: number }>('SELECT substring(data FROM $2 FOR $3) AS data, length(data) AS size FROM small_blobs WHERE id = $1', [blobId, range.start + 1, range.end - range.start + 1])
      : await this.#query<{ data: Buffer; size: number }>('SELECT data, length(data) AS size FROM small_blobs WHERE id = $1', [blobId]);
    const row = r.rows[0];
    if (!row) throw new BlobNotFoundError(blobId);
    if (range && range.end >= row.size) throw new Error(`blob ${blobId} is shorter than expected`);
    const data = row.data;
    this.#bytesRead += data.length;
    return (async function* () {
      if (data.length > 0) yield data;
    })();
  }

  async delete(blobId: string): Promise<void> {
    if (!ID_RE.test(blobId)) return;
    await this.#query('DELETE FROM small_blobs WHERE id = $1', [blobId]);
  }

  async recover(referenced: (blobIds: string[]) => Promise<Set<string>>): Promise<{ published: number; removed: number }> {
    let published = 0;
    let removed = 0;
    for (;;) {
      const page = await this.#query<{ id: string; old: boolean }>(
        `SELECT id, staged_at <= ${NOW_MS} - $1 AS old FROM small_blobs WHERE staged_at IS NOT NULL ORDER BY staged_at LIMIT 1000`,
        [this.#leaseMs],
      );
      if (page.rows.length === 0) break;
      const keep = await referenced(page.rows.map((r) => r.id));
      const publish = page.rows.filter((r) => keep.has(r.id)).map((r) => r.id);
      // A write in flight on some node (younger than the lease): not ours to judge yet.
      const remove = page.rows.filter((r) => !keep.has(r.id) && r.old).map((r) => r.id);
      if (publish.length > 0) published += (await this.#query('UPDATE small_blobs SET staged_at = NULL WHERE id = ANY($1)', [publish])).rowCount ?? 0;
      // Still staged: a row published meanwhile by its writer is not removed.
      if (remove.length > 0) removed += (await this.#query('DELETE FROM small_blobs WHERE id = ANY($1) AND staged_at IS NOT NULL', [remove])).rowCount ?? 0;
      // Every row left staged on this page is young: later pages are younger still.
      if (publish.length + remove.length < page.rows.length) break;
    }
    return { published, removed };
  }

  /** Readiness: the database answers (/_coffer/health/ready). */
  async probe(): Promise<void> {
    await this.#query('SELECT 1 FROM small_blobs LIMIT 1');
  }

  stats(): BlobStats {
    return { bytesRead: this.#bytesRead };
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}
