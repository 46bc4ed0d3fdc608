/**
 * Never silently ignore (issue 21, item 1): every x-amz-* request header S3 defines for a
 * routed operation is honoured or refused. The table below has one row per operation ×
 * header, sent as a signed raw request, and asserts the status and the error Code. The
 * rules and S3's behaviour behind each are listed in src/s3/request-headers.ts; headers the
 * handlers validate themselves (SSE, checksums, ACLs, tagging, storage class…) have their
 * own tests (sse, acl, ownership, objects, multipart).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  GetObjectLockConfigurationCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { S3_ERRORS, type S3ErrorCode } from '../../src/errors/s3-errors.js';
import { expectXmlError, signedRequest, type RawResponse } from '../helpers/raw-s3.js';
import { bodyBytes, expectS3Error } from '../helpers/s3.js';
import { startServer, type TestServer } from '../helpers/server.js';

interface Row {
  /** `<Operation> <header>=<value>: what S3 does`. */
  name: string;
  method: string;
  /** Path under the bucket; `{upload}` is replaced by an open upload's id. */
  path: string;
  query?: Record<string, string>;
  headers: Record<string, string>;
  body?: string;
  /** An S3 error code, or a success status. */
  expect: S3ErrorCode | number;
}

const B = 'hdr';
const WRONG_OWNER = '111122223333';

