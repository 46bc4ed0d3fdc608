/**
 * SSE-KMS uses the KMS key on the requester's behalf, so the requester needs
 * the KMS permissions as in AWS: kms:GenerateDataKey to write under a key,
 * kms:Decrypt to read (GET, a copy's source) and to add to a multipart upload
 * (UploadPart, UploadPartCopy, CompleteMultipartUpload); HEAD needs neither.
 * A customer managed key serves its own account only; the AWS managed key
 * aws/s3 and SSE-S3 need no KMS permission. IAM users and a second account are
 * made through the IAM API and `coffer admin account create`; every refusal is
 * the S3 error table's AccessDenied (403), and nothing is written or made
 * under a key the requester may not use.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { CreateAliasCommand, CreateKeyCommand, DecryptCommand, EncryptCommand, type KMSClient } from '@aws-sdk/client-kms';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutBucketEncryptionCommand,
  PutBucketPolicyCommand,
  PutObjectCommand,
  UpdateObjectEncryptionCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { KmsAuditEvent } from '../../src/kms/kms-audit.js';
import { kmsClient, rejectsWithSdkError } from '../helpers/kms.js';
import { expectS3Error } from '../helpers/s3.js';
import { CLI, startServer, type TestServer } from '../helpers/server.js';

const run = promisify(execFile);
const BUCKET = 'kms-perm';
const policy = (statements: unknown[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements });
/** What every user here may do in S3: read and write the test buckets' objects, nothing about KMS. */
const S3_ONLY = { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject', 's3:ListBucket'], Resource: ['arn:aws:s3:::kms-perm*', 'arn:aws:s3:::kms-perm*/*'] };

describe('SSE-KMS checks the requester’s KMS permissions', () => {
  let server: TestServer;
  let root: S3Client;
  let iam: IAMClient;
  let kms: KMSClient;
  let account = '';
  /** The customer managed keys: objects are written under `keyArn`; `key2Arn` is a second key for copies and updates. */
  let keyArn = '';
  let key2Arn = '';
  const clients: { destroy(): void }[] = [];

  /** A new IAM user of the first account with these policy statements, as an S3 client. */
  const userWith = async (name: string, statements: unknown[]): Promise<{ s3: S3Client; arn: string; credentials: { accessKeyId: string; secretAccessKey: string } }> => {
    await iam.send(new CreateUserCommand({ UserName: name }));
    await iam.send(new PutUserPolicyCommand({ UserName: name, PolicyName: 'p', PolicyDocument: policy(statements) }));
    const k = (await iam.send(new CreateAccessKeyCommand({ UserName: name }))).AccessKey!;
    const credentials = { accessKeyId: k.AccessKeyId!, secretAccessKey: k.SecretAccessKey! };
    const s3 = server.client({ credentials, maxAttempts: 1 });
    clients.push(s3);
    return { s3, arn: `arn:aws:iam::${account}:user/${name}`, credentials };
  };

  /** Asserts a 403 AccessDenied whose message is KMS's: who, which action, which key. */
  const expectKmsDenied = async (p: Promise<unknown>, who: string, action: string, key: string) => {
    const e = await expectS3Error(p, 'AccessDenied', 403);
    assert.match(e.message, new RegExp(`^User: ${who.replace(/[/.]/g, '\\$&')} is not authorized to perform: ${action} on resource: ${key.replace(/[/.]/g, '\\$&')} `), e.message);
  };
  const text = async (s3: S3Client, Key: string, Bucket = BUCKET) => (await s3.send(new GetObjectCommand({ Bucket, Key }))).Body!.transformToString();
  const notThere = async (Key: string, Bucket = BUCKET, s3 = root) => expectS3Error(s3.send(new HeadObjectCommand({ Bucket, Key })), 'NotFound', 404);
  const auditEvents = (): KmsAuditEvent[] =>
    readFileSync(join(server.dataDir, 'kms-audit.log'), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as KmsAuditEvent);

  before(async () => {
    server = await startServer();
    root = server.client({ maxAttempts: 1 });
    kms = kmsClient(server);
    iam = new IAMClient({ endpoint: server.url, region: server.region, credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey } });
    const key = (await kms.send(new CreateKeyCommand({ Description: 'customer key' }))).KeyMetadata!;
    keyArn = key.Arn!;
    account = key.AWSAccountId!;
    key2Arn = (await kms.send(new CreateKeyCommand({ Description: 'second customer key' }))).KeyMetadata!.Arn!;
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/perm-key', TargetKeyId: key.KeyId! }));
    await root.send(new CreateBucketCommand({ Bucket: BUCKET }));
    // The account's root may use its own keys without any policy (it wrote these objects).
    await root.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'kms', Body: 'under the customer key', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: keyArn }));
    await root.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'kms-bk', Body: 'under a bucket key', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: keyArn, BucketKeyEnabled: true }));
    await root.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'dsse', Body: 'two layers', ServerSideEncryption: 'aws:kms:dsse', SSEKMSKeyId: keyArn }));
    await root.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'sse-s3', Body: 'under SSE-S3', ServerSideEncryption: 'AES256' }));
    await root.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'managed', Body: 'under aws/s3', ServerSideEncryption: 'aws:kms' }));
  });
  after(async () => {
    for (const c of clients) c.destroy();
    kms?.destroy();
    iam?.destroy();
    await server?.destroy();
  });

  test('GetObject_SSE_KMS_needs_kms_Decrypt_SSE_S3_and_aws_s3_do_not_HEAD_never', async () => {
    const { s3, arn } = await userWith('no-kms-reader', [S3_ONLY]);
    await expectKmsDenied(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'kms' })), arn, 'kms:Decrypt', keyArn);
    await expectKmsDenied(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'dsse' })), arn, 'kms:Decrypt', keyArn);
    // A range read decrypts too.
    await expectKmsDenied(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'kms', Range: 'bytes=0-3' })), arn, 'kms:Decrypt', keyArn);
    assert.equal(await text(s3, 'sse-s3'), 'under SSE-S3');
    assert.equal(await text(s3, 'managed'), 'under aws/s3');
    // HEAD decrypts nothing: S3 answers it with s3:GetObject alone.
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'kms' }));
    assert.equal(head.SSEKMSKeyId, keyArn);
  });

  // AWS's managed key policy admits the account's principals through S3, but an identity policy's Deny still binds them.
  test('aws_s3_key_needs_no_grant_but_an_identity_Deny_still_refuses_it', async () => {
    const managedArn = (await root.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'managed' }))).SSEKMSKeyId!;
    assert.notEqual(managedArn, keyArn);
    const { s3, arn } = await userWith('managed-denied', [S3_ONLY, { Effect: 'Deny', Action: 'kms:*', Resource: '*' }]);
    await expectKmsDenied(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'managed' })), arn, 'kms:Decrypt', managedArn);
    await expectKmsDenied(s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'm-denied', Body: 'x', ServerSideEncryption: 'aws:kms' })), arn, 'kms:GenerateDataKey', managedArn);
    await notThere('m-denied');
    assert.equal(await text(s3, 'sse-s3'), 'under SSE-S3', 'SSE-S3 is S3 business only');
  });

  test('GetObject_with_kms_Decrypt_on_the_key_works_and_is_audited_as_the_requester_via_S3', async () => {
    const { s3, arn } = await userWith('decrypt-reader', [S3_ONLY, { Effect: 'Allow', Action: 'kms:Decrypt', Resource: keyArn }]);
    assert.equal(await text(s3, 'kms'), 'under the customer key');
    assert.equal(await text(s3, 'dsse'), 'two layers');
    const decrypts = auditEvents().filter((e) => e.principal === arn && e.operation === 'Decrypt');
    assert.ok(decrypts.length >= 1, 'the KMS audit log names the requester');
    assert.ok(decrypts.every((e) => e.invokedBy === 's3.amazonaws.com' && e.outcome === 'success'));
  });

  test('bucket_key_objects_check_kms_Decrypt_on_every_GET_though_the_bucket_key_is_cached', async () => {
    // The root reads first, so the bucket key is in the server's cache: no KMS call is needed for the next read.
    assert.equal(await text(root, 'kms-bk'), 'under a bucket key');
    const denied = await userWith('bk-denied', [S3_ONLY, { Effect: 'Allow', Action: 'kms:*', Resource: '*' }, { Effect: 'Deny', Action: 'kms:Decrypt', Resource: keyArn }]);
    await expectKmsDenied(denied.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'kms-bk' })), denied.arn, 'kms:Decrypt', keyArn);
    const allowed = await userWith('bk-allowed', [S3_ONLY, { Effect: 'Allow', Action: 'kms:Decrypt', Resource: keyArn }]);
    assert.equal(await text(allowed.s3, 'kms-bk'), 'under a bucket key');
    await expectKmsDenied(denied.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'kms-bk' })), denied.arn, 'kms:Decrypt', keyArn);
  });

  test('PutObject_under_a_customer_key_needs_kms_GenerateDataKey_by_ARN_id_or_alias_and_with_a_bucket_key', async () => {
    const { s3, arn } = await userWith('no-kms-writer', [S3_ONLY]);
    const keyId = keyArn.slice(keyArn.lastIndexOf('/') + 1);
    for (const [Key, SSEKMSKeyId] of [['by-arn', keyArn], ['by-id', keyId], ['by-alias', 'alias/perm-key']] as const) {
      // Policies speak of the key, never the alias: the refusal names the key's ARN.
      await expectKmsDenied(s3.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body: 'x', ServerSideEncryption: 'aws:kms', SSEKMSKeyId })), arn, 'kms:GenerateDataKey', keyArn);
      await notThere(Key);
    }
    await expectKmsDenied(s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'dsse-w', Body: 'x', ServerSideEncryption: 'aws:kms:dsse', SSEKMSKeyId: keyArn })), arn, 'kms:GenerateDataKey', keyArn);
    // The root's bucket-key PUT leaves a bucket key cached for the key: the user's PUT would need no KMS call, and is still refused.
    await root.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'bk-warm', Body: 'x', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: keyArn, BucketKeyEnabled: true }));
    for (let i = 0; i < 3; i++) {
      await expectKmsDenied(s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `bk-${i}`, Body: 'x', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: keyArn, BucketKeyEnabled: true })), arn, 'kms:GenerateDataKey', keyArn);
      await notThere(`bk-${i}`);
    }
    // SSE-S3 and the AWS managed key need no KMS permission.
    assert.equal((await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'w-sse-s3', Body: 'x', ServerSideEncryption: 'AES256' }))).ServerSideEncryption, 'AES256');
    const managed = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'w-managed', Body: 'x', ServerSideEncryption: 'aws:kms' }));
    assert.equal(managed.ServerSideEncryption, 'aws:kms');
    // No data key was made for the refused writes: the KMS never saw the user use the key.
    assert.deepEqual(auditEvents().filter((e) => e.principal === arn && e.operation === 'GenerateDataKey' && e.keyId === keyId), []);
  });

  test('PutObject_with_kms_GenerateDataKey_works_with_and_without_a_bucket_key', async () => {
    const { s3 } = await userWith('gdk-writer', [S3_ONLY, { Effect: 'Allow', Action: ['kms:GenerateDataKey', 'kms:Decrypt'], Resource: keyArn }]);
    const put = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'w-kms', Body: 'written', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'alias/perm-key' }));
    assert.equal(put.SSEKMSKeyId, keyArn);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'w-kms-bk', Body: 'written bk', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: keyArn, BucketKeyEnabled: true }));
    assert.equal(await text(s3, 'w-kms'), 'written');
    assert.equal(await text(s3, 'w-kms-bk'), 'written bk');
  });

  test('kms_ViaService_lets_a_key_be_used_through_S3_but_not_directly', async () => {
    const viaS3 = { Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: keyArn, Condition: { StringEquals: { 'kms:ViaService': `s3.${server.region}.amazonaws.com` } } };
    const { s3, credentials } = await userWith('via-s3', [S3_ONLY, viaS3]);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'via', Body: 'through S3', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: keyArn }));
    assert.equal(await text(s3, 'via'), 'through S3');
    const direct = kmsClient(server, { credentials });
    clients.push(direct);
    const blob = (await kms.send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.from('direct') }))).CiphertextBlob!;
    await rejectsWithSdkError(direct.send(new DecryptCommand({ KeyId: keyArn, CiphertextBlob: blob })), 'AccessDeniedException');
  });

  // The same evaluation serves the KMS API's direct calls, and there too AWS decides on the key:
  // an alias does not slip past a Deny on the key, and a Decrypt that names no key is about the
  // key its ciphertext was made under.
  test('KMS_API_authorizes_on_the_key_an_alias_or_a_ciphertext_names', async () => {
    const blob = (await kms.send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.from('secret') }))).CiphertextBlob!;
    const denied = await userWith('api-denied', [{ Effect: 'Allow', Action: 'kms:*', Resource: '*' }, { Effect: 'Deny', Action: ['kms:Decrypt', 'kms:Encrypt'], Resource: keyArn }]);
    const deniedKms = kmsClient(server, { credentials: denied.credentials });
    clients.push(deniedKms);
    await rejectsWithSdkError(deniedKms.send(new DecryptCommand({ CiphertextBlob: blob })), 'AccessDeniedException');
    await rejectsWithSdkError(deniedKms.send(new DecryptCommand({ CiphertextBlob: blob, KeyId: 'alias/perm-key' })), 'AccessDeniedException');
    await rejectsWithSdkError(deniedKms.send(new EncryptCommand({ KeyId: 'alias/perm-key', Plaintext: Buffer.from('x') })), 'AccessDeniedException');
    // Other keys stay usable to it.
    await deniedKms.send(new EncryptCommand({ KeyId: key2Arn, Plaintext: Buffer.from('x') }));

    const allowed = await userWith('api-allowed', [{ Effect: 'Allow', Action: ['kms:Decrypt', 'kms:Encrypt'], Resource: keyArn }]);
    const allowedKms = kmsClient(server, { credentials: allowed.credentials });
    clients.push(allowedKms);
    assert.equal(Buffer.from((await allowedKms.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString(), 'secret');
    await allowedKms.send(new EncryptCommand({ KeyId: 'alias/perm-key', Plaintext: Buffer.from('x') }));
    await rejectsWithSdkError(allowedKms.send(new EncryptCommand({ KeyId: key2Arn, Plaintext: Buffer.from('x') })), 'AccessDeniedException');
  });

  test('multipart_CreateMultipartUpload_needs_GenerateDataKey_UploadPart_and_Complete_need_Decrypt', async () => {
    const none = await userWith('mp-none', [S3_ONLY]);
    await expectKmsDenied(none.s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'mp', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: keyArn })), none.arn, 'kms:GenerateDataKey', keyArn);

    const gdkOnly = await userWith('mp-gdk-only', [S3_ONLY, { Effect: 'Allow', Action: 'kms:GenerateDataKey', Resource: keyArn }]);
    const mine = await gdkOnly.s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'mp', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: keyArn }));
    await expectKmsDenied(gdkOnly.s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: 'mp', UploadId: mine.UploadId!, PartNumber: 1, Body: 'part' })), gdkOnly.arn, 'kms:Decrypt', keyArn);
    // The root uploads the part; completing still needs kms:Decrypt.
    const part = await root.send(new UploadPartCommand({ Bucket: BUCKET, Key: 'mp', UploadId: mine.UploadId!, PartNumber: 1, Body: 'part' }));
    const complete = { Bucket: BUCKET, Key: 'mp', UploadId: mine.UploadId!, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag! }] } };
    await expectKmsDenied(gdkOnly.s3.send(new CompleteMultipartUploadCommand(complete)), gdkOnly.arn, 'kms:Decrypt', keyArn);
    await notThere('mp');

    const both = await userWith('mp-both', [S3_ONLY, { Effect: 'Allow', Action: ['kms:GenerateDataKey', 'kms:Decrypt'], Resource: keyArn }]);
    await both.s3.send(new CompleteMultipartUploadCommand(complete));
    const up = await both.s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'mp2', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: keyArn, BucketKeyEnabled: true }));
    const p1 = await both.s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: 'mp2', UploadId: up.UploadId!, PartNumber: 1, Body: 'one part' }));
    await both.s3.send(new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key: 'mp2', UploadId: up.UploadId!, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p1.ETag! }] } }));
    assert.equal(await text(both.s3, 'mp'), 'part');
    assert.equal(await text(both.s3, 'mp2'), 'one part');
  });

  test('CopyObject_needs_Decrypt_on_the_source_key_and_GenerateDataKey_on_the_destination_key', async () => {
    const none = await userWith('copy-none', [S3_ONLY]);
    await expectKmsDenied(none.s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'c-1', CopySource: `${BUCKET}/kms`, ServerSideEncryption: 'AES256' })), none.arn, 'kms:Decrypt', keyArn);
    await notThere('c-1');
    // The other way round: an SSE-S3 source, a customer key for the copy.
    await expectKmsDenied(none.s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'c-2', CopySource: `${BUCKET}/sse-s3`, ServerSideEncryption: 'aws:kms', SSEKMSKeyId: key2Arn })), none.arn, 'kms:GenerateDataKey', key2Arn);
    await notThere('c-2');

    const decryptOnly = await userWith('copy-decrypt', [S3_ONLY, { Effect: 'Allow', Action: 'kms:Decrypt', Resource: keyArn }]);
    await expectKmsDenied(
      decryptOnly.s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'c-3', CopySource: `${BUCKET}/kms`, ServerSideEncryption: 'aws:kms', SSEKMSKeyId: key2Arn })),
      decryptOnly.arn,
      'kms:GenerateDataKey',
      key2Arn,
    );
    await notThere('c-3');
    await decryptOnly.s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'c-4', CopySource: `${BUCKET}/kms`, ServerSideEncryption: 'AES256' }));
    assert.equal(await text(root, 'c-4'), 'under the customer key');

    // UploadPartCopy reads its source with kms:Decrypt as well.
    const up = await root.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'upc', ServerSideEncryption: 'AES256' }));
    await expectKmsDenied(none.s3.send(new UploadPartCopyCommand({ Bucket: BUCKET, Key: 'upc', UploadId: up.UploadId!, PartNumber: 1, CopySource: `${BUCKET}/kms` })), none.arn, 'kms:Decrypt', keyArn);
    await decryptOnly.s3.send(new UploadPartCopyCommand({ Bucket: BUCKET, Key: 'upc', UploadId: up.UploadId!, PartNumber: 1, CopySource: `${BUCKET}/kms` }));
  });

  test('UpdateObjectEncryption_needs_the_new_keys_permission_and_Decrypt_on_the_old_one', async () => {
    await root.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'u-s3', Body: 'to move', ServerSideEncryption: 'AES256' }));
    const none = await userWith('update-none', [S3_ONLY]);
    await expectKmsDenied(none.s3.send(new UpdateObjectEncryptionCommand({ Bucket: BUCKET, Key: 'u-s3', ObjectEncryption: { SSEKMS: { KMSKeyArn: keyArn } } })), none.arn, 'kms:Encrypt', keyArn);
    await expectKmsDenied(
      none.s3.send(new UpdateObjectEncryptionCommand({ Bucket: BUCKET, Key: 'u-s3', ObjectEncryption: { SSEKMS: { KMSKeyArn: keyArn, BucketKeyEnabled: true } } })),
      none.arn,
      'kms:GenerateDataKey',
      keyArn,
    );
    assert.equal((await root.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'u-s3' }))).ServerSideEncryption, 'AES256', 'unchanged');
    const mover = await userWith('update-mover', [S3_ONLY, { Effect: 'Allow', Action: ['kms:Encrypt'], Resource: keyArn }]);
    await mover.s3.send(new UpdateObjectEncryptionCommand({ Bucket: BUCKET, Key: 'u-s3', ObjectEncryption: { SSEKMS: { KMSKeyArn: keyArn } } }));
    assert.equal((await root.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'u-s3' }))).SSEKMSKeyId, keyArn);
    // Moving it on to the second key unwraps its data key under the first: kms:Decrypt on that one.
    await expectKmsDenied(mover.s3.send(new UpdateObjectEncryptionCommand({ Bucket: BUCKET, Key: 'u-s3', ObjectEncryption: { SSEKMS: { KMSKeyArn: key2Arn } } })), mover.arn, 'kms:Decrypt', keyArn);
  });

  test('another_account_cannot_use_the_first_accounts_key_not_even_as_its_buckets_default', async () => {
    const { stdout } = await run(process.execPath, [CLI, 'admin', 'account', 'create', 'kms-partner', '--data', server.dataDir], {
      env: { ...process.env, COFFER_ACCESS_KEY_ID: server.accessKeyId, COFFER_SECRET_ACCESS_KEY: server.secretAccessKey },
    });
    const field = (name: string) => new RegExp(`^${name}=(.+)$`, 'm').exec(stdout)![1]!;
    const partnerArn = `arn:aws:iam::${field('ACCOUNT_ID')}:root`;
    const partner = server.client({ credentials: { accessKeyId: field('AWS_ACCESS_KEY_ID'), secretAccessKey: field('AWS_SECRET_ACCESS_KEY') }, maxAttempts: 1 });
    clients.push(partner);
    const own = `${BUCKET}-partner`;
    await partner.send(new CreateBucketCommand({ Bucket: own }));
    const e = await expectS3Error(partner.send(new PutObjectCommand({ Bucket: own, Key: 'k', Body: 'x', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: keyArn })), 'AccessDenied', 403);
    assert.equal(e.message, `User: ${partnerArn} is not authorized to perform: kms:GenerateDataKey on resource: ${keyArn} because no resource-based policy allows the kms:GenerateDataKey action`);
    // S3 takes the key as a bucket default without asking (as AWS does); the writes then fail.
    await partner.send(
      new PutBucketEncryptionCommand({ Bucket: own, ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: keyArn } }] } }),
    );
    await expectKmsDenied(partner.send(new PutObjectCommand({ Bucket: own, Key: 'k', Body: 'x' })), partnerArn, 'kms:GenerateDataKey', keyArn);
    await expectKmsDenied(partner.send(new CreateMultipartUploadCommand({ Bucket: own, Key: 'k' })), partnerArn, 'kms:GenerateDataKey', keyArn);
    await notThere('k', own, partner);
    // Its own writes under SSE-S3 or its AWS managed key go on.
    await partner.send(new PutObjectCommand({ Bucket: own, Key: 's3', Body: 'x', ServerSideEncryption: 'AES256' }));
    await partner.send(new PutObjectCommand({ Bucket: own, Key: 'managed', Body: 'managed', ServerSideEncryption: 'aws:kms' }));
    assert.equal(await text(partner, 'managed', own), 'managed');
    // Read access to the first account's bucket does not reach the first account's key.
    await root.send(new PutBucketPolicyCommand({ Bucket: BUCKET, Policy: policy([{ Effect: 'Allow', Principal: { AWS: field('ACCOUNT_ID') }, Action: 's3:GetObject', Resource: `arn:aws:s3:::${BUCKET}/*` }]) }));
    assert.equal(await text(partner, 'sse-s3'), 'under SSE-S3');
    await expectKmsDenied(partner.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'kms' })), partnerArn, 'kms:Decrypt', keyArn);
    await expectKmsDenied(partner.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'kms-bk' })), partnerArn, 'kms:Decrypt', keyArn);
    // The first account's audit log shows no data key made for the other account.
    assert.deepEqual(auditEvents().filter((ev) => ev.principal === partnerArn && ev.operation === 'GenerateDataKey' && keyArn.endsWith(ev.keyId ?? '-')), []);
  });
});
