/**
 * POST Object (HTML form uploads) against the real server, without a browser:
 * forms made by @aws-sdk/s3-presigned-post and by hand (SigV4 POST policies as
 * sigv4-HTTPPOSTConstructPolicy describes them), every policy condition S3
 * supports, success_action_status / success_action_redirect, the SSE fields
 * with the bucket's default encryption, BlockedEncryptionTypes and bucket-policy
 * SSE conditions applying exactly as to PutObject, S3's errors for bad forms,
 * anonymous forms, and a large file streamed through bounded memory.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  CreateBucketCommand,
  DeletePublicAccessBlockCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutBucketEncryptionCommand,
  PutBucketPolicyCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { CreateKeyCommand } from '@aws-sdk/client-kms';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { kmsClient } from '../helpers/kms.js';
import { BOUNDARY, fieldList, formBody, postForm, signedPolicyFields, type FormField } from '../helpers/post-form.js';
import { expectXmlError, rawRequest, xmlField } from '../helpers/raw-s3.js';
import { bodyBytes, expectS3Error, md5Base64, md5Hex } from '../helpers/s3.js';
import { startServer, type TestServer } from '../helpers/server.js';

const CUSTOMER_KEY = Buffer.from('post-customer-key-0123456789abcd'); // 32 bytes
const MiB = 1024 * 1024;

let server: TestServer;
let s3: S3Client;
let keyArn: string;

before(async () => {
  server = await startServer();
  s3 = server.client();
  const kms = kmsClient(server);
  keyArn = (await kms.send(new CreateKeyCommand({ Description: 'post tests' }))).KeyMetadata!.Arn!;
  kms.destroy();
  for (const b of ['post', 'post-kms-default', 'post-policy', 'post-ssec', 'post-public']) await s3.send(new CreateBucketCommand({ Bucket: b }));
});
after(async () => {
  s3?.destroy();
  await server?.destroy();
});

function file(content: string | Buffer, filename = 'upload.bin'): FormField {
  return { name: 'file', value: content, filename, contentType: 'application/octet-stream' };
}

async function getBytes(bucket: string, key: string, extra: Record<string, string> = {}): Promise<Buffer> {
  return bodyBytes(await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...extra })));
}

async function keyExists(bucket: string, key: string): Promise<boolean> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: key }));
  return (listed.Contents ?? []).some((o) => o.Key === key);
}

describe('presigned POST (@aws-sdk/s3-presigned-post)', () => {
  test('PostObject_with_createPresignedPost_fields_stores_the_file_byte_exact_204', async () => {
    const { url, fields } = await createPresignedPost(s3 as never, { Bucket: 'post', Key: 'sdk/one.bin', Expires: 300 });
    assert.equal(url, `${server.url}/post`);
    const data = Buffer.from('hello from a form\r\n--not-a-boundary\r\n');
    const res = await postForm(server, 'post', [...fieldList(fields), file(data)]);
    assert.equal(res.status, 204, res.body.toString());
    assert.equal(res.headers['etag'], `"${md5Hex(data)}"`);
    assert.equal(res.headers['location'], `${server.url}/post/sdk/one.bin`);
    assert.equal(res.headers['x-amz-server-side-encryption'], 'AES256');
    assert.deepEqual(await getBytes('post', 'sdk/one.bin'), data);
  });

  test('PostObject_with_SSE_KMS_fields_in_the_presigned_policy_encrypts_under_that_key', async () => {
    const sse = { 'x-amz-server-side-encryption': 'aws:kms', 'x-amz-server-side-encryption-aws-kms-key-id': keyArn, 'x-amz-server-side-encryption-bucket-key-enabled': 'true' };
    const { fields } = await createPresignedPost(s3 as never, {
      Bucket: 'post',
      Key: 'sdk/${filename}',
      Fields: sse,
      Conditions: [['starts-with', '$key', 'sdk/'], ['content-length-range', 1, 1000], ...Object.entries(sse).map(([k, v]) => ({ [k]: v }))],
    });
    const res = await postForm(server, 'post', [...fieldList(fields), file('kms body', 'report.txt')]);
    assert.equal(res.status, 204, res.body.toString());
    assert.equal(res.headers['x-amz-server-side-encryption'], 'aws:kms');
    assert.equal(res.headers['x-amz-server-side-encryption-aws-kms-key-id'], keyArn);
    assert.equal(res.headers['x-amz-server-side-encryption-bucket-key-enabled'], 'true');
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'post', Key: 'sdk/report.txt' }));
    assert.equal(head.ServerSideEncryption, 'aws:kms');
    assert.equal(head.SSEKMSKeyId, keyArn);
    assert.equal((await getBytes('post', 'sdk/report.txt')).toString(), 'kms body');
  });
});

describe('success_action_status and success_action_redirect', () => {
  test('success_action_status_201_answers_PostResponse_XML', async () => {
    const res = await postForm(server, 'post', [
      { name: 'key', value: 'status/201.txt' },
      { name: 'success_action_status', value: '201' },
      ...signedPolicyFields(server, [{ bucket: 'post' }, { key: 'status/201.txt' }, { success_action_status: '201' }]),
      file('created'),
    ]);
    assert.equal(res.status, 201, res.body.toString());
    assert.equal(res.headers['content-type'], 'application/xml');
    assert.equal(xmlField(res.body, 'Bucket'), 'post');
    assert.equal(xmlField(res.body, 'Key'), 'status/201.txt');
    assert.equal(xmlField(res.body, 'ETag'), `&quot;${md5Hex(Buffer.from('created'))}&quot;`);
    assert.equal(xmlField(res.body, 'Location'), `${server.url}/post/status/201.txt`);
  });

  test('success_action_status_200_answers_an_empty_200_and_other_values_204', async () => {
    const ok = await postForm(server, 'post', [{ name: 'key', value: 's200' }, { name: 'success_action_status', value: '200' }, ...signedPolicyFields(server, [{ key: 's200' }, { success_action_status: '200' }]), file('x')]);
    assert.equal(ok.status, 200);
    assert.equal(ok.body.length, 0);
    const other = await postForm(server, 'post', [{ name: 'key', value: 's404' }, { name: 'success_action_status', value: '404' }, ...signedPolicyFields(server, [{ key: 's404' }, { success_action_status: '404' }]), file('x')]);
    assert.equal(other.status, 204);
  });

  test('success_action_redirect_answers_303_with_bucket_key_and_etag', async () => {
    const res = await postForm(server, 'post', [
      { name: 'key', value: 'redirect/a b.txt' },
      { name: 'success_action_redirect', value: 'https://app.example.com/done?x=1' },
      ...signedPolicyFields(server, [{ key: 'redirect/a b.txt' }, ['starts-with', '$success_action_redirect', 'https://app.example.com/']]),
      file('redirected'),
    ]);
    assert.equal(res.status, 303, res.body.toString());
    const location = new URL(String(res.headers['location']));
    assert.equal(location.origin + location.pathname, 'https://app.example.com/done');
    assert.equal(location.searchParams.get('x'), '1');
    assert.equal(location.searchParams.get('bucket'), 'post');
    assert.equal(location.searchParams.get('key'), 'redirect/a b.txt');
    assert.equal(location.searchParams.get('etag'), `"${md5Hex(Buffer.from('redirected'))}"`);
    assert.equal((await getBytes('post', 'redirect/a b.txt')).toString(), 'redirected');
  });
});

describe('policy conditions', () => {
  const keyField = (k: string) => ({ name: 'key', value: k });

  test('eq_starts_with_and_exact_conditions_all_pass_and_metadata_and_Content_Type_are_stored', async () => {
    const res = await postForm(server, 'post-policy', [
      keyField('user/eric/photo.jpg'),
      { name: 'Content-Type', value: 'image/jpeg' },
      { name: 'x-amz-meta-uuid', value: '14365123651274' },
      { name: 'X-Amz-Meta-Tag', value: 'café' },
      { name: 'x-ignore-tracking', value: 'not in the policy' },
      ...signedPolicyFields(server, [
        { bucket: 'post-policy' },
        ['starts-with', '$key', 'user/eric/'],
        ['starts-with', '$Content-Type', 'image/'],
        ['eq', '$x-amz-meta-uuid', '14365123651274'],
        ['starts-with', '$x-amz-meta-tag', ''],
      ]),
      file(Buffer.from([0xff, 0xd8, 0xff, 0x00, 0x01])),
    ]);
    assert.equal(res.status, 204, res.body.toString());
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'post-policy', Key: 'user/eric/photo.jpg' }));
    assert.equal(head.ContentType, 'image/jpeg');
    assert.equal(head.Metadata?.['uuid'], '14365123651274');
    // Header bytes are UTF-8 read as Latin-1, exactly what a PutObject with the same header stores.
    assert.equal(Buffer.from(head.Metadata?.['tag'] ?? '', 'latin1').toString('utf8'), 'café');
    assert.equal(head.Metadata?.['tracking'], undefined);
  });

  const failures: [string, FormField[], unknown[], string][] = [
    ['a key outside starts-with', [keyField('user/bob/x')], [['starts-with', '$key', 'user/eric/']], 'Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "user/eric/"]'],
    ['a key not equal to the exact condition', [keyField('b')], [{ key: 'a' }], 'Invalid according to Policy: Policy Condition failed: ["eq", "$key", "a"]'],
    ['another bucket in the bucket condition', [keyField('k')], [{ bucket: 'elsewhere' }, { key: 'k' }], 'Invalid according to Policy: Policy Condition failed: ["eq", "$bucket", "elsewhere"]'],
    ['a field the policy does not mention', [keyField('k'), { name: 'x-amz-meta-extra', value: '1' }], [{ key: 'k' }], 'Invalid according to Policy: Extra input fields: x-amz-meta-extra'],
    ['a Content-Type of which one listed type fails starts-with', [keyField('k'), { name: 'content-type', value: 'image/png, text/html' }], [{ key: 'k' }, ['starts-with', '$Content-Type', 'image/']], 'Invalid according to Policy: Policy Condition failed: ["starts-with", "$Content-Type", "image/"]'],
  ];
  for (const [what, fields, conditions, message] of failures) {
    test(`PostObject_with_${what.replace(/\W+/g, '_')}_is_AccessDenied`, async () => {
      const res = await postForm(server, 'post-policy', [...fields, ...signedPolicyFields(server, conditions), file('denied')]);
      expectXmlError(res, 'AccessDenied');
      assert.equal(xmlField(res.body, 'Message')?.replace(/&quot;/g, '"'), message);
      assert.equal(await keyExists('post-policy', String(fields[0]!.value)), false);
    });
  }

  test('PostObject_without_the_auth_fields_in_the_policy_is_Extra_input_fields', async () => {
    const res = await postForm(server, 'post-policy', [keyField('k'), ...signedPolicyFields(server, [{ key: 'k' }], { omitAuthConditions: true }), file('x')]);
    expectXmlError(res, 'AccessDenied');
    assert.equal(xmlField(res.body, 'Message'), 'Invalid according to Policy: Extra input fields: x-amz-algorithm, x-amz-credential, x-amz-date');
  });

  test('PostObject_with_an_expired_policy_is_AccessDenied_Policy_expired', async () => {
    const res = await postForm(server, 'post-policy', [keyField('late'), ...signedPolicyFields(server, [{ key: 'late' }], { expiresInMs: -1000 }), file('x')]);
    expectXmlError(res, 'AccessDenied');
    assert.equal(xmlField(res.body, 'Message'), 'Invalid according to Policy: Policy expired.');
  });

  test('content_length_range_refuses_a_larger_file_with_EntityTooLarge_and_stores_nothing', async () => {
    const res = await postForm(server, 'post-policy', [keyField('big'), ...signedPolicyFields(server, [{ key: 'big' }, ['content-length-range', 1, 100_000]]), file(Buffer.alloc(300_000, 7))]);
    expectXmlError(res, 'EntityTooLarge');
    assert.equal(xmlField(res.body, 'MaxSizeAllowed'), '100000');
    assert.equal(await keyExists('post-policy', 'big'), false);
  });

  test('content_length_range_refuses_a_smaller_file_with_EntityTooSmall_and_stores_nothing', async () => {
    const res = await postForm(server, 'post-policy', [keyField('small'), ...signedPolicyFields(server, [{ key: 'small' }, ['content-length-range', 10, 100]]), file('tiny')]);
    expectXmlError(res, 'EntityTooSmall');
    assert.equal(xmlField(res.body, 'ProposedSize'), '4');
    assert.equal(xmlField(res.body, 'MinSizeAllowed'), '10');
    assert.equal(await keyExists('post-policy', 'small'), false);
  });

  test('content_length_range_bounds_are_inclusive', async () => {
    const res = await postForm(server, 'post-policy', [keyField('exact'), ...signedPolicyFields(server, [{ key: 'exact' }, ['content-length-range', 5, 5]]), file('12345')]);
    assert.equal(res.status, 204, res.body.toString());
  });

  test('a_policy_changed_after_signing_is_SignatureDoesNotMatch', async () => {
    const signed = signedPolicyFields(server, [{ key: 'k' }]);
    const withPolicy = (policy: string) => signed.map((f) => (f.name === 'policy' ? { ...f, value: policy } : f));
    // The signature no longer matches either: the signature is checked first, as S3 checks it.
    const tampered = await postForm(server, 'post-policy', [keyField('k'), ...withPolicy(Buffer.from('{"conditions":[]}').toString('base64')), file('x')]);
    expectXmlError(tampered, 'SignatureDoesNotMatch');
  });

  test('fields_after_the_file_are_ignored_as_S3_ignores_them', async () => {
    const res = await postForm(server, 'post-policy', [keyField('after'), ...signedPolicyFields(server, [{ key: 'after' }]), file('before'), { name: 'x-amz-meta-late', value: 'ignored' }, { name: 'key', value: 'other' }]);
    assert.equal(res.status, 204, res.body.toString());
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'post-policy', Key: 'after' }));
    assert.equal(head.Metadata?.['late'], undefined);
    assert.equal((await getBytes('post-policy', 'after')).toString(), 'before');
  });

  test('the_tagging_field_tags_the_object_and_an_acl_field_meets_Object_Ownership_as_on_PutObject', async () => {
    const tagging = '<Tagging><TagSet><Tag><Key>project</Key><Value>blue</Value></Tag></TagSet></Tagging>';
    const res = await postForm(server, 'post-policy', [{ name: 'key', value: 'tagged' }, { name: 'tagging', value: tagging }, ...signedPolicyFields(server, [{ key: 'tagged' }, { tagging }]), file('t')]);
    assert.equal(res.status, 204, res.body.toString());
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: 'post-policy', Key: 'tagged' }))).TagCount, 1);
    // ACLs are disabled (BucketOwnerEnforced): a public-read form is refused as the same PutObject is.
    const acl = await postForm(server, 'post-policy', [{ name: 'key', value: 'acl' }, { name: 'acl', value: 'public-read' }, ...signedPolicyFields(server, [{ key: 'acl' }, { acl: 'public-read' }]), file('a')]);
    expectXmlError(acl, 'AccessControlListNotSupported');
    assert.equal(await keyExists('post-policy', 'acl'), false);
  });

  test('field_names_are_case_insensitive_and_the_file_may_be_a_text_field', async () => {
    const res = await postForm(server, 'post-policy', [{ name: 'KEY', value: 'text-file' }, ...signedPolicyFields(server, [{ key: 'text-file' }]), { name: 'File', value: 'typed into a textarea' }]);
    assert.equal(res.status, 204, res.body.toString());
    assert.equal((await getBytes('post-policy', 'text-file')).toString(), 'typed into a textarea');
  });
});

describe('signature and form errors', () => {
  test('a_wrong_signature_is_SignatureDoesNotMatch', async () => {
    const res = await postForm(server, 'post', [{ name: 'key', value: 'forged' }, ...signedPolicyFields(server, [{ key: 'forged' }], { secretAccessKey: 'not-the-secret' }), file('x')]);
    expectXmlError(res, 'SignatureDoesNotMatch');
    const short = await postForm(server, 'post', [{ name: 'key', value: 'forged' }, ...signedPolicyFields(server, [{ key: 'forged' }], { signature: 'abcd' }), file('x')]);
    expectXmlError(short, 'SignatureDoesNotMatch');
    assert.equal(await keyExists('post', 'forged'), false);
  });

  test('an_unknown_access_key_is_InvalidAccessKeyId', async () => {
    const res = await postForm(server, 'post', [{ name: 'key', value: 'k' }, ...signedPolicyFields(server, [{ key: 'k' }], { accessKeyId: 'AKIDNOTKNOWN' }), file('x')]);
    expectXmlError(res, 'InvalidAccessKeyId');
  });

  test('a_missing_signing_field_is_InvalidArgument_naming_it', async () => {
    const fields = signedPolicyFields(server, [{ key: 'k' }]).filter((f) => f.name !== 'x-amz-date');
    const res = await postForm(server, 'post', [{ name: 'key', value: 'k' }, ...fields, file('x')]);
    expectXmlError(res, 'InvalidArgument');
    assert.equal(xmlField(res.body, 'ArgumentName'), 'x-amz-date');
  });

  test('a_form_without_key_is_InvalidArgument', async () => {
    const res = await postForm(server, 'post', [...signedPolicyFields(server, []), file('x')]);
    expectXmlError(res, 'InvalidArgument');
    assert.equal(xmlField(res.body, 'ArgumentName'), 'key');
  });

  test('a_form_without_file_is_IncorrectNumberOfFilesInPostRequest', async () => {
    const res = await postForm(server, 'post', [{ name: 'key', value: 'k' }, ...signedPolicyFields(server, [{ key: 'k' }])]);
    expectXmlError(res, 'IncorrectNumberOfFilesInPostRequest');
  });

  test('a_POST_that_is_not_multipart_form_data_is_PreconditionFailed', async () => {
    const res = await rawRequest(server, { method: 'POST', path: '/post', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: Buffer.from('key=k') });
    expectXmlError(res, 'PreconditionFailed');
    assert.equal(xmlField(res.body, 'Condition'), 'Bucket POST must be of the enclosure-type multipart/form-data');
  });

  test('a_body_that_is_not_well_formed_is_MalformedPOSTRequest', async () => {
    // A signed form whose file never reaches its closing boundary: the upload fails and leaves nothing.
    const truncated = formBody([{ name: 'key', value: 'cut' }, ...signedPolicyFields(server, [{ key: 'cut' }]), file('never ends')]).subarray(0, -10);
    const res = await rawRequest(server, { method: 'POST', path: '/post', headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` }, body: truncated });
    expectXmlError(res, 'MalformedPOSTRequest');
    assert.equal(await keyExists('post', 'cut'), false);
    const noDisposition = Buffer.from(`--${BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nx\r\n--${BOUNDARY}--\r\n`);
    expectXmlError(await rawRequest(server, { method: 'POST', path: '/post', headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` }, body: noDisposition }), 'MalformedPOSTRequest');
  });

  test('more_than_20_KB_of_fields_before_the_file_is_MaxPostPreDataLengthExceededError', async () => {
    const res = await postForm(server, 'post', [{ name: 'key', value: 'k' }, { name: 'x-amz-meta-big', value: 'x'.repeat(21 * 1024) }, file('x')]);
    expectXmlError(res, 'MaxPostPreDataLengthExceededError');
  });

  test('a_SigV2_form_is_refused_with_InvalidRequest', async () => {
    const res = await postForm(server, 'post', [{ name: 'key', value: 'k' }, { name: 'AWSAccessKeyId', value: server.accessKeyId }, { name: 'policy', value: 'e30=' }, { name: 'signature', value: 'abc' }, file('x')]);
    expectXmlError(res, 'InvalidRequest');
  });
});

describe('encryption and access, as for PutObject', () => {
  test('the_bucket_default_encryption_applies_to_a_form_without_SSE_fields', async () => {
    await s3.send(new PutBucketEncryptionCommand({ Bucket: 'post-kms-default', ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: keyArn } }] } }));
    const res = await postForm(server, 'post-kms-default', [{ name: 'key', value: 'd' }, ...signedPolicyFields(server, [{ key: 'd' }]), file('by default')]);
    assert.equal(res.status, 204, res.body.toString());
    assert.equal(res.headers['x-amz-server-side-encryption'], 'aws:kms');
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: 'post-kms-default', Key: 'd' }))).SSEKMSKeyId, keyArn);
  });

  test('SSE_C_fields_are_refused_where_the_bucket_blocks_SSE_C_as_PutObject_refuses_them', async () => {
    const sseC = {
      'x-amz-server-side-encryption-customer-algorithm': 'AES256',
      'x-amz-server-side-encryption-customer-key': CUSTOMER_KEY.toString('base64'),
      'x-amz-server-side-encryption-customer-key-md5': md5Base64(CUSTOMER_KEY),
    };
    const put = await expectS3Error(s3.send(new PutObjectCommand({ Bucket: 'post-ssec', Key: 'p', Body: 'x', SSECustomerAlgorithm: 'AES256', SSECustomerKey: CUSTOMER_KEY.toString('base64') })), 'AccessDenied', 403);
    const res = await postForm(server, 'post-ssec', [{ name: 'key', value: 'c' }, ...fieldList(sseC), ...signedPolicyFields(server, [{ key: 'c' }, ...Object.entries(sseC).map(([k, v]) => ({ [k]: v }))]), file('secret')]);
    expectXmlError(res, 'AccessDenied');
    assert.equal(xmlField(res.body, 'Message'), put.message);
  });

  test('SSE_C_fields_encrypt_with_the_customer_key_once_the_bucket_allows_it', async () => {
    await s3.send(new PutBucketEncryptionCommand({ Bucket: 'post-ssec', ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' }, BlockedEncryptionTypes: { EncryptionType: ['NONE'] } }] } }));
    const sseC = {
      'x-amz-server-side-encryption-customer-algorithm': 'AES256',
      'x-amz-server-side-encryption-customer-key': CUSTOMER_KEY.toString('base64'),
      'x-amz-server-side-encryption-customer-key-md5': md5Base64(CUSTOMER_KEY),
    };
    const res = await postForm(server, 'post-ssec', [{ name: 'key', value: 'c' }, ...fieldList(sseC), ...signedPolicyFields(server, [{ key: 'c' }, ...Object.entries(sseC).map(([k, v]) => ({ [k]: v }))]), file('secret')]);
    assert.equal(res.status, 204, res.body.toString());
    assert.equal(res.headers['x-amz-server-side-encryption-customer-algorithm'], 'AES256');
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: 'post-ssec', Key: 'c' })), 'InvalidRequest', 400);
    const got = await getBytes('post-ssec', 'c', { SSECustomerAlgorithm: 'AES256', SSECustomerKey: CUSTOMER_KEY.toString('base64') });
    assert.equal(got.toString(), 'secret');
  });

  test('a_bucket_policy_requiring_aws_kms_sees_the_form_SSE_field', async () => {
    await s3.send(
      new PutBucketPolicyCommand({
        Bucket: 'post-policy',
        Policy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Deny', Principal: '*', Action: 's3:PutObject', Resource: 'arn:aws:s3:::post-policy/kms-only/*', Condition: { StringNotEquals: { 's3:x-amz-server-side-encryption': 'aws:kms' } } }],
        }),
      }),
    );
    const plain = await postForm(server, 'post-policy', [{ name: 'key', value: 'kms-only/a' }, ...signedPolicyFields(server, [{ key: 'kms-only/a' }]), file('x')]);
    expectXmlError(plain, 'AccessDenied');
    assert.equal(xmlField(plain.body, 'Message'), 'Access Denied');
    const kms = await postForm(server, 'post-policy', [
      { name: 'key', value: 'kms-only/b' },
      { name: 'x-amz-server-side-encryption', value: 'aws:kms' },
      ...signedPolicyFields(server, [{ key: 'kms-only/b' }, { 'x-amz-server-side-encryption': 'aws:kms' }]),
      file('x'),
    ]);
    assert.equal(kms.status, 204, kms.body.toString());
  });

  test('the_s3_authType_condition_key_is_POST_for_a_form_upload', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'post-authtype' }));
    await s3.send(
      new PutBucketPolicyCommand({
        Bucket: 'post-authtype',
        Policy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Deny', Principal: '*', Action: 's3:PutObject', Resource: 'arn:aws:s3:::post-authtype/*', Condition: { StringEquals: { 's3:authType': 'POST' } } }],
        }),
      }),
    );
    const form = await postForm(server, 'post-authtype', [{ name: 'key', value: 'f' }, ...signedPolicyFields(server, [{ key: 'f' }]), file('x')]);
    expectXmlError(form, 'AccessDenied');
    await s3.send(new PutObjectCommand({ Bucket: 'post-authtype', Key: 'f', Body: 'by PUT' }));
  });

  test('an_anonymous_form_is_AccessDenied_unless_the_bucket_policy_lets_anyone_write', async () => {
    const denied = await postForm(server, 'post-public', [{ name: 'key', value: 'anon' }, file('x')]);
    expectXmlError(denied, 'AccessDenied');
    await s3.send(new DeletePublicAccessBlockCommand({ Bucket: 'post-public' }));
    await s3.send(
      new PutBucketPolicyCommand({
        Bucket: 'post-public',
        Policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:PutObject', Resource: 'arn:aws:s3:::post-public/drop/*' }] }),
      }),
    );
    const outside = await postForm(server, 'post-public', [{ name: 'key', value: 'anon' }, file('x')]);
    expectXmlError(outside, 'AccessDenied');
    const allowed = await postForm(server, 'post-public', [{ name: 'key', value: 'drop/${filename}' }, file('anonymous drop', 'note.txt')]);
    assert.equal(allowed.status, 204, allowed.body.toString());
    assert.equal((await getBytes('post-public', 'drop/note.txt')).toString(), 'anonymous drop');
  });
});

describe('streaming', () => {
  test('a_large_file_is_streamed_through_bounded_memory_and_reads_back_exactly', async () => {
    const size = 300 * MiB;
    const fields = [{ name: 'key', value: 'large.bin' }, ...signedPolicyFields(server, [{ key: 'large.bin' }, ['content-length-range', 0, size]])];
    const head = formBody([...fields, file(Buffer.alloc(0))]);
    // The body is the form up to the file's content, the file streamed, then the closing boundary.
    const closing = Buffer.from(`\r\n--${BOUNDARY}--\r\n`);
    const prefix = head.subarray(0, head.length - closing.length);
    const expected = createHash('sha256');
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({
        host: '127.0.0.1',
        port: server.port,
        method: 'POST',
        path: '/post',
        headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, 'content-length': String(prefix.length + size + closing.length) },
      });
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      });
      req.on('error', reject);
      void (async () => {
        req.write(prefix);
        const chunk = Buffer.alloc(MiB);
        for (let i = 0; i < size / MiB; i++) {
          chunk.writeUInt32BE(i, 0);
          chunk.fill(i & 0xff, 4);
          expected.update(chunk);
          if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
        }
        req.end(closing);
      })();
    });
    assert.equal(status, 204);
    const got = await s3.send(new GetObjectCommand({ Bucket: 'post', Key: 'large.bin' }));
    assert.equal(got.ContentLength, size);
    const actual = createHash('sha256');
    for await (const c of got.Body as AsyncIterable<Buffer>) actual.update(c);
    assert.equal(actual.digest('hex'), expected.digest('hex'));
    const peak = await server.peakRss();
    console.log(`# server peak RSS after a 300 MiB form upload: ${(peak / MiB).toFixed(1)} MiB`);
    // Holding the file would need > 300 MiB on top of what a Node process starts with.
    assert.ok(peak < 200 * MiB, `peak RSS ${(peak / MiB).toFixed(1)} MiB suggests buffering`);
  });
});
