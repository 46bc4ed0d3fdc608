/**
 * The MetadataStore contract against the PostgreSQL driver, on a PostgreSQL these
 * tests start themselves (test/helpers/postgres.ts), plus what only this driver
 * promises: atomic conditional writes and completions across connections (as
 * across nodes), and an unreachable database as backend unavailable.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { isBackendUnavailable } from '../../src/errors/backend-unavailable.js';
import { S3Error } from '../../src/errors/s3-errors.js';
import { toS3Error } from '../../src/http/render.js';
import type { ObjectRecord } from '../../src/metadata/metadata-store.js';
import { POSTGRES_MIGRATIONS } from '../../src/metadata/postgres/postgres-migrations.js';
import { PostgresMetadataStore } from '../../src/metadata/postgres/postgres-store.js';
import pg from 'pg';
import { findPostgres, startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { metadataStoreContract } from './metadata-store.contract.js';

const bins = findPostgres();
const NO_POSTGRES = 'PostgreSQL (initdb, postgres) not found on PATH or under /usr/lib/postgresql/*/bin; .ci/run installs it';

const object = (bucket: string, key: string, blobId: string, etag = 'e'): ObjectRecord => ({
  bucket,
  key,
  size: 10,
  etag,
  lastModified: 1,
  parts: [{ partNumber: 1, blobId, size: 10, etag: 'p' }],
  multipart: false,
  headers: {},
  userMetadata: {},
  tags: [],
  storageClass: 'STANDARD',
  ownerId: 'o',
});

