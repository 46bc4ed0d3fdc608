/** The built-in KMS over a given metadata store, as the Kms contract drives it (SQLite and PostgreSQL alike). */
import { BuiltinKms } from '../../src/kms/builtin-kms.js';
import type { KmsCaller } from '../../src/kms/kms.js';
import { generateRootKey } from '../../src/kms/root-key.js';
import type { MetadataStore } from '../../src/metadata/metadata-store.js';
import type { KmsUnderTest } from './kms.contract.js';

const admin: KmsCaller = { principal: 'coffer:contract-admin', requestId: 'ADMIN' };

export async function builtinKmsUnderTest(store: MetadataStore, close: () => Promise<void>): Promise<KmsUnderTest> {
  await store.migrate();
  const root = generateRootKey();
  const kms = await BuiltinKms.open({ store, region: 'us-east-1', accountId: '123456789012', loadRootKeys: async () => [root], minPendingWindowDays: 0 });
  return {
    kms,
    admin: {
      createKey: async (description) => (await kms.createKey({ description }, admin)).keyId,
      createAlias: (aliasName, targetKeyId) => kms.createAlias({ aliasName, targetKeyId }, admin),
      disableKey: (keyId) => kms.disableKey(keyId, admin),
      enableKey: (keyId) => kms.enableKey(keyId, admin),
      scheduleKeyDeletion: async (keyId, days) => void (await kms.scheduleKeyDeletion({ keyId, pendingWindowInDays: days }, admin)),
    },
    close,
  };
}
