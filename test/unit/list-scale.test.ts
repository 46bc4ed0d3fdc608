/**
 * Listing stays O(page) however big the bucket is: a page is built from index
 * range scans, and a run of keys that rolls up into one CommonPrefix is
 * skipped with one seek instead of being walked. Counted, not timed: the test
 * wraps the real SQLite store and counts the rows each page pulls out of it.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/config.js';
import type { MetadataStore, ObjectRecord } from '../../src/metadata/metadata-store.js';
import { SqliteMetadataStore } from '../../src/metadata/sqlite/sqlite-store.js';
import type { S3Context } from '../../src/s3/context.js';
import { listPage } from '../../src/s3/list.js';

const DIRS = 200;
const PER_DIR = 1000;
const TOTAL = DIRS * PER_DIR;

describe(`listing a bucket of ${TOTAL} keys`, () => {
  // tmpfs when there is one: the store fsyncs every commit, and this test inserts many rows.
  const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'coffer-list-'));
  const store = new SqliteMetadataStore({ path: join(dir, 'meta.db') });
  let rowsRead = 0;
  const counting = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'listObjects') {
        return async (...args: Parameters<MetadataStore['listObjects']>) => {
          const rows = await target.listObjects(...args);
          rowsRead += rows.length;
          return rows;
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  const ctx = { config: loadConfig({}, {}), metadata: counting, blobs: undefined as never, keys: undefined as never, identities: undefined as never, holds: undefined as never, kmsAccess: undefined as never, log: pino({ level: 'silent' }) } satisfies S3Context;

  before(async () => {
    await store.migrate();
    await store.createBucket({ name: 'big', createdAt: 0, ownerId: 'o', region: 'us-east-1' });
    const base: Omit<ObjectRecord, 'key'> = {
      bucket: 'big', size: 0, etag: 'd41d8cd98f00b204e9800998ecf8427e', lastModified: 0, headers: {}, userMetadata: {}, tags: [], parts: [], multipart: false, storageClass: 'STANDARD', ownerId: 'o',
    };
    for (let d = 0; d < DIRS; d++) {
      for (let f = 0; f < PER_DIR; f++) await store.putObject({ ...base, key: `dir${String(d).padStart(3, '0')}/file${String(f).padStart(5, '0')}` });
    }
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('delimiter_page_reads_one_row_per_common_prefix_not_every_key', async () => {
    rowsRead = 0;
    const page = await listPage(ctx, 'big', { prefix: '', delimiter: '/', maxKeys: 1000 });
    assert.equal(page.commonPrefixes.length, DIRS);
    assert.equal(page.commonPrefixes[0], 'dir000/');
    assert.equal(page.isTruncated, false);
    // One seek per prefix, each reading a tiny batch whose first row decides: far below TOTAL.
    assert.ok(rowsRead <= DIRS * 2 + 10, `read ${rowsRead} rows for ${DIRS} prefixes`);
  });

  test('page_deep_in_the_bucket_reads_only_that_page', async () => {
    rowsRead = 0;
    const page = await listPage(ctx, 'big', { prefix: 'dir150/', delimiter: '/', after: 'dir150/file00900', maxKeys: 10 });
    assert.deepEqual(page.contents.map((o) => o.key), Array.from({ length: 10 }, (_, i) => `dir150/file${String(901 + i).padStart(5, '0')}`));
    assert.equal(page.isTruncated, true);
    assert.ok(rowsRead <= 11, `read ${rowsRead} rows for a page of 10`);
  });

  test('marker_that_is_a_common_prefix_resumes_after_it', async () => {
    rowsRead = 0;
    const page = await listPage(ctx, 'big', { prefix: '', delimiter: '/', after: 'dir197/', maxKeys: 1000 });
    assert.deepEqual(page.commonPrefixes, ['dir198/', 'dir199/']);
    assert.ok(rowsRead <= 10, `read ${rowsRead} rows`);
  });
});
