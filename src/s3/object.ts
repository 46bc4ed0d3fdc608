/**
 * Single objects: PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects,
 * and object tagging — each on the version a request names (versioning.ts).
 */
import type { BucketEndpoint, ObjectEndpoint } from '../http/router.js';
import { S3Error } from '../errors/s3-errors.js';
import { header, type HeaderValue, type S3Request, type S3Response } from '../http/types.js';
import type { ObjectRecord, WriteCondition } from '../metadata/metadata-store.js';
import { checksumHeaderName } from '../storage/checksums.js';
import { BlobNotFoundError } from '../blob/blob-store.js';
import { releasingWhenDone } from '../storage/read-holds.js';
import { commitSingleBlob, newObjectId, singleBlobParts, writeData } from '../storage/object-writer.js';
import { buildS3Xml, childList, childText, onlyChildren, parseXml, type XmlNode } from '../xml/xml.js';
import { mayActOnObject, requireBucket } from './access.js';
import type { S3Context } from './context.js';
import { newObjectAcl } from './ownership.js';
import { keysForRead, keysForWrite, primed, readObjectData } from './object-encryption.js';
import { sseResponseHeaders } from './sse.js';
import { etagFor } from '../storage/object-keys.js';
import { isVersionIdSyntax, versionIdOf } from '../metadata/metadata-rules.js';
import { bucketVersioning, noSuchKey, requestedVersionId, resolveObjectVersion, versionIdHeader } from './versioning.js';
import { checkDeleteAllowed, lockFieldsForWrite, lockHeaders, mayBypassGovernance } from './object-lock.js';
import {
  checkConditions,
  contentMd5From,
  headerValueProblem,
  httpDate,
  parseTaggingHeader,
  quoteEtag,
  requestedChecksum,
  storedHeadersFrom,
  unquoteEtag,
  userMetadataFrom,
  validateKey,
  validateTags,
  verifyBodyIntegrity,
} from './headers.js';


/** The write conditions of a PUT: `If-None-Match: *` and `If-Match`. */
export function writeConditionFrom(req: S3Request): WriteCondition | undefined {
  const ifNoneMatch = header(req, 'if-none-match');
  const ifMatch = header(req, 'if-match');
  if (ifNoneMatch === undefined && ifMatch === undefined) return undefined;
  if (ifNoneMatch !== undefined && ifNoneMatch.trim() !== '*') {
    throw new S3Error('NotImplemented', 'Conditional writes support If-None-Match: * only.');
  }
  return { ...(ifNoneMatch !== undefined ? { ifNoneMatch: true } : {}), ...(ifMatch !== undefined ? { ifMatch: unquoteEtag(ifMatch) } : {}) };
}

