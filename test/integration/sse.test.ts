/**
 * Server-side encryption end to end: the bucket encryption API, every mode
 * across every way of writing and reading, nothing readable at rest,
 * tampering detected, KMS deletion shredding data, and bucket keys saving KMS
 * calls. The real server, driven by @aws-sdk/client-s3 and client-kms.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketEncryptionCommand,
  GetBucketEncryptionCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutBucketEncryptionCommand,
  PutObjectCommand,
  UpdateObjectEncryptionCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { CreateAliasCommand, CreateKeyCommand, DisableKeyCommand, EnableKeyCommand, GenerateDataKeyCommand, ScheduleKeyDeletionCommand, type KMSClient } from '@aws-sdk/client-kms';
import { randomBytesSeeded } from '../helpers/data.js';
import { kmsClient } from '../helpers/kms.js';
import { bodyBytes, expectS3Error, filesUnder, md5Hex } from '../helpers/s3.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { expectXmlError, signedRequest } from '../helpers/raw-s3.js';

const CUSTOMER_KEY = 'customer-key-0123456789abcdefXYZ'; // 32 bytes
const OTHER_CUSTOMER_KEY = 'another-key-0123456789abcdefXYZ!';
const MIN_PART = 100_000;


function blobFiles(server: TestServer): Set<string> {
  return new Set(filesUnder(join(server.dataDir, 'blobs')).concat(filesUnder(join(server.dataDir, 'tmp'))));
}

interface Mode {
  name: string;
  put: Record<string, unknown>;
  /** Headers a reader must send (SSE-C). */
  read: Record<string, unknown>;
  /** What x-amz-server-side-encryption should say (undefined for SSE-C). */
  sse?: string;
  kms?: boolean;
  bucketKey?: boolean;
}

