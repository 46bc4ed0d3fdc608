/**
 * The built-in KMS's two byte formats — FROZEN once released, like the blob
 * format: ciphertext blobs handed to clients outlive any code change.
 *
 * Wrapped key material (stored in the metadata, never the raw material):
 *   wrapped = nonce (12 random bytes) ‖ AES-256-GCM(root key, nonce, aad, material) ‖ tag (16)
 *   aad     = "coffer/kms/material/v1" ‖ 0x00 ‖ key id (UTF-8) ‖ 0x00 ‖ version (u32 BE)
 * Binding key id and version stops a row's material being swapped into another key or version.
 *
 * Ciphertext blob (what Encrypt / GenerateDataKey return; self-describing, so Decrypt needs no key id):
 *   header = 0x01 (format version) ‖ key id (16 bytes, the UUID) ‖ key version (u32 BE)
 *            ‖ salt (16 random bytes) ‖ nonce (12 random bytes)                 49 bytes
 *   key    = HKDF-SHA256(ikm = key material, salt = salt, info = "coffer/kms/ciphertext/v1" ‖ header[0..21))
 *   blob   = header ‖ AES-256-GCM(key, nonce, aad = header ‖ EC, plaintext) ‖ tag (16)
 *   EC     = the encryption context, canonical: count (u32 BE), then for each pair sorted by
 *            key (UTF-8 bytes): key length (u32 BE) ‖ key ‖ value length (u32 BE) ‖ value
 * Why a key per ciphertext: a KMS key may encrypt billions of data keys (one per object);
 * random 96-bit GCM nonces under one key are capped at 2^32 messages (NIST SP 800-38D),
 * while a fresh HKDF salt per message gives each message its own key. The header is in the
 * AAD, so the key id and version cannot be altered; the context is, so it must match.
 * GCM's tag check (OpenSSL, constant time) is the only comparison of secret-derived bytes.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import type { EncryptionContext } from './kms.js';

export const CIPHERTEXT_VERSION = 1;
export const CIPHERTEXT_HEADER_SIZE = 49;
const TAG_SIZE = 16;
const NONCE_SIZE = 12;
const SALT_SIZE = 16;
export const MATERIAL_SIZE = 32;
const MATERIAL_AAD_PREFIX = Buffer.from('coffer/kms/material/v1', 'latin1');
const CIPHERTEXT_INFO = Buffer.from('coffer/kms/ciphertext/v1', 'latin1');

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isKeyId(s: string): boolean {
  return UUID.test(s);
}

function uuidToBytes(id: string): Buffer {
  if (!isKeyId(id)) throw new Error('not a key id');
  return Buffer.from(id.replace(/-/g, ''), 'hex');
}

function bytesToUuid(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function materialAad(keyId: string, version: number): Buffer {
  return Buffer.concat([MATERIAL_AAD_PREFIX, Buffer.from([0]), Buffer.from(keyId, 'utf8'), Buffer.from([0]), u32(version)]);
}

/** Wraps fresh key material under a root key. */
export function wrapMaterial(rootKey: Buffer, keyId: string, version: number, material: Buffer): Buffer {
  const nonce = randomBytes(NONCE_SIZE);
  const cipher = createCipheriv('aes-256-gcm', rootKey, nonce);
  cipher.setAAD(materialAad(keyId, version));
  const ct = Buffer.concat([cipher.update(material), cipher.final()]);
  return Buffer.concat([nonce, ct, cipher.getAuthTag()]);
}

/** Unwraps key material; throws if the root key is wrong or the row was altered or moved. */
export function unwrapMaterial(rootKey: Buffer, keyId: string, version: number, wrapped: Buffer): Buffer {
  if (wrapped.length !== NONCE_SIZE + MATERIAL_SIZE + TAG_SIZE) throw new Error('wrapped key material has the wrong length');
  const decipher = createDecipheriv('aes-256-gcm', rootKey, wrapped.subarray(0, NONCE_SIZE));
  decipher.setAAD(materialAad(keyId, version));
  decipher.setAuthTag(wrapped.subarray(wrapped.length - TAG_SIZE));
  return Buffer.concat([decipher.update(wrapped.subarray(NONCE_SIZE, wrapped.length - TAG_SIZE)), decipher.final()]);
}

/** The canonical encoding of an encryption context (order of entries does not matter). */
export function encodeEncryptionContext(context: EncryptionContext | undefined): Buffer {
  const entries = Object.entries(context ?? {}).map(([k, v]) => [Buffer.from(k, 'utf8'), Buffer.from(v, 'utf8')] as const);
  entries.sort((a, b) => Buffer.compare(a[0], b[0]));
  const parts: Buffer[] = [u32(entries.length)];
  for (const [k, v] of entries) parts.push(u32(k.length), k, u32(v.length), v);
  return Buffer.concat(parts);
}

export interface CiphertextHeader {
  keyId: string;
  version: number;
}

function messageKey(material: Buffer, header: Buffer): Buffer {
  const salt = header.subarray(21, 37);
  return Buffer.from(hkdfSync('sha256', material, salt, Buffer.concat([CIPHERTEXT_INFO, header.subarray(0, 21)]), 32));
}

/** Encrypts under one version of a KMS key. */
export function sealCiphertext(input: { keyId: string; version: number; material: Buffer; plaintext: Buffer; context: EncryptionContext | undefined }): Buffer {
  const header = Buffer.concat([Buffer.from([CIPHERTEXT_VERSION]), uuidToBytes(input.keyId), u32(input.version), randomBytes(SALT_SIZE), randomBytes(NONCE_SIZE)]);
  const key = messageKey(input.material, header);
  try {
    const cipher = createCipheriv('aes-256-gcm', key, header.subarray(37, 49));
    cipher.setAAD(Buffer.concat([header, encodeEncryptionContext(input.context)]));
    const ct = Buffer.concat([cipher.update(input.plaintext), cipher.final()]);
    return Buffer.concat([header, ct, cipher.getAuthTag()]);
  } finally {
    key.fill(0);
  }
}

/** Reads a blob's key id and version; undefined when it is not a Coffer ciphertext. */
export function parseCiphertextHeader(blob: Buffer): CiphertextHeader | undefined {
  if (blob.length < CIPHERTEXT_HEADER_SIZE + TAG_SIZE || blob[0] !== CIPHERTEXT_VERSION) return undefined;
  return { keyId: bytesToUuid(blob.subarray(1, 17)), version: blob.readUInt32BE(17) };
}

/** Decrypts a blob whose header was parsed; undefined when it does not authenticate (wrong context, tampered). */
export function openCiphertext(blob: Buffer, material: Buffer, context: EncryptionContext | undefined): Buffer | undefined {
  const header = blob.subarray(0, CIPHERTEXT_HEADER_SIZE);
  const key = messageKey(material, header);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, header.subarray(37, 49));
    decipher.setAAD(Buffer.concat([header, encodeEncryptionContext(context)]));
    decipher.setAuthTag(blob.subarray(blob.length - TAG_SIZE));
    return Buffer.concat([decipher.update(blob.subarray(CIPHERTEXT_HEADER_SIZE, blob.length - TAG_SIZE)), decipher.final()]);
  } catch {
    return undefined;
  } finally {
    key.fill(0);
  }
}

/** KMS's KeyMaterialId: names one version's material (64 hex), derived from id and version only. */
export function keyMaterialId(keyId: string, version: number): string {
  return createHash('sha256').update(`coffer/kms/key-material-id:${keyId}:${version}`).digest('hex');
}