export async function putObject(ctx: S3Context, req: S3Request<ObjectEndpoint>): Promise<S3Response> {
  const { bucket: bucketName, key } = req.endpoint;
  validateKey(key);
  const bucketRecord = await requireBucket(ctx, req, bucketName);
  if (req.contentLength === undefined && !req.bodyLengthUnknown) throw new S3Error('MissingContentLength');
  const storageClass = header(req, 'x-amz-storage-class') ?? 'STANDARD';
  if (storageClass !== 'STANDARD') throw new S3Error('InvalidStorageClass');
  // The object's owner and ACL (Object Ownership); an ACL the bucket refuses is refused before the body is read.
  const ownership = await newObjectAcl(ctx, req, bucketRecord);
  const headers = storedHeadersFrom(req);
  const userMetadata = userMetadataFrom(req);
  const tags = parseTaggingHeader(header(req, 'x-amz-tagging'));
  const condition = writeConditionFrom(req);
  const contentMd5 = contentMd5From(req);
  const checksum = requestedChecksum(req);
  if (condition) {
    // Fail fast before reading the body; the commit re-checks atomically.
    const current = await ctx.metadata.getObject(bucketName, key);
    if (condition.ifNoneMatch && current) throw new S3Error('PreconditionFailed');
    if (condition.ifMatch !== undefined && !current) throw new S3Error('NoSuchKey');
    if (condition.ifMatch !== undefined && current && current.etag !== condition.ifMatch) throw new S3Error('PreconditionFailed');
  }
  if (req.contentLength !== undefined && req.contentLength > ctx.config.maxObjectSize) throw new S3Error('EntityTooLarge');
  // Object Lock headers are checked (and refused on a bucket without Object Lock) before the body is read.
  const lock = await lockFieldsForWrite(ctx, req, bucketName, { contentMd5: contentMd5 !== undefined || checksum !== undefined });
  const keys = await keysForWrite(ctx, req, { bucket: bucketName, key });
  const objectId = newObjectId();
  const written = await writeData(ctx.blobs, req.body(), {
    ...(contentMd5 ? { contentMd5 } : {}),
    ...(checksum ? { checksumAlgorithm: checksum.algorithm, expectedChecksum: checksum.expected } : {}),
    ...(req.contentLength !== undefined ? { expectedSize: req.contentLength } : { lengthUnknown: true }),
    maxSize: ctx.config.maxObjectSize,
    signal: req.signal,
    encrypt: { dataKeys: keys.dataKeys, partNumber: 0, identity: { bucket: bucketName, key, objectId } },
  });
  const etag = etagFor(keys.encryption, keys.dataKeys, written.md5);
  const object: ObjectRecord = {
    bucket: bucketName,
    key,
    objectId,
    size: written.size,
    etag,
    lastModified: Date.now(),
    headers,
    userMetadata,
    tags,
    ...(written.checksum ? { checksum: written.checksum } : {}),
    parts: singleBlobParts(written, etag),
    multipart: false,
    storageClass,
    ownerId: ownership.ownerId,
    encryption: keys.encryption,
    ...(ownership.acl ? { acl: ownership.acl } : {}),
    ...lock,
  };
  const versioning = await bucketVersioning(ctx, bucketName);
  const stored = await commitSingleBlob(written, () => ctx.metadata.putObject(object, condition, versioning ? { versioning } : {}));
  const out: Record<string, HeaderValue> = {
    etag: quoteEtag(object.etag),
    ...versionIdHeader(versioning, stored),
    ...sseResponseHeaders(object.encryption, { ...(keys.customerKeyMd5 !== undefined ? { customerKeyMd5: keys.customerKeyMd5 } : {}), withContext: true }),
  };
  if (object.checksum) {
    out[checksumHeaderName(object.checksum.algorithm)] = object.checksum.value;
    out['x-amz-checksum-type'] = object.checksum.type;
  }
  return { status: 200, headers: out };
}

/** The current object at the key; S3's NoSuchKey (saying so when a delete marker hides the key) otherwise. */
export async function loadObject(ctx: S3Context, bucket: string, key: string): Promise<ObjectRecord> {
  const object = await ctx.metadata.getObject(bucket, key);
  if (!object) throw await noSuchKey(ctx, bucket, key);
  return object;
}