if (!bins) {
  test('MetadataStore contract: postgres', (t) => t.skip(NO_POSTGRES));
  test('postgres_cross_node_races_and_a_stopped_database', (t) => t.skip(NO_POSTGRES));
} else {
  let server: TestPostgres | undefined;
  metadataStoreContract({
    name: 'postgres',
    create: async () => {
      server ??= await startPostgres(bins);
      return new PostgresMetadataStore({ url: server.url });
    },
    // The server stays up for the tests below; the file's after() stops it.
  });

  /** Two stores on a fresh database of the contract's server: two nodes, each with its own pool. */
  const withTwoNodes = async (fn: (a: PostgresMetadataStore, b: PostgresMetadataStore) => Promise<void>): Promise<void> => {
    server ??= await startPostgres(bins);
    const url = await server.newDatabase();
    const a = new PostgresMetadataStore({ url });
    const b = new PostgresMetadataStore({ url });
    try {
      await Promise.all([a.migrate(), b.migrate()]);
      await fn(a, b);
    } finally {
      await a.close();
      await b.close();
    }
  };
  after(() => server?.stop());

  test('postgres_if_none_match_lets_exactly_one_of_many_concurrent_writers_across_nodes_win', () =>
    withTwoNodes(async (a, b) => {
      await a.createBucket({ name: 'b', createdAt: 1, ownerId: 'o', region: 'us-east-1' });
      const writes = Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).putObject(object('b', 'k', `blob-${i}`), { ifNoneMatch: true }));
      const results = await Promise.allSettled(writes);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      assert.equal(won.length, 1, 'exactly one write creates the key');
      for (const r of lost) assert.ok(r.reason instanceof S3Error && r.reason.code === 'PreconditionFailed', String(r.reason));
      assert.deepEqual(await a.takeGarbage(100), [], 'no write replaced another');
    }));

  test('postgres_if_match_chain_across_nodes_never_loses_an_update', () =>
    withTwoNodes(async (a, b) => {
      await a.createBucket({ name: 'b', createdAt: 1, ownerId: 'o', region: 'us-east-1' });
      await a.putObject(object('b', 'k', 'blob-0', 'v0'));
      // Every writer replaces v0: one wins, every other sees its precondition fail.
      const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).putObject(object('b', 'k', `blob-${i + 1}`, `v${i + 1}`), { ifMatch: 'v0' })));
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      assert.deepEqual(await a.takeGarbage(100), ['blob-0'], 'the one replaced object, queued once');
    }));

  test('postgres_complete_and_abort_of_one_upload_across_nodes_exactly_one_wins', () =>
    withTwoNodes(async (a, b) => {
      await a.createBucket({ name: 'b', createdAt: 1, ownerId: 'o', region: 'us-east-1' });
      for (let round = 0; round < 5; round++) {
        const uploadId = `0000000${round}-u`;
        await a.createUpload({ uploadId, bucket: 'b', key: `k${round}`, initiated: Date.now(), ownerId: 'o', headers: {}, userMetadata: {}, tags: [], storageClass: 'STANDARD' });
        await a.putPart({ uploadId, partNumber: 1, blobId: `part-${round}`, size: 10, etag: 'p', lastModified: 1 });
        const complete = { ...object('b', `k${round}`, `part-${round}`), multipart: true };
        const [c1, c2, abort] = await Promise.allSettled([a.completeUpload(uploadId, complete), b.completeUpload(uploadId, complete), b.abortUpload(uploadId)]);
        const completed = [c1, c2].filter((r) => r.status === 'fulfilled').length;
        const aborted = abort.status === 'fulfilled' && abort.value === true;
        assert.equal(completed + (aborted ? 1 : 0), 1, `round ${round}: one of Complete, Complete, Abort wins`);
        assert.equal(await a.getUpload(uploadId), undefined);
        assert.equal((await a.getObject('b', `k${round}`)) !== undefined, !aborted);
      }
    }));

  test('postgres_delete_bucket_racing_a_put_never_leaves_an_object_in_no_bucket', () =>
    withTwoNodes(async (a, b) => {
      for (let round = 0; round < 10; round++) {
        const name = `race-${round}`;
        await a.createBucket({ name, createdAt: 1, ownerId: 'o', region: 'us-east-1' });
        await Promise.allSettled([a.putObject(object(name, 'k', `blob-${round}`)), b.deleteBucket(name)]);
        const bucket = await a.getBucket(name);
        const obj = await a.getObject(name, 'k');
        assert.ok(bucket !== undefined || obj === undefined, `round ${round}: object without its bucket`);
      }
    }));

  // S3 answers a key written by too many writers at once with 503 SlowDown: the store's
  // answer once a transaction still cannot be serialized after its retries (here: none).
  test('postgres_serialization_failure_after_every_retry_is_503_SlowDown_not_500', async () => {
    server ??= await startPostgres(bins);
    const url = await server.newDatabase();
    const setup = new PostgresMetadataStore({ url });
    const a = new PostgresMetadataStore({ url, maxRetries: 0 });
    const b = new PostgresMetadataStore({ url, maxRetries: 0 });
    try {
      await setup.migrate();
      await setup.createBucket({ name: 'b', createdAt: 1, ownerId: 'o', region: 'us-east-1' });
      await setup.putObject(object('b', 'k', 'blob-0'));
      const writes = Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).putObject(object('b', 'k', `blob-${i + 1}`)));
      const results = await Promise.allSettled(writes);
      const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      assert.ok(refused.length > 0, 'with no retries, some of 40 concurrent replacements of one row cannot be serialized');
      for (const r of refused) {
        assert.ok(r.reason instanceof S3Error, String(r.reason));
        assert.equal(toS3Error(r.reason).code, 'SlowDown');
        assert.equal(toS3Error(r.reason).status, 503);
      }
      assert.ok(results.some((r) => r.status === 'fulfilled'), 'some writes commit');
    } finally {
      await Promise.all([setup.close(), a.close(), b.close()]);
    }
  });

  test('postgres_versioned_writes_across_nodes_keep_every_version_in_one_order_and_free_nothing', () =>
    withTwoNodes(async (a, b) => {
      await a.createBucket({ name: 'vb', createdAt: 1, ownerId: 'o', region: 'us-east-1' });
      // New key and existing key alike: concurrent versioned PUTs and deletes from two nodes all land.
      const ops = Array.from({ length: 16 }, (_, i) =>
        i % 4 === 3 ? (i % 2 ? a : b).deleteObject('vb', 'k', { versioning: 'Enabled' }) : (i % 2 ? a : b).putObject(object('vb', 'k', `vblob-${i}`), undefined, { versioning: 'Enabled' }),
      );
      const results = await Promise.all(ops);
      const ids = results.map((r) => r!.versionId!);
      assert.equal(new Set(ids).size, 16, 'sixteen distinct version ids');
      const listed = await a.listObjectVersions('vb', { prefix: '', limit: 100 });
      assert.equal(listed.length, 16);
      assert.deepEqual(new Set(listed.map((e) => e.record.versionId)), new Set(ids));
      assert.equal(listed.filter((e) => e.isLatest).length, 1);
      const seqs = listed.map((e) => e.record.versionSeq!);
      assert.deepEqual(seqs, [...seqs].sort((x, y) => y - x), 'newest first');
      assert.deepEqual(await a.takeGarbage(100), [], 'no version was freed');
      // Two nodes deleting the same latest version: it goes once, the previous one becomes current.
      const latest = listed[0]!.record;
      const [d1, d2] = await Promise.all([a.deleteObjectVersion('vb', 'k', latest.versionId!), b.deleteObjectVersion('vb', 'k', latest.versionId!)]);
      assert.equal([d1, d2].filter((d) => d !== undefined).length, 1);
      const next = listed[1]!.record;
      assert.equal((await b.getLatestVersion('vb', 'k'))?.versionId, next.versionId);
      assert.equal((await b.getObject('vb', 'k'))?.versionId, next.deleteMarker ? undefined : next.versionId);
    }));

  // Migration 4 (the listing's summary columns) fills them in from the documents a database holds.
  test('postgres_migration_4_fills_the_listing_columns_of_existing_objects', async () => {
    server ??= await startPostgres(bins);
    const url = await server.newDatabase();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query('CREATE TABLE schema_version (version INTEGER NOT NULL)');
      for (const [i, sql] of POSTGRES_MIGRATIONS.slice(0, 3).entries()) {
        await client.query(sql);
        await client.query('INSERT INTO schema_version (version) VALUES ($1)', [i + 1]);
      }
      await client.query("INSERT INTO buckets (name, created_at, owner_id, region) VALUES ('b', 1, 'o', 'us-east-1')");
      const doc = { ...object('b', 'k', 'x'), lastModified: 1_700_000_000_123, checksum: { algorithm: 'CRC32C', value: 'x', type: 'FULL_OBJECT' } };
      const { bucket: _b, key: _k, ...rest } = doc;
      await client.query("INSERT INTO objects (bucket, key, doc) VALUES ('b', $1, $2)", [Buffer.from('k'), JSON.stringify(rest)]);
    } finally {
      await client.end();
    }
    const store = new PostgresMetadataStore({ url });
    try {
      await store.migrate();
      assert.deepEqual(await store.listObjects('b', { prefix: '', limit: 10 }), [
        { key: 'k', size: 10, etag: 'e', lastModified: 1_700_000_000_123, checksumAlgorithm: 'CRC32C', checksumType: 'FULL_OBJECT', storageClass: 'STANDARD', ownerId: 'o' },
      ]);
    } finally {
      await store.close();
    }
  });

  // The database going away under a running store: pooled connections die ("Connection
  // terminated"), new ones are refused. Every call is then 503, never a raw 500.
  test('postgres_database_stopped_under_a_running_store_is_backend_unavailable', async () => {
    const pgServer = await startPostgres(bins);
    const store = new PostgresMetadataStore({ url: pgServer.url, connectTimeoutMs: 2000 });
    try {
      await store.migrate();
      await store.createBucket({ name: 'b', createdAt: 1, ownerId: 'o', region: 'us-east-1' });
      await pgServer.stop();
      for (const call of [() => store.getBucket('b'), () => store.putObject(object('b', 'k', 'x')), () => store.takeGarbage(10)]) {
        await assert.rejects(call(), (err: unknown) => isBackendUnavailable(err));
      }
    } finally {
      await store.close();
      await pgServer.stop();
    }
  });
}

test('postgres_unreachable_database_is_backend_unavailable_503_ServiceUnavailable', async () => {
  // Nothing listens on port 1 of loopback: connections are refused at once.
  const store = new PostgresMetadataStore({ url: 'postgres://postgres@127.0.0.1:1/none', connectTimeoutMs: 2000 });
  try {
    for (const call of [() => store.getBucket('b'), () => store.putObject(object('b', 'k', 'x')), () => store.migrate()]) {
      await assert.rejects(call(), (err: unknown) => isBackendUnavailable(err) && toS3Error(err).status === 503 && toS3Error(err).code === 'ServiceUnavailable');
    }
  } finally {
    await store.close();
  }
});
