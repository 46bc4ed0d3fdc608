/** The Kms contract against the built-in KMS, in-process over a temporary SQLite store. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteMetadataStore } from '../../src/metadata/sqlite/sqlite-store.js';
import { builtinKmsUnderTest } from './kms-builtin-subject.js';
import { kmsContract } from './kms.contract.js';

kmsContract({
  name: 'builtin',
  create: async () => {
    const dir = mkdtempSync(join(tmpdir(), 'coffer-kms-builtin-'));
    const store = new SqliteMetadataStore({ path: join(dir, 'coffer.db') });
    return builtinKmsUnderTest(store, async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    });
  },
});
