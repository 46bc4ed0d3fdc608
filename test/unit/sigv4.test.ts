/**
 * SigV4 verification against three independent sources of truth:
 * the AWS Signature Version 4 test suite (service "service"), the worked
 * examples of the Amazon S3 API reference (header, presigned and chunked
 * upload), and requests signed by the AWS SDK's own signer (@smithy/signature-v4).
 */
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import { SignatureV4 } from '@smithy/signature-v4';
import { decodePayload, verifySigV4, type Credential, type PayloadMode, type SigV4Request } from '../../src/auth/sigv4/index.js';
import { S3Error, type S3ErrorCode } from '../../src/errors/s3-errors.js';
import { Sha256 } from '../helpers/raw-s3.js';

/** Parses an HTTP request as the test suite writes it: request line, `Name:value` lines. */
function parseRequestText(text: string): SigV4Request {
  const [requestLine, ...lines] = text.split('\n');
  const m = /^(\S+) (.+) HTTP\/1\.1$/.exec(requestLine!);
  assert.ok(m, requestLine);
  const target = m[2]!;
  const q = target.indexOf('?');
  const rawHeaders: string[] = [];
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon);
    const value = line.slice(colon + 1);
    rawHeaders.push(name, value);
    const lower = name.toLowerCase();
    headers[lower] = headers[lower] === undefined ? value.trim() : `${headers[lower]}, ${value.trim()}`;
  }
  return { method: m[1]!, rawPath: q < 0 ? target : target.slice(0, q), rawQuery: q < 0 ? '' : target.slice(q + 1), headers, rawHeaders };
}

function withAuthorization(req: SigV4Request, authorization: string): SigV4Request {
  return { ...req, headers: { ...req.headers, authorization }, rawHeaders: [...req.rawHeaders, 'Authorization', authorization] };
}

