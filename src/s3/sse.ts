/**
 * Server-side encryption as S3 speaks it: the request headers that ask for a
 * mode (x-amz-server-side-encryption*, SSE-C's customer key headers and their
 * copy-source twins), how they combine with the bucket's default encryption,
 * and the headers every response about an object carries.
 *
 * Validation matches Amazon S3: conflicting or malformed headers are 400
 * InvalidArgument, an unknown SSE-C algorithm InvalidEncryptionAlgorithmError,
 * SSE-C over plain HTTP InvalidRequest, SSE-C on a bucket that blocks it 403.
 */
import { createHash } from 'node:crypto';
import { base64DigestEqual, strictBase64 } from '../crypto/compare.js';
import { S3Error } from '../errors/s3-errors.js';
import { header, type HeaderValue, type S3Request } from '../http/types.js';
import type { ObjectEncryption } from '../metadata/metadata-store.js';
import type { SseChoice } from '../storage/object-keys.js';

export const SSE_ALGORITHMS = ['AES256', 'aws:kms', 'aws:kms:dsse'] as const;
export type SseAlgorithm = (typeof SSE_ALGORITHMS)[number];

/** A bucket's default encryption, as PutBucketEncryption stored it (or the server default). */
export interface BucketEncryptionConfig {
  /** Absent when the rule only blocks encryption types (objects then default to AES256). */
  sseAlgorithm?: SseAlgorithm;
  kmsMasterKeyId?: string;
  bucketKeyEnabled: boolean;
  /** `SSE-C` and/or `NONE`, as given. */
  blockedEncryptionTypes?: string[];
}

/** What the request's own headers ask for; undefined means "the bucket default". */
export type RequestedSse =
  | { mode: 'AES256' }
  | { mode: 'aws:kms' | 'aws:kms:dsse'; kmsKeyId?: string; context?: Record<string, string>; bucketKeyEnabled?: boolean }
  | { mode: 'SSE-C'; customerKey: Buffer; keyMd5: string };

export interface SseCKey {
  key: Buffer;
  /** The client's base64 MD5 of the key, echoed in responses. */
  keyMd5: string;
}

const CUSTOMER = 'x-amz-server-side-encryption-customer-';
const COPY_SOURCE_CUSTOMER = 'x-amz-copy-source-server-side-encryption-customer-';

function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/**
 * The SSE-C key headers (the object's own, or the copy source's with `copySource`).
 * S3 refuses customer keys over plain HTTP; Coffer allows loopback (a laptop, CI)
 * and, when the operator says so, any address.
 */
export function parseSseCKey(req: S3Request, options: { copySource?: boolean; allowInsecure: boolean }): SseCKey | undefined {
  const prefix = options.copySource ? COPY_SOURCE_CUSTOMER : CUSTOMER;
  const algorithm = header(req, `${prefix}algorithm`);
  const key = header(req, `${prefix}key`);
  const keyMd5 = header(req, `${prefix}key-md5`);
  if (algorithm === undefined && key === undefined && keyMd5 === undefined) return undefined;
  if (!req.secure && !options.allowInsecure && !isLoopback(req.remoteAddress)) {
    throw new S3Error('InvalidRequest', 'Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.');
  }
  if (algorithm === undefined) {
    throw new S3Error('InvalidArgument', 'Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.', {
      fields: { ArgumentName: `${prefix}algorithm`, ArgumentValue: 'null' },
    });
  }
  if (algorithm !== 'AES256') throw new S3Error('InvalidEncryptionAlgorithmError', undefined, { fields: { ArgumentName: `${prefix}algorithm`, ArgumentValue: algorithm } });
  if (key === undefined) {
    throw new S3Error('InvalidArgument', 'Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.', {
      fields: { ArgumentName: `${prefix}key`, ArgumentValue: 'null' },
    });
  }
  const raw = strictBase64(key.trim(), 32);
  if (raw === undefined) {
    // Never echo the key back, not even a malformed one.
    throw new S3Error('InvalidArgument', 'The secret key was invalid for the specified algorithm.', { fields: { ArgumentName: `${prefix}key` } });
  }
  if (keyMd5 === undefined) {
    throw new S3Error('InvalidArgument', 'Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key.', {
      fields: { ArgumentName: `${prefix}key-MD5`, ArgumentValue: 'null' },
    });
  }
  if (!base64DigestEqual(createHash('md5').update(raw).digest(), keyMd5.trim())) {
    throw new S3Error('InvalidArgument', 'The calculated MD5 hash of the key did not match the hash that was provided.', { fields: { ArgumentName: `${prefix}key-MD5` } });
  }
  return { key: raw, keyMd5: keyMd5.trim() };
}

function parseContext(value: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(value, 'base64').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed) || Object.values(parsed).some((v) => typeof v !== 'string')) {
    throw new S3Error('InvalidArgument', 'The encryption context must be base64-encoded UTF-8 JSON of string key-value pairs.', {
      fields: { ArgumentName: 'x-amz-server-side-encryption-context' },
    });
  }
  const context = parsed as Record<string, string>;
  if (Object.keys(context).some((k) => k.startsWith('aws:'))) {
    throw new S3Error('InvalidArgument', 'Encryption context keys cannot start with aws:', { fields: { ArgumentName: 'x-amz-server-side-encryption-context' } });
  }
  return context;
}

