import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { SQLITE_MIGRATIONS } from '../../src/metadata/sqlite/sqlite-migrations.js';
import { SqliteMetadataStore } from '../../src/metadata/sqlite/sqlite-store.js';
import type { ObjectRecord } from '../../src/metadata/metadata-store.js';
import { metadataStoreContract } from './metadata-store.contract.js';

let dir = '';
metadataStoreContract({
  name: 'sqlite',
  create: async () => {
    dir = mkdtempSync(join(tmpdir(), 'coffer-sqlite-'));
    return new SqliteMetadataStore({ path: join(dir, 'meta.db') });
  },
  destroy: async () => rmSync(dir, { recursive: true, force: true }),
});

/**
 * A database left by an older version (its first `migrations` schema migrations applied,
 * then `fill` run on it), migrated by a store that `check` then examines.
 */
async function migratedFrom(migrations: number, fill: (db: Database.Database) => void, check: (store: SqliteMetadataStore) => Promise<void>): Promise<void> {
  const old = mkdtempSync(join(tmpdir(), 'coffer-sqlite-old-'));
  try {
    const path = join(old, 'meta.db');
    const db = new Database(path);
    db.exec('CREATE TABLE schema_version (version INTEGER NOT NULL)');
    for (const [i, sql] of SQLITE_MIGRATIONS.slice(0, migrations).entries()) {
      db.exec(sql);
      db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(i + 1);
    }
    fill(db);
    db.close();
    const store = new SqliteMetadataStore({ path });
    try {
      await store.migrate();
      await check(store);
    } finally {
      await store.close();
    }
  } finally {
    rmSync(old, { recursive: true, force: true });
  }
}

// Schema migration 5 (Object Ownership), against a database left by an older version.
test('sqlite_migration_5_keeps_existing_buckets_ACL_free_without_a_public_access_block', () =>
  migratedFrom(
    4,
    (db) => db.prepare("INSERT INTO buckets (name, created_at, owner_id, region) VALUES ('before', 1, 'o', 'us-east-1')").run(),
    async (store) => {
      assert.deepEqual(JSON.parse((await store.getBucketConfig('before', 'ownershipControls'))!), { objectOwnership: 'BucketOwnerEnforced' });
      assert.equal(await store.getBucketConfig('before', 'publicAccessBlock'), undefined, 'S3 left buckets made before April 2023 without a block');
    },
  ));

// Schema migration 7 (bucket usage for the metrics) counts the objects a database already holds, once.
test('sqlite_migration_7_counts_existing_objects_into_bucket_usage', () =>
  migratedFrom(
    6,
    (db) => {
      db.prepare("INSERT INTO buckets (name, created_at, owner_id, region) VALUES ('full', 1, 'o', 'us-east-1'), ('empty', 1, 'o', 'us-east-1')").run();
      const put = db.prepare("INSERT INTO objects (bucket, key, doc) VALUES ('full', ?, ?)");
      put.run(Buffer.from('a'), JSON.stringify({ size: 7, parts: [] }));
      put.run(Buffer.from('b'), JSON.stringify({ size: 35, parts: [] }));
    },
    async (store) => {
      assert.deepEqual(await store.bucketUsage(), [
        { bucket: 'empty', objects: 0, bytes: 0 },
        { bucket: 'full', objects: 2, bytes: 42 },
      ]);
    },
  ));

// Schema migration 9 (the listing's summary columns) fills them in from the documents a database holds.
test('sqlite_migration_9_fills_the_listing_columns_of_existing_objects', () =>
  migratedFrom(
    8,
    (db) => {
      db.prepare("INSERT INTO buckets (name, created_at, owner_id, region) VALUES ('b', 1, 'o', 'us-east-1')").run();
      const put = db.prepare("INSERT INTO objects (bucket, key, doc) VALUES ('b', ?, ?)");
      const doc = { size: 7, etag: 'e', lastModified: 1_700_000_000_123, headers: {}, userMetadata: {}, tags: [], parts: [], multipart: false, storageClass: 'STANDARD', ownerId: 'o' };
      put.run(Buffer.from('plain'), JSON.stringify(doc));
      put.run(Buffer.from('summed'), JSON.stringify({ ...doc, size: 9, checksum: { algorithm: 'SHA256', value: 'x', type: 'FULL_OBJECT' } }));
    },
    async (store) => {
      assert.deepEqual(await store.listObjects('b', { prefix: '', limit: 10 }), [
        { key: 'plain', size: 7, etag: 'e', lastModified: 1_700_000_000_123, storageClass: 'STANDARD', ownerId: 'o' },
        { key: 'summed', size: 9, etag: 'e', lastModified: 1_700_000_000_123, checksumAlgorithm: 'SHA256', checksumType: 'FULL_OBJECT', storageClass: 'STANDARD', ownerId: 'o' },
      ]);
    },
  ));

