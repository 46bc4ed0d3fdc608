/**
 * The scale-out MetadataStore: PostgreSQL through `pg`, one pool per store (one
 * store per process). Several Coffer nodes may share the database, so nothing
 * here relies on an in-process lock:
 * - every method that reads and then writes runs in one SERIALIZABLE transaction,
 *   and the rows it is about to change are read `FOR UPDATE` (the bucket it writes
 *   into `FOR SHARE`, so a concurrent DeleteBucket waits or fails). A transaction
 *   PostgreSQL cannot serialize (40001) or that lost a deadlock (40P01) is rolled
 *   back and run again, from the start, after a short random wait — what SQLITE_BUSY
 *   retries are to the SQLite driver;
 * - single-statement methods rely on the statement's own atomicity (compare-and-set
 *   in the WHERE clause, INSERT … ON CONFLICT);
 * - garbage timestamps come from the database's clock, so every node agrees on an
 *   entry's age.
 * A write resolves after COMMIT, which (synchronous_commit=on, PostgreSQL's default)
 * returns once the WAL is flushed: a committed garbage entry is durable.
 * A database that cannot be reached surfaces as BackendUnavailableError (503).
 */
import pg from 'pg';
import { S3Error } from '../../errors/s3-errors.js';
import { BackendUnavailableError } from '../../errors/backend-unavailable.js';
import type {
  AccessKeyRecord,
  AccessKeyStatus,
  AccountRecord,
  BucketKeyRecord,
  BucketRecord,
  BucketUsage,
  IamUserRecord,
  KeyRange,
  KmsAliasRecord,
  KmsKeyRecord,
  KmsKeyVersionRecord,
  MetadataStore,
  ObjectEncryption,
  ObjectRecord,
  ObjectSummary,
  PartRecord,
  StoredAcl,
  UploadListRange,
  UploadRecord,
  UserPolicyRecord,
  WriteCondition,
  ObjectVersionEntry,
  VersionListRange,
  VersioningOptions,
} from '../metadata-store.js';
import {
  accessKeyFromRow,
  accountFromRow,
  kmsAliasFromRow,
  kmsKeyFromRow,
  kmsVersionFromRow,
  objectFromRow,
  objectSummaryFromRow,
  objectSummaryValues,
  OBJECT_SUMMARY_COLUMNS,
  partFromRow,
  policyFromRow,
  uploadFromRow,
  userFromRow,
  versionColumns,
  type AccessKeyRow,
  type AccountRow,
  type KmsAliasRow,
  type KmsKeyRow,
  type KmsVersionRow,
  type ObjectRow,
  type ObjectSummaryRow,
  type PartRow,
  type PolicyRow,
  type UploadRow,
  type UserRow,
} from '../metadata-rows.js';
import {
  blobsFreedByReplace,
  checkWriteCondition,
  collectableAtOnce,
  deleteMarkerRecord,
  keyScanBounds,
  kmsKeyDoc,
  kmsKeySchedule,
  mergeVersionPage,
  newVersionId,
  nextVersionSeq,
  NULL_VERSION_ID,
  QUEUED_AT_ONCE,
  seqOfVersionId,
  stampVersion,
  versionIdOf,
  versionSeqOf,
} from '../metadata-rules.js';
import { POSTGRES_MIGRATIONS } from './postgres-migrations.js';
import { NOW_MS, asUnavailable, createPool, poolConnect, poolQuery } from '../../util/postgres.js';

/** The object row's writes ($1 bucket, $2 key, $3 document, then the listing's columns), from one record. */
const WRITE_OBJECT_SQL = `INSERT INTO objects (bucket, key, doc, ${OBJECT_SUMMARY_COLUMNS.join(', ')})
  VALUES ($1, $2, $3, ${OBJECT_SUMMARY_COLUMNS.map((_, i) => `$${i + 4}`).join(', ')})
  ON CONFLICT (bucket, key) DO UPDATE SET doc = excluded.doc, ${OBJECT_SUMMARY_COLUMNS.map((c) => `${c} = excluded.${c}`).join(', ')}`;
const UPDATE_OBJECT_SQL = `UPDATE objects SET doc = $3, ${OBJECT_SUMMARY_COLUMNS.map((c, i) => `${c} = $${i + 4}`).join(', ')} WHERE bucket = $1 AND key = $2`;

export interface PostgresStoreOptions {
  /** A libpq-style connection string: `postgres://user:pass@host:port/db` (or `?host=/socket/dir`). */
  url: string;
  /** Connections in this process's pool (default 10). */
  maxConnections?: number;
  /** How long a call waits for a connection before the database counts as unavailable (default 5000 ms). */
  connectTimeoutMs?: number;
  /** How many times a transaction PostgreSQL could not serialize is run again (default 30). */
  maxRetries?: number;
}

const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');

/** Taken by migrate() so that nodes starting together migrate one at a time. */
const MIGRATION_LOCK = 0x636f66666572; // "coffer"

/** SQLSTATEs after which the whole transaction is run again. */
const RETRYABLE = new Set(['40001', '40P01']);

/** One transaction's connection; notes whether it queued garbage. */
class Tx {
  garbage = false;
  constructor(readonly client: pg.PoolClient) {}

  async query<R extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
    try {
      return await this.client.query<R>(sql, params);
    } catch (err) {
      throw asUnavailable(err);
    }
  }

  async rows<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
    return (await this.query<R>(sql, params)).rows;
  }

  /** Queues blobs for the collector; `atOnce` (metadata-rules.ts collectableAtOnce) makes them collectable without the grace period. */
  async queueGarbage(blobIds: string[], atOnce = false): Promise<void> {
    if (blobIds.length === 0) return;
    const queuedAt = atOnce ? String(QUEUED_AT_ONCE) : NOW_MS;
    const r = await this.query(`INSERT INTO garbage (blob_id, queued_at) SELECT unnest($1::text[]), ${queuedAt} ON CONFLICT (blob_id) DO NOTHING`, [blobIds]);
    if ((r.rowCount ?? 0) > 0) this.garbage = true;
  }
}

export class PostgresMetadataStore implements MetadataStore {
  readonly #config: Readonly<Required<PostgresStoreOptions>>;
  readonly #pool: pg.Pool;
  #garbageListener: (() => void) | undefined;

  constructor(options: PostgresStoreOptions) {
    this.#config = Object.freeze({ maxConnections: 10, connectTimeoutMs: 5000, maxRetries: 30, ...options });
    this.#pool = createPool(this.#config.url, { max: this.#config.maxConnections, connectTimeoutMs: this.#config.connectTimeoutMs });
  }

  /** One statement outside a transaction (autocommit). */
  #query<R extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
    return poolQuery<R>(this.#pool, sql, params);
  }

  async #rows<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
    return (await this.#query<R>(sql, params)).rows;
  }

