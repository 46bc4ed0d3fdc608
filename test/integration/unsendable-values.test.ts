/**
 * Values a client controls that HTTP headers or XML 1.0 cannot carry as they
 * are (issue #22, item 7): `response-*` overrides with control characters or
 * beyond Latin-1 (they used to cut the connection with no response), object
 * keys with C0 control characters in listings (they used to make the XML not
 * well-formed), and the same keys echoed in error documents.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, HeadObjectCommand, ListObjectsCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { expectXmlError, signedRequest, xmlField, type RawResponse } from '../helpers/raw-s3.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { assertWellFormedXml10 } from '../helpers/xml10.js';

const OVERRIDES = [
  'response-content-type',
  'response-content-disposition',
  'response-content-language',
  'response-expires',
  'response-cache-control',
  'response-content-encoding',
] as const;

/** Every `<name>` element's text, in order. */
function xmlFields(body: Buffer, name: string): string[] {
  return [...body.toString('utf8').matchAll(new RegExp(`<${name}>([^<]*)</${name}>`, 'g'))].map((m) => m[1]!);
}

/** The five XML entities (what the server escapes), for comparing element text with keys. */
function unescapeXml(s: string): string {
  return s.replace(/&(lt|gt|quot|apos|amp);/g, (_, e: string) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[e]!);
}

