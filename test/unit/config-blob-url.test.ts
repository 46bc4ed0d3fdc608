/** --blob-url and the blob backend settings: validated once, at start (config/config.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig, parseBlobUrl } from '../../src/config/config.js';

test('parseBlobUrl_splits_bucket_and_prefix_and_ends_the_prefix_with_a_slash', () => {
  assert.deepEqual(parseBlobUrl('s3://coffer-blobs'), { bucket: 'coffer-blobs', prefix: '' });
  assert.deepEqual(parseBlobUrl('s3://coffer-blobs/'), { bucket: 'coffer-blobs', prefix: '' });
  assert.deepEqual(parseBlobUrl('s3://coffer-blobs/node-a'), { bucket: 'coffer-blobs', prefix: 'node-a/' });
  assert.deepEqual(parseBlobUrl('s3://coffer-blobs/a/b/'), { bucket: 'coffer-blobs', prefix: 'a/b/' });
});

test('blob_backend_settings_come_from_flags_and_environment_and_are_checked_together', () => {
  const c = loadConfig(
    { blobUrl: 's3://coffer-blobs/node-a' },
    { COFFER_BLOB_ENDPOINT: 'http://127.0.0.1:9100', COFFER_BLOB_ACCESS_KEY_ID: 'KEY123', COFFER_BLOB_SECRET_ACCESS_KEY: 'secret-12345', COFFER_BLOB_REGION: 'eu-west-1' },
  );
  assert.equal(c.blobUrl, 's3://coffer-blobs/node-a');
  assert.equal(c.blobEndpoint, 'http://127.0.0.1:9100');
  assert.equal(c.blobRegion, 'eu-west-1');
  assert.equal(loadConfig({}, { COFFER_BLOB_URL: 's3://b-1/x' }).blobUrl, 's3://b-1/x');
  assert.throws(() => loadConfig({ blobUrl: 'http://coffer-blobs/x' }, {}), /s3:\/\/BUCKET/);
  assert.throws(() => loadConfig({ blobUrl: 's3://coffer-blobs' }, { COFFER_BLOB_ACCESS_KEY_ID: 'KEY123' }), /must be set together/);
  assert.throws(() => loadConfig({ blobEndpoint: 'http://127.0.0.1:9100' }, {}), /without --blob-url/);
});

test('metadata_url_needs_a_shared_root_key_and_root_credentials_and_must_be_postgres', () => {
  const key = Buffer.alloc(32, 7).toString('base64');
  const creds = { COFFER_ACCESS_KEY_ID: 'ROOTKEY1', COFFER_SECRET_ACCESS_KEY: 'secret-12345' };
  const c = loadConfig({}, { COFFER_METADATA_URL: 'postgres://coffer@db:5432/coffer', COFFER_ROOT_KEY: key, ...creds });
  assert.equal(c.metadataUrl, 'postgres://coffer@db:5432/coffer');
  assert.equal(loadConfig({ metadataUrl: 'postgresql://u:p@h/d', rootKeyFile: '/etc/coffer/root.key' }, creds).metadataUrl, 'postgresql://u:p@h/d');
  assert.throws(() => loadConfig({ metadataUrl: 'mysql://db/coffer' }, { COFFER_ROOT_KEY: key, ...creds }), /postgres:\/\/USER@HOST/);
  assert.throws(() => loadConfig({ metadataUrl: 'postgres://db/coffer' }, creds), /same root key/);
  assert.throws(() => loadConfig({ metadataUrl: 'postgres://db/coffer' }, { COFFER_ROOT_KEY: key }), /same root credentials/);
  assert.equal(loadConfig({}, {}).metadataUrl, undefined, 'the default stays the embedded SQLite');
});
