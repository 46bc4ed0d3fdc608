/**
 * Server-side encryption driven by the real clients: the AWS CLI v2 (Debian's
 * package) walking the acceptance path — a KMS key and alias,
 * `s3api put-bucket-encryption` with that alias, `s3 cp` small and multipart
 * uploads, `head-object` showing aws:kms and the key ARN, no plaintext on
 * disk, `delete-bucket-encryption` — and `s3 cp --sse / --sse-kms-key-id /
 * --sse-c`; then rclone copying a tree into a bucket whose default is SSE-KMS
 * with S3 Bucket Keys.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HeadObjectCommand, PutBucketEncryptionCommand } from '@aws-sdk/client-s3';
import { CreateAliasCommand, CreateKeyCommand } from '@aws-sdk/client-kms';
import { randomBytesSeeded } from '../helpers/data.js';
import { kmsClient } from '../helpers/kms.js';
import { filesUnder } from '../helpers/s3.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { AWS_CLI, findTool, missingTool, run, sha256File } from '../helpers/tools.js';

const MIB = 1024 * 1024;
const KEY_ARN = /^arn:aws:kms:[a-z0-9-]+:\d{12}:key\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;


/** Asserts no file under the server's data dir (blobs, database, WAL, audit log…) nor its log contains `marker`. */
function assertNoPlaintextAtRest(server: TestServer, marker: string): void {
  const files = filesUnder(server.dataDir);
  assert.ok(files.some((f) => f.includes(`${join(server.dataDir, 'blobs')}/`)), 'blobs were written');
  const needle = Buffer.from(marker);
  for (const f of files) assert.equal(readFileSync(f).indexOf(needle), -1, `the plaintext marker is in ${f}`);
  assert.ok(!server.output().includes(marker), 'the plaintext marker is in the server log');
}

/**
 * A 20 MiB file of pseudo-random bytes carrying `marker` at the start, across
 * the AWS CLI's 8 MiB part boundary, and at the end; returns its SHA-256.
 */
function writeMarkedBigFile(path: string, marker: string, seed: number): string {
  const data = randomBytesSeeded(seed, 20 * MIB);
  for (const at of [0, 8 * MIB - 7, 20 * MIB - marker.length]) data.write(marker, at, 'latin1');
  writeFileSync(path, data);
  return createHash('sha256').update(data).digest('hex');
}

interface HeadObject {
  ContentLength: number;
  ETag: string;
  ServerSideEncryption?: string;
  SSEKMSKeyId?: string;
  BucketKeyEnabled?: boolean;
  SSECustomerAlgorithm?: string;
  SSECustomerKeyMD5?: string;
}

