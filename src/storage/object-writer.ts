/**
 * The write pipeline shared by PutObject, UploadPart and copies: one pass over
 * the bytes computes the MD5 (ETag), the requested checksum and the size,
 * enforces limits, and streams into a staged blob. Every check that can fail
 * runs before the blob is made durable, so a rejected upload leaves nothing.
 */
import { base64DigestEqual, bytesEqual } from '../crypto/compare.js';
import { createHash, randomBytes } from 'node:crypto';
import type { BlobStore, PendingBlob } from '../blob/blob-store.js';
import { S3Error } from '../errors/s3-errors.js';
import { encryptBlob, encryptBlobUnsized, newCipherParams, type ObjectIdentity } from '../crypto/blob-format.js';
import type { BlobCipher, ChecksumAlgorithm, ChecksumValue, StoredPart } from '../metadata/metadata-store.js';
import { createChecksumHasher } from './checksums.js';

export interface WriteDataOptions {
  /** Decoded Content-MD5 to verify (BadDigest on mismatch). */
  contentMd5?: Buffer;
  /** Checksum to compute; verified against `expectedChecksum` when that yields a value. */
  checksumAlgorithm?: ChecksumAlgorithm;
  /** The client's checksum (base64): from a header now, or from trailers once the body ends. */
  expectedChecksum?: () => string | undefined;
  /** Declared size; a body of another length is IncompleteBody. */
  expectedSize?: number;
  /** Largest size accepted (EntityTooLarge). */
  maxSize: number;
  signal?: AbortSignal;
  /**
   * Encrypt into the blob format under these data keys (one per layer), binding
   * the part number (0 for a single PUT) and the object the bytes are written
   * for (its bucket, key and ObjectRecord.objectId; for a part, its upload id).
   * Needs `expectedSize`: the format fixes which package is final before the
   * bytes arrive, so nothing is buffered.
   */
  encrypt?: { dataKeys: readonly Buffer[]; partNumber: number; identity: ObjectIdentity };
  /**
   * The body's length is known only at its end (POST Object's file part): encrypted without
   * `expectedSize`, holding one package at a time (encryptBlobUnsized), instead of MissingContentLength.
   */
  lengthUnknown?: boolean;
}

export interface WrittenData {
  pending: PendingBlob;
  size: number;
  /** Hex MD5 of the bytes. */
  md5: string;
  checksum?: ChecksumValue;
  /** Set when the data was encrypted. */
  cipher?: BlobCipher;
}

/** A new ObjectRecord.objectId, for a write that is not a multipart upload (those use their upload id). */
export function newObjectId(): string {
  return randomBytes(16).toString('hex');
}

export async function writeData(blobs: BlobStore, source: AsyncIterable<Buffer>, options: WriteDataOptions): Promise<WrittenData> {
  if (options.expectedSize !== undefined && options.expectedSize > options.maxSize) throw new S3Error('EntityTooLarge');
  const md5 = createHash('md5');
  const checksum = options.checksumAlgorithm ? createChecksumHasher(options.checksumAlgorithm) : undefined;
  let size = 0;
  let md5Hex = '';
  let checksumValue: string | undefined;

  async function* measured(): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      size += chunk.length;
      if (size > options.maxSize) throw new S3Error('EntityTooLarge');
      md5.update(chunk);
      checksum?.update(chunk);
      yield chunk;
    }
    // All of these run before the blob store fsyncs, so a failure leaves no blob.
    if (options.expectedSize !== undefined && size !== options.expectedSize) throw new S3Error('IncompleteBody');
    const digest = md5.digest();
    md5Hex = digest.toString('hex');
    if (options.contentMd5 && !bytesEqual(digest, options.contentMd5)) {
      throw new S3Error('BadDigest', undefined, {
        fields: { ExpectedDigest: options.contentMd5.toString('base64'), CalculatedDigest: digest.toString('base64') },
      });
    }
    if (checksum && options.checksumAlgorithm) {
      const raw = await checksum.digest();
      checksumValue = raw.toString('base64');
      const expected = options.expectedChecksum?.();
      if (expected !== undefined && !base64DigestEqual(raw, expected)) {
        throw new S3Error('BadDigest', `The ${options.checksumAlgorithm} you specified did not match the calculated checksum.`);
      }
    }
  }

  let stream: AsyncIterable<Buffer> = measured();
  let cipher: BlobCipher | undefined;
  if (options.encrypt) {
    const params = newCipherParams(options.encrypt.dataKeys.length === 2 ? 2 : 1, options.encrypt.partNumber, options.encrypt.identity);
    cipher = { salt: params.salt.toString('base64'), part: params.partNumber, format: 2 };
    if (options.expectedSize === undefined && !options.lengthUnknown) throw new S3Error('MissingContentLength');
    stream = options.expectedSize === undefined ? encryptBlobUnsized(stream, { dataKeys: options.encrypt.dataKeys, params }) : encryptBlob(stream, {
      size: options.expectedSize,
      dataKeys: options.encrypt.dataKeys,
      params,
      onExtra: () => new S3Error('IncompleteBody', 'The body is longer than its declared length.'),
      onShort: () => new S3Error('IncompleteBody'),
    });
  }
  const pending = await blobs.write(stream, options.signal ? { signal: options.signal } : {});
  return {
    pending,
    size,
    md5: md5Hex,
    ...(cipher ? { cipher } : {}),
    ...(checksumValue !== undefined && options.checksumAlgorithm
      ? { checksum: { algorithm: options.checksumAlgorithm, value: checksumValue, type: 'FULL_OBJECT' as const } }
      : {}),
  };
}

/**
 * Commits metadata for freshly written blobs: publishes them after the commit,
 * discards them if it fails. The one place that orders "data durable → metadata
 * commit → publish".
 */
export async function commitWith<T>(pending: PendingBlob[], commit: () => Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await commit();
  } catch (err) {
    await Promise.all(pending.map((p) => p.discard()));
    throw err;
  }
  await Promise.all(pending.map((p) => p.publish()));
  return result;
}

/** The parts of an object written as one blob (PutObject, CopyObject): that blob, or none when it is empty. */
export function singleBlobParts(written: WrittenData, etag: string): StoredPart[] {
  if (written.size === 0) return [];
  return [{ partNumber: 1, blobId: written.pending.blobId, size: written.size, etag, ...(written.cipher ? { cipher: written.cipher } : {}) }];
}

/**
 * commitWith for an object written as one blob. An empty object keeps no blob:
 * there are no bytes to protect, so its staged (header-only) blob is dropped.
 */
export async function commitSingleBlob<T>(written: WrittenData, commit: () => Promise<T>): Promise<T> {
  if (written.size > 0) return commitWith([written.pending], commit);
  await written.pending.discard();
  return commit();
}