async function expectS3Error(p: Promise<unknown>, code: S3ErrorCode): Promise<S3Error> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof S3Error, `expected S3Error ${code}, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail(`expected ${code}, but the request was accepted`);
}

// ---------------------------------------------------------------------------
// The AWS SigV4 test suite (docs: "Signature Version 4 test suite").
const SUITE_CREDENTIAL: Credential = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const SUITE_NOW = Date.UTC(2015, 7, 30, 12, 36, 0);
const H = 'Host:example.amazonaws.com\nX-Amz-Date:20150830T123600Z';

const SUITE: { name: string; request: string; signedHeaders: string; signature: string }[] = [
  { name: 'get-vanilla', request: `GET / HTTP/1.1\n${H}`, signedHeaders: 'host;x-amz-date', signature: '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31' },
  { name: 'get-vanilla-empty-query-key', request: `GET /?Param1=value1 HTTP/1.1\n${H}`, signedHeaders: 'host;x-amz-date', signature: 'a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb' },
  { name: 'get-vanilla-query-order-key', request: `GET /?Param1=value2&Param1=Value1 HTTP/1.1\n${H}`, signedHeaders: 'host;x-amz-date', signature: 'eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1' },
  { name: 'get-vanilla-query-order-key-case', request: `GET /?Param2=value2&Param1=value1 HTTP/1.1\n${H}`, signedHeaders: 'host;x-amz-date', signature: 'b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500' },
  { name: 'get-vanilla-query-order-value', request: `GET /?Param1=value2&Param1=value1 HTTP/1.1\n${H}`, signedHeaders: 'host;x-amz-date', signature: '5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694' },
  {
    name: 'get-vanilla-query-unreserved',
    request: `GET /?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz HTTP/1.1\n${H}`,
    signedHeaders: 'host;x-amz-date',
    signature: '9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197',
  },
  { name: 'get-unreserved', request: `GET /-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz HTTP/1.1\n${H}`, signedHeaders: 'host;x-amz-date', signature: '07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f' },
  {
    name: 'get-header-value-order',
    request: `GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:value4\nMy-Header1:value1\nMy-Header1:value3\nMy-Header1:value2\nX-Amz-Date:20150830T123600Z`,
    signedHeaders: 'host;my-header1;x-amz-date',
    signature: '08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01',
  },
  {
    name: 'get-header-key-duplicate',
    request: `GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:value2\nMy-Header1:value2\nMy-Header1:value1\nX-Amz-Date:20150830T123600Z`,
    signedHeaders: 'host;my-header1;x-amz-date',
    signature: 'c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea',
  },
  {
    name: 'get-header-value-trim',
    request: `GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1: value1\nMy-Header2: "a   b   c"\nX-Amz-Date:20150830T123600Z`,
    signedHeaders: 'host;my-header1;my-header2;x-amz-date',
    signature: 'acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736',
  },
  { name: 'post-vanilla', request: `POST / HTTP/1.1\n${H}`, signedHeaders: 'host;x-amz-date', signature: '5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b' },
  { name: 'post-vanilla-query', request: `POST /?Param1=value1 HTTP/1.1\n${H}`, signedHeaders: 'host;x-amz-date', signature: '28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11' },
  {
    name: 'post-header-key-sort',
    request: `POST / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:value1\nX-Amz-Date:20150830T123600Z`,
    signedHeaders: 'host;my-header1;x-amz-date',
    signature: 'c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c',
  },
  {
    name: 'post-header-value-case',
    request: `POST / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:VALUE1\nX-Amz-Date:20150830T123600Z`,
    signedHeaders: 'host;my-header1;x-amz-date',
    signature: 'cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d',
  },
];

describe('SigV4 test suite vectors', () => {
  const options = { region: 'us-east-1', services: ['service'], lookup: (id: string) => (id === 'AKIDEXAMPLE' ? SUITE_CREDENTIAL : undefined), now: () => SUITE_NOW, body: Buffer.alloc(0) };
  for (const v of SUITE) {
    const authorization = `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=${v.signedHeaders}, Signature=${v.signature}`;
    test(`suite_${v.name}_verifies`, async () => {
      const result = await verifySigV4(withAuthorization(parseRequestText(v.request), authorization), options);
      assert.equal(result.anonymous, false);
      assert.equal(result.anonymous === false && result.credential.accessKeyId, 'AKIDEXAMPLE');
    });
    test(`suite_${v.name}_with_one_signature_digit_changed_is_SignatureDoesNotMatch`, async () => {
      const flipped = v.signature.slice(0, -1) + (v.signature.endsWith('0') ? '1' : '0');
      const bad = authorization.replace(v.signature, flipped);
      await expectS3Error(verifySigV4(withAuthorization(parseRequestText(v.request), bad), options), 'SignatureDoesNotMatch');
    });
  }
  // Skipped on purpose: the suite's normalize-path cases (`/./`, `/..`, `//`). S3 signs the
  // path exactly as sent and never normalizes it, so those vectors do not apply to S3.
});

// ---------------------------------------------------------------------------
// The Amazon S3 API reference's worked examples (examplebucket, 20130524T000000Z).
const DOC_CREDENTIAL: Credential = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
const DOC_NOW = Date.UTC(2013, 4, 24, 0, 0, 0);
const docOptions = { region: 'us-east-1', services: ['s3'], lookup: (id: string) => (id === DOC_CREDENTIAL.accessKeyId ? DOC_CREDENTIAL : undefined), now: () => DOC_NOW };

async function* chunksOf(...parts: (string | Buffer)[]): AsyncGenerator<Buffer> {
  for (const p of parts) yield Buffer.isBuffer(p) ? p : Buffer.from(p, 'latin1');
}

async function collect(body: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of body) out.push(c);
  return Buffer.concat(out);
}

