/**
 * Unsigned x-amz-* headers are refused, as S3 refuses them: 403 AccessDenied,
 * "There were headers present in the request which were not signed", with a
 * HeadersNotSigned field. Without that, anyone holding a presigned PUT URL (or
 * a captured signed request) could add `x-amz-copy-source` and copy any object
 * the signer can read, or add SSE-C keys, tags, metadata or an ACL.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { GetUserCommand, IAMClient } from '@aws-sdk/client-iam';
import { ListKeysCommand } from '@aws-sdk/client-kms';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { kmsClient, rejectsWithSdkError } from '../helpers/kms.js';
import { expectXmlError, rawRequest, signedRequest, xmlField } from '../helpers/raw-s3.js';
import { bodyBytes, expectS3Error } from '../helpers/s3.js';
import { startServer, type TestServer } from '../helpers/server.js';

/** Adds headers to every request after it was signed (the deserialize step sees the signed request). */
function addAfterSigning(client: { middlewareStack: { add: (...args: never[]) => void } }, headers: Record<string, string>): void {
  const add = client.middlewareStack.add as unknown as (mw: unknown, options: { step: string; name: string }) => void;
  add(
    (next: (args: { request: { headers: Record<string, string> } }) => unknown) => (args: { request: { headers: Record<string, string> } }) => {
      Object.assign(args.request.headers, headers);
      return next(args);
    },
    { step: 'deserialize', name: 'addUnsignedHeaders' },
  );
}

describe('unsigned x-amz-* headers (issue: security holes found by a hostile-client campaign, item 1)', () => {
  let server: TestServer;
  const secret = Buffer.from('the secret the signer can read');

  before(async () => {
    server = await startServer();
    const root = server.client();
    await root.send(new CreateBucketCommand({ Bucket: 'private' }));
    await root.send(new CreateBucketCommand({ Bucket: 'uploads' }));
    await root.send(new PutObjectCommand({ Bucket: 'private', Key: 'secret.txt', Body: secret }));
  });
  after(async () => {
    await server.destroy();
  });

  test('PutObject_presigned_URL_plus_unsigned_x_amz_copy_source_is_AccessDenied_and_copies_nothing', async () => {
    const url = new URL(await getSignedUrl(server.client(), new PutObjectCommand({ Bucket: 'uploads', Key: 'target' }), { expiresIn: 300 }));
    const res = await rawRequest(server, { method: 'PUT', path: `${url.pathname}${url.search}`, headers: { 'x-amz-copy-source': '/private/secret.txt' }, body: Buffer.alloc(0) });
    expectXmlError(res, 'AccessDenied');
    assert.equal(xmlField(res.body, 'Message'), 'There were headers present in the request which were not signed');
    assert.equal(xmlField(res.body, 'HeadersNotSigned'), 'x-amz-copy-source');
    await expectS3Error(server.client().send(new HeadObjectCommand({ Bucket: 'uploads', Key: 'target' })), 'NotFound', 404);
    // The same URL, used as meant, still works.
    const ok = await rawRequest(server, { method: 'PUT', path: `${url.pathname}${url.search}`, body: Buffer.from('hello') });
    assert.equal(ok.status, 200, ok.body.toString());
    assert.equal((await bodyBytes(await server.client().send(new GetObjectCommand({ Bucket: 'uploads', Key: 'target' })))).toString(), 'hello');
  });

  test('PutObject_presigned_URL_plus_unsigned_SSE_C_tagging_metadata_and_ACL_headers_are_refused', async () => {
    const url = new URL(await getSignedUrl(server.client(), new PutObjectCommand({ Bucket: 'uploads', Key: 'extras' }), { expiresIn: 300 }));
    const key = randomBytes(32);
    const cases: Record<string, string>[] = [
      {
        'x-amz-server-side-encryption-customer-algorithm': 'AES256',
        'x-amz-server-side-encryption-customer-key': key.toString('base64'),
        'x-amz-server-side-encryption-customer-key-md5': createHash('md5').update(key).digest('base64'),
      },
      { 'x-amz-tagging': 'a=b' },
      { 'x-amz-meta-owner': 'mallory' },
      { 'x-amz-acl': 'public-read' },
      { 'x-amz-server-side-encryption': 'aws:kms' },
    ];
    for (const headers of cases) {
      const res = await rawRequest(server, { method: 'PUT', path: `${url.pathname}${url.search}`, headers, body: Buffer.from('x') });
      expectXmlError(res, 'AccessDenied');
      assert.equal(xmlField(res.body, 'HeadersNotSigned'), Object.keys(headers).sort().join(', '));
    }
    await expectS3Error(server.client().send(new HeadObjectCommand({ Bucket: 'uploads', Key: 'extras' })), 'NotFound', 404);
  });

  test('PutObject_header_signed_request_plus_unsigned_x_amz_header_is_AccessDenied', async () => {
    // A captured signed request replayed with one more header (the signature is still valid for what was signed).
    const body = Buffer.from('data');
    const signed = await signedRequest(server, { method: 'PUT', path: '/uploads/replayed', body });
    assert.equal(signed.status, 200);
    const client = server.client();
    addAfterSigning(client, { 'x-amz-copy-source': '/private/secret.txt' });
    await expectS3Error(client.send(new PutObjectCommand({ Bucket: 'uploads', Key: 'replayed', Body: 'data' })), 'AccessDenied', 403);
    const stored = await bodyBytes(await server.client().send(new GetObjectCommand({ Bucket: 'uploads', Key: 'replayed' })));
    assert.equal(stored.toString(), 'data', 'the object is not the secret');
  });

  test('GetObject_presigned_URL_plus_unsigned_x_amz_request_payer_is_AccessDenied', async () => {
    const url = new URL(await getSignedUrl(server.client(), new GetObjectCommand({ Bucket: 'private', Key: 'secret.txt' }), { expiresIn: 300 }));
    const res = await rawRequest(server, { method: 'GET', path: `${url.pathname}${url.search}`, headers: { 'x-amz-request-payer': 'requester' } });
    expectXmlError(res, 'AccessDenied');
    const ok = await rawRequest(server, { method: 'GET', path: `${url.pathname}${url.search}` });
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.body, secret);
  });

  test('KMS_request_plus_unsigned_x_amz_header_is_IncompleteSignatureException', async () => {
    const kms = kmsClient(server);
    addAfterSigning(kms, { 'x-amz-extra': '1' });
    await rejectsWithSdkError(kms.send(new ListKeysCommand({})), 'IncompleteSignatureException');
    await assert.rejects(kms.send(new ListKeysCommand({})), /not signed: x-amz-extra/);
    assert.ok((await kmsClient(server).send(new ListKeysCommand({}))).Keys, 'unchanged requests still work');
  });

  test('IAM_request_plus_unsigned_x_amz_header_is_IncompleteSignature', async () => {
    const make = () => new IAMClient({ endpoint: server.url, region: 'us-east-1', credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey }, maxAttempts: 1 });
    const iam = make();
    addAfterSigning(iam, { 'x-amz-extra': '1' });
    await assert.rejects(iam.send(new GetUserCommand({})), (err: { name?: string; $metadata?: { httpStatusCode?: number } }) => {
      assert.equal(err.name, 'IncompleteSignature');
      assert.equal(err.$metadata?.httpStatusCode, 400);
      return true;
    });
    await make().send(new GetUserCommand({}));
  });
});
