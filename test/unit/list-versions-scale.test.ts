/**
 * ListObjectVersions stays O(page) at 100,000 versions, as ListObjects does (list-scale.test.ts):
 * a page is two index range scans (current objects, other versions) of at most the page's size,
 * a version-id-marker resumes inside a key without walking the versions before it, and a run of
 * keys that rolls up into one CommonPrefix is skipped with one seek. Counted, not timed: the
 * test wraps the real SQLite store and counts the entries each page pulls out of it.
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
import { listVersionPage } from '../../src/s3/versioning.js';

const DIRS = 100;
const KEYS = 100;
const VERSIONS = 10;
const TOTAL = DIRS * KEYS * VERSIONS;

describe(`listing the versions of a bucket with ${TOTAL} versions`, () => {
  const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'coffer-list-versions-'));
  const store = new SqliteMetadataStore({ path: join(dir, 'meta.db') });
  let rowsRead = 0;
  let calls = 0;
  const counting = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'listObjectVersions') {
        return async (...args: Parameters<MetadataStore['listObjectVersions']>) => {
          const rows = await target.listObjectVersions(...args);
          rowsRead += rows.length;
          calls++;
          return rows;
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  const ctx = { config: loadConfig({}, {}), metadata: counting, blobs: undefined as never, keys: undefined as never, identities: undefined as never, holds: undefined as never, kmsAccess: undefined as never, log: pino({ level: 'silent' }) } satisfies S3Context;
  const key = (d: number, k: number) => `dir${String(d).padStart(3, '0')}/file${String(k).padStart(4, '0')}`;
  /** Version ids of dir050/file0050, newest first. */
  let hot: string[] = [];

  before(async () => {
    await store.migrate();
    await store.createBucket({ name: 'big', createdAt: 0, ownerId: 'o', region: 'us-east-1' });
    const base: Omit<ObjectRecord, 'key'> = {
      bucket: 'big', size: 0, etag: 'd41d8cd98f00b204e9800998ecf8427e', lastModified: 0, headers: {}, userMetadata: {}, tags: [], parts: [], multipart: false, storageClass: 'STANDARD', ownerId: 'o',
    };
    for (let v = 0; v < VERSIONS; v++) {
      for (let d = 0; d < DIRS; d++) {
        for (let k = 0; k < KEYS; k++) {
          const stored = await store.putObject({ ...base, key: key(d, k) }, undefined, { versioning: 'Enabled' });
          if (d === 50 && k === 50) hot.unshift(stored.versionId!);
        }
      }
    }
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('first_page_reads_only_that_page', async () => {
    rowsRead = 0;
    const page = await listVersionPage(ctx, 'big', { prefix: '', delimiter: '', maxKeys: 25 });
    assert.equal(page.entries.length, 25);
    assert.equal(page.isTruncated, true);
    assert.deepEqual(page.entries.slice(0, 11).map((e) => [e.record.key, e.isLatest]), [
      ...Array.from({ length: VERSIONS }, (_, i) => [key(0, 0), i === 0]),
      [key(0, 1), true],
    ]);
    assert.ok(rowsRead <= 26, `read ${rowsRead} rows for a page of 25`);
  });

  test('page_resumed_at_a_version_id_marker_deep_in_the_bucket_reads_only_that_page', async () => {
    rowsRead = 0;
    const page = await listVersionPage(ctx, 'big', { prefix: '', delimiter: '', keyMarker: key(50, 50), versionIdMarker: hot[3]!, maxKeys: 10 });
    assert.deepEqual(page.entries.slice(0, 6).map((e) => e.record.versionId), hot.slice(4));
    assert.ok(page.entries.slice(0, 6).every((e) => !e.isLatest), 'the rest of a key started on an earlier page is not latest');
    assert.equal(page.entries[6]!.record.key, key(50, 51));
    assert.equal(page.entries[6]!.isLatest, true);
    assert.equal(page.nextKeyMarker, key(50, 51));
    assert.ok(rowsRead <= 11, `read ${rowsRead} rows for a page of 10`);
  });

  test('delimiter_page_reads_a_few_rows_per_common_prefix_not_every_version', async () => {
    rowsRead = 0;
    calls = 0;
    const page = await listVersionPage(ctx, 'big', { prefix: '', delimiter: '/', maxKeys: 1000 });
    assert.equal(page.commonPrefixes.length, DIRS);
    assert.equal(page.entries.length, 0);
    assert.equal(page.isTruncated, false);
    assert.ok(rowsRead <= DIRS * 2 + 10, `read ${rowsRead} rows for ${DIRS} prefixes`);
  });

  test('prefix_page_of_one_directory_reads_only_that_page', async () => {
    rowsRead = 0;
    const page = await listVersionPage(ctx, 'big', { prefix: 'dir099/', delimiter: '/', keyMarker: key(99, 98), maxKeys: 100 });
    assert.deepEqual(page.entries.map((e) => e.record.key), Array.from({ length: VERSIONS }, () => key(99, 99)));
    assert.equal(page.isTruncated, false);
    assert.ok(rowsRead <= VERSIONS + 2, `read ${rowsRead} rows`);
  });
});