describe('S3 documentation examples', () => {
  test('doc_GET_object_with_range_header_auth', async () => {
    const req = parseRequestText(
      [
        'GET /test.txt HTTP/1.1',
        'Host:examplebucket.s3.amazonaws.com',
        'Range:bytes=0-9',
        'x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
        'x-amz-date:20130524T000000Z',
      ].join('\n'),
    );
    const auth =
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41';
    const result = await verifySigV4(withAuthorization(req, auth), docOptions);
    assert.equal(result.anonymous, false);
    assert.deepEqual(result.payload, { kind: 'sha256', hex: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' });
  });

  test('doc_presigned_GET_object', async () => {
    const url =
      '/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404';
    const req = parseRequestText(`GET ${url} HTTP/1.1\nHost:examplebucket.s3.amazonaws.com`);
    const result = await verifySigV4(req, docOptions);
    assert.equal(result.anonymous === false && result.presigned, true);
    // One day and one second later the same URL has expired.
    const expired = await expectS3Error(verifySigV4(req, { ...docOptions, now: () => DOC_NOW + 86_401_000 }), 'AccessDenied');
    assert.match(expired.message, /expired/);
    await expectS3Error(verifySigV4(parseRequestText(`GET ${url.replace('test.txt', 'test2.txt')} HTTP/1.1\nHost:examplebucket.s3.amazonaws.com`), docOptions), 'SignatureDoesNotMatch');
  });

  const chunkedRequest = () =>
    parseRequestText(
      [
        'PUT /examplebucket/chunkObject.txt HTTP/1.1',
        'Host:s3.amazonaws.com',
        'x-amz-date:20130524T000000Z',
        'x-amz-storage-class:REDUCED_REDUNDANCY',
        'x-amz-content-sha256:STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
        'Content-Encoding:aws-chunked',
        'x-amz-decoded-content-length:66560',
        'Content-Length:66824',
      ].join('\n'),
    );
  const chunkedAuth =
    'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9';
  const chunkedBody = (firstSignature = 'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648') => [
    `10000;chunk-signature=${firstSignature}\r\n`,
    Buffer.alloc(65536, 'a'),
    '\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n',
    Buffer.alloc(1024, 'a'),
    '\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n',
  ];

  test('doc_chunked_upload_seed_and_chunk_signatures', async () => {
    const result = await verifySigV4(withAuthorization(chunkedRequest(), chunkedAuth), docOptions);
    assert.equal(result.payload.kind, 'chunked-signed');
    const decoded = decodePayload(chunksOf(...chunkedBody()), result.payload, { decodedContentLength: 66560 });
    const body = await collect(decoded.body);
    assert.equal(body.length, 66560);
    assert.ok(body.every((b) => b === 0x61));
  });

  test('doc_chunked_upload_with_a_wrong_chunk_signature_is_SignatureDoesNotMatch', async () => {
    const result = await verifySigV4(withAuthorization(chunkedRequest(), chunkedAuth), docOptions);
    const decoded = decodePayload(chunksOf(...chunkedBody('0'.repeat(64))), result.payload, { decodedContentLength: 66560 });
    await expectS3Error(collect(decoded.body), 'SignatureDoesNotMatch');
  });

  test('doc_chunked_upload_with_a_changed_byte_is_SignatureDoesNotMatch', async () => {
    const result = await verifySigV4(withAuthorization(chunkedRequest(), chunkedAuth), docOptions);
    const parts = chunkedBody();
    const tampered = Buffer.alloc(1024, 'a');
    tampered[100] = 0x62;
    parts[3] = tampered;
    await expectS3Error(collect(decodePayload(chunksOf(...parts), result.payload, { decodedContentLength: 66560 }).body), 'SignatureDoesNotMatch');
  });

  test('doc_chunked_upload_truncated_is_IncompleteBody', async () => {
    const result = await verifySigV4(withAuthorization(chunkedRequest(), chunkedAuth), docOptions);
    const parts = chunkedBody().slice(0, 2);
    await expectS3Error(collect(decodePayload(chunksOf(...parts), result.payload, { decodedContentLength: 66560 }).body), 'IncompleteBody');
  });

  test('doc_chunked_upload_split_at_every_byte_boundary_still_verifies', async () => {
    // Network reads can cut anywhere, including inside a chunk header: feed 7-byte pieces.
    const result = await verifySigV4(withAuthorization(chunkedRequest(), chunkedAuth), docOptions);
    const whole = Buffer.concat(chunkedBody().map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p, 'latin1'))));
    const pieces: Buffer[] = [];
    for (let i = 0; i < whole.length; i += 7) pieces.push(whole.subarray(i, i + 7));
    const body = await collect(decodePayload(chunksOf(...pieces), result.payload, { decodedContentLength: 66560 }).body);
    assert.equal(body.length, 66560);
  });
});

