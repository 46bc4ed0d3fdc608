/**
 * Coffer's encrypted blob format — FROZEN: every byte below is read back by
 * objects already at rest. docs/encryption.md specifies it and
 * test/unit/blob-format.test.ts holds golden vectors that must keep decrypting.
 * Version 2 is written; version 1 (blobs written before it) is only read.
 *
 *   blob    = header ‖ package_0 ‖ … ‖ package_{n-1}
 *   header  = "CFBL" ‖ version (1 byte, 1 or 2) ‖ layers (1 byte, 1 or 2) ‖ 0x0000
 *             ‖ package size (u32 BE, = 65536) ‖ part number (u32 BE, 0 = single PUT)
 *             ‖ salt (32 random bytes)                                   48 bytes
 *   n       = max(1, ceil(plaintext size / package size)); package i holds
 *             plaintext bytes [i·P, min((i+1)·P, size)) — the last may be short,
 *             and an empty object is one empty final package
 *   key_L   = HKDF-SHA256(ikm = data key of layer L, salt = header.salt, info =
 *               v1: "coffer/blob/v1" ‖ layer L (1 byte) ‖ header[0..16)
 *               v2: "coffer/blob/v2" ‖ layer L (1 byte) ‖ header[0..16) ‖ binding (32 bytes))
 *   binding = SHA-256(identity), v2 only; identity = bucket ‖ key ‖ object id ‖ version id,
 *             each a u16 BE byte length and the UTF-8 bytes (version id empty for now)
 *   nonce_i = 0x00000000 ‖ i (u64 BE)
 *   aad_i   = header ‖ i (u64 BE) ‖ final (1 byte: 1 for the last package, else 0)
 *   package = AES-256-GCM(key_1, nonce_i, aad_i, plaintext_i)  → ciphertext ‖ 16-byte tag
 *             (layers = 2, DSSE: then AES-256-GCM(key_2, nonce_i, aad_i, that) again)
 *
 * Why: the random salt makes every blob's keys unique, so a nonce can be the
 * package index without ever repeating under one key (re-uploading a part
 * makes a new salt). The header (version, layers, part number, salt) is in
 * every package's AAD, so it cannot be altered; the index stops reordering
 * and swapping; the final flag stops truncation at a package boundary and
 * extension; the part number stops swapping the parts of one object.
 *
 * Version 2 adds the binding: a blob decrypts only as the object it was
 * written for. Without it, whoever can edit the metadata store (but holds no
 * key) could swap two objects' rows, or copy one's row over another's, and a
 * GET of key A would answer B's plaintext — the data key travels with the row.
 * The bucket and key come from where the row is found, never from its
 * document; the object id (random per write; a multipart upload's id) and a
 * future version id tell apart the writes of one key. The binding is in the
 * key derivation, as Tink's AES-GCM-HKDF streaming AEAD does with its
 * associated data: it costs one hash per blob and nothing per package, and a
 * wrong identity yields unrelated keys, so the first package already fails.
 * The version byte is in the HKDF info too, so a v2 blob cannot be read as v1
 * (which binds nothing).
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';

export const MAGIC = Buffer.from('CFBL', 'latin1');
/** The version new blobs are written in. */
export const FORMAT_VERSION = 2;
export type FormatVersion = 1 | 2;
/** Plaintext bytes per package. DO NOT CHANGE: part of format versions 1 and 2. */
export const PACKAGE_SIZE = 64 * 1024;
export const HEADER_SIZE = 48;
export const TAG_SIZE = 16;
const SALT_SIZE = 32;
const BINDING_SIZE = 32;
const INFO: Record<FormatVersion, Buffer> = { 1: Buffer.from('coffer/blob/v1', 'latin1'), 2: Buffer.from('coffer/blob/v2', 'latin1') };

export class BlobIntegrityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BlobIntegrityError';
  }
}

/**
 * The object a version-2 blob belongs to. Bucket and key are the ones a request
 * named (the metadata row's key, never a value read from its document).
 */
export interface ObjectIdentity {
  bucket: string;
  key: string;
  /** Random per write (PutObject, CopyObject); a multipart object's upload id. */
  objectId: string;
  /** Reserved for object versioning: empty (or absent) until versions exist. */
  versionId?: string;
}

/** The header's fields: what `parseHeader` recovers from the bytes on disk. */
export interface BlobHeader {
  version: FormatVersion;
  /** 1 = one AES-GCM layer; 2 = DSSE (two independent layers). */
  layers: 1 | 2;
  /** 0 for a single PUT; the part number for a multipart part. */
  partNumber: number;
  /** The header's salt. */
  salt: Buffer;
}

