/**
 * The read pipeline: the bytes of an object, or of a byte range of it, across
 * however many parts it has, reading only the parts — and, in the encrypted
 * format, only the 64 KiB packages — that the range touches.
 */
import type { BlobStore } from '../blob/blob-store.js';
import { decryptRange } from '../crypto/blob-format.js';
import type { StoredPart } from '../metadata/metadata-store.js';

export interface InclusiveRange {
  start: number;
  end: number;
}

/** Plaintext is handed on in pieces of at least this much (or what is left): fewer, larger socket writes. */
const OUTPUT_CHUNK = 256 * 1024;

/**
 * Streams `range` (inclusive) of the concatenation of `parts`, decrypting with
 * `dataKeys` where a part is encrypted. The blob format yields one piece per
 * 64 KiB package; they are joined into pieces of OUTPUT_CHUNK, since a socket
 * write costs more than copying the bytes once.
 */
export async function* readParts(blobs: BlobStore, parts: readonly StoredPart[], range: InclusiveRange, dataKeys: readonly Buffer[] = []): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const piece of readPieces(blobs, parts, range, dataKeys)) {
    if (pendingBytes === 0 && piece.length >= OUTPUT_CHUNK) {
      yield piece;
      continue;
    }
    pending.push(piece);
    pendingBytes += piece.length;
    if (pendingBytes >= OUTPUT_CHUNK) {
      yield pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
    }
  }
  if (pendingBytes > 0) yield pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
}

async function* readPieces(blobs: BlobStore, parts: readonly StoredPart[], range: InclusiveRange, dataKeys: readonly Buffer[] = []): AsyncGenerator<Buffer> {
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
      yield* await blobs.read(part.blobId, { start: from, end: to });
      continue;
    }
    yield* decryptRange({
      size: part.size,
      dataKeys,
      params: { layers: dataKeys.length === 2 ? 2 : 1, partNumber: part.cipher.part, salt: Buffer.from(part.cipher.salt, 'base64') },
      start: from,
      end: to,
      read: (start, end) => blobs.read(part.blobId, { start, end }),
    });
  }
}
