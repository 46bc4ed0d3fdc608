/**
 * Server-side copies: CopyObject and UploadPartCopy. The source streams through
 * the same write pipeline as an upload (new blob, new MD5), never buffered whole.
 */
import type { ObjectEndpoint } from '../http/router.js';
import { S3Error } from '../errors/s3-errors.js';
import { header, type HeaderValue, type S3Request, type S3Response } from '../http/types.js';
import type { ObjectRecord } from '../metadata/metadata-store.js';
import { checksumHeaderName, parseChecksumAlgorithm } from '../storage/checksums.js';
import { commitSingleBlob, newObjectId, singleBlobParts, writeData } from '../storage/object-writer.js';
import { buildS3Xml, type XmlNode } from '../xml/xml.js';
import { requireBucket } from './access.js';
import type { S3Context } from './context.js';
import { newObjectAcl } from './ownership.js';
import {
  checkConditions,
  parseTaggingHeader,
  quoteEtag,
  storedHeadersFrom,
  userMetadataFrom,
  validateKey,
} from './headers.js';
import { commitPart, parsePartNumber, requireUpload, uploadIdentity } from './multipart.js';
import { retryingLostBlob, writeConditionFrom } from './object.js';
import { lockFieldsForWrite } from './object-lock.js';
import { bucketVersioning, checkVersionIdSyntax, resolveObjectVersion, versionIdHeader } from './versioning.js';
import { keysForRead, keysForWrite, readObjectData, type ReadKeys } from './object-encryption.js';
import { sseResponseHeaders } from './sse.js';
import { etagFor } from '../storage/object-keys.js';

const MAX_COPY_SIZE = 5 * 1024 * 1024 * 1024;

/** Parses `x-amz-copy-source`: `[/]bucket/key[?versionId=…]`, URL-encoded. */
export function parseCopySource(value: string): { bucket: string; key: string; versionId?: string } {
  let v = value.trim();
  const q = v.indexOf('?');
  let versionId: string | undefined;
  if (q >= 0) {
    versionId = new URLSearchParams(v.slice(q + 1)).get('versionId') ?? undefined;
    if (versionId !== undefined) checkVersionIdSyntax(versionId, 'x-amz-copy-source');
    v = v.slice(0, q);
  }
  if (v.startsWith('/')) v = v.slice(1);
  let decoded: string;
  try {
    decoded = decodeURIComponent(v);
  } catch {
    throw new S3Error('InvalidArgument', 'Invalid copy source encoding', { fields: { ArgumentName: 'x-amz-copy-source', ArgumentValue: value } });
  }
  const slash = decoded.indexOf('/');
  if (slash <= 0 || slash === decoded.length - 1) {
    throw new S3Error('InvalidArgument', 'Invalid copy source object key', { fields: { ArgumentName: 'x-amz-copy-source', ArgumentValue: value } });
  }
  return { bucket: decoded.slice(0, slash), key: decoded.slice(slash + 1), ...(versionId !== undefined ? { versionId } : {}) };
}

/**
 * Loads the copy source, applies the `x-amz-copy-source-if-*` conditions (412 on
 * failure) and recovers its data keys (an SSE-C source needs the
 * x-amz-copy-source-server-side-encryption-customer-* headers).
 */
async function loadCopySource(ctx: S3Context, req: S3Request): Promise<{ source: { bucket: string; key: string; versionId?: string }; object: ObjectRecord; keys: ReadKeys }> {
  const source = parseCopySource(header(req, 'x-amz-copy-source')!);
  await requireBucket(ctx, req, source.bucket);
  // A named version is copied with its own encryption keys (each version keeps its own); a delete marker cannot be copied (S3: 400 InvalidRequest).
  const object = await resolveCopySourceVersion(ctx, source);
  checkConditions(
    object,
    {
      ifMatch: header(req, 'x-amz-copy-source-if-match'),
      ifNoneMatch: header(req, 'x-amz-copy-source-if-none-match'),
      ifModifiedSince: header(req, 'x-amz-copy-source-if-modified-since'),
      ifUnmodifiedSince: header(req, 'x-amz-copy-source-if-unmodified-since'),
    },
    'PreconditionFailed',
  );
  return { source, object, keys: await keysForRead(ctx, req, object.encryption, source, { copySource: true }) };
}

/** Whether a copy asks for new encryption or a website redirect (S3 lets an object be copied onto itself for those). */
function changesEncryptionOrRedirect(req: S3Request): boolean {
  return (
    header(req, 'x-amz-server-side-encryption') !== undefined ||
    header(req, 'x-amz-server-side-encryption-customer-algorithm') !== undefined ||
    header(req, 'x-amz-website-redirect-location') !== undefined
  );
}

/**
 * The copy's stored headers. S3: the website redirect location "is unique to each object and
 * is not copied when using the x-amz-metadata-directive header"; only the request's counts.
 */