/** A single `bytes=` range resolved against a size; undefined means the whole object (also for syntax S3 ignores). */
export function parseRange(value: string | undefined, size: number): { start: number; end: number } | undefined {
  if (value === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(value.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  const unsatisfiable = () =>
    new S3Error('InvalidRange', undefined, { fields: { RangeRequested: value, ActualObjectSize: size }, headers: { 'content-range': `bytes */${size}` } });
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) throw unsatisfiable();
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (m[2] !== '' && Number(m[2]) < start) return undefined;
  if (start >= size) throw unsatisfiable();
  return { start, end };
}

/** Headers describing an object on GET and HEAD. */
export function objectHeaders(object: ObjectRecord): Record<string, HeaderValue> {
  const h: Record<string, HeaderValue> = {
    etag: quoteEtag(object.etag),
    'last-modified': httpDate(object.lastModified),
    'accept-ranges': 'bytes',
    'content-type': object.headers['content-type'] ?? 'binary/octet-stream',
  };
  for (const [name, value] of Object.entries(object.headers)) if (name !== 'content-type') h[name] = value;
  for (const [name, value] of Object.entries(object.userMetadata)) h[`x-amz-meta-${name}`] = value;
  if (object.tags.length > 0) h['x-amz-tagging-count'] = object.tags.length;
  if (object.storageClass !== 'STANDARD') h['x-amz-storage-class'] = object.storageClass;
  Object.assign(h, lockHeaders(object));
  return h;
}

const RESPONSE_OVERRIDES: Record<string, string> = {
  'response-content-type': 'content-type',
  'response-content-language': 'content-language',
  'response-expires': 'expires',
  'response-cache-control': 'cache-control',
  'response-content-disposition': 'content-disposition',
  'response-content-encoding': 'content-encoding',
};

/**
 * A `response-*` value checked before it becomes a header. S3 refuses what it cannot send:
 * 400 InvalidArgument "Header value cannot be represented using ISO-8859-1." naming the
 * parameter (a UTF-8 file name in response-content-disposition is the usual case; clients
 * send RFC 6266 `filename*=UTF-8''…` percent-encoded instead). Control characters (CR, LF,
 * NUL, DEL…) are refused the same way: they cannot be sent, and CR/LF would split the response.
 */
function responseOverride(param: string, value: string): string {
  const problem = headerValueProblem(value);
  if (problem === undefined) return value;
  const message = problem === 'not-latin1' ? 'Header value cannot be represented using ISO-8859-1.' : 'Header value contains characters that cannot be sent in an HTTP header.';
  throw new S3Error('InvalidArgument', message, { fields: { ArgumentName: param, ArgumentValue: value } });
}

/**
 * Runs a request that reads a stored object (GET, and the source of CopyObject and
 * UploadPartCopy) once more when the blob it opens is gone: it lost a race, the object it
 * resolved was replaced or deleted and its blob collected in between. An object of one blob
 * is collected without a grace period (metadata-rules.ts collectableAtOnce): this is where
 * its rare race ends. For objects of several blobs the grace period makes it all but
 * impossible unless configured shorter than the gap. Either way the key is resolved once
 * more and its current version (or NoSuchKey) used, never a 500 for a race. The same blob
 * missing twice running is no race: the object's data is lost (logged; InternalError).
 * Losing the race LOST_BLOB_ATTEMPTS times running is SlowDown.
 */
export async function retryingLostBlob<T>(ctx: S3Context, req: S3Request<ObjectEndpoint>, attempt: () => Promise<T>): Promise<T> {
  let lost: BlobNotFoundError | undefined;
  for (let tries = 0; ; tries++) {
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof BlobNotFoundError)) throw err;
      if (lost?.blobId === err.blobId) {
        ctx.log.error({ requestId: req.requestId, bucket: req.endpoint.bucket, key: req.endpoint.key, blobId: err.blobId }, 'blob of a stored object is missing');
        throw err;
      }
      // Lost the race every time: writers replace the key faster than it can be read. Retryable, as S3's throttling is.
      if (tries === LOST_BLOB_ATTEMPTS - 1) throw new S3Error('SlowDown');
      lost = err;
    }
  }
}

/** Attempts of a read that keeps finding its blob collected before it answers SlowDown. */
const LOST_BLOB_ATTEMPTS = 3;

function getOrHead(ctx: S3Context, req: S3Request<ObjectEndpoint>, withBody: boolean): Promise<S3Response> {
  return retryingLostBlob(ctx, req, () => resolveAndOpen(ctx, req, withBody));
}

async function resolveAndOpen(ctx: S3Context, req: S3Request<ObjectEndpoint>, withBody: boolean): Promise<S3Response> {
  const { bucket, key } = req.endpoint;
  const versionId = requestedVersionId(req);
  await requireBucket(ctx, req, bucket);
  // A named version is read with its own keys (SSE-C: its own customer key); a delete marker is 405.
  const object = await resolveObjectVersion(ctx, bucket, key, versionId, withBody ? 'GET' : 'HEAD');
  const versionHeaders = versionIdHeader(await bucketVersioning(ctx, bucket), object);
  if (!withBody) return respond(ctx, req, object, withBody, versionHeaders);
  // Held from the moment the object is resolved until its body has been sent (or abandoned).
  const release = ctx.holds.hold(object.parts.map((p) => p.blobId), req.signal);
  try {
    const response = await respond(ctx, req, object, withBody, versionHeaders);
    if (response.body === undefined || typeof response.body === 'string' || Buffer.isBuffer(response.body)) {
      release();
      return response;
    }
    return { ...response, body: releasingWhenDone(response.body, release) };
  } catch (err) {
    release();
    throw err;
  }
}

