/**
 * The S3 additional checksums (CRC32, CRC32C, CRC64NVME, SHA1, SHA256): one
 * incremental hasher per algorithm, the header names that carry them, and the
 * composite form S3 uses for multipart objects.
 */
import { Crc32c } from '@aws-crypto/crc32c';
import { Crc64Nvme } from '@aws-sdk/crc64-nvme';
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { strictBase64 } from '../crypto/compare.js';
import { S3Error } from '../errors/s3-errors.js';
import type { ChecksumAlgorithm } from '../metadata/metadata-store.js';

export const CHECKSUM_ALGORITHMS: readonly ChecksumAlgorithm[] = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'];

/** Digest length in bytes, to validate base64 values clients send. */
const DIGEST_BYTES: Record<ChecksumAlgorithm, number> = { CRC32: 4, CRC32C: 4, CRC64NVME: 8, SHA1: 20, SHA256: 32 };

export interface ChecksumHasher {
  update(chunk: Buffer): void;
  /** The raw digest; call once, after the last update. */
  digest(): Promise<Buffer>;
}

function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

export function createChecksumHasher(algorithm: ChecksumAlgorithm): ChecksumHasher {
  switch (algorithm) {
    case 'CRC32': {
      let c = 0;
      return { update: (b) => void (c = crc32(b, c)), digest: async () => u32(c) };
    }
    case 'CRC32C': {
      const h = new Crc32c();
      return { update: (b) => void h.update(b), digest: async () => u32(h.digest()) };
    }
    case 'CRC64NVME': {
      const h = new Crc64Nvme();
      return { update: (b) => void h.update(b), digest: async () => Buffer.from(await h.digest()) };
    }
    case 'SHA1':
    case 'SHA256': {
      const h = createHash(algorithm === 'SHA1' ? 'sha1' : 'sha256');
      return { update: (b) => void h.update(b), digest: async () => h.digest() };
    }
  }
}

/** Lower-case header name: `x-amz-checksum-crc32` etc. */
export function checksumHeaderName(algorithm: ChecksumAlgorithm): string {
  return `x-amz-checksum-${algorithm.toLowerCase()}`;
}

/** Parses an algorithm name as S3 accepts it (case-insensitive), or throws InvalidRequest. */
export function parseChecksumAlgorithm(value: string): ChecksumAlgorithm {
  const upper = value.toUpperCase();
  const found = CHECKSUM_ALGORITHMS.find((a) => a === upper);
  if (!found) throw new S3Error('InvalidRequest', `Value for x-amz-checksum-algorithm header is invalid.`);
  return found;
}

/** Validates a base64 checksum value's shape for its algorithm (S3: InvalidRequest). */
export function validateChecksumValue(algorithm: ChecksumAlgorithm, value: string): void {
  if (strictBase64(value, DIGEST_BYTES[algorithm]) === undefined) {
    throw new S3Error('InvalidRequest', `Value for ${checksumHeaderName(algorithm)} header is invalid.`);
  }
}

/** S3's composite multipart checksum: the checksum of the concatenated part digests, then `-N`. */
export async function compositeChecksum(algorithm: ChecksumAlgorithm, partValues: string[]): Promise<string> {
  const h = createChecksumHasher(algorithm);
  for (const v of partValues) h.update(Buffer.from(v, 'base64'));
  return `${(await h.digest()).toString('base64')}-${partValues.length}`;
}
