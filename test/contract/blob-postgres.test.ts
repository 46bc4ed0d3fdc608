/**
 * The BlobStore contract against PostgresBlobStore (a cluster's small blobs), alone
 * and as the small tier in front of files, on a PostgreSQL these tests start
 * themselves; then what only it has: several nodes recovering one table.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { FsBlobStore } from '../../src/blob/fs/fs-blob-store.js';
import { PostgresBlobStore, isPostgresBlobId } from '../../src/blob/postgres/postgres-blob-store.js';
import { TieredBlobStore } from '../../src/blob/tiered-blob-store.js';
import { BlobNotFoundError } from '../../src/blob/blob-store.js';
import { isBackendUnavailable } from '../../src/errors/backend-unavailable.js';
import { findPostgres, startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { blobStoreContract } from './blob-store.contract.js';

const bins = findPostgres();

async function* pieces(...p: string[]): AsyncGenerator<Buffer> {
  for (const x of p) yield Buffer.from(x);
}

async function text(it: AsyncIterable<Buffer>): Promise<string> {
  const out: Buffer[] = [];
  for await (const c of it) out.push(c);
  return Buffer.concat(out).toString();
}

if (!bins) {
  test('BlobStore contract: postgres', (t) => t.skip('PostgreSQL (initdb, postgres) not found; .ci/run installs it'));
} else {
  let server: TestPostgres | undefined;
  const database = async (): Promise<string> => {
    server ??= await startPostgres(bins);
    return server.newDatabase();
  };
  after(() => server?.stop());

  let alone: PostgresBlobStore | undefined;
  blobStoreContract({
    name: 'postgres (small blobs of a cluster)',
    create: async () => {
      // One node alone: every unreferenced staged row is a crashed write.
      alone = new PostgresBlobStore({ url: await database(), stagingLeaseMs: 0 });
      await alone.migrate();
      return alone;
    },
    destroy: async () => alone?.close(),
  });

  let tieredSmall: PostgresBlobStore | undefined;
  let tieredDir = '';
  blobStoreContract({
    name: 'tiered (postgres ≤ 8 bytes, files above)',
    create: async () => {
      tieredSmall = new PostgresBlobStore({ url: await database(), stagingLeaseMs: 0 });
      await tieredSmall.migrate();
      tieredDir = mkdtempSync(join(tmpdir(), 'coffer-pg-tiered-'));
      const large = await FsBlobStore.open({ root: tieredDir, readChunkSize: 7 });
      return new TieredBlobStore({ small: tieredSmall, large, smallMax: 8, isSmall: isPostgresBlobId });
    },
    destroy: async () => {
      await tieredSmall?.close();
      rmSync(tieredDir, { recursive: true, force: true });
    },
  });

  test('postgres_blobs_recover_on_one_node_leaves_a_fresh_write_of_another_alone_and_removes_an_old_one', async () => {
    const url = await database();
    const LEASE = 1_500;
    const a = new PostgresBlobStore({ url, stagingLeaseMs: LEASE });
    const b = new PostgresBlobStore({ url, stagingLeaseMs: LEASE });
    try {
      // Nodes starting together create the table once.
      await Promise.all([a.migrate(), b.migrate()]);
      const dead = await a.write(pieces('written by a node that then died'));
      await new Promise((r) => setTimeout(r, LEASE + 200));
      const inFlight = await a.write(pieces('a write in flight'));
      const committed = await a.write(pieces('committed, not yet published'));
      const result = await b.recover(async (ids) => new Set(ids.filter((id) => id === committed.blobId)));
      assert.deepEqual(result, { published: 1, removed: 1 }, 'the committed one published, the dead one removed, the fresh one left');
      await assert.rejects(b.read(dead.blobId), BlobNotFoundError);
      assert.equal(await text(await b.read(inFlight.blobId)), 'a write in flight');
      await inFlight.publish();
      assert.deepEqual(await b.recover(async () => new Set()), { published: 0, removed: 0 }, 'published rows are not staged');
      assert.equal(await text(await b.read(committed.blobId, { start: 0, end: 8 })), 'committed');
    } finally {
      await a.close();
      await b.close();
    }
  });
}

test('postgres_blobs_on_an_unreachable_database_are_backend_unavailable', async () => {
  const store = new PostgresBlobStore({ url: 'postgres://postgres@127.0.0.1:1/none', connectTimeoutMs: 2000 });
  try {
    for (const call of [() => store.write(pieces('x')), () => store.read(`p${'0'.repeat(32)}`), () => store.migrate()]) {
      await assert.rejects(call(), (err: unknown) => isBackendUnavailable(err) && !(err instanceof BlobNotFoundError));
    }
  } finally {
    await store.close();
  }
});