async function respond(ctx: S3Context, req: S3Request<ObjectEndpoint>, object: ObjectRecord, withBody: boolean, versionHeaders: Record<string, HeaderValue>): Promise<S3Response> {
  const { bucket, key } = req.endpoint;
  // SSE-C objects answer nothing, not even HEAD, without their key; other modes need the
  // KMS only when bytes are read (a HEAD of an SSE-KMS object makes no KMS call, as in S3).
  const keys = await keysForRead(ctx, req, object.encryption, { bucket, key }, { withKeys: withBody });
  checkConditions(
    object,
    {
      ifMatch: header(req, 'if-match'),
      ifNoneMatch: header(req, 'if-none-match'),
      ifModifiedSince: header(req, 'if-modified-since'),
      ifUnmodifiedSince: header(req, 'if-unmodified-since'),
    },
    'NotModified',
  );
  const headers = { ...objectHeaders(object), ...versionHeaders, ...sseResponseHeaders(object.encryption, keys.customerKeyMd5 !== undefined ? { customerKeyMd5: keys.customerKeyMd5 } : {}) };
  for (const [param, name] of Object.entries(RESPONSE_OVERRIDES)) {
    const v = req.query.get(param);
    if (v !== null) headers[name] = responseOverride(param, v);
  }

  let range: { start: number; end: number } | undefined;
  let status = 200;
  const partNumberText = req.query.get('partNumber');
  if (partNumberText !== null) {
    if (header(req, 'range') !== undefined) throw new S3Error('InvalidRequest', 'Cannot specify both Range header and partNumber query parameter');
    const partNumber = Number(partNumberText);
    if (!/^\d+$/.test(partNumberText) || partNumber < 1 || partNumber > 10000) {
      throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', { fields: { ArgumentName: 'partNumber', ArgumentValue: partNumberText } });
    }
    const parts = object.multipart ? object.parts : [{ size: object.size }];
    if (partNumber > parts.length) throw new S3Error('InvalidPartNumber');
    let start = 0;
    for (let i = 0; i < partNumber - 1; i++) start += parts[i]!.size;
    const size = parts[partNumber - 1]!.size;
    if (object.multipart) headers['x-amz-mp-parts-count'] = object.parts.length;
    if (size > 0) {
      range = { start, end: start + size - 1 };
      // S3 answers a partNumber read of a multipart object with 206 and Content-Range.
      if (object.multipart) status = 206;
    }
  } else {
    range = parseRange(header(req, 'range'), object.size);
    if (range) status = 206;
  }
  if (range && status === 206) headers['content-range'] = `bytes ${range.start}-${range.end}/${object.size}`;
  const length = range ? range.end - range.start + 1 : object.size;
  headers['content-length'] = length;
  if (object.checksum && header(req, 'x-amz-checksum-mode')?.toUpperCase() === 'ENABLED' && status === 200) {
    headers[checksumHeaderName(object.checksum.algorithm)] = object.checksum.value;
    headers['x-amz-checksum-type'] = object.checksum.type;
  }
  if (!withBody || length === 0) return { status, headers };
  const body = await primed(readObjectData(ctx, req, { bucket, key }, object, range ?? { start: 0, end: object.size - 1 }, keys.dataKeys));
  return { status, headers, body };
}

export function getObject(ctx: S3Context, req: S3Request<ObjectEndpoint>): Promise<S3Response> {
  return getOrHead(ctx, req, true);
}

export function headObject(ctx: S3Context, req: S3Request<ObjectEndpoint>): Promise<S3Response> {
  return getOrHead(ctx, req, false);
}

export async function deleteObject(ctx: S3Context, req: S3Request<ObjectEndpoint>): Promise<S3Response> {
  const { bucket, key } = req.endpoint;
  const versionId = requestedVersionId(req);
  const bucketRecord = await requireBucket(ctx, req, bucket);
  const ifMatch = header(req, 'if-match');
  if (ifMatch !== undefined) {
    const current = await loadObject(ctx, bucket, key);
    if (current.etag !== unquoteEtag(ifMatch)) throw new S3Error('PreconditionFailed');
  }
  const result = await deleteOne(ctx, req, bucketRecord, key, versionId);
  // S3 answers 204 whether or not the key (or version) existed.
  const headers: Record<string, HeaderValue> = {};
  if (result.deleteMarker) headers['x-amz-delete-marker'] = 'true';
  if (result.versionId !== undefined) headers['x-amz-version-id'] = result.versionId;
  return { status: 204, headers };
}

