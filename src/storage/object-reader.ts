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

/** Streams `range` (inclusive) of the concatenation of `parts`, decrypting with `dataKeys` where a part is encrypted. */
export async function* readParts(blobs: BlobStore, parts: readonly StoredPart[], range: InclusiveRange, dataKeys: readonly Buffer[] = []): AsyncGenerator<Buffer> {
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
      // Decryption copies every package out before it asks for more: the store may reuse its buffers.
      read: (start, end) => blobs.read(part.blobId, { start, end }, { scratch: true }),
    });
  }
}
