import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteMetadataStore } from '../../src/metadata/sqlite/sqlite-store.js';
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
