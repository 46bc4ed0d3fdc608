/**
 * The read pipeline: the bytes of an object, or of a byte range of it, across
 * however many parts it has, reading only the parts — and, in the encrypted
 * format, only the 64 KiB packages — that the range touches.
 */
import type { BlobStore } from '../blob/blob-store.js';
import { BlobIntegrityError, decryptRange, identityBinding, type BlobCipherParams, type ObjectIdentity } from '../crypto/blob-format.js';
import type { BlobCipher, StoredPart } from '../metadata/metadata-store.js';

export interface InclusiveRange {
  start: number;
  end: number;
}

export interface ObjectDecryption {
  /** The object's data keys, one per layer (none for data stored in clear, which Coffer no longer writes). */
  dataKeys: readonly Buffer[];
  /**
   * Who the object is: the bucket and key the request named (never the document's
   * own idea of them) and the object id its row carries. Format-2 blobs decrypt only
   * under the identity they were written for.
   */
  identity: ObjectIdentity;
}

function cipherParams(cipher: BlobCipher, layers: 1 | 2, binding: () => Buffer): BlobCipherParams {
  const common = { layers, partNumber: cipher.part, salt: Buffer.from(cipher.salt, 'base64') };
  if (cipher.format === undefined) return { version: 1, ...common };
  // Anything else is a document that was altered or written by a newer Coffer: refuse, never guess.
  if (cipher.format !== 2) throw new BlobIntegrityError(`unknown blob format version ${String(cipher.format)}`);
  return { version: 2, ...common, binding: binding() };
}

/** Streams `range` (inclusive) of the concatenation of `parts`, decrypting with `keys.dataKeys` where a part is encrypted. */
export async function* readParts(blobs: BlobStore, parts: readonly StoredPart[], range: InclusiveRange, keys: ObjectDecryption): AsyncGenerator<Buffer> {
  const dataKeys = keys.dataKeys;
  let binding: Buffer | undefined;
  const bindingOnce = () => (binding ??= identityBinding(keys.identity));
  let offset = 0;
  for (const part of parts) {
    const partStart = offset;
    const partEnd = offset + part.size - 1;
    offset += part.size;
    if (part.size === 0 || partEnd < range.start) continue;
    if (partStart > range.end) break;
    const from = Math.max(range.start, partStart) - partStart;
    const to = Math.min(range.end, partEnd) - partStart;
    if (!part.cipher) {
      // An encrypted object's part that claims to be stored in clear is an altered document.
      if (dataKeys.length > 0) throw new BlobIntegrityError('a part of an encrypted object has no cipher parameters');
      yield* await blobs.read(part.blobId, { start: from, end: to });
      continue;
    }
    yield* decryptRange({
      size: part.size,
      dataKeys,
      params: cipherParams(part.cipher, dataKeys.length === 2 ? 2 : 1, bindingOnce),
      start: from,
      end: to,
      // Decryption copies every package out before it asks for more: the store may reuse its buffers.
      read: (start, end) => blobs.read(part.blobId, { start, end }, { scratch: true }),
    });
  }
}