/**
 * What a reader needs besides the data keys; stored in metadata beside the
 * blob id. Version 2 also needs the binding of the object's identity, which is
 * not on disk: the reader computes it from the object it was asked for.
 */
export type BlobCipherParams = (BlobHeader & { version: 1 }) | (BlobHeader & { version: 2; binding: Buffer });

/**
 * SHA-256 of the identity, each field length-prefixed so that no two
 * identities encode alike ("a/b" + "c" is not "a" + "b/c").
 */
export function identityBinding(id: ObjectIdentity): Buffer {
  const fields = [id.bucket, id.key, id.objectId, id.versionId ?? ''].map((v) => Buffer.from(v, 'utf8'));
  const encoded = Buffer.allocUnsafe(fields.reduce((n, f) => n + 2 + f.length, 0));
  let at = 0;
  for (const f of fields) {
    if (f.length > 0xffff) throw new Error('identity field longer than 65535 bytes');
    at = encoded.writeUInt16BE(f.length, at);
    at += f.copy(encoded, at);
  }
  return createHash('sha256').update(encoded).digest();
}

export function buildHeader(p: BlobHeader): Buffer {
  const h = Buffer.alloc(HEADER_SIZE);
  MAGIC.copy(h, 0);
  h[4] = p.version;
  h[5] = p.layers;
  h.writeUInt32BE(PACKAGE_SIZE, 8);
  h.writeUInt32BE(p.partNumber, 12);
  p.salt.copy(h, 16);
  return h;
}

export function parseHeader(h: Buffer): BlobHeader {
  if (h.length < HEADER_SIZE || !h.subarray(0, 4).equals(MAGIC)) throw new BlobIntegrityError('not a Coffer encrypted blob');
  const version = h[4];
  if (version !== 1 && version !== 2) throw new BlobIntegrityError(`unknown blob format version ${version}`);
  const layers = h[5];
  if ((layers !== 1 && layers !== 2) || h.readUInt32BE(8) !== PACKAGE_SIZE) throw new BlobIntegrityError('malformed blob header');
  return { version, layers, partNumber: h.readUInt32BE(12), salt: Buffer.from(h.subarray(16, HEADER_SIZE)) };
}

/** Parameters of a new blob: always the current version, bound to the object it is written for. */
export function newCipherParams(layers: 1 | 2, partNumber: number, identity: ObjectIdentity): BlobCipherParams {
  return { version: FORMAT_VERSION, layers, partNumber, salt: randomBytes(SALT_SIZE), binding: identityBinding(identity) };
}

/** Number of packages for a plaintext size. */
export function packageCount(size: number): number {
  return Math.max(1, Math.ceil(size / PACKAGE_SIZE));
}

/** Stored bytes of a package holding `plainLength` bytes. */
function storedPackageSize(plainLength: number, layers: number): number {
  return plainLength + TAG_SIZE * layers;
}

/** Size of the whole blob for a plaintext size. */
export function encryptedSize(size: number, layers: 1 | 2): number {
  return HEADER_SIZE + size + packageCount(size) * TAG_SIZE * layers;
}

function layerKeys(dataKeys: readonly Buffer[], params: BlobCipherParams, header: Buffer): Buffer[] {
  const layers = params.layers;
  if (dataKeys.length !== layers) throw new Error(`expected ${layers} data keys, got ${dataKeys.length}`);
  const binding = params.version === 2 ? params.binding : undefined;
  if (binding && binding.length !== BINDING_SIZE) throw new Error(`an identity binding is ${BINDING_SIZE} bytes`);
  return dataKeys.map((dk, i) => {
    if (dk.length !== 32) throw new Error('data keys are 32 bytes');
    const info = Buffer.concat([INFO[params.version], Buffer.from([i + 1]), header.subarray(0, 16), ...(binding ? [binding] : [])]);
    return Buffer.from(hkdfSync('sha256', dk, header.subarray(16, HEADER_SIZE), info, 32));
  });
}

function nonce(index: number): Buffer {
  const n = Buffer.alloc(12);
  n.writeBigUInt64BE(BigInt(index), 4);
  return n;
}

function aad(header: Buffer, index: number, final: boolean): Buffer {
  const a = Buffer.allocUnsafe(HEADER_SIZE + 9);
  header.copy(a, 0);
  a.writeBigUInt64BE(BigInt(index), HEADER_SIZE);
  a[HEADER_SIZE + 8] = final ? 1 : 0;
  return a;
}

