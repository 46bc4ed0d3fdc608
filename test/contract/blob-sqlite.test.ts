import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FsBlobStore } from '../../src/blob/fs/fs-blob-store.js';
import { SqliteBlobStore, isSqliteBlobId } from '../../src/blob/sqlite/sqlite-blob-store.js';
import { TieredBlobStore } from '../../src/blob/tiered-blob-store.js';
import { blobStoreContract } from './blob-store.contract.js';

let sqliteDir = '';
let sqliteStore: SqliteBlobStore | undefined;
blobStoreContract({
  name: 'sqlite (small blobs)',
  create: async () => {
    sqliteDir = mkdtempSync(join(tmpdir(), 'coffer-sqlite-blobs-'));
    return (sqliteStore = new SqliteBlobStore({ path: join(sqliteDir, 'small-blobs.db') }));
  },
  destroy: async () => {
    await sqliteStore?.close();
    rmSync(sqliteDir, { recursive: true, force: true });
  },
});

let tieredDir = '';
let tieredSmall: SqliteBlobStore | undefined;
async function tiered(dir: string, smallMax: number): Promise<{ store: TieredBlobStore; small: SqliteBlobStore }> {
  const small = new SqliteBlobStore({ path: join(dir, 'small-blobs.db') });
  const large = await FsBlobStore.open({ root: dir, readChunkSize: 7 });
  return { store: new TieredBlobStore({ small, large, smallMax, isSmall: isSqliteBlobId }), small };
}
// A threshold of 8 bytes: the contract's blobs land on both sides of it.
blobStoreContract({
  name: 'tiered (sqlite ≤ 8 bytes, files above)',
  create: async () => {
    tieredDir = mkdtempSync(join(tmpdir(), 'coffer-tiered-blobs-'));
    const t = await tiered(tieredDir, 8);
    tieredSmall = t.small;
    return t.store;
  },
  destroy: async () => {
    await tieredSmall?.close();
    rmSync(tieredDir, { recursive: true, force: true });
  },
});

test('tiered_store_sends_blobs_up_to_the_threshold_to_sqlite_and_larger_ones_to_files', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'coffer-tiered-'));
  const { store, small } = await tiered(dir, 16);
  const files = () => readdirSync(join(dir, 'tmp')).length + readdirSync(join(dir, 'blobs')).reduce((n, d) => n + readdirSync(join(dir, 'blobs', d)).length, 0);
  try {
    async function* pieces(...p: string[]) {
      for (const x of p) yield Buffer.from(x);
    }
    const exactly = await store.write(pieces('0123456789', 'abcdef'));
    assert.ok(isSqliteBlobId(exactly.blobId), '16 bytes is small');
    assert.equal(files(), 0);
    const over = await store.write(pieces('0123456789', 'abcdefg', 'tail'));
    assert.ok(!isSqliteBlobId(over.blobId), '17+ bytes go to a file');
    assert.equal(files(), 1);
    await over.publish();
    const out: Buffer[] = [];
    for await (const c of await store.read(over.blobId, { start: 8, end: 20 })) out.push(c);
    assert.equal(Buffer.concat(out).toString(), '89abcdefgtail');
    // A source failing after the threshold leaves no file behind.
    async function* failing() {
      yield Buffer.alloc(40);
      throw new Error('client went away');
    }
    await assert.rejects(store.write(failing()), /client went away/);
    assert.equal(files(), 1);
  } finally {
    await small.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