describe('x-amz-* request headers: honoured or refused (issue 21 item 1)', () => {
  let server: TestServer;
  let s3: S3Client;
  let owner: string;
  let uploadId: string;
  let partEtag: string;

  before(async () => {
    server = await startServer();
    s3 = server.client();
    const sts = new STSClient({ endpoint: server.url, region: 'us-east-1', credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey } });
    owner = (await sts.send(new GetCallerIdentityCommand({}))).Account!;
    await s3.send(new CreateBucketCommand({ Bucket: B }));
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'obj', Body: 'object body' }));
    const up = await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'mp' }));
    uploadId = up.UploadId!;
    partEtag = (await s3.send(new UploadPartCommand({ Bucket: B, Key: 'mp', UploadId: uploadId, PartNumber: 1, Body: 'part one' }))).ETag!;
  });
  after(async () => {
    await server?.destroy();
  });

  const completeBody = () => `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${partEtag}</ETag></Part></CompleteMultipartUpload>`;

  /** The wrong-owner rows: every bucket and object operation checks x-amz-expected-bucket-owner (S3: 403 AccessDenied). */
  const wrongOwnerRows = (): Row[] => {
    const h = { 'x-amz-expected-bucket-owner': WRONG_OWNER };
    const ops: (Omit<Row, 'name' | 'expect' | 'headers'> & { op: string; headers?: Record<string, string> })[] = [
      { op: 'HeadBucket', method: 'HEAD', path: '' },
      { op: 'DeleteBucket', method: 'DELETE', path: '' },
      { op: 'GetBucketLocation', method: 'GET', path: '', query: { location: '' } },
      { op: 'GetBucketVersioning', method: 'GET', path: '', query: { versioning: '' } },
      { op: 'ListObjects', method: 'GET', path: '' },
      { op: 'ListObjectsV2', method: 'GET', path: '', query: { 'list-type': '2' } },
      { op: 'ListMultipartUploads', method: 'GET', path: '', query: { uploads: '' } },
      { op: 'GetBucketEncryption', method: 'GET', path: '', query: { encryption: '' } },
      { op: 'GetBucketPolicyStatus', method: 'GET', path: '', query: { policyStatus: '' } },
      { op: 'GetPublicAccessBlock', method: 'GET', path: '', query: { publicAccessBlock: '' } },
      { op: 'GetBucketOwnershipControls', method: 'GET', path: '', query: { ownershipControls: '' } },
      { op: 'GetBucketAcl', method: 'GET', path: '', query: { acl: '' } },
      { op: 'PutObject', method: 'PUT', path: '/new' },
      { op: 'GetObject', method: 'GET', path: '/obj' },
      { op: 'HeadObject', method: 'HEAD', path: '/obj' },
      { op: 'DeleteObject', method: 'DELETE', path: '/obj' },
      { op: 'DeleteObjects', method: 'POST', path: '', query: { delete: '' } },
      { op: 'CopyObject', method: 'PUT', path: '/copy', headers: { 'x-amz-copy-source': `/${B}/obj` } },
      { op: 'UploadPartCopy', method: 'PUT', path: '/mp', query: { uploadId: '{upload}', partNumber: '4' }, headers: { 'x-amz-copy-source': `/${B}/obj` } },
      { op: 'GetObjectTagging', method: 'GET', path: '/obj', query: { tagging: '' } },
      { op: 'DeleteObjectTagging', method: 'DELETE', path: '/obj', query: { tagging: '' } },
      { op: 'GetObjectAcl', method: 'GET', path: '/obj', query: { acl: '' } },
      { op: 'CreateMultipartUpload', method: 'POST', path: '/mp2', query: { uploads: '' } },
      { op: 'UploadPart', method: 'PUT', path: '/mp', query: { uploadId: '{upload}', partNumber: '2' } },
      { op: 'ListParts', method: 'GET', path: '/mp', query: { uploadId: '{upload}' } },
      { op: 'CompleteMultipartUpload', method: 'POST', path: '/mp', query: { uploadId: '{upload}' } },
      { op: 'AbortMultipartUpload', method: 'DELETE', path: '/mp', query: { uploadId: '{upload}' } },
    ];
    return ops.map(({ op, headers, ...rest }) => {
      return { ...rest, name: `${op} x-amz-expected-bucket-owner=<another account>: 403 AccessDenied`, headers: { ...headers, ...h }, expect: 'AccessDenied' as const };
    });
  };

  const rows = (): Row[] => [
    // x-amz-expected-bucket-owner: S3's bucket owner condition.
    ...wrongOwnerRows(),
    { name: 'GetObject x-amz-expected-bucket-owner=abc: 400 InvalidBucketOwnerAWSAccountID', method: 'GET', path: '/obj', headers: { 'x-amz-expected-bucket-owner': 'abc' }, expect: 'InvalidBucketOwnerAWSAccountID' },
    { name: 'ListObjectsV2 x-amz-expected-bucket-owner=13 digits: 400 InvalidBucketOwnerAWSAccountID', method: 'GET', path: '', query: { 'list-type': '2' }, headers: { 'x-amz-expected-bucket-owner': '1234567890123' }, expect: 'InvalidBucketOwnerAWSAccountID' },
    { name: 'GetObject x-amz-expected-bucket-owner=<owner>: 200', method: 'GET', path: '/obj', headers: { 'x-amz-expected-bucket-owner': owner }, expect: 200 },
    { name: 'HeadBucket x-amz-expected-bucket-owner=<owner>: 200', method: 'HEAD', path: '', headers: { 'x-amz-expected-bucket-owner': owner }, expect: 200 },
    { name: 'PutObject x-amz-expected-bucket-owner=<owner>: 200', method: 'PUT', path: '/owned', headers: { 'x-amz-expected-bucket-owner': owner }, body: 'x', expect: 200 },
    {
      name: 'CopyObject x-amz-source-expected-bucket-owner=<another account>: 403 AccessDenied',
      method: 'PUT',
      path: '/copy',
      headers: { 'x-amz-copy-source': `/${B}/obj`, 'x-amz-source-expected-bucket-owner': WRONG_OWNER },
      expect: 'AccessDenied',
    },
    {
      name: 'UploadPartCopy x-amz-source-expected-bucket-owner=<another account>: 403 AccessDenied',
      method: 'PUT',
      path: '/mp',
      query: { uploadId: '{upload}', partNumber: '3' },
      headers: { 'x-amz-copy-source': `/${B}/obj`, 'x-amz-source-expected-bucket-owner': WRONG_OWNER },
      expect: 'AccessDenied',
    },
    {
      name: 'CopyObject x-amz-source-expected-bucket-owner=<owner>: 200',
      method: 'PUT',
      path: '/copy-ok',
      headers: { 'x-amz-copy-source': `/${B}/obj`, 'x-amz-source-expected-bucket-owner': owner, 'x-amz-expected-bucket-owner': owner },
      expect: 200,
    },
    // Object Lock (object-lock.ts): CreateBucket makes a bucket with it; object writes on a bucket without it answer what S3 answers.
    { name: 'CreateBucket x-amz-bucket-object-lock-enabled=true: 200, a bucket with Object Lock', method: 'PUT', path: '-locked', headers: { 'x-amz-bucket-object-lock-enabled': 'true' }, expect: 200 },
    { name: 'CreateBucket x-amz-bucket-object-lock-enabled=maybe: 400 InvalidArgument', method: 'PUT', path: '-locked', headers: { 'x-amz-bucket-object-lock-enabled': 'maybe' }, expect: 'InvalidArgument' },
    { name: 'CreateBucket x-amz-bucket-object-lock-enabled=false: 200', method: 'PUT', path: '-unlocked', headers: { 'x-amz-bucket-object-lock-enabled': 'false' }, expect: 200 },
    {
      name: 'PutObject x-amz-object-lock-mode=GOVERNANCE: 400 InvalidRequest (bucket is missing ObjectLockConfiguration)',
      method: 'PUT',
      path: '/locked',
      headers: { 'x-amz-object-lock-mode': 'GOVERNANCE', 'x-amz-object-lock-retain-until-date': '2030-01-01T00:00:00Z' },
      body: 'x',
      expect: 'InvalidRequest',
    },
    { name: 'PutObject x-amz-object-lock-legal-hold=ON: 400 InvalidRequest', method: 'PUT', path: '/locked', headers: { 'x-amz-object-lock-legal-hold': 'ON' }, body: 'x', expect: 'InvalidRequest' },
    { name: 'CopyObject x-amz-object-lock-mode=COMPLIANCE: 400 InvalidRequest', method: 'PUT', path: '/locked', headers: { 'x-amz-copy-source': `/${B}/obj`, 'x-amz-object-lock-mode': 'COMPLIANCE' }, expect: 'InvalidRequest' },
    {
      name: 'CreateMultipartUpload x-amz-object-lock-retain-until-date: 400 InvalidRequest',
      method: 'POST',
      path: '/locked',
      query: { uploads: '' },
      headers: { 'x-amz-object-lock-retain-until-date': '2030-01-01T00:00:00Z' },
      expect: 'InvalidRequest',
    },
    // Retention and MFA Delete protect nothing on a bucket without Object Lock or versioning: accepted, as S3 does.
    { name: 'DeleteObject x-amz-bypass-governance-retention=true: 204', method: 'DELETE', path: '/gone1', headers: { 'x-amz-bypass-governance-retention': 'true' }, expect: 204 },
    { name: 'DeleteObject x-amz-mfa: 204', method: 'DELETE', path: '/gone2', headers: { 'x-amz-mfa': '20899872 301749' }, expect: 204 },
    { name: 'GetObject x-amz-request-payer=requester: 200', method: 'GET', path: '/obj', headers: { 'x-amz-request-payer': 'requester' }, expect: 200 },
    // Website redirect location: stored (round trip below), so validated as S3 validates it.
    { name: 'PutObject x-amz-website-redirect-location=nope: 400 InvalidRedirectLocation', method: 'PUT', path: '/r', headers: { 'x-amz-website-redirect-location': 'nope' }, body: 'x', expect: 'InvalidRedirectLocation' },
    { name: 'CopyObject x-amz-website-redirect-location=ftp://x: 400 InvalidRedirectLocation', method: 'PUT', path: '/r', headers: { 'x-amz-copy-source': `/${B}/obj`, 'x-amz-website-redirect-location': 'ftp://x' }, expect: 'InvalidRedirectLocation' },
    { name: 'CreateMultipartUpload x-amz-website-redirect-location=x: 400 InvalidRedirectLocation', method: 'POST', path: '/r', query: { uploads: '' }, headers: { 'x-amz-website-redirect-location': 'x' }, expect: 'InvalidRedirectLocation' },
    { name: 'PutObject x-amz-website-redirect-location=/ + 2 KB: 400 InvalidRedirectLocation', method: 'PUT', path: '/r', headers: { 'x-amz-website-redirect-location': `/${'a'.repeat(2048)}` }, body: 'x', expect: 'InvalidRedirectLocation' },
    // Directory-bucket (S3 Express One Zone) features.
    { name: 'PutObject x-amz-write-offset-bytes=0: 501 NotImplemented', method: 'PUT', path: '/append', headers: { 'x-amz-write-offset-bytes': '0' }, body: 'x', expect: 'NotImplemented' },
    { name: 'DeleteObject x-amz-if-match-last-modified-time: 501 NotImplemented', method: 'DELETE', path: '/obj', headers: { 'x-amz-if-match-last-modified-time': 'Wed, 02 Dec 2026 00:00:00 GMT' }, expect: 'NotImplemented' },
    { name: 'DeleteObject x-amz-if-match-size=11: 501 NotImplemented', method: 'DELETE', path: '/obj', headers: { 'x-amz-if-match-size': '11' }, expect: 'NotImplemented' },
    { name: 'AbortMultipartUpload x-amz-if-match-initiated-time: 501 NotImplemented', method: 'DELETE', path: '/mp', query: { uploadId: '{upload}' }, headers: { 'x-amz-if-match-initiated-time': 'Wed, 02 Dec 2026 00:00:00 GMT' }, expect: 'NotImplemented' },
    // Complete's expected object size.
    { name: 'CompleteMultipartUpload x-amz-mp-object-size=999: 400 InvalidRequest', method: 'POST', path: '/mp', query: { uploadId: '{upload}' }, headers: { 'x-amz-mp-object-size': '999' }, body: completeBody(), expect: 'InvalidRequest' },
    { name: 'CompleteMultipartUpload x-amz-mp-object-size=big: 400 InvalidArgument', method: 'POST', path: '/mp', query: { uploadId: '{upload}' }, headers: { 'x-amz-mp-object-size': 'big' }, body: completeBody(), expect: 'InvalidArgument' },
    // Listing's optional attributes: nothing is archived, so RestoreStatus has nothing to show.
    { name: 'ListObjectsV2 x-amz-optional-object-attributes=RestoreStatus: 200', method: 'GET', path: '', query: { 'list-type': '2' }, headers: { 'x-amz-optional-object-attributes': 'RestoreStatus' }, expect: 200 },
    { name: 'ListObjectsV2 x-amz-optional-object-attributes=Owner: 400 InvalidArgument', method: 'GET', path: '', query: { 'list-type': '2' }, headers: { 'x-amz-optional-object-attributes': 'Owner' }, expect: 'InvalidArgument' },
    // Storage classes other than STANDARD: refused by the handlers (S3's code for a class it cannot store).
    { name: 'PutObject x-amz-storage-class=GLACIER: 400 InvalidStorageClass', method: 'PUT', path: '/cold', headers: { 'x-amz-storage-class': 'GLACIER' }, body: 'x', expect: 'InvalidStorageClass' },
    { name: 'CreateMultipartUpload x-amz-storage-class=DEEP_ARCHIVE: 400 InvalidStorageClass', method: 'POST', path: '/cold', query: { uploads: '' }, headers: { 'x-amz-storage-class': 'DEEP_ARCHIVE' }, expect: 'InvalidStorageClass' },
    { name: 'CopyObject x-amz-storage-class=ONEZONE_IA: 400 InvalidStorageClass', method: 'PUT', path: '/cold', headers: { 'x-amz-copy-source': `/${B}/obj`, 'x-amz-storage-class': 'ONEZONE_IA' }, expect: 'InvalidStorageClass' },
  ];

  test('the table: one row per operation × header, status and error Code', async () => {
    const failures: string[] = [];
    for (const row of rows()) {
      const query = row.query ? Object.fromEntries(Object.entries(row.query).map(([k, v]) => [k, v.replace('{upload}', uploadId)])) : undefined;
      const body = row.body !== undefined ? Buffer.from(row.body) : undefined;
      const res: RawResponse = await signedRequest(server, {
        method: row.method,
        // '' is the bucket, '/key' an object, '-suffix' another bucket (CreateBucket rows).
        path: `/${B}${row.path}`,
        ...(query ? { query } : {}),
        headers: { ...row.headers, ...(body ? { 'content-length': String(body.length) } : { 'content-length': '0' }) },
        ...(body ? { body } : {}),
      });
      try {
        if (typeof row.expect === 'number') {
          assert.equal(res.status, row.expect, res.body.toString());
        } else if (row.method === 'HEAD') {
          assert.equal(res.status, S3_ERRORS[row.expect].status);
        } else {
          expectXmlError(res, row.expect);
        }
      } catch (err) {
        failures.push(`${row.name}: ${(err as Error).message}`);
      }
    }
    assert.deepEqual(failures, []);
  });

  test('the open upload and the object survived every refused row', async () => {
    assert.equal((await bodyBytes(await s3.send(new GetObjectCommand({ Bucket: B, Key: 'obj' })))).toString(), 'object body');
    const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: 'mp', UploadId: uploadId, MpuObjectSize: 8, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: partEtag }] } }));
    assert.ok(done.ETag?.endsWith('-1"'), 'x-amz-mp-object-size equal to the parts total completes');
  });

  test('CreateBucket with ObjectLockEnabledForBucket through the SDK makes a bucket with Object Lock (honoured, not ignored)', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'locked-sdk', ObjectLockEnabledForBucket: true }));
    const lock = await s3.send(new GetObjectLockConfigurationCommand({ Bucket: 'locked-sdk' }));
    assert.equal(lock.ObjectLockConfiguration?.ObjectLockEnabled, 'Enabled');
  });

  test('PutObject with ObjectLockMode through the SDK: 400 InvalidRequest "Bucket is missing ObjectLockConfiguration", nothing stored', async () => {
    const e = await expectS3Error(
      s3.send(new PutObjectCommand({ Bucket: B, Key: 'lock-sdk', Body: 'x', ObjectLockMode: 'GOVERNANCE', ObjectLockRetainUntilDate: new Date(Date.now() + 86_400_000) })),
      'InvalidRequest',
      400,
    );
    assert.equal(e.message, 'Bucket is missing ObjectLockConfiguration');
    await expectS3Error(s3.send(new HeadObjectCommand({ Bucket: B, Key: 'lock-sdk' })), 'NotFound', 404);
  });

  test('website redirect location: stored, returned on GET and HEAD; a copy does not carry it over unless asked (S3)', async () => {
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'page.html', Body: 'old page', WebsiteRedirectLocation: '/new-page.html' }));
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'page.html' }))).WebsiteRedirectLocation, '/new-page.html');
    const got = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'page.html' }));
    assert.equal(got.WebsiteRedirectLocation, '/new-page.html');
    await bodyBytes(got);

    await s3.send(new CopyObjectCommand({ Bucket: B, Key: 'page-copy.html', CopySource: `${B}/page.html` }));
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'page-copy.html' }))).WebsiteRedirectLocation, undefined);
    await s3.send(new CopyObjectCommand({ Bucket: B, Key: 'page-copy2.html', CopySource: `${B}/page.html`, WebsiteRedirectLocation: 'https://example.com/' }));
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'page-copy2.html' }))).WebsiteRedirectLocation, 'https://example.com/');
    // Copying onto itself only to change the redirect is legal (S3 names it in the "copy to itself" rule).
    await s3.send(new CopyObjectCommand({ Bucket: B, Key: 'page.html', CopySource: `${B}/page.html`, WebsiteRedirectLocation: 'http://example.org/x' }));
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'page.html' }))).WebsiteRedirectLocation, 'http://example.org/x');

    const up = await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'mp-page', WebsiteRedirectLocation: '/elsewhere' }));
    const part = await s3.send(new UploadPartCommand({ Bucket: B, Key: 'mp-page', UploadId: up.UploadId!, PartNumber: 1, Body: 'p' }));
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: 'mp-page', UploadId: up.UploadId!, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag! }] } }));
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'mp-page' }))).WebsiteRedirectLocation, '/elsewhere');
  });

  test('DeleteObjects: an ETag is a condition on its key (S3), LastModifiedTime and Size are refused per key', async () => {
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'd1', Body: 'one' }));
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'd2', Body: 'two' }));
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'd3', Body: 'three' }));
    const md5 = (s: string) => `"${createHash('md5').update(s).digest('hex')}"`;
    const out = await s3.send(
      new DeleteObjectsCommand({
        Bucket: B,
        Delete: {
          Objects: [
            { Key: 'd1', ETag: md5('one') },
            { Key: 'd2', ETag: md5('not two') },
            { Key: 'd3', Size: 5 },
          ],
        },
      }),
    );
    assert.deepEqual(out.Deleted?.map((d) => d.Key), ['d1']);
    const errors = Object.fromEntries((out.Errors ?? []).map((e) => [e.Key, e.Code]));
    assert.deepEqual(errors, { d2: 'PreconditionFailed', d3: 'NotImplemented' });
    const left = await s3.send(new ListObjectsV2Command({ Bucket: B, Prefix: 'd' }));
    assert.deepEqual(left.Contents?.map((c) => c.Key), ['d2', 'd3']);
  });
});
