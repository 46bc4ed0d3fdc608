/** KMS requests on the S3 listener: the router's KMS endpoint and the account id derivation. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { awsAccountId } from '../../src/credentials.js';
import { parseEndpoint } from '../../src/http/router.js';

const opts = { domains: ['localhost'] };
const route = (method: string, rawPath: string, headers: Record<string, string>, host = '127.0.0.1:9000') =>
  parseEndpoint({ method, host, rawPath, query: new URLSearchParams(), headers }, opts);

test('kms_target_routes_to_the_kms_endpoint', () => {
  assert.deepEqual(route('POST', '/', { 'x-amz-target': 'TrentService.Encrypt' }), { kind: 'kms', operation: 'Encrypt' });
  assert.deepEqual(route('POST', '/', { 'x-amz-target': 'TrentService.NoSuchThing' }), { kind: 'kms', operation: 'NoSuchThing' });
  // Virtual-hosted-style host names do not matter to a JSON service.
  assert.deepEqual(route('POST', '/', { 'x-amz-target': 'TrentService.ListKeys' }, 'bucket.localhost:9000'), { kind: 'kms', operation: 'ListKeys' });
});

test('non_kms_requests_keep_their_s3_routes', () => {
  assert.equal(route('GET', '/', { 'x-amz-target': 'TrentService.ListKeys' }).kind, 'service');
  // POST on a bucket is S3's POST Object (a form upload), whatever X-Amz-Target says.
  assert.equal(route('POST', '/bucket', { 'x-amz-target': 'TrentService.ListKeys' }).kind, 'post-object');
  assert.equal(route('POST', '/', { 'x-amz-target': 'DynamoDB_20120810.ListTables' }, 'bucket.localhost').kind, 'post-object');
});

test('aws_account_id_is_12_digits_and_stable', () => {
  assert.match(awsAccountId('AKIDEXAMPLE'), /^\d{12}$/);
  assert.equal(awsAccountId('AKIDEXAMPLE'), awsAccountId('AKIDEXAMPLE'));
  assert.notEqual(awsAccountId('AKIDEXAMPLE'), awsAccountId('AKIDEXAMPLF'));
});
