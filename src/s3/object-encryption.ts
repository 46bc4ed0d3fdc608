/**
 * The S3 side of object encryption, shared by every handler that writes or
 * reads object data (PutObject, GetObject/HeadObject, CopyObject,
 * CreateMultipartUpload/UploadPart/UploadPartCopy): choose the mode for a
 * write, recover the data keys for a read, and the S3 rules around them.
 */
import { BlobIntegrityError, type ObjectIdentity } from '../crypto/blob-format.js';
import { S3Error } from '../errors/s3-errors.js';
import type { S3Request } from '../http/types.js';
import type { ObjectEncryption, ObjectRecord } from '../metadata/metadata-store.js';
import type { NewKeys, ObjectTarget } from '../storage/object-keys.js';
import { readParts, type InclusiveRange } from '../storage/object-reader.js';
import { bucketEncryption } from './bucket-encryption.js';
import type { S3Context } from './context.js';
import { kmsCaller, kmsKeyPermit, requireKmsDecrypt } from './kms-permissions.js';
import { chooseSse, parseRequestedSse, parseSseCKey, refuseSseHeadersOnRead } from './sse.js';

export interface WriteKeys extends NewKeys {
  /** SSE-C: the client's MD5 of its key, echoed in the response. */
  customerKeyMd5?: string;
}

/** The keys a new object (or multipart upload) is encrypted under: the request's SSE headers, else the bucket default. */
export async function keysForWrite(ctx: S3Context, req: S3Request, target: ObjectTarget): Promise<WriteKeys> {
  const requested = parseRequestedSse(req, { allowInsecureSseC: ctx.config.allowInsecureSseC });
  const choice = chooseSse(requested, await bucketEncryption(ctx, target.bucket));
  const keys = await ctx.keys.create(choice, target, kmsCaller(req), kmsKeyPermit(ctx, req, 'kms:GenerateDataKey'));
  return { ...keys, ...(requested?.mode === 'SSE-C' ? { customerKeyMd5: requested.keyMd5 } : {}) };
}

export interface ReadKeys {
  dataKeys: Buffer[];
  customerKeyMd5?: string;
}

/**
 * The data keys to read an existing object (or to add parts to an upload):
 * SSE-C objects need the customer key in the request (the copy-source headers
 * for a copy's source); the other modes take no key headers on reads.
 * `withKeys: false` checks the headers (HEAD) without asking the KMS — and
 * without kms:Decrypt, which S3 requires only where it decrypts.
 */
export async function keysForRead(
  ctx: S3Context,
  req: S3Request,
  encryption: ObjectEncryption | undefined,
  target: ObjectTarget,
  options: { copySource?: boolean; withKeys?: boolean } = {},
): Promise<ReadKeys> {
  if (!options.copySource) refuseSseHeadersOnRead(req);
  const customer = parseSseCKey(req, { ...(options.copySource ? { copySource: true } : {}), allowInsecure: ctx.config.allowInsecureSseC });
  if (!encryption) {
    if (customer) throw new S3Error('InvalidRequest', 'The encryption parameters are not applicable to this object.');
    return { dataKeys: [] };
  }
  if (encryption.mode !== 'SSE-C') {
    if (customer) throw new S3Error('InvalidRequest', 'The encryption parameters are not applicable to this object.');
    if (options.withKeys === false) return { dataKeys: [] };
    await requireKmsDecrypt(ctx, req, encryption);
    return { dataKeys: await ctx.keys.open(encryption, target, kmsCaller(req)) };
  }
  const dataKeys = await ctx.keys.open(encryption, target, kmsCaller(req), customer?.key);
  return { dataKeys: options.withKeys === false ? [] : dataKeys, ...(customer ? { customerKeyMd5: customer.keyMd5 } : {}) };
}

/**
 * The identity an object's blobs are bound to: the bucket and key the request
 * named — the row's key, never fields of its document, which is what an
 * attacker editing the metadata store would swap — and the object id the
 * document carries (absent, '', on objects whose blobs predate the binding).
 */
export function objectIdentity(target: ObjectTarget, object: Pick<ObjectRecord, 'objectId'>): ObjectIdentity {
  return { bucket: target.bucket, key: target.key, objectId: object.objectId ?? '' };
}

/**
 * Streams `range` of the object found at `target`, decrypted as that object.
 * Data that fails authentication — tampered blobs, or a row whose document was
 * swapped with or copied from another object's — is never returned: the read
 * throws (the client gets InternalError) and the server logs an integrity failure.
 */
export async function* readObjectData(
  ctx: S3Context,
  req: S3Request,
  target: ObjectTarget,
  object: ObjectRecord,
  range: InclusiveRange,
  dataKeys: readonly Buffer[],
): AsyncGenerator<Buffer> {
  try {
    yield* readParts(ctx.blobs, object.parts, range, { dataKeys, identity: objectIdentity(target, object) });
  } catch (err) {
    if (err instanceof BlobIntegrityError) {
      ctx.log.error(
        { requestId: req.requestId, bucket: target.bucket, key: target.key, reason: err.message },
        'integrity failure: stored object data failed authentication (blobs altered, or the metadata row swapped or replayed)',
      );
    }
    throw err;
  }
}

/**
 * Pulls the first chunk of a stream before the response is committed, so a
 * failure at the start (a tampered first package, a missing blob) becomes an
 * error status instead of a 200 cut short.
 */
export async function primed(source: AsyncIterable<Buffer>): Promise<AsyncIterable<Buffer>> {
  const it = source[Symbol.asyncIterator]();
  const first = await it.next();
  return (async function* () {
    try {
      if (first.done) return;
      yield first.value;
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        yield r.value;
      }
    } finally {
      await it.return?.();
    }
  })();
}
