/** The Kms contract against the built-in KMS, in-process over a temporary SQLite store. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BuiltinKms } from '../../src/kms/builtin-kms.js';
import type { KmsCaller } from '../../src/kms/kms.js';
import { generateRootKey } from '../../src/kms/root-key.js';
import { SqliteMetadataStore } from '../../src/metadata/sqlite/sqlite-store.js';
import { kmsContract } from './kms.contract.js';

const admin: KmsCaller = { principal: 'coffer:contract-admin', requestId: 'ADMIN' };

kmsContract({
  name: 'builtin',
  create: async () => {
    const dir = mkdtempSync(join(tmpdir(), 'coffer-kms-builtin-'));
    const store = new SqliteMetadataStore({ path: join(dir, 'coffer.db') });
    await store.migrate();
    const root = generateRootKey();
    const kms = await BuiltinKms.open({
      store,
      region: 'us-east-1',
      accountId: '123456789012',
      loadRootKeys: async () => [root],
      minPendingWindowDays: 0,
    });
    return {
      kms,
      admin: {
        createKey: async (description) => (await kms.createKey({ description }, admin)).keyId,
        createAlias: (aliasName, targetKeyId) => kms.createAlias({ aliasName, targetKeyId }, admin),
        disableKey: (keyId) => kms.disableKey(keyId, admin),
        enableKey: (keyId) => kms.enableKey(keyId, admin),
        scheduleKeyDeletion: async (keyId, days) => void (await kms.scheduleKeyDeletion({ keyId, pendingWindowInDays: days }, admin)),
      },
      close: async () => {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});