function copiedHeaders(req: S3Request, source: ObjectRecord, directive: 'COPY' | 'REPLACE'): Record<string, string> {
  if (directive === 'REPLACE') return storedHeadersFrom(req);
  const { 'x-amz-website-redirect-location': _dropped, ...rest } = source.headers;
  const redirect = header(req, 'x-amz-website-redirect-location');
  return redirect !== undefined ? { ...rest, 'x-amz-website-redirect-location': redirect } : rest;
}

async function resolveCopySourceVersion(ctx: S3Context, source: { bucket: string; key: string; versionId?: string }): Promise<ObjectRecord> {
  try {
    return await resolveObjectVersion(ctx, source.bucket, source.key, source.versionId);
  } catch (err) {
    if (err instanceof S3Error && err.code === 'MethodNotAllowed') {
      throw new S3Error('InvalidRequest', 'The source of a copy request may not specifically refer to a delete marker by version id.');
    }
    throw err;
  }
}

/** `x-amz-copy-source-version-id` of a copy's response: the version that was read, once its bucket has versioning. */
async function copySourceVersionHeader(ctx: S3Context, source: { bucket: string }, object: ObjectRecord): Promise<Record<string, HeaderValue>> {
  const state = await bucketVersioning(ctx, source.bucket);
  const h = versionIdHeader(state, object);
  return h['x-amz-version-id'] !== undefined ? { 'x-amz-copy-source-version-id': h['x-amz-version-id'] } : {};
}

function directive(req: S3Request, name: string): 'COPY' | 'REPLACE' {
  const v = header(req, name);
  if (v === undefined) return 'COPY';
  const upper = v.toUpperCase();
  if (upper !== 'COPY' && upper !== 'REPLACE') {
    throw new S3Error('InvalidArgument', `Unknown ${name}`, { fields: { ArgumentName: name, ArgumentValue: v } });
  }
  return upper;
}

/** CopyObject; a source whose blob is collected under it is resolved again, as a GET's is (object.ts). */
export function copyObject(ctx: S3Context, req: S3Request<ObjectEndpoint>): Promise<S3Response> {
  return retryingLostBlob(ctx, req, () => copyObjectOnce(ctx, req));
}

async function copyObjectOnce(ctx: S3Context, req: S3Request<ObjectEndpoint>): Promise<S3Response> {
  const { bucket, key } = req.endpoint;
  validateKey(key);
  const bucketRecord = await requireBucket(ctx, req, bucket);
  // The copy's owner and ACL come from this request and the destination bucket, never from the source.
  const ownership = await newObjectAcl(ctx, req, bucketRecord);
  const { source: sourceTarget, object: source, keys: sourceKeys } = await loadCopySource(ctx, req);
  const metadataDirective = directive(req, 'x-amz-metadata-directive');
  const taggingDirective = directive(req, 'x-amz-tagging-directive');
  const storageClass = header(req, 'x-amz-storage-class') ?? 'STANDARD';
  if (storageClass !== 'STANDARD') throw new S3Error('InvalidStorageClass');
  // Copying a named version onto its own key is how S3 restores an older version: allowed.
  if (source.bucket === bucket && source.key === key && sourceTarget.versionId === undefined && metadataDirective !== 'REPLACE' && !changesEncryptionOrRedirect(req)) {
    throw new S3Error(
      'InvalidRequest',
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
    );
  }
  if (source.size > MAX_COPY_SIZE) {
    throw new S3Error('InvalidRequest', 'The specified copy source is larger than the maximum allowable size for a copy source: 5368709120');
  }
  const algorithmText = header(req, 'x-amz-checksum-algorithm');
  const algorithm = algorithmText !== undefined ? parseChecksumAlgorithm(algorithmText) : source.checksum?.type === 'FULL_OBJECT' ? source.checksum.algorithm : undefined;
  const condition = writeConditionFrom(req);
  // The copy's Object Lock comes from this request (or the destination bucket's default), never from the source.
  const lock = await lockFieldsForWrite(ctx, req, bucket);
  // The copy is re-encrypted under new keys: the destination's own SSE headers, else its bucket's default,
  // and bound to its own identity (never sharing the source's blobs, which are bound to the source).
  const keys = await keysForWrite(ctx, req, { bucket, key });
  const objectId = newObjectId();
  // The source is held while it is read: an overwrite or delete of it meanwhile must not take its blobs away.
  const written = await ctx.holds.during(sourceBlobIds(source), () =>
    writeData(ctx.blobs, readObjectData(ctx, req, sourceTarget, source, { start: 0, end: source.size - 1 }, sourceKeys.dataKeys), {
      ...(algorithm ? { checksumAlgorithm: algorithm } : {}),
      expectedSize: source.size,
      maxSize: MAX_COPY_SIZE,
      signal: req.signal,
      encrypt: { dataKeys: keys.dataKeys, partNumber: 0, identity: { bucket, key, objectId } },
    }),
  );
  const etag = etagFor(keys.encryption, keys.dataKeys, written.md5);
  const object: ObjectRecord = {
    bucket,
    key,
    objectId,
    size: written.size,
    etag,
    lastModified: Date.now(),
    headers: copiedHeaders(req, source, metadataDirective),
    userMetadata: metadataDirective === 'REPLACE' ? userMetadataFrom(req) : source.userMetadata,
    tags: taggingDirective === 'REPLACE' ? parseTaggingHeader(header(req, 'x-amz-tagging')) : source.tags,
    ...(written.checksum ? { checksum: written.checksum } : {}),
    parts: singleBlobParts(written, etag),
    multipart: false,
    storageClass,
    ownerId: ownership.ownerId,
    encryption: keys.encryption,
    ...(ownership.acl ? { acl: ownership.acl } : {}),
    ...lock,
  };
  const versioning = await bucketVersioning(ctx, bucket);
  const stored = await commitSingleBlob(written, () => ctx.metadata.putObject(object, condition, versioning ? { versioning } : {}));
  const result: XmlNode[] = [
    ['ETag', quoteEtag(object.etag)],
    ['LastModified', new Date(object.lastModified)],
  ];
  if (object.checksum) result.push(['ChecksumType', object.checksum.type], [`Checksum${object.checksum.algorithm}`, object.checksum.value]);
  const headers: Record<string, HeaderValue> = {
    'content-type': 'application/xml',
    ...sseResponseHeaders(object.encryption, { ...(keys.customerKeyMd5 !== undefined ? { customerKeyMd5: keys.customerKeyMd5 } : {}), withContext: true }),
    ...versionIdHeader(versioning, stored),
    ...(await copySourceVersionHeader(ctx, sourceTarget, source)),
  };
  return { status: 200, headers, body: buildS3Xml('CopyObjectResult', result) };
}