  /**
   * Runs `fn` in a SERIALIZABLE transaction, again from the start when PostgreSQL
   * reports a serialization failure or deadlock, and tells the garbage listener
   * once a transaction that queued garbage has committed. `fn` must be safe to
   * run more than once: it only talks to the database through `tx`.
   */
  async #tx<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const client = await poolConnect(this.#pool);
      const tx = new Tx(client);
      let result: T;
      try {
        await tx.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
        result = await fn(tx);
        await tx.query('COMMIT');
      } catch (err) {
        let broken = err instanceof BackendUnavailableError;
        if (!broken) {
          try {
            await client.query('ROLLBACK');
          } catch {
            broken = true;
          }
        }
        client.release(broken ? true : undefined);
        const code = (err as { code?: unknown }).code;
        if (typeof code === 'string' && RETRYABLE.has(code)) {
          if (attempt < this.#config.maxRetries) {
            await new Promise((r) => setTimeout(r, Math.random() * Math.min(100, 2 ** attempt)));
            continue;
          }
          // Still contended after every retry: S3's answer to too many writers of one key, 503 SlowDown (SDKs back off and retry).
          throw new S3Error('SlowDown', 'Please reduce your request rate.');
        }
        throw err;
      }
      client.release();
      if (tx.garbage) this.#garbageListener?.();
      return result;
    }
  }

  async migrate(): Promise<void> {
    const client = await poolConnect(this.#pool);
    const tx = new Tx(client);
    try {
      for (const [i, sql] of POSTGRES_MIGRATIONS.entries()) {
        const version = i + 1;
        await tx.query('BEGIN');
        try {
          await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
          await tx.query('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
          const [row] = await tx.rows<{ v: number | null }>('SELECT max(version) AS v FROM schema_version');
          if ((row?.v ?? 0) < version) {
            await tx.query(sql);
            await tx.query('INSERT INTO schema_version (version) VALUES ($1)', [version]);
          }
          await tx.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => {});
          throw err;
        }
      }
      client.release();
    } catch (err) {
      client.release(true);
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }

  onGarbage(listener: () => void): void {
    this.#garbageListener = listener;
  }

  // ---- buckets

  async createBucket(b: BucketRecord, options: { configs?: Readonly<Record<string, string>> } = {}): Promise<boolean> {
    return this.#tx(async (tx) => {
      const r = await tx.query('INSERT INTO buckets (name, created_at, owner_id, region) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING', [
        b.name,
        b.createdAt,
        b.ownerId,
        b.region,
      ]);
      if (r.rowCount !== 1) return false;
      // A name reused after DeleteBucket starts clean (deleteBucket removed the old documents).
      for (const [name, doc] of Object.entries(options.configs ?? {})) {
        await tx.query('INSERT INTO bucket_configs (bucket, name, doc) VALUES ($1, $2, $3) ON CONFLICT (bucket, name) DO UPDATE SET doc = excluded.doc', [b.name, name, doc]);
      }
      return true;
    });
  }

  async getBucket(name: string): Promise<BucketRecord | undefined> {
    const [row] = await this.#rows<{ name: string; created_at: number; owner_id: string; region: string }>(
      'SELECT name, created_at, owner_id, region FROM buckets WHERE name = $1',
      [name],
    );
    return row && { name: row.name, createdAt: row.created_at, ownerId: row.owner_id, region: row.region };
  }

  async listBuckets(): Promise<BucketRecord[]> {
    const rows = await this.#rows<{ name: string; created_at: number; owner_id: string; region: string }>('SELECT name, created_at, owner_id, region FROM buckets ORDER BY name');
    return rows.map((r) => ({ name: r.name, createdAt: r.created_at, ownerId: r.owner_id, region: r.region }));
  }

  async deleteBucket(name: string): Promise<'deleted' | 'not-empty' | 'missing'> {
    return this.#tx(async (tx): Promise<'deleted' | 'not-empty' | 'missing'> => {
      // FOR UPDATE: writers into the bucket hold it FOR SHARE, so none is half-way through.
      if ((await tx.query('SELECT 1 FROM buckets WHERE name = $1 FOR UPDATE', [name])).rowCount === 0) return 'missing';
      if ((await tx.query('SELECT 1 FROM objects WHERE bucket = $1 LIMIT 1', [name])).rowCount !== 0) return 'not-empty';
      if ((await tx.query('SELECT 1 FROM object_versions WHERE bucket = $1 LIMIT 1', [name])).rowCount !== 0) return 'not-empty';
      if ((await tx.query('SELECT 1 FROM uploads WHERE bucket = $1 LIMIT 1', [name])).rowCount !== 0) return 'not-empty';
      await tx.query('DELETE FROM buckets WHERE name = $1', [name]);
      await tx.query('DELETE FROM bucket_configs WHERE bucket = $1', [name]);
      await tx.query('DELETE FROM bucket_keys WHERE bucket = $1', [name]);
      return 'deleted';
    });
  }

  async getBucketConfig(bucket: string, name: string): Promise<string | undefined> {
    const [row] = await this.#rows<{ doc: string }>('SELECT doc FROM bucket_configs WHERE bucket = $1 AND name = $2', [bucket, name]);
    return row?.doc;
  }

  async getBucketConfigs(bucket: string): Promise<Map<string, string>> {
    const rows = await this.#rows<{ name: string; doc: string }>('SELECT name, doc FROM bucket_configs WHERE bucket = $1', [bucket]);
    return new Map(rows.map((r) => [r.name, r.doc]));
  }

  async putBucketConfig(bucket: string, name: string, doc: string): Promise<boolean> {
    return this.#tx(async (tx) => {
      if ((await tx.query('SELECT 1 FROM buckets WHERE name = $1 FOR SHARE', [bucket])).rowCount === 0) return false;
      await tx.query('INSERT INTO bucket_configs (bucket, name, doc) VALUES ($1, $2, $3) ON CONFLICT (bucket, name) DO UPDATE SET doc = excluded.doc', [bucket, name, doc]);
      return true;
    });
  }

  async deleteBucketConfig(bucket: string, name: string): Promise<void> {
    await this.#query('DELETE FROM bucket_configs WHERE bucket = $1 AND name = $2', [bucket, name]);
  }

  async claimBucketKey(k: Omit<BucketKeyRecord, 'wrapped'>): Promise<boolean> {
    const r = await this.#query("INSERT INTO bucket_keys (id, bucket, kms_key_arn, wrapped, created_at) VALUES ($1, $2, $3, '', $4) ON CONFLICT (id) DO NOTHING", [
      k.id,
      k.bucket,
      k.kmsKeyArn,
      k.createdAt,
    ]);
    return r.rowCount === 1;
  }

  async fillBucketKey(id: string, wrapped: string): Promise<boolean> {
    return (await this.#query("UPDATE bucket_keys SET wrapped = $1 WHERE id = $2 AND wrapped = ''", [wrapped, id])).rowCount === 1;
  }

  async releaseBucketKey(id: string): Promise<void> {
    await this.#query("DELETE FROM bucket_keys WHERE id = $1 AND wrapped = ''", [id]);
  }

  async getBucketKey(id: string): Promise<BucketKeyRecord | undefined> {
    const [row] = await this.#rows<{ id: string; bucket: string; kms_key_arn: string; wrapped: string; created_at: number }>('SELECT * FROM bucket_keys WHERE id = $1', [id]);
    return row && { id: row.id, bucket: row.bucket, kmsKeyArn: row.kms_key_arn, wrapped: row.wrapped, createdAt: row.created_at };
  }

  // ---- objects

  /** The object at the key, locked until the transaction ends. */
  async #lockObject(tx: Tx, bucket: string, key: string): Promise<ObjectRecord | undefined> {
    const [row] = await tx.rows<ObjectRow>('SELECT bucket, key, doc FROM objects WHERE bucket = $1 AND key = $2 FOR UPDATE', [bucket, utf8(key)]);
    return row && objectFromRow(row);
  }

  /** Writes the object row over `existing` (already locked); queues the replaced object's blobs unless the new object reuses them. */
  async #writeObject(tx: Tx, object: ObjectRecord, existing: ObjectRecord | undefined): Promise<void> {
    const { bucket, key, ...doc } = object;
    await tx.query(WRITE_OBJECT_SQL, [bucket, utf8(key), JSON.stringify(doc), ...objectSummaryValues(doc)]);
    if (existing) await tx.queueGarbage(blobsFreedByReplace(existing, object), collectableAtOnce(existing));
  }

  /** Replaces the document of the object at the key (locked by the caller). */
  async #updateObjectDoc(tx: Tx, object: ObjectRecord): Promise<void> {
    const { bucket, key, ...doc } = object;
    await tx.query(UPDATE_OBJECT_SQL, [bucket, utf8(key), JSON.stringify(doc), ...objectSummaryValues(doc)]);
  }

  async getObject(bucket: string, key: string): Promise<ObjectRecord | undefined> {
    const [row] = await this.#rows<ObjectRow>('SELECT bucket, key, doc FROM objects WHERE bucket = $1 AND key = $2', [bucket, utf8(key)]);
    return row && objectFromRow(row);
  }

  async #newestOlder(tx: Tx, bucket: string, key: string): Promise<ObjectRecord | undefined> {
    const [row] = await tx.rows<ObjectRow>('SELECT bucket, key, doc FROM object_versions WHERE bucket = $1 AND key = $2 ORDER BY seq DESC LIMIT 1 FOR UPDATE', [bucket, utf8(key)]);
    return row && objectFromRow(row);
  }

  async #olderVersion(tx: Tx, bucket: string, key: string, versionId: string): Promise<ObjectRecord | undefined> {
    const [row] = await tx.rows<ObjectRow>('SELECT bucket, key, doc FROM object_versions WHERE bucket = $1 AND key = $2 AND version_id = $3 FOR UPDATE', [bucket, utf8(key), versionId]);
    return row && objectFromRow(row);
  }

  async #insertOlder(tx: Tx, record: ObjectRecord): Promise<void> {
    const c = versionColumns(record);
    await tx.query('INSERT INTO object_versions (bucket, key, seq, version_id, doc) VALUES ($1, $2, $3, $4, $5)', [record.bucket, utf8(record.key), c.seq, c.versionId, c.doc]);
  }

  async #deleteOlder(tx: Tx, record: ObjectRecord): Promise<void> {
    await tx.query('DELETE FROM object_versions WHERE bucket = $1 AND key = $2 AND version_id = $3', [record.bucket, utf8(record.key), versionIdOf(record)]);
  }

  async #deleteCurrent(tx: Tx, bucket: string, key: string): Promise<void> {
    await tx.query('DELETE FROM objects WHERE bucket = $1 AND key = $2', [bucket, utf8(key)]);
  }

  /** With no current object left, the newest other version becomes current unless it is a delete marker. */
  async #promote(tx: Tx, bucket: string, key: string): Promise<void> {
    if (await this.#lockObject(tx, bucket, key)) return;
    const newest = await this.#newestOlder(tx, bucket, key);
    if (!newest || newest.deleteMarker) return;
    await this.#deleteOlder(tx, newest);
    await this.#writeObject(tx, newest, undefined);
  }

  /** The SQLite driver's #retireLatestSync: room for a new latest version; returns its seq. */
  async #retireLatest(tx: Tx, bucket: string, key: string, existing: ObjectRecord | undefined, versioning: VersioningOptions['versioning'], keep: readonly string[]): Promise<number> {
    const newestOlder = versioning ? await this.#newestOlder(tx, bucket, key) : undefined;
    const seq = nextVersionSeq(Math.max(existing ? versionSeqOf(existing) : 0, newestOlder ? versionSeqOf(newestOlder) : 0));
    const kept = new Set(keep);
    if (existing) {
      if (versioning === 'Enabled' || (versioning === 'Suspended' && existing.versionId !== undefined)) await this.#insertOlder(tx, existing);
      else await tx.queueGarbage(existing.parts.map((p) => p.blobId).filter((id) => !kept.has(id)), collectableAtOnce(existing));
      await this.#deleteCurrent(tx, bucket, key);
    }
    if (versioning === 'Suspended') {
      const oldNull = await this.#olderVersion(tx, bucket, key, NULL_VERSION_ID);
      if (oldNull) {
        await this.#deleteOlder(tx, oldNull);
        await tx.queueGarbage(oldNull.parts.map((p) => p.blobId).filter((id) => !kept.has(id)), collectableAtOnce(oldNull));
      }
    }
    return seq;
  }

  /** Writes the object as the key's new current version over `existing` (locked); queues what it replaces for good. */
  async #putVersion(tx: Tx, object: ObjectRecord, existing: ObjectRecord | undefined, versioning: VersioningOptions['versioning']): Promise<ObjectRecord> {
    if (!versioning) {
      await this.#writeObject(tx, object, existing);
      return object;
    }
    const seq = await this.#retireLatest(tx, object.bucket, object.key, existing, versioning, object.parts.map((p) => p.blobId));
    const stored = stampVersion(object, seq, versioning === 'Enabled');
    await this.#writeObject(tx, stored, undefined);
    return stored;
  }

  async putObject(object: ObjectRecord, condition?: WriteCondition, options: VersioningOptions = {}): Promise<ObjectRecord> {
    return this.#tx(async (tx) => {
      if ((await tx.query('SELECT 1 FROM buckets WHERE name = $1 FOR SHARE', [object.bucket])).rowCount === 0) throw new S3Error('NoSuchBucket');
      // A key no row holds yet locks nothing: two If-None-Match writers of a new key both
      // get here, and SERIALIZABLE fails one of them (40001), whose retry then sees the other's object.
      const existing = await this.#lockObject(tx, object.bucket, object.key);
      checkWriteCondition(existing, condition);
      return this.#putVersion(tx, object, existing, options.versioning);
    });
  }

  async deleteObject(bucket: string, key: string, options: VersioningOptions & { markerOwnerId?: string } = {}): Promise<ObjectRecord | undefined> {
    return this.#tx(async (tx) => {
      const existing = await this.#lockObject(tx, bucket, key);
      if (!options.versioning) {
        if (!existing) return undefined;
        await this.#deleteCurrent(tx, bucket, key);
        await tx.queueGarbage(existing.parts.map((p) => p.blobId), collectableAtOnce(existing));
        return existing;
      }
      // A delete marker is a new row: never one in a bucket a DeleteBucket is removing (FOR SHARE, as putObject).
      if ((await tx.query('SELECT 1 FROM buckets WHERE name = $1 FOR SHARE', [bucket])).rowCount === 0) throw new S3Error('NoSuchBucket');
      const seq = await this.#retireLatest(tx, bucket, key, existing, options.versioning, []);
      const marker = deleteMarkerRecord(bucket, key, options.markerOwnerId ?? '', {
        ...(options.versioning === 'Enabled' ? { versionId: newVersionId(seq) } : {}),
        versionSeq: seq,
      });
      await this.#insertOlder(tx, marker);
      return marker;
    });
  }

  async #version(tx: Tx, bucket: string, key: string, versionId: string): Promise<{ record: ObjectRecord; current: boolean } | undefined> {
    const current = await this.#lockObject(tx, bucket, key);
    if (current && versionIdOf(current) === versionId) return { record: current, current: true };
    const older = await this.#olderVersion(tx, bucket, key, versionId);
    return older && { record: older, current: false };
  }

  async getObjectVersion(bucket: string, key: string, versionId: string): Promise<ObjectRecord | undefined> {
    const [row] = await this.#rows<ObjectRow>(
      `SELECT bucket, key, doc FROM objects WHERE bucket = $1 AND key = $2 AND coalesce(doc::jsonb->>'versionId', 'null') = $3
       UNION ALL SELECT bucket, key, doc FROM object_versions WHERE bucket = $1 AND key = $2 AND version_id = $3 LIMIT 1`,
      [bucket, utf8(key), versionId],
    );
    return row && objectFromRow(row);
  }

  async getLatestVersion(bucket: string, key: string): Promise<ObjectRecord | undefined> {
    const [row] = await this.#rows<ObjectRow>(
      `(SELECT bucket, key, doc, 1 AS current FROM objects WHERE bucket = $1 AND key = $2)
       UNION ALL (SELECT bucket, key, doc, 0 AS current FROM object_versions WHERE bucket = $1 AND key = $2 ORDER BY seq DESC LIMIT 1)
       ORDER BY current DESC LIMIT 1`,
      [bucket, utf8(key)],
    );
    return row && objectFromRow(row);
  }

  async deleteObjectVersion(bucket: string, key: string, versionId: string, options: { check?: (version: ObjectRecord) => void } = {}): Promise<ObjectRecord | undefined> {
    return this.#tx(async (tx) => {
      const found = await this.#version(tx, bucket, key, versionId);
      if (!found) return undefined;
      options.check?.(found.record);
      if (found.current) await this.#deleteCurrent(tx, bucket, key);
      else await this.#deleteOlder(tx, found.record);
      await tx.queueGarbage(found.record.parts.map((p) => p.blobId), collectableAtOnce(found.record));
      await this.#promote(tx, bucket, key);
      return found.record;
    });
  }

  async updateObjectVersion(
    bucket: string,
    key: string,
    versionId: string | undefined,
    patch: (version: ObjectRecord) => ObjectRecord | undefined,
  ): Promise<'updated' | 'unchanged' | 'missing'> {
    return this.#tx(async (tx): Promise<'updated' | 'unchanged' | 'missing'> => {
      let found: { record: ObjectRecord; current: boolean } | undefined;
      if (versionId === undefined) {
        const current = await this.#lockObject(tx, bucket, key);
        found = current && { record: current, current: true };
      } else {
        found = await this.#version(tx, bucket, key, versionId);
      }
      if (!found) return 'missing';
      const next = patch(found.record);
      if (!next) return 'unchanged';
      if (found.current) {
        await this.#updateObjectDoc(tx, next);
      } else {
        const c = versionColumns(next);
        await tx.query('UPDATE object_versions SET doc = $1 WHERE bucket = $2 AND key = $3 AND version_id = $4', [c.doc, bucket, utf8(key), versionIdOf(found.record)]);
      }
      return 'updated';
    });
  }

  async listObjectVersions(bucket: string, range: VersionListRange): Promise<ObjectVersionEntry[]> {
    // One snapshot for the page's reads (REPEATABLE READ, read only): no writer is blocked.
    const client = await poolConnect(this.#pool);
    const tx = new Tx(client);
    try {
      await tx.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const continuing = range.start && !range.start.inclusive && range.afterVersionId !== undefined ? range.start.key : undefined;
      const older: ObjectRecord[] = [];
      let markerSeq: number | undefined;
      if (continuing !== undefined) {
        let below = seqOfVersionId(range.afterVersionId!);
        if (below === undefined) {
          const [row] = await tx.rows<ObjectRow>(
            `SELECT bucket, key, doc FROM objects WHERE bucket = $1 AND key = $2 AND NOT (doc::jsonb ? 'versionId')
             UNION ALL SELECT bucket, key, doc FROM object_versions WHERE bucket = $1 AND key = $2 AND version_id = 'null' LIMIT 1`,
            [bucket, utf8(continuing)],
          );
          below = row ? versionSeqOf(objectFromRow(row)) : -1;
        }
        markerSeq = below;
        const rows = await tx.rows<ObjectRow>('SELECT bucket, key, doc FROM object_versions WHERE bucket = $1 AND key = $2 AND seq < $3 ORDER BY seq DESC LIMIT $4', [
          bucket,
          utf8(continuing),
          below,
          range.limit,
        ]);
        older.push(...rows.map((r) => objectFromRow(r)));
      }
      const { sql, params } = this.#rangeSql('key', range.prefix, range.start, 2);
      if (older.length < range.limit) {
        const rows = await tx.rows<ObjectRow>(`SELECT bucket, key, doc FROM object_versions WHERE bucket = $1 AND ${sql} ORDER BY key, seq DESC LIMIT $${params.length + 2}`, [
          bucket,
          ...params,
          range.limit - older.length,
        ]);
        older.push(...rows.map((r) => objectFromRow(r)));
      }
      const current: ObjectRecord[] = [];
      if (continuing !== undefined) {
        // The marker key's current object, when it is older than the marker (the marker version was deleted meanwhile).
        const [row] = await tx.rows<ObjectRow>('SELECT bucket, key, doc FROM objects WHERE bucket = $1 AND key = $2', [bucket, utf8(continuing)]);
        const c = row && objectFromRow(row);
        if (c && versionSeqOf(c) < markerSeq!) current.push(c);
      }
      current.push(
        ...(
          await tx.rows<ObjectRow>(`SELECT bucket, key, doc FROM objects WHERE bucket = $1 AND ${sql} ORDER BY key LIMIT $${params.length + 2}`, [bucket, ...params, range.limit])
        ).map((r) => objectFromRow(r)),
      );
      await tx.query('COMMIT');
      client.release();
      return mergeVersionPage(current, older, range.limit, continuing);
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      client.release(true);
      throw err;
    }
  }

  async putObjectTags(bucket: string, key: string, tags: [string, string][]): Promise<boolean> {
    return this.#tx(async (tx) => {
      const existing = await this.#lockObject(tx, bucket, key);
      if (!existing) return false;
      await this.#updateObjectDoc(tx, { ...existing, tags });
      return true;
    });
  }

  async setObjectEncryption(bucket: string, key: string, expected: ObjectEncryption, next: ObjectEncryption): Promise<boolean> {
    return this.#tx(async (tx) => {
      const existing = await this.#lockObject(tx, bucket, key);
      if (!existing || JSON.stringify(existing.encryption) !== JSON.stringify(expected)) return false;
      await this.#updateObjectDoc(tx, { ...existing, encryption: next });
      return true;
    });
  }

  async setObjectAcl(bucket: string, key: string, expected: { etag: string; lastModified: number }, acl: StoredAcl | undefined): Promise<'updated' | 'changed' | 'missing'> {
    return this.#tx(async (tx): Promise<'updated' | 'changed' | 'missing'> => {
      const existing = await this.#lockObject(tx, bucket, key);
      if (!existing) return 'missing';
      if (existing.etag !== expected.etag || existing.lastModified !== expected.lastModified) return 'changed';
      const { acl: _old, ...rest } = existing;
      await this.#updateObjectDoc(tx, acl ? { ...rest, acl } : rest);
      return 'updated';
    });
  }

  /** The WHERE clause of a prefix + start scan over `column`, with its parameters numbered from `first`. */
  #rangeSql(column: string, prefix: string, start: { key: string; inclusive: boolean } | undefined, first: number): { sql: string; params: Buffer[] } {
    const { lower, upper } = keyScanBounds(prefix, start);
    const sql = [`${column} ${lower.inclusive ? '>=' : '>'} $${first}`];
    const params = [lower.bound];
    if (upper) {
      sql.push(`${column} < $${first + 1}`);
      params.push(upper);
    }
    return { sql: sql.join(' AND '), params };
  }

  async listObjects(bucket: string, range: KeyRange): Promise<ObjectSummary[]> {
    const { sql, params } = this.#rangeSql('key', range.prefix, range.start, 2);
    const rows = await this.#rows<ObjectSummaryRow>(
      `SELECT key, ${OBJECT_SUMMARY_COLUMNS.join(', ')} FROM objects WHERE bucket = $1 AND ${sql} ORDER BY key LIMIT $${params.length + 2}`,
      [bucket, ...params, range.limit],
    );
    return rows.map(objectSummaryFromRow);
  }

  // ---- multipart

  async createUpload(upload: UploadRecord): Promise<void> {
    const { uploadId, bucket, key, initiated, ...doc } = upload;
    await this.#tx(async (tx) => {
      if ((await tx.query('SELECT 1 FROM buckets WHERE name = $1 FOR SHARE', [bucket])).rowCount === 0) throw new S3Error('NoSuchBucket');
      await tx.query('INSERT INTO uploads (upload_id, bucket, key, initiated, doc) VALUES ($1, $2, $3, $4, $5)', [uploadId, bucket, utf8(key), initiated, JSON.stringify(doc)]);
    });
  }

  async getUpload(uploadId: string): Promise<UploadRecord | undefined> {
    const [row] = await this.#rows<UploadRow>('SELECT upload_id, bucket, key, initiated, doc FROM uploads WHERE upload_id = $1', [uploadId]);
    return row && uploadFromRow(row);
  }

  async putPart(part: PartRecord): Promise<void> {
    const { uploadId, partNumber, ...doc } = part;
    await this.#tx(async (tx) => {
      // FOR SHARE: Complete and Abort lock the upload FOR UPDATE, so no part lands after they took the parts.
      if ((await tx.query('SELECT 1 FROM uploads WHERE upload_id = $1 FOR SHARE', [uploadId])).rowCount === 0) throw new S3Error('NoSuchUpload');
      const [old] = await tx.rows<PartRow>('SELECT upload_id, part_number, doc FROM parts WHERE upload_id = $1 AND part_number = $2 FOR UPDATE', [uploadId, partNumber]);
      await tx.query('INSERT INTO parts (upload_id, part_number, doc) VALUES ($1, $2, $3) ON CONFLICT (upload_id, part_number) DO UPDATE SET doc = excluded.doc', [
        uploadId,
        partNumber,
        JSON.stringify(doc),
      ]);
      if (old) {
        const oldPart = partFromRow(old);
        if (oldPart.blobId !== part.blobId) await tx.queueGarbage([oldPart.blobId]);
      }
    });
  }

  async listParts(uploadId: string, after: number, limit: number): Promise<PartRecord[]> {
    const rows = await this.#rows<PartRow>('SELECT upload_id, part_number, doc FROM parts WHERE upload_id = $1 AND part_number > $2 ORDER BY part_number LIMIT $3', [
      uploadId,
      after,
      limit,
    ]);
    return rows.map((r) => partFromRow(r));
  }

  async listUploads(bucket: string, range: UploadListRange): Promise<UploadRecord[]> {
    const { sql, params } = this.#rangeSql('key', range.prefix, range.start, 2);
    const where = [sql];
    const all: unknown[] = [bucket, ...params];
    const p = (v: unknown): string => `$${all.push(v)}`;
    if (range.keyMarker !== undefined) {
      // S3: keys after key-marker, plus uploads of key-marker itself after upload-id-marker.
      if (range.uploadIdMarker !== undefined) {
        const marker = p(utf8(range.keyMarker));
        where.push(`(key > ${marker} OR (key = ${marker} AND upload_id > ${p(range.uploadIdMarker)}))`);
      } else {
        where.push(`key > ${p(utf8(range.keyMarker))}`);
      }
    }
    // Upload ids start with their creation time, so id order is initiation order within a key.
    const limit = p(range.limit);
    const rows = await this.#rows<UploadRow>(`SELECT upload_id, bucket, key, initiated, doc FROM uploads WHERE bucket = $1 AND ${where.join(' AND ')} ORDER BY key, upload_id LIMIT ${limit}`, all);
    return rows.map((r) => uploadFromRow(r));
  }

  /** Removes a locked upload and its parts, queueing the parts' blobs not in `keepBlobIds`. */
  async #removeUpload(tx: Tx, uploadId: string, keepBlobIds: Set<string>): Promise<boolean> {
    const parts = await tx.rows<PartRow>('SELECT upload_id, part_number, doc FROM parts WHERE upload_id = $1', [uploadId]);
    if ((await tx.query('DELETE FROM uploads WHERE upload_id = $1', [uploadId])).rowCount === 0) return false;
    await tx.query('DELETE FROM parts WHERE upload_id = $1', [uploadId]);
    await tx.queueGarbage(parts.map((r) => partFromRow(r).blobId).filter((id) => !keepBlobIds.has(id)));
    return true;
  }

  async completeUpload(uploadId: string, object: ObjectRecord, condition?: WriteCondition, options: VersioningOptions = {}): Promise<ObjectRecord> {
    return this.#tx(async (tx) => {
      if ((await tx.query('SELECT 1 FROM uploads WHERE upload_id = $1 FOR UPDATE', [uploadId])).rowCount === 0) throw new S3Error('NoSuchUpload');
      // The condition is checked before anything changes, so a failed Complete leaves the upload intact.
      const existing = await this.#lockObject(tx, object.bucket, object.key);
      checkWriteCondition(existing, condition);
      await this.#removeUpload(tx, uploadId, new Set(object.parts.map((p) => p.blobId)));
      return this.#putVersion(tx, object, existing, options.versioning);
    });
  }

  async abortUpload(uploadId: string): Promise<boolean> {
    return this.#tx(async (tx) => {
      if ((await tx.query('SELECT 1 FROM uploads WHERE upload_id = $1 FOR UPDATE', [uploadId])).rowCount === 0) return false;
      return this.#removeUpload(tx, uploadId, new Set());
    });
  }

  async staleUploads(before: number, limit: number): Promise<UploadRecord[]> {
    const rows = await this.#rows<UploadRow>('SELECT upload_id, bucket, key, initiated, doc FROM uploads WHERE initiated < $1 ORDER BY initiated LIMIT $2', [before, limit]);
    return rows.map((r) => uploadFromRow(r));
  }

  // ---- garbage

  async takeGarbage(limit: number, options: { minAgeMs?: number } = {}): Promise<string[]> {
    // Only committed rows are visible, and a commit is durable. SKIP LOCKED passes over
    // entries another node is deferring or forgetting at this moment instead of waiting.
    const rows = await this.#rows<{ blob_id: string }>(
      `SELECT blob_id FROM garbage WHERE queued_at <= ${NOW_MS} - $1 ORDER BY queued_at LIMIT $2 FOR UPDATE SKIP LOCKED`,
      [options.minAgeMs ?? 0, limit],
    );
    return rows.map((r) => r.blob_id);
  }

  async deferGarbage(blobIds: readonly string[]): Promise<void> {
    if (blobIds.length === 0) return;
    await this.#query(`UPDATE garbage SET queued_at = ${NOW_MS} WHERE blob_id = ANY($1::text[]) AND queued_at < ${NOW_MS}`, [[...blobIds]]);
  }

  async garbageCollected(blobIds: string[]): Promise<void> {
    if (blobIds.length === 0) return;
    await this.#query('DELETE FROM garbage WHERE blob_id = ANY($1::text[])', [blobIds]);
  }

  async bucketUsage(): Promise<BucketUsage[]> {
    // The deltas the objects trigger appended (migration 2) are folded into one row per bucket
    // first, in one statement: concurrent folds (other nodes scraping) each take distinct deltas.
    await this.#query(`
      WITH d AS (DELETE FROM bucket_usage_deltas RETURNING bucket, objects, bytes),
           s AS (SELECT bucket, sum(objects) AS objects, sum(bytes) AS bytes FROM d GROUP BY bucket)
      INSERT INTO bucket_usage (bucket, objects, bytes) SELECT bucket, objects, bytes FROM s
      ON CONFLICT (bucket) DO UPDATE SET objects = bucket_usage.objects + excluded.objects, bytes = bucket_usage.bytes + excluded.bytes`);
    // A deleted bucket's row stays (it nets to zero, as any unfolded deltas of it do), so the join.
    const rows = await this.#rows<{ bucket: string; objects: string; bytes: string }>(
      'SELECT b.name AS bucket, coalesce(u.objects, 0) AS objects, coalesce(u.bytes, 0) AS bytes FROM buckets b LEFT JOIN bucket_usage u ON u.bucket = b.name ORDER BY b.name',
    );
    return rows.map((r) => ({ bucket: r.bucket, objects: Number(r.objects), bytes: Number(r.bytes) }));
  }

  async garbageQueueLength(): Promise<number> {
    const [row] = await this.#rows<{ n: string }>('SELECT count(*) AS n FROM garbage');
    return Number(row?.n ?? 0);
  }

  async referencedBlobIds(blobIds: string[]): Promise<Set<string>> {
    if (blobIds.length === 0) return new Set();
    // Crash recovery only: a full scan is acceptable here (done by the server), never on a request path.
    const rows = await this.#rows<{ id: string }>(
      `SELECT p->>'blobId' AS id FROM objects, jsonb_array_elements(doc::jsonb->'parts') AS p WHERE p->>'blobId' = ANY($1::text[])
       UNION SELECT p->>'blobId' AS id FROM object_versions, jsonb_array_elements(doc::jsonb->'parts') AS p WHERE p->>'blobId' = ANY($1::text[])
       UNION SELECT doc::jsonb->>'blobId' AS id FROM parts WHERE doc::jsonb->>'blobId' = ANY($1::text[])`,
      [blobIds],
    );
    return new Set(rows.map((r) => r.id));
  }

  // ---- the built-in KMS

  async #insertKmsVersion(tx: Tx, v: KmsKeyVersionRecord): Promise<void> {
    await tx.query('INSERT INTO kms_key_versions (key_id, version, created_at, rotation_type, root_key_id, wrapped) VALUES ($1, $2, $3, $4, $5, $6)', [
      v.keyId,
      v.version,
      v.createdAt,
      v.rotationType,
      v.rootKeyId,
      v.wrappedMaterial,
    ]);
  }

  async #insertKmsAlias(tx: Tx, alias: KmsAliasRecord): Promise<void> {
    await tx.query('INSERT INTO kms_aliases (alias_name, key_id, created_at, updated_at) VALUES ($1, $2, $3, $4)', [alias.aliasName, alias.keyId, alias.createdAt, alias.updatedAt]);
  }

  async createKmsKey(key: KmsKeyRecord, version: KmsKeyVersionRecord, alias?: KmsAliasRecord): Promise<boolean> {
    return this.#tx(async (tx) => {
      if (alias && (await tx.query('SELECT 1 FROM kms_aliases WHERE alias_name = $1', [alias.aliasName])).rowCount !== 0) return false;
      const s = kmsKeySchedule(key);
      await tx.query('INSERT INTO kms_keys (key_id, revision, deletion_date, next_rotation_date, doc) VALUES ($1, $2, $3, $4, $5)', [
        key.keyId,
        key.revision,
        s.deletionDate,
        s.nextRotationDate,
        kmsKeyDoc(key),
      ]);
      await this.#insertKmsVersion(tx, version);
      if (alias) await this.#insertKmsAlias(tx, alias);
      return true;
    });
  }

  async getKmsKey(keyId: string): Promise<KmsKeyRecord | undefined> {
    const [row] = await this.#rows<KmsKeyRow>('SELECT key_id, revision, doc FROM kms_keys WHERE key_id = $1', [keyId]);
    return row && kmsKeyFromRow(row);
  }

  async listKmsKeys(afterKeyId: string | undefined, limit: number): Promise<KmsKeyRecord[]> {
    const rows = await this.#rows<KmsKeyRow>('SELECT key_id, revision, doc FROM kms_keys WHERE key_id > $1 ORDER BY key_id LIMIT $2', [afterKeyId ?? '', limit]);
    return rows.map((r) => kmsKeyFromRow(r));
  }

  async updateKmsKey(key: KmsKeyRecord, newVersion?: KmsKeyVersionRecord): Promise<boolean> {
    return this.#tx(async (tx) => {
      const s = kmsKeySchedule(key);
      const r = await tx.query('UPDATE kms_keys SET revision = revision + 1, deletion_date = $1, next_rotation_date = $2, doc = $3 WHERE key_id = $4 AND revision = $5', [
        s.deletionDate,
        s.nextRotationDate,
        kmsKeyDoc(key),
        key.keyId,
        key.revision,
      ]);
      if (r.rowCount !== 1) return false;
      if (newVersion) await this.#insertKmsVersion(tx, newVersion);
      return true;
    });
  }

  async getKmsKeyVersion(keyId: string, version: number): Promise<KmsKeyVersionRecord | undefined> {
    const [row] = await this.#rows<KmsVersionRow>(
      'SELECT key_id, version, created_at, rotation_type, root_key_id, wrapped FROM kms_key_versions WHERE key_id = $1 AND version = $2',
      [keyId, version],
    );
    return row && kmsVersionFromRow(row);
  }

  async listKmsKeyVersions(keyId: string): Promise<KmsKeyVersionRecord[]> {
    const rows = await this.#rows<KmsVersionRow>(
      'SELECT key_id, version, created_at, rotation_type, root_key_id, wrapped FROM kms_key_versions WHERE key_id = $1 ORDER BY version',
      [keyId],
    );
    return rows.map((r) => kmsVersionFromRow(r));
  }

  async destroyKmsKey(keyId: string): Promise<boolean> {
    const destroyed = await this.#tx(async (tx) => {
      if ((await tx.query('DELETE FROM kms_keys WHERE key_id = $1', [keyId])).rowCount === 0) return false;
      // Overwritten before it is deleted, so the newest row version holds zeros only.
      await tx.query("UPDATE kms_key_versions SET wrapped = decode(repeat('00', length(wrapped)), 'hex') WHERE key_id = $1", [keyId]);
      await tx.query('DELETE FROM kms_key_versions WHERE key_id = $1', [keyId]);
      await tx.query('DELETE FROM kms_aliases WHERE key_id = $1', [keyId]);
      return true;
    });
    // Older row versions still hold the wrapped material until VACUUM reclaims them; ask for
    // it now. Best effort: the key is destroyed either way, and autovacuum comes later.
    if (destroyed) await this.#pool.query('VACUUM kms_key_versions').catch(() => {});
    return destroyed;
  }

  async kmsKeysDueForDeletion(now: number, limit: number): Promise<string[]> {
    const rows = await this.#rows<{ key_id: string }>(
      'SELECT key_id FROM kms_keys WHERE deletion_date IS NOT NULL AND deletion_date <= $1 ORDER BY deletion_date LIMIT $2',
      [now, limit],
    );
    return rows.map((r) => r.key_id);
  }

  async kmsKeysDueForRotation(now: number, limit: number): Promise<string[]> {
    const rows = await this.#rows<{ key_id: string }>(
      'SELECT key_id FROM kms_keys WHERE next_rotation_date IS NOT NULL AND next_rotation_date <= $1 ORDER BY next_rotation_date LIMIT $2',
      [now, limit],
    );
    return rows.map((r) => r.key_id);
  }

  async createKmsAlias(alias: KmsAliasRecord): Promise<'created' | 'exists' | 'no-key'> {
    return this.#tx(async (tx): Promise<'created' | 'exists' | 'no-key'> => {
      if ((await tx.query('SELECT 1 FROM kms_aliases WHERE alias_name = $1', [alias.aliasName])).rowCount !== 0) return 'exists';
      // FOR SHARE: the key cannot be destroyed under the new alias.
      if ((await tx.query('SELECT 1 FROM kms_keys WHERE key_id = $1 FOR SHARE', [alias.keyId])).rowCount === 0) return 'no-key';
      await this.#insertKmsAlias(tx, alias);
      return 'created';
    });
  }

  async getKmsAlias(aliasName: string): Promise<KmsAliasRecord | undefined> {
    const [row] = await this.#rows<KmsAliasRow>('SELECT alias_name, key_id, created_at, updated_at FROM kms_aliases WHERE alias_name = $1', [aliasName]);
    return row && kmsAliasFromRow(row);
  }

  async updateKmsAlias(aliasName: string, keyId: string, updatedAt: number): Promise<'updated' | 'missing' | 'no-key'> {
    return this.#tx(async (tx): Promise<'updated' | 'missing' | 'no-key'> => {
      if ((await tx.query('SELECT 1 FROM kms_aliases WHERE alias_name = $1 FOR UPDATE', [aliasName])).rowCount === 0) return 'missing';
      if ((await tx.query('SELECT 1 FROM kms_keys WHERE key_id = $1 FOR SHARE', [keyId])).rowCount === 0) return 'no-key';
      await tx.query('UPDATE kms_aliases SET key_id = $1, updated_at = $2 WHERE alias_name = $3', [keyId, updatedAt, aliasName]);
      return 'updated';
    });
  }

  async deleteKmsAlias(aliasName: string): Promise<boolean> {
    return (await this.#query('DELETE FROM kms_aliases WHERE alias_name = $1', [aliasName])).rowCount === 1;
  }

  async listKmsAliases(options: { keyId?: string; after?: string; limit: number }): Promise<KmsAliasRecord[]> {
    const rows =
      options.keyId !== undefined
        ? await this.#rows<KmsAliasRow>(
            'SELECT alias_name, key_id, created_at, updated_at FROM kms_aliases WHERE key_id = $1 AND alias_name > $2 ORDER BY alias_name LIMIT $3',
            [options.keyId, options.after ?? '', options.limit],
          )
        : await this.#rows<KmsAliasRow>('SELECT alias_name, key_id, created_at, updated_at FROM kms_aliases WHERE alias_name > $1 ORDER BY alias_name LIMIT $2', [
            options.after ?? '',
            options.limit,
          ]);
    return rows.map((r) => kmsAliasFromRow(r));
  }

  async kmsKeyVersionsNotWrappedBy(rootKeyId: string, limit: number): Promise<KmsKeyVersionRecord[]> {
    const rows = await this.#rows<KmsVersionRow>(
      'SELECT key_id, version, created_at, rotation_type, root_key_id, wrapped FROM kms_key_versions WHERE root_key_id <> $1 ORDER BY key_id, version LIMIT $2',
      [rootKeyId, limit],
    );
    return rows.map((r) => kmsVersionFromRow(r));
  }

  async rewrapKmsKeyVersion(keyId: string, version: number, fromRootKeyId: string, to: { rootKeyId: string; wrappedMaterial: Buffer }): Promise<boolean> {
    const r = await this.#query('UPDATE kms_key_versions SET root_key_id = $1, wrapped = $2 WHERE key_id = $3 AND version = $4 AND root_key_id = $5', [
      to.rootKeyId,
      to.wrappedMaterial,
      keyId,
      version,
      fromRootKeyId,
    ]);
    return r.rowCount === 1;
  }

  async kmsRootKeyIds(): Promise<string[]> {
    return (await this.#rows<{ root_key_id: string }>('SELECT DISTINCT root_key_id FROM kms_key_versions')).map((r) => r.root_key_id);
  }

  async getKmsSetting(name: string): Promise<string | undefined> {
    const [row] = await this.#rows<{ value: string }>('SELECT value FROM kms_settings WHERE name = $1', [name]);
    return row?.value;
  }

  async putKmsSetting(name: string, value: string): Promise<void> {
    await this.#query('INSERT INTO kms_settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value', [name, value]);
  }

  // ---- identities (user names match case-insensitively: lower() on both sides, as the unique indexes do)

  async createAccount(a: AccountRecord): Promise<boolean> {
    const r = await this.#query('INSERT INTO iam_accounts (account_id, canonical_id, name, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [
      a.accountId,
      a.canonicalId,
      a.name,
      a.createdAt,
    ]);
    return r.rowCount === 1;
  }

  async getAccount(accountId: string): Promise<AccountRecord | undefined> {
    const [row] = await this.#rows<AccountRow>('SELECT * FROM iam_accounts WHERE account_id = $1', [accountId]);
    return row && accountFromRow(row);
  }

  async getAccountByCanonicalId(canonicalId: string): Promise<AccountRecord | undefined> {
    const [row] = await this.#rows<AccountRow>('SELECT * FROM iam_accounts WHERE canonical_id = $1', [canonicalId]);
    return row && accountFromRow(row);
  }

  async listAccounts(): Promise<AccountRecord[]> {
    return (await this.#rows<AccountRow>('SELECT * FROM iam_accounts ORDER BY account_id')).map(accountFromRow);
  }

  async createIamUser(u: IamUserRecord): Promise<boolean> {
    const r = await this.#query('INSERT INTO iam_users (account_id, user_name, user_id, path, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING', [
      u.accountId,
      u.userName,
      u.userId,
      u.path,
      u.createdAt,
    ]);
    return r.rowCount === 1;
  }

  async getIamUser(accountId: string, userName: string): Promise<IamUserRecord | undefined> {
    const [row] = await this.#rows<UserRow>('SELECT * FROM iam_users WHERE account_id = $1 AND lower(user_name) = lower($2)', [accountId, userName]);
    return row && userFromRow(row);
  }

  async listIamUsers(accountId: string): Promise<IamUserRecord[]> {
    return (await this.#rows<UserRow>('SELECT * FROM iam_users WHERE account_id = $1 ORDER BY lower(user_name)', [accountId])).map(userFromRow);
  }

  async deleteIamUser(accountId: string, userName: string, options: { cascade: boolean }): Promise<'deleted' | 'missing' | 'has-dependents'> {
    return this.#tx(async (tx): Promise<'deleted' | 'missing' | 'has-dependents'> => {
      const user = [accountId, userName];
      const match = 'account_id = $1 AND lower(user_name) = lower($2)';
      if ((await tx.query(`SELECT 1 FROM iam_users WHERE ${match} FOR UPDATE`, user)).rowCount === 0) return 'missing';
      const [keys] = await tx.rows<{ n: number }>(`SELECT count(*) AS n FROM iam_access_keys WHERE ${match}`, user);
      const [policies] = await tx.rows<{ n: number }>(`SELECT count(*) AS n FROM iam_user_policies WHERE ${match}`, user);
      if (!options.cascade && (keys?.n ?? 0) + (policies?.n ?? 0) > 0) return 'has-dependents';
      await tx.query(`DELETE FROM iam_access_keys WHERE ${match}`, user);
      await tx.query(`DELETE FROM iam_user_policies WHERE ${match}`, user);
      await tx.query(`DELETE FROM iam_users WHERE ${match}`, user);
      return 'deleted';
    });
  }

  async createAccessKey(k: AccessKeyRecord): Promise<boolean> {
    return this.#tx(async (tx) => {
      if (
        k.userName !== undefined &&
        (await tx.query('SELECT 1 FROM iam_users WHERE account_id = $1 AND lower(user_name) = lower($2) FOR SHARE', [k.accountId, k.userName])).rowCount === 0
      ) {
        return false;
      }
      const r = await tx.query(
        'INSERT INTO iam_access_keys (access_key_id, account_id, user_name, status, created_at, root_key_id, wrapped_secret) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING',
        [k.accessKeyId, k.accountId, k.userName ?? null, k.status, k.createdAt, k.rootKeyId, k.wrappedSecret],
      );
      return r.rowCount === 1;
    });
  }

  async getAccessKey(accessKeyId: string): Promise<AccessKeyRecord | undefined> {
    const [row] = await this.#rows<AccessKeyRow>('SELECT * FROM iam_access_keys WHERE access_key_id = $1', [accessKeyId]);
    return row && accessKeyFromRow(row);
  }

  async listAccessKeys(accountId: string, userName: string | undefined): Promise<AccessKeyRecord[]> {
    const rows =
      userName === undefined
        ? await this.#rows<AccessKeyRow>('SELECT * FROM iam_access_keys WHERE account_id = $1 AND user_name IS NULL ORDER BY created_at, access_key_id', [accountId])
        : await this.#rows<AccessKeyRow>('SELECT * FROM iam_access_keys WHERE account_id = $1 AND lower(user_name) = lower($2) ORDER BY created_at, access_key_id', [
            accountId,
            userName,
          ]);
    return rows.map(accessKeyFromRow);
  }

  async updateAccessKeyStatus(accessKeyId: string, status: AccessKeyStatus): Promise<boolean> {
    return (await this.#query('UPDATE iam_access_keys SET status = $1 WHERE access_key_id = $2', [status, accessKeyId])).rowCount === 1;
  }

  async deleteAccessKey(accessKeyId: string): Promise<boolean> {
    return (await this.#query('DELETE FROM iam_access_keys WHERE access_key_id = $1', [accessKeyId])).rowCount === 1;
  }

  async accessKeysNotWrappedBy(rootKeyId: string, limit: number): Promise<AccessKeyRecord[]> {
    return (await this.#rows<AccessKeyRow>('SELECT * FROM iam_access_keys WHERE root_key_id <> $1 ORDER BY access_key_id LIMIT $2', [rootKeyId, limit])).map(accessKeyFromRow);
  }

  async rewrapAccessKey(accessKeyId: string, fromRootKeyId: string, next: { rootKeyId: string; wrappedSecret: Buffer }): Promise<boolean> {
    const r = await this.#query('UPDATE iam_access_keys SET root_key_id = $1, wrapped_secret = $2 WHERE access_key_id = $3 AND root_key_id = $4', [
      next.rootKeyId,
      next.wrappedSecret,
      accessKeyId,
      fromRootKeyId,
    ]);
    return r.rowCount === 1;
  }

  async putUserPolicy(p: UserPolicyRecord): Promise<boolean> {
    return this.#tx(async (tx) => {
      if ((await tx.query('SELECT 1 FROM iam_users WHERE account_id = $1 AND lower(user_name) = lower($2) FOR SHARE', [p.accountId, p.userName])).rowCount === 0) return false;
      await tx.query(
        'INSERT INTO iam_user_policies (account_id, user_name, policy_name, document) VALUES ($1, $2, $3, $4) ON CONFLICT (account_id, lower(user_name), policy_name) DO UPDATE SET document = excluded.document',
        [p.accountId, p.userName, p.policyName, p.document],
      );
      return true;
    });
  }

  async getUserPolicy(accountId: string, userName: string, policyName: string): Promise<UserPolicyRecord | undefined> {
    const [row] = await this.#rows<PolicyRow>('SELECT * FROM iam_user_policies WHERE account_id = $1 AND lower(user_name) = lower($2) AND policy_name = $3', [
      accountId,
      userName,
      policyName,
    ]);
    return row && policyFromRow(row);
  }

  async listUserPolicies(accountId: string, userName: string): Promise<UserPolicyRecord[]> {
    return (
      await this.#rows<PolicyRow>('SELECT * FROM iam_user_policies WHERE account_id = $1 AND lower(user_name) = lower($2) ORDER BY policy_name', [accountId, userName])
    ).map(policyFromRow);
  }

  async deleteUserPolicy(accountId: string, userName: string, policyName: string): Promise<boolean> {
    const r = await this.#query('DELETE FROM iam_user_policies WHERE account_id = $1 AND lower(user_name) = lower($2) AND policy_name = $3', [accountId, userName, policyName]);
    return r.rowCount === 1;
  }
}
