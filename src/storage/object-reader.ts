/**
 * The read pipeline: the bytes of an object, or of a byte range of it, across
 * however many parts it has, reading only the parts (and bytes) it needs.
 */
import type { BlobStore } from '../blob/blob-store.js';
import type { StoredPart } from '../metadata/metadata-store.js';

export interface InclusiveRange {
  start: number;
  end: number;
}

/** Streams `range` (inclusive) of the concatenation of `parts`. */
export async function* readParts(blobs: BlobStore, parts: readonly StoredPart[], range: InclusiveRange): AsyncGenerator<Buffer> {
  let offset = 0;
  for (const part of parts) {
    const partStart = offset;
    const partEnd = offset + part.size - 1;
    offset += part.size;
    if (part.size === 0 || partEnd < range.start) continue;
    if (partStart > range.end) break;
    const from = Math.max(range.start, partStart) - partStart;
    const to = Math.min(range.end, partEnd) - partStart;
    yield* await blobs.read(part.blobId, { start: from, end: to });
  }
}