/** The SSE a write (PutObject, CopyObject's destination, CreateMultipartUpload) asks for. */
export function parseRequestedSse(req: S3Request, options: { allowInsecureSseC: boolean }): RequestedSse | undefined {
  const algorithm = header(req, 'x-amz-server-side-encryption');
  const kmsKeyId = header(req, 'x-amz-server-side-encryption-aws-kms-key-id');
  const context = header(req, 'x-amz-server-side-encryption-context');
  const bucketKey = header(req, 'x-amz-server-side-encryption-bucket-key-enabled');
  const customer = parseSseCKey(req, { allowInsecure: options.allowInsecureSseC });

  if (customer) {
    if (algorithm !== undefined || kmsKeyId !== undefined || context !== undefined) {
      throw new S3Error('InvalidArgument', 'Server Side Encryption with Customer provided key is incompatible with the encryption method specified', {
        fields: { ArgumentName: 'x-amz-server-side-encryption', ArgumentValue: algorithm ?? 'null' },
      });
    }
    return { mode: 'SSE-C', customerKey: customer.key, keyMd5: customer.keyMd5 };
  }
  if (algorithm === undefined) {
    if (kmsKeyId !== undefined || context !== undefined) {
      throw new S3Error('InvalidArgument', 'Specifying a KMS key or encryption context requires x-amz-server-side-encryption: aws:kms.', {
        fields: { ArgumentName: 'x-amz-server-side-encryption', ArgumentValue: 'null' },
      });
    }
    return undefined;
  }
  if (!(SSE_ALGORITHMS as readonly string[]).includes(algorithm)) {
    throw new S3Error('InvalidArgument', 'The encryption method specified is not supported', { fields: { ArgumentName: 'x-amz-server-side-encryption', ArgumentValue: algorithm } });
  }
  if (algorithm === 'AES256') {
    if (kmsKeyId !== undefined || context !== undefined) {
      throw new S3Error('InvalidArgument', 'Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms', {
        fields: { ArgumentName: 'x-amz-server-side-encryption', ArgumentValue: algorithm },
      });
    }
    return { mode: 'AES256' };
  }
  if (bucketKey !== undefined && bucketKey !== 'true' && bucketKey !== 'false') {
    throw new S3Error('InvalidArgument', 'x-amz-server-side-encryption-bucket-key-enabled must be true or false', {
      fields: { ArgumentName: 'x-amz-server-side-encryption-bucket-key-enabled', ArgumentValue: bucketKey },
    });
  }
  return {
    mode: algorithm as 'aws:kms' | 'aws:kms:dsse',
    ...(kmsKeyId !== undefined ? { kmsKeyId } : {}),
    ...(context !== undefined ? { context: parseContext(context) } : {}),
    ...(bucketKey !== undefined ? { bucketKeyEnabled: bucketKey === 'true' } : {}),
  };
}

/**
 * The mode a write gets: its own headers win, else the bucket default. SSE-C
 * on a bucket that blocks it is refused, as S3 does since 2026.
 */
export function chooseSse(requested: RequestedSse | undefined, bucket: BucketEncryptionConfig): SseChoice {
  if (requested?.mode === 'SSE-C') {
    if (bucket.blockedEncryptionTypes?.includes('SSE-C')) {
      throw new S3Error('AccessDenied', 'Requests specifying Server Side Encryption with Customer provided keys are blocked for this bucket.');
    }
    return { mode: 'SSE-C', customerKey: requested.customerKey };
  }
  if (requested?.mode === 'AES256') return { mode: 'AES256' };
  if (requested) {
    return {
      mode: requested.mode,
      ...(requested.kmsKeyId !== undefined ? { kmsKeyId: requested.kmsKeyId } : {}),
      ...(requested.context ? { context: requested.context } : {}),
      bucketKeyEnabled: requested.bucketKeyEnabled ?? bucket.bucketKeyEnabled,
    };
  }
  const algorithm = bucket.sseAlgorithm ?? 'AES256';
  if (algorithm === 'AES256') return { mode: 'AES256' };
  return { mode: algorithm, ...(bucket.kmsMasterKeyId !== undefined ? { kmsKeyId: bucket.kmsMasterKeyId } : {}), bucketKeyEnabled: bucket.bucketKeyEnabled };
}

/** GET and HEAD take no SSE headers but SSE-C's (S3: 400 for the others). */
export function refuseSseHeadersOnRead(req: S3Request): void {
  for (const name of ['x-amz-server-side-encryption', 'x-amz-server-side-encryption-aws-kms-key-id', 'x-amz-server-side-encryption-context', 'x-amz-server-side-encryption-bucket-key-enabled']) {
    if (header(req, name) !== undefined) {
      throw new S3Error('InvalidArgument', `${name} header is not supported for this operation.`, { fields: { ArgumentName: name } });
    }
  }
}

/** The SSE response headers of an object, as S3 sends them on PUT, GET, HEAD, copies and multipart. */
export function sseResponseHeaders(encryption: ObjectEncryption | undefined, options: { customerKeyMd5?: string; withContext?: boolean } = {}): Record<string, HeaderValue> {
  if (!encryption) return {};
  if (encryption.mode === 'SSE-C') {
    return {
      'x-amz-server-side-encryption-customer-algorithm': 'AES256',
      ...(options.customerKeyMd5 !== undefined ? { 'x-amz-server-side-encryption-customer-key-md5': options.customerKeyMd5 } : {}),
    };
  }
  const h: Record<string, HeaderValue> = { 'x-amz-server-side-encryption': encryption.mode };
  if (encryption.mode !== 'AES256') {
    h['x-amz-server-side-encryption-aws-kms-key-id'] = encryption.kmsKeyArn;
    if (encryption.bucketKeyEnabled) h['x-amz-server-side-encryption-bucket-key-enabled'] = 'true';
    if (options.withContext && encryption.context) {
      h['x-amz-server-side-encryption-context'] = Buffer.from(JSON.stringify(encryption.context), 'utf8').toString('base64');
    }
  }
  return h;
}
