/**
 * Bucket CORS against the real server: PutBucketCors / GetBucketCors /
 * DeleteBucketCors through the SDK and raw requests (S3's validation), the
 * unauthenticated `OPTIONS` preflight answered from the rules as S3 answers it
 * ("Appendix: OPTIONS object"), and the CORS headers of actual requests from an
 * allowed origin — successes, errors and ranged GETs alike. Coffer's own
 * endpoints (KMS, IAM, /_coffer/health) are never opened to browsers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateBucketCommand,
  DeleteBucketCorsCommand,
  GetBucketCorsCommand,
  PutBucketCorsCommand,
  PutObjectCommand,
  type CORSRule,
  type S3Client,
} from '@aws-sdk/client-s3';
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { expectXmlError, rawRequest, signedRequest, xmlField } from '../helpers/raw-s3.js';
import { expectS3Error, md5Base64 } from '../helpers/s3.js';
import { startServer, type TestServer } from '../helpers/server.js';

const XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';
const VARY = 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method';

let server: TestServer;
let s3: S3Client;

before(async () => {
  server = await startServer();
  s3 = server.client();
});
after(async () => {
  s3?.destroy();
  await server?.destroy();
});

function corsDocument(rules: string): string {
  return `<CORSConfiguration xmlns="${XMLNS}">${rules}</CORSConfiguration>`;
}

async function putCorsRaw(bucket: string, xml: string, headers: Record<string, string> = {}) {
  const body = Buffer.from(xml);
  return signedRequest(server, { method: 'PUT', path: `/${bucket}`, query: { cors: '' }, headers: { 'content-md5': md5Base64(body), ...headers }, body });
}

function preflight(path: string, headers: Record<string, string>) {
  return rawRequest(server, { method: 'OPTIONS', path, headers });
}

async function newBucket(name: string, rules?: CORSRule[]): Promise<void> {
  await s3.send(new CreateBucketCommand({ Bucket: name }));
  if (rules) await s3.send(new PutBucketCorsCommand({ Bucket: name, CORSConfiguration: { CORSRules: rules } }));
}

describe('PutBucketCors / GetBucketCors / DeleteBucketCors', () => {
  test('GetBucketCors_without_configuration_is_NoSuchCORSConfiguration_404', async () => {
    await newBucket('cors-none');
    await expectS3Error(s3.send(new GetBucketCorsCommand({ Bucket: 'cors-none' })), 'NoSuchCORSConfiguration', 404);
  });

  test('PutBucketCors_round_trips_every_element_and_DeleteBucketCors_removes_it', async () => {
    const rules: CORSRule[] = [
      { ID: 'app', AllowedOrigins: ['https://app.example.com', 'https://*.example.org'], AllowedMethods: ['GET', 'PUT'], AllowedHeaders: ['*'], ExposeHeaders: ['ETag', 'x-amz-server-side-encryption'], MaxAgeSeconds: 3000 },
      { AllowedOrigins: ['*'], AllowedMethods: ['HEAD'] },
    ];
    await newBucket('cors-rt', rules);
    const got = await s3.send(new GetBucketCorsCommand({ Bucket: 'cors-rt' }));
    assert.deepEqual(got.CORSRules, [
      { ID: 'app', AllowedOrigins: ['https://app.example.com', 'https://*.example.org'], AllowedMethods: ['GET', 'PUT'], AllowedHeaders: ['*'], ExposeHeaders: ['ETag', 'x-amz-server-side-encryption'], MaxAgeSeconds: 3000 },
      { AllowedOrigins: ['*'], AllowedMethods: ['HEAD'] },
    ]);
    const del = await s3.send(new DeleteBucketCorsCommand({ Bucket: 'cors-rt' }));
    assert.equal(del.$metadata.httpStatusCode, 204);
    await expectS3Error(s3.send(new GetBucketCorsCommand({ Bucket: 'cors-rt' })), 'NoSuchCORSConfiguration', 404);
  });

  test('PutBucketCors_on_a_missing_bucket_is_NoSuchBucket', async () => {
    await expectS3Error(s3.send(new PutBucketCorsCommand({ Bucket: 'cors-missing', CORSConfiguration: { CORSRules: [{ AllowedOrigins: ['*'], AllowedMethods: ['GET'] }] } })), 'NoSuchBucket', 404);
  });

  test('PutBucketCors_without_Content_MD5_is_InvalidRequest', async () => {
    await newBucket('cors-md5');
    const body = Buffer.from(corsDocument('<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>'));
    const res = await signedRequest(server, { method: 'PUT', path: '/cors-md5', query: { cors: '' }, body });
    expectXmlError(res, 'InvalidRequest');
  });

  const RULE = (inner: string) => `<CORSRule>${inner}</CORSRule>`;
  const MINIMAL = '<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>';
  const invalid: [string, string, 'MalformedXML' | 'InvalidRequest' | 'InvalidArgument', string?][] = [
    ['no rule', '', 'MalformedXML'],
    ['a rule without AllowedMethod', RULE('<AllowedOrigin>*</AllowedOrigin>'), 'MalformedXML'],
    ['a rule without AllowedOrigin', RULE('<AllowedMethod>GET</AllowedMethod>'), 'MalformedXML'],
    ['an unknown element', RULE(MINIMAL + '<AllowCredentials>true</AllowCredentials>'), 'MalformedXML'],
    ['a MaxAgeSeconds that is not an integer', RULE(MINIMAL + '<MaxAgeSeconds>ten</MaxAgeSeconds>'), 'MalformedXML'],
    ['101 rules', RULE(MINIMAL).repeat(101), 'MalformedXML'],
    ['a lower-case method', RULE('<AllowedOrigin>*</AllowedOrigin><AllowedMethod>get</AllowedMethod>'), 'InvalidRequest', 'Found unsupported HTTP method in CORS config. Unsupported method is get'],
    ['PATCH', RULE('<AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod>'), 'InvalidRequest', 'Found unsupported HTTP method in CORS config. Unsupported method is PATCH'],
    ['two wildcards in AllowedOrigin', RULE('<AllowedOrigin>https://*.*.example.com</AllowedOrigin><AllowedMethod>GET</AllowedMethod>'), 'InvalidRequest', 'AllowedOrigin "https://*.*.example.com" can not have more than one wildcard.'],
    ['two wildcards in AllowedHeader', RULE(MINIMAL + '<AllowedHeader>x-*-meta-*</AllowedHeader>'), 'InvalidRequest', 'AllowedHeader "x-*-meta-*" can not have more than one wildcard.'],
    ['a wildcard in ExposeHeader', RULE(MINIMAL + '<ExposeHeader>x-amz-*</ExposeHeader>'), 'InvalidRequest', 'ExposeHeader "x-amz-*" contains wildcard. We currently do not support wildcard for ExposeHeader.'],
    ['an ID of 256 characters', RULE(`<ID>${'i'.repeat(256)}</ID>` + MINIMAL), 'InvalidArgument'],
  ];
  for (const [what, rules, code, message] of invalid) {
    test(`PutBucketCors_with_${what.replace(/\W+/g, '_')}_is_${code}`, async () => {
      await s3.send(new CreateBucketCommand({ Bucket: 'cors-bad' })).catch(() => {});
      const res = await putCorsRaw('cors-bad', corsDocument(rules));
      expectXmlError(res, code);
      if (message) assert.equal(xmlField(res.body, 'Message'), message.replace(/"/g, '&quot;'));
      await expectS3Error(s3.send(new GetBucketCorsCommand({ Bucket: 'cors-bad' })), 'NoSuchCORSConfiguration', 404);
    });
  }

  test('PutBucketCors_accepts_100_rules', async () => {
    await newBucket('cors-100');
    const res = await putCorsRaw('cors-100', corsDocument(RULE(MINIMAL).repeat(100)));
    assert.equal(res.status, 200, res.body.toString());
    assert.equal((await s3.send(new GetBucketCorsCommand({ Bucket: 'cors-100' }))).CORSRules?.length, 100);
  });

  test('an_IAM_user_needs_s3_GetBucketCORS_to_read_and_s3_PutBucketCORS_to_write_or_delete', async () => {
    await newBucket('cors-iam', [{ AllowedOrigins: ['*'], AllowedMethods: ['GET'] }]);
    const iam = new IAMClient({ endpoint: server.url, region: server.region, credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey } });
    await iam.send(new CreateUserCommand({ UserName: 'cors-reader' }));
    const key = (await iam.send(new CreateAccessKeyCommand({ UserName: 'cors-reader' }))).AccessKey!;
    await iam.send(
      new PutUserPolicyCommand({
        UserName: 'cors-reader',
        PolicyName: 'read-cors',
        PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetBucketCORS', Resource: 'arn:aws:s3:::cors-iam' }] }),
      }),
    );
    iam.destroy();
    const reader = server.client({ credentials: { accessKeyId: key.AccessKeyId!, secretAccessKey: key.SecretAccessKey! } });
    try {
      assert.equal((await reader.send(new GetBucketCorsCommand({ Bucket: 'cors-iam' }))).CORSRules?.length, 1);
      await expectS3Error(reader.send(new PutBucketCorsCommand({ Bucket: 'cors-iam', CORSConfiguration: { CORSRules: [{ AllowedOrigins: ['*'], AllowedMethods: ['PUT'] }] } })), 'AccessDenied', 403);
      await expectS3Error(reader.send(new DeleteBucketCorsCommand({ Bucket: 'cors-iam' })), 'AccessDenied', 403);
    } finally {
      reader.destroy();
    }
    assert.equal((await s3.send(new GetBucketCorsCommand({ Bucket: 'cors-iam' }))).CORSRules?.[0]?.AllowedMethods?.[0], 'GET');
  });

  test('GetBucketCors_and_PutBucketCors_are_refused_to_anonymous_callers', async () => {
    await newBucket('cors-anon', [{ AllowedOrigins: ['*'], AllowedMethods: ['GET'] }]);
    expectXmlError(await rawRequest(server, { method: 'GET', path: '/cors-anon?cors' }), 'AccessDenied');
    const body = Buffer.from(corsDocument(RULE(MINIMAL)));
    expectXmlError(await rawRequest(server, { method: 'PUT', path: '/cors-anon?cors', headers: { 'content-md5': md5Base64(body) }, body }), 'AccessDenied');
  });
});

describe('preflight OPTIONS', () => {
  before(async () => {
    await newBucket('pre', [
      { AllowedOrigins: ['https://app.example.com'], AllowedMethods: ['PUT', 'POST', 'DELETE'], AllowedHeaders: ['x-amz-*', 'Content-Type', 'authorization'], ExposeHeaders: ['ETag', 'x-amz-server-side-encryption'], MaxAgeSeconds: 600 },
      { AllowedOrigins: ['https://*.example.org'], AllowedMethods: ['GET', 'HEAD'] },
      { AllowedOrigins: ['*'], AllowedMethods: ['GET'] },
    ]);
  });

  test('preflight_matching_a_rule_answers_its_headers_and_echoes_the_requested_headers', async () => {
    const res = await preflight('/pre/photos/a.jpg', { origin: 'https://app.example.com', 'access-control-request-method': 'PUT', 'access-control-request-headers': 'Content-Type, X-Amz-Date, authorization, x-amz-content-sha256' });
    assert.equal(res.status, 200, res.body.toString());
    assert.equal(res.headers['access-control-allow-origin'], 'https://app.example.com');
    assert.equal(res.headers['access-control-allow-methods'], 'PUT, POST, DELETE');
    assert.equal(res.headers['access-control-allow-headers'], 'content-type, x-amz-date, authorization, x-amz-content-sha256');
    assert.equal(res.headers['access-control-expose-headers'], 'ETag, x-amz-server-side-encryption');
    assert.equal(res.headers['access-control-max-age'], '600');
    assert.equal(res.headers['access-control-allow-credentials'], 'true');
    assert.equal(res.headers['vary'], VARY);
    assert.equal(res.body.length, 0);
  });

  test('preflight_origin_matches_a_wildcard_AllowedOrigin', async () => {
    const res = await preflight('/pre/k', { origin: 'https://cdn.example.org', 'access-control-request-method': 'HEAD' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['access-control-allow-origin'], 'https://cdn.example.org');
    assert.equal(res.headers['access-control-allow-methods'], 'GET, HEAD');
    assert.equal(res.headers['access-control-allow-credentials'], 'true');
    assert.equal(res.headers['access-control-max-age'], undefined);
  });

  test('preflight_matching_the_star_origin_answers_star_without_credentials', async () => {
    const res = await preflight('/pre', { origin: 'http://elsewhere.test', 'access-control-request-method': 'GET' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['access-control-allow-origin'], '*');
    assert.equal(res.headers['access-control-allow-credentials'], undefined);
  });

  test('preflight_with_a_header_no_AllowedHeader_matches_is_403_AccessForbidden', async () => {
    const res = await preflight('/pre/k', { origin: 'https://app.example.com', 'access-control-request-method': 'PUT', 'access-control-request-headers': 'x-custom' });
    expectXmlError(res, 'AccessForbidden');
    assert.match(xmlField(res.body, 'Message') ?? '', /^CORSResponse: This CORS request is not allowed\./);
    assert.equal(xmlField(res.body, 'Method'), 'PUT');
    assert.equal(xmlField(res.body, 'ResourceType'), 'OBJECT');
    assert.equal(res.headers['access-control-allow-origin'], undefined);
  });

  test('preflight_with_a_method_no_rule_of_the_origin_allows_is_403', async () => {
    const res = await preflight('/pre', { origin: 'https://cdn.example.org', 'access-control-request-method': 'DELETE' });
    expectXmlError(res, 'AccessForbidden');
    assert.equal(xmlField(res.body, 'ResourceType'), 'BUCKET');
  });

  test('preflight_origins_compare_case_sensitively', async () => {
    const res = await preflight('/pre/k', { origin: 'https://APP.example.com', 'access-control-request-method': 'PUT' });
    expectXmlError(res, 'AccessForbidden');
  });

  test('preflight_on_a_bucket_without_CORS_is_403_CORS_is_not_enabled', async () => {
    await newBucket('pre-none');
    const res = await preflight('/pre-none/k', { origin: 'https://app.example.com', 'access-control-request-method': 'GET' });
    expectXmlError(res, 'AccessForbidden');
    assert.equal(xmlField(res.body, 'Message'), 'CORSResponse: CORS is not enabled for this bucket.');
  });

  test('preflight_on_a_missing_bucket_answers_as_one_without_CORS', async () => {
    const res = await preflight('/no-such-bucket-here/k', { origin: 'https://app.example.com', 'access-control-request-method': 'GET' });
    expectXmlError(res, 'AccessForbidden');
  });

  test('preflight_without_Origin_is_400_BadRequest', async () => {
    const res = await preflight('/pre/k', { 'access-control-request-method': 'PUT' });
    expectXmlError(res, 'BadRequest');
    assert.equal(xmlField(res.body, 'Message'), 'Insufficient information. Origin request header needed.');
  });

  test('preflight_without_Access_Control_Request_Method_is_400_BadRequest', async () => {
    const res = await preflight('/pre/k', { origin: 'https://app.example.com' });
    expectXmlError(res, 'BadRequest');
    assert.equal(xmlField(res.body, 'Message'), 'Invalid Access-Control-Request-Method: null');
  });

  test('preflight_for_Coffer_endpoints_outside_buckets_is_refused', async () => {
    // POST / is where KMS and IAM listen: no preflight passes, and no CORS header is sent.
    const root = await preflight('/', { origin: 'https://app.example.com', 'access-control-request-method': 'POST' });
    assert.notEqual(root.status, 200);
    assert.equal(root.headers['access-control-allow-origin'], undefined);
    const health = await preflight('/_coffer/health', { origin: 'https://app.example.com', 'access-control-request-method': 'GET' });
    assert.equal(health.status, 403);
    assert.equal(health.headers['access-control-allow-origin'], undefined);
    const get = await rawRequest(server, { method: 'GET', path: '/_coffer/health', headers: { origin: 'https://app.example.com' } });
    assert.equal(get.status, 200);
    assert.equal(get.headers['access-control-allow-origin'], undefined);
  });
});

describe('CORS headers on actual requests', () => {
  const BODY = Buffer.from('0123456789abcdefghij');
  before(async () => {
    await newBucket('act', [
      { AllowedOrigins: ['https://app.example.com'], AllowedMethods: ['GET', 'PUT', 'HEAD'], AllowedHeaders: ['*'], ExposeHeaders: ['ETag', 'Content-Range', 'x-amz-server-side-encryption'], MaxAgeSeconds: 60 },
    ]);
    await s3.send(new PutObjectCommand({ Bucket: 'act', Key: 'obj', Body: BODY }));
  });

  test('a_signed_GET_from_an_allowed_origin_carries_the_rule_headers', async () => {
    const res = await signedRequest(server, { method: 'GET', path: '/act/obj', headers: { origin: 'https://app.example.com' } });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, BODY);
    assert.equal(res.headers['access-control-allow-origin'], 'https://app.example.com');
    assert.equal(res.headers['access-control-allow-methods'], 'GET, PUT, HEAD');
    assert.equal(res.headers['access-control-expose-headers'], 'ETag, Content-Range, x-amz-server-side-encryption');
    assert.equal(res.headers['access-control-max-age'], '60');
    assert.equal(res.headers['access-control-allow-credentials'], 'true');
    assert.equal(res.headers['vary'], VARY);
    assert.equal(res.headers['x-amz-server-side-encryption'], 'AES256');
  });

  test('a_ranged_GET_carries_them_too', async () => {
    const res = await signedRequest(server, { method: 'GET', path: '/act/obj', headers: { origin: 'https://app.example.com', range: 'bytes=5-9' } });
    assert.equal(res.status, 206);
    assert.deepEqual(res.body, BODY.subarray(5, 10));
    assert.equal(res.headers['content-range'], 'bytes 5-9/20');
    assert.equal(res.headers['access-control-allow-origin'], 'https://app.example.com');
  });

  test('an_error_response_carries_them_so_the_page_can_read_it', async () => {
    const missing = await signedRequest(server, { method: 'GET', path: '/act/missing', headers: { origin: 'https://app.example.com' } });
    expectXmlError(missing, 'NoSuchKey');
    assert.equal(missing.headers['access-control-allow-origin'], 'https://app.example.com');
    const anonymous = await rawRequest(server, { method: 'GET', path: '/act/obj', headers: { origin: 'https://app.example.com' } });
    expectXmlError(anonymous, 'AccessDenied');
    assert.equal(anonymous.headers['access-control-allow-origin'], 'https://app.example.com');
  });

  test('a_method_the_rule_does_not_allow_gets_no_CORS_headers', async () => {
    const res = await signedRequest(server, { method: 'DELETE', path: '/act/nothing', headers: { origin: 'https://app.example.com' } });
    assert.equal(res.status, 204);
    assert.equal(res.headers['access-control-allow-origin'], undefined);
  });

  test('another_origin_gets_no_CORS_headers_and_no_Origin_none_either', async () => {
    const other = await signedRequest(server, { method: 'GET', path: '/act/obj', headers: { origin: 'https://evil.example.net' } });
    assert.equal(other.status, 200);
    assert.equal(other.headers['access-control-allow-origin'], undefined);
    const none = await signedRequest(server, { method: 'GET', path: '/act/obj' });
    assert.equal(none.headers['access-control-allow-origin'], undefined);
    assert.equal(none.headers['vary'], undefined);
  });

  test('a_bucket_without_CORS_sends_no_CORS_headers', async () => {
    await newBucket('act-none');
    const res = await signedRequest(server, { method: 'GET', path: '/act-none', query: { 'list-type': '2' }, headers: { origin: 'https://app.example.com' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers['access-control-allow-origin'], undefined);
  });
});
