/** Coffer's own paths under /_coffer/: path-style only; on a virtual-hosted bucket the same path is an object key. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseEndpoint } from '../../src/http/router.js';

const opts = { domains: ['localhost', 's3.example.test'] };
const route = (method: string, rawPath: string, host: string) => parseEndpoint({ method, host, rawPath, query: new URLSearchParams(), headers: {} }, opts);

test('coffer_paths_are_routed_to_coffer_on_path_style_hosts', () => {
  for (const path of ['/_coffer/metrics', '/_coffer/health/ready', '/_coffer/console/', '/_coffer/console/api/s3/b/k', '/_coffer/unknown']) {
    assert.deepEqual(route('GET', path, '127.0.0.1:9000'), { kind: 'coffer', path });
    assert.deepEqual(route('POST', path, 's3.example.test'), { kind: 'coffer', path });
  }
  assert.deepEqual(route('GET', '/_coffer/health', '127.0.0.1:9000'), { kind: 'health' });
});

test('on_a_virtual_hosted_bucket_they_are_object_keys', () => {
  assert.deepEqual(route('GET', '/_coffer/metrics', 'photos.s3.example.test:9000'), { kind: 'object', operation: 'GetObject', bucket: 'photos', key: '_coffer/metrics' });
  assert.deepEqual(route('PUT', '/_coffer/console/x', 'photos.localhost'), { kind: 'object', operation: 'PutObject', bucket: 'photos', key: '_coffer/console/x' });
});