/**
 * Encrypts a plaintext stream of exactly `size` bytes into a blob. Streams:
 * ciphertext is yielded as plaintext arrives, without buffering packages.
 * Throws (and yields nothing more) if the source is longer or shorter.
 */
export async function* encryptBlob(
  source: AsyncIterable<Buffer>,
  options: { size: number; dataKeys: readonly Buffer[]; params: BlobCipherParams; onExtra?: () => Error; onShort?: () => Error },
): AsyncGenerator<Buffer> {
  const header = buildHeader(options.params);
  const keys = layerKeys(options.dataKeys, options.params, header);
  const count = packageCount(options.size);
  yield header;

  let index = 0;
  let left = Math.min(PACKAGE_SIZE, options.size); // plaintext left in the current package
  let consumed = 0;
  const startPackage = () => {
    const final = index === count - 1;
    const a = aad(header, index, final);
    const n = nonce(index);
    return keys.map((k) => {
      const c = createCipheriv('aes-256-gcm', k, n);
      c.setAAD(a);
      return c;
    });
  };
  // Two layers run as a chain: the outer layer encrypts what the inner one emits.
  const through = (ciphers: ReturnType<typeof startPackage>, data: Buffer): Buffer => {
    let out = data;
    for (const c of ciphers) out = c.update(out);
    return out;
  };
  const finish = (ciphers: ReturnType<typeof startPackage>): Buffer[] => {
    const out: Buffer[] = [];
    let carry: Buffer[] = [];
    for (const [i, c] of ciphers.entries()) {
      // Whatever the inner layer emits at its end (its tail and its tag) goes through the outer ones.
      const pieces = [...carry.map((b) => c.update(b)), c.final(), c.getAuthTag()];
      if (i === ciphers.length - 1) out.push(...pieces.filter((b) => b.length > 0));
      carry = pieces;
    }
    return out;
  };
  let ciphers = startPackage();
  for await (const chunk of source) {
    let pos = 0;
    while (pos < chunk.length) {
      if (consumed === options.size) throw options.onExtra?.() ?? new Error('source is longer than declared');
      const n = Math.min(left, chunk.length - pos);
      const out = through(ciphers, n === chunk.length && pos === 0 ? chunk : chunk.subarray(pos, pos + n));
      if (out.length > 0) yield out;
      pos += n;
      left -= n;
      consumed += n;
      if (left === 0 && index < count - 1) {
        yield* finish(ciphers);
        index++;
        left = Math.min(PACKAGE_SIZE, options.size - consumed);
        ciphers = startPackage();
      }
    }
  }
  if (consumed !== options.size) throw options.onShort?.() ?? new Error('source is shorter than declared');
  yield* finish(ciphers);
}

/**
 * The same blob as `encryptBlob`, byte for byte, for a plaintext whose length is
 * known only when it ends (POST Object: the form's Content-Length counts every
 * field, not the file). Which package is final is in its AAD, so each package is
 * held (at most PACKAGE_SIZE bytes) until a byte after it arrives or the source
 * ends; memory stays bounded by one package whatever the size. The format is
 * unchanged: nothing in the header depends on the size.
 */
export async function* encryptBlobUnsized(
  source: AsyncIterable<Buffer>,
  options: { dataKeys: readonly Buffer[]; params: BlobCipherParams },
): AsyncGenerator<Buffer> {
  const header = buildHeader(options.params);
  const keys = layerKeys(options.dataKeys, options.params, header);
  yield header;
  let index = 0;
  const sealPackage = (plaintext: Buffer, final: boolean): Buffer => {
    const a = aad(header, index, final);
    const n = nonce(index);
    let out = plaintext;
    for (const k of keys) {
      const c = createCipheriv('aes-256-gcm', k, n);
      c.setAAD(a);
      out = Buffer.concat([c.update(out), c.final(), c.getAuthTag()]);
    }
    index++;
    return out;
  };
  let held: Buffer[] = [];
  let heldBytes = 0;
  for await (const chunk of source) {
    if (chunk.length === 0) continue;
    held.push(chunk);
    heldBytes += chunk.length;
    // More than a package held: the first package is not the last one.
    while (heldBytes > PACKAGE_SIZE) {
      const all = held.length === 1 ? held[0]! : Buffer.concat(held, heldBytes);
      yield sealPackage(all.subarray(0, PACKAGE_SIZE), false);
      const rest = all.subarray(PACKAGE_SIZE);
      held = [rest];
      heldBytes = rest.length;
    }
  }
  yield sealPackage(held.length === 1 ? held[0]! : Buffer.concat(held, heldBytes), true);
}

