/**
 * Presigned URLs made by @aws-sdk/s3-request-presigner carry the x-amz-* headers they
 * sign in the query string (`?x-amz-meta-a=…&x-amz-tagging=…`): S3 honours them as
 * headers. Coffer must too — ignoring them stores an object without the metadata,
 * tags or checksum its URL was signed for (accepted and ignored).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CopyObjectCommand, CreateBucketCommand, GetObjectTaggingCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { expectXmlError, rawRequest, xmlField } from '../helpers/raw-s3.js';
import { startServer, type TestServer } from '../helpers/server.js';

describe('presigned URLs: hoisted x-amz-* query parameters are headers', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
    await server.client().send(new CreateBucketCommand({ Bucket: 'hoisted' }));
  });
  after(() => server.destroy());

  const presign = async (command: PutObjectCommand | CopyObjectCommand) => new URL(await getSignedUrl(server.client(), command as PutObjectCommand, { expiresIn: 300 }));

  test('a_presigned_PutObject_keeps_the_metadata_and_tags_it_was_signed_with', async () => {
    const url = await presign(new PutObjectCommand({ Bucket: 'hoisted', Key: 'meta', Metadata: { project: 'coffer' }, Tagging: 'team=storage' }));
    assert.equal(url.searchParams.get('x-amz-meta-project'), 'coffer', 'the presigner hoisted the metadata into the query');
    const put = await rawRequest(server, { method: 'PUT', path: `${url.pathname}${url.search}`, body: Buffer.from('hello') });
    assert.equal(put.status, 200, put.body.toString());
    const head = await server.client().send(new HeadObjectCommand({ Bucket: 'hoisted', Key: 'meta' }));
    assert.deepEqual(head.Metadata, { project: 'coffer' });
    const tags = await server.client().send(new GetObjectTaggingCommand({ Bucket: 'hoisted', Key: 'meta' }));
    assert.deepEqual(tags.TagSet, [{ Key: 'team', Value: 'storage' }]);
  });

  test('a_hoisted_storage_class_is_judged_as_the_header_would_be', async () => {
    const url = await presign(new PutObjectCommand({ Bucket: 'hoisted', Key: 'class', StorageClass: 'GLACIER' }));
    const res = await rawRequest(server, { method: 'PUT', path: `${url.pathname}${url.search}`, body: Buffer.from('x') });
    expectXmlError(res, 'InvalidStorageClass');
    await assert.rejects(server.client().send(new HeadObjectCommand({ Bucket: 'hoisted', Key: 'class' })));
  });

  test('hoisted_checksums_are_not_used_as_S3_documents_for_presigned_URLs_and_the_default_SDK_URL_uploads', async () => {
    // The SDK signs CRC32 of an empty body into every presigned PutObject (AAAAAA==).
    const url = await presign(new PutObjectCommand({ Bucket: 'hoisted', Key: 'sum' }));
    assert.equal(url.searchParams.get('x-amz-checksum-crc32'), 'AAAAAA==');
    const res = await rawRequest(server, { method: 'PUT', path: `${url.pathname}${url.search}`, body: Buffer.from('hello') });
    assert.equal(res.status, 200, res.body.toString());
    // Content-MD5, what S3 recommends for presigned uploads, is checked.
    const md5 = await presign(new PutObjectCommand({ Bucket: 'hoisted', Key: 'md5', ContentMD5: 'XUFAKrxLKna5cZ2REBfFkg==' }));
    const bad = await rawRequest(server, { method: 'PUT', path: `${md5.pathname}${md5.search}`, headers: { 'content-md5': 'XUFAKrxLKna5cZ2REBfFkg==' }, body: Buffer.from('jello') });
    expectXmlError(bad, 'BadDigest');
  });

  test('a_presigned_CopyObject_routes_by_its_hoisted_x_amz_copy_source', async () => {
    await server.client().send(new PutObjectCommand({ Bucket: 'hoisted', Key: 'source', Body: 'copy me' }));
    const url = await presign(new CopyObjectCommand({ Bucket: 'hoisted', Key: 'copied', CopySource: 'hoisted/source' }));
    assert.ok(url.searchParams.has('x-amz-copy-source'), url.search);
    const res = await rawRequest(server, { method: 'PUT', path: `${url.pathname}${url.search}` });
    assert.equal(res.status, 200, res.body.toString());
    assert.match(res.body.toString(), /<CopyObjectResult/);
    const head = await server.client().send(new HeadObjectCommand({ Bucket: 'hoisted', Key: 'copied' }));
    assert.equal(head.ContentLength, 7);
  });

  test('a_header_added_to_a_presigned_URL_with_a_hoisted_name_is_403_HeadersNotSigned_as_S3_and_stores_nothing', async () => {
    const url = await presign(new PutObjectCommand({ Bucket: 'hoisted', Key: 'both', Tagging: 'a=1' }));
    const res = await rawRequest(server, { method: 'PUT', path: `${url.pathname}${url.search}`, headers: { 'x-amz-tagging': 'a=2' }, body: Buffer.from('x') });
    expectXmlError(res, 'AccessDenied');
    assert.equal(xmlField(res.body, 'HeadersNotSigned'), 'x-amz-tagging');
    await assert.rejects(server.client().send(new HeadObjectCommand({ Bucket: 'hoisted', Key: 'both' })));
  });
});