/**
 * One DeleteObject (or one key of DeleteObjects). With a version id: that version goes for good
 * (an Object Lock on it refuses, for everyone); `deleteMarker` then says whether it was a delete
 * marker. Without: in a versioned bucket a delete marker is added (its id returned), otherwise
 * the object goes.
 */
async function deleteOne(
  ctx: S3Context,
  req: S3Request,
  bucket: { name: string; ownerId: string },
  key: string,
  versionId: string | undefined,
): Promise<{ deleteMarker: boolean; versionId?: string }> {
  if (versionId !== undefined) {
    const mayBypass = await mayBypassGovernance(ctx, req, bucket.name, key);
    const removed = await ctx.metadata.deleteObjectVersion(bucket.name, key, versionId, { check: (v) => checkDeleteAllowed(v, { bypassGovernance: mayBypass }) });
    return { deleteMarker: removed?.deleteMarker === true, versionId };
  }
  const versioning = await bucketVersioning(ctx, bucket.name);
  if (!versioning) {
    await ctx.metadata.deleteObject(bucket.name, key);
    return { deleteMarker: false };
  }
  // The delete marker belongs to whoever deleted (S3 lists its Owner so).
  const marker = await ctx.metadata.deleteObject(bucket.name, key, { versioning, markerOwnerId: req.principal?.accountId ?? bucket.ownerId });
  return { deleteMarker: true, versionId: marker ? versionIdOf(marker) : 'null' };
}

export async function deleteObjects(ctx: S3Context, req: S3Request<BucketEndpoint>): Promise<S3Response> {
  const bucket = await requireBucket(ctx, req, req.endpoint.bucket);
  const body = await req.readBody(2 * 1024 * 1024);
  await verifyBodyIntegrity(req, body, { required: true });
  const doc = parseXml(body.toString('utf8'), 'Delete');
  onlyChildren(doc, ['Object', 'Quiet']);
  const quiet = childText(doc, 'Quiet')?.trim() === 'true';
  const objects = childList(doc, 'Object');
  if (objects.length === 0 || objects.length > 1000) throw new S3Error('MalformedXML');
  const results: XmlNode[] = [];
  for (const o of objects) {
    onlyChildren(o, ['Key', 'VersionId', 'ETag', 'LastModifiedTime', 'Size']);
    const key = childText(o, 'Key');
    if (key === undefined) throw new S3Error('MalformedXML');
    const versionId = childText(o, 'VersionId');
    const etag = childText(o, 'ETag');
    try {
      validateKey(key);
      if (versionId !== undefined && !isVersionIdSyntax(versionId)) throw new S3Error('NoSuchVersion', 'The specified version does not exist.');
      // S3 authorizes each key of a multi-object delete on its own (s3:DeleteObject, or s3:DeleteObjectVersion for a version).
      if (!(await mayActOnObject(ctx, req, bucket, key, versionId !== undefined ? 's3:DeleteObjectVersion' : 's3:DeleteObject'))) throw new S3Error('AccessDenied');
      // LastModifiedTime and Size conditions are for directory buckets only (S3 Express One Zone): refused, not ignored.
      if (childText(o, 'LastModifiedTime') !== undefined || childText(o, 'Size') !== undefined) {
        throw new S3Error('NotImplemented', 'LastModifiedTime and Size conditions are for directory buckets, which Coffer does not implement.');
      }
      // ETag: a conditional delete of this key (of the version named, else of the current object), as DeleteObject's If-Match.
      if (etag !== undefined) {
        const current = versionId !== undefined ? await resolveObjectVersion(ctx, bucket.name, key, versionId) : await ctx.metadata.getObject(bucket.name, key);
        if (!current) throw new S3Error('NoSuchKey');
        if (current.etag !== unquoteEtag(etag.trim())) throw new S3Error('PreconditionFailed');
      }
      const r = await deleteOne(ctx, req, bucket, key, versionId);
      // S3: with a version id, VersionId (and DeleteMarker when that version was one); without, in a
      // versioned bucket, DeleteMarker and the new marker's DeleteMarkerVersionId.
      const deleted: XmlNode[] = [['Key', key]];
      if (versionId !== undefined) {
        deleted.push(['VersionId', versionId]);
        if (r.deleteMarker) deleted.push(['DeleteMarker', true], ['DeleteMarkerVersionId', versionId]);
      } else if (r.deleteMarker) {
        deleted.push(['DeleteMarker', true], ['DeleteMarkerVersionId', r.versionId]);
      }
      if (!quiet) results.push(['Deleted', deleted]);
    } catch (err) {
      const e = err instanceof S3Error ? err : new S3Error('InternalError');
      if (!(err instanceof S3Error)) ctx.log.error({ err, requestId: req.requestId }, 'DeleteObjects entry failed');
      results.push(['Error', [['Key', key], ...(versionId !== undefined ? ([['VersionId', versionId]] as XmlNode[]) : []), ['Code', e.code], ['Message', e.message]]]);
    }
  }
  return { status: 200, headers: { 'content-type': 'application/xml' }, body: buildS3Xml('DeleteResult', results) };
}

