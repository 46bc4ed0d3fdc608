/** The router against a table of real S3 requests (methods, paths and queries from the S3 API reference). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { S3Error } from '../../src/errors/s3-errors.js';
import { parseEndpoint, type Endpoint } from '../../src/http/router.js';

const opts = { domains: ['localhost', 's3.example.test'] };

function route(method: string, url: string, host = '127.0.0.1:9000', headers: Record<string, string> = {}): Endpoint {
  const q = url.indexOf('?');
  const rawPath = q < 0 ? url : url.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
  return parseEndpoint({ method, host, rawPath, query, headers }, opts);
}

const cases: [string, string, Partial<Endpoint> & Record<string, unknown>, Record<string, string>?, string?][] = [
  ['GET', '/', { kind: 'service', operation: 'ListBuckets' }],
  ['GET', '/_coffer/health', { kind: 'health' }],
  ['PUT', '/my-bucket', { kind: 'bucket', operation: 'CreateBucket', bucket: 'my-bucket' }],
  ['PUT', '/my-bucket/', { kind: 'bucket', operation: 'CreateBucket', bucket: 'my-bucket' }],
  ['HEAD', '/my-bucket', { kind: 'bucket', operation: 'HeadBucket', bucket: 'my-bucket' }],
  ['DELETE', '/my-bucket', { kind: 'bucket', operation: 'DeleteBucket', bucket: 'my-bucket' }],
  ['GET', '/my-bucket?location', { kind: 'bucket', operation: 'GetBucketLocation' }],
  ['GET', '/my-bucket?versioning', { kind: 'bucket', operation: 'GetBucketVersioning' }],
  ['GET', '/my-bucket', { kind: 'bucket', operation: 'ListObjects' }],
  ['GET', '/my-bucket?list-type=2&prefix=photos/', { kind: 'bucket', operation: 'ListObjectsV2' }],
  ['GET', '/my-bucket?uploads', { kind: 'bucket', operation: 'ListMultipartUploads' }],
  ['POST', '/my-bucket?delete', { kind: 'bucket', operation: 'DeleteObjects' }],
  // PutBucketEncryption / GetBucketEncryption / DeleteBucketEncryption, as in the S3 API reference.
  ['PUT', '/my-bucket?encryption', { kind: 'bucket', operation: 'PutBucketEncryption' }],
  ['GET', '/my-bucket?encryption', { kind: 'bucket', operation: 'GetBucketEncryption' }],
  ['DELETE', '/my-bucket?encryption', { kind: 'bucket', operation: 'DeleteBucketEncryption' }],
  ['GET', '/my-bucket?policy', { kind: 'bucket', operation: 'GetBucketPolicy', bucket: 'my-bucket' }],
  ['PUT', '/my-bucket?policy', { kind: 'bucket', operation: 'PutBucketPolicy', bucket: 'my-bucket' }],
  ['DELETE', '/my-bucket?policy', { kind: 'bucket', operation: 'DeleteBucketPolicy', bucket: 'my-bucket' }],
  ['GET', '/my-bucket?policyStatus', { kind: 'bucket', operation: 'GetBucketPolicyStatus', bucket: 'my-bucket' }],
  // PutBucketCors / GetBucketCors / DeleteBucketCors and the preflight ("Appendix: OPTIONS object").
  ['PUT', '/my-bucket?cors', { kind: 'bucket', operation: 'PutBucketCors', bucket: 'my-bucket' }],
  ['GET', '/my-bucket?cors', { kind: 'bucket', operation: 'GetBucketCors', bucket: 'my-bucket' }],
  ['DELETE', '/my-bucket?cors', { kind: 'bucket', operation: 'DeleteBucketCors' }],
  ['OPTIONS', '/my-bucket/photos/puppy.jpg', { kind: 'preflight', bucket: 'my-bucket', key: 'photos/puppy.jpg' }],
  ['OPTIONS', '/my-bucket', { kind: 'preflight', bucket: 'my-bucket' }],
  ['OPTIONS', '/', { kind: 'preflight', bucket: 'my-bucket' }, {}, 'my-bucket.s3.example.test'],
  // POST Object (RESTObjectPOST): an HTML form upload to the bucket.
  ['POST', '/my-bucket', { kind: 'post-object', bucket: 'my-bucket' }],
  ['POST', '/my-bucket/', { kind: 'post-object', bucket: 'my-bucket' }],
  // Versioning and Object Lock, as in the S3 API reference.
  ['GET', '/my-bucket?versions', { kind: 'bucket', operation: 'ListObjectVersions' }],
  ['GET', '/my-bucket?versions&key-marker=a&version-id-marker=b', { kind: 'bucket', operation: 'ListObjectVersions' }],
  ['PUT', '/my-bucket?versioning', { kind: 'bucket', operation: 'PutBucketVersioning' }],
  ['PUT', '/my-bucket?object-lock', { kind: 'bucket', operation: 'PutObjectLockConfiguration' }],
  ['GET', '/my-bucket?object-lock', { kind: 'bucket', operation: 'GetObjectLockConfiguration' }],
  ['GET', '/my-bucket/k?versionId=3HL4kqtJlcpXroDTDmJ', { kind: 'object', operation: 'GetObject', key: 'k' }],
  ['DELETE', '/my-bucket/k?versionId=3HL4kqtJlcpXroDTDmJ', { kind: 'object', operation: 'DeleteObject', key: 'k' }],
  ['PUT', '/my-bucket/k?retention', { kind: 'object', operation: 'PutObjectRetention', key: 'k' }],
  ['GET', '/my-bucket/k?retention&versionId=v', { kind: 'object', operation: 'GetObjectRetention', key: 'k' }],
  ['PUT', '/my-bucket/k?legal-hold', { kind: 'object', operation: 'PutObjectLegalHold', key: 'k' }],
  ['GET', '/my-bucket/k?legal-hold', { kind: 'object', operation: 'GetObjectLegalHold', key: 'k' }],
  ['PUT', '/my-bucket/photos/2006/puppy.jpg', { kind: 'object', operation: 'PutObject', key: 'photos/2006/puppy.jpg' }],
  ['PUT', '/my-bucket/dst', { kind: 'object', operation: 'CopyObject', key: 'dst' }, { 'x-amz-copy-source': '/src/key' }],
  ['GET', '/my-bucket/a%20b%2Bc/%E2%82%AC', { kind: 'object', operation: 'GetObject', key: 'a b+c/€' }],
  ['GET', '/my-bucket//leading', { kind: 'object', operation: 'GetObject', key: '/leading' }],
  ['HEAD', '/my-bucket/k', { kind: 'object', operation: 'HeadObject' }],
  ['DELETE', '/my-bucket/k', { kind: 'object', operation: 'DeleteObject' }],
  ['PUT', '/my-bucket/k?tagging', { kind: 'object', operation: 'PutObjectTagging' }],
  ['GET', '/my-bucket/k?tagging', { kind: 'object', operation: 'GetObjectTagging' }],
  ['DELETE', '/my-bucket/k?tagging', { kind: 'object', operation: 'DeleteObjectTagging' }],
  ['POST', '/my-bucket/k?uploads', { kind: 'object', operation: 'CreateMultipartUpload' }],
  ['PUT', '/my-bucket/k?partNumber=1&uploadId=abc', { kind: 'object', operation: 'UploadPart' }],
  ['PUT', '/my-bucket/k?partNumber=1&uploadId=abc', { kind: 'object', operation: 'UploadPartCopy' }, { 'x-amz-copy-source': 'b/k' }],
  ['POST', '/my-bucket/k?uploadId=abc', { kind: 'object', operation: 'CompleteMultipartUpload' }],
  ['DELETE', '/my-bucket/k?uploadId=abc', { kind: 'object', operation: 'AbortMultipartUpload' }],
  ['GET', '/my-bucket/k?uploadId=abc', { kind: 'object', operation: 'ListParts' }],
  // Object Ownership, ACLs and Block Public Access, as in the S3 API reference.
  ['GET', '/my-bucket/k?acl', { kind: 'object', operation: 'GetObjectAcl', key: 'k' }],
  ['PUT', '/my-bucket/k?acl', { kind: 'object', operation: 'PutObjectAcl', key: 'k' }],
  // The AWS GetObjectAttributes reference: GET /Key+?attributes.
  ['GET', '/my-bucket/k?attributes', { kind: 'object', operation: 'GetObjectAttributes', key: 'k' }],
  ['GET', '/my-bucket?acl', { kind: 'bucket', operation: 'GetBucketAcl', bucket: 'my-bucket' }],
  ['PUT', '/my-bucket?acl', { kind: 'bucket', operation: 'PutBucketAcl', bucket: 'my-bucket' }],
  ['PUT', '/my-bucket?publicAccessBlock', { kind: 'bucket', operation: 'PutPublicAccessBlock' }],
  ['GET', '/my-bucket?publicAccessBlock', { kind: 'bucket', operation: 'GetPublicAccessBlock' }],
  ['DELETE', '/my-bucket?publicAccessBlock', { kind: 'bucket', operation: 'DeletePublicAccessBlock' }],
  ['PUT', '/my-bucket?ownershipControls', { kind: 'bucket', operation: 'PutBucketOwnershipControls' }],
  ['GET', '/my-bucket?ownershipControls', { kind: 'bucket', operation: 'GetBucketOwnershipControls' }],
  ['DELETE', '/my-bucket?ownershipControls', { kind: 'bucket', operation: 'DeleteBucketOwnershipControls' }],
  // UpdateObjectEncryption: PUT /{Key+}?encryption (2025 S3 API).
  ['PUT', '/my-bucket/k?encryption', { kind: 'object', operation: 'UpdateObjectEncryption' }],
  ['GET', '/my-bucket/k?encryption', { kind: 'unsupported', operation: 'GetObjectEncryption' }],
  // Virtual-hosted style.
  ['GET', '/', { kind: 'bucket', operation: 'ListObjects', bucket: 'vhost' }, {}, 'vhost.localhost:9000'],
  ['GET', '/a/b.txt', { kind: 'object', operation: 'GetObject', bucket: 'my.dotted.bucket', key: 'a/b.txt' }, {}, 'my.dotted.bucket.s3.example.test'],
  ['GET', '/plain/key', { kind: 'object', operation: 'GetObject', bucket: 'plain', key: 'key' }, {}, 'localhost:9000'],
];

for (const [method, url, expected, headers, host] of cases) {
  test(`route ${method} ${host ?? ''}${url}${headers ? ' ' + JSON.stringify(headers) : ''}`, () => {
    const got = route(method, url, host, headers ?? {}) as unknown as Record<string, unknown>;
    for (const [k, v] of Object.entries(expected)) assert.equal(got[k], v, `${k} of ${JSON.stringify(got)}`);
  });
}

test('route_bad_percent_encoding_is_InvalidURI', () => {
  assert.throws(() => route('GET', '/b/%E2%82'), (e: unknown) => e instanceof S3Error && e.code === 'InvalidURI');
});

test('route_unknown_method_is_MethodNotAllowed', () => {
  assert.throws(() => route('PATCH', '/b/k'), (e: unknown) => e instanceof S3Error && e.code === 'MethodNotAllowed' && e.status === 405);
});