// ---------------------------------------------------------------------------
// Requests signed by the AWS SDK's signer, as the S3 client signs them.
describe('SDK-signed requests', () => {
  const credential: Credential = { accessKeyId: 'AKIASDKTEST', secretAccessKey: 'sdk/secret+key=0123456789' };
  const signer = new SignatureV4({ credentials: credential, region: 'eu-west-3', service: 's3', sha256: Sha256, uriEscapePath: false, applyChecksum: false });
  const options = { region: 'eu-west-3', services: ['s3'], lookup: (id: string) => (id === credential.accessKeyId ? credential : undefined) };

  async function signed(path: string, query: Record<string, string> = {}, extraHeaders: Record<string, string> = {}) {
    const request = {
      method: 'PUT',
      protocol: 'http:',
      hostname: '127.0.0.1',
      port: 9000,
      path,
      query,
      headers: { host: '127.0.0.1:9000', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...extraHeaders },
    };
    const out = await signer.sign(request);
    const rawQuery = Object.entries(query)
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
      .join('&');
    const headers: Record<string, string> = {};
    const rawHeaders: string[] = [];
    for (const [k, v] of Object.entries(out.headers)) {
      headers[k.toLowerCase()] = v;
      rawHeaders.push(k, v);
    }
    return { method: 'PUT', rawPath: path, rawQuery, headers, rawHeaders } satisfies SigV4Request;
  }

  for (const key of ['plain.txt', 'with%20space/and%2Bplus', 'unicode/%E2%82%AC%F0%9F%98%80', 'star%2Aparen%28%29']) {
    test(`sdk_signed_path_${key}_verifies`, async () => {
      const result = await verifySigV4(await signed(`/bucket/${key}`, { tagging: '', 'x-id': 'PutObject' }, { 'x-amz-meta-a': '  spaced   value ' }), options);
      assert.equal(result.anonymous === false && result.credential.accessKeyId, credential.accessKeyId);
      assert.deepEqual(result.payload, { kind: 'unsigned' });
    });
  }

  test('non_ASCII_header_values_verify_as_the_bytes_the_client_sent', async () => {
    // A client signs the UTF-8 bytes of `x-amz-meta-name: café €` and sends those bytes; node
    // hands each byte to us as one Latin-1 character, so the value must be hashed as Latin-1.
    const value = 'café €';
    const req = await signed('/bucket/k', {}, { 'x-amz-meta-name': value });
    const asReceived = Buffer.from(value, 'utf8').toString('latin1');
    const rawHeaders = [...req.rawHeaders];
    rawHeaders[rawHeaders.findIndex((h) => h.toLowerCase() === 'x-amz-meta-name') + 1] = asReceived;
    const result = await verifySigV4({ ...req, headers: { ...req.headers, 'x-amz-meta-name': asReceived }, rawHeaders }, options);
    assert.equal(result.anonymous, false);
    // And a changed byte is still a mismatch.
    rawHeaders[rawHeaders.findIndex((h) => h.toLowerCase() === 'x-amz-meta-name') + 1] = asReceived.replace('©', 'ª');
    await expectS3Error(verifySigV4({ ...req, rawHeaders }, options), 'SignatureDoesNotMatch');
  });

  test('sdk_signed_with_another_secret_is_SignatureDoesNotMatch', async () => {
    const req = await signed('/bucket/k');
    await expectS3Error(verifySigV4(req, { ...options, lookup: () => ({ accessKeyId: credential.accessKeyId, secretAccessKey: 'other' }) }), 'SignatureDoesNotMatch');
  });

  test('sdk_signed_with_a_changed_signed_header_is_SignatureDoesNotMatch', async () => {
    const req = await signed('/bucket/k', {}, { 'x-amz-meta-a': 'one' });
    const rawHeaders = [...req.rawHeaders];
    rawHeaders[rawHeaders.findIndex((h) => h.toLowerCase() === 'x-amz-meta-a') + 1] = 'two';
    await expectS3Error(verifySigV4({ ...req, rawHeaders }, options), 'SignatureDoesNotMatch');
  });

  test('unknown_access_key_is_InvalidAccessKeyId', async () => {
    await expectS3Error(verifySigV4(await signed('/bucket/k'), { ...options, lookup: () => undefined }), 'InvalidAccessKeyId');
  });

  test('wrong_region_is_AuthorizationHeaderMalformed_naming_the_expected_region', async () => {
    const err = await expectS3Error(verifySigV4(await signed('/bucket/k'), { ...options, region: 'us-east-1' }), 'AuthorizationHeaderMalformed');
    assert.equal(err.fields.Region, 'us-east-1');
  });

  test('clock_skew_over_15_minutes_is_RequestTimeTooSkewed', async () => {
    const req = await signed('/bucket/k');
    await expectS3Error(verifySigV4(req, { ...options, now: () => Date.now() + 16 * 60_000 }), 'RequestTimeTooSkewed');
    await expectS3Error(verifySigV4(req, { ...options, now: () => Date.now() - 16 * 60_000 }), 'RequestTimeTooSkewed');
    const ok = await verifySigV4(req, { ...options, now: () => Date.now() + 14 * 60_000 });
    assert.equal(ok.anonymous, false);
  });

  test('missing_x_amz_content_sha256_is_InvalidRequest', async () => {
    const req = await signed('/bucket/k');
    const headers = { ...req.headers };
    delete headers['x-amz-content-sha256'];
    await expectS3Error(verifySigV4({ ...req, headers }, options), 'InvalidRequest');
  });

  test('sdk_presigned_url_verifies_and_expires', async () => {
    const presigned = await signer.presign(
      // As @aws-sdk/s3-request-presigner does: the payload is declared unsigned, and that header is not hoisted.
      { method: 'GET', protocol: 'http:', hostname: '127.0.0.1', port: 9000, path: '/bucket/a%20b', query: {}, headers: { host: '127.0.0.1:9000', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } },
      { expiresIn: 60, unhoistableHeaders: new Set(['x-amz-content-sha256']), unsignableHeaders: new Set(['x-amz-content-sha256']) },
    );
    assert.equal(presigned.query?.['X-Amz-SignedHeaders'], 'host');
    const rawQuery = Object.entries(presigned.query ?? {})
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
      .join('&');
    const req: SigV4Request = { method: 'GET', rawPath: '/bucket/a%20b', rawQuery, headers: { host: '127.0.0.1:9000' }, rawHeaders: ['Host', '127.0.0.1:9000'] };
    const result = await verifySigV4(req, options);
    assert.equal(result.anonymous === false && result.presigned, true);
    await expectS3Error(verifySigV4(req, { ...options, now: () => Date.now() + 61_000 }), 'AccessDenied');
    await expectS3Error(verifySigV4({ ...req, method: 'PUT' }, options), 'SignatureDoesNotMatch');
  });

  test('presigned_expires_over_a_week_is_AuthorizationQueryParametersError', async () => {
    const q = 'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIASDKTEST%2F20240101%2Feu-west-3%2Fs3%2Faws4_request&X-Amz-Date=20240101T000000Z&X-Amz-Expires=604801&X-Amz-SignedHeaders=host&X-Amz-Signature=' + '0'.repeat(64);
    await expectS3Error(verifySigV4({ method: 'GET', rawPath: '/b/k', rawQuery: q, headers: { host: 'h' }, rawHeaders: ['Host', 'h'] }, options), 'AuthorizationQueryParametersError');
  });

  test('signature_version_2_is_refused_with_InvalidRequest', async () => {
    await expectS3Error(
      verifySigV4({ method: 'GET', rawPath: '/b/k', rawQuery: '', headers: { authorization: 'AWS AKIASDKTEST:abc=' }, rawHeaders: [] }, options),
      'InvalidRequest',
    );
  });

  test('no_authorization_is_anonymous', async () => {
    const result = await verifySigV4({ method: 'GET', rawPath: '/b/k', rawQuery: '', headers: {}, rawHeaders: [] }, options);
    assert.equal(result.anonymous, true);
  });
});

