/**
 * The built-in KMS's byte formats (kms-crypto.ts): golden vectors that must
 * keep decrypting after every change (ciphertext blobs handed to clients and
 * wrapped material in databases outlive any release), and the bindings that
 * make tampering fail.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  CIPHERTEXT_HEADER_SIZE,
  encodeEncryptionContext,
  keyMaterialId,
  openCiphertext,
  parseCiphertextHeader,
  sealCiphertext,
  unwrapMaterial,
  wrapMaterial,
} from '../../src/kms/kms-crypto.js';

const KEY_ID = '1234abcd-12ab-4cd5-96ef-1234567890ab';
const MATERIAL = Buffer.alloc(32, 0x42);
const ROOT = Buffer.alloc(32, 0x07);
const CONTEXT = { 'aws:s3:arn': 'arn:aws:s3:::bucket/key', b: '2' };

// Made once by sealCiphertext / wrapMaterial (format version 1). DO NOT regenerate: they must keep opening.
const GOLDEN_BLOB = Buffer.from(
  '011234abcd12ab4cd596ef1234567890ab0000000330656d34b8a2060ee8227b90e40d0c368e3947b10ffadf1fff04a9c581ed374d3cf68905812179c97844ce2b2dda9c797ab1a82188101427362d00c91da0dea5e0247d79',
  'hex',
);
const GOLDEN_WRAPPED = Buffer.from(
  '34f5215869fef5abd9cf2e021be07820ad096d1b25b0c6abbbcac0a8e60d4ab5894391c566c3929ce329c2fa1cbf554f74e8d344a0d827ec6e5d77d8',
  'hex',
);

describe('kms crypto formats', () => {
  test('golden_ciphertext_blob_v1_still_decrypts', () => {
    assert.deepEqual(parseCiphertextHeader(GOLDEN_BLOB), { keyId: KEY_ID, version: 3 });
    assert.equal(openCiphertext(GOLDEN_BLOB, MATERIAL, { b: '2', 'aws:s3:arn': 'arn:aws:s3:::bucket/key' })?.toString(), 'coffer kms golden vector');
  });

  test('golden_wrapped_material_v1_still_unwraps', () => {
    assert.deepEqual(unwrapMaterial(ROOT, KEY_ID, 3, GOLDEN_WRAPPED), MATERIAL);
  });

  test('encryption_context_encoding_is_canonical', () => {
    assert.equal(encodeEncryptionContext({ b: '2', a: '1' }).toString('hex'), '000000020000000161000000013100000001620000000132');
    assert.deepEqual(encodeEncryptionContext({ a: '1', b: '2' }), encodeEncryptionContext({ b: '2', a: '1' }));
    assert.deepEqual(encodeEncryptionContext(undefined), encodeEncryptionContext({}));
    // Length prefixes: moving bytes between key and value changes the encoding.
    assert.notDeepEqual(encodeEncryptionContext({ ab: 'c' }), encodeEncryptionContext({ a: 'bc' }));
  });

  test('wrong_context_tampered_header_or_body_does_not_open', () => {
    const blob = sealCiphertext({ keyId: KEY_ID, version: 1, material: MATERIAL, plaintext: Buffer.from('data key'), context: CONTEXT });
    assert.equal(openCiphertext(blob, MATERIAL, CONTEXT)?.toString(), 'data key');
    assert.equal(openCiphertext(blob, MATERIAL, { ...CONTEXT, b: '3' }), undefined);
    assert.equal(openCiphertext(blob, MATERIAL, undefined), undefined);
    assert.equal(openCiphertext(blob, Buffer.alloc(32, 0x43), CONTEXT), undefined);
    for (const i of [0, 5, 18, 30, 45, CIPHERTEXT_HEADER_SIZE + 1, blob.length - 1]) {
      const t = Buffer.from(blob);
      t[i]! ^= 0x01;
      assert.equal(openCiphertext(t, MATERIAL, CONTEXT), undefined, `byte ${i} flipped`);
    }
    assert.equal(parseCiphertextHeader(blob.subarray(0, 40)), undefined);
    assert.equal(parseCiphertextHeader(Buffer.concat([Buffer.from([2]), blob.subarray(1)])), undefined, 'unknown format version');
  });

  test('each_ciphertext_is_unique', () => {
    const a = sealCiphertext({ keyId: KEY_ID, version: 1, material: MATERIAL, plaintext: Buffer.from('same'), context: undefined });
    const b = sealCiphertext({ keyId: KEY_ID, version: 1, material: MATERIAL, plaintext: Buffer.from('same'), context: undefined });
    assert.notDeepEqual(a, b);
  });

  test('wrapped_material_is_bound_to_its_key_id_and_version', () => {
    const wrapped = wrapMaterial(ROOT, KEY_ID, 1, MATERIAL);
    assert.equal(wrapped.length, 12 + 32 + 16);
    assert.ok(!wrapped.includes(MATERIAL.subarray(0, 8)));
    assert.deepEqual(unwrapMaterial(ROOT, KEY_ID, 1, wrapped), MATERIAL);
    assert.throws(() => unwrapMaterial(ROOT, KEY_ID, 2, wrapped));
    assert.throws(() => unwrapMaterial(ROOT, '1234abcd-12ab-4cd5-96ef-1234567890ac', 1, wrapped));
    assert.throws(() => unwrapMaterial(Buffer.alloc(32, 8), KEY_ID, 1, wrapped));
  });

  test('key_material_id_is_64_hex_and_per_version', () => {
    assert.match(keyMaterialId(KEY_ID, 1), /^[0-9a-f]{64}$/);
    assert.notEqual(keyMaterialId(KEY_ID, 1), keyMaterialId(KEY_ID, 2));
  });
});
