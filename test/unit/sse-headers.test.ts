/**
 * SSE request headers and the bucket encryption document, as Amazon S3
 * validates them (pure functions; the integration suite drives the server).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { S3Error, type S3ErrorCode } from '../../src/errors/s3-errors.js';
import type { S3Request } from '../../src/http/types.js';
import { encryptionConfigurationXml, parseEncryptionConfiguration } from '../../src/s3/bucket-encryption.js';
import { chooseSse, parseRequestedSse, parseSseCKey, sseResponseHeaders } from '../../src/s3/sse.js';

function req(headers: Record<string, string>, options: { secure?: boolean; remoteAddress?: string } = {}): S3Request {
  return { headers, secure: options.secure ?? false, remoteAddress: options.remoteAddress ?? '127.0.0.1' } as unknown as S3Request;
}

function throwsCode(f: () => unknown, code: S3ErrorCode): void {
  assert.throws(f, (err: unknown) => err instanceof S3Error && err.code === code);
}

const customerKey = Buffer.alloc(32, 7);
const ssec = (prefix = 'x-amz-server-side-encryption-customer-') => ({
  [`${prefix}algorithm`]: 'AES256',
  [`${prefix}key`]: customerKey.toString('base64'),
  [`${prefix}key-md5`]: createHash('md5').update(customerKey).digest('base64'),
});
const opts = { allowInsecureSseC: false };

describe('SSE request headers', () => {
  test('no_headers_means_the_bucket_default', () => {
    assert.equal(parseRequestedSse(req({}), opts), undefined);
  });
  test('AES256_and_kms_modes', () => {
    assert.deepEqual(parseRequestedSse(req({ 'x-amz-server-side-encryption': 'AES256' }), opts), { mode: 'AES256' });
    const ctx = Buffer.from(JSON.stringify({ project: 'x' })).toString('base64');
    assert.deepEqual(
      parseRequestedSse(req({ 'x-amz-server-side-encryption': 'aws:kms', 'x-amz-server-side-encryption-aws-kms-key-id': 'alias/a', 'x-amz-server-side-encryption-context': ctx, 'x-amz-server-side-encryption-bucket-key-enabled': 'true' }), opts),
      { mode: 'aws:kms', kmsKeyId: 'alias/a', context: { project: 'x' }, bucketKeyEnabled: true },
    );
    assert.deepEqual(parseRequestedSse(req({ 'x-amz-server-side-encryption': 'aws:kms:dsse' }), opts), { mode: 'aws:kms:dsse' });
  });
  test('unknown_algorithm_is_InvalidArgument', () => {
    throwsCode(() => parseRequestedSse(req({ 'x-amz-server-side-encryption': 'AES128' }), opts), 'InvalidArgument');
  });
  test('kms_key_id_with_AES256_or_alone_is_InvalidArgument', () => {
    throwsCode(() => parseRequestedSse(req({ 'x-amz-server-side-encryption': 'AES256', 'x-amz-server-side-encryption-aws-kms-key-id': 'k' }), opts), 'InvalidArgument');
    throwsCode(() => parseRequestedSse(req({ 'x-amz-server-side-encryption-aws-kms-key-id': 'k' }), opts), 'InvalidArgument');
  });
  test('malformed_context_is_InvalidArgument', () => {
    throwsCode(() => parseRequestedSse(req({ 'x-amz-server-side-encryption': 'aws:kms', 'x-amz-server-side-encryption-context': 'not json' }), opts), 'InvalidArgument');
    const nested = Buffer.from(JSON.stringify({ a: { b: 1 } })).toString('base64');
    throwsCode(() => parseRequestedSse(req({ 'x-amz-server-side-encryption': 'aws:kms', 'x-amz-server-side-encryption-context': nested }), opts), 'InvalidArgument');
  });
  test('sse_c_key_parsed_and_validated', () => {
    const r = parseRequestedSse(req(ssec()), opts);
    assert.equal(r?.mode, 'SSE-C');
    assert.deepEqual(r?.mode === 'SSE-C' && r.customerKey, customerKey);
    throwsCode(() => parseRequestedSse(req({ ...ssec(), 'x-amz-server-side-encryption': 'AES256' }), opts), 'InvalidArgument');
    throwsCode(() => parseRequestedSse(req({ ...ssec(), 'x-amz-server-side-encryption-customer-algorithm': 'AES128' }), opts), 'InvalidEncryptionAlgorithmError');
    throwsCode(() => parseRequestedSse(req({ ...ssec(), 'x-amz-server-side-encryption-customer-key': Buffer.alloc(16).toString('base64') }), opts), 'InvalidArgument');
    throwsCode(() => parseRequestedSse(req({ ...ssec(), 'x-amz-server-side-encryption-customer-key-md5': 'AAAAAAAAAAAAAAAAAAAAAA==' }), opts), 'InvalidArgument');
    const missing = ssec();
    delete missing['x-amz-server-side-encryption-customer-key-md5'];
    throwsCode(() => parseRequestedSse(req(missing), opts), 'InvalidArgument');
  });
  test('sse_c_error_messages_never_echo_the_key', () => {
    try {
      parseRequestedSse(req({ ...ssec(), 'x-amz-server-side-encryption-customer-key-md5': 'AAAAAAAAAAAAAAAAAAAAAA==' }), opts);
      assert.fail('accepted');
    } catch (err) {
      assert.ok(err instanceof S3Error);
      assert.ok(!JSON.stringify({ m: err.message, f: err.fields }).includes(customerKey.toString('base64')));
    }
  });
  test('sse_c_over_plain_http_from_a_remote_address_is_InvalidRequest_unless_allowed', () => {
    throwsCode(() => parseRequestedSse(req(ssec(), { remoteAddress: '10.1.2.3' }), opts), 'InvalidRequest');
    assert.equal(parseRequestedSse(req(ssec(), { remoteAddress: '10.1.2.3', secure: true }), opts)?.mode, 'SSE-C');
    assert.equal(parseRequestedSse(req(ssec(), { remoteAddress: '10.1.2.3' }), { allowInsecureSseC: true })?.mode, 'SSE-C');
  });
  test('copy_source_customer_key_headers', () => {
    assert.deepEqual(parseSseCKey(req(ssec('x-amz-copy-source-server-side-encryption-customer-')), { copySource: true, allowInsecure: false })?.key, customerKey);
    assert.equal(parseSseCKey(req(ssec()), { copySource: true, allowInsecure: false }), undefined);
  });
});

describe('choosing the mode', () => {
  const aes = { sseAlgorithm: 'AES256' as const, bucketKeyEnabled: false, blockedEncryptionTypes: ['SSE-C'] };
  const kms = { sseAlgorithm: 'aws:kms' as const, kmsMasterKeyId: 'alias/b', bucketKeyEnabled: true };
  test('bucket_default_applies_without_headers', () => {
    assert.deepEqual(chooseSse(undefined, aes), { mode: 'AES256' });
    assert.deepEqual(chooseSse(undefined, kms), { mode: 'aws:kms', kmsKeyId: 'alias/b', bucketKeyEnabled: true });
  });
  test('request_headers_win_and_inherit_the_bucket_key_setting', () => {
    assert.deepEqual(chooseSse({ mode: 'AES256' }, kms), { mode: 'AES256' });
    assert.deepEqual(chooseSse({ mode: 'aws:kms' }, kms), { mode: 'aws:kms', bucketKeyEnabled: true });
    assert.deepEqual(chooseSse({ mode: 'aws:kms', bucketKeyEnabled: false }, kms), { mode: 'aws:kms', bucketKeyEnabled: false });
  });
  test('sse_c_on_a_bucket_that_blocks_it_is_AccessDenied', () => {
    throwsCode(() => chooseSse({ mode: 'SSE-C', customerKey, keyMd5: 'x' }, aes), 'AccessDenied');
    assert.equal(chooseSse({ mode: 'SSE-C', customerKey, keyMd5: 'x' }, kms).mode, 'SSE-C');
  });
  test('response_headers_carry_the_key_arn_never_material', () => {
    const h = sseResponseHeaders({ mode: 'aws:kms', kmsKeyArn: 'arn:aws:kms:us-east-1:1:key/k', bucketKeyEnabled: true, wrappedKeys: ['c2VjcmV0'] });
    assert.deepEqual(h, { 'x-amz-server-side-encryption': 'aws:kms', 'x-amz-server-side-encryption-aws-kms-key-id': 'arn:aws:kms:us-east-1:1:key/k', 'x-amz-server-side-encryption-bucket-key-enabled': 'true' });
    assert.deepEqual(sseResponseHeaders({ mode: 'SSE-C', wrappedKeys: ['x'] }, { customerKeyMd5: 'md5' }), {
      'x-amz-server-side-encryption-customer-algorithm': 'AES256',
      'x-amz-server-side-encryption-customer-key-md5': 'md5',
    });
  });
});

describe('ServerSideEncryptionConfiguration', () => {
  const doc = (rule: string) => `<ServerSideEncryptionConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${rule}</ServerSideEncryptionConfiguration>`;
  test('kms_rule_with_bucket_key_and_blocked_sse_c_round_trips', () => {
    const c = parseEncryptionConfiguration(
      doc('<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>alias/k</KMSMasterKeyID></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled><BlockedEncryptionTypes><EncryptionType>SSE-C</EncryptionType></BlockedEncryptionTypes></Rule>'),
    );
    assert.deepEqual(c, { sseAlgorithm: 'aws:kms', kmsMasterKeyId: 'alias/k', bucketKeyEnabled: true, blockedEncryptionTypes: ['SSE-C'] });
    assert.deepEqual(parseEncryptionConfiguration(encryptionConfigurationXml(c)), c);
  });
  test('zero_or_two_rules_unknown_elements_bad_algorithm_are_MalformedXML', () => {
    const aes = '<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule>';
    throwsCode(() => parseEncryptionConfiguration(doc('')), 'MalformedXML');
    throwsCode(() => parseEncryptionConfiguration(doc(aes + aes)), 'MalformedXML');
    throwsCode(() => parseEncryptionConfiguration(doc(aes.replace('AES256', 'AES128'))), 'MalformedXML');
    throwsCode(() => parseEncryptionConfiguration(doc(aes.replace('</Rule>', '<Extra/></Rule>'))), 'MalformedXML');
    throwsCode(() => parseEncryptionConfiguration(doc(aes.replace('</Rule>', '<BucketKeyEnabled>yes</BucketKeyEnabled></Rule>'))), 'MalformedXML');
    throwsCode(() => parseEncryptionConfiguration(doc(aes.replace('</Rule>', '<BlockedEncryptionTypes><EncryptionType>SSE-S3</EncryptionType></BlockedEncryptionTypes></Rule>'))), 'MalformedXML');
    throwsCode(() => parseEncryptionConfiguration('<ServerSideEncryptionConfiguration><Rule>'), 'MalformedXML');
    throwsCode(() => parseEncryptionConfiguration(''), 'MalformedXML');
  });
  test('kms_key_with_AES256_is_InvalidArgument', () => {
    throwsCode(
      () => parseEncryptionConfiguration(doc('<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm><KMSMasterKeyID>k</KMSMasterKeyID></ApplyServerSideEncryptionByDefault></Rule>')),
      'InvalidArgument',
    );
  });
});
