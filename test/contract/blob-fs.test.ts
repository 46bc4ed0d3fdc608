import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsBlobStore } from '../../src/blob/fs/fs-blob-store.js';
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
