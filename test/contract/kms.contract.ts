/**
 * The Kms contract — what server-side encryption relies on — run against
 * every implementation: the built-in KMS in-process (kms-builtin.test.ts) and
 * RemoteKms talking to a second Coffer process acting as the KMS
 * (kms-remote.test.ts). Key management that the Kms interface does not cover
 * (create, alias, disable, schedule deletion) goes through each factory's admin.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { KMS_ERRORS, isKmsError, type KmsErrorType } from '../../src/kms/kms-errors.js';
import type { Kms, KmsCaller } from '../../src/kms/kms.js';

export interface KmsAdmin {
  /** Creates a customer key; returns its key id. */
  createKey(description: string): Promise<string>;
  createAlias(aliasName: string, keyId: string): Promise<void>;
  disableKey(keyId: string): Promise<void>;
  enableKey(keyId: string): Promise<void>;
  /** The KMS under test accepts a 0-day window (a test knob), so deletion happens at the next access. */
  scheduleKeyDeletion(keyId: string, days: number): Promise<void>;
}

export interface KmsUnderTest {
  kms: Kms;
  admin: KmsAdmin;
  close(): Promise<void>;
}

export interface KmsFactory {
  name: string;
  create(): Promise<KmsUnderTest>;
}

export async function rejectsWithKmsError(p: Promise<unknown>, type: KmsErrorType): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isKmsError(err), `expected a KmsError, got ${String(err)}`);
    assert.equal(err.type, type, err.message);
    assert.equal(err.status, KMS_ERRORS[type]);
    return true;
  });
}

const caller: KmsCaller = { principal: 'coffer:contract-test', requestId: 'CONTRACT' };