describe('aws cli server-side encryption', { skip: missingTool('aws') }, () => {
  let server: TestServer;
  let work: string;
  let keyArn = '';
  const marker = 'AWS-CLI-SSE-PLAINTEXT-MARKER-41c7e2';
  // The issue says `--bucket b`; S3 bucket names have 3 to 63 characters, so the bucket is `bkt`.
  const bucket = 'bkt';
  const aws = (...args: string[]) => run(AWS_CLI, ['--endpoint-url', server.url, '--output', 'json', ...args], server.env());
  const awsJson = async <T>(...args: string[]): Promise<T> => JSON.parse((await aws(...args)).stdout || '{}') as T;
  /** Runs a command expected to fail; returns the CLI's error text. */
  const awsFails = async (...args: string[]): Promise<string> => {
    try {
      await aws(...args);
    } catch (err) {
      return (err as Error).message;
    }
    assert.fail(`aws ${args.join(' ')} succeeded`);
  };
  const headObject = (b: string, key: string, ...extra: string[]) => awsJson<HeadObject>('s3api', 'head-object', '--bucket', b, '--key', key, ...extra);

  let small = '';
  let big = '';
  let bigDigest = '';

  before(async () => {
    // AWS CLI 2.9.19 does not know BlockedEncryptionTypes (added to the S3 API in 2025: "Unknown
    // parameter in ServerSideEncryptionConfiguration.Rules[0]"), so it cannot unblock SSE-C on a
    // bucket: let buckets without a configuration allow SSE-C, a documented server setting.
    server = await startServer({ args: ['--default-sse-c', 'allowed'] });
    work = mkdtempSync(join(tmpdir(), 'coffer-awscli-sse-'));
    small = join(work, 'small.txt');
    writeFileSync(small, `a small file holding ${marker} in the clear\n`);
    big = join(work, 'big.bin');
    bigDigest = writeMarkedBigFile(big, marker, 2026);
  });
  after(async () => {
    await server?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  describe('issue acceptance: default SSE-KMS with a KMS alias', () => {
    test('kms_create_key_and_create_alias', async () => {
      const created = await awsJson<{ KeyMetadata: { KeyId: string; Arn: string } }>('kms', 'create-key', '--description', 'bucket default');
      keyArn = created.KeyMetadata.Arn;
      assert.match(keyArn, KEY_ARN);
      await aws('kms', 'create-alias', '--alias-name', 'alias/mykey', '--target-key-id', created.KeyMetadata.KeyId);
      await aws('s3api', 'create-bucket', '--bucket', bucket);
    });

    test('s3api_put_bucket_encryption_kms_alias_and_get_bucket_encryption', async () => {
      // The CLI computes Content-MD5 itself (the operation requires a checksum).
      const put = await aws(
        's3api',
        'put-bucket-encryption',
        '--bucket',
        bucket,
        '--server-side-encryption-configuration',
        '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"aws:kms","KMSMasterKeyID":"alias/mykey"}}]}',
      );
      assert.equal(put.stdout.trim(), '', 'PutBucketEncryption answers an empty body');
      const got = await awsJson<{ ServerSideEncryptionConfiguration: unknown }>('s3api', 'get-bucket-encryption', '--bucket', bucket);
      assert.deepEqual(got.ServerSideEncryptionConfiguration, {
        Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: 'alias/mykey' }, BucketKeyEnabled: false }],
      });
    });

    test('s3_cp_small_and_20MiB_multipart_head_object_shows_aws_kms_and_the_key_ARN', async () => {
      await aws('s3', 'cp', '--no-progress', small, `s3://${bucket}/small.txt`);
      await aws('s3', 'cp', '--no-progress', big, `s3://${bucket}/big.bin`);
      const smallHead = await headObject(bucket, 'small.txt');
      assert.equal(smallHead.ServerSideEncryption, 'aws:kms');
      assert.equal(smallHead.SSEKMSKeyId, keyArn, 'the key ARN, not the alias the configuration named');
      assert.notEqual(smallHead.ETag, `"${createHash('md5').update(readFileSync(small)).digest('hex')}"`, 'an SSE-KMS ETag is not the MD5 of the plaintext');
      const bigHead = await headObject(bucket, 'big.bin');
      assert.equal(bigHead.ContentLength, 20 * MIB);
      assert.match(bigHead.ETag, /^"[0-9a-f]{32}-3"$/, 'the CLI uploaded 20 MiB in three 8 MiB parts');
      assert.equal(bigHead.ServerSideEncryption, 'aws:kms');
      assert.equal(bigHead.SSEKMSKeyId, keyArn);
    });

    test('s3_cp_download_byte_for_byte', async () => {
      const smallOut = join(work, 'small.out');
      const bigOut = join(work, 'big.out');
      await aws('s3', 'cp', '--no-progress', `s3://${bucket}/small.txt`, smallOut);
      await aws('s3', 'cp', '--no-progress', `s3://${bucket}/big.bin`, bigOut);
      assert.deepEqual(readFileSync(smallOut), readFileSync(small));
      assert.equal(await sha256File(bigOut), bigDigest);
      rmSync(bigOut);
    });

    test('no_plaintext_marker_in_any_file_under_the_data_dir', () => {
      assertNoPlaintextAtRest(server, marker);
    });

    test('s3api_delete_bucket_encryption_then_head_bucket_and_the_objects_remain', async () => {
      const del = await aws('s3api', 'delete-bucket-encryption', '--bucket', bucket);
      assert.equal(del.stdout.trim(), '');
      await aws('s3api', 'head-bucket', '--bucket', bucket);
      const listed = await awsJson<{ Contents: { Key: string }[] }>('s3api', 'list-objects-v2', '--bucket', bucket);
      assert.deepEqual(listed.Contents.map((c) => c.Key).sort(), ['big.bin', 'small.txt']);
      const got = await awsJson<{ ServerSideEncryptionConfiguration: { Rules: { ApplyServerSideEncryptionByDefault: { SSEAlgorithm: string } }[] } }>('s3api', 'get-bucket-encryption', '--bucket', bucket);
      assert.equal(got.ServerSideEncryptionConfiguration.Rules[0]!.ApplyServerSideEncryptionByDefault.SSEAlgorithm, 'AES256', 'back to the SSE-S3 default');
      // Objects keep the encryption they were written with, and stay readable.
      assert.equal((await headObject(bucket, 'small.txt')).SSEKMSKeyId, keyArn);
      const out = join(work, 'small.after');
      await aws('s3', 'cp', '--no-progress', `s3://${bucket}/small.txt`, out);
      assert.deepEqual(readFileSync(out), readFileSync(small));
    });
  });

  describe('s3 cp with request SSE options', () => {
    const b = 'cli-sse-modes';
    let dir = '';
    let customerKeyFile = '';
    let customerKey: Buffer;

    before(async () => {
      await aws('s3api', 'create-bucket', '--bucket', b);
      dir = join(work, 'tree');
      mkdirSync(dir);
      writeFileSync(join(dir, 'small.txt'), readFileSync(small));
      // A hard copy, not a link: the CLI uploads what it finds.
      writeFileSync(join(dir, 'big.bin'), readFileSync(big));
      customerKey = randomBytes(32);
      customerKeyFile = join(work, 'key.bin');
      writeFileSync(customerKeyFile, customerKey);
      if (!keyArn) {
        // This describe may run alone (--test-name-pattern): make its own key.
        keyArn = (await awsJson<{ KeyMetadata: { Arn: string } }>('kms', 'create-key')).KeyMetadata.Arn;
      }
    });

    /** Uploads the small and the 20 MiB file under `prefix` with `sseArgs`, downloads them back with `readArgs`, compares. */
    async function roundTrip(prefix: string, sseArgs: string[], readArgs: string[] = []): Promise<void> {
      await aws('s3', 'cp', '--no-progress', '--recursive', ...sseArgs, dir, `s3://${b}/${prefix}/`);
      const back = join(work, `back-${prefix}`);
      await aws('s3', 'cp', '--no-progress', '--recursive', ...readArgs, `s3://${b}/${prefix}/`, back);
      assert.deepEqual(readFileSync(join(back, 'small.txt')), readFileSync(small), `${prefix}: small file`);
      assert.equal(await sha256File(join(back, 'big.bin')), bigDigest, `${prefix}: 20 MiB file`);
      rmSync(back, { recursive: true, force: true });
    }

    test('s3_cp_sse_AES256_upload_and_download', async () => {
      await roundTrip('sse-s3', ['--sse', 'AES256']);
      const h = await headObject(b, 'sse-s3/small.txt');
      assert.equal(h.ServerSideEncryption, 'AES256');
      assert.equal(h.SSEKMSKeyId, undefined);
      assert.equal(h.ETag, `"${createHash('md5').update(readFileSync(small)).digest('hex')}"`, 'SSE-S3 single-part ETag is the MD5');
      const bigHead = await headObject(b, 'sse-s3/big.bin');
      assert.equal(bigHead.ServerSideEncryption, 'AES256');
      assert.match(bigHead.ETag, /-3"$/);
    });

    test('s3_cp_sse_aws_kms_with_key_ARN_upload_and_download', async () => {
      await roundTrip('sse-kms', ['--sse', 'aws:kms', '--sse-kms-key-id', keyArn]);
      for (const key of ['sse-kms/small.txt', 'sse-kms/big.bin']) {
        const h = await headObject(b, key);
        assert.equal(h.ServerSideEncryption, 'aws:kms', key);
        assert.equal(h.SSEKMSKeyId, keyArn, key);
      }
    });

    test('s3_cp_sse_c_upload_and_download_with_the_key', async () => {
      const keyArgs = ['--sse-c', 'AES256', '--sse-c-key', `fileb://${customerKeyFile}`];
      await roundTrip('sse-c', keyArgs, keyArgs);
      const keyMd5 = createHash('md5').update(customerKey).digest('base64');
      for (const key of ['sse-c/small.txt', 'sse-c/big.bin']) {
        const h = await headObject(b, key, '--sse-customer-algorithm', 'AES256', '--sse-customer-key', `fileb://${customerKeyFile}`);
        assert.equal(h.SSECustomerAlgorithm, 'AES256', key);
        assert.equal(h.SSECustomerKeyMD5, keyMd5, key);
        assert.equal(h.ServerSideEncryption, undefined, key);
      }
    });

    test('s3_cp_sse_c_download_without_or_with_a_wrong_key_fails', async () => {
      // HEAD carries no error body: the CLI reports the status only.
      assert.match(await awsFails('s3', 'cp', '--no-progress', `s3://${b}/sse-c/small.txt`, join(work, 'nokey.out')), /\(400\)|Bad Request/);
      const wrongKey = join(work, 'wrong-key.bin');
      writeFileSync(wrongKey, randomBytes(32));
      assert.match(await awsFails('s3', 'cp', '--no-progress', '--sse-c', 'AES256', '--sse-c-key', `fileb://${wrongKey}`, `s3://${b}/sse-c/small.txt`, join(work, 'wrongkey.out')), /\(403\)|Forbidden/);
    });

    test('s3_cp_server_side_copy_from_sse_c_to_sse_kms', async () => {
      // 20 MiB: the CLI copies it with UploadPartCopy, sending the source's customer key on each part.
      await aws('s3', 'cp', '--no-progress', '--sse-c-copy-source', 'AES256', '--sse-c-copy-source-key', `fileb://${customerKeyFile}`, '--sse', 'aws:kms', '--sse-kms-key-id', keyArn, `s3://${b}/sse-c/big.bin`, `s3://${b}/copied/big.bin`);
      const h = await headObject(b, 'copied/big.bin');
      assert.equal(h.ServerSideEncryption, 'aws:kms');
      assert.equal(h.SSEKMSKeyId, keyArn);
      const out = join(work, 'copied.out');
      await aws('s3', 'cp', '--no-progress', `s3://${b}/copied/big.bin`, out);
      assert.equal(await sha256File(out), bigDigest);
      rmSync(out);
    });

    test('no_plaintext_marker_at_rest_after_every_mode', () => {
      assertNoPlaintextAtRest(server, marker);
      assert.ok(!server.output().includes(customerKey.toString('base64')), 'the SSE-C key is in the server log');
      for (const f of filesUnder(server.dataDir)) assert.equal(readFileSync(f).indexOf(customerKey), -1, `the SSE-C key is in ${f}`);
    });
  });
});

