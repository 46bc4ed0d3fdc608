/**
 * The request-scoped view of the metadata store (src/s3/request-metadata.ts),
 * over a real SQLite store: bucket reads once per request, writes seen at once,
 * nothing kept between requests.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { MetadataStore } from '../../src/metadata/metadata-store.js';
import { SqliteMetadataStore } from '../../src/metadata/sqlite/sqlite-store.js';
import { requestScopedMetadata } from '../../src/s3/request-metadata.js';

let dir = '';
let store: SqliteMetadataStore;
const calls = new Map<string, number>();

/** The real store, counting the calls that reach it. */
function counted(real: MetadataStore): MetadataStore {
  return new Proxy(real, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof prop !== 'string' || typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.set(prop, (calls.get(prop) ?? 0) + 1);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'coffer-request-metadata-'));
  store = new SqliteMetadataStore({ path: join(dir, 'meta.db') });
  await store.migrate();
  await store.createBucket({ name: 'bkt', createdAt: 1, ownerId: 'owner', region: 'us-east-1' });
  await store.putBucketConfig('bkt', 'policy', '{"p":1}');
  await store.putBucketConfig('bkt', 'encryption', '{"e":1}');
});
after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

test('a_request_reads_the_bucket_and_its_documents_once', async () => {
  calls.clear();
  const view = requestScopedMetadata(counted(store));
  assert.equal((await view.getBucket('bkt'))?.ownerId, 'owner');
  assert.equal((await view.getBucket('bkt'))?.ownerId, 'owner');
  assert.equal(await view.getBucket('missing'), undefined);
  assert.equal(await view.getBucket('missing'), undefined);
  assert.equal(await view.getBucketConfig('bkt', 'policy'), '{"p":1}');
  assert.equal(await view.getBucketConfig('bkt', 'encryption'), '{"e":1}');
  assert.equal(await view.getBucketConfig('bkt', 'publicAccessBlock'), undefined);
  assert.deepEqual(Object.fromEntries(calls), { getBucket: 2, getBucketConfigs: 1 }, 'one read per bucket name, one for all documents');
});

test('a_write_in_the_request_empties_the_memo_so_the_request_reads_its_own_change', async () => {
  const view = requestScopedMetadata(counted(store));
  assert.equal(await view.getBucketConfig('bkt', 'encryption'), '{"e":1}');
  assert.equal(await view.putBucketConfig('bkt', 'encryption', '{"e":2}'), true);
  assert.equal(await view.getBucketConfig('bkt', 'encryption'), '{"e":2}');
  await view.deleteBucketConfig('bkt', 'encryption');
  assert.equal(await view.getBucketConfig('bkt', 'encryption'), undefined);
  await store.putBucketConfig('bkt', 'encryption', '{"e":1}');
});

test('nothing_is_kept_between_requests', async () => {
  const first = requestScopedMetadata(store);
  assert.equal(await first.getBucketConfig('bkt', 'policy'), '{"p":1}');
  await store.putBucketConfig('bkt', 'policy', '{"p":2}'); // another request (or worker) changes it
  assert.equal(await first.getBucketConfig('bkt', 'policy'), '{"p":1}', 'one snapshot within a request');
  assert.equal(await requestScopedMetadata(store).getBucketConfig('bkt', 'policy'), '{"p":2}', 'the next request reads it fresh');
});

test('reads_other_than_bucket_reads_pass_through_and_keep_the_memo', async () => {
  calls.clear();
  const view = requestScopedMetadata(counted(store));
  await view.getBucket('bkt');
  assert.equal(await view.getObject('bkt', 'none'), undefined);
  await view.listObjects('bkt', { prefix: '', limit: 10 });
  await view.getBucket('bkt');
  assert.deepEqual(Object.fromEntries(calls), { getBucket: 1, getObject: 1, listObjects: 1 });
});
