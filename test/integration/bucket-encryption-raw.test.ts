/**
 * The bucket encryption API and object encryption through raw signed requests:
 * what SDKs will not send (no Content-MD5, a wrong one, malformed or
 * out-of-schema documents) and what they hide (the exact XML, empty bodies,
 * the response headers). Also the failures peers have shipped: objects sent
 * with SSE-S3 or SSE-C stored in plaintext, DeleteBucketEncryption deleting the
 * bucket, key material echoed as the KMS key id.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { CreateAliasCommand, CreateKeyCommand } from '@aws-sdk/client-kms';
import { kmsClient } from '../helpers/kms.js';
import { expectXmlError, signedRequest, type RawResponse } from '../helpers/raw-s3.js';
import { crc32Raw, filesUnder, md5Base64, readStoredBlob, storedBlobIds } from '../helpers/s3.js';
import { startServer, type TestServer } from '../helpers/server.js';

const XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';
const KEY_ARN = /^arn:aws:kms:[a-z0-9-]+:\d{12}:key\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const CUSTOMER_KEY = Buffer.from('raw-customer-key-0123456789abcde'); // 32 bytes
const PACKAGE = 65536;

/** A ServerSideEncryptionConfiguration with one rule made of `rule` (raw XML). */
function config(rule: string): string {
  return `<ServerSideEncryptionConfiguration xmlns="${XMLNS}"><Rule>${rule}</Rule></ServerSideEncryptionConfiguration>`;
}

/** The XML with its declaration and the whitespace between elements removed, to compare documents exactly. */
function compact(xml: string): string {
  return xml
    .replace(/^<\?xml[^>]*\?>/, '')
    .replace(/>\s+</g, '><')
    .trim();
}


/** The size of blob format v1 for `size` plaintext bytes in one layer: header, then packages each with a 16-byte tag. */
function blobSize(size: number): number {
  const packages = Math.max(1, Math.ceil(size / PACKAGE));
  return 48 + size + 16 * packages;
}