export interface DecryptRangeOptions {
  /** Plaintext size of the blob. */
  size: number;
  dataKeys: readonly Buffer[];
  params: BlobCipherParams;
  /** Inclusive plaintext range. */
  start: number;
  end: number;
  /** Reads an inclusive byte range of the stored blob. */
  read: (start: number, end: number) => Promise<AsyncIterable<Buffer>>;
}

/**
 * Decrypts an inclusive plaintext range, reading only the packages that cover
 * it. A package's plaintext is released only after its tag verifies, so
 * tampered, reordered or truncated data never reaches the caller: it throws
 * BlobIntegrityError instead.
 */
export async function* decryptRange(o: DecryptRangeOptions): AsyncGenerator<Buffer> {
  if (o.start > o.end) return;
  const header = buildHeader(o.params);
  const keys = layerKeys(o.dataKeys, o.params, header);
  const layers = o.params.layers;
  const count = packageCount(o.size);
  const stride = PACKAGE_SIZE + TAG_SIZE * layers;
  const first = Math.floor(o.start / PACKAGE_SIZE);
  const last = Math.min(Math.floor(o.end / PACKAGE_SIZE), count - 1);
  const plainLength = (i: number) => (i === count - 1 ? o.size - i * PACKAGE_SIZE : PACKAGE_SIZE);
  const from = HEADER_SIZE + first * stride;
  const to = HEADER_SIZE + last * stride + storedPackageSize(plainLength(last), layers) - 1;

  const it = (await o.read(from, to))[Symbol.asyncIterator]();
  let buf: Buffer = Buffer.alloc(0);
  let pos = 0;
  /** Takes exactly n stored bytes as a list of slices (no copies). */
  const take = async (n: number): Promise<Buffer[]> => {
    const out: Buffer[] = [];
    while (n > 0) {
      if (pos >= buf.length) {
        const r = await it.next();
        if (r.done) throw new BlobIntegrityError('encrypted blob is truncated');
        buf = r.value;
        pos = 0;
      }
      const k = Math.min(n, buf.length - pos);
      out.push(buf.subarray(pos, pos + k));
      pos += k;
      n -= k;
    }
    return out;
  };

  try {
    for (let i = first; i <= last; i++) {
      const len = plainLength(i);
      const stored = await take(storedPackageSize(len, layers));
      const a = aad(header, i, i === count - 1);
      const n = nonce(i);
      // Peel layers from the outside in; each layer's tag is the last 16 bytes of its input.
      let data = stored;
      for (let L = layers - 1; L >= 0; L--) {
        const total = data.reduce((s, b) => s + b.length, 0);
        const { body, tag } = splitTag(data, total - TAG_SIZE);
        const d = createDecipheriv('aes-256-gcm', keys[L]!, n);
        d.setAAD(a);
        d.setAuthTag(tag);
        const plain: Buffer[] = [];
        for (const piece of body) {
          const out = d.update(piece);
          if (out.length > 0) plain.push(out);
        }
        try {
          const tail = d.final();
          if (tail.length > 0) plain.push(tail);
        } catch {
          throw new BlobIntegrityError(`package ${i} of an encrypted blob failed authentication`);
        }
        data = plain;
      }
      // Slice the verified package down to the requested range.
      const pkgStart = i * PACKAGE_SIZE;
      const lo = Math.max(o.start - pkgStart, 0);
      const hi = Math.min(o.end - pkgStart + 1, len);
      let off = 0;
      for (const piece of data) {
        const a0 = Math.max(lo - off, 0);
        const a1 = Math.min(hi - off, piece.length);
        if (a1 > a0) yield a0 === 0 && a1 === piece.length ? piece : piece.subarray(a0, a1);
        off += piece.length;
        if (off >= hi) break;
      }
    }
  } finally {
    await it.return?.();
  }
}

function splitTag(pieces: Buffer[], bodyLength: number): { body: Buffer[]; tag: Buffer } {
  const body: Buffer[] = [];
  const tagParts: Buffer[] = [];
  let off = 0;
  for (const p of pieces) {
    const end = off + p.length;
    if (end <= bodyLength) body.push(p);
    else if (off >= bodyLength) tagParts.push(p);
    else {
      body.push(p.subarray(0, bodyLength - off));
      tagParts.push(p.subarray(bodyLength - off));
    }
    off = end;
  }
  return { body, tag: tagParts.length === 1 ? tagParts[0]! : Buffer.concat(tagParts) };
}
