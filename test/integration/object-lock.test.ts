/**
 * S3 Object Lock against the real server with the AWS SDK for JavaScript v3, as the S3 User
 * Guide ("Locking objects with Object Lock") and the API reference describe it: a bucket
 * created with x-amz-bucket-object-lock-enabled (versioning Enabled for good, 409
 * InvalidBucketState on suspend), Put/GetObjectLockConfiguration with default retention,
 * x-amz-object-lock-* on PutObject / CopyObject / CreateMultipartUpload, Put/GetObjectRetention
 * (COMPLIANCE never shortened or removed, GOVERNANCE only with x-amz-bypass-governance-retention),
 * Put/GetObjectLegalHold, and locked versions that nobody — the account root included — can
 * delete until they expire. A bucket without Object Lock refuses every lock parameter (400
 * InvalidRequest "Bucket is missing Object Lock Configuration").
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  GetObjectLegalHoldCommand,
  GetObjectLockConfigurationCommand,
  GetObjectRetentionCommand,
  HeadObjectCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectLegalHoldCommand,
  PutObjectLockConfigurationCommand,
  PutObjectRetentionCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { bodyBytes, expectS3Error, md5Base64 } from '../helpers/s3.js';
import { signedRequest } from '../helpers/raw-s3.js';
import { startServer, type TestServer } from '../helpers/server.js';

const DAY = 86_400_000;

describe('object lock', () => {
  let server: TestServer;
  let s3: S3Client;
  let n = 0;
  const lockedBucket = async (): Promise<string> => {
    const name = `lock-${n++}`;
    await s3.send(new CreateBucketCommand({ Bucket: name, ObjectLockEnabledForBucket: true }));
    return name;
  };
  const inDays = (d: number) => new Date(Date.now() + d * DAY);

  before(async () => {
    server = await startServer();
    s3 = server.client();
  });
  after(async () => {
    s3?.destroy();
    await server?.destroy();
  });

  test('CreateBucket_with_object_lock_enables_versioning_for_good_suspend_is_409_InvalidBucketState', async () => {
    const b = await lockedBucket();
    assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: b }))).Status, 'Enabled');
    assert.equal((await s3.send(new GetObjectLockConfigurationCommand({ Bucket: b }))).ObjectLockConfiguration?.ObjectLockEnabled, 'Enabled');
    await expectS3Error(s3.send(new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Suspended' } })), 'InvalidBucketState', 409);
    assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: b }))).Status, 'Enabled');
  });

  test('bucket_without_object_lock_refuses_lock_parameters_400_InvalidRequest', async () => {
    const b = `plain-${n++}`;
    await s3.send(new CreateBucketCommand({ Bucket: b }));
    const e = await expectS3Error(s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'x', ObjectLockMode: 'GOVERNANCE', ObjectLockRetainUntilDate: inDays(1) })), 'InvalidRequest', 400);
    assert.match(e.message, /Bucket is missing ObjectLockConfiguration/);
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'x', ObjectLockLegalHoldStatus: 'ON' })), 'InvalidRequest', 400);
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'x' }));
    await expectS3Error(s3.send(new GetObjectRetentionCommand({ Bucket: b, Key: 'k' })), 'InvalidRequest', 400);
    await expectS3Error(s3.send(new GetObjectLockConfigurationCommand({ Bucket: b })), 'ObjectLockConfigurationNotFoundError', 404);
    // Object Lock on an existing bucket needs versioning Enabled first (S3: 409 InvalidBucketState).
    await expectS3Error(
      s3.send(new PutObjectLockConfigurationCommand({ Bucket: b, ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled' } })),
      'InvalidBucketState',
      409,
    );
    await s3.send(new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Enabled' } }));
    await s3.send(new PutObjectLockConfigurationCommand({ Bucket: b, ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled' } }));
    await expectS3Error(s3.send(new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Suspended' } })), 'InvalidBucketState', 409);
  });

  test('COMPLIANCE_version_cannot_be_deleted_by_the_root_nor_shortened_nor_removed_but_can_be_extended', async () => {
    const b = await lockedBucket();
    const until = inDays(1);
    const put = await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'kept', ObjectLockMode: 'COMPLIANCE', ObjectLockRetainUntilDate: until }));
    const v = put.VersionId!;
    const head = await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'k' }));
    assert.equal(head.ObjectLockMode, 'COMPLIANCE');
    assert.equal(head.ObjectLockRetainUntilDate?.toISOString(), until.toISOString());
    await expectS3Error(s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k', VersionId: v })), 'AccessDenied', 403);
    await expectS3Error(s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k', VersionId: v, BypassGovernanceRetention: true })), 'AccessDenied', 403);
    await expectS3Error(s3.send(new PutObjectRetentionCommand({ Bucket: b, Key: 'k', VersionId: v, Retention: { Mode: 'COMPLIANCE', RetainUntilDate: new Date(until.getTime() - 3600_000) } })), 'AccessDenied', 403);
    await expectS3Error(s3.send(new PutObjectRetentionCommand({ Bucket: b, Key: 'k', VersionId: v, Retention: { Mode: 'GOVERNANCE', RetainUntilDate: inDays(2) }, BypassGovernanceRetention: true })), 'AccessDenied', 403);
    const later = inDays(3);
    await s3.send(new PutObjectRetentionCommand({ Bucket: b, Key: 'k', VersionId: v, Retention: { Mode: 'COMPLIANCE', RetainUntilDate: later } }));
    const got = await s3.send(new GetObjectRetentionCommand({ Bucket: b, Key: 'k', VersionId: v }));
    assert.equal(got.Retention?.Mode, 'COMPLIANCE');
    assert.equal(got.Retention?.RetainUntilDate?.toISOString(), later.toISOString());
    // A simple DELETE still works: it only adds a delete marker; the locked version stays.
    const del = await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k' }));
    assert.equal(del.DeleteMarker, true);
    assert.equal((await bodyBytes(await s3.send(new GetObjectCommand({ Bucket: b, Key: 'k', VersionId: v })))).toString(), 'kept');
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k', VersionId: del.VersionId }));
  });

  test('GOVERNANCE_version_is_deleted_only_with_x_amz_bypass_governance_retention', async () => {
    const b = await lockedBucket();
    const v = (await s3.send(new PutObjectCommand({ Bucket: b, Key: 'g', Body: 'x', ObjectLockMode: 'GOVERNANCE', ObjectLockRetainUntilDate: inDays(1) }))).VersionId!;
    await expectS3Error(s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'g', VersionId: v })), 'AccessDenied', 403);
    await expectS3Error(s3.send(new PutObjectRetentionCommand({ Bucket: b, Key: 'g', VersionId: v, Retention: {} })), 'AccessDenied', 403);
    // Shortening with the bypass is allowed.
    await s3.send(new PutObjectRetentionCommand({ Bucket: b, Key: 'g', VersionId: v, Retention: { Mode: 'GOVERNANCE', RetainUntilDate: new Date(Date.now() + 3600_000) }, BypassGovernanceRetention: true }));
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'g', VersionId: v, BypassGovernanceRetention: true }));
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: b, Key: 'g', VersionId: v })), 'NoSuchVersion', 404);
  });

  test('legal_hold_blocks_deletion_until_released', async () => {
    const b = await lockedBucket();
    const v = (await s3.send(new PutObjectCommand({ Bucket: b, Key: 'h', Body: 'x', ObjectLockLegalHoldStatus: 'ON' }))).VersionId!;
    assert.equal((await s3.send(new GetObjectLegalHoldCommand({ Bucket: b, Key: 'h', VersionId: v }))).LegalHold?.Status, 'ON');
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'h' }))).ObjectLockLegalHoldStatus, 'ON');
    await expectS3Error(s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'h', VersionId: v, BypassGovernanceRetention: true })), 'AccessDenied', 403);
    await s3.send(new PutObjectLegalHoldCommand({ Bucket: b, Key: 'h', VersionId: v, LegalHold: { Status: 'OFF' } }));
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'h', VersionId: v }));
    await expectS3Error(s3.send(new GetObjectRetentionCommand({ Bucket: b, Key: 'h', VersionId: v })), 'NoSuchVersion', 404);
  });

  test('retention_ends_at_its_date_then_the_version_can_be_deleted', async () => {
    const b = await lockedBucket();
    const v = (await s3.send(new PutObjectCommand({ Bucket: b, Key: 'e', Body: 'x', ObjectLockMode: 'COMPLIANCE', ObjectLockRetainUntilDate: new Date(Date.now() + 2000) }))).VersionId!;
    await expectS3Error(s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'e', VersionId: v })), 'AccessDenied', 403);
    await sleep(2500);
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'e', VersionId: v }));
    await expectS3Error(s3.send(new HeadObjectCommand({ Bucket: b, Key: 'e', VersionId: v })), 'NotFound', 404);
  });

  test('default_retention_applies_to_PutObject_CopyObject_and_CompleteMultipartUpload', async () => {
    const b = await lockedBucket();
    await s3.send(
      new PutObjectLockConfigurationCommand({
        Bucket: b,
        ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 2 } } },
      }),
    );
    // Default retention applies: S3 then wants Content-MD5 or a checksum on PutObject, even without lock headers.
    const bare = await signedRequest(server, { method: 'PUT', path: `/${b}/bare`, body: Buffer.from('x') });
    assert.equal(bare.status, 400);
    assert.match(bare.body.toString(), /<Code>InvalidRequest<\/Code>/);
    const withMd5 = await signedRequest(server, { method: 'PUT', path: `/${b}/bare`, body: Buffer.from('x'), headers: { 'content-md5': md5Base64(Buffer.from('x')) } });
    assert.equal(withMd5.status, 200);
    const config = await s3.send(new GetObjectLockConfigurationCommand({ Bucket: b }));
    assert.deepEqual(config.ObjectLockConfiguration?.Rule?.DefaultRetention, { Mode: 'GOVERNANCE', Days: 2 });
    const before = Date.now();
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'p', Body: 'x' }));
    const r = (await s3.send(new GetObjectRetentionCommand({ Bucket: b, Key: 'p' }))).Retention!;
    assert.equal(r.Mode, 'GOVERNANCE');
    assert.ok(Math.abs(r.RetainUntilDate!.getTime() - (before + 2 * DAY)) < 60_000, 'two days from now');
    await s3.send(new CopyObjectCommand({ Bucket: b, Key: 'c', CopySource: `${b}/p` }));
    assert.equal((await s3.send(new GetObjectRetentionCommand({ Bucket: b, Key: 'c' }))).Retention?.Mode, 'GOVERNANCE');
    // Explicit headers win over the default.
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: b, Key: 'm', ObjectLockMode: 'COMPLIANCE', ObjectLockRetainUntilDate: inDays(5) }));
    const part = await s3.send(new UploadPartCommand({ Bucket: b, Key: 'm', UploadId, PartNumber: 1, Body: 'data' }));
    const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: b, Key: 'm', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }));
    assert.equal((await s3.send(new GetObjectRetentionCommand({ Bucket: b, Key: 'm', VersionId: done.VersionId }))).Retention?.Mode, 'COMPLIANCE');
    await expectS3Error(s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'm', VersionId: done.VersionId, BypassGovernanceRetention: true })), 'AccessDenied', 403);
  });

  test('bypassing_GOVERNANCE_needs_the_s3_BypassGovernanceRetention_permission_and_the_header', async () => {
    const b = await lockedBucket();
    const iam = new IAMClient({ endpoint: server.url, region: 'us-east-1', credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey } });
    const userClient = async (name: string, actions: string[]) => {
      await iam.send(new CreateUserCommand({ UserName: name }));
      await iam.send(new PutUserPolicyCommand({
        UserName: name,
        PolicyName: 'p',
        PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: actions, Resource: [`arn:aws:s3:::${b}`, `arn:aws:s3:::${b}/*`] }] }),
      }));
      const k = (await iam.send(new CreateAccessKeyCommand({ UserName: name }))).AccessKey!;
      return server.client({ credentials: { accessKeyId: k.AccessKeyId!, secretAccessKey: k.SecretAccessKey! } });
    };
    const plain = await userClient('lock-plain', ['s3:PutObject', 's3:DeleteObjectVersion', 's3:GetObjectVersion', 's3:PutObjectRetention']);
    const bypasser = await userClient('lock-bypasser', ['s3:PutObject', 's3:DeleteObjectVersion', 's3:BypassGovernanceRetention']);
    try {
      const v = (await s3.send(new PutObjectCommand({ Bucket: b, Key: 'g', Body: 'x', ObjectLockMode: 'GOVERNANCE', ObjectLockRetainUntilDate: inDays(1) }))).VersionId!;
      // Without the permission the header is not enough (S3: 403 AccessDenied) — for deletes and for shortening alike.
      await expectS3Error(plain.send(new DeleteObjectCommand({ Bucket: b, Key: 'g', VersionId: v, BypassGovernanceRetention: true })), 'AccessDenied', 403);
      await expectS3Error(plain.send(new PutObjectRetentionCommand({ Bucket: b, Key: 'g', VersionId: v, Retention: {}, BypassGovernanceRetention: true })), 'AccessDenied', 403);
      // With the permission but without the header, neither.
      await expectS3Error(bypasser.send(new DeleteObjectCommand({ Bucket: b, Key: 'g', VersionId: v })), 'AccessDenied', 403);
      await bypasser.send(new DeleteObjectCommand({ Bucket: b, Key: 'g', VersionId: v, BypassGovernanceRetention: true }));
      await expectS3Error(s3.send(new HeadObjectCommand({ Bucket: b, Key: 'g', VersionId: v })), 'NotFound', 404);
    } finally {
      plain.destroy();
      bypasser.destroy();
      iam.destroy();
    }
  });

  test('lock_headers_are_checked_mode_and_date_together_a_future_date_and_a_checksum', async () => {
    const b = await lockedBucket();
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'x', ObjectLockMode: 'GOVERNANCE' })), 'InvalidArgument', 400);
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'x', ObjectLockMode: 'GOVERNANCE', ObjectLockRetainUntilDate: new Date(Date.now() - DAY) })), 'InvalidArgument', 400);
    // S3 requires Content-MD5 or an x-amz-checksum-* header on a PutObject with Object Lock parameters.
    const raw = await signedRequest(server, {
      method: 'PUT',
      path: `/${b}/raw`,
      body: Buffer.from('x'),
      headers: { 'x-amz-object-lock-mode': 'GOVERNANCE', 'x-amz-object-lock-retain-until-date': inDays(1).toISOString() },
    });
    assert.equal(raw.status, 400);
    assert.match(raw.body.toString(), /<Code>InvalidRequest<\/Code>/);
    const badMode = await signedRequest(server, {
      method: 'PUT',
      path: `/${b}/raw`,
      body: Buffer.from('x'),
      headers: { 'x-amz-object-lock-mode': 'FOREVER', 'x-amz-object-lock-retain-until-date': inDays(1).toISOString(), 'content-md5': md5Base64(Buffer.from('x')) },
    });
    assert.equal(badMode.status, 400);
    assert.match(badMode.body.toString(), /<Code>InvalidArgument<\/Code>/);
    // A version without retention: GetObjectRetention is 404 NoSuchObjectLockConfiguration.
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'free', Body: 'x' }));
    await expectS3Error(s3.send(new GetObjectRetentionCommand({ Bucket: b, Key: 'free' })), 'NoSuchObjectLockConfiguration', 404);
  });
});