describe('bucket encryption and object encryption, raw requests', () => {
  let server: TestServer;
  let s3: S3Client;
  let keyArn = '';
  let keyId = '';
  const alias = 'alias/raw-tests';

  before(async () => {
    server = await startServer();
    s3 = server.client();
    const kms = kmsClient(server);
    const created = await kms.send(new CreateKeyCommand({ Description: 'raw bucket encryption tests' }));
    keyArn = created.KeyMetadata!.Arn!;
    keyId = created.KeyMetadata!.KeyId!;
    await kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: keyId }));
    kms.destroy();
  });
  after(async () => {
    s3?.destroy();
    await server?.destroy();
  });

  async function createBucket(name: string): Promise<void> {
    await s3.send(new CreateBucketCommand({ Bucket: name }));
  }

  /** PUT /bucket?encryption with `body`; Content-MD5 of the body unless `headers` says otherwise. */
  function putEncryption(bucket: string, body: string, headers?: Record<string, string>): Promise<RawResponse> {
    const bytes = Buffer.from(body);
    return signedRequest(server, { method: 'PUT', path: `/${bucket}`, query: { encryption: '' }, headers: headers ?? { 'content-md5': md5Base64(bytes) }, body: bytes });
  }
  const getEncryption = (bucket: string) => signedRequest(server, { method: 'GET', path: `/${bucket}`, query: { encryption: '' } });
  const deleteEncryption = (bucket: string) => signedRequest(server, { method: 'DELETE', path: `/${bucket}`, query: { encryption: '' } });

  async function expectStored(bucket: string, expectedConfig: string, what: string): Promise<void> {
    const got = await getEncryption(bucket);
    assert.equal(got.status, 200, `${what}: GetBucketEncryption status (${got.body.toString()})`);
    assert.equal(compact(got.body.toString('utf8')), expectedConfig, `${what}: the stored configuration`);
  }

  function putObject(bucket: string, key: string, body: Buffer, headers: Record<string, string> = {}): Promise<RawResponse> {
    return signedRequest(server, { method: 'PUT', path: `/${bucket}/${key}`, headers: { 'content-md5': md5Base64(body), ...headers }, body });
  }

  function ssecHeaders(key: Buffer = CUSTOMER_KEY): Record<string, string> {
    return {
      'x-amz-server-side-encryption-customer-algorithm': 'AES256',
      'x-amz-server-side-encryption-customer-key': key.toString('base64'),
      'x-amz-server-side-encryption-customer-key-md5': createHash('md5').update(key).digest('base64'),
    };
  }

  /**
   * PUTs an object and returns the blob file(s) it added under <data>/blobs.
   * Blobs are published after the metadata commit, so wait for the file to appear.
   */
  /** PUTs an object and returns the bytes of the one blob it added (a file, or a row of small-blobs.db). */
  async function putAndFindBlob(bucket: string, key: string, body: Buffer, headers: Record<string, string>): Promise<{ res: RawResponse; stored: Buffer; blobId: string }> {
    const before = new Set(storedBlobIds(server.dataDir));
    const res = await putObject(bucket, key, body, headers);
    assert.equal(res.status, 200, `PutObject (${res.body.toString()})`);
    let added: string[] = [];
    for (let i = 0; i < 100 && added.length === 0; i++) {
      added = storedBlobIds(server.dataDir).filter((f) => !before.has(f));
      if (added.length === 0) await sleep(20);
    }
    assert.equal(added.length, 1, `one new stored blob, found ${added.length}`);
    return { res, stored: readStoredBlob(server.dataDir, added[0]!), blobId: added[0]! };
  }

  describe('PutBucketEncryption integrity headers', () => {
    const b = 'raw-enc-digest';
    const good = config('<ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm></ApplyServerSideEncryptionByDefault>');
    const stored = config('<ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>false</BucketKeyEnabled>');
    before(() => createBucket(b));

    test('PutBucketEncryption_without_Content_MD5_or_checksum_is_InvalidRequest_400', async () => {
      const res = await putEncryption(b, good, {});
      expectXmlError(res, 'InvalidRequest');
      // Nothing was stored: the bucket still reports the default (SSE-S3).
      const got = await getEncryption(b);
      assert.match(got.body.toString(), /<SSEAlgorithm>AES256<\/SSEAlgorithm>/);
    });

    test('PutBucketEncryption_malformed_Content_MD5_is_InvalidDigest_400', async () => {
      for (const md5 of ['not base64 at all!', Buffer.from('fifteen bytes!!').toString('base64'), createHash('md5').update(good).digest('hex')]) {
        const res = await putEncryption(b, good, { 'content-md5': md5 });
        expectXmlError(res, 'InvalidDigest');
      }
    });

    test('PutBucketEncryption_mismatching_Content_MD5_is_BadDigest_400', async () => {
      const res = await putEncryption(b, good, { 'content-md5': md5Base64(Buffer.from(`${good} `)) });
      expectXmlError(res, 'BadDigest');
      const got = await getEncryption(b);
      assert.match(got.body.toString(), /<SSEAlgorithm>AES256<\/SSEAlgorithm>/, 'a configuration failing its digest is not stored');
    });

    test('PutBucketEncryption_with_x_amz_checksum_crc32_instead_of_Content_MD5_is_200', async () => {
      const wrong = await putEncryption(b, good, { 'x-amz-checksum-crc32': crc32Raw(Buffer.from(`${good} `)).toString('base64') });
      expectXmlError(wrong, 'BadDigest');
      const res = await putEncryption(b, good, { 'x-amz-checksum-crc32': crc32Raw(Buffer.from(good)).toString('base64') });
      assert.equal(res.status, 200, res.body.toString());
      assert.equal(res.body.length, 0);
      await expectStored(b, stored, 'after a PUT with x-amz-checksum-crc32');
    });

    test('PutBucketEncryption_with_x_amz_checksum_sha256_instead_of_Content_MD5_is_200', async () => {
      const doc = config('<ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault>');
      const res = await putEncryption(b, doc, { 'x-amz-checksum-sha256': createHash('sha256').update(doc).digest('base64') });
      assert.equal(res.status, 200, res.body.toString());
      await expectStored(b, config('<ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>false</BucketKeyEnabled>'), 'after a PUT with x-amz-checksum-sha256');
    });
  });

  describe('PutBucketEncryption document validation', () => {
    const b = 'raw-enc-validate';
    // Set in before() (the key ARN exists only then); every refused PUT must leave it as it is.
    const storedDoc = () =>
      config(`<ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>${keyArn}</KMSMasterKeyID></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled>`);

    before(() => createBucket(b));

    /** Stores the known configuration, so a refused PUT can be shown to leave it alone (whatever an earlier test did). */
    async function storeKnown(): Promise<void> {
      const res = await putEncryption(b, storedDoc());
      assert.equal(res.status, 200, res.body.toString());
    }

    const malformed: [string, () => string][] = [
      ['not_well_formed', () => `<ServerSideEncryptionConfiguration xmlns="${XMLNS}"><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></Rule></ServerSideEncryptionConfiguration>`],
      ['wrong_root_element', () => `<EncryptionConfiguration xmlns="${XMLNS}"><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></EncryptionConfiguration>`],
      ['unknown_element_in_rule', () => config('<ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault><Colour>blue</Colour>')],
      ['unknown_element_in_default', () => config('<ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm><KeyRotation>yes</KeyRotation></ApplyServerSideEncryptionByDefault>')],
      ['unknown_element_at_top', () => `<ServerSideEncryptionConfiguration xmlns="${XMLNS}"><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule><Extra/></ServerSideEncryptionConfiguration>`],
      ['zero_rules', () => `<ServerSideEncryptionConfiguration xmlns="${XMLNS}"></ServerSideEncryptionConfiguration>`],
      ['two_rules', () => `<ServerSideEncryptionConfiguration xmlns="${XMLNS}"><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule><Rule><BucketKeyEnabled>true</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>`],
      ['SSEAlgorithm_AES128', () => config('<ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES128</SSEAlgorithm></ApplyServerSideEncryptionByDefault>')],
      ['SSEAlgorithm_missing', () => config(`<ApplyServerSideEncryptionByDefault><KMSMasterKeyID>${keyArn}</KMSMasterKeyID></ApplyServerSideEncryptionByDefault>`)],
      ['SSEAlgorithm_lower_case', () => config('<ApplyServerSideEncryptionByDefault><SSEAlgorithm>aes256</SSEAlgorithm></ApplyServerSideEncryptionByDefault>')],
      ['BucketKeyEnabled_maybe', () => config('<ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>maybe</BucketKeyEnabled>')],
      ['EncryptionType_SSE_S3', () => config('<ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault><BlockedEncryptionTypes><EncryptionType>SSE-S3</EncryptionType></BlockedEncryptionTypes>')],
    ];

    for (const [name, doc] of malformed) {
      test(`PutBucketEncryption_${name}_is_MalformedXML_400`, async () => {
        await storeKnown();
        const res = await putEncryption(b, doc());
        expectXmlError(res, 'MalformedXML');
        await expectStored(b, storedDoc(), `after the refused ${name}`);
      });
    }

    test('PutBucketEncryption_KMSMasterKeyID_with_AES256_is_InvalidArgument_400', async () => {
      await storeKnown();
      const res = await putEncryption(b, config(`<ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm><KMSMasterKeyID>${keyArn}</KMSMasterKeyID></ApplyServerSideEncryptionByDefault>`));
      expectXmlError(res, 'InvalidArgument');
      await expectStored(b, storedDoc(), 'after the refused AES256 + KMSMasterKeyID');
    });

    test('PutBucketEncryption_unknown_KMSMasterKeyID_is_KMS_NotFoundException_400', async () => {
      await storeKnown();
      const res = await putEncryption(b, config('<ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>alias/no-such-raw-key</KMSMasterKeyID></ApplyServerSideEncryptionByDefault>'));
      expectXmlError(res, 'KMS.NotFoundException');
      await expectStored(b, storedDoc(), 'after the refused unknown key');
    });

    test('PutBucketEncryption_on_a_missing_bucket_is_NoSuchBucket_404', async () => {
      const res = await putEncryption('raw-enc-no-such-bucket', config('<ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault>'));
      expectXmlError(res, 'NoSuchBucket');
    });
  });

  describe('PutBucketEncryption and GetBucketEncryption documents', () => {
    const b = 'raw-enc-docs';
    before(() => createBucket(b));

    test('PutBucketEncryption_success_is_200_with_an_empty_body', async () => {
      const res = await putEncryption(b, config('<ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault>'));
      assert.equal(res.status, 200, res.body.toString());
      assert.equal(res.body.length, 0, `empty body, got ${JSON.stringify(res.body.toString())}`);
      assert.equal(res.headers['content-length'], '0');
      assert.ok(res.headers['x-amz-request-id'], 'x-amz-request-id');
    });

    test('GetBucketEncryption_default_document_namespace_and_element_order', async () => {
      await createBucket('raw-enc-never-configured');
      const got = await getEncryption('raw-enc-never-configured');
      assert.equal(got.status, 200);
      assert.equal(got.headers['content-type'], 'application/xml');
      assert.match(got.body.toString(), /^<\?xml version="1\.0" encoding="UTF-8"\?>/);
      assert.equal(
        compact(got.body.toString()),
        config(
          '<ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>false</BucketKeyEnabled><BlockedEncryptionTypes><EncryptionType>SSE-C</EncryptionType></BlockedEncryptionTypes>',
        ),
      );
    });

    // [what was PUT (rule), what GetBucketEncryption must return (rule)]
    const cases = (): [string, string, string][] => [
      ['sse_s3', '<ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault>', '<ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>false</BucketKeyEnabled>'],
      [
        // Elements in another order than S3's own: the response is in S3's order regardless.
        'sse_kms_alias_with_bucket_key',
        `<BucketKeyEnabled>true</BucketKeyEnabled><ApplyServerSideEncryptionByDefault><KMSMasterKeyID>${alias}</KMSMasterKeyID><SSEAlgorithm>aws:kms</SSEAlgorithm></ApplyServerSideEncryptionByDefault>`,
        `<ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>${alias}</KMSMasterKeyID></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled>`,
      ],
      [
        'dsse_kms_key_arn',
        `<ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms:dsse</SSEAlgorithm><KMSMasterKeyID>${keyArn}</KMSMasterKeyID></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>false</BucketKeyEnabled>`,
        `<ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms:dsse</SSEAlgorithm><KMSMasterKeyID>${keyArn}</KMSMasterKeyID></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>false</BucketKeyEnabled>`,
      ],
      [
        'sse_kms_key_id_sse_c_unblocked',
        `<ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>${keyId}</KMSMasterKeyID></ApplyServerSideEncryptionByDefault><BlockedEncryptionTypes><EncryptionType>NONE</EncryptionType></BlockedEncryptionTypes>`,
        `<ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>${keyId}</KMSMasterKeyID></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>false</BucketKeyEnabled><BlockedEncryptionTypes><EncryptionType>NONE</EncryptionType></BlockedEncryptionTypes>`,
      ],
    ];

    test('GetBucketEncryption_returns_exactly_what_was_stored', async () => {
      for (const [name, put, expected] of cases()) {
        const res = await putEncryption(b, config(put));
        assert.equal(res.status, 200, `${name}: ${res.body.toString()}`);
        await expectStored(b, config(expected), name);
      }
    });
  });

  describe('DeleteBucketEncryption', () => {
    test('DeleteBucketEncryption_on_an_empty_bucket_is_204_and_keeps_the_bucket', async () => {
      const b = 'raw-enc-delete-empty';
      await createBucket(b);
      assert.equal((await putEncryption(b, config(`<ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>${alias}</KMSMasterKeyID></ApplyServerSideEncryptionByDefault>`))).status, 200);
      // An empty bucket is where a router that ignores ?encryption would run DeleteBucket successfully.
      const del = await deleteEncryption(b);
      assert.equal(del.status, 204, del.body.toString());
      assert.equal(del.body.length, 0);
      const head = await signedRequest(server, { method: 'HEAD', path: `/${b}` });
      assert.equal(head.status, 200, 'the bucket still exists');
      const listed = await signedRequest(server, { method: 'GET', path: '/' });
      assert.match(listed.body.toString(), new RegExp(`<Name>${b}</Name>`));
      // Reset to the server default, and idempotent.
      await expectStored(
        b,
        config('<ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>false</BucketKeyEnabled><BlockedEncryptionTypes><EncryptionType>SSE-C</EncryptionType></BlockedEncryptionTypes>'),
        'after DeleteBucketEncryption',
      );
      const again = await deleteEncryption(b);
      assert.equal(again.status, 204);
      assert.equal((await signedRequest(server, { method: 'HEAD', path: `/${b}` })).status, 200);
    });

    test('DeleteBucketEncryption_keeps_objects_encrypted_under_the_old_default_readable', async () => {
      const b = 'raw-enc-delete-full';
      await createBucket(b);
      assert.equal((await putEncryption(b, config(`<ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>${alias}</KMSMasterKeyID></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled>`))).status, 200);
      const bodies = new Map<string, Buffer>([
        ['a.txt', Buffer.from('alpha under the bucket default')],
        ['dir/b.bin', Buffer.alloc(3 * PACKAGE + 5, 7)],
      ]);
      for (const [k, v] of bodies) {
        const put = await putObject(b, k, v);
        assert.equal(put.status, 200);
        assert.equal(put.headers['x-amz-server-side-encryption'], 'aws:kms');
      }
      const del = await deleteEncryption(b);
      assert.equal(del.status, 204, del.body.toString());
      assert.equal(del.body.length, 0, 'no body');
      assert.equal((await signedRequest(server, { method: 'HEAD', path: `/${b}` })).status, 200, 'the bucket still exists');
      const list = await signedRequest(server, { method: 'GET', path: `/${b}`, query: { 'list-type': '2' } });
      assert.equal(list.status, 200);
      assert.deepEqual([...list.body.toString().matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1]).sort(), ['a.txt', 'dir/b.bin']);
      for (const [k, v] of bodies) {
        const got = await signedRequest(server, { method: 'GET', path: `/${b}/${k}` });
        assert.equal(got.status, 200, `${k}: ${got.body.toString().slice(0, 300)}`);
        assert.equal(got.headers['x-amz-server-side-encryption'], 'aws:kms', `${k} keeps its own encryption`);
        assert.equal(got.headers['x-amz-server-side-encryption-aws-kms-key-id'], keyArn);
        assert.deepEqual(got.body, v, k);
      }
      const after = await putObject(b, 'c.txt', Buffer.from('after the reset'));
      assert.equal(after.headers['x-amz-server-side-encryption'], 'AES256', 'new objects get the reset default');
    });

    test('DeleteBucketEncryption_on_a_missing_bucket_is_NoSuchBucket_404', async () => {
      expectXmlError(await deleteEncryption('raw-enc-no-such-bucket'), 'NoSuchBucket');
    });
  });

  describe('UpdateObjectEncryption', () => {
    const b = 'raw-update-enc';
    const objectEncryption = (arn: string) => `<ObjectEncryption xmlns="${XMLNS}"><SSE-KMS><KMSKeyArn>${arn}</KMSKeyArn></SSE-KMS></ObjectEncryption>`;
    const update = (key: string, body: string, headers?: Record<string, string>) => {
      const bytes = Buffer.from(body);
      return signedRequest(server, { method: 'PUT', path: `/${b}/${key}`, query: { encryption: '' }, headers: headers ?? { 'content-md5': md5Base64(bytes) }, body: bytes });
    };
    const head = (key: string) => signedRequest(server, { method: 'HEAD', path: `/${b}/${key}` });

    /** Each test gets its own SSE-S3 object, so a request wrongly accepted by one cannot mislead another. */
    async function sseS3Object(key: string): Promise<string> {
      const put = await putObject(b, key, Buffer.from(`update ${key}`));
      assert.equal(put.status, 200, put.body.toString());
      assert.equal(put.headers['x-amz-server-side-encryption'], 'AES256');
      return key;
    }

    before(() => createBucket(b));

    test('UpdateObjectEncryption_without_Content_MD5_is_InvalidRequest_400', async () => {
      const key = await sseS3Object('no-md5');
      expectXmlError(await update(key, objectEncryption(keyArn), {}), 'InvalidRequest');
      assert.equal((await head(key)).headers['x-amz-server-side-encryption'], 'AES256', 'unchanged');
    });

    test('UpdateObjectEncryption_mismatching_Content_MD5_is_BadDigest_400', async () => {
      const key = await sseS3Object('bad-md5');
      expectXmlError(await update(key, objectEncryption(keyArn), { 'content-md5': md5Base64(Buffer.from('something else')) }), 'BadDigest');
      assert.equal((await head(key)).headers['x-amz-server-side-encryption'], 'AES256', 'unchanged');
    });

    test('UpdateObjectEncryption_malformed_XML_is_MalformedXML_400', async () => {
      const key = await sseS3Object('malformed');
      for (const body of [
        `<ObjectEncryption xmlns="${XMLNS}"><SSE-KMS><KMSKeyArn>${keyArn}</KMSKeyArn></ObjectEncryption>`,
        `<ObjectEncryption xmlns="${XMLNS}"></ObjectEncryption>`,
        `<ObjectEncryption xmlns="${XMLNS}"><SSE-KMS><KMSKeyArn>${keyArn}</KMSKeyArn><BucketKeyEnabled>maybe</BucketKeyEnabled></SSE-KMS></ObjectEncryption>`,
        `<ObjectEncryption xmlns="${XMLNS}"><SSE-KMS><KMSKeyArn>${keyArn}</KMSKeyArn><Colour>blue</Colour></SSE-KMS></ObjectEncryption>`,
      ]) {
        expectXmlError(await update(key, body), 'MalformedXML');
      }
      assert.equal((await head(key)).headers['x-amz-server-side-encryption'], 'AES256', 'unchanged');
    });

    test('UpdateObjectEncryption_key_alias_instead_of_key_ARN_is_InvalidRequest_400', async () => {
      // S3: "You must specify the full AWS KMS key ARN. The KMS key ID and KMS key alias aren't
      // supported" (SSEKMSEncryption.KMSKeyArn, pattern arn:aws[-a-z0-9]*:kms:[-a-z0-9]*:[0-9]{12}:key/.+);
      // anything else is InvalidRequest ("... require a valid AWS KMS key ARN").
      const key = await sseS3Object('by-alias');
      const aliasArn = keyArn.replace(/:key\/.*$/, `:${alias}`);
      for (const notAKeyArn of [alias, keyId, aliasArn]) {
        expectXmlError(await update(key, objectEncryption(notAKeyArn)), 'InvalidRequest');
        assert.equal((await head(key)).headers['x-amz-server-side-encryption'], 'AES256', `unchanged after ${notAKeyArn}`);
      }
    });

    test('UpdateObjectEncryption_success_is_200_and_HEAD_shows_the_key_ARN', async () => {
      const key = await sseS3Object('updated');
      const res = await update(key, objectEncryption(keyArn));
      assert.equal(res.status, 200, res.body.toString());
      assert.equal(res.body.length, 0, 'empty body');
      const h = await head(key);
      assert.equal(h.headers['x-amz-server-side-encryption'], 'aws:kms');
      assert.equal(h.headers['x-amz-server-side-encryption-aws-kms-key-id'], keyArn);
      const got = await signedRequest(server, { method: 'GET', path: `/${b}/${key}` });
      assert.equal(got.body.toString(), `update ${key}`);
    });
  });

  describe('object encryption at rest and in responses', () => {
    const b = 'raw-objects';
    before(async () => {
      await createBucket(b);
      // Allow SSE-C on this bucket (blocked by default, as S3 does for new buckets).
      const res = await putEncryption(b, config('<ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault><BlockedEncryptionTypes><EncryptionType>NONE</EncryptionType></BlockedEncryptionTypes>'));
      assert.equal(res.status, 200, res.body.toString());
    });

    test('PutObject_kms_key_id_response_header_is_the_key_ARN_for_alias_id_and_alias_ARN', async () => {
      const aliasArn = keyArn.replace(/:key\/.*$/, `:${alias}`);
      for (const [name, given] of [['alias', alias], ['key_id', keyId], ['key_arn', keyArn], ['alias_arn', aliasArn]] as const) {
        const key = `kms-header/${name}`;
        const put = await putObject(b, key, Buffer.from(`named by ${name}`), { 'x-amz-server-side-encryption': 'aws:kms', 'x-amz-server-side-encryption-aws-kms-key-id': given });
        assert.equal(put.status, 200, `${name}: ${put.body.toString()}`);
        for (const [op, res] of [
          ['PutObject', put],
          ['HeadObject', await signedRequest(server, { method: 'HEAD', path: `/${b}/${key}` })],
          ['GetObject', await signedRequest(server, { method: 'GET', path: `/${b}/${key}` })],
        ] as const) {
          const id = res.headers['x-amz-server-side-encryption-aws-kms-key-id'];
          assert.equal(res.headers['x-amz-server-side-encryption'], 'aws:kms', `${name} ${op}`);
          assert.match(String(id), KEY_ARN, `${name} ${op}: a key ARN, never an alias or key material`);
          assert.equal(id, keyArn, `${name} ${op}`);
        }
      }
    });

    test('PutObject_under_a_bucket_default_alias_answers_the_key_ARN', async () => {
      const bb = 'raw-objects-kms-default';
      await createBucket(bb);
      assert.equal((await putEncryption(bb, config(`<ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>${alias}</KMSMasterKeyID></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled>`))).status, 200);
      const put = await putObject(bb, 'k', Buffer.from('by default'));
      assert.equal(put.status, 200, put.body.toString());
      assert.equal(put.headers['x-amz-server-side-encryption'], 'aws:kms');
      assert.equal(put.headers['x-amz-server-side-encryption-aws-kms-key-id'], keyArn);
      assert.equal(put.headers['x-amz-server-side-encryption-bucket-key-enabled'], 'true');
      const mpu = await signedRequest(server, { method: 'POST', path: `/${bb}/mp`, query: { uploads: '' } });
      assert.equal(mpu.status, 200, mpu.body.toString());
      assert.equal(mpu.headers['x-amz-server-side-encryption-aws-kms-key-id'], keyArn, 'CreateMultipartUpload');
      // The default with no KMSMasterKeyID is alias/aws/s3: still answered as a key ARN.
      assert.equal((await putEncryption(bb, config('<ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm></ApplyServerSideEncryptionByDefault>'))).status, 200);
      const managed = await putObject(bb, 'managed', Buffer.from('aws/s3'));
      assert.match(String(managed.headers['x-amz-server-side-encryption-aws-kms-key-id']), KEY_ARN);
    });

    test('PutObject_AES256_is_not_stored_in_plaintext', async () => {
      const marker = 'PLAINTEXT-SSE-S3-MARKER-5d1e';
      const body = Buffer.from(marker.repeat(Math.ceil((2 * PACKAGE + 100) / marker.length)));
      const { res, stored, blobId: blob } = await putAndFindBlob(b, 'at-rest/sse-s3', body, { 'x-amz-server-side-encryption': 'AES256' });
      assert.equal(res.headers['x-amz-server-side-encryption'], 'AES256');
      assert.equal(stored.length, blobSize(body.length), 'the blob is this object, in the encrypted format');
      assert.equal(stored.subarray(0, 4).toString('latin1'), 'CFBL');
      assert.equal(stored.indexOf(marker), -1, `the plaintext is in ${blob}`);
      assert.equal(stored.indexOf(body.subarray(0, 16)), -1, 'no 16 bytes of plaintext');
      const got = await signedRequest(server, { method: 'GET', path: `/${b}/at-rest/sse-s3` });
      assert.deepEqual(got.body, body, 'and it reads back');
    });

    test('PutObject_SSE_C_is_not_stored_in_plaintext_and_needs_the_key', async () => {
      const marker = 'PLAINTEXT-SSE-C-MARKER-93ab';
      const body = Buffer.from(marker.repeat(400));
      const { res, stored, blobId: blob } = await putAndFindBlob(b, 'at-rest/sse-c', body, ssecHeaders());
      assert.equal(res.headers['x-amz-server-side-encryption-customer-algorithm'], 'AES256');
      assert.equal(res.headers['x-amz-server-side-encryption-customer-key-md5'], createHash('md5').update(CUSTOMER_KEY).digest('base64'));
      assert.equal(res.headers['x-amz-server-side-encryption'], undefined);
      assert.equal(stored.length, blobSize(body.length));
      assert.equal(stored.subarray(0, 4).toString('latin1'), 'CFBL');
      assert.equal(stored.indexOf(marker), -1, `the plaintext is in ${blob}`);
      for (const f of filesUnder(server.dataDir)) {
        const bytes = readFileSync(f);
        assert.equal(bytes.indexOf(CUSTOMER_KEY), -1, `the customer key is in ${f}`);
        assert.equal(bytes.indexOf(CUSTOMER_KEY.toString('base64')), -1, `the customer key (base64) is in ${f}`);
      }
      expectXmlError(await signedRequest(server, { method: 'GET', path: `/${b}/at-rest/sse-c` }), 'InvalidRequest');
      expectXmlError(await signedRequest(server, { method: 'GET', path: `/${b}/at-rest/sse-c`, headers: ssecHeaders(Buffer.from('the-wrong-customer-key-987654321')) }), 'AccessDenied');
      const got = await signedRequest(server, { method: 'GET', path: `/${b}/at-rest/sse-c`, headers: ssecHeaders() });
      assert.equal(got.status, 200);
      assert.deepEqual(got.body, body);
    });

    test('PutObject_with_no_SSE_headers_is_not_stored_in_plaintext', async () => {
      const marker = 'PLAINTEXT-DEFAULT-MARKER-c07f';
      const body = Buffer.from(marker.repeat(100));
      const { res, stored, blobId: blob } = await putAndFindBlob(b, 'at-rest/default', body, {});
      assert.equal(res.headers['x-amz-server-side-encryption'], 'AES256');
      assert.equal(stored.length, blobSize(body.length));
      assert.equal(stored.indexOf(marker), -1, `the plaintext is in ${blob}`);
    });
  });
});