export function kmsContract(factory: KmsFactory): void {
  describe(`Kms contract: ${factory.name}`, () => {
    let under: KmsUnderTest;
    let kms: Kms;
    let keyId: string;
    before(async () => {
      under = await factory.create();
      kms = under.kms;
      keyId = await under.admin.createKey('contract key');
    });
    after(async () => {
      await under?.close();
    });

    test('describe_key_by_id_arn_alias_and_alias_arn', async () => {
      const byId = await kms.describeKey(keyId, caller);
      assert.equal(byId.keyId, keyId);
      assert.match(byId.arn, new RegExp(`^arn:aws:kms:[a-z0-9-]+:\\d{12}:key/${keyId}$`));
      assert.equal(byId.awsAccountId, byId.arn.split(':')[4]);
      assert.equal(byId.keyState, 'Enabled');
      assert.equal(byId.enabled, true);
      assert.equal(byId.keyManager, 'CUSTOMER');
      assert.equal(byId.keySpec, 'SYMMETRIC_DEFAULT');
      assert.equal(byId.keyUsage, 'ENCRYPT_DECRYPT');
      assert.equal(byId.description, 'contract key');
      assert.equal((await kms.describeKey(byId.arn, caller)).keyId, keyId);
      const alias = `alias/contract-${keyId.slice(0, 8)}`;
      await under.admin.createAlias(alias, keyId);
      assert.equal((await kms.describeKey(alias, caller)).keyId, keyId);
      const aliasArn = byId.arn.replace(/key\/.*$/, alias);
      assert.equal((await kms.describeKey(aliasArn, caller)).keyId, keyId);
    });

    test('describe_key_unknown_is_NotFoundException', async () => {
      await rejectsWithKmsError(kms.describeKey('11111111-2222-4333-8444-555555555555', caller), 'NotFoundException');
      await rejectsWithKmsError(kms.describeKey('alias/contract-does-not-exist', caller), 'NotFoundException');
      await rejectsWithKmsError(kms.describeKey('not-a-key', caller), 'NotFoundException');
    });

    test('managed_s3_key_is_created_once_and_is_aws_managed', async () => {
      const first = await kms.managedS3Key(caller);
      const second = await kms.managedS3Key(caller);
      assert.equal(first.keyId, second.keyId);
      assert.equal(first.keyManager, 'AWS');
      assert.equal(first.keyState, 'Enabled');
      assert.equal((await kms.describeKey('alias/aws/s3', caller)).keyId, first.keyId);
      const dk = await kms.generateDataKey({ keyId: 'alias/aws/s3', keySpec: 'AES_256' }, caller);
      assert.equal(dk.keyId, first.arn);
    });

    test('s3_service_key_is_its_own_aws_managed_key_created_once', async () => {
      const first = await kms.s3ServiceKey(caller);
      const second = await kms.s3ServiceKey(caller);
      assert.equal(first.keyId, second.keyId);
      assert.equal(first.keyManager, 'AWS');
      assert.notEqual(first.keyId, (await kms.managedS3Key(caller)).keyId, 'SSE-S3 and the aws/s3 SSE-KMS default use different keys');
      const sealed = await kms.encrypt({ keyId: first.arn, plaintext: Buffer.alloc(32, 9), encryptionContext: { 'aws:s3:arn': 'arn:aws:s3:::b/k' } }, caller);
      assert.deepEqual((await kms.decrypt({ ciphertextBlob: sealed.ciphertextBlob, encryptionContext: { 'aws:s3:arn': 'arn:aws:s3:::b/k' } }, caller)).plaintext, Buffer.alloc(32, 9));
    });

    test('generate_data_key_then_decrypt_round_trip', async () => {
      const context = { 'aws:s3:arn': 'arn:aws:s3:::bucket/key', purpose: 'contract' };
      const dk = await kms.generateDataKey({ keyId, keySpec: 'AES_256', encryptionContext: context }, caller);
      assert.equal(dk.plaintext.length, 32);
      assert.match(dk.keyId, new RegExp(`key/${keyId}$`));
      assert.ok(!dk.ciphertextBlob.includes(dk.plaintext), 'the ciphertext does not contain the data key');
      // Decrypt needs no key id: the blob names its key. Context order does not matter.
      const back = await kms.decrypt({ ciphertextBlob: dk.ciphertextBlob, encryptionContext: { purpose: 'contract', 'aws:s3:arn': 'arn:aws:s3:::bucket/key' } }, caller);
      assert.deepEqual(back.plaintext, dk.plaintext);
      assert.equal(back.keyId, dk.keyId);
      assert.equal(back.encryptionAlgorithm, 'SYMMETRIC_DEFAULT');
      assert.equal((await kms.generateDataKey({ keyId, keySpec: 'AES_128' }, caller)).plaintext.length, 16);
      assert.equal((await kms.generateDataKey({ keyId, numberOfBytes: 64 }, caller)).plaintext.length, 64);
    });

    test('generate_data_key_without_size_is_ValidationException', async () => {
      await rejectsWithKmsError(kms.generateDataKey({ keyId }, caller), 'ValidationException');
      await rejectsWithKmsError(kms.generateDataKey({ keyId, numberOfBytes: 2000 }, caller), 'ValidationException');
    });

    test('encrypt_decrypt_round_trip_with_context', async () => {
      const plaintext = Buffer.from('a secret of four kilobytes or less');
      const enc = await kms.encrypt({ keyId, plaintext, encryptionContext: { a: '1' } }, caller);
      assert.equal(enc.encryptionAlgorithm, 'SYMMETRIC_DEFAULT');
      const dec = await kms.decrypt({ ciphertextBlob: enc.ciphertextBlob, encryptionContext: { a: '1' }, keyId }, caller);
      assert.deepEqual(dec.plaintext, plaintext);
    });

    test('decrypt_with_wrong_or_missing_context_is_InvalidCiphertextException', async () => {
      const enc = await kms.encrypt({ keyId, plaintext: Buffer.from('x'), encryptionContext: { a: '1' } }, caller);
      await rejectsWithKmsError(kms.decrypt({ ciphertextBlob: enc.ciphertextBlob, encryptionContext: { a: '2' } }, caller), 'InvalidCiphertextException');
      await rejectsWithKmsError(kms.decrypt({ ciphertextBlob: enc.ciphertextBlob }, caller), 'InvalidCiphertextException');
      await rejectsWithKmsError(
        kms.decrypt({ ciphertextBlob: enc.ciphertextBlob, encryptionContext: { a: '1', b: '2' } }, caller),
        'InvalidCiphertextException',
      );
    });

    test('decrypt_tampered_or_garbage_is_InvalidCiphertextException', async () => {
      const enc = await kms.encrypt({ keyId, plaintext: Buffer.from('tamper me') }, caller);
      const tampered = Buffer.from(enc.ciphertextBlob);
      tampered[tampered.length - 1]! ^= 1;
      await rejectsWithKmsError(kms.decrypt({ ciphertextBlob: tampered }, caller), 'InvalidCiphertextException');
      await rejectsWithKmsError(kms.decrypt({ ciphertextBlob: Buffer.from('definitely not a ciphertext blob from any kms') }, caller), 'InvalidCiphertextException');
    });

    test('decrypt_naming_another_key_is_IncorrectKeyException', async () => {
      const other = await under.admin.createKey('another');
      const enc = await kms.encrypt({ keyId, plaintext: Buffer.from('x') }, caller);
      await rejectsWithKmsError(kms.decrypt({ ciphertextBlob: enc.ciphertextBlob, keyId: other }, caller), 'IncorrectKeyException');
    });

    test('disabled_key_is_DisabledException_until_enabled', async () => {
      const k = await under.admin.createKey('to disable');
      const enc = await kms.encrypt({ keyId: k, plaintext: Buffer.from('x') }, caller);
      await under.admin.disableKey(k);
      assert.equal((await kms.describeKey(k, caller)).keyState, 'Disabled');
      await rejectsWithKmsError(kms.encrypt({ keyId: k, plaintext: Buffer.from('x') }, caller), 'DisabledException');
      await rejectsWithKmsError(kms.generateDataKey({ keyId: k, keySpec: 'AES_256' }, caller), 'DisabledException');
      await rejectsWithKmsError(kms.decrypt({ ciphertextBlob: enc.ciphertextBlob }, caller), 'DisabledException');
      await under.admin.enableKey(k);
      assert.deepEqual((await kms.decrypt({ ciphertextBlob: enc.ciphertextBlob }, caller)).plaintext, Buffer.from('x'));
    });

    test('pending_deletion_is_KMSInvalidStateException', async () => {
      const k = await under.admin.createKey('pending deletion');
      const enc = await kms.encrypt({ keyId: k, plaintext: Buffer.from('x') }, caller);
      await under.admin.scheduleKeyDeletion(k, 7);
      const m = await kms.describeKey(k, caller);
      assert.equal(m.keyState, 'PendingDeletion');
      assert.ok(m.deletionDate instanceof Date && m.deletionDate.getTime() > Date.now());
      await rejectsWithKmsError(kms.encrypt({ keyId: k, plaintext: Buffer.from('x') }, caller), 'KMSInvalidStateException');
      await rejectsWithKmsError(kms.generateDataKey({ keyId: k, keySpec: 'AES_256' }, caller), 'KMSInvalidStateException');
      await rejectsWithKmsError(kms.decrypt({ ciphertextBlob: enc.ciphertextBlob }, caller), 'KMSInvalidStateException');
    });

    test('deleted_key_ciphertexts_never_decrypt_again', async () => {
      const k = await under.admin.createKey('to shred');
      const dk = await kms.generateDataKey({ keyId: k, keySpec: 'AES_256' }, caller);
      await under.admin.scheduleKeyDeletion(k, 0);
      // The window has ended: the first access destroys the material, and it stays gone.
      await rejectsWithKmsError(kms.decrypt({ ciphertextBlob: dk.ciphertextBlob }, caller), 'NotFoundException');
      await rejectsWithKmsError(kms.decrypt({ ciphertextBlob: dk.ciphertextBlob }, caller), 'NotFoundException');
      await rejectsWithKmsError(kms.describeKey(k, caller), 'NotFoundException');
    });
  });
}
