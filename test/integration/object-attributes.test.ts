/**
 * GetObjectAttributes with @aws-sdk/client-s3 (issue 21 item 3), as S3 answers it: ETag
 * unquoted, the object checksum (a COMPOSITE one without its `-N`), ObjectParts of multipart
 * objects paged by MaxParts / PartNumberMarker with each part's size and checksum,
 * StorageClass, ObjectSize, Last-Modified; only the attributes asked for; SSE-C objects
 * only with their key.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectAttributesCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import { checksumBase64, compositeChecksum, expectS3Error, md5Hex, multipartEtag } from '../helpers/s3.js';
import { startServer, type TestServer } from '../helpers/server.js';

const B = 'attrs';
const MIN = 5 * 1024 * 1024;
const ALL = ['ETag', 'Checksum', 'ObjectParts', 'StorageClass', 'ObjectSize'] as const;

describe('GetObjectAttributes (issue 21 item 3)', () => {
  let server: TestServer;
  let s3: S3Client;
  const parts = [randomBytes(MIN), randomBytes(MIN), randomBytes(1234)];

  before(async () => {
    server = await startServer({ args: ['--default-sse-c', 'allowed'] });
    s3 = server.client();
    await s3.send(new CreateBucketCommand({ Bucket: B }));
    const up = await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'mp', ChecksumAlgorithm: 'SHA256' }));
    const done: CompletedPart[] = [];
    for (const [i, body] of parts.entries()) {
      const out = await s3.send(new UploadPartCommand({ Bucket: B, Key: 'mp', UploadId: up.UploadId!, PartNumber: i + 1, Body: body, ChecksumAlgorithm: 'SHA256' }));
      done.push({ PartNumber: i + 1, ETag: out.ETag!, ChecksumSHA256: out.ChecksumSHA256! });
    }
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: 'mp', UploadId: up.UploadId!, MultipartUpload: { Parts: done } }));
  });
  after(async () => {
    await server?.destroy();
  });

  test('single-part object: ETag (unquoted), Checksum, StorageClass, ObjectSize, LastModified; no ObjectParts', async () => {
    const body = randomBytes(4321);
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'one', Body: body, ChecksumAlgorithm: 'CRC32' }));
    const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'one' }));
    const out = await s3.send(new GetObjectAttributesCommand({ Bucket: B, Key: 'one', ObjectAttributes: [...ALL] }));
    assert.equal(out.ETag, md5Hex(body));
    assert.equal(out.Checksum?.ChecksumCRC32, checksumBase64('CRC32', body));
    assert.equal(out.Checksum?.ChecksumType, 'FULL_OBJECT');
    assert.equal(out.StorageClass, 'STANDARD');
    assert.equal(out.ObjectSize, body.length);
    assert.equal(out.ObjectParts, undefined);
    assert.equal(out.LastModified?.getTime(), head.LastModified?.getTime());
  });

  test('only the attributes asked for', async () => {
    const out = await s3.send(new GetObjectAttributesCommand({ Bucket: B, Key: 'mp', ObjectAttributes: ['ObjectSize'] }));
    assert.equal(out.ObjectSize, MIN * 2 + 1234);
    assert.equal(out.ETag, undefined);
    assert.equal(out.Checksum, undefined);
    assert.equal(out.ObjectParts, undefined);
    assert.equal(out.StorageClass, undefined);
  });

  test('multipart object with SHA256 part checksums: composite checksum without -N, every part', async () => {
    const out = await s3.send(new GetObjectAttributesCommand({ Bucket: B, Key: 'mp', ObjectAttributes: [...ALL] }));
    assert.equal(out.ETag, multipartEtag(parts).slice(1, -1));
    assert.equal(out.Checksum?.ChecksumSHA256, compositeChecksum('SHA256', parts).replace(/-3$/, ''));
    assert.equal(out.Checksum?.ChecksumType, 'COMPOSITE');
    assert.equal(out.ObjectSize, MIN * 2 + 1234);
    const op = out.ObjectParts!;
    assert.equal(op.TotalPartsCount, 3);
    assert.equal(op.IsTruncated, false);
    assert.equal(op.MaxParts, 1000);
    assert.equal(op.PartNumberMarker, '0');
    assert.equal(op.NextPartNumberMarker, '3');
    assert.deepEqual(
      op.Parts?.map((p) => [p.PartNumber, p.Size, p.ChecksumSHA256]),
      parts.map((p, i) => [i + 1, p.length, checksumBase64('SHA256', p)]),
    );
  });

  test('ObjectParts pages with MaxParts and PartNumberMarker', async () => {
    const first = await s3.send(new GetObjectAttributesCommand({ Bucket: B, Key: 'mp', ObjectAttributes: ['ObjectParts'], MaxParts: 2 }));
    assert.equal(first.ObjectParts?.IsTruncated, true);
    assert.equal(first.ObjectParts?.MaxParts, 2);
    assert.equal(first.ObjectParts?.NextPartNumberMarker, '2');
    assert.deepEqual(first.ObjectParts?.Parts?.map((p) => p.PartNumber), [1, 2]);
    const second = await s3.send(
      new GetObjectAttributesCommand({ Bucket: B, Key: 'mp', ObjectAttributes: ['ObjectParts'], MaxParts: 2, PartNumberMarker: first.ObjectParts!.NextPartNumberMarker! }),
    );
    assert.equal(second.ObjectParts?.IsTruncated, false);
    assert.equal(second.ObjectParts?.PartNumberMarker, '2');
    assert.deepEqual(second.ObjectParts?.Parts?.map((p) => [p.PartNumber, p.Size]), [[3, 1234]]);
    assert.equal(second.ObjectParts?.TotalPartsCount, 3);
  });

  test('multipart object without part checksums: the parts count, no Part elements (general purpose buckets)', async () => {
    const plain = server.client({ requestChecksumCalculation: 'WHEN_REQUIRED' });
    const up = await plain.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'mp-plain' }));
    const a = await plain.send(new UploadPartCommand({ Bucket: B, Key: 'mp-plain', UploadId: up.UploadId!, PartNumber: 1, Body: parts[0] }));
    const b = await plain.send(new UploadPartCommand({ Bucket: B, Key: 'mp-plain', UploadId: up.UploadId!, PartNumber: 2, Body: parts[2] }));
    await plain.send(
      new CompleteMultipartUploadCommand({ Bucket: B, Key: 'mp-plain', UploadId: up.UploadId!, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: a.ETag! }, { PartNumber: 2, ETag: b.ETag! }] } }),
    );
    const out = await plain.send(new GetObjectAttributesCommand({ Bucket: B, Key: 'mp-plain', ObjectAttributes: [...ALL] }));
    assert.equal(out.ObjectParts?.TotalPartsCount, 2);
    assert.equal(out.ObjectParts?.Parts, undefined);
    assert.equal(out.Checksum, undefined);
    assert.equal(out.ETag, multipartEtag([parts[0]!, parts[2]!]).slice(1, -1));
  });

  test('SSE-C object: 400 without its key, 403 with another, 200 with it', async () => {
    const key = randomBytes(32);
    const sse = (k: Buffer) => ({ SSECustomerAlgorithm: 'AES256', SSECustomerKey: k.toString('base64') });
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'ssec', Body: 'secret', ...sse(key) }));
    await expectS3Error(s3.send(new GetObjectAttributesCommand({ Bucket: B, Key: 'ssec', ObjectAttributes: ['ETag'] })), 'InvalidRequest', 400);
    await expectS3Error(s3.send(new GetObjectAttributesCommand({ Bucket: B, Key: 'ssec', ObjectAttributes: ['ETag'], ...sse(randomBytes(32)) })), 'AccessDenied', 403);
    const out = await s3.send(new GetObjectAttributesCommand({ Bucket: B, Key: 'ssec', ObjectAttributes: ['ObjectSize', 'StorageClass'], ...sse(key) }));
    assert.equal(out.ObjectSize, 6);
  });

  test('errors: no such key 404 NoSuchKey; an unknown attribute 400 InvalidArgument; a malformed version id 400 InvalidArgument (S3: Invalid version id specified)', async () => {
    await expectS3Error(s3.send(new GetObjectAttributesCommand({ Bucket: B, Key: 'missing', ObjectAttributes: ['ETag'] })), 'NoSuchKey', 404);
    await expectS3Error(s3.send(new GetObjectAttributesCommand({ Bucket: B, Key: 'mp', ObjectAttributes: ['Colour' as never] })), 'InvalidArgument', 400);
    await expectS3Error(s3.send(new GetObjectAttributesCommand({ Bucket: B, Key: 'mp', ObjectAttributes: ['ETag'], VersionId: 'v1' })), 'InvalidArgument', 400);
    await expectS3Error(s3.send(new GetObjectAttributesCommand({ Bucket: 'no-such-bucket-x', Key: 'mp', ObjectAttributes: ['ETag'] })), 'NoSuchBucket', 404);
  });
});
