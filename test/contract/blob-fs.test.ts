import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { BlobNotFoundError } from '../../src/blob/blob-store.js';
import { FsBlobStore } from '../../src/blob/fs/fs-blob-store.js';
import { isBackendUnavailable } from '../../src/errors/backend-unavailable.js';
import { blobStoreContract } from './blob-store.contract.js';

let dir = '';
blobStoreContract({
  name: 'fs',
  create: async () => {
    dir = mkdtempSync(join(tmpdir(), 'coffer-blobs-'));
    return FsBlobStore.open({ root: dir, readChunkSize: 7 });
  },
  destroy: async () => rmSync(dir, { recursive: true, force: true }),
});

/**
 * The fs driver's own rule: a missing file is a missing blob only while the store's
 * directories are there. Without them (an unmounted volume) it is "backend unavailable"
 * (S3's 503), so that a GET answers neither 404 nor 500 and the collector does not
 * count a blob deleted that is still on the volume.
 */
describe('FsBlobStore with its directories gone', () => {
  const bytes = (s: string) =>
    (async function* () {
      yield Buffer.from(s);
    })();

  test('a_missing_store_is_backend_unavailable_a_missing_blob_is_not_found', async () => {
    const root = mkdtempSync(join(tmpdir(), 'coffer-blobs-gone-'));
    try {
      const store = await FsBlobStore.open({ root });
      const kept = await store.write(bytes('kept'));
      await kept.publish();
      await assert.rejects(store.read('0'.repeat(32)), BlobNotFoundError, 'a blob that is not there, in a store that is');

      renameSync(join(root, 'blobs'), join(root, 'blobs-away'));
      await assert.rejects(store.read(kept.blobId), (err) => isBackendUnavailable(err) && !(err instanceof BlobNotFoundError));
      await assert.rejects(store.delete(kept.blobId), (err) => isBackendUnavailable(err), 'a delete is not done while the store is away');
      renameSync(join(root, 'tmp'), join(root, 'tmp-away'));
      await assert.rejects(store.write(bytes('new')), (err) => isBackendUnavailable(err));

      renameSync(join(root, 'blobs-away'), join(root, 'blobs'));
      renameSync(join(root, 'tmp-away'), join(root, 'tmp'));
      const chunks: Buffer[] = [];
      for await (const c of await store.read(kept.blobId)) chunks.push(c);
      assert.equal(Buffer.concat(chunks).toString(), 'kept', 'back with its directories, the blob reads');
      await store.delete(kept.blobId);
      await assert.rejects(store.read(kept.blobId), BlobNotFoundError);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
