/**
 * The AWS KMS API of a real Coffer process, driven by @aws-sdk/client-kms with
 * default settings: every operation, and every error each one documents that
 * Coffer can produce, asserting the error type (`__type`) and HTTP status. A
 * few requests are sent by hand to check the wire format itself. The last
 * test searches the data directory and the server's logs for the plaintext
 * data keys the suite was given: none may be there.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CancelKeyDeletionCommand,
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  DeleteAliasCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  DisableKeyRotationCommand,
  EnableKeyCommand,
  EnableKeyRotationCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyWithoutPlaintextCommand,
  GenerateRandomCommand,
  GetKeyRotationStatusCommand,
  KMSClient,
  ListAliasesCommand,
  ListKeyRotationsCommand,
  ListKeysCommand,
  ListResourceTagsCommand,
  ReEncryptCommand,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateAliasCommand,
} from '@aws-sdk/client-kms';
import { KMS_ERRORS } from '../../src/kms/kms-errors.js';
import { kmsClient, rawKmsRequest, rejectsWithSdkError } from '../helpers/kms.js';
import { startServer, type TestServer } from '../helpers/server.js';

describe('kms api', () => {
  let server: TestServer;
  let kms: KMSClient;
  /** Every plaintext data key or Decrypt result the server handed out: none may be at rest. */
  const secrets: Buffer[] = [];
  const keep = <T extends { Plaintext?: Uint8Array | undefined }>(r: T): T => {
    if (r.Plaintext) secrets.push(Buffer.from(r.Plaintext));
    return r;
  };
  const newKey = async (description = 'test key', extra: Partial<ConstructorParameters<typeof CreateKeyCommand>[0]> = {}) =>
    (await kms.send(new CreateKeyCommand({ Description: description, ...extra }))).KeyMetadata!;

  before(async () => {
    // Debug logs, so the at-rest check also covers everything the server logs about requests.
    server = await startServer({ env: { COFFER_KMS_MIN_PENDING_WINDOW_DAYS: '0', COFFER_LOG_LEVEL: 'debug' } });
    kms = kmsClient(server);
  });
  after(async () => {
    kms?.destroy();
    await server?.destroy();
  });

  // ---- CreateKey / DescribeKey / ListKeys

  test('CreateKey_defaults_description_and_tags', async () => {
    const m = await newKey('payments', { Tags: [{ TagKey: 'team', TagValue: 'billing' }] });
    assert.match(m.KeyId!, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.match(m.AWSAccountId!, /^\d{12}$/);
    assert.equal(m.Arn, `arn:aws:kms:us-east-1:${m.AWSAccountId}:key/${m.KeyId}`);
    assert.equal(m.Description, 'payments');
    assert.equal(m.Enabled, true);
    assert.equal(m.KeyState, 'Enabled');
    assert.equal(m.KeyUsage, 'ENCRYPT_DECRYPT');
    assert.equal(m.KeySpec, 'SYMMETRIC_DEFAULT');
    assert.equal(m.CustomerMasterKeySpec, 'SYMMETRIC_DEFAULT');
    assert.equal(m.Origin, 'AWS_KMS');
    assert.equal(m.KeyManager, 'CUSTOMER');
    assert.deepEqual(m.EncryptionAlgorithms, ['SYMMETRIC_DEFAULT']);
    assert.ok(m.CreationDate instanceof Date && Math.abs(m.CreationDate.getTime() - Date.now()) < 60_000);
    const tags = await kms.send(new ListResourceTagsCommand({ KeyId: m.KeyId }));
    assert.deepEqual(tags.Tags, [{ TagKey: 'team', TagValue: 'billing' }]);
  });

  test('CreateKey_asymmetric_spec_is_UnsupportedOperationException', async () => {
    await rejectsWithSdkError(kms.send(new CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' })), 'UnsupportedOperationException');
  });

  test('CreateKey_sign_verify_usage_is_ValidationException', async () => {
    await rejectsWithSdkError(kms.send(new CreateKeyCommand({ KeyUsage: 'SIGN_VERIFY' })), 'ValidationException');
  });

  test('CreateKey_external_origin_is_UnsupportedOperationException', async () => {
    await rejectsWithSdkError(kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL' })), 'UnsupportedOperationException');
  });

  test('CreateKey_reserved_tag_key_is_TagException', async () => {
    await rejectsWithSdkError(kms.send(new CreateKeyCommand({ Tags: [{ TagKey: 'aws:owner', TagValue: 'x' }] })), 'TagException');
  });

  test('DescribeKey_by_id_arn_alias_and_alias_arn', async () => {
    const m = await newKey();
    const alias = `alias/describe-${m.KeyId!.slice(0, 8)}`;
    await kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: m.KeyId }));
    for (const ref of [m.KeyId!, m.Arn!, alias, `arn:aws:kms:us-east-1:${m.AWSAccountId}:${alias}`]) {
      assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: ref }))).KeyMetadata?.KeyId, m.KeyId, ref);
    }
  });

  test('DescribeKey_unknown_is_NotFoundException', async () => {
    const m = await newKey();
    await rejectsWithSdkError(kms.send(new DescribeKeyCommand({ KeyId: '0e4e2b4b-7d8f-4c67-9f60-2b1c4b0c9a11' })), 'NotFoundException');
    await rejectsWithSdkError(kms.send(new DescribeKeyCommand({ KeyId: 'alias/never-created' })), 'NotFoundException');
    await rejectsWithSdkError(kms.send(new DescribeKeyCommand({ KeyId: 'not a key' })), 'NotFoundException');
    // Same key id, another region: not one of this KMS's keys.
    await rejectsWithSdkError(kms.send(new DescribeKeyCommand({ KeyId: m.Arn!.replace('us-east-1', 'eu-west-1') })), 'NotFoundException');
  });

  test('DescribeKey_alias_aws_s3_creates_the_managed_key', async () => {
    const first = (await kms.send(new DescribeKeyCommand({ KeyId: 'alias/aws/s3' }))).KeyMetadata!;
    assert.equal(first.KeyManager, 'AWS');
    assert.equal(first.KeyState, 'Enabled');
    assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: 'alias/aws/s3' }))).KeyMetadata?.KeyId, first.KeyId);
    const aliases = await kms.send(new ListAliasesCommand({ KeyId: first.KeyId }));
    assert.deepEqual(aliases.Aliases?.map((a) => a.AliasName), ['alias/aws/s3']);
    const rotation = await kms.send(new GetKeyRotationStatusCommand({ KeyId: first.KeyId }));
    assert.equal(rotation.KeyRotationEnabled, true, 'managed keys rotate yearly, as AWS rotates its managed keys');
    await rejectsWithSdkError(kms.send(new DisableKeyCommand({ KeyId: first.KeyId })), 'UnsupportedOperationException');
    await rejectsWithSdkError(kms.send(new ScheduleKeyDeletionCommand({ KeyId: first.KeyId, PendingWindowInDays: 7 })), 'UnsupportedOperationException');
    await rejectsWithSdkError(kms.send(new DeleteAliasCommand({ AliasName: 'alias/aws/s3' })), 'InvalidAliasNameException');
  });

  test('ListKeys_pages_with_limit_and_marker', async () => {
    for (let i = 0; i < 3; i++) await newKey(`list ${i}`);
    const all = new Set<string>();
    let marker: string | undefined;
    let pages = 0;
    do {
      const page = await kms.send(new ListKeysCommand({ Limit: 2, ...(marker ? { Marker: marker } : {}) }));
      assert.ok(page.Keys!.length <= 2);
      for (const k of page.Keys!) {
        assert.equal(k.KeyArn?.endsWith(`key/${k.KeyId}`), true);
        assert.ok(!all.has(k.KeyId!), 'pages do not overlap');
        all.add(k.KeyId!);
      }
      assert.equal(page.Truncated, page.NextMarker !== undefined);
      marker = page.NextMarker;
      pages++;
    } while (marker);
    assert.ok(pages >= 2);
    const unpaged = await kms.send(new ListKeysCommand({}));
    assert.equal(unpaged.Truncated, false);
    assert.deepEqual(new Set(unpaged.Keys!.map((k) => k.KeyId!)), all);
  });

  test('ListKeys_bad_marker_is_InvalidMarkerException', async () => {
    await rejectsWithSdkError(kms.send(new ListKeysCommand({ Marker: 'bm90LWEta2V5' })), 'InvalidMarkerException');
  });

  test('ListKeys_limit_out_of_range_is_ValidationException', async () => {
    await rejectsWithSdkError(kms.send(new ListKeysCommand({ Limit: 1001 })), 'ValidationException');
  });

  // ---- EnableKey / DisableKey

  test('DisableKey_then_use_is_DisabledException_and_EnableKey_restores', async () => {
    const m = await newKey();
    const enc = await kms.send(new EncryptCommand({ KeyId: m.KeyId, Plaintext: Buffer.from('before') }));
    await kms.send(new DisableKeyCommand({ KeyId: m.KeyId }));
    const d = (await kms.send(new DescribeKeyCommand({ KeyId: m.KeyId }))).KeyMetadata!;
    assert.equal(d.KeyState, 'Disabled');
    assert.equal(d.Enabled, false);
    await rejectsWithSdkError(kms.send(new EncryptCommand({ KeyId: m.KeyId, Plaintext: Buffer.from('x') })), 'DisabledException');
    await rejectsWithSdkError(kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob })), 'DisabledException');
    await rejectsWithSdkError(kms.send(new GenerateDataKeyCommand({ KeyId: m.KeyId, KeySpec: 'AES_256' })), 'DisabledException');
    await rejectsWithSdkError(kms.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: m.KeyId, KeySpec: 'AES_256' })), 'DisabledException');
    await kms.send(new DisableKeyCommand({ KeyId: m.KeyId })); // idempotent
    await kms.send(new EnableKeyCommand({ KeyId: m.Arn }));
    const back = keep(await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob })));
    assert.equal(Buffer.from(back.Plaintext!).toString(), 'before');
  });

  test('EnableKey_by_alias_is_NotFoundException', async () => {
    const m = await newKey();
    const alias = `alias/enable-${m.KeyId!.slice(0, 8)}`;
    await kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: m.KeyId }));
    // As in AWS KMS, key management operations take a key id or key ARN, not an alias.
    await rejectsWithSdkError(kms.send(new EnableKeyCommand({ KeyId: alias })), 'NotFoundException');
  });

  test('EnableKey_unknown_is_NotFoundException', async () => {
    await rejectsWithSdkError(kms.send(new EnableKeyCommand({ KeyId: '0e4e2b4b-7d8f-4c67-9f60-2b1c4b0c9a12' })), 'NotFoundException');
    await rejectsWithSdkError(kms.send(new DisableKeyCommand({ KeyId: '0e4e2b4b-7d8f-4c67-9f60-2b1c4b0c9a12' })), 'NotFoundException');
  });

  // ---- ScheduleKeyDeletion / CancelKeyDeletion

  test('ScheduleKeyDeletion_then_CancelKeyDeletion_leaves_the_key_disabled', async () => {
    const m = await newKey();
    const s = await kms.send(new ScheduleKeyDeletionCommand({ KeyId: m.KeyId, PendingWindowInDays: 7 }));
    assert.equal(s.KeyId, m.Arn);
    assert.equal(s.KeyState, 'PendingDeletion');
    assert.equal(s.PendingWindowInDays, 7);
    const sevenDays = 7 * 86_400_000;
    assert.ok(Math.abs(s.DeletionDate!.getTime() - (Date.now() + sevenDays)) < 60_000);
    const d = (await kms.send(new DescribeKeyCommand({ KeyId: m.KeyId }))).KeyMetadata!;
    assert.equal(d.KeyState, 'PendingDeletion');
    assert.equal(d.PendingDeletionWindowInDays, 7);
    assert.equal(d.DeletionDate?.getTime(), s.DeletionDate?.getTime());
    await rejectsWithSdkError(kms.send(new EncryptCommand({ KeyId: m.KeyId, Plaintext: Buffer.from('x') })), 'KMSInvalidStateException');
    await rejectsWithSdkError(kms.send(new EnableKeyCommand({ KeyId: m.KeyId })), 'KMSInvalidStateException');
    await rejectsWithSdkError(kms.send(new DisableKeyCommand({ KeyId: m.KeyId })), 'KMSInvalidStateException');
    await rejectsWithSdkError(kms.send(new ScheduleKeyDeletionCommand({ KeyId: m.KeyId, PendingWindowInDays: 7 })), 'KMSInvalidStateException');
    await rejectsWithSdkError(kms.send(new TagResourceCommand({ KeyId: m.KeyId, Tags: [{ TagKey: 'a', TagValue: 'b' }] })), 'KMSInvalidStateException');
    await rejectsWithSdkError(kms.send(new EnableKeyRotationCommand({ KeyId: m.KeyId })), 'KMSInvalidStateException');
    await rejectsWithSdkError(kms.send(new RotateKeyOnDemandCommand({ KeyId: m.KeyId })), 'KMSInvalidStateException');
    const c = await kms.send(new CancelKeyDeletionCommand({ KeyId: m.KeyId }));
    assert.equal(c.KeyId, m.Arn);
    const after = (await kms.send(new DescribeKeyCommand({ KeyId: m.KeyId }))).KeyMetadata!;
    assert.equal(after.KeyState, 'Disabled');
    assert.equal(after.DeletionDate, undefined);
  });

  test('ScheduleKeyDeletion_window_out_of_range_is_ValidationException', async () => {
    const m = await newKey();
    await rejectsWithSdkError(kms.send(new ScheduleKeyDeletionCommand({ KeyId: m.KeyId, PendingWindowInDays: 31 })), 'ValidationException');
    await rejectsWithSdkError(kms.send(new ScheduleKeyDeletionCommand({ KeyId: m.KeyId, PendingWindowInDays: -1 })), 'ValidationException');
    // Default window: 30 days.
    assert.equal((await kms.send(new ScheduleKeyDeletionCommand({ KeyId: m.KeyId }))).PendingWindowInDays, 30);
  });

  test('CancelKeyDeletion_not_pending_is_KMSInvalidStateException', async () => {
    const m = await newKey();
    await rejectsWithSdkError(kms.send(new CancelKeyDeletionCommand({ KeyId: m.KeyId })), 'KMSInvalidStateException');
  });

  test('ScheduleKeyDeletion_window_end_destroys_the_key_material', async () => {
    const m = await newKey('shred me');
    const alias = `alias/shred-${m.KeyId!.slice(0, 8)}`;
    await kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: m.KeyId }));
    const dk = keep(await kms.send(new GenerateDataKeyCommand({ KeyId: alias, KeySpec: 'AES_256', EncryptionContext: { obj: '1' } })));
    assert.deepEqual(
      Buffer.from(keep(await kms.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob, EncryptionContext: { obj: '1' } }))).Plaintext!),
      Buffer.from(dk.Plaintext!),
    );
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: m.KeyId, PendingWindowInDays: 0 }));
    for (let i = 0; i < 2; i++) {
      await rejectsWithSdkError(kms.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob, EncryptionContext: { obj: '1' } })), 'NotFoundException');
    }
    await rejectsWithSdkError(kms.send(new DescribeKeyCommand({ KeyId: m.KeyId })), 'NotFoundException');
    await rejectsWithSdkError(kms.send(new DescribeKeyCommand({ KeyId: alias })), 'NotFoundException');
    await rejectsWithSdkError(kms.send(new CancelKeyDeletionCommand({ KeyId: m.KeyId })), 'NotFoundException');
    const listed = await kms.send(new ListKeysCommand({}));
    assert.ok(!listed.Keys!.some((k) => k.KeyId === m.KeyId));
  });

  // ---- aliases

  test('CreateAlias_UpdateAlias_DeleteAlias_ListAliases', async () => {
    const a = await newKey();
    const b = await newKey();
    const name = `alias/app-${a.KeyId!.slice(0, 8)}`;
    await kms.send(new CreateAliasCommand({ AliasName: name, TargetKeyId: a.Arn }));
    let entry = (await kms.send(new ListAliasesCommand({ KeyId: a.KeyId }))).Aliases!;
    assert.equal(entry.length, 1);
    assert.equal(entry[0]!.AliasName, name);
    assert.equal(entry[0]!.AliasArn, `arn:aws:kms:us-east-1:${a.AWSAccountId}:${name}`);
    assert.equal(entry[0]!.TargetKeyId, a.KeyId);
    assert.ok(entry[0]!.CreationDate instanceof Date);
    const enc = await kms.send(new EncryptCommand({ KeyId: name, Plaintext: Buffer.from('via alias') }));
    assert.equal(enc.KeyId, a.Arn);
    await kms.send(new UpdateAliasCommand({ AliasName: name, TargetKeyId: b.KeyId }));
    assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: name }))).KeyMetadata?.KeyId, b.KeyId);
    assert.deepEqual((await kms.send(new ListAliasesCommand({ KeyId: a.KeyId }))).Aliases, []);
    entry = (await kms.send(new ListAliasesCommand({ KeyId: b.KeyId }))).Aliases!;
    assert.equal(entry[0]?.AliasName, name);
    // Old ciphertexts keep decrypting: they name their key, not the alias.
    assert.equal(Buffer.from(keep(await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }))).Plaintext!).toString(), 'via alias');
    await kms.send(new DeleteAliasCommand({ AliasName: name }));
    await rejectsWithSdkError(kms.send(new DescribeKeyCommand({ KeyId: name })), 'NotFoundException');
    await rejectsWithSdkError(kms.send(new DeleteAliasCommand({ AliasName: name })), 'NotFoundException');
  });

  test('ListAliases_pages_with_limit_and_marker', async () => {
    const k = await newKey();
    const names = [0, 1, 2].map((i) => `alias/page-${k.KeyId!.slice(0, 8)}-${i}`);
    for (const n of names) await kms.send(new CreateAliasCommand({ AliasName: n, TargetKeyId: k.KeyId }));
    const first = await kms.send(new ListAliasesCommand({ KeyId: k.KeyId, Limit: 2 }));
    assert.equal(first.Truncated, true);
    const second = await kms.send(new ListAliasesCommand({ KeyId: k.KeyId, Limit: 2, Marker: first.NextMarker }));
    assert.equal(second.Truncated, false);
    assert.deepEqual([...first.Aliases!, ...second.Aliases!].map((a) => a.AliasName), names);
    await rejectsWithSdkError(kms.send(new ListAliasesCommand({ Marker: '!!' })), 'InvalidMarkerException');
    await rejectsWithSdkError(kms.send(new ListAliasesCommand({ Limit: 101 })), 'ValidationException');
  });

  test('CreateAlias_existing_name_is_AlreadyExistsException', async () => {
    const k = await newKey();
    const name = `alias/dup-${k.KeyId!.slice(0, 8)}`;
    await kms.send(new CreateAliasCommand({ AliasName: name, TargetKeyId: k.KeyId }));
    await rejectsWithSdkError(kms.send(new CreateAliasCommand({ AliasName: name, TargetKeyId: k.KeyId })), 'AlreadyExistsException');
  });

  test('CreateAlias_reserved_or_unprefixed_name_is_InvalidAliasNameException', async () => {
    const k = await newKey();
    await rejectsWithSdkError(kms.send(new CreateAliasCommand({ AliasName: 'alias/aws/mine', TargetKeyId: k.KeyId })), 'InvalidAliasNameException');
    await rejectsWithSdkError(kms.send(new CreateAliasCommand({ AliasName: 'alias/aws/s3', TargetKeyId: k.KeyId })), 'InvalidAliasNameException');
    await rejectsWithSdkError(kms.send(new CreateAliasCommand({ AliasName: 'mine', TargetKeyId: k.KeyId })), 'InvalidAliasNameException');
    await rejectsWithSdkError(kms.send(new UpdateAliasCommand({ AliasName: 'alias/aws/s3', TargetKeyId: k.KeyId })), 'InvalidAliasNameException');
  });

  test('CreateAlias_invalid_characters_is_ValidationException', async () => {
    const k = await newKey();
    await rejectsWithSdkError(kms.send(new CreateAliasCommand({ AliasName: 'alias/with space', TargetKeyId: k.KeyId })), 'ValidationException');
  });

  test('CreateAlias_unknown_or_pending_deletion_target', async () => {
    await rejectsWithSdkError(
      kms.send(new CreateAliasCommand({ AliasName: 'alias/orphan', TargetKeyId: '0e4e2b4b-7d8f-4c67-9f60-2b1c4b0c9a13' })),
      'NotFoundException',
    );
    const k = await newKey();
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: k.KeyId, PendingWindowInDays: 7 }));
    await rejectsWithSdkError(kms.send(new CreateAliasCommand({ AliasName: `alias/late-${k.KeyId!.slice(0, 8)}`, TargetKeyId: k.KeyId })), 'KMSInvalidStateException');
  });

  test('UpdateAlias_unknown_alias_is_NotFoundException', async () => {
    const k = await newKey();
    await rejectsWithSdkError(kms.send(new UpdateAliasCommand({ AliasName: 'alias/never-made', TargetKeyId: k.KeyId })), 'NotFoundException');
  });

  // ---- rotation

  test('EnableKeyRotation_GetKeyRotationStatus_DisableKeyRotation', async () => {
    const k = await newKey();
    let s = await kms.send(new GetKeyRotationStatusCommand({ KeyId: k.KeyId }));
    assert.equal(s.KeyRotationEnabled, false);
    assert.equal(s.KeyId, k.Arn);
    assert.equal(s.NextRotationDate, undefined);
    await kms.send(new EnableKeyRotationCommand({ KeyId: k.KeyId, RotationPeriodInDays: 180 }));
    s = await kms.send(new GetKeyRotationStatusCommand({ KeyId: k.KeyId }));
    assert.equal(s.KeyRotationEnabled, true);
    assert.equal(s.RotationPeriodInDays, 180);
    assert.ok(Math.abs(s.NextRotationDate!.getTime() - (Date.now() + 180 * 86_400_000)) < 60_000);
    await kms.send(new EnableKeyRotationCommand({ KeyId: k.KeyId }));
    assert.equal((await kms.send(new GetKeyRotationStatusCommand({ KeyId: k.KeyId }))).RotationPeriodInDays, 365);
    await kms.send(new DisableKeyRotationCommand({ KeyId: k.KeyId }));
    s = await kms.send(new GetKeyRotationStatusCommand({ KeyId: k.KeyId }));
    assert.equal(s.KeyRotationEnabled, false);
    assert.equal(s.RotationPeriodInDays, undefined);
  });

  test('EnableKeyRotation_period_out_of_range_is_ValidationException', async () => {
    const k = await newKey();
    await rejectsWithSdkError(kms.send(new EnableKeyRotationCommand({ KeyId: k.KeyId, RotationPeriodInDays: 89 })), 'ValidationException');
    await rejectsWithSdkError(kms.send(new EnableKeyRotationCommand({ KeyId: k.KeyId, RotationPeriodInDays: 2561 })), 'ValidationException');
  });

  test('EnableKeyRotation_on_disabled_key_is_DisabledException', async () => {
    const k = await newKey();
    await kms.send(new DisableKeyCommand({ KeyId: k.KeyId }));
    await rejectsWithSdkError(kms.send(new EnableKeyRotationCommand({ KeyId: k.KeyId })), 'DisabledException');
    await rejectsWithSdkError(kms.send(new DisableKeyRotationCommand({ KeyId: k.KeyId })), 'DisabledException');
    await rejectsWithSdkError(kms.send(new RotateKeyOnDemandCommand({ KeyId: k.KeyId })), 'DisabledException');
  });

  test('RotateKeyOnDemand_old_and_new_ciphertexts_decrypt_and_ListKeyRotations', async () => {
    const k = await newKey();
    const before = await kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.from('old'), EncryptionContext: { v: '1' } }));
    assert.deepEqual((await kms.send(new ListKeyRotationsCommand({ KeyId: k.KeyId }))).Rotations, []);
    const r = await kms.send(new RotateKeyOnDemandCommand({ KeyId: k.Arn }));
    assert.equal(r.KeyId, k.KeyId);
    const afterEnc = await kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.from('new'), EncryptionContext: { v: '2' } }));
    assert.notDeepEqual(Buffer.from(afterEnc.CiphertextBlob!).subarray(17, 21), Buffer.from(before.CiphertextBlob!).subarray(17, 21), 'new material, new version');
    assert.equal(Buffer.from(keep(await kms.send(new DecryptCommand({ CiphertextBlob: before.CiphertextBlob, EncryptionContext: { v: '1' } }))).Plaintext!).toString(), 'old');
    assert.equal(Buffer.from(keep(await kms.send(new DecryptCommand({ CiphertextBlob: afterEnc.CiphertextBlob, EncryptionContext: { v: '2' } }))).Plaintext!).toString(), 'new');
    await kms.send(new RotateKeyOnDemandCommand({ KeyId: k.KeyId }));
    const rotations = await kms.send(new ListKeyRotationsCommand({ KeyId: k.KeyId }));
    assert.equal(rotations.Rotations!.length, 2);
    for (const rot of rotations.Rotations!) {
      assert.equal(rot.KeyId, k.KeyId);
      assert.equal(rot.RotationType, 'ON_DEMAND');
      assert.ok(rot.RotationDate instanceof Date);
      assert.match(rot.KeyMaterialId!, /^[0-9a-f]{64}$/);
    }
    const paged = await kms.send(new ListKeyRotationsCommand({ KeyId: k.KeyId, Limit: 1 }));
    assert.equal(paged.Truncated, true);
    const rest = await kms.send(new ListKeyRotationsCommand({ KeyId: k.KeyId, Limit: 1, Marker: paged.NextMarker }));
    assert.equal(rest.Truncated, false);
    assert.equal(rest.Rotations!.length, 1);
    await rejectsWithSdkError(kms.send(new ListKeyRotationsCommand({ KeyId: k.KeyId, Marker: 'eA' })), 'InvalidMarkerException');
  });

  test('RotateKeyOnDemand_beyond_ten_is_LimitExceededException', async () => {
    const k = await newKey();
    for (let i = 0; i < 10; i++) await kms.send(new RotateKeyOnDemandCommand({ KeyId: k.KeyId }));
    await rejectsWithSdkError(kms.send(new RotateKeyOnDemandCommand({ KeyId: k.KeyId })), 'LimitExceededException');
  });

  test('RotateKeyOnDemand_unknown_key_is_NotFoundException', async () => {
    await rejectsWithSdkError(kms.send(new RotateKeyOnDemandCommand({ KeyId: '0e4e2b4b-7d8f-4c67-9f60-2b1c4b0c9a14' })), 'NotFoundException');
    await rejectsWithSdkError(kms.send(new ListKeyRotationsCommand({ KeyId: '0e4e2b4b-7d8f-4c67-9f60-2b1c4b0c9a14' })), 'NotFoundException');
    await rejectsWithSdkError(kms.send(new GetKeyRotationStatusCommand({ KeyId: '0e4e2b4b-7d8f-4c67-9f60-2b1c4b0c9a14' })), 'NotFoundException');
  });

  // ---- Encrypt / Decrypt / ReEncrypt

  test('Encrypt_Decrypt_with_encryption_context', async () => {
    const k = await newKey();
    const enc = await kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.from('top secret'), EncryptionContext: { b: '2', a: '1' } }));
    assert.equal(enc.KeyId, k.Arn);
    assert.equal(enc.EncryptionAlgorithm, 'SYMMETRIC_DEFAULT');
    const dec = keep(await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { a: '1', b: '2' }, KeyId: k.KeyId })));
    assert.equal(Buffer.from(dec.Plaintext!).toString(), 'top secret');
    assert.equal(dec.KeyId, k.Arn);
    assert.equal(dec.EncryptionAlgorithm, 'SYMMETRIC_DEFAULT');
  });

  test('Decrypt_wrong_context_is_InvalidCiphertextException', async () => {
    const k = await newKey();
    const enc = await kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.from('x'), EncryptionContext: { a: '1' } }));
    await rejectsWithSdkError(kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { a: '2' } })), 'InvalidCiphertextException');
    await rejectsWithSdkError(kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob })), 'InvalidCiphertextException');
  });

  test('Decrypt_garbage_is_InvalidCiphertextException', async () => {
    await rejectsWithSdkError(kms.send(new DecryptCommand({ CiphertextBlob: Buffer.from('this is not a kms ciphertext blob at all, not even close to one') })), 'InvalidCiphertextException');
  });

  test('Decrypt_naming_another_key_is_IncorrectKeyException', async () => {
    const a = await newKey();
    const b = await newKey();
    const enc = await kms.send(new EncryptCommand({ KeyId: a.KeyId, Plaintext: Buffer.from('x') }));
    await rejectsWithSdkError(kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, KeyId: b.KeyId })), 'IncorrectKeyException');
  });

  test('Encrypt_plaintext_over_4096_bytes_is_ValidationException', async () => {
    const k = await newKey();
    await rejectsWithSdkError(kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.alloc(4097, 1) })), 'ValidationException');
    const max = await kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.alloc(4096, 1) }));
    assert.ok(max.CiphertextBlob!.length > 4096);
  });

  test('Encrypt_asymmetric_algorithm_is_InvalidKeyUsageException', async () => {
    const k = await newKey();
    await rejectsWithSdkError(
      kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.from('x'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' })),
      'InvalidKeyUsageException',
    );
  });

  test('Encrypt_unknown_key_is_NotFoundException', async () => {
    await rejectsWithSdkError(kms.send(new EncryptCommand({ KeyId: 'alias/none-such', Plaintext: Buffer.from('x') })), 'NotFoundException');
  });

  test('ReEncrypt_moves_a_ciphertext_to_another_key_and_context', async () => {
    const a = await newKey();
    const b = await newKey();
    const enc = await kms.send(new EncryptCommand({ KeyId: a.KeyId, Plaintext: Buffer.from('moving'), EncryptionContext: { from: 'a' } }));
    const re = await kms.send(
      new ReEncryptCommand({
        CiphertextBlob: enc.CiphertextBlob,
        SourceEncryptionContext: { from: 'a' },
        SourceKeyId: a.KeyId,
        DestinationKeyId: b.Arn,
        DestinationEncryptionContext: { to: 'b' },
      }),
    );
    assert.equal(re.SourceKeyId, a.Arn);
    assert.equal(re.KeyId, b.Arn);
    assert.equal(re.SourceEncryptionAlgorithm, 'SYMMETRIC_DEFAULT');
    assert.equal(re.DestinationEncryptionAlgorithm, 'SYMMETRIC_DEFAULT');
    const dec = keep(await kms.send(new DecryptCommand({ CiphertextBlob: re.CiphertextBlob, EncryptionContext: { to: 'b' } })));
    assert.equal(Buffer.from(dec.Plaintext!).toString(), 'moving');
    assert.equal(dec.KeyId, b.Arn);
  });

  test('ReEncrypt_errors', async () => {
    const a = await newKey();
    const b = await newKey();
    const enc = await kms.send(new EncryptCommand({ KeyId: a.KeyId, Plaintext: Buffer.from('x'), EncryptionContext: { k: 'v' } }));
    await rejectsWithSdkError(
      kms.send(new ReEncryptCommand({ CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: { k: 'other' }, DestinationKeyId: b.KeyId })),
      'InvalidCiphertextException',
    );
    await rejectsWithSdkError(
      kms.send(new ReEncryptCommand({ CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: { k: 'v' }, SourceKeyId: b.KeyId, DestinationKeyId: b.KeyId })),
      'IncorrectKeyException',
    );
    await kms.send(new DisableKeyCommand({ KeyId: b.KeyId }));
    await rejectsWithSdkError(
      kms.send(new ReEncryptCommand({ CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: { k: 'v' }, DestinationKeyId: b.KeyId })),
      'DisabledException',
    );
  });

  // ---- data keys and randomness

  test('GenerateDataKey_key_specs_and_number_of_bytes', async () => {
    const k = await newKey();
    const d256 = keep(await kms.send(new GenerateDataKeyCommand({ KeyId: k.KeyId, KeySpec: 'AES_256', EncryptionContext: { bucket: 'b' } })));
    assert.equal(d256.Plaintext!.length, 32);
    assert.equal(d256.KeyId, k.Arn);
    const back = keep(await kms.send(new DecryptCommand({ CiphertextBlob: d256.CiphertextBlob, EncryptionContext: { bucket: 'b' } })));
    assert.deepEqual(Buffer.from(back.Plaintext!), Buffer.from(d256.Plaintext!));
    assert.equal(keep(await kms.send(new GenerateDataKeyCommand({ KeyId: k.KeyId, KeySpec: 'AES_128' }))).Plaintext!.length, 16);
    assert.equal(keep(await kms.send(new GenerateDataKeyCommand({ KeyId: k.KeyId, NumberOfBytes: 1024 }))).Plaintext!.length, 1024);
    const viaManaged = keep(await kms.send(new GenerateDataKeyCommand({ KeyId: 'alias/aws/s3', KeySpec: 'AES_256' })));
    assert.equal(viaManaged.Plaintext!.length, 32);
  });

  test('GenerateDataKey_both_or_neither_size_is_ValidationException', async () => {
    const k = await newKey();
    await rejectsWithSdkError(kms.send(new GenerateDataKeyCommand({ KeyId: k.KeyId })), 'ValidationException');
    await rejectsWithSdkError(kms.send(new GenerateDataKeyCommand({ KeyId: k.KeyId, KeySpec: 'AES_256', NumberOfBytes: 32 })), 'ValidationException');
    await rejectsWithSdkError(kms.send(new GenerateDataKeyCommand({ KeyId: k.KeyId, NumberOfBytes: 1025 })), 'ValidationException');
  });

  test('GenerateDataKeyWithoutPlaintext_decrypts_later', async () => {
    const k = await newKey();
    const r = await kms.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: k.KeyId, KeySpec: 'AES_256', EncryptionContext: { later: 'yes' } }));
    assert.equal((r as { Plaintext?: unknown }).Plaintext, undefined);
    assert.equal(r.KeyId, k.Arn);
    const dec = keep(await kms.send(new DecryptCommand({ CiphertextBlob: r.CiphertextBlob, EncryptionContext: { later: 'yes' } })));
    assert.equal(dec.Plaintext!.length, 32);
  });

  test('GenerateRandom_sizes_and_out_of_range_is_ValidationException', async () => {
    const a = await kms.send(new GenerateRandomCommand({ NumberOfBytes: 64 }));
    const b = await kms.send(new GenerateRandomCommand({ NumberOfBytes: 64 }));
    assert.equal(a.Plaintext!.length, 64);
    assert.notDeepEqual(Buffer.from(a.Plaintext!), Buffer.from(b.Plaintext!));
    await rejectsWithSdkError(kms.send(new GenerateRandomCommand({ NumberOfBytes: 1025 })), 'ValidationException');
    await rejectsWithSdkError(kms.send(new GenerateRandomCommand({ NumberOfBytes: 0 })), 'ValidationException');
    await rejectsWithSdkError(kms.send(new GenerateRandomCommand({})), 'ValidationException');
  });

  // ---- tags

  test('TagResource_UntagResource_ListResourceTags', async () => {
    const k = await newKey('tagged', { Tags: [{ TagKey: 'a', TagValue: '1' }] });
    await kms.send(new TagResourceCommand({ KeyId: k.Arn, Tags: [{ TagKey: 'b', TagValue: '2' }, { TagKey: 'a', TagValue: 'one' }, { TagKey: 'c', TagValue: '' }] }));
    let tags = await kms.send(new ListResourceTagsCommand({ KeyId: k.KeyId }));
    assert.deepEqual(tags.Tags, [
      { TagKey: 'a', TagValue: 'one' },
      { TagKey: 'b', TagValue: '2' },
      { TagKey: 'c', TagValue: '' },
    ]);
    assert.equal(tags.Truncated, false);
    const first = await kms.send(new ListResourceTagsCommand({ KeyId: k.KeyId, Limit: 2 }));
    assert.equal(first.Truncated, true);
    const rest = await kms.send(new ListResourceTagsCommand({ KeyId: k.KeyId, Limit: 2, Marker: first.NextMarker }));
    assert.deepEqual(rest.Tags, [{ TagKey: 'c', TagValue: '' }]);
    await kms.send(new UntagResourceCommand({ KeyId: k.KeyId, TagKeys: ['a', 'c', 'not-there'] }));
    tags = await kms.send(new ListResourceTagsCommand({ KeyId: k.KeyId }));
    assert.deepEqual(tags.Tags, [{ TagKey: 'b', TagValue: '2' }]);
  });

  test('TagResource_reserved_or_oversized_is_TagException', async () => {
    const k = await newKey();
    await rejectsWithSdkError(kms.send(new TagResourceCommand({ KeyId: k.KeyId, Tags: [{ TagKey: 'aws:x', TagValue: 'y' }] })), 'TagException');
    await rejectsWithSdkError(kms.send(new TagResourceCommand({ KeyId: k.KeyId, Tags: [{ TagKey: 'k'.repeat(129), TagValue: 'y' }] })), 'TagException');
  });

  test('TagResource_over_50_tags_is_LimitExceededException', async () => {
    const k = await newKey();
    const tags = Array.from({ length: 51 }, (_, i) => ({ TagKey: `t${i}`, TagValue: 'v' }));
    await rejectsWithSdkError(kms.send(new TagResourceCommand({ KeyId: k.KeyId, Tags: tags })), 'LimitExceededException');
  });

  test('TagResource_unknown_key_is_NotFoundException', async () => {
    const id = '0e4e2b4b-7d8f-4c67-9f60-2b1c4b0c9a15';
    await rejectsWithSdkError(kms.send(new TagResourceCommand({ KeyId: id, Tags: [{ TagKey: 'a', TagValue: 'b' }] })), 'NotFoundException');
    await rejectsWithSdkError(kms.send(new UntagResourceCommand({ KeyId: id, TagKeys: ['a'] })), 'NotFoundException');
    await rejectsWithSdkError(kms.send(new ListResourceTagsCommand({ KeyId: id })), 'NotFoundException');
  });

  // ---- authentication and the wire format

  test('wrong_secret_is_InvalidSignatureException', async () => {
    const bad = kmsClient(server, { credentials: { accessKeyId: server.accessKeyId, secretAccessKey: 'not-the-secret-key' } });
    await rejectsWithSdkError(bad.send(new ListKeysCommand({})), 'InvalidSignatureException');
    bad.destroy();
  });

  test('unknown_access_key_is_UnrecognizedClientException', async () => {
    const bad = kmsClient(server, { credentials: { accessKeyId: 'AKIDNOTKNOWN', secretAccessKey: server.secretAccessKey } });
    await rejectsWithSdkError(bad.send(new ListKeysCommand({})), 'UnrecognizedClientException');
    bad.destroy();
  });

  test('unsigned_request_is_MissingAuthenticationTokenException', async () => {
    const r = await rawKmsRequest(server, 'TrentService.ListKeys', '{}', { sign: false });
    assert.equal(r.status, 403);
    assert.equal(r.contentType, 'application/x-amz-json-1.1');
    assert.equal(r.json.__type, 'MissingAuthenticationTokenException');
    assert.equal(typeof r.json.message, 'string');
  });

  test('request_signed_for_s3_is_IncompleteSignatureException', async () => {
    const r = await rawKmsRequest(server, 'TrentService.ListKeys', '{}', { service: 's3' });
    assert.equal(r.status, 403);
    assert.equal(r.json.__type, 'IncompleteSignatureException');
  });

  test('unknown_operation_is_UnknownOperationException', async () => {
    const r = await rawKmsRequest(server, 'TrentService.CreateGrant', '{}');
    assert.equal(r.status, 400);
    assert.equal(r.contentType, 'application/x-amz-json-1.1');
    assert.equal(r.json.__type, 'UnknownOperationException');
  });

  test('malformed_json_or_member_type_is_SerializationException', async () => {
    let r = await rawKmsRequest(server, 'TrentService.ListKeys', '{"Limit": ');
    assert.equal(r.status, 400);
    assert.equal(r.json.__type, 'SerializationException');
    r = await rawKmsRequest(server, 'TrentService.ListKeys', '{"Limit": "ten"}');
    assert.equal(r.status, 400);
    assert.equal(r.json.__type, 'SerializationException');
    r = await rawKmsRequest(server, 'TrentService.Encrypt', '{"KeyId": "alias/x", "Plaintext": "not base64!"}');
    assert.equal(r.json.__type, 'SerializationException');
  });

  test('body_not_matching_signed_x_amz_content_sha256_is_InvalidSignatureException', async () => {
    const other = createHash('sha256').update('{"Limit": 5}').digest('hex');
    const r = await rawKmsRequest(server, 'TrentService.ListKeys', '{}', { contentSha256: other });
    assert.equal(r.status, KMS_ERRORS.InvalidSignatureException);
    assert.equal(r.json.__type, 'InvalidSignatureException');
    const ok = await rawKmsRequest(server, 'TrentService.ListKeys', '{}', { contentSha256: createHash('sha256').update('{}').digest('hex') });
    assert.equal(ok.status, 200);
  });

  test('body_over_1_MiB_is_ValidationException', async () => {
    const r = await rawKmsRequest(server, 'TrentService.Encrypt', JSON.stringify({ KeyId: 'alias/x', Plaintext: 'A'.repeat(1024 * 1024 + 4) }));
    assert.equal(r.status, 400);
    assert.equal(r.json.__type, 'ValidationException');
  });

  test('missing_required_member_is_ValidationException', async () => {
    const r = await rawKmsRequest(server, 'TrentService.DescribeKey', '{}');
    assert.equal(r.status, 400);
    assert.equal(r.json.__type, 'ValidationException');
  });

  test('raw_request_round_trip_uses_base64_blobs_and_epoch_seconds', async () => {
    const created = await rawKmsRequest(server, 'TrentService.CreateKey', '{"Description":"raw"}');
    assert.equal(created.status, 200);
    const meta = created.json.KeyMetadata as Record<string, unknown>;
    assert.equal(typeof meta.CreationDate, 'number');
    assert.ok(Math.abs((meta.CreationDate as number) * 1000 - Date.now()) < 60_000, 'CreationDate is epoch seconds');
    const enc = await rawKmsRequest(server, 'TrentService.Encrypt', JSON.stringify({ KeyId: meta.KeyId, Plaintext: Buffer.from('raw!').toString('base64') }));
    assert.match(enc.json.CiphertextBlob as string, /^[A-Za-z0-9+/]+=*$/);
    const dec = await rawKmsRequest(server, 'TrentService.Decrypt', JSON.stringify({ CiphertextBlob: enc.json.CiphertextBlob }));
    assert.equal(Buffer.from(dec.json.Plaintext as string, 'base64').toString(), 'raw!');
  });

  test('s3_requests_still_work_on_the_same_listener', async () => {
    const res = await fetch(`${server.url}/`, { method: 'POST' });
    // Not a KMS request (no X-Amz-Target): the S3 pipeline answers, in XML.
    assert.match(res.headers.get('content-type') ?? '', /xml/);
    await res.text();
  });

  // ---- last: nothing sensitive at rest

  test('at_rest_database_and_logs_hold_no_plaintext_data_keys', async () => {
    assert.ok(secrets.length >= 10, 'the suite handed out data keys to look for');
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        if (statSync(p).isDirectory()) walk(p);
        else files.push(p);
      }
    };
    const search = (haystack: Buffer, where: string) => {
      for (const secret of secrets) {
        if (secret.length < 16) continue;
        for (const needle of [secret, Buffer.from(secret.toString('base64')), Buffer.from(secret.toString('hex'))]) {
          assert.equal(haystack.indexOf(needle), -1, `a plaintext data key is in ${where}`);
        }
      }
    };
    walk(server.dataDir);
    assert.ok(files.some((f) => f.endsWith('coffer.db')) && files.some((f) => f.endsWith('kms-audit.log')));
    for (const f of files) search(readFileSync(f), f);
    search(Buffer.from(server.output()), 'the server log');
    // Once more after a clean stop: the WAL is checkpointed into the database file.
    await server.stop();
    files.length = 0;
    walk(server.dataDir);
    for (const f of files) search(readFileSync(f), f);
    search(Buffer.from(server.output()), 'the server log');
  });
});
