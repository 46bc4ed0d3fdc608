/**
 * Every version encrypted on its own: each version of a key keeps the encryption mode, key and
 * S3 Bucket Key it was written with (it is its own object record), an SSE-C version answers
 * only to its own customer key, UpdateObjectEncryption and CopyObject act on the version they
 * name, and deleting a KMS key shreds exactly the versions encrypted under it — the other
 * versions of the same key still read back.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutBucketEncryptionCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { CreateKeyCommand, ScheduleKeyDeletionCommand, type KMSClient } from '@aws-sdk/client-kms';
import { bodyBytes, expectS3Error, filesUnder, md5Base64 } from '../helpers/s3.js';
import { kmsClient } from '../helpers/kms.js';
import { signedRequest } from '../helpers/raw-s3.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { readFileSync } from 'node:fs';

const KEY_1 = Buffer.from('customer-key-one-0123456789abcde'); // 32 bytes
const KEY_2 = Buffer.from('customer-key-two-0123456789abcde');
const md5 = (b: Buffer) => createHash('md5').update(b).digest('base64');

describe('versioning with encryption', () => {
  let server: TestServer;
  let s3: S3Client;
  let kms: KMSClient;
  const b = 'ver-enc';
  const versions: Record<string, string> = {};
  let doomedArn = '';
  let keptArn = '';
  const ssec = (k: Buffer) => ({ SSECustomerAlgorithm: 'AES256', SSECustomerKey: k.toString('base64'), SSECustomerKeyMD5: md5(k) });
  const text = async (out: Parameters<typeof bodyBytes>[0]) => (await bodyBytes(out)).toString('utf8');

  before(async () => {
    server = await startServer({ env: { COFFER_KMS_MIN_PENDING_WINDOW_DAYS: '1', COFFER_KMS_DAY_SECONDS: '1', COFFER_KMS_SWEEP_INTERVAL_MS: '100' } });
    s3 = server.client();
    kms = kmsClient(server);
    doomedArn = (await kms.send(new CreateKeyCommand({ Description: 'doomed' }))).KeyMetadata!.Arn!;
    keptArn = (await kms.send(new CreateKeyCommand({ Description: 'kept' }))).KeyMetadata!.Arn!;
    await s3.send(new CreateBucketCommand({ Bucket: b }));
    // SSE-C is blocked on new buckets (as in S3): unblock it for these versions.
    await s3.send(
      new PutBucketEncryptionCommand({
        Bucket: b,
        ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' }, BlockedEncryptionTypes: { EncryptionType: ['NONE'] } }] },
      }),
    );
    await s3.send(new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Enabled' } }));
    const put = async (name: string, extra: Record<string, unknown>) => {
      versions[name] = (await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: `version ${name}`, ...extra }))).VersionId!;
    };
    await put('s3', {});
    await put('kms', { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: doomedArn });
    await put('kmsBucketKey', { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: doomedArn, BucketKeyEnabled: true });
    await put('c1', ssec(KEY_1));
    await put('c2', ssec(KEY_2));
    await put('kept', { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: keptArn });
  });
  after(async () => {
    s3?.destroy();
    kms?.destroy();
    await server?.destroy();
  });

  test('each_version_keeps_its_own_encryption_mode_and_key', async () => {
    const head = (name: string, extra = {}) => s3.send(new HeadObjectCommand({ Bucket: b, Key: 'k', VersionId: versions[name], ...extra }));
    assert.equal((await head('s3')).ServerSideEncryption, 'AES256');
    const k = await head('kms');
    assert.equal(k.ServerSideEncryption, 'aws:kms');
    assert.equal(k.SSEKMSKeyId, doomedArn);
    assert.equal(k.BucketKeyEnabled, undefined);
    assert.equal((await head('kmsBucketKey')).BucketKeyEnabled, true);
    assert.equal((await head('c1', ssec(KEY_1))).SSECustomerKeyMD5, md5(KEY_1));
    assert.equal((await head('kept')).SSEKMSKeyId, keptArn);
    for (const name of ['s3', 'kms', 'kmsBucketKey', 'kept']) {
      assert.equal(await text(await s3.send(new GetObjectCommand({ Bucket: b, Key: 'k', VersionId: versions[name] }))), `version ${name}`);
    }
  });

  test('an_SSE_C_version_answers_only_to_its_own_customer_key', async () => {
    assert.equal(await text(await s3.send(new GetObjectCommand({ Bucket: b, Key: 'k', VersionId: versions.c1, ...ssec(KEY_1) }))), 'version c1');
    assert.equal(await text(await s3.send(new GetObjectCommand({ Bucket: b, Key: 'k', VersionId: versions.c2, ...ssec(KEY_2) }))), 'version c2');
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: b, Key: 'k', VersionId: versions.c1, ...ssec(KEY_2) })), 'AccessDenied', 403);
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: b, Key: 'k', VersionId: versions.c2 })), 'InvalidRequest', 400);
    // A copy of an SSE-C version reads it with that version's key (x-amz-copy-source-server-side-encryption-customer-*).
    const copy = await s3.send(
      new CopyObjectCommand({
        Bucket: b,
        Key: 'copy-of-c1',
        CopySource: `${b}/k?versionId=${versions.c1}`,
        CopySourceSSECustomerAlgorithm: 'AES256',
        CopySourceSSECustomerKey: KEY_1.toString('base64'),
        CopySourceSSECustomerKeyMD5: md5(KEY_1),
      }),
    );
    assert.equal(copy.CopySourceVersionId, versions.c1);
    assert.equal(await text(await s3.send(new GetObjectCommand({ Bucket: b, Key: 'copy-of-c1' }))), 'version c1');
  });

  test('UpdateObjectEncryption_re_wraps_only_the_named_version', async () => {
    const body = Buffer.from(`<ObjectEncryption xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><SSE-KMS><KMSKeyArn>${keptArn}</KMSKeyArn></SSE-KMS></ObjectEncryption>`);
    const res = await signedRequest(server, { method: 'PUT', path: `/${b}/k`, query: { encryption: '', versionId: versions.s3! }, headers: { 'content-md5': md5Base64(body) }, body });
    assert.equal(res.status, 200, res.body.toString());
    assert.equal(res.headers['x-amz-version-id'], versions.s3);
    const updated = await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'k', VersionId: versions.s3 }));
    assert.equal(updated.ServerSideEncryption, 'aws:kms');
    assert.equal(updated.SSEKMSKeyId, keptArn);
    assert.equal(await text(await s3.send(new GetObjectCommand({ Bucket: b, Key: 'k', VersionId: versions.s3 }))), 'version s3');
    // The current version (SSE-KMS under `kept`) and the others are as they were.
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'k', VersionId: versions.kms }))).SSEKMSKeyId, doomedArn);
  });

  test('no_version_plaintext_is_at_rest', async () => {
    for (const f of filesUnder(server.dataDir)) {
      const bytes = readFileSync(f);
      for (const name of Object.keys(versions)) assert.equal(bytes.indexOf(Buffer.from(`version ${name}`)), -1, `version ${name} in clear in ${f}`);
    }
  });

  test('deleting_a_KMS_key_shreds_exactly_the_versions_encrypted_under_it', async () => {
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: doomedArn, PendingWindowInDays: 1 }));
    // One KMS "day" is one second on this server; the sweep runs every 100 ms.
    await sleep(2500);
    await assert.rejects(s3.send(new GetObjectCommand({ Bucket: b, Key: 'k', VersionId: versions.kms })), (err: { name: string }) => err.name.startsWith('KMS.'));
    for (const [name, extra] of [['s3', {}], ['c1', ssec(KEY_1)], ['c2', ssec(KEY_2)], ['kept', {}]] as const) {
      assert.equal(await text(await s3.send(new GetObjectCommand({ Bucket: b, Key: 'k', VersionId: versions[name], ...extra }))), `version ${name}`, name);
    }
    assert.equal(await text(await s3.send(new GetObjectCommand({ Bucket: b, Key: 'k' }))), 'version kept');
  });
});
