/**
 * The Kms contract against the built-in KMS over the PostgreSQL metadata store: the KMS's
 * keys, versions, aliases and schedules live there when nodes share one database.
 */
import { after, test } from 'node:test';
import { BuiltinKms } from '../../src/kms/builtin-kms.js';
import type { KmsCaller } from '../../src/kms/kms.js';
import { generateRootKey } from '../../src/kms/root-key.js';
import { PostgresMetadataStore } from '../../src/metadata/postgres/postgres-store.js';
import { findPostgres, startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { kmsContract } from './kms.contract.js';

const admin: KmsCaller = { principal: 'coffer:contract-admin', requestId: 'ADMIN' };
const bins = findPostgres();

if (!bins) {
  test('Kms contract: builtin-postgres', (t) => t.skip('PostgreSQL (initdb, postgres) not found on PATH or under /usr/lib/postgresql/*/bin; .ci/run installs it'));
} else {
  let server: TestPostgres | undefined;
  after(() => server?.stop());
  kmsContract({
    name: 'builtin-postgres',
    create: async () => {
      server ??= await startPostgres(bins);
      const store = new PostgresMetadataStore({ url: await server.newDatabase() });
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
        close: () => store.close(),
      };
    },
  });
}