/** `x-amz-copy-source-range: bytes=first-last`, which must lie inside the source. */
function parseCopyRange(value: string | undefined, size: number): { start: number; end: number } | undefined {
  if (value === undefined) return undefined;
  const m = /^bytes=(\d+)-(\d+)$/.exec(value.trim());
  if (!m) {
    throw new S3Error('InvalidArgument', 'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy', {
      fields: { ArgumentName: 'x-amz-copy-source-range', ArgumentValue: value },
    });
  }
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (end < start || end >= size) {
    throw new S3Error('InvalidRange', undefined, { fields: { RangeRequested: value, ActualObjectSize: size } });
  }
  return { start, end };
}

/** UploadPartCopy; its source, too, is resolved again when its blob is collected under it. */
export function uploadPartCopy(ctx: S3Context, req: S3Request<ObjectEndpoint>): Promise<S3Response> {
  return retryingLostBlob(ctx, req, () => uploadPartCopyOnce(ctx, req));
}

async function uploadPartCopyOnce(ctx: S3Context, req: S3Request<ObjectEndpoint>): Promise<S3Response> {
  await requireBucket(ctx, req, req.endpoint.bucket);
  const partNumber = parsePartNumber(req);
  const upload = await requireUpload(ctx, req);
  const { source: sourceTarget, object: source, keys: sourceKeys } = await loadCopySource(ctx, req);
  const keys = await keysForRead(ctx, req, upload.encryption, { bucket: upload.bucket, key: upload.key });
  const range = parseCopyRange(header(req, 'x-amz-copy-source-range'), source.size) ?? { start: 0, end: source.size - 1 };
  const length = range.end - range.start + 1;
  if (length > MAX_COPY_SIZE) throw new S3Error('InvalidRequest', 'The specified copy range is larger than the maximum allowable part size: 5368709120');
  const written = await ctx.holds.during(sourceBlobIds(source), () =>
    writeData(ctx.blobs, source.size === 0 ? emptySource() : readObjectData(ctx, req, sourceTarget, source, range, sourceKeys.dataKeys), {
      ...(upload.checksumAlgorithm ? { checksumAlgorithm: upload.checksumAlgorithm } : {}),
      expectedSize: source.size === 0 ? 0 : length,
      maxSize: MAX_COPY_SIZE,
      signal: req.signal,
      ...(upload.encryption ? { encrypt: { dataKeys: keys.dataKeys, partNumber, identity: uploadIdentity(upload) } } : {}),
    }),
  );
  const part = await commitPart(ctx, upload, partNumber, written, keys.dataKeys);
  const sourceVersion = await copySourceVersionHeader(ctx, sourceTarget, source);
  const result: XmlNode[] = [
    ['ETag', quoteEtag(part.etag)],
    ['LastModified', new Date(part.lastModified)],
  ];
  const headers: Record<string, HeaderValue> = {
    'content-type': 'application/xml',
    ...sseResponseHeaders(upload.encryption, keys.customerKeyMd5 !== undefined ? { customerKeyMd5: keys.customerKeyMd5 } : {}),
    ...sourceVersion,
  };
  if (part.checksum) {
    result.push([`Checksum${part.checksum.algorithm}`, part.checksum.value]);
    headers[checksumHeaderName(part.checksum.algorithm)] = part.checksum.value;
  }
  return { status: 200, headers, body: buildS3Xml('CopyPartResult', result) };
}

async function* emptySource(): AsyncGenerator<Buffer> {}

function sourceBlobIds(source: ObjectRecord): string[] {
  return source.parts.map((p) => p.blobId);
}