/** The version a tagging request names (`versionId`) or the current object; delete markers have no tags (405). */
async function taggedVersion(ctx: S3Context, req: S3Request<ObjectEndpoint>): Promise<{ object: ObjectRecord; versionId: string | undefined }> {
  const versionId = requestedVersionId(req);
  await requireBucket(ctx, req, req.endpoint.bucket);
  const object = await resolveObjectVersion(ctx, req.endpoint.bucket, req.endpoint.key, versionId, req.method);
  return { object, versionId };
}

/** Replaces the tags of the version a request names; S3's errors when it is gone or a delete marker. */
async function setVersionTags(ctx: S3Context, req: S3Request<ObjectEndpoint>, tags: [string, string][]): Promise<Record<string, HeaderValue>> {
  const { object, versionId } = await taggedVersion(ctx, req);
  // The version resolved above, by id: an overwrite meanwhile must not move the tags to the new one.
  const outcome = await ctx.metadata.updateObjectVersion(req.endpoint.bucket, req.endpoint.key, versionId ?? versionIdOf(object), (v) => {
    if (v.deleteMarker) throw new S3Error('MethodNotAllowed');
    return { ...v, tags };
  });
  if (outcome === 'missing') throw await noSuchKey(ctx, req.endpoint.bucket, req.endpoint.key);
  return versionIdHeader(await bucketVersioning(ctx, req.endpoint.bucket), object);
}

export async function getObjectTagging(ctx: S3Context, req: S3Request<ObjectEndpoint>): Promise<S3Response> {
  const { object } = await taggedVersion(ctx, req);
  return {
    status: 200,
    headers: { 'content-type': 'application/xml', ...versionIdHeader(await bucketVersioning(ctx, req.endpoint.bucket), object) },
    body: buildS3Xml('Tagging', [['TagSet', object.tags.map(([k, v]): XmlNode => ['Tag', [['Key', k], ['Value', v]]])]]),
  };
}

export async function putObjectTagging(ctx: S3Context, req: S3Request<ObjectEndpoint>): Promise<S3Response> {
  requestedVersionId(req);
  await requireBucket(ctx, req, req.endpoint.bucket);
  const doc = parseXml((await req.readBody(64 * 1024)).toString('utf8'), 'Tagging');
  onlyChildren(doc, ['TagSet']);
  const tagSets = childList(doc, 'TagSet');
  if (tagSets.length !== 1) throw new S3Error('MalformedXML');
  onlyChildren(tagSets[0]!, ['Tag']);
  const tags: [string, string][] = childList(tagSets[0]!, 'Tag').map((t) => {
    onlyChildren(t, ['Key', 'Value']);
    const k = childText(t, 'Key');
    const v = childText(t, 'Value');
    if (k === undefined || v === undefined) throw new S3Error('MalformedXML');
    return [k, v];
  });
  validateTags(tags);
  return { status: 200, headers: await setVersionTags(ctx, req, tags) };
}

export async function deleteObjectTagging(ctx: S3Context, req: S3Request<ObjectEndpoint>): Promise<S3Response> {
  return { status: 204, headers: await setVersionTags(ctx, req, []) };
}
