/**
 * The embedded MetadataStore: SQLite through better-sqlite3, in WAL mode. An
 * acknowledged write survives power loss: every method that changed a row
 * resolves only after the WAL file is fdatasync'ed — what synchronous=FULL
 * does, but on libuv's thread pool instead of blocking the event loop, and
 * shared by every write that arrives while one sync runs (group commit; see
 * GroupSync). SQLite itself runs synchronous=NORMAL, which still syncs
 * around checkpoints. Keys are
 * stored as BLOBs so that SQLite's memcmp ordering is S3's UTF-8 byte order
 * and prefix scans are index range scans.
 */
import { chmodSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { Database as Db, Statement } from 'better-sqlite3';
import { S3Error } from '../../errors/s3-errors.js';
import type {
  AccessKeyRecord,
  AccessKeyStatus,
  AccountRecord,
  IamUserRecord,
  UserPolicyRecord,
  KmsAliasRecord,
  KmsKeyRecord,
  KmsKeyVersionRecord,
  BucketKeyRecord,
  BucketRecord,
  BucketUsage,
  KeyRange,
  ObjectEncryption,
  MetadataStore,
  ObjectRecord,
  ObjectSummary,
  PartRecord,
  UploadListRange,
  UploadRecord,
  WriteCondition,
  ObjectVersionEntry,
  VersionListRange,
  VersioningOptions,
} from '../metadata-store.js';
import { SQLITE_MIGRATIONS } from './sqlite-migrations.js';
import {
  accessKeyFromRow,
  accountFromRow,
  kmsAliasFromRow,
  kmsKeyFromRow,
  kmsVersionFromRow,
  objectFromRow,
  objectSummaryFromTuple,
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
  type KmsVersionRow,
  type ObjectDoc,
  type ObjectRow,
  type ObjectSummaryTuple,
  type PartDoc,
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
import { PathSync } from '../../util/group-sync.js';
import { retryBusy } from '../../util/sqlite-busy.js';
import { closeConnection, fileIdentity, type FileIdentity } from '../../util/sqlite-connection.js';
import { isOutOfSpace } from '../../errors/out-of-space.js';
import { isBackendUnavailable } from '../../errors/backend-unavailable.js';

export interface SqliteStoreOptions {
  /** Database file path, or ':memory:'. */
  path: string;
  /**
   * Frees emergency space on the database's filesystem (util/space-reserve.ts);
   * true if it freed some. Called when a method that frees space (FREES_SPACE)
   * fails because the disk is full, before that method is tried once more.
   */
  reclaimSpace?: () => boolean;
}

/** The object row's writes: its document and the listing's columns, from one record. */
const WRITE_OBJECT_SQL = `INSERT INTO objects (bucket, key, doc, ${OBJECT_SUMMARY_COLUMNS.join(', ')}) VALUES (?, ?, ?${', ?'.repeat(OBJECT_SUMMARY_COLUMNS.length)})
  ON CONFLICT (bucket, key) DO UPDATE SET doc = excluded.doc, ${OBJECT_SUMMARY_COLUMNS.map((c) => `${c} = excluded.${c}`).join(', ')}`;
const UPDATE_OBJECT_SQL = `UPDATE objects SET doc = ?, ${OBJECT_SUMMARY_COLUMNS.map((c) => `${c} = ?`).join(', ')} WHERE bucket = ? AND key = ?`;

/**
 * Methods that free space or finish freeing it. On a full disk each still needs
 * a few WAL pages to commit; they may use the reserve (reclaimSpace), so that a
 * full disk can be emptied through the API. Writes that add data may not.
 */
const FREES_SPACE = new Set(['deleteObject', 'deleteObjectVersion', 'abortUpload', 'garbageCollected', 'deleteBucket']);

const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');

export { prefixSuccessor } from '../metadata-rules.js';

export class SqliteMetadataStore implements MetadataStore {
  #db: Db;
  /** The file #db was opened on (see util/sqlite-connection.ts). */
  #opened: FileIdentity | undefined;
  readonly #path: string;
  readonly #stmts = new Map<string, Statement>();
  /** Makes committed transactions durable (undefined for ':memory:'). */
  readonly #walSync: PathSync | undefined;
  #totalChanges: Statement;
  /** The connection met the backend unavailable: each call tries a new one first (see #reconnect). */
  #broken = false;
  #garbageListener: (() => void) | undefined;
  /** Set by #queueGarbage, read and cleared by the method wrapper after each call. */
  #garbageQueued = false;

  readonly #reclaimSpace: (() => boolean) | undefined;

  constructor(options: SqliteStoreOptions) {
    this.#path = options.path;
    this.#db = SqliteMetadataStore.#connect(options.path, { mustExist: false });
    this.#opened = fileIdentity(options.path);
    this.#reclaimSpace = options.reclaimSpace;
    this.#totalChanges = this.#db.prepare('SELECT total_changes()').pluck();
    if (options.path !== ':memory:') {
      this.#walSync = new PathSync(`${options.path}-wal`, { directory: false });
    }
    this.#wrapMethods();
  }

  static #connect(path: string, options: { mustExist: boolean }): Db {
    const db = new Database(path, { fileMustExist: options.mustExist });
    try {
      // The database holds wrapped keys and secrets: owner-only, like the key files (its -wal and
      // -shm files are created with the database file's mode).
      if (path !== ':memory:') chmodSync(path, 0o600);
      // On a full disk this is what fails (SQLITE_IOERR_SHMSIZE: no room for the -shm file).
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      // Waits for other processes' locks happen in retryBusy, off the event loop.
      db.pragma('busy_timeout = 0');
      db.pragma('foreign_keys = ON');
    } catch (err) {
      // Not left open: the caller may free space and construct the store again.
      db.close();
      throw err;
    }
    return db;
  }

  /**
   * A connection that met the backend unavailable (EROFS, EIO, SQLITE_IOERR…) may
   * be bound for good to a filesystem that is gone: one whose volume failed and was
   * mounted again holds descriptors of the dead mount, which fail (or read a stale
   * file) for ever. So a new connection is opened by path, before every call
   * while the store is broken (opening costs far less than the request it
   * serves, and a broken store serves few). It must find the database there
   * (`fileMustExist`: an unmounted volume's empty mount point must not get a new,
   * empty database) and answer a read; until one does, the old connection stays in
   * use — its reads may still work on a read-only filesystem. True if replaced.
   */
  #reconnect(): boolean {
    if (this.#path === ':memory:') return false;
    let db: Db;
    let opened: FileIdentity | undefined;
    try {
      db = SqliteMetadataStore.#connect(this.#path, { mustExist: true });
      opened = fileIdentity(this.#path);
    } catch {
      return false;
    }
    try {
      db.prepare('SELECT count(*) FROM sqlite_master').get();
    } catch {
      db.close();
      return false;
    }
    const old = { db: this.#db, opened: this.#opened };
    this.#db = db;
    this.#opened = opened;
    this.#stmts.clear();
    this.#totalChanges = db.prepare('SELECT total_changes()').pluck();
    this.#walSync?.forget();
    this.#broken = false;
    // Not closed if it is on a mount that is gone: its close would delete the new mount's WAL.
    closeConnection(old.db, this.#path, old.opened);
    return true;
  }

  /**
   * Every public method runs its SQLite work synchronously. Wrapped here, for
   * all methods at once so that none can forget it:
   * - if the work changed a row (total_changes() moved), the returned promise
   *   waits for the WAL sync (durability; see the module comment);
   * - if it failed with SQLITE_BUSY (another process holds the write lock), it
   *   is run again after yielding to the event loop (util/sqlite-busy.ts);
   * - if it frees space (FREES_SPACE) and failed because the disk is full, it is
   *   run again once the space reserve is released (a failed transaction was
   *   rolled back: running it again is safe);
   * - if it met the backend unavailable, it is run once more on a new connection
   *   when one can be made (#reconnect), for the same reason.
   */
  #wrapMethods(): void {
    const proto = SqliteMetadataStore.prototype as unknown as Record<string, unknown>;
    const self = this as unknown as Record<string, unknown>;
    for (const name of Object.getOwnPropertyNames(SqliteMetadataStore.prototype)) {
      const method = proto[name];
      if (name === 'constructor' || name === 'close' || typeof method !== 'function') continue;
      // Methods that are not async (walSyncs) are left as they are.
      if ((method as { constructor: { name: string } }).constructor.name !== 'AsyncFunction') continue;
      const once = async (args: unknown[]): Promise<{ value: unknown; changed: boolean; garbage: boolean }> => {
        const before = this.#totalChanges.get() as number;
        this.#garbageQueued = false;
        const result = (method as (...a: unknown[]) => Promise<unknown>).apply(this, args);
        const changed = (this.#totalChanges.get() as number) !== before;
        const garbage = this.#garbageQueued;
        this.#garbageQueued = false;
        return { value: await result, changed, garbage };
      };
      const attempt = async (args: unknown[]): Promise<{ value: unknown; changed: boolean; garbage: boolean }> => {
        if (this.#broken) this.#reconnect();
        try {
          return await once(args);
        } catch (err) {
          if (!isBackendUnavailable(err)) throw err;
          this.#broken = true;
          if (!this.#reconnect()) throw err;
        }
        try {
          return await once(args);
        } catch (err) {
          if (isBackendUnavailable(err)) this.#broken = true;
          throw err;
        }
      };
      const reclaim = FREES_SPACE.has(name) ? this.#reclaimSpace : undefined;
      const run = reclaim
        ? async (args: unknown[]) => {
            try {
              return await retryBusy(() => attempt(args));
            } catch (err) {
              if (!isOutOfSpace(err) || !reclaim()) throw err;
            }
            return retryBusy(() => attempt(args));
          }
        : (args: unknown[]) => retryBusy(() => attempt(args));
      self[name] = async (...args: unknown[]): Promise<unknown> => {
        const { value, changed, garbage } = await run(args);
        if (changed && this.#walSync) {
          try {
            await this.#walSync.sync();
          } catch (err) {
            // The connection may write to a filesystem that is gone: the next call makes another.
            if (isBackendUnavailable(err)) this.#broken = true;
            throw err;
          }
        }
        if (garbage) this.#garbageListener?.();
        return value;
      };
    }
  }

  onGarbage(listener: () => void): void {
    this.#garbageListener = listener;
  }

  /** WAL syncs made so far (several commits may share one). */
  walSyncs(): number {
    return this.#walSync?.syncs ?? 0;
  }

  #stmt(sql: string): Statement {
    let s = this.#stmts.get(sql);
    if (!s) {
      s = this.#db.prepare(sql);
      this.#stmts.set(sql, s);
    }
    return s;
  }

  async migrate(): Promise<void> {
    this.#db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
    const row = this.#db.prepare('SELECT max(version) AS v FROM schema_version').get() as { v: number | null };
    const current = row.v ?? 0;
    for (const [i, sql] of SQLITE_MIGRATIONS.entries()) {
      const version = i + 1;
      if (version <= current) continue;
      this.#db.transaction(() => {
        this.#db.exec(sql);
        this.#db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(version);
      }).immediate();
    }
  }

  async close(): Promise<void> {
    await this.#walSync?.close();
    closeConnection(this.#db, this.#path, this.#opened);
  }

  // ---- buckets

  async createBucket(b: BucketRecord, options: { configs?: Readonly<Record<string, string>> } = {}): Promise<boolean> {
    return this.#db
      .transaction((): boolean => {
        const r = this.#stmt(
          'INSERT INTO buckets (name, created_at, owner_id, region) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING',
        ).run(b.name, b.createdAt, b.ownerId, b.region);
        if (r.changes !== 1) return false;
        // A name reused after DeleteBucket starts clean (deleteBucket removed the old documents).
        for (const [name, doc] of Object.entries(options.configs ?? {})) {
          this.#stmt('INSERT INTO bucket_configs (bucket, name, doc) VALUES (?, ?, ?) ON CONFLICT (bucket, name) DO UPDATE SET doc = excluded.doc').run(b.name, name, doc);
        }
        return true;
      })
      .immediate();
  }

  async getBucket(name: string): Promise<BucketRecord | undefined> {
    const row = this.#stmt('SELECT name, created_at, owner_id, region FROM buckets WHERE name = ?').get(name) as
      | { name: string; created_at: number; owner_id: string; region: string }
      | undefined;
    return row && { name: row.name, createdAt: row.created_at, ownerId: row.owner_id, region: row.region };
  }

  async listBuckets(): Promise<BucketRecord[]> {
    const rows = this.#stmt('SELECT name, created_at, owner_id, region FROM buckets ORDER BY name').all() as {
      name: string;
      created_at: number;
      owner_id: string;
      region: string;
    }[];
    return rows.map((r) => ({ name: r.name, createdAt: r.created_at, ownerId: r.owner_id, region: r.region }));
  }

  async deleteBucket(name: string): Promise<'deleted' | 'not-empty' | 'missing'> {
    return this.#db
      .transaction((): 'deleted' | 'not-empty' | 'missing' => {
        if (!this.#stmt('SELECT 1 FROM buckets WHERE name = ?').get(name)) return 'missing';
        if (this.#stmt('SELECT 1 FROM objects WHERE bucket = ? LIMIT 1').get(name)) return 'not-empty';
        // S3: a bucket with versions or delete markers left is not empty (BucketNotEmpty).
        if (this.#stmt('SELECT 1 FROM object_versions WHERE bucket = ? LIMIT 1').get(name)) return 'not-empty';
        if (this.#stmt('SELECT 1 FROM uploads WHERE bucket = ? LIMIT 1').get(name)) return 'not-empty';
        this.#stmt('DELETE FROM buckets WHERE name = ?').run(name);
        this.#stmt('DELETE FROM bucket_configs WHERE bucket = ?').run(name);
        this.#stmt('DELETE FROM bucket_keys WHERE bucket = ?').run(name);
        return 'deleted';
      })
      .immediate();
  }

  async getBucketConfig(bucket: string, name: string): Promise<string | undefined> {
    const row = this.#stmt('SELECT doc FROM bucket_configs WHERE bucket = ? AND name = ?').get(bucket, name) as { doc: string } | undefined;
    return row?.doc;
  }

  async getBucketConfigs(bucket: string): Promise<Map<string, string>> {
    const rows = this.#stmt('SELECT name, doc FROM bucket_configs WHERE bucket = ?').all(bucket) as { name: string; doc: string }[];
    return new Map(rows.map((r) => [r.name, r.doc]));
  }

  async putBucketConfig(bucket: string, name: string, doc: string): Promise<boolean> {
    return this.#db
      .transaction((): boolean => {
        if (!this.#stmt('SELECT 1 FROM buckets WHERE name = ?').get(bucket)) return false;
        this.#stmt('INSERT INTO bucket_configs (bucket, name, doc) VALUES (?, ?, ?) ON CONFLICT (bucket, name) DO UPDATE SET doc = excluded.doc').run(bucket, name, doc);
        return true;
      })
      .immediate();
  }

  async deleteBucketConfig(bucket: string, name: string): Promise<void> {
    this.#stmt('DELETE FROM bucket_configs WHERE bucket = ? AND name = ?').run(bucket, name);
  }

  async claimBucketKey(k: Omit<BucketKeyRecord, 'wrapped'>): Promise<boolean> {
    const r = this.#stmt("INSERT INTO bucket_keys (id, bucket, kms_key_arn, wrapped, created_at) VALUES (?, ?, ?, '', ?) ON CONFLICT (id) DO NOTHING").run(
      k.id,
      k.bucket,
      k.kmsKeyArn,
      k.createdAt,
    );
    return r.changes === 1;
  }

  async fillBucketKey(id: string, wrapped: string): Promise<boolean> {
    return this.#stmt("UPDATE bucket_keys SET wrapped = ? WHERE id = ? AND wrapped = ''").run(wrapped, id).changes === 1;
  }

  async releaseBucketKey(id: string): Promise<void> {
    this.#stmt("DELETE FROM bucket_keys WHERE id = ? AND wrapped = ''").run(id);
  }

  #rowToBucketKey(row: { id: string; bucket: string; kms_key_arn: string; wrapped: string; created_at: number } | undefined): BucketKeyRecord | undefined {
    return row && { id: row.id, bucket: row.bucket, kmsKeyArn: row.kms_key_arn, wrapped: row.wrapped, createdAt: row.created_at };
  }

  async getBucketKey(id: string): Promise<BucketKeyRecord | undefined> {
    return this.#rowToBucketKey(this.#stmt('SELECT * FROM bucket_keys WHERE id = ?').get(id) as never);
  }

  // ---- objects

  #getObjectSync(bucket: string, key: string): ObjectRecord | undefined {
    const row = this.#stmt('SELECT bucket, key, doc FROM objects WHERE bucket = ? AND key = ?').get(bucket, utf8(key)) as
      | ObjectRow
      | undefined;
    return row && objectFromRow(row);
  }

  /** Queues blobs for the collector; `atOnce` (metadata-rules.ts collectableAtOnce) makes them collectable without the grace period. */
  #queueGarbage(blobIds: Iterable<string>, atOnce = false): void {
    const queuedAt = atOnce ? QUEUED_AT_ONCE : Date.now();
    const ins = this.#stmt('INSERT INTO garbage (blob_id, queued_at) VALUES (?, ?) ON CONFLICT (blob_id) DO NOTHING');
    for (const id of blobIds) if (ins.run(id, queuedAt).changes > 0) this.#garbageQueued = true;
  }

  /** The key's newest row in `object_versions` (a non-current version or a delete marker). */
  #newestOlderSync(bucket: string, key: string): ObjectRecord | undefined {
    const row = this.#stmt('SELECT bucket, key, doc FROM object_versions WHERE bucket = ? AND key = ? ORDER BY seq DESC LIMIT 1').get(bucket, utf8(key)) as
      | ObjectRow
      | undefined;
    return row && objectFromRow(row);
  }

  #olderVersionSync(bucket: string, key: string, versionId: string): ObjectRecord | undefined {
    const row = this.#stmt('SELECT bucket, key, doc FROM object_versions WHERE bucket = ? AND key = ? AND version_id = ?').get(bucket, utf8(key), versionId) as
      | ObjectRow
      | undefined;
    return row && objectFromRow(row);
  }

  #insertOlderSync(record: ObjectRecord): void {
    const c = versionColumns(record);
    this.#stmt('INSERT INTO object_versions (bucket, key, seq, version_id, doc) VALUES (?, ?, ?, ?, ?)').run(record.bucket, utf8(record.key), c.seq, c.versionId, c.doc);
  }

  #deleteOlderSync(record: ObjectRecord): void {
    this.#stmt('DELETE FROM object_versions WHERE bucket = ? AND key = ? AND version_id = ?').run(record.bucket, utf8(record.key), versionIdOf(record));
  }

  /** Writes the key's current object: its document and the listing's columns (metadata-rows.ts). */
  #writeCurrentSync(object: ObjectRecord): void {
    const { bucket, key, ...doc } = object;
    this.#stmt(WRITE_OBJECT_SQL).run(bucket, utf8(key), JSON.stringify(doc), ...objectSummaryValues(doc));
  }

  /** Rewrites the current object at its key (read in the same transaction). */
  #updateCurrentSync(bucket: string, key: string, doc: ObjectDoc): void {
    this.#stmt(UPDATE_OBJECT_SQL).run(JSON.stringify(doc), ...objectSummaryValues(doc), bucket, utf8(key));
  }

  /** With no current object left, the newest other version becomes current unless it is a delete marker. */
  #promoteSync(bucket: string, key: string): void {
    if (this.#getObjectSync(bucket, key)) return;
    const newest = this.#newestOlderSync(bucket, key);
    if (!newest || newest.deleteMarker) return;
    this.#deleteOlderSync(newest);
    this.#writeCurrentSync(newest);
  }

  /**
   * Makes room for a new latest version of the key under `versioning` and returns its seq:
   * the current object is kept as an older version, except a null version that Suspended
   * replaces (queued, as is a null version among the older ones). Unversioned: the current
   * object is replaced by the caller's write (or deleted) and queued.
   */
  #retireLatestSync(bucket: string, key: string, existing: ObjectRecord | undefined, versioning: VersioningOptions['versioning'], keep: readonly string[]): number {
    const newestOlder = versioning ? this.#newestOlderSync(bucket, key) : undefined;
    const seq = nextVersionSeq(Math.max(existing ? versionSeqOf(existing) : 0, newestOlder ? versionSeqOf(newestOlder) : 0));
    const kept = new Set(keep);
    if (existing) {
      if (versioning === 'Enabled' || (versioning === 'Suspended' && existing.versionId !== undefined)) this.#insertOlderSync(existing);
      else this.#queueGarbage(existing.parts.map((p) => p.blobId).filter((id) => !kept.has(id)), collectableAtOnce(existing));
      this.#stmt('DELETE FROM objects WHERE bucket = ? AND key = ?').run(bucket, utf8(key));
    }
    if (versioning === 'Suspended') {
      const oldNull = this.#olderVersionSync(bucket, key, NULL_VERSION_ID);
      if (oldNull) {
        this.#deleteOlderSync(oldNull);
        this.#queueGarbage(oldNull.parts.map((p) => p.blobId).filter((id) => !kept.has(id)), collectableAtOnce(oldNull));
      }
    }
    return seq;
  }

  /** Writes the object as the key's new current version; queues what it replaces for good. */
  #putObjectSync(object: ObjectRecord, condition: WriteCondition | undefined, versioning: VersioningOptions['versioning']): ObjectRecord {
    const existing = this.#getObjectSync(object.bucket, object.key);
    checkWriteCondition(existing, condition);
    if (!versioning) {
      // A bucket that never had versioning: one object per key, replaced in place.
      this.#writeCurrentSync(object);
      if (existing) this.#queueGarbage(blobsFreedByReplace(existing, object), collectableAtOnce(existing));
      return object;
    }
    const seq = this.#retireLatestSync(object.bucket, object.key, existing, versioning, object.parts.map((p) => p.blobId));
    const stored = stampVersion(object, seq, versioning === 'Enabled');
    this.#writeCurrentSync(stored);
    return stored;
  }

  async getObject(bucket: string, key: string): Promise<ObjectRecord | undefined> {
    return this.#getObjectSync(bucket, key);
  }

  async putObject(object: ObjectRecord, condition?: WriteCondition, options: VersioningOptions = {}): Promise<ObjectRecord> {
    return this.#db.transaction(() => {
      if (!this.#stmt('SELECT 1 FROM buckets WHERE name = ?').get(object.bucket)) throw new S3Error('NoSuchBucket');
      return this.#putObjectSync(object, condition, options.versioning);
    }).immediate();
  }

  async deleteObject(bucket: string, key: string, options: VersioningOptions & { markerOwnerId?: string } = {}): Promise<ObjectRecord | undefined> {
    return this.#db
      .transaction(() => {
        const existing = this.#getObjectSync(bucket, key);
        if (!options.versioning) {
          if (!existing) return undefined;
          this.#stmt('DELETE FROM objects WHERE bucket = ? AND key = ?').run(bucket, utf8(key));
          this.#queueGarbage(existing.parts.map((p) => p.blobId), collectableAtOnce(existing));
          return existing;
        }
        // A delete marker is a new row: never one in a bucket a DeleteBucket just removed.
        if (!this.#stmt('SELECT 1 FROM buckets WHERE name = ?').get(bucket)) throw new S3Error('NoSuchBucket');
        const seq = this.#retireLatestSync(bucket, key, existing, options.versioning, []);
        const marker = deleteMarkerRecord(bucket, key, options.markerOwnerId ?? '', {
          ...(options.versioning === 'Enabled' ? { versionId: newVersionId(seq) } : {}),
          versionSeq: seq,
        });
        this.#insertOlderSync(marker);
        return marker;
      })
      .immediate();
  }

  #versionSync(bucket: string, key: string, versionId: string): { record: ObjectRecord; current: boolean } | undefined {
    const current = this.#getObjectSync(bucket, key);
    if (current && versionIdOf(current) === versionId) return { record: current, current: true };
    const older = this.#olderVersionSync(bucket, key, versionId);
    return older && { record: older, current: false };
  }

  async getObjectVersion(bucket: string, key: string, versionId: string): Promise<ObjectRecord | undefined> {
    return this.#db.transaction(() => this.#versionSync(bucket, key, versionId)?.record)();
  }

  async getLatestVersion(bucket: string, key: string): Promise<ObjectRecord | undefined> {
    return this.#db.transaction(() => this.#getObjectSync(bucket, key) ?? this.#newestOlderSync(bucket, key))();
  }

  async deleteObjectVersion(bucket: string, key: string, versionId: string, options: { check?: (version: ObjectRecord) => void } = {}): Promise<ObjectRecord | undefined> {
    return this.#db
      .transaction(() => {
        const found = this.#versionSync(bucket, key, versionId);
        if (!found) return undefined;
        options.check?.(found.record);
        if (found.current) this.#stmt('DELETE FROM objects WHERE bucket = ? AND key = ?').run(bucket, utf8(key));
        else this.#deleteOlderSync(found.record);
        this.#queueGarbage(found.record.parts.map((p) => p.blobId), collectableAtOnce(found.record));
        this.#promoteSync(bucket, key);
        return found.record;
      })
      .immediate();
  }

  async updateObjectVersion(
    bucket: string,
    key: string,
    versionId: string | undefined,
    patch: (version: ObjectRecord) => ObjectRecord | undefined,
  ): Promise<'updated' | 'unchanged' | 'missing'> {
    return this.#db
      .transaction((): 'updated' | 'unchanged' | 'missing' => {
        const found = versionId === undefined ? ((o) => o && { record: o, current: true })(this.#getObjectSync(bucket, key)) : this.#versionSync(bucket, key, versionId);
        if (!found) return 'missing';
        const next = patch(found.record);
        if (!next) return 'unchanged';
        const { bucket: _b, key: _k, ...doc } = next;
        if (found.current) this.#updateCurrentSync(bucket, key, doc);
        else this.#stmt('UPDATE object_versions SET doc = ? WHERE bucket = ? AND key = ? AND version_id = ?').run(JSON.stringify(doc), bucket, utf8(key), versionIdOf(found.record));
        return 'updated';
      })
      .immediate();
  }

  async listObjectVersions(bucket: string, range: VersionListRange): Promise<ObjectVersionEntry[]> {
    return this.#db.transaction(() => {
      const continuing = range.start && !range.start.inclusive && range.afterVersionId !== undefined ? range.start.key : undefined;
      const older: ObjectRecord[] = [];
      let markerSeq: number | undefined;
      if (continuing !== undefined) {
        // The rest of the marker key: its versions older than the marker version.
        let below = seqOfVersionId(range.afterVersionId!);
        if (below === undefined) {
          const marker = this.#versionSync(bucket, continuing, NULL_VERSION_ID);
          below = marker ? versionSeqOf(marker.record) : -1;
        }
        markerSeq = below;
        const rows = this.#stmt('SELECT bucket, key, doc FROM object_versions WHERE bucket = ? AND key = ? AND seq < ? ORDER BY seq DESC LIMIT ?').all(
          bucket,
          utf8(continuing),
          below,
          range.limit,
        ) as ObjectRow[];
        older.push(...rows.map((r) => objectFromRow(r)));
      }
      const { sql, params } = this.#rangeSql('key', range.prefix, range.start);
      if (older.length < range.limit) {
        const rows = this.#stmt(`SELECT bucket, key, doc FROM object_versions WHERE bucket = ? AND ${sql} ORDER BY key, seq DESC LIMIT ?`).all(
          bucket,
          ...params,
          range.limit - older.length,
        ) as ObjectRow[];
        older.push(...rows.map((r) => objectFromRow(r)));
      }
      const current: ObjectRecord[] = [];
      if (continuing !== undefined) {
        // The marker key's current object, when it is older than the marker (the marker version was deleted meanwhile).
        const c = this.#getObjectSync(bucket, continuing);
        if (c && versionSeqOf(c) < markerSeq!) current.push(c);
      }
      current.push(
        ...(this.#stmt(`SELECT bucket, key, doc FROM objects WHERE bucket = ? AND ${sql} ORDER BY key LIMIT ?`).all(bucket, ...params, range.limit) as ObjectRow[]).map((r) =>
          objectFromRow(r),
        ),
      );
      return mergeVersionPage(current, older, range.limit, continuing);
    })();
  }

  async putObjectTags(bucket: string, key: string, tags: [string, string][]): Promise<boolean> {
    return this.#db
      .transaction(() => {
        const existing = this.#getObjectSync(bucket, key);
        if (!existing) return false;
        const { bucket: _b, key: _k, ...doc } = existing;
        doc.tags = tags;
        this.#updateCurrentSync(bucket, key, doc);
        return true;
      })
      .immediate();
  }

  async setObjectEncryption(bucket: string, key: string, expected: ObjectEncryption, next: ObjectEncryption): Promise<boolean> {
    return this.#db
      .transaction(() => {
        const existing = this.#getObjectSync(bucket, key);
        if (!existing || JSON.stringify(existing.encryption) !== JSON.stringify(expected)) return false;
        const { bucket: _b, key: _k, ...doc } = existing;
        doc.encryption = next;
        this.#updateCurrentSync(bucket, key, doc);
        return true;
      })
      .immediate();
  }

  /** Lower and upper bounds of a prefix + start scan, as SQL and parameters. */
  #rangeSql(column: string, prefix: string, start: { key: string; inclusive: boolean } | undefined): { sql: string; params: Buffer[] } {
    const { lower, upper } = keyScanBounds(prefix, start);
    const sql = [`${column} ${lower.inclusive ? '>=' : '>'} ?`];
    const params = [lower.bound];
    if (upper) {
      sql.push(`${column} < ?`);
      params.push(upper);
    }
    return { sql: sql.join(' AND '), params };
  }

  async listObjects(bucket: string, range: KeyRange): Promise<ObjectSummary[]> {
    const { sql, params } = this.#rangeSql('key', range.prefix, range.start);
    // Rows as arrays, and the key as text (its bytes are the UTF-8 the key was stored as): a
    // page of 1000 then costs no per-row objects or Buffers, a third of the time (bench/RESULTS.md).
    const rows = this.#stmt(`SELECT CAST(key AS TEXT), ${OBJECT_SUMMARY_COLUMNS.join(', ')} FROM objects WHERE bucket = ? AND ${sql} ORDER BY key LIMIT ?`)
      .raw(true)
      .all(bucket, ...params, range.limit) as ObjectSummaryTuple[];
    return rows.map(objectSummaryFromTuple);
  }

  // ---- multipart

  async createUpload(upload: UploadRecord): Promise<void> {
    const { uploadId, bucket, key, initiated, ...doc } = upload;
    this.#db.transaction(() => {
      if (!this.#stmt('SELECT 1 FROM buckets WHERE name = ?').get(bucket)) throw new S3Error('NoSuchBucket');
      this.#stmt('INSERT INTO uploads (upload_id, bucket, key, initiated, doc) VALUES (?, ?, ?, ?, ?)').run(
        uploadId,
        bucket,
        utf8(key),
        initiated,
        JSON.stringify(doc),
      );
    }).immediate();
  }

  async getUpload(uploadId: string): Promise<UploadRecord | undefined> {
    const row = this.#stmt('SELECT upload_id, bucket, key, initiated, doc FROM uploads WHERE upload_id = ?').get(uploadId) as
      | UploadRow
      | undefined;
    return row && uploadFromRow(row);
  }

  async putPart(part: PartRecord): Promise<void> {
    const { uploadId, partNumber, ...doc } = part;
    this.#db.transaction(() => {
      if (!this.#stmt('SELECT 1 FROM uploads WHERE upload_id = ?').get(uploadId)) throw new S3Error('NoSuchUpload');
      const old = this.#stmt('SELECT upload_id, part_number, doc FROM parts WHERE upload_id = ? AND part_number = ?').get(
        uploadId,
        partNumber,
      ) as PartRow | undefined;
      this.#stmt(
        'INSERT INTO parts (upload_id, part_number, doc) VALUES (?, ?, ?) ON CONFLICT (upload_id, part_number) DO UPDATE SET doc = excluded.doc',
      ).run(uploadId, partNumber, JSON.stringify(doc));
      if (old) {
        const oldPart = partFromRow(old);
        if (oldPart.blobId !== part.blobId) this.#queueGarbage([oldPart.blobId]);
      }
    }).immediate();
  }

  async listParts(uploadId: string, after: number, limit: number): Promise<PartRecord[]> {
    const rows = this.#stmt(
      'SELECT upload_id, part_number, doc FROM parts WHERE upload_id = ? AND part_number > ? ORDER BY part_number LIMIT ?',
    ).all(uploadId, after, limit) as PartRow[];
    return rows.map((r) => partFromRow(r));
  }

  async listUploads(bucket: string, range: UploadListRange): Promise<UploadRecord[]> {
    const { sql, params } = this.#rangeSql('key', range.prefix, range.start);
    const where = [sql];
    const all: unknown[] = [bucket, ...params];
    if (range.keyMarker !== undefined) {
      // S3: keys after key-marker, plus uploads of key-marker itself after upload-id-marker.
      if (range.uploadIdMarker !== undefined) {
        where.push('(key > ? OR (key = ? AND upload_id > ?))');
        all.push(utf8(range.keyMarker), utf8(range.keyMarker), range.uploadIdMarker);
      } else {
        where.push('key > ?');
        all.push(utf8(range.keyMarker));
      }
    }
    // Upload ids start with their creation time, so id order is initiation order within a key.
    const rows = this.#stmt(
      `SELECT upload_id, bucket, key, initiated, doc FROM uploads WHERE bucket = ? AND ${where.join(' AND ')} ORDER BY key, upload_id LIMIT ?`,
    ).all(...all, range.limit) as UploadRow[];
    return rows.map((r) => uploadFromRow(r));
  }

  #removeUploadSync(uploadId: string, keepBlobIds: Set<string>): boolean {
    const parts = this.#stmt('SELECT upload_id, part_number, doc FROM parts WHERE upload_id = ?').all(uploadId) as PartRow[];
    const r = this.#stmt('DELETE FROM uploads WHERE upload_id = ?').run(uploadId);
    if (r.changes === 0) return false;
    this.#stmt('DELETE FROM parts WHERE upload_id = ?').run(uploadId);
    this.#queueGarbage(parts.map((p) => partFromRow(p).blobId).filter((id) => !keepBlobIds.has(id)));
    return true;
  }

  async completeUpload(uploadId: string, object: ObjectRecord, condition?: WriteCondition, options: VersioningOptions = {}): Promise<ObjectRecord> {
    return this.#db.transaction(() => {
      if (!this.#stmt('SELECT 1 FROM uploads WHERE upload_id = ?').get(uploadId)) throw new S3Error('NoSuchUpload');
      // The condition is checked before anything changes, so a failed Complete leaves the upload intact.
      checkWriteCondition(this.#getObjectSync(object.bucket, object.key), condition);
      this.#removeUploadSync(uploadId, new Set(object.parts.map((p) => p.blobId)));
      return this.#putObjectSync(object, undefined, options.versioning);
    }).immediate();
  }

  async abortUpload(uploadId: string): Promise<boolean> {
    return this.#db.transaction(() => this.#removeUploadSync(uploadId, new Set())).immediate();
  }

  async staleUploads(before: number, limit: number): Promise<UploadRecord[]> {
    const rows = this.#stmt(
      'SELECT upload_id, bucket, key, initiated, doc FROM uploads WHERE initiated < ? ORDER BY initiated LIMIT ?',
    ).all(before, limit) as UploadRow[];
    return rows.map((r) => uploadFromRow(r));
  }

  // ---- garbage

  async takeGarbage(limit: number, options: { minAgeMs?: number } = {}): Promise<string[]> {
    // Every process shares one machine, so one clock: queued_at and the cutoff agree.
    const before = Date.now() - (options.minAgeMs ?? 0);
    const rows = this.#stmt('SELECT blob_id FROM garbage WHERE queued_at <= ? ORDER BY queued_at LIMIT ?').all(before, limit) as { blob_id: string }[];
    // A row can be committed but not yet durable (this process's or another's commit
    // still waiting for its WAL sync): a sync that starts now covers it.
    if (rows.length > 0) await this.#walSync?.sync();
    return rows.map((r) => r.blob_id);
  }

  async deferGarbage(blobIds: readonly string[]): Promise<void> {
    if (blobIds.length === 0) return;
    const now = Date.now();
    const defer = this.#stmt('UPDATE garbage SET queued_at = ? WHERE blob_id = ? AND queued_at < ?');
    this.#db.transaction(() => {
      for (const id of blobIds) defer.run(now, id, now);
    }).immediate();
  }

  async garbageCollected(blobIds: string[]): Promise<void> {
    const del = this.#stmt('DELETE FROM garbage WHERE blob_id = ?');
    this.#db.transaction(() => {
      for (const id of blobIds) del.run(id);
    }).immediate();
  }

  async bucketUsage(): Promise<BucketUsage[]> {
    // Kept by the triggers of migration 7: one row per bucket, never a count over the objects.
    const rows = this.#stmt(
      'SELECT b.name AS bucket, coalesce(u.objects, 0) AS objects, coalesce(u.bytes, 0) AS bytes FROM buckets b LEFT JOIN bucket_usage u ON u.bucket = b.name ORDER BY b.name',
    ).all() as BucketUsage[];
    return rows;
  }

  async garbageQueueLength(): Promise<number> {
    return (this.#stmt('SELECT count(*) AS n FROM garbage').get() as { n: number }).n;
  }

  async referencedBlobIds(blobIds: string[]): Promise<Set<string>> {
    const wanted = new Set(blobIds);
    const found = new Set<string>();
    if (wanted.size === 0) return found;
    // Crash recovery only: a full scan is acceptable here, never on a request path.
    for (const row of this.#stmt('SELECT doc FROM objects').iterate() as Iterable<{ doc: string }>) {
      for (const p of (JSON.parse(row.doc) as ObjectDoc).parts) if (wanted.has(p.blobId)) found.add(p.blobId);
    }
    for (const row of this.#stmt('SELECT doc FROM object_versions').iterate() as Iterable<{ doc: string }>) {
      for (const p of (JSON.parse(row.doc) as ObjectDoc).parts) if (wanted.has(p.blobId)) found.add(p.blobId);
    }
    for (const row of this.#stmt('SELECT doc FROM parts').iterate() as Iterable<{ doc: string }>) {
      const id = (JSON.parse(row.doc) as PartDoc).blobId;
      if (wanted.has(id)) found.add(id);
    }
    return found;
  }

  // ---- the built-in KMS

  #kmsKeyColumns(key: KmsKeyRecord): { deletion: number | null; rotation: number | null; doc: string } {
    const schedule = kmsKeySchedule(key);
    return { deletion: schedule.deletionDate, rotation: schedule.nextRotationDate, doc: kmsKeyDoc(key) };
  }

  #insertKmsVersion(v: KmsKeyVersionRecord): void {
    this.#stmt('INSERT INTO kms_key_versions (key_id, version, created_at, rotation_type, root_key_id, wrapped) VALUES (?, ?, ?, ?, ?, ?)').run(
      v.keyId,
      v.version,
      v.createdAt,
      v.rotationType,
      v.rootKeyId,
      v.wrappedMaterial,
    );
  }

  async createKmsKey(key: KmsKeyRecord, version: KmsKeyVersionRecord, alias?: KmsAliasRecord): Promise<boolean> {
    return this.#db
      .transaction(() => {
        if (alias && this.#stmt('SELECT 1 FROM kms_aliases WHERE alias_name = ?').get(alias.aliasName)) return false;
        const c = this.#kmsKeyColumns(key);
        this.#stmt('INSERT INTO kms_keys (key_id, revision, deletion_date, next_rotation_date, doc) VALUES (?, ?, ?, ?, ?)').run(
          key.keyId,
          key.revision,
          c.deletion,
          c.rotation,
          c.doc,
        );
        this.#insertKmsVersion(version);
        if (alias) {
          this.#stmt('INSERT INTO kms_aliases (alias_name, key_id, created_at, updated_at) VALUES (?, ?, ?, ?)').run(
            alias.aliasName,
            alias.keyId,
            alias.createdAt,
            alias.updatedAt,
          );
        }
        return true;
      })
      .immediate();
  }

  async getKmsKey(keyId: string): Promise<KmsKeyRecord | undefined> {
    const row = this.#stmt('SELECT key_id, revision, doc FROM kms_keys WHERE key_id = ?').get(keyId) as
      | { key_id: string; revision: number; doc: string }
      | undefined;
    return row && kmsKeyFromRow(row);
  }

  async listKmsKeys(afterKeyId: string | undefined, limit: number): Promise<KmsKeyRecord[]> {
    const rows = this.#stmt('SELECT key_id, revision, doc FROM kms_keys WHERE key_id > ? ORDER BY key_id LIMIT ?').all(afterKeyId ?? '', limit) as {
      key_id: string;
      revision: number;
      doc: string;
    }[];
    return rows.map((r) => kmsKeyFromRow(r));
  }

  async updateKmsKey(key: KmsKeyRecord, newVersion?: KmsKeyVersionRecord): Promise<boolean> {
    return this.#db
      .transaction(() => {
        const c = this.#kmsKeyColumns(key);
        const r = this.#stmt(
          'UPDATE kms_keys SET revision = revision + 1, deletion_date = ?, next_rotation_date = ?, doc = ? WHERE key_id = ? AND revision = ?',
        ).run(c.deletion, c.rotation, c.doc, key.keyId, key.revision);
        if (r.changes !== 1) return false;
        if (newVersion) this.#insertKmsVersion(newVersion);
        return true;
      })
      .immediate();
  }

  async getKmsKeyVersion(keyId: string, version: number): Promise<KmsKeyVersionRecord | undefined> {
    const row = this.#stmt(
      'SELECT key_id, version, created_at, rotation_type, root_key_id, wrapped FROM kms_key_versions WHERE key_id = ? AND version = ?',
    ).get(keyId, version) as KmsVersionRow | undefined;
    return row && kmsVersionFromRow(row);
  }

  async listKmsKeyVersions(keyId: string): Promise<KmsKeyVersionRecord[]> {
    const rows = this.#stmt(
      'SELECT key_id, version, created_at, rotation_type, root_key_id, wrapped FROM kms_key_versions WHERE key_id = ? ORDER BY version',
    ).all(keyId) as KmsVersionRow[];
    return rows.map((r) => kmsVersionFromRow(r));
  }

  async destroyKmsKey(keyId: string): Promise<boolean> {
    // secure_delete makes SQLite overwrite the freed cells with zeros instead of leaving the
    // wrapped material in free pages; the checkpoint then drops the old page images from the WAL.
    this.#db.pragma('secure_delete = ON');
    let destroyed: boolean;
    try {
      destroyed = this.#db
        .transaction(() => {
          if (this.#stmt('DELETE FROM kms_keys WHERE key_id = ?').run(keyId).changes === 0) return false;
          this.#stmt('UPDATE kms_key_versions SET wrapped = zeroblob(length(wrapped)) WHERE key_id = ?').run(keyId);
          this.#stmt('DELETE FROM kms_key_versions WHERE key_id = ?').run(keyId);
          this.#stmt('DELETE FROM kms_aliases WHERE key_id = ?').run(keyId);
          return true;
        })
        .immediate();
    } finally {
      this.#db.pragma('secure_delete = OFF');
    }
    if (destroyed) this.#db.pragma('wal_checkpoint(TRUNCATE)');
    return destroyed;
  }

  async kmsKeysDueForDeletion(now: number, limit: number): Promise<string[]> {
    const rows = this.#stmt('SELECT key_id FROM kms_keys WHERE deletion_date IS NOT NULL AND deletion_date <= ? ORDER BY deletion_date LIMIT ?').all(
      now,
      limit,
    ) as { key_id: string }[];
    return rows.map((r) => r.key_id);
  }

  async kmsKeysDueForRotation(now: number, limit: number): Promise<string[]> {
    const rows = this.#stmt(
      'SELECT key_id FROM kms_keys WHERE next_rotation_date IS NOT NULL AND next_rotation_date <= ? ORDER BY next_rotation_date LIMIT ?',
    ).all(now, limit) as { key_id: string }[];
    return rows.map((r) => r.key_id);
  }

  async createKmsAlias(alias: KmsAliasRecord): Promise<'created' | 'exists' | 'no-key'> {
    return this.#db
      .transaction((): 'created' | 'exists' | 'no-key' => {
        if (this.#stmt('SELECT 1 FROM kms_aliases WHERE alias_name = ?').get(alias.aliasName)) return 'exists';
        if (!this.#stmt('SELECT 1 FROM kms_keys WHERE key_id = ?').get(alias.keyId)) return 'no-key';
        this.#stmt('INSERT INTO kms_aliases (alias_name, key_id, created_at, updated_at) VALUES (?, ?, ?, ?)').run(
          alias.aliasName,
          alias.keyId,
          alias.createdAt,
          alias.updatedAt,
        );
        return 'created';
      })
      .immediate();
  }

  async getKmsAlias(aliasName: string): Promise<KmsAliasRecord | undefined> {
    const row = this.#stmt('SELECT alias_name, key_id, created_at, updated_at FROM kms_aliases WHERE alias_name = ?').get(aliasName) as
      | KmsAliasRow
      | undefined;
    return row && kmsAliasFromRow(row);
  }

  async updateKmsAlias(aliasName: string, keyId: string, updatedAt: number): Promise<'updated' | 'missing' | 'no-key'> {
    return this.#db
      .transaction((): 'updated' | 'missing' | 'no-key' => {
        if (!this.#stmt('SELECT 1 FROM kms_aliases WHERE alias_name = ?').get(aliasName)) return 'missing';
        if (!this.#stmt('SELECT 1 FROM kms_keys WHERE key_id = ?').get(keyId)) return 'no-key';
        this.#stmt('UPDATE kms_aliases SET key_id = ?, updated_at = ? WHERE alias_name = ?').run(keyId, updatedAt, aliasName);
        return 'updated';
      })
      .immediate();
  }

  async deleteKmsAlias(aliasName: string): Promise<boolean> {
    return this.#stmt('DELETE FROM kms_aliases WHERE alias_name = ?').run(aliasName).changes === 1;
  }

  async listKmsAliases(options: { keyId?: string; after?: string; limit: number }): Promise<KmsAliasRecord[]> {
    const rows = (
      options.keyId !== undefined
        ? this.#stmt(
            'SELECT alias_name, key_id, created_at, updated_at FROM kms_aliases WHERE key_id = ? AND alias_name > ? ORDER BY alias_name LIMIT ?',
          ).all(options.keyId, options.after ?? '', options.limit)
        : this.#stmt('SELECT alias_name, key_id, created_at, updated_at FROM kms_aliases WHERE alias_name > ? ORDER BY alias_name LIMIT ?').all(
            options.after ?? '',
            options.limit,
          )
    ) as KmsAliasRow[];
    return rows.map((r) => kmsAliasFromRow(r));
  }

  async kmsKeyVersionsNotWrappedBy(rootKeyId: string, limit: number): Promise<KmsKeyVersionRecord[]> {
    const rows = this.#stmt(
      'SELECT key_id, version, created_at, rotation_type, root_key_id, wrapped FROM kms_key_versions WHERE root_key_id <> ? ORDER BY key_id, version LIMIT ?',
    ).all(rootKeyId, limit) as KmsVersionRow[];
    return rows.map((r) => kmsVersionFromRow(r));
  }

  async rewrapKmsKeyVersion(
    keyId: string,
    version: number,
    fromRootKeyId: string,
    to: { rootKeyId: string; wrappedMaterial: Buffer },
  ): Promise<boolean> {
    const r = this.#stmt('UPDATE kms_key_versions SET root_key_id = ?, wrapped = ? WHERE key_id = ? AND version = ? AND root_key_id = ?').run(
      to.rootKeyId,
      to.wrappedMaterial,
      keyId,
      version,
      fromRootKeyId,
    );
    return r.changes === 1;
  }

  async kmsRootKeyIds(): Promise<string[]> {
    const rows = this.#stmt('SELECT DISTINCT root_key_id FROM kms_key_versions').all() as { root_key_id: string }[];
    return rows.map((r) => r.root_key_id);
  }

  async getKmsSetting(name: string): Promise<string | undefined> {
    const row = this.#stmt('SELECT value FROM kms_settings WHERE name = ?').get(name) as { value: string } | undefined;
    return row?.value;
  }

  async putKmsSetting(name: string, value: string): Promise<void> {
    this.#stmt('INSERT INTO kms_settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value').run(name, value);
  }

  // ---- identities

  async createAccount(a: AccountRecord): Promise<boolean> {
    const r = this.#stmt('INSERT INTO iam_accounts (account_id, canonical_id, name, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING').run(
      a.accountId,
      a.canonicalId,
      a.name,
      a.createdAt,
    );
    return r.changes === 1;
  }

  async getAccount(accountId: string): Promise<AccountRecord | undefined> {
    const row = this.#stmt('SELECT * FROM iam_accounts WHERE account_id = ?').get(accountId) as AccountRow | undefined;
    return row && accountFromRow(row);
  }

  async getAccountByCanonicalId(canonicalId: string): Promise<AccountRecord | undefined> {
    const row = this.#stmt('SELECT * FROM iam_accounts WHERE canonical_id = ?').get(canonicalId) as AccountRow | undefined;
    return row && accountFromRow(row);
  }

  async listAccounts(): Promise<AccountRecord[]> {
    return (this.#stmt('SELECT * FROM iam_accounts ORDER BY account_id').all() as AccountRow[]).map(accountFromRow);
  }

  async createIamUser(u: IamUserRecord): Promise<boolean> {
    const r = this.#stmt('INSERT INTO iam_users (account_id, user_name, user_id, path, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING').run(
      u.accountId,
      u.userName,
      u.userId,
      u.path,
      u.createdAt,
    );
    return r.changes === 1;
  }

  async getIamUser(accountId: string, userName: string): Promise<IamUserRecord | undefined> {
    const row = this.#stmt('SELECT * FROM iam_users WHERE account_id = ? AND user_name = ?').get(accountId, userName) as UserRow | undefined;
    return row && userFromRow(row);
  }

  async listIamUsers(accountId: string): Promise<IamUserRecord[]> {
    return (this.#stmt('SELECT * FROM iam_users WHERE account_id = ? ORDER BY user_name').all(accountId) as UserRow[]).map(userFromRow);
  }

  async deleteIamUser(accountId: string, userName: string, options: { cascade: boolean }): Promise<'deleted' | 'missing' | 'has-dependents'> {
    return this.#db
      .transaction((): 'deleted' | 'missing' | 'has-dependents' => {
        if (!this.#stmt('SELECT 1 FROM iam_users WHERE account_id = ? AND user_name = ?').get(accountId, userName)) return 'missing';
        const keys = this.#stmt('SELECT count(*) AS n FROM iam_access_keys WHERE account_id = ? AND user_name = ?').get(accountId, userName) as { n: number };
        const policies = this.#stmt('SELECT count(*) AS n FROM iam_user_policies WHERE account_id = ? AND user_name = ?').get(accountId, userName) as { n: number };
        if (!options.cascade && keys.n + policies.n > 0) return 'has-dependents';
        this.#stmt('DELETE FROM iam_access_keys WHERE account_id = ? AND user_name = ?').run(accountId, userName);
        this.#stmt('DELETE FROM iam_user_policies WHERE account_id = ? AND user_name = ?').run(accountId, userName);
        this.#stmt('DELETE FROM iam_users WHERE account_id = ? AND user_name = ?').run(accountId, userName);
        return 'deleted';
      })
      .immediate();
  }

  async createAccessKey(k: AccessKeyRecord): Promise<boolean> {
    return this.#db
      .transaction((): boolean => {
        if (k.userName !== undefined && !this.#stmt('SELECT 1 FROM iam_users WHERE account_id = ? AND user_name = ?').get(k.accountId, k.userName)) return false;
        const r = this.#stmt(
          'INSERT INTO iam_access_keys (access_key_id, account_id, user_name, status, created_at, root_key_id, wrapped_secret) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
        ).run(k.accessKeyId, k.accountId, k.userName ?? null, k.status, k.createdAt, k.rootKeyId, k.wrappedSecret);
        return r.changes === 1;
      })
      .immediate();
  }

  async getAccessKey(accessKeyId: string): Promise<AccessKeyRecord | undefined> {
    const row = this.#stmt('SELECT * FROM iam_access_keys WHERE access_key_id = ?').get(accessKeyId) as AccessKeyRow | undefined;
    return row && accessKeyFromRow(row);
  }

  async listAccessKeys(accountId: string, userName: string | undefined): Promise<AccessKeyRecord[]> {
    const rows = (
      userName === undefined
        ? this.#stmt('SELECT * FROM iam_access_keys WHERE account_id = ? AND user_name IS NULL ORDER BY created_at, access_key_id').all(accountId)
        : this.#stmt('SELECT * FROM iam_access_keys WHERE account_id = ? AND user_name = ? ORDER BY created_at, access_key_id').all(accountId, userName)
    ) as AccessKeyRow[];
    return rows.map(accessKeyFromRow);
  }

  async updateAccessKeyStatus(accessKeyId: string, status: AccessKeyStatus): Promise<boolean> {
    return this.#stmt('UPDATE iam_access_keys SET status = ? WHERE access_key_id = ?').run(status, accessKeyId).changes === 1;
  }

  async deleteAccessKey(accessKeyId: string): Promise<boolean> {
    return this.#stmt('DELETE FROM iam_access_keys WHERE access_key_id = ?').run(accessKeyId).changes === 1;
  }

  async accessKeysNotWrappedBy(rootKeyId: string, limit: number): Promise<AccessKeyRecord[]> {
    return (this.#stmt('SELECT * FROM iam_access_keys WHERE root_key_id <> ? ORDER BY access_key_id LIMIT ?').all(rootKeyId, limit) as AccessKeyRow[]).map(accessKeyFromRow);
  }

  async rewrapAccessKey(accessKeyId: string, fromRootKeyId: string, next: { rootKeyId: string; wrappedSecret: Buffer }): Promise<boolean> {
    return (
      this.#stmt('UPDATE iam_access_keys SET root_key_id = ?, wrapped_secret = ? WHERE access_key_id = ? AND root_key_id = ?').run(next.rootKeyId, next.wrappedSecret, accessKeyId, fromRootKeyId)
        .changes === 1
    );
  }

  async putUserPolicy(p: UserPolicyRecord): Promise<boolean> {
    return this.#db
      .transaction((): boolean => {
        if (!this.#stmt('SELECT 1 FROM iam_users WHERE account_id = ? AND user_name = ?').get(p.accountId, p.userName)) return false;
        this.#stmt(
          'INSERT INTO iam_user_policies (account_id, user_name, policy_name, document) VALUES (?, ?, ?, ?) ON CONFLICT (account_id, user_name, policy_name) DO UPDATE SET document = excluded.document',
        ).run(p.accountId, p.userName, p.policyName, p.document);
        return true;
      })
      .immediate();
  }

  async getUserPolicy(accountId: string, userName: string, policyName: string): Promise<UserPolicyRecord | undefined> {
    const row = this.#stmt('SELECT * FROM iam_user_policies WHERE account_id = ? AND user_name = ? AND policy_name = ?').get(accountId, userName, policyName) as
      | PolicyRow
      | undefined;
    return row && policyFromRow(row);
  }

  async listUserPolicies(accountId: string, userName: string): Promise<UserPolicyRecord[]> {
    return (this.#stmt('SELECT * FROM iam_user_policies WHERE account_id = ? AND user_name = ? ORDER BY policy_name').all(accountId, userName) as PolicyRow[]).map(
      policyFromRow,
    );
  }

  async deleteUserPolicy(accountId: string, userName: string, policyName: string): Promise<boolean> {
    return this.#stmt('DELETE FROM iam_user_policies WHERE account_id = ? AND user_name = ? AND policy_name = ?').run(accountId, userName, policyName).changes === 1;
  }

  // ---- object ACLs (kept in the object's document)

  async setObjectAcl(
    bucket: string,
    key: string,
    expected: { etag: string; lastModified: number },
    acl: import('../metadata-store.js').StoredAcl | undefined,
  ): Promise<'updated' | 'changed' | 'missing'> {
    return this.#db
      .transaction((): 'updated' | 'changed' | 'missing' => {
        const existing = this.#getObjectSync(bucket, key);
        if (!existing) return 'missing';
        if (existing.etag !== expected.etag || existing.lastModified !== expected.lastModified) return 'changed';
        const { bucket: _b, key: _k, acl: _old, ...doc } = existing;
        const next: Omit<ObjectRecord, 'bucket' | 'key'> = acl ? { ...doc, acl } : doc;
        this.#updateCurrentSync(bucket, key, next);
        return 'updated';
      })
      .immediate();
  }
}