describe('server-side encryption', () => {
  let server: TestServer;
  let s3: S3Client;
  let kms: KMSClient;
  let keyArn = '';
  let key2Arn = '';
  const bucket = 'sse-matrix';

  before(async () => {
    server = await startServer({
      args: ['--min-part-size', String(MIN_PART)],
      env: { COFFER_KMS_MIN_PENDING_WINDOW_DAYS: '1', COFFER_KMS_DAY_SECONDS: '1', COFFER_KMS_SWEEP_INTERVAL_MS: '100' },
    });
    s3 = server.client();
    kms = kmsClient(server);
    keyArn = (await kms.send(new CreateKeyCommand({ Description: 'sse tests' }))).KeyMetadata!.Arn!;
    key2Arn = (await kms.send(new CreateKeyCommand({ Description: 'sse tests 2' }))).KeyMetadata!.Arn!;
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/sse-tests', TargetKeyId: keyArn }));
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    // SSE-C is blocked by default (as S3 does for new buckets): unblock it for the matrix.
    await s3.send(
      new PutBucketEncryptionCommand({
        Bucket: bucket,
        ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' }, BlockedEncryptionTypes: { EncryptionType: ['NONE'] } }] },
      }),
    );
  });
  after(async () => {
    await server?.destroy();
    // The restarted server (crypto-shredding) was given the data dir, so destroy() left it.
    rmSync(server.dataDir, { recursive: true, force: true });
  });

  // Built when a test runs (the KMS key ARNs exist only after before()).
  const modes = (): Mode[] => [
    { name: 'default', put: {}, read: {}, sse: 'AES256' },
    { name: 'sse_s3', put: { ServerSideEncryption: 'AES256' }, read: {}, sse: 'AES256' },
    { name: 'sse_kms', put: { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: keyArn }, read: {}, sse: 'aws:kms', kms: true },
    { name: 'sse_kms_bucket_key', put: { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'alias/sse-tests', BucketKeyEnabled: true }, read: {}, sse: 'aws:kms', kms: true, bucketKey: true },
    { name: 'dsse_kms', put: { ServerSideEncryption: 'aws:kms:dsse', SSEKMSKeyId: keyArn }, read: {}, sse: 'aws:kms:dsse', kms: true },
    { name: 'sse_c', put: { SSECustomerAlgorithm: 'AES256', SSECustomerKey: CUSTOMER_KEY }, read: { SSECustomerAlgorithm: 'AES256', SSECustomerKey: CUSTOMER_KEY } },
  ];
  const copySourceRead = (m: Mode) => (m.name === 'sse_c' ? { CopySourceSSECustomerAlgorithm: 'AES256', CopySourceSSECustomerKey: CUSTOMER_KEY } : {});

  function checkSseHeaders(m: Mode, out: { ServerSideEncryption?: string; SSEKMSKeyId?: string; BucketKeyEnabled?: boolean; SSECustomerAlgorithm?: string; SSECustomerKeyMD5?: string }, what: string) {
    assert.equal(out.ServerSideEncryption, m.sse, `${what}: x-amz-server-side-encryption`);
    if (m.kms) assert.equal(out.SSEKMSKeyId, keyArn, `${what}: the KMS key ARN, never material`);
    else assert.equal(out.SSEKMSKeyId, undefined, what);
    assert.equal(out.BucketKeyEnabled, m.bucketKey ? true : undefined, `${what}: bucket key`);
    if (m.name === 'sse_c') {
      assert.equal(out.SSECustomerAlgorithm, 'AES256', what);
      assert.equal(out.SSECustomerKeyMD5, createHash('md5').update(CUSTOMER_KEY).digest('base64'), what);
    }
  }

  // Sizes that end inside, at and just past package boundaries (64 KiB).
  const SIZE = 3 * 65536 + 4321;

  const MODE_NAMES = ['default', 'sse_s3', 'sse_kms', 'sse_kms_bucket_key', 'dsse_kms', 'sse_c'];
  const modeNamed = (name: string): Mode => modes().find((m) => m.name === name)!;

  for (const name of MODE_NAMES) {
    test(`PutObject_GetObject_HeadObject_ranges_${name}`, async () => {
      const m = modeNamed(name);
      const data = randomBytesSeeded(SIZE + m.name.length, SIZE);
      const key = `single/${m.name}`;
      const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: data, ...m.put } as never));
      checkSseHeaders(m, put, 'PutObject');
      if (m.sse === 'AES256') assert.equal(put.ETag, `"${md5Hex(data)}"`, 'SSE-S3 single-part ETag is the MD5');
      else assert.notEqual(put.ETag, `"${md5Hex(data)}"`, 'SSE-KMS/SSE-C ETag is not the MD5 of the plaintext');
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...m.read } as never));
      checkSseHeaders(m, got, 'GetObject');
      assert.equal(got.ETag, put.ETag);
      assert.deepEqual(await bodyBytes(got), data);
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ...m.read } as never));
      checkSseHeaders(m, head, 'HeadObject');
      assert.equal(head.ContentLength, SIZE);
      for (const [a, b] of [[0, 0], [65530, 65545], [65536, 131071], [SIZE - 10, SIZE - 1], [100, SIZE - 1], [131070, 196610]] as const) {
        const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${a}-${b}`, ...m.read } as never));
        assert.deepEqual(await bodyBytes(r), data.subarray(a, b + 1), `range ${a}-${b}`);
      }
    });

    test(`multipart_odd_parts_ranges_and_partNumber_${name}`, async () => {
      const m = modeNamed(name);
      const sizes = [MIN_PART + 3, 2 * 65536 + 3, 7];
      const parts = sizes.map((n, i) => randomBytesSeeded(n + i + m.name.length, n));
      const data = Buffer.concat(parts);
      const key = `multi/${m.name}`;
      const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ...m.put } as never));
      checkSseHeaders(m, created, 'CreateMultipartUpload');
      const etags: string[] = [];
      for (const [i, p] of parts.entries()) {
        const up = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: created.UploadId, PartNumber: i + 1, Body: p, ...m.read } as never));
        checkSseHeaders(m, up, 'UploadPart');
        etags.push(up.ETag!);
      }
      const done = await s3.send(
        new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: created.UploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) }, ...m.read } as never),
      );
      // CompleteMultipartUpload's response has no SSE-C fields in the S3 API.
      if (m.name !== 'sse_c') checkSseHeaders(m, done, 'CompleteMultipartUpload');
      assert.match(done.ETag!, /^"[0-9a-f]{32}-3"$/);
      assert.deepEqual(await bodyBytes(await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...m.read } as never))), data);
      const boundary = sizes[0]!;
      for (const [a, b] of [[boundary - 5, boundary + 5], [boundary - 1, boundary + sizes[1]! + 2], [65535, 65537], [data.length - 8, data.length - 1]] as const) {
        const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${a}-${b}`, ...m.read } as never));
        assert.deepEqual(await bodyBytes(r), data.subarray(a, b + 1), `range ${a}-${b} across parts`);
      }
      const p2 = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, PartNumber: 2, ...m.read } as never));
      assert.equal(p2.PartsCount, 3);
      assert.deepEqual(await bodyBytes(p2), parts[1]);
    });
  }

  test('CopyObject_from_every_mode_to_every_mode_byte_for_byte', async () => {
    for (const from of modes()) {
      const source = `single/${from.name}`;
      const expected = randomBytesSeeded(SIZE + from.name.length, SIZE);
      for (const to of modes()) {
        const dest = `copy/${from.name}-to-${to.name}`;
        const out = await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: dest, CopySource: `${bucket}/${source}`, ...copySourceRead(from), ...to.put } as never));
        checkSseHeaders(to, out, `CopyObject ${from.name} → ${to.name}`);
        const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: dest, ...to.read } as never));
        assert.deepEqual(await bodyBytes(got), expected, `${from.name} → ${to.name}`);
      }
    }
  });

  test('UploadPartCopy_across_modes_with_ranges', async () => {
    for (const [from, to] of [[0, 2], [2, 5], [5, 4], [4, 1]] as const) {
      const src = modes()[from]!;
      const dst = modes()[to]!;
      const expected = randomBytesSeeded(SIZE + src.name.length, SIZE);
      const key = `upc/${src.name}-to-${dst.name}`;
      const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ...dst.put } as never));
      const p1 = await s3.send(
        new UploadPartCopyCommand({ Bucket: bucket, Key: key, UploadId: created.UploadId, PartNumber: 1, CopySource: `${bucket}/single/${src.name}`, CopySourceRange: `bytes=0-${MIN_PART}`, ...copySourceRead(src), ...dst.read } as never),
      );
      const p2 = await s3.send(
        new UploadPartCopyCommand({ Bucket: bucket, Key: key, UploadId: created.UploadId, PartNumber: 2, CopySource: `${bucket}/single/${src.name}`, CopySourceRange: `bytes=${MIN_PART + 1}-${SIZE - 1}`, ...copySourceRead(src), ...dst.read } as never),
      );
      await s3.send(
        new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: created.UploadId, MultipartUpload: { Parts: [{ ETag: p1.CopyPartResult!.ETag, PartNumber: 1 }, { ETag: p2.CopyPartResult!.ETag, PartNumber: 2 }] }, ...dst.read } as never),
      );
      assert.deepEqual(await bodyBytes(await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...dst.read } as never))), expected, `${src.name} → ${dst.name}`);
    }
  });

  describe('SSE-C rules', () => {
    test('GET_or_HEAD_without_the_key_is_InvalidRequest_400', async () => {
      await expectS3Error(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'single/sse_c' })), 'InvalidRequest', 400);
      // HEAD responses carry no body, so only the status can be checked.
      await assert.rejects(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'single/sse_c' })), (err: { $metadata: { httpStatusCode?: number } }) => err.$metadata.httpStatusCode === 400);
    });
    test('wrong_key_is_AccessDenied_403', async () => {
      await expectS3Error(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'single/sse_c', SSECustomerAlgorithm: 'AES256', SSECustomerKey: OTHER_CUSTOMER_KEY })), 'AccessDenied', 403);
    });
    test('bad_key_length_or_md5_is_InvalidArgument_400', async () => {
      await expectS3Error(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'x', Body: 'x', SSECustomerAlgorithm: 'AES256', SSECustomerKey: 'short' })), 'InvalidArgument', 400);
      // The SDK always computes the key MD5 itself: a wrong one needs a raw request.
      const key = Buffer.from(CUSTOMER_KEY);
      const headers = {
        'x-amz-server-side-encryption-customer-algorithm': 'AES256',
        'x-amz-server-side-encryption-customer-key': key.toString('base64'),
        'x-amz-server-side-encryption-customer-key-md5': createHash('md5').update('not the key').digest('base64'),
      };
      expectXmlError(await signedRequest(server, { method: 'PUT', path: `/${bucket}/x`, headers, body: Buffer.from('x') }), 'InvalidArgument');
      const wrongAlgorithm = { ...headers, 'x-amz-server-side-encryption-customer-algorithm': 'AES128', 'x-amz-server-side-encryption-customer-key-md5': createHash('md5').update(key).digest('base64') };
      expectXmlError(await signedRequest(server, { method: 'PUT', path: `/${bucket}/x`, headers: wrongAlgorithm, body: Buffer.from('x') }), 'InvalidEncryptionAlgorithmError');
    });
    test('each_UploadPart_must_send_the_same_key', async () => {
      const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'ssec-mp', SSECustomerAlgorithm: 'AES256', SSECustomerKey: CUSTOMER_KEY }));
      await expectS3Error(s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'ssec-mp', UploadId: created.UploadId, PartNumber: 1, Body: 'x' })), 'InvalidRequest', 400);
      await expectS3Error(
        s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'ssec-mp', UploadId: created.UploadId, PartNumber: 1, Body: 'x', SSECustomerAlgorithm: 'AES256', SSECustomerKey: OTHER_CUSTOMER_KEY })),
        'AccessDenied',
        403,
      );
    });
    test('blocked_by_default_on_a_new_bucket_AccessDenied_403', async () => {
      await s3.send(new CreateBucketCommand({ Bucket: 'ssec-blocked' }));
      await expectS3Error(s3.send(new PutObjectCommand({ Bucket: 'ssec-blocked', Key: 'k', Body: 'x', SSECustomerAlgorithm: 'AES256', SSECustomerKey: CUSTOMER_KEY })), 'AccessDenied', 403);
      await expectS3Error(s3.send(new CreateMultipartUploadCommand({ Bucket: 'ssec-blocked', Key: 'k', SSECustomerAlgorithm: 'AES256', SSECustomerKey: CUSTOMER_KEY })), 'AccessDenied', 403);
    });
  });

  describe('conflicting or misplaced SSE headers', () => {
    test('kms_key_id_with_AES256_is_InvalidArgument', async () => {
      await expectS3Error(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'x', Body: 'x', ServerSideEncryption: 'AES256', SSEKMSKeyId: keyArn })), 'InvalidArgument', 400);
    });
    test('sse_c_with_sse_s3_is_InvalidArgument', async () => {
      await expectS3Error(
        s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'x', Body: 'x', ServerSideEncryption: 'AES256', SSECustomerAlgorithm: 'AES256', SSECustomerKey: CUSTOMER_KEY })),
        'InvalidArgument',
        400,
      );
    });
    test('unknown_kms_key_is_KMS_NotFoundException', async () => {
      await expectS3Error(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'x', Body: 'x', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'alias/does-not-exist' })), 'KMS.NotFoundException', 400);
    });
  });

  describe('bucket encryption API', () => {
    const b = 'enc-config';
    before(async () => {
      await s3.send(new CreateBucketCommand({ Bucket: b }));
    });

    test('GetBucketEncryption_default_is_SSE_S3_with_SSE_C_blocked', async () => {
      const got = await s3.send(new GetBucketEncryptionCommand({ Bucket: b }));
      assert.deepEqual(got.ServerSideEncryptionConfiguration?.Rules, [
        { ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' }, BucketKeyEnabled: false, BlockedEncryptionTypes: { EncryptionType: ['SSE-C'] } },
      ]);
    });

    test('PutBucketEncryption_kms_default_applies_to_new_objects_and_reads_back_exactly', async () => {
      const put = await s3.send(
        new PutBucketEncryptionCommand({
          Bucket: b,
          ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: 'alias/sse-tests' }, BucketKeyEnabled: true }] },
        }),
      );
      assert.equal(put.$metadata.httpStatusCode, 200);
      const got = await s3.send(new GetBucketEncryptionCommand({ Bucket: b }));
      assert.deepEqual(got.ServerSideEncryptionConfiguration?.Rules, [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: 'alias/sse-tests' }, BucketKeyEnabled: true }]);
      const obj = await s3.send(new PutObjectCommand({ Bucket: b, Key: 'by-default', Body: 'hello' }));
      assert.equal(obj.ServerSideEncryption, 'aws:kms');
      assert.equal(obj.SSEKMSKeyId, keyArn);
      assert.equal(obj.BucketKeyEnabled, true);
      // The request's own headers still win.
      const own = await s3.send(new PutObjectCommand({ Bucket: b, Key: 'own', Body: 'hello', ServerSideEncryption: 'AES256' }));
      assert.equal(own.ServerSideEncryption, 'AES256');
    });

    test('DeleteBucketEncryption_is_204_resets_the_default_and_keeps_bucket_and_objects', async () => {
      const del = await s3.send(new DeleteBucketEncryptionCommand({ Bucket: b }));
      assert.equal(del.$metadata.httpStatusCode, 204);
      await s3.send(new HeadBucketCommand({ Bucket: b }));
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: b }));
      assert.deepEqual(listed.Contents?.map((o) => o.Key).sort(), ['by-default', 'own']);
      assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: b, Key: 'by-default' }))).Body!.transformToString(), 'hello');
      const got = await s3.send(new GetBucketEncryptionCommand({ Bucket: b }));
      assert.equal(got.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm, 'AES256');
      assert.equal((await s3.send(new PutObjectCommand({ Bucket: b, Key: 'after', Body: 'x' }))).ServerSideEncryption, 'AES256');
    });

    test('PutBucketEncryption_unknown_or_disabled_key_is_KMS_error_400', async () => {
      const rules = (KMSMasterKeyID: string) => ({ Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' as const, KMSMasterKeyID } }] });
      await expectS3Error(s3.send(new PutBucketEncryptionCommand({ Bucket: b, ServerSideEncryptionConfiguration: rules('alias/nope') })), 'KMS.NotFoundException', 400);
      await kms.send(new DisableKeyCommand({ KeyId: key2Arn }));
      try {
        await expectS3Error(s3.send(new PutBucketEncryptionCommand({ Bucket: b, ServerSideEncryptionConfiguration: rules(key2Arn) })), 'KMS.DisabledException', 400);
      } finally {
        await kms.send(new EnableKeyCommand({ KeyId: key2Arn }));
      }
    });

    test('PutBucketEncryption_kms_key_with_AES256_is_InvalidArgument', async () => {
      await expectS3Error(
        s3.send(new PutBucketEncryptionCommand({ Bucket: b, ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256', KMSMasterKeyID: keyArn } }] } })),
        'InvalidArgument',
        400,
      );
    });

    test('PutBucketEncryption_two_rules_is_MalformedXML', async () => {
      const r = { ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' as const } };
      await expectS3Error(s3.send(new PutBucketEncryptionCommand({ Bucket: b, ServerSideEncryptionConfiguration: { Rules: [r, r] } })), 'MalformedXML', 400);
    });

    test('bucket_encryption_on_a_missing_bucket_is_NoSuchBucket', async () => {
      const cfg = { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' as const } }] };
      await expectS3Error(s3.send(new PutBucketEncryptionCommand({ Bucket: 'no-such-bucket-enc', ServerSideEncryptionConfiguration: cfg })), 'NoSuchBucket', 404);
      await expectS3Error(s3.send(new GetBucketEncryptionCommand({ Bucket: 'no-such-bucket-enc' })), 'NoSuchBucket', 404);
      await expectS3Error(s3.send(new DeleteBucketEncryptionCommand({ Bucket: 'no-such-bucket-enc' })), 'NoSuchBucket', 404);
    });
  });

  test('UpdateObjectEncryption_rewraps_without_rewriting_data', async () => {
    const data = randomBytesSeeded(5, 200_000);
    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'update-me', Body: data, ChecksumAlgorithm: 'SHA256' }));
    const before = blobFiles(server);
    await s3.send(new UpdateObjectEncryptionCommand({ Bucket: bucket, Key: 'update-me', ObjectEncryption: { SSEKMS: { KMSKeyArn: keyArn, BucketKeyEnabled: false } } }));
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'update-me', ChecksumMode: 'ENABLED' }));
    assert.equal(head.ServerSideEncryption, 'aws:kms');
    assert.equal(head.SSEKMSKeyId, keyArn);
    assert.equal(head.ETag, put.ETag, 'ETag unchanged');
    assert.equal(head.ChecksumSHA256, put.ChecksumSHA256, 'checksum unchanged');
    assert.deepEqual(blobFiles(server), before, 'no data written or removed');
    assert.deepEqual(await bodyBytes(await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'update-me' }))), data);
    // DSSE and SSE-C sources are not supported (S3: InvalidRequest).
    await expectS3Error(
      s3.send(new UpdateObjectEncryptionCommand({ Bucket: bucket, Key: 'single/dsse_kms', ObjectEncryption: { SSEKMS: { KMSKeyArn: keyArn } } })),
      'InvalidRequest',
      400,
    );
    await expectS3Error(
      s3.send(new UpdateObjectEncryptionCommand({ Bucket: bucket, Key: 'no-such-key', ObjectEncryption: { SSEKMS: { KMSKeyArn: keyArn } } })),
      'NoSuchKey',
      404,
    );
  });

  test('bucket_keys_make_one_kms_call_for_a_burst_of_puts', async () => {
    const auditPath = join(server.dataDir, 'kms-audit.log');
    const count = () =>
      readFileSync(auditPath, 'utf8')
        .split('\n')
        .filter((l) => l.includes('"GenerateDataKey"')).length;
    const before = count();
    await Promise.all(Array.from({ length: 30 }, (_, i) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: `burst/bk-${i}`, Body: `x${i}`, ServerSideEncryption: 'aws:kms', SSEKMSKeyId: key2Arn, BucketKeyEnabled: true }))));
    const withBucketKey = count() - before;
    const mid = count();
    await Promise.all(Array.from({ length: 30 }, (_, i) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: `burst/nobk-${i}`, Body: `x${i}`, ServerSideEncryption: 'aws:kms', SSEKMSKeyId: key2Arn }))));
    const without = count() - mid;
    console.log(`# KMS GenerateDataKey calls for 30 SSE-KMS PUTs: ${withBucketKey} with a bucket key, ${without} without`);
    assert.ok(withBucketKey <= 2, `${withBucketKey} calls with a bucket key`);
    assert.equal(without, 30);
    for (let i = 0; i < 30; i += 7) {
      assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `burst/bk-${i}` }))).Body!.transformToString(), `x${i}`);
    }
  });

  // S3 makes no KMS call for the PUTs a bucket key covers (CloudTrail shows none); a disabled key
  // still stops them — here within a second, as the KMS's own key cache does on other processes.
  test('bucket_key_puts_make_no_kms_call_and_a_disabled_key_stops_them_within_a_second', async () => {
    const auditPath = join(server.dataDir, 'kms-audit.log');
    const kmsLines = () => readFileSync(auditPath, 'utf8').split('\n').filter((l) => l.trim().length > 0).length;
    const put = (k: string) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: `bk-quiet/${k}`, Body: k, ServerSideEncryption: 'aws:kms', SSEKMSKeyId: key2Arn, BucketKeyEnabled: true }));
    await put('warm-up');
    const before = kmsLines();
    const started = Date.now();
    for (let i = 0; i < 20; i++) assert.equal((await put(`k${i}`)).BucketKeyEnabled, true);
    const seconds = Math.ceil((Date.now() - started) / 1000);
    const calls = kmsLines() - before;
    // One DescribeKey per second at most: 20 PUTs take well under a second, unless the machine is busy.
    assert.ok(calls <= seconds, `${calls} KMS calls for 20 bucket-key PUTs in ${seconds} s (one DescribeKey per second at most)`);
    await kms.send(new DisableKeyCommand({ KeyId: key2Arn }));
    try {
      await new Promise((r) => setTimeout(r, 1100));
      await expectS3Error(put('after-disable'), 'KMS.DisabledException', 400);
    } finally {
      await kms.send(new EnableKeyCommand({ KeyId: key2Arn }));
    }
    assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'bk-quiet/k7' }))).Body!.transformToString(), 'k7');
  });

  // S3 makes no per-object KMS call for SSE-S3; Coffer's SSE-S3 data keys are wrapped by a
  // per-bucket key from its S3 service key, issued once per period — and S3 does not report
  // a bucket key for SSE-S3 objects (no x-amz-server-side-encryption-bucket-key-enabled).
  test('sse_s3_burst_makes_one_kms_call_per_bucket_key_period_not_per_object', async () => {
    const sseS3Bucket = `${bucket}-s3burst`;
    await s3.send(new CreateBucketCommand({ Bucket: sseS3Bucket }));
    const auditPath = join(server.dataDir, 'kms-audit.log');
    const kmsLines = () => readFileSync(auditPath, 'utf8').split('\n').filter((l) => l.trim().length > 0).length;
    const before = kmsLines();
    const puts = await Promise.all(Array.from({ length: 40 }, (_, i) => s3.send(new PutObjectCommand({ Bucket: sseS3Bucket, Key: `k-${i}`, Body: `body ${i}` }))));
    for (const p of puts) {
      assert.equal(p.ServerSideEncryption, 'AES256');
      assert.equal(p.BucketKeyEnabled, undefined, 'no bucket key reported for SSE-S3');
    }
    for (let i = 0; i < 40; i++) {
      const got = await s3.send(new GetObjectCommand({ Bucket: sseS3Bucket, Key: `k-${i}` }));
      assert.equal(got.ServerSideEncryption, 'AES256');
      assert.equal(got.BucketKeyEnabled, undefined);
      assert.equal(await got.Body!.transformToString(), `body ${i}`);
    }
    const calls = kmsLines() - before;
    console.log(`# KMS calls for 40 SSE-S3 PUTs and 40 GETs: ${calls}`);
    assert.ok(calls <= 2, `${calls} KMS calls`);
  });

  test('nothing_readable_at_rest_marker_data_keys_and_customer_key', async () => {
    const marker = 'COFFER-AT-REST-MARKER-7f3a9c';
    const data = Buffer.from(marker.repeat(5000));
    for (const m of modes()) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `marker/${m.name}`, Body: data, ...m.put } as never));
    const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'marker/mp', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: keyArn }));
    const part = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'marker/mp', UploadId: created.UploadId, PartNumber: 1, Body: data }));
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'marker/mp', UploadId: created.UploadId, MultipartUpload: { Parts: [{ ETag: part.ETag, PartNumber: 1 }] } }));
    const dataKey = Buffer.from((await kms.send(new GenerateDataKeyCommand({ KeyId: keyArn, KeySpec: 'AES_256' }))).Plaintext!);
    const needles: [string, Buffer][] = [
      ['marker', Buffer.from(marker)],
      ['customer key', Buffer.from(CUSTOMER_KEY)],
      ['customer key (base64)', Buffer.from(Buffer.from(CUSTOMER_KEY).toString('base64'))],
      ['a KMS data key', dataKey],
      ['a KMS data key (base64)', Buffer.from(dataKey.toString('base64'))],
    ];
    const files = filesUnder(server.dataDir);
    assert.ok(files.some((f) => f.includes('blobs')), 'blobs exist');
    for (const f of files) {
      const bytes = readFileSync(f);
      for (const [what, needle] of needles) assert.equal(bytes.indexOf(needle), -1, `${what} found in ${f}`);
    }
    const logs = server.output();
    for (const [what, needle] of needles) assert.ok(!logs.includes(needle.toString('latin1')), `${what} found in the server log`);
  });

  describe('tampering', () => {
    async function storedBlobOf(key: string, body: Buffer): Promise<string> {
      const before = blobFiles(server);
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
      const added = [...blobFiles(server)].filter((f) => !before.has(f));
      assert.equal(added.length, 1);
      await sleep(50);
      return [...blobFiles(server)].find((f) => f.endsWith(added[0]!.split('/').pop()!))!;
    }
    const fails = async (key: string) => {
      await assert.rejects(async () => {
        const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        await bodyBytes(r);
      });
    };

    test('flipped_byte_swapped_packages_and_truncation_fail_the_GET', async () => {
      const data = randomBytesSeeded(99, 4 * 65536);
      const flip = await storedBlobOf('tamper/flip', data);
      const raw = readFileSync(flip);
      raw[48 + 1000]! ^= 1;
      writeFileSync(flip, raw);
      await fails('tamper/flip');

      const swap = await storedBlobOf('tamper/swap', data);
      const s = readFileSync(swap);
      const stride = 65536 + 16;
      const a = Buffer.from(s.subarray(48, 48 + stride));
      s.copy(s, 48, 48 + stride, 48 + 2 * stride);
      a.copy(s, 48 + stride);
      writeFileSync(swap, s);
      await fails('tamper/swap');

      const trunc = await storedBlobOf('tamper/truncate', data);
      writeFileSync(trunc, readFileSync(trunc).subarray(0, 48 + 3 * stride));
      await fails('tamper/truncate');
    });
  });

  test('crypto_shredding_deleted_kms_key_makes_objects_unreadable', async () => {
    const doomed = (await kms.send(new CreateKeyCommand({ Description: 'to be deleted' }))).KeyMetadata!.Arn!;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'shred/a', Body: 'secret', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: doomed }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'shred/b', Body: 'secret', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: doomed, BucketKeyEnabled: true }));
    assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'shred/a' }))).Body!.transformToString(), 'secret');
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: doomed, PendingWindowInDays: 1 }));
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'shred/a' })), 'KMS.KMSInvalidStateException', 400);
    // One "day" is one second on this server; the sweep runs every 100 ms.
    await sleep(2500);
    await assert.rejects(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'shred/a' })), (err: { name: string }) => err.name.startsWith('KMS.'));
    // Restarting clears every cache: the bucket-key object is gone for good too.
    await server.stop();
    server = await startServer({ dataDir: server.dataDir, accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey, args: ['--min-part-size', String(MIN_PART)] });
    s3 = server.client();
    kms = kmsClient(server);
    await assert.rejects(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'shred/b' })), (err: { name: string }) => err.name.startsWith('KMS.'));
    assert.deepEqual(await bodyBytes(await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'single/sse_kms' }))), randomBytesSeeded(SIZE + 'sse_kms'.length, SIZE));
  });
});
