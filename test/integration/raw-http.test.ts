/**
 * What SDKs hide, checked with raw node:http requests signed by the SDK's own
 * SigV4 signer (@smithy/signature-v4): the XML error document and its headers,
 * anonymous requests, bad signatures, unknown keys, clock skew, presigned URLs
 * (valid, expired, tampered), payload hashes and aws-chunked trailers,
 * `Expect: 100-continue`, 304 responses, and the health endpoint.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';
import { randomBytesSeeded } from '../helpers/data.js';
import { bodyBytes, crc32Raw, md5Hex } from '../helpers/s3.js';
import { S3_ERRORS } from '../../src/errors/s3-errors.js';
import { startServer, type TestServer } from '../helpers/server.js';
import {
  expectXmlError,
  queryString,
  rawRequest,
  s3Signer,
  sha256Hex,
  signedRequest,
  xmlField,
  type RawRequestOptions,
  type RawResponse,
  type SignedRequestOptions,
} from '../helpers/raw-s3.js';

describe('raw http', () => {
  let server: TestServer;
  let s3: S3Client;
  const bucket = 'raw-http';
  const objectBody = Buffer.from('private object body');

  const signer = (secretAccessKey?: string, accessKeyId?: string): SignatureV4 => s3Signer(server, secretAccessKey, accessKeyId);
  const request = (options: RawRequestOptions): Promise<RawResponse> => rawRequest(server, options);
  const signed = (options: SignedRequestOptions): Promise<RawResponse> => signedRequest(server, options);

  /** A presigned URL's path and query, as @aws-sdk/s3-request-presigner makes it (UNSIGNED-PAYLOAD). */
  async function presign(method: string, path: string, options: { expiresIn?: number; signingDate?: Date; query?: Record<string, string> } = {}): Promise<string> {
    const out = await signer().presign(
      {
        method,
        protocol: 'http:',
        hostname: '127.0.0.1',
        port: server.port,
        path,
        query: options.query ?? {},
        headers: { host: `127.0.0.1:${server.port}`, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
      },
      {
        expiresIn: options.expiresIn ?? 300,
        ...(options.signingDate ? { signingDate: options.signingDate } : {}),
        unsignableHeaders: new Set(['x-amz-content-sha256']),
        unhoistableHeaders: new Set(['x-amz-content-sha256']),
      },
    );
    return `${path}?${queryString(out.query ?? {})}`;
  }

  before(async () => {
    server = await startServer();
    s3 = server.client();
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'private.txt', Body: objectBody }));
  });
  after(async () => {
    s3?.destroy();
    await server?.destroy();
  });

  describe('errors and anonymous requests', () => {
    test('Anonymous_GetObject_of_private_object_is_AccessDenied_xml', async () => {
      const res = await request({ method: 'GET', path: `/${bucket}/private.txt` });
      expectXmlError(res, 'AccessDenied');
      assert.match(res.body.toString(), /^<\?xml version="1\.0" encoding="UTF-8"\?>\s*<Error>/);
      assert.equal(xmlField(res.body, 'Message'), S3_ERRORS.AccessDenied.message);
      assert.equal(xmlField(res.body, 'Resource'), `/${bucket}/private.txt`);
      assert.match(String(res.headers['x-amz-request-id'] ?? ''), /^\S{8,}$/);
      assert.equal(Number(res.headers['content-length']), res.body.length);
      assert.ok(!res.body.includes(objectBody), 'none of the object leaks');
    });

    test('Anonymous_ListBuckets_is_AccessDenied', async () => {
      const res = await request({ method: 'GET', path: '/' });
      expectXmlError(res, 'AccessDenied');
      assert.equal(xmlField(res.body, 'Resource'), '/');
    });

    test('Anonymous_PutObject_is_AccessDenied_and_stores_nothing', async () => {
      const res = await request({ method: 'PUT', path: `/${bucket}/anonymous.txt`, body: Buffer.from('nope') });
      expectXmlError(res, 'AccessDenied');
      const check = await signed({ method: 'HEAD', path: `/${bucket}/anonymous.txt` });
      assert.equal(check.status, 404);
    });

    test('HEAD_error_has_status_and_request_id_but_no_body', async () => {
      const res = await signed({ method: 'HEAD', path: `/${bucket}/missing.txt` });
      assert.equal(res.status, 404);
      assert.equal(res.body.length, 0);
      assert.ok(res.headers['x-amz-request-id']);
    });

    test('GetObject_missing_key_error_names_the_key', async () => {
      const res = await signed({ method: 'GET', path: `/${bucket}/missing%20key.txt` });
      expectXmlError(res, 'NoSuchKey');
      assert.equal(xmlField(res.body, 'Key'), 'missing key.txt');
      assert.equal(xmlField(res.body, 'Resource'), `/${bucket}/missing%20key.txt`);
    });

    test('Unsupported_method_is_MethodNotAllowed', async () => {
      const res = await signed({ method: 'PATCH', path: `/${bucket}/private.txt` });
      expectXmlError(res, 'MethodNotAllowed');
    });
  });

  describe('signatures', () => {
    test('Signed_GetObject_returns_the_object', async () => {
      const res = await signed({ method: 'GET', path: `/${bucket}/private.txt` });
      assert.equal(res.status, 200);
      assert.ok(res.body.equals(objectBody));
      assert.equal(res.headers.etag, `"${md5Hex(objectBody)}"`);
      assert.equal(res.headers['content-length'], String(objectBody.length));
      assert.ok(res.headers['x-amz-request-id']);
      assert.ok(res.headers['last-modified']);
    });

    test('Wrong_secret_is_SignatureDoesNotMatch', async () => {
      const res = await signed({ method: 'GET', path: `/${bucket}/private.txt`, sign: signer('not-the-right-secret') });
      expectXmlError(res, 'SignatureDoesNotMatch');
      assert.equal(xmlField(res.body, 'AWSAccessKeyId'), server.accessKeyId);
      assert.ok(!res.body.includes(objectBody));
    });

    test('Changed_signed_header_is_SignatureDoesNotMatch', async () => {
      const out = await signer().sign({
        method: 'GET',
        protocol: 'http:',
        hostname: '127.0.0.1',
        port: server.port,
        path: `/${bucket}/private.txt`,
        query: {},
        headers: { host: `127.0.0.1:${server.port}`, 'x-amz-content-sha256': sha256Hex(''), range: 'bytes=0-3' },
      });
      const res = await request({ method: 'GET', path: `/${bucket}/private.txt`, headers: { ...out.headers, range: 'bytes=0-10' } });
      expectXmlError(res, 'SignatureDoesNotMatch');
    });

    test('Unknown_access_key_is_InvalidAccessKeyId', async () => {
      const res = await signed({ method: 'GET', path: `/${bucket}/private.txt`, sign: signer(server.secretAccessKey, 'AKIAUNKNOWNKEY000000') });
      expectXmlError(res, 'InvalidAccessKeyId');
      assert.equal(xmlField(res.body, 'AWSAccessKeyId'), 'AKIAUNKNOWNKEY000000');
    });

    test('Request_dated_20_minutes_ago_is_RequestTimeTooSkewed', async () => {
      const res = await signed({ method: 'GET', path: `/${bucket}/private.txt`, signingDate: new Date(Date.now() - 20 * 60_000) });
      expectXmlError(res, 'RequestTimeTooSkewed');
      assert.ok(xmlField(res.body, 'RequestTime'));
      assert.ok(xmlField(res.body, 'ServerTime'));
    });

    test('Request_dated_20_minutes_ahead_is_RequestTimeTooSkewed', async () => {
      const res = await signed({ method: 'GET', path: `/${bucket}/private.txt`, signingDate: new Date(Date.now() + 20 * 60_000) });
      expectXmlError(res, 'RequestTimeTooSkewed');
    });

    test('Request_dated_10_minutes_ago_is_within_the_allowed_skew', async () => {
      const res = await signed({ method: 'GET', path: `/${bucket}/private.txt`, signingDate: new Date(Date.now() - 10 * 60_000) });
      assert.equal(res.status, 200);
      assert.ok(res.body.equals(objectBody));
    });

    test('PutObject_body_not_matching_x_amz_content_sha256_is_XAmzContentSHA256Mismatch', async () => {
      const res = await signed({ method: 'PUT', path: `/${bucket}/sha-mismatch.txt`, body: Buffer.from('actual bytes'), payloadHash: sha256Hex('other bytes') });
      expectXmlError(res, 'XAmzContentSHA256Mismatch');
      const check = await signed({ method: 'HEAD', path: `/${bucket}/sha-mismatch.txt` });
      assert.equal(check.status, 404, 'nothing is stored');
    });

    test('PutObject_without_content_type_is_served_as_binary_octet_stream', async () => {
      const body = Buffer.from('no content type');
      const put = await signed({ method: 'PUT', path: `/${bucket}/no-type`, body, headers: { 'content-length': String(body.length) } });
      assert.equal(put.status, 200, put.body.toString());
      const res = await signed({ method: 'GET', path: `/${bucket}/no-type` });
      assert.equal(res.status, 200);
      // S3's default Content-Type for objects stored without one.
      assert.equal(res.headers['content-type'], 'binary/octet-stream');
      assert.ok(res.body.equals(body));
    });

    test('PutObject_signed_payload_round_trips', async () => {
      const body = randomBytesSeeded(99, 200_000);
      const res = await signed({ method: 'PUT', path: `/${bucket}/signed-payload.bin`, body, headers: { 'content-length': String(body.length) } });
      assert.equal(res.status, 200, res.body.toString());
      assert.equal(res.headers.etag, `"${md5Hex(body)}"`);
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'signed-payload.bin' }));
      assert.ok((await bodyBytes(got)).equals(body));
    });
  });

  describe('aws-chunked with trailers', () => {
    function unsignedTrailerBody(data: Buffer, trailer: string, chunk = 8192): Buffer {
      const parts: Buffer[] = [];
      for (let i = 0; i < data.length; i += chunk) {
        const piece = data.subarray(i, i + chunk);
        parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n'));
      }
      parts.push(Buffer.from(`0\r\n${trailer}\r\n\r\n`));
      return Buffer.concat(parts);
    }

    async function putUnsignedTrailer(key: string, data: Buffer, crc32Base64: string): Promise<RawResponse> {
      const body = unsignedTrailerBody(data, `x-amz-checksum-crc32:${crc32Base64}`);
      return signed({
        method: 'PUT',
        path: `/${bucket}/${key}`,
        body,
        payloadHash: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
        headers: {
          'content-encoding': 'aws-chunked',
          'content-length': String(body.length),
          'x-amz-decoded-content-length': String(data.length),
          'x-amz-trailer': 'x-amz-checksum-crc32',
        },
      });
    }

    test('PutObject_unsigned_trailer_with_right_crc32_is_stored', async () => {
      const data = randomBytesSeeded(5, 30_000);
      const res = await putUnsignedTrailer('trailer-ok.bin', data, crc32Raw(data).toString('base64'));
      assert.equal(res.status, 200, res.body.toString());
      assert.equal(res.headers['x-amz-checksum-crc32'], crc32Raw(data).toString('base64'));
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'trailer-ok.bin' }));
      assert.ok((await bodyBytes(got)).equals(data));
      assert.equal(got.ContentEncoding, undefined, 'aws-chunked is not stored as a content encoding');
    });

    test('PutObject_unsigned_trailer_with_wrong_crc32_is_BadDigest', async () => {
      const data = randomBytesSeeded(6, 30_000);
      const res = await putUnsignedTrailer('trailer-bad.bin', data, crc32Raw(Buffer.from('other')).toString('base64'));
      expectXmlError(res, 'BadDigest');
      const check = await signed({ method: 'HEAD', path: `/${bucket}/trailer-bad.bin` });
      assert.equal(check.status, 404, 'nothing is stored');
    });
  });

  describe('presigned URLs', () => {
    test('Presigned_GetObject_works', async () => {
      const url = await presign('GET', `/${bucket}/private.txt`);
      assert.match(url, /X-Amz-Signature=[0-9a-f]{64}/);
      const res = await request({ method: 'GET', path: url });
      assert.equal(res.status, 200, res.body.toString());
      assert.ok(res.body.equals(objectBody));
    });

    test('Presigned_GetObject_with_signed_response_overrides', async () => {
      const url = await presign('GET', `/${bucket}/private.txt`, {
        query: { 'response-content-disposition': 'attachment; filename="download.txt"', 'response-content-type': 'text/plain' },
      });
      const res = await request({ method: 'GET', path: url });
      assert.equal(res.status, 200, res.body.toString());
      assert.equal(res.headers['content-disposition'], 'attachment; filename="download.txt"');
      assert.equal(res.headers['content-type'], 'text/plain');
      assert.ok(res.body.equals(objectBody));
    });

    test('Presigned_PutObject_works', async () => {
      const url = await presign('PUT', `/${bucket}/presigned-put.txt`);
      const body = Buffer.from('uploaded with a presigned URL');
      const res = await request({ method: 'PUT', path: url, body, headers: { 'content-length': String(body.length) } });
      assert.equal(res.status, 200, res.body.toString());
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'presigned-put.txt' }));
      assert.ok((await bodyBytes(got)).equals(body));
    });

    test('Expired_presigned_url_is_AccessDenied', async () => {
      const url = await presign('GET', `/${bucket}/private.txt`, { expiresIn: 60, signingDate: new Date(Date.now() - 10 * 60_000) });
      const res = await request({ method: 'GET', path: url });
      expectXmlError(res, 'AccessDenied');
      assert.equal(xmlField(res.body, 'Message'), 'Request has expired');
      assert.ok(!res.body.includes(objectBody));
    });

    test('Tampered_presigned_url_is_SignatureDoesNotMatch', async () => {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'other.txt', Body: 'other' }));
      const url = await presign('GET', `/${bucket}/private.txt`);
      // Another key with the same signature.
      const otherKey = await request({ method: 'GET', path: url.replace('/private.txt?', '/other.txt?') });
      expectXmlError(otherKey, 'SignatureDoesNotMatch');
      // A longer lifetime than was signed.
      const longer = await request({ method: 'GET', path: url.replace('X-Amz-Expires=300', 'X-Amz-Expires=600') });
      expectXmlError(longer, 'SignatureDoesNotMatch');
      // An extra parameter that changes the response.
      const extra = await request({ method: 'GET', path: `${url}&response-content-type=text%2Fhtml` });
      expectXmlError(extra, 'SignatureDoesNotMatch');
      // Another method.
      const put = await request({ method: 'PUT', path: url, body: Buffer.from('overwrite') });
      expectXmlError(put, 'SignatureDoesNotMatch');
      const still = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'private.txt' }));
      assert.ok((await bodyBytes(still)).equals(objectBody));
    });
  });

  describe('http details', () => {
    test('PutObject_with_expect_100_continue_works', async () => {
      const body = randomBytesSeeded(100, 300_000);
      const res = await signed({
        method: 'PUT',
        path: `/${bucket}/expect-continue.bin`,
        body,
        headers: { expect: '100-continue', 'content-length': String(body.length) },
        waitForContinue: true,
      });
      assert.equal(res.continued, true, 'the server sent 100 Continue');
      assert.equal(res.status, 200, res.body.toString());
      assert.equal(res.headers.etag, `"${md5Hex(body)}"`);
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'expect-continue.bin' }));
      assert.ok((await bodyBytes(got)).equals(body));
    });

    test('PutObject_expect_100_continue_with_bad_credentials_is_refused_before_the_body', async () => {
      // S3 authenticates the headers first and answers an Expect: 100-continue request it will
      // refuse with the final status, so the client never sends the body.
      const res = await signed({
        method: 'PUT',
        path: `/${bucket}/expect-refused.bin`,
        body: Buffer.alloc(100_000, 1),
        headers: { expect: '100-continue', 'content-length': '100000' },
        sign: signer(server.secretAccessKey, 'AKIAUNKNOWNKEY000000'),
        waitForContinue: true,
      });
      expectXmlError(res, 'InvalidAccessKeyId');
      assert.equal(res.continued, false, 'no 100 Continue for a request that will be refused');
    });

    test('PutObject_without_content_length_is_MissingContentLength', async () => {
      const res = await signed({ method: 'PUT', path: `/${bucket}/no-length.txt`, body: Buffer.from('chunked body'), payloadHash: 'UNSIGNED-PAYLOAD', chunked: true });
      expectXmlError(res, 'MissingContentLength');
    });

    test('CreateBucket_malformed_configuration_is_MalformedXML', async () => {
      const body = Buffer.from('<CreateBucketConfiguration><LocationConstraint>us-east-1</Loc');
      const res = await signed({ method: 'PUT', path: '/malformed-config', body, headers: { 'content-length': String(body.length) } });
      expectXmlError(res, 'MalformedXML');
      const head = await signed({ method: 'HEAD', path: '/malformed-config' });
      assert.equal(head.status, 404, 'no bucket was created');
    });

    test('GetObject_if_none_match_is_304_with_etag_and_no_body', async () => {
      const etag = `"${md5Hex(objectBody)}"`;
      const res = await signed({ method: 'GET', path: `/${bucket}/private.txt`, headers: { 'if-none-match': etag } });
      assert.equal(res.status, 304);
      assert.equal(res.body.length, 0);
      assert.equal(res.headers.etag, etag);
      assert.ok(res.headers['last-modified']);
      assert.ok(res.headers['x-amz-request-id']);
    });

    test('GetObject_unsatisfiable_range_is_InvalidRange_xml', async () => {
      const res = await signed({ method: 'GET', path: `/${bucket}/private.txt`, headers: { range: `bytes=${objectBody.length}-` } });
      expectXmlError(res, 'InvalidRange');
      assert.equal(xmlField(res.body, 'ActualObjectSize'), String(objectBody.length));
    });

    test('VirtualHostedStyle_host_header_addresses_the_bucket', async () => {
      const host = `${bucket}.localhost:${server.port}`;
      const out = await signer().sign({
        method: 'GET',
        protocol: 'http:',
        hostname: `${bucket}.localhost`,
        port: server.port,
        path: '/private.txt',
        query: {},
        headers: { host, 'x-amz-content-sha256': sha256Hex('') },
      });
      const res = await request({ method: 'GET', path: '/private.txt', headers: out.headers });
      assert.equal(res.status, 200, res.body.toString());
      assert.ok(res.body.equals(objectBody));
    });

    test('Health_is_200_without_a_signature', async () => {
      const res = await request({ method: 'GET', path: '/_coffer/health' });
      assert.equal(res.status, 200);
      assert.match(res.headers['content-type'] ?? '', /json/);
      assert.deepEqual(JSON.parse(res.body.toString()), { status: 'ok' });
      assert.ok(res.headers['x-amz-request-id']);
    });
  });
});