describe('unsendable values', () => {
  let server: TestServer;
  let s3: S3Client;
  const bucket = 'unsendable';
  const body = Buffer.from('object body');

  const get = (query: Record<string, string>, method = 'GET'): Promise<RawResponse> => signedRequest(server, { method, path: `/${bucket}/plain.txt`, query });

  before(async () => {
    server = await startServer();
    s3 = server.client();
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'plain.txt', Body: body }));
  });
  after(async () => {
    s3?.destroy();
    await server?.destroy();
  });

  describe('response-* overrides', () => {
    test('GetObject_response_content_disposition_beyond_latin1_is_InvalidArgument_as_S3_answers', async () => {
      // AWS answers a UTF-8 file name here with 400 InvalidArgument "Header value cannot be
      // represented using ISO-8859-1." naming the parameter; clients are to send RFC 6266
      // `filename*=UTF-8''…` percent-encoded instead (next test).
      const value = 'attachment; filename="nằm mơ\u3000.xlsx"';
      const res = await get({ 'response-content-disposition': value });
      expectXmlError(res, 'InvalidArgument');
      assert.equal(xmlField(res.body, 'Message'), 'Header value cannot be represented using ISO-8859-1.');
      assert.equal(xmlField(res.body, 'ArgumentName'), 'response-content-disposition');
      assert.equal(unescapeXml(xmlField(res.body, 'ArgumentValue')!), value);
      assertWellFormedXml10(res.body);
    });

    test('GetObject_response_content_disposition_rfc6266_filename_star_and_latin1_are_returned_as_given', async () => {
      const star = "attachment; filename*=UTF-8''n%E1%BA%B1m%20m%C6%A1.xlsx";
      const res = await get({ 'response-content-disposition': star });
      assert.equal(res.status, 200, res.body.toString());
      assert.equal(res.headers['content-disposition'], star);
      assert.ok(res.body.equals(body));
      // Latin-1 can be sent: one byte per character on the wire, as node's client reads it back.
      const latin1 = await get({ 'response-content-disposition': 'attachment; filename="café.txt"', 'response-content-language': 'fr-é' });
      assert.equal(latin1.status, 200, latin1.body.toString());
      assert.equal(latin1.headers['content-disposition'], 'attachment; filename="café.txt"');
      assert.equal(latin1.headers['content-language'], 'fr-é');
    });

    test('GetObject_and_HeadObject_response_overrides_with_CR_LF_NUL_or_DEL_are_InvalidArgument_not_a_dropped_connection', async () => {
      for (const param of OVERRIDES) {
        for (const bad of ['\r\nSet-Cookie: x=1', '\n', '\u0000', '\u007f', '\u0001']) {
          const value = `text/plain${bad}`;
          const res = await get({ [param]: value });
          expectXmlError(res, 'InvalidArgument');
          assert.equal(xmlField(res.body, 'ArgumentName'), param);
          assert.equal(res.headers['set-cookie'], undefined, 'no header injected');
          assertWellFormedXml10(res.body);
        }
      }
      const head = await get({ 'response-content-type': 'text/plain\r\nX-Injected: 1' }, 'HEAD');
      assert.equal(head.status, 400);
      assert.equal(head.headers['x-injected'], undefined);
    });

    test('PutObject_metadata_with_control_characters_is_refused_by_the_parser_so_no_stored_value_can_break_a_GET', async () => {
      // Stored metadata is echoed on GET and HEAD as it was received; node's HTTP parser refuses
      // control characters in request header values (400), so no stored value can be unsendable.
      // Anything that still would be is answered 500 InternalError (unsendableHeader in server.ts).
      const status = await new Promise<string>((resolve, reject) => {
        const socket = net.connect(server.port, '127.0.0.1', () => {
          socket.write(Buffer.from(`PUT /${bucket}/ctl-meta.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Meta-A: a\u0001b\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx`, 'latin1'));
        });
        let data = '';
        socket.on('data', (c: Buffer) => (data += c.toString('latin1')));
        socket.on('close', () => resolve(data.split('\r\n')[0] ?? ''));
        socket.on('error', reject);
      });
      assert.equal(status, 'HTTP/1.1 400 Bad Request');
      await assert.rejects(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'ctl-meta.txt' })), { name: 'NotFound' });
    });
  });

  describe('keys XML 1.0 cannot carry', () => {
    const prefix = 'ctl/';
    const keys = [`${prefix}a\u0001b`, `${prefix}dir\u001f/x`, `${prefix}plain &<>"'.txt`, `${prefix}tab\tlf\ncr\r.txt`, `${prefix}z\u000b`];

    before(async () => {
      for (const key of keys) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'k' }));
    });

    test('ListObjectsV2_with_control_character_keys_is_well_formed_and_url_encoded_with_EncodingType', async () => {
      // AWS writes U+0001 as `&#x1;`, which strict XML 1.0 parsers reject for the whole page
      // (S3's docs: ask for encoding-type=url). Coffer answers such a page as if url had been
      // asked for and says so in EncodingType: well-formed, and every key recoverable.
      const res = await signedRequest(server, { method: 'GET', path: `/${bucket}`, query: { 'list-type': '2', prefix } });
      assert.equal(res.status, 200, res.body.toString());
      assertWellFormedXml10(res.body);
      assert.equal(xmlField(res.body, 'EncodingType'), 'url');
      assert.deepEqual(xmlFields(res.body, 'Key').map(decodeURIComponent), [...keys].sort());
      assert.equal(decodeURIComponent(xmlField(res.body, 'Prefix')!), prefix);

      const sdk = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
      assert.equal(sdk.EncodingType, 'url');
      assert.deepEqual(sdk.Contents!.map((o) => decodeURIComponent(o.Key!)), [...keys].sort());
    });

    test('ListObjectsV2_encoding_type_url_round_trips_control_character_keys_and_common_prefixes', async () => {
      const sdk = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, Delimiter: '/', EncodingType: 'url' }));
      assert.equal(sdk.EncodingType, 'url');
      assert.deepEqual(sdk.CommonPrefixes!.map((p) => decodeURIComponent(p.Prefix!)), [`${prefix}dir\u001f/`]);
      assert.deepEqual(sdk.Contents!.map((o) => decodeURIComponent(o.Key!)), keys.filter((k) => !k.includes('dir')).sort());
      // Pages of one: the continuation token carries the raw key, every key comes exactly once.
      const seen: string[] = [];
      let token: string | undefined;
      for (let page = 0; page < keys.length + 2; page++) {
        const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: 1, ...(token ? { ContinuationToken: token } : {}) }));
        seen.push(...(out.Contents ?? []).map((o) => (out.EncodingType === 'url' ? decodeURIComponent(o.Key!) : o.Key!)));
        if (!out.IsTruncated) break;
        token = out.NextContinuationToken;
      }
      assert.deepEqual(seen, [...keys].sort());
    });

    test('ListObjects_v1_with_a_control_character_common_prefix_is_well_formed_and_url_encoded', async () => {
      const res = await signedRequest(server, { method: 'GET', path: `/${bucket}`, query: { prefix, delimiter: '/' } });
      assert.equal(res.status, 200, res.body.toString());
      assertWellFormedXml10(res.body);
      assert.equal(xmlField(res.body, 'EncodingType'), 'url');
      assert.deepEqual(xmlFields(res.body, 'Prefix').map(decodeURIComponent), [prefix, `${prefix}dir\u001f/`]);
      const sdk = await s3.send(new ListObjectsCommand({ Bucket: bucket, Prefix: prefix, Delimiter: '/' }));
      assert.equal(sdk.EncodingType, 'url');
      assert.deepEqual(sdk.CommonPrefixes!.map((p) => decodeURIComponent(p.Prefix!)), [`${prefix}dir\u001f/`]);
    });

    test('ListObjectsV2_of_keys_XML_can_carry_stays_unencoded', async () => {
      // Only pages that need it switch: TAB, LF, CR (as &#13;) and the escaped five are XML text.
      const res = await signedRequest(server, { method: 'GET', path: `/${bucket}`, query: { 'list-type': '2', prefix: `${prefix}plain` } });
      assertWellFormedXml10(res.body);
      assert.equal(xmlField(res.body, 'EncodingType'), undefined);
      assert.deepEqual(xmlFields(res.body, 'Key').map(unescapeXml), [`${prefix}plain &<>"'.txt`]);
      const sdk = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}tab` }));
      assert.equal(sdk.EncodingType, undefined);
      assert.deepEqual(sdk.Contents!.map((o) => o.Key), [`${prefix}tab\tlf\ncr\r.txt`]);
    });

    test('GetObject_missing_control_character_key_error_document_is_well_formed', async () => {
      const res = await signedRequest(server, { method: 'GET', path: `/${bucket}/missing%01key` });
      expectXmlError(res, 'NoSuchKey');
      assertWellFormedXml10(res.body);
      // The Key echo cannot carry U+0001: it is replaced, the rest of the name kept.
      assert.equal(xmlField(res.body, 'Key'), 'missing\uFFFDkey');
    });
  });
});