describe('rclone into a bucket with default SSE-KMS and S3 Bucket Keys', { skip: missingTool('rclone') }, () => {
  let server: TestServer;
  let work: string;
  let keyArn = '';
  const bucket = 'rclone-kms';
  const marker = 'RCLONE-SSE-KMS-PLAINTEXT-MARKER-9b03';
  const remote = (extra: Record<string, string> = {}) => ({
    ...server.env(),
    RCLONE_CONFIG_COFFER_TYPE: 's3',
    RCLONE_CONFIG_COFFER_PROVIDER: 'Other',
    RCLONE_CONFIG_COFFER_ACCESS_KEY_ID: server.accessKeyId,
    RCLONE_CONFIG_COFFER_SECRET_ACCESS_KEY: server.secretAccessKey,
    RCLONE_CONFIG_COFFER_ENDPOINT: server.url,
    RCLONE_CONFIG_COFFER_REGION: 'us-east-1',
    RCLONE_CONFIG_COFFER_FORCE_PATH_STYLE: 'true',
    ...extra,
  });
  /**
   * rclone configured as its documentation requires for SSE-KMS ("you must make sure rclone is
   * configured with server_side_encryption = aws:kms otherwise you will find you can't transfer
   * small objects", rclone.org/s3/#key-management-system-kms). With it rclone stops reading
   * ETags as MD5s and stores the MD5 as X-Amz-Meta-Md5chksum instead.
   */
  const kmsAware = () => remote({ RCLONE_CONFIG_COFFER_SERVER_SIDE_ENCRYPTION: 'aws:kms', RCLONE_CONFIG_COFFER_SSE_KMS_KEY_ID: keyArn });
  // One attempt each: a failure must fail the test quickly, not after rclone's ten low-level retries with backoff.
  const rclone = (env: NodeJS.ProcessEnv, ...args: string[]) =>
    run(findTool('rclone')!, ['--config', '/dev/null', '--retries', '1', '--low-level-retries', '1', '--timeout', '20s', ...args], env);
  let dir = '';
  let bigDigest = '';

  before(async () => {
    server = await startServer();
    work = mkdtempSync(join(tmpdir(), 'coffer-rclone-sse-'));
    const kms = kmsClient(server);
    keyArn = (await kms.send(new CreateKeyCommand({ Description: 'rclone bucket default' }))).KeyMetadata!.Arn!;
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/rclone', TargetKeyId: keyArn }));
    kms.destroy();
    const s3 = server.client();
    await rclone(remote(), 'mkdir', `coffer:${bucket}`);
    await s3.send(
      new PutBucketEncryptionCommand({
        Bucket: bucket,
        ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: 'alias/rclone' }, BucketKeyEnabled: true }] },
      }),
    );
    s3.destroy();
    dir = join(work, 'src');
    mkdirSync(join(dir, 'nested'), { recursive: true });
    writeFileSync(join(dir, 'a.txt'), `alpha ${marker}\n`);
    writeFileSync(join(dir, 'nested', 'b.txt'), `bravo ${marker}\n`);
    bigDigest = writeMarkedBigFile(join(dir, 'large.bin'), marker, 77);
  });
  after(async () => {
    await server?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('rclone_copy_check_and_copy_back_byte_for_byte', async () => {
    // Small cutoff and chunk size: the 20 MiB file goes multipart, the small ones in one PUT.
    await rclone(kmsAware(), 'copy', dir, `coffer:${bucket}/tree`, '--s3-upload-cutoff', '5M', '--s3-chunk-size', '5M');
    const listed = (await rclone(kmsAware(), 'lsf', '-R', '--files-only', `coffer:${bucket}/tree`)).stdout.trim().split('\n').sort();
    assert.deepEqual(listed, ['a.txt', 'large.bin', 'nested/b.txt']);
    // rclone check compares sizes and MD5s (here from X-Amz-Meta-Md5chksum, since ETags are not MD5s).
    const check = await rclone(kmsAware(), 'check', dir, `coffer:${bucket}/tree`);
    assert.match(check.stderr, /0 differences found/);
    assert.match(check.stderr, /3 matching files/);
    const back = join(work, 'back');
    await rclone(kmsAware(), 'copy', `coffer:${bucket}/tree`, back);
    assert.equal(await sha256File(join(back, 'large.bin')), bigDigest);
    assert.deepEqual(readFileSync(join(back, 'a.txt')), readFileSync(join(dir, 'a.txt')));
    assert.deepEqual(readFileSync(join(back, 'nested', 'b.txt')), readFileSync(join(dir, 'nested', 'b.txt')));
  });

  test('rclone_objects_are_sse_kms_with_the_bucket_key_and_no_plaintext_at_rest', async () => {
    const s3 = server.client();
    try {
      for (const key of ['tree/a.txt', 'tree/large.bin']) {
        const h = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        assert.equal(h.ServerSideEncryption, 'aws:kms', key);
        assert.equal(h.SSEKMSKeyId, keyArn, key);
        assert.equal(h.BucketKeyEnabled, true, `${key}: the bucket default's BucketKeyEnabled applies`);
        assert.ok(h.Metadata?.md5chksum, `${key}: rclone stored the MD5 as metadata`);
      }
    } finally {
      s3.destroy();
    }
    assertNoPlaintextAtRest(server, marker);
  });

  test('rclone_unaware_of_sse_kms_rejects_small_uploads_as_on_amazon_s3', async () => {
    // Without server_side_encryption = aws:kms, rclone takes a single-part ETag for the MD5 and
    // deletes the upload ("corrupted on transfer: md5 hash differ"). Amazon S3 does the same to it:
    // an SSE-KMS ETag is not the MD5 of the data (rclone/rclone#1824), and Coffer must not reveal it.
    const small = join(work, 'unaware');
    mkdirSync(small);
    writeFileSync(join(small, 'c.txt'), 'charlie\n');
    const failed = await rclone(remote(), 'copy', small, `coffer:${bucket}/unaware`).then(
      () => '',
      (err: Error) => err.message,
    );
    assert.match(failed, /corrupted on transfer: md5 hash differ/i);
  });
});
