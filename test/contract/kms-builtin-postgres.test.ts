/**
 * The Kms contract against the built-in KMS over the PostgreSQL metadata store: the KMS's
 * keys, versions, aliases and schedules live there when nodes share one database.
 */
import { after, test } from 'node:test';
import { PostgresMetadataStore } from '../../src/metadata/postgres/postgres-store.js';
import { findPostgres, startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { builtinKmsUnderTest } from './kms-builtin-subject.js';
import { kmsContract } from './kms.contract.js';

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
      return builtinKmsUnderTest(store, () => store.close());
    },
  });
}
