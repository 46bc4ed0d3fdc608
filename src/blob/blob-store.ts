/**
 * The BlobStore contract: opaque, immutable byte strings named by id.
 *
 * Writing is two-phase so that a crash never exposes a partial blob and never
 * loses a committed one: `write` makes the bytes durable in a staging area and
 * returns a PendingBlob; the caller commits its metadata, then `publish`es (or
 * `discard`s on failure). After a crash, `recover` asks which staged blobs the
 * metadata references, publishes those and deletes the rest.
 */

export interface PendingBlob {
  readonly blobId: string;
  readonly size: number;
  /** Moves the blob to its final place. Readable by id before and after. */
  publish(): Promise<void>;
  /** Deletes the staged blob (the metadata commit failed). */
  discard(): Promise<void>;
}

export interface ByteRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive. */
  end: number;
}

export interface ReadOptions {
  /**
   * The caller copies out what it needs as it goes (decryption does): the store may
   * then reuse its read buffers. Each chunk stays valid only until the chunk after
   * the next one is requested, and chunks (but the last) are at least SCRATCH_MIN_CHUNK
   * bytes, so anything shorter spans at most two chunks.
   */
  scratch?: boolean;
}

/** See ReadOptions.scratch. */
export const SCRATCH_MIN_CHUNK = 128 * 1024;

export interface BlobStats {
  /** Bytes read from storage since start (exposed so tests can assert range reads stay small). */
  bytesRead: number;
}

export interface BlobStore {
  /** Streams `source` into a new durable, staged blob. If `source` throws, nothing is left behind. */
  write(source: AsyncIterable<Buffer>, options?: { signal?: AbortSignal }): Promise<PendingBlob>;
  /**
   * Streams a blob or a byte range of it. Throws BlobNotFoundError before yielding if it does
   * not exist. Once this has answered, the read gets every byte even if the blob is deleted
   * meanwhile (an open file, one whole row, one streamed response): the collector relies on
   * it to delete the blobs of one-blob objects at once (metadata-rules.ts collectableAtOnce).
   */
  read(blobId: string, range?: ByteRange, options?: ReadOptions): Promise<AsyncIterable<Buffer>>;
  /** Deletes a blob wherever it is; absent blobs are fine. */
  delete(blobId: string): Promise<void>;
  /** Startup crash recovery: publish staged blobs that metadata references, delete the rest. */
  recover(referenced: (blobIds: string[]) => Promise<Set<string>>): Promise<{ published: number; removed: number }>;
  stats(): BlobStats;
  /**
   * Resolves when the backend answers (readiness: `/_coffer/health/ready`), rejects when it
   * cannot be reached or used. Cheap: no blob is read or written.
   */
  probe(): Promise<void>;
}

export class BlobNotFoundError extends Error {
  constructor(readonly blobId: string) {
    super(`blob ${blobId} not found`);
    this.name = 'BlobNotFoundError';
  }
}

/** A whole (small) blob's bytes from its source, for stores that write it in one piece. */
export async function collectBlob(source: AsyncIterable<Buffer>, signal?: AbortSignal): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of source) {
    signal?.throwIfAborted();
    chunks.push(chunk);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}