/** A migrated store on a fresh database file (at `path`), closed and removed afterwards. */
async function withStore(fn: (store: SqliteMetadataStore, path: string) => Promise<void>): Promise<void> {
  const d = mkdtempSync(join(tmpdir(), 'coffer-sqlite-'));
  const path = join(d, 'meta.db');
  const store = new SqliteMetadataStore({ path });
  try {
    await store.migrate();
    await fn(store, path);
  } finally {
    await store.close();
    rmSync(d, { recursive: true, force: true });
  }
}

// Durability: a write resolves only after the WAL is synced (synchronous=FULL's guarantee, off the
// event loop), reads never sync, and concurrent writes share syncs (group commit).
test('sqlite_writes_resolve_after_a_wal_sync_shared_by_concurrent_writes', () =>
  withStore(async (store) => {
    await store.createBucket({ name: 'b', createdAt: 1, ownerId: 'o', region: 'us-east-1' });
    const object = (key: string): ObjectRecord => ({ bucket: 'b', key, size: 0, etag: 'e', lastModified: 1, parts: [], multipart: false, headers: {}, userMetadata: {}, tags: [], storageClass: 'STANDARD', ownerId: 'o' });
    let before = store.walSyncs();
    await store.putObject(object('one'));
    assert.equal(store.walSyncs(), before + 1, 'a single write waits for one sync');
    before = store.walSyncs();
    assert.ok(await store.getObject('b', 'one'));
    await store.listObjects('b', { prefix: '', limit: 10 });
    assert.equal(store.walSyncs(), before, 'reads do not sync');
    before = store.walSyncs();
    await store.putBucketConfig('b', 'x', '{}');
    assert.equal(store.walSyncs(), before + 1, 'every write method syncs, not only putObject');
    before = store.walSyncs();
    await Promise.all(Array.from({ length: 100 }, (_, i) => store.putObject(object(`k${i}`))));
    const used = store.walSyncs() - before;
    assert.ok(used >= 1 && used <= 2, `100 concurrent writes used ${used} syncs`);
    assert.equal((await store.listObjects('b', { prefix: 'k', limit: 1000 })).length, 100);
  }));

// The blob collector deletes what takeGarbage returns. A garbage row another process (or this one)
// has committed but not yet synced could still be rolled back by a crash, restoring an object that
// needs the blob: takeGarbage makes what it returns durable first.
test('sqlite_takeGarbage_syncs_the_wal_before_returning_entries', () =>
  withStore(async (store, path) => {
    let before = store.walSyncs();
    assert.deepEqual(await store.takeGarbage(10), []);
    assert.equal(store.walSyncs(), before, 'nothing to return, nothing to sync');
    // Another connection commits a garbage row without syncing it (synchronous=OFF).
    const other = new Database(path);
    other.pragma('synchronous = OFF');
    other.prepare('INSERT INTO garbage (blob_id, queued_at) VALUES (?, ?)').run('from-another-process', 1);
    other.close();
    before = store.walSyncs();
    assert.deepEqual(await store.takeGarbage(10), ['from-another-process']);
    assert.equal(store.walSyncs(), before + 1, 'returned only after a WAL sync');
  }));

// Another process holding the write lock must not freeze this process's event loop (SQLite's
// busy handler sleeps in the calling thread): the write waits asynchronously and then succeeds.
test('sqlite_write_waits_for_another_connections_lock_without_blocking_the_event_loop', () =>
  withStore(async (store, path) => {
    await store.createBucket({ name: 'b', createdAt: 1, ownerId: 'o', region: 'us-east-1' });
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE');
    let settled = false;
    const write = store
      .putObject({ bucket: 'b', key: 'waited', size: 0, etag: 'e', lastModified: 1, parts: [], multipart: false, headers: {}, userMetadata: {}, tags: [], storageClass: 'STANDARD', ownerId: 'o' })
      .finally(() => (settled = true));
    const ticks = Date.now();
    let timersFired = 0;
    while (Date.now() - ticks < 200) {
      await new Promise((r) => setTimeout(r, 5));
      timersFired++;
    }
    assert.equal(settled, false, 'the write waits while the other connection holds the lock');
    // A busy handler sleeping in this thread would hold the loop for its whole timeout (one timer
    // at most); a few firing in 200 ms is enough to tell, even on a machine busy with other work.
    assert.ok(timersFired >= 3, `the event loop kept running (${timersFired} timers fired)`);
    other.exec('COMMIT');
    await write;
    assert.ok(await store.getObject('b', 'waited'));
    other.close();
  }));