// ---------------------------------------------------------------------------
// aws-chunked with trailers, signed independently here from the S3 docs' formulas.
describe('aws-chunked trailers', () => {
  const hex = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
  const signingKey = createHmac('sha256', 'k').update('signing').digest();
  const timestamp = '20240101T000000Z';
  const scope = '20240101/us-east-1/s3/aws4_request';
  const sign = (s: string) => createHmac('sha256', signingKey).update(s).digest('hex');
  const payload = Buffer.from('hello, trailer world'.repeat(1000));
  const crc = 'AAAAAA==';

  function signedTrailerBody(options: { tamperTrailer?: boolean } = {}) {
    const seed = 'a'.repeat(64);
    const s1 = sign(`AWS4-HMAC-SHA256-PAYLOAD\n${timestamp}\n${scope}\n${seed}\n${hex('')}\n${hex(payload)}`);
    const s2 = sign(`AWS4-HMAC-SHA256-PAYLOAD\n${timestamp}\n${scope}\n${s1}\n${hex('')}\n${hex('')}`);
    const trailerSig = sign(`AWS4-HMAC-SHA256-TRAILER\n${timestamp}\n${scope}\n${s2}\n${hex(`x-amz-checksum-crc32:${crc}\n`)}`);
    const sentCrc = options.tamperTrailer ? 'BBBBBB==' : crc;
    const mode: PayloadMode = { kind: 'chunked-signed', trailer: true, seedSignature: seed, signingKey, timestamp, scope };
    const wire = [`${payload.length.toString(16)};chunk-signature=${s1}\r\n`, payload, `\r\n0;chunk-signature=${s2}\r\nx-amz-checksum-crc32:${sentCrc}\r\nx-amz-trailer-signature:${trailerSig}\r\n\r\n`];
    return { mode, wire };
  }

  test('signed_trailer_verifies_and_exposes_the_trailer', async () => {
    const { mode, wire } = signedTrailerBody();
    const decoded = decodePayload(chunksOf(...wire), mode, { decodedContentLength: payload.length });
    assert.deepEqual(await collect(decoded.body), payload);
    assert.deepEqual(decoded.trailers(), { 'x-amz-checksum-crc32': crc });
  });

  test('signed_trailer_with_a_changed_value_is_SignatureDoesNotMatch', async () => {
    const { mode, wire } = signedTrailerBody({ tamperTrailer: true });
    await expectS3Error(collect(decodePayload(chunksOf(...wire), mode).body), 'SignatureDoesNotMatch');
  });

  test('unsigned_trailer_body_decodes_across_many_chunks', async () => {
    const parts: (string | Buffer)[] = [];
    for (let i = 0; i < payload.length; i += 8192) {
      const piece = payload.subarray(i, i + 8192);
      parts.push(`${piece.length.toString(16)}\r\n`, piece, '\r\n');
    }
    parts.push(`0\r\nx-amz-checksum-crc32c:${crc}\r\n\r\n`);
    const decoded = decodePayload(chunksOf(...parts), { kind: 'chunked-unsigned-trailer' }, { decodedContentLength: payload.length });
    assert.deepEqual(await collect(decoded.body), payload);
    assert.deepEqual(decoded.trailers(), { 'x-amz-checksum-crc32c': crc });
  });

  test('decoded_length_mismatch_is_IncompleteBody', async () => {
    const parts = [`5\r\nhello\r\n0\r\n\r\n`];
    await expectS3Error(collect(decodePayload(chunksOf(...parts), { kind: 'chunked-unsigned-trailer' }, { decodedContentLength: 6 }).body), 'IncompleteBody');
  });

  test('non_hex_chunk_size_is_InvalidRequest', async () => {
    await expectS3Error(collect(decodePayload(chunksOf('zz\r\nhello\r\n0\r\n\r\n'), { kind: 'chunked-unsigned-trailer' }).body), 'InvalidRequest');
  });

  test('sha256_payload_mismatch_is_XAmzContentSHA256Mismatch', async () => {
    const decoded = decodePayload(chunksOf('hello'), { kind: 'sha256', hex: hex('hellO') });
    await expectS3Error(collect(decoded.body), 'XAmzContentSHA256Mismatch');
    assert.deepEqual(await collect(decodePayload(chunksOf('hello'), { kind: 'sha256', hex: hex('hello') }).body), Buffer.from('hello'));
  });
});
