/**
 * Multipart uploads: Create, UploadPart, Complete, Abort, ListParts,
 * ListMultipartUploads, and the background sweep of stale uploads. Complete
 * stitches parts by reference in metadata; no byte is copied again.
 */
import type { BucketEndpoint, ObjectEndpoint } from '../http/router.js';
import { createHash, randomBytes } from 'node:crypto';
import { S3Error } from '../errors/s3-errors.js';
import { header, type HeaderValue, type S3Request, type S3Response } from '../http/types.js';
import type { ObjectIdentity } from '../crypto/blob-format.js';
import type { ChecksumAlgorithm, ChecksumType, ObjectRecord, PartRecord, StoredPart, UploadRecord } from '../metadata/metadata-store.js';
import { checksumHeaderName, compositeChecksum, parseChecksumAlgorithm } from '../storage/checksums.js';
import { commitWith, writeData, type WrittenData } from '../storage/object-writer.js';
import { buildS3Xml, childList, childText, onlyChildren, parseXml, type XmlNode } from '../xml/xml.js';
import { ownerOf, requireBucket } from './access.js';
import type { S3Context } from './context.js';
import { newObjectAcl } from './ownership.js';
import {
  contentMd5From,
  parseTaggingHeader,
  quoteEtag,
  requestedChecksum,
  storedHeadersFrom,
  unquoteEtag,
  userMetadataFrom,
  validateKey,
} from './headers.js';
import { parseEncodingType, prefixEnd, urlEncodeKey } from './list.js';
import { writeConditionFrom } from './object.js';
import { requireKmsDecrypt } from './kms-permissions.js';
import { keysForRead, keysForWrite } from './object-encryption.js';
import { sseResponseHeaders } from './sse.js';
import { etagFor } from '../storage/object-keys.js';
import { bucketVersioning, versionIdHeader } from './versioning.js';
import { defaultLockAtComplete, lockFieldsForWrite } from './object-lock.js';

const XML = { 'content-type': 'application/xml' };
export const MAX_PART_NUMBER = 10000;
const MAX_PART_SIZE = 5 * 1024 * 1024 * 1024;

/** Upload ids begin with the creation time, so their order is initiation order. */
function newUploadId(): string {
  return `${Date.now().toString(16).padStart(12, '0')}${randomBytes(16).toString('hex')}`;
}

function checksumElement(algorithm: ChecksumAlgorithm): string {
  return `Checksum${algorithm}`;
}

export async function createMultipartUpload(ctx: S3Context, req: S3Request<ObjectEndpoint>): Promise<S3Response> {
  const { bucket, key } = req.endpoint;
  validateKey(key);
  const bucketRecord = await requireBucket(ctx, req, bucket);
  const storageClass = header(req, 'x-amz-storage-class') ?? 'STANDARD';
  if (storageClass !== 'STANDARD') throw new S3Error('InvalidStorageClass');
  // The object's owner and ACL are decided now and given to it at Complete.
  const ownership = await newObjectAcl(ctx, req, bucketRecord);
  const algorithmText = header(req, 'x-amz-checksum-algorithm');
  const checksumAlgorithm = algorithmText !== undefined ? parseChecksumAlgorithm(algorithmText) : undefined;
  const typeText = header(req, 'x-amz-checksum-type')?.toUpperCase();
  if (typeText !== undefined && typeText !== 'COMPOSITE' && typeText !== 'FULL_OBJECT') {
    throw new S3Error('InvalidRequest', 'Value for x-amz-checksum-type header is invalid.');
  }
  let checksumType: ChecksumType | undefined = typeText as ChecksumType | undefined;
  if (checksumAlgorithm) {
    checksumType ??= checksumAlgorithm === 'CRC64NVME' ? 'FULL_OBJECT' : 'COMPOSITE';
    if (checksumType === 'FULL_OBJECT') {
      // S3 supports full-object checksums only for CRCs; combining part CRCs is not built yet.
      if (checksumAlgorithm === 'SHA1' || checksumAlgorithm === 'SHA256') {
        throw new S3Error('InvalidRequest', `The FULL_OBJECT checksum type cannot be used with the ${checksumAlgorithm.toLowerCase()} checksum algorithm.`);
      }
      throw new S3Error('NotImplemented', 'Full-object multipart checksums are not implemented by this Coffer version; use COMPOSITE.');
    }
  } else if (checksumType !== undefined) {
    throw new S3Error('InvalidRequest', 'The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.');
  }
  // The upload's data keys are made now: each part is encrypted as it arrives, and
  // Complete stitches the parts by reference, so they must share the object's keys.
  // Object Lock headers are kept with the upload; the bucket's default retention applies at Complete.
  const lock = await lockFieldsForWrite(ctx, req, bucket, { withDefault: false });
  const keys = await keysForWrite(ctx, req, { bucket, key });
  const upload: UploadRecord = {
    uploadId: newUploadId(),
    bucket,
    key,
    initiated: Date.now(),
    ownerId: ownership.ownerId,
    headers: storedHeadersFrom(req),
    userMetadata: userMetadataFrom(req),
    tags: parseTaggingHeader(header(req, 'x-amz-tagging')),
    ...(checksumAlgorithm ? { checksumAlgorithm } : {}),
    ...(checksumType ? { checksumType } : {}),
    storageClass,
    encryption: keys.encryption,
    ...(ownership.acl ? { acl: ownership.acl } : {}),
    ...(lock.retention || lock.legalHold ? { lock } : {}),
  };
  await ctx.metadata.createUpload(upload);
  const headers: Record<string, HeaderValue> = {
    ...XML,
    ...sseResponseHeaders(keys.encryption, { ...(keys.customerKeyMd5 !== undefined ? { customerKeyMd5: keys.customerKeyMd5 } : {}), withContext: true }),
  };
  if (checksumAlgorithm) {
    headers['x-amz-checksum-algorithm'] = checksumAlgorithm;
    headers['x-amz-checksum-type'] = checksumType;
  }
  return {
    status: 200,
    headers,
    body: buildS3Xml('InitiateMultipartUploadResult', [
      ['Bucket', bucket],
      ['Key', key],
      ['UploadId', upload.uploadId],
    ]),
  };
}

export function parsePartNumber(req: S3Request): number {
  const text = req.query.get('partNumber') ?? '';
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > MAX_PART_NUMBER) {
    throw new S3Error('InvalidArgument', `Part number must be an integer between 1 and ${MAX_PART_NUMBER}, inclusive`, {
      fields: { ArgumentName: 'partNumber', ArgumentValue: text },
    });
  }
  return n;
}

/** The upload named by `uploadId`, checked to belong to this bucket and key. */
export async function requireUpload(ctx: S3Context, req: S3Request<ObjectEndpoint>): Promise<UploadRecord> {
  const uploadId = req.query.get('uploadId') ?? '';
  const upload = uploadId ? await ctx.metadata.getUpload(uploadId) : undefined;
  if (!upload || upload.bucket !== req.endpoint.bucket || upload.key !== req.endpoint.key) {
    throw new S3Error('NoSuchUpload', undefined, { fields: { UploadId: uploadId } });
  }
  return upload;
}

/**
 * The identity an upload's parts are bound to: the object they will become, whose
 * objectId is the upload id (CompleteMultipartUpload stitches the parts by reference).
 */
export function uploadIdentity(upload: UploadRecord): ObjectIdentity {
  return { bucket: upload.bucket, key: upload.key, objectId: upload.uploadId };
}

/** Commits a written part and answers as UploadPart / UploadPartCopy do. */
export async function commitPart(ctx: S3Context, upload: UploadRecord, partNumber: number, written: WrittenData, dataKeys: readonly Buffer[]): Promise<PartRecord> {
  const part: PartRecord = {
    uploadId: upload.uploadId,
    partNumber,
    blobId: written.pending.blobId,
    size: written.size,
    etag: upload.encryption ? etagFor(upload.encryption, dataKeys, written.md5) : written.md5,
    ...(written.cipher ? { cipher: written.cipher } : {}),
    lastModified: Date.now(),
    ...(written.checksum ? { checksum: { ...written.checksum, type: upload.checksumType ?? 'COMPOSITE' } } : {}),
  };
  await commitWith([written.pending], () => ctx.metadata.putPart(part));
  return part;
}

export async function uploadPart(ctx: S3Context, req: S3Request<ObjectEndpoint>): Promise<S3Response> {
  await requireBucket(ctx, req, req.endpoint.bucket);
  const partNumber = parsePartNumber(req);
  const upload = await requireUpload(ctx, req);
  if (req.contentLength === undefined) throw new S3Error('MissingContentLength');
  const contentMd5 = contentMd5From(req);
  const requested = requestedChecksum(req);
  if (requested && upload.checksumAlgorithm && requested.algorithm !== upload.checksumAlgorithm) {
    throw new S3Error('InvalidRequest', `Checksum Type mismatch occurred, expected checksum Type: ${upload.checksumAlgorithm.toLowerCase()}, actual checksum Type: ${requested.algorithm.toLowerCase()}`);
  }
  const algorithm = upload.checksumAlgorithm ?? requested?.algorithm;
  // SSE-C uploads need the same customer key on every part (S3: 400 without it, 403 if another).
  const keys = await keysForRead(ctx, req, upload.encryption, { bucket: upload.bucket, key: upload.key });
  const written = await writeData(ctx.blobs, req.body(), {
    ...(contentMd5 ? { contentMd5 } : {}),
    ...(algorithm ? { checksumAlgorithm: algorithm } : {}),
    ...(requested ? { expectedChecksum: requested.expected } : {}),
    expectedSize: req.contentLength,
    maxSize: MAX_PART_SIZE,
    signal: req.signal,
    ...(upload.encryption ? { encrypt: { dataKeys: keys.dataKeys, partNumber, identity: uploadIdentity(upload) } } : {}),
  });
  const part = await commitPart(ctx, upload, partNumber, written, keys.dataKeys);
  const headers: Record<string, HeaderValue> = {
    etag: quoteEtag(part.etag),
    ...sseResponseHeaders(upload.encryption, keys.customerKeyMd5 !== undefined ? { customerKeyMd5: keys.customerKeyMd5 } : {}),
  };
  if (part.checksum) headers[checksumHeaderName(part.checksum.algorithm)] = part.checksum.value;
  return { status: 200, headers };
}

interface RequestedPart {
  partNumber: number;
  etag: string;
  checksums: Map<ChecksumAlgorithm, string>;
}

function parseCompleteBody(body: string): RequestedPart[] {
  const doc = parseXml(body, 'CompleteMultipartUpload');
  onlyChildren(doc, ['Part']);
  const parts = childList(doc, 'Part').map((p): RequestedPart => {
    onlyChildren(p, ['PartNumber', 'ETag', 'ChecksumCRC32', 'ChecksumCRC32C', 'ChecksumCRC64NVME', 'ChecksumSHA1', 'ChecksumSHA256']);
    const numberText = childText(p, 'PartNumber')?.trim();
    const etag = childText(p, 'ETag');
    if (numberText === undefined || etag === undefined || !/^\d+$/.test(numberText)) throw new S3Error('MalformedXML');
    const checksums = new Map<ChecksumAlgorithm, string>();
    for (const alg of ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as const) {
      const v = childText(p, checksumElement(alg));
      if (v !== undefined) checksums.set(alg, v.trim());
    }
    return { partNumber: Number(numberText), etag: unquoteEtag(etag), checksums };
  });
  if (parts.length === 0) throw new S3Error('MalformedXML');
  return parts;
}

/** `x-amz-mp-object-size`: the size the client expects the completed object to have (S3 refuses a mismatch). */
function checkObjectSize(req: S3Request, computed: number): void {
  const text = header(req, 'x-amz-mp-object-size');
  if (text === undefined) return;
  if (!/^\d+$/.test(text.trim())) {
    throw new S3Error('InvalidArgument', 'The x-amz-mp-object-size header must be a non-negative integer.', { fields: { ArgumentName: 'x-amz-mp-object-size', ArgumentValue: text } });
  }
  if (Number(text.trim()) !== computed) {
    throw new S3Error('InvalidRequest', `The provided 'x-amz-mp-object-size' header value ${text.trim()} does not match what was computed: ${computed}`);
  }
}

/**
 * CompleteMultipartUpload. A retry of a Complete that succeeded — SDKs retry one whose answer
 * they did not get — is answered as the first was: 200 and the same result, as S3 answers it,
 * while the key still holds the object that completion made (a multipart object's objectId is
 * its upload id) and the retry lists the same parts. Otherwise the upload is gone: NoSuchUpload.
 */
export async function completeMultipartUpload(ctx: S3Context, req: S3Request<ObjectEndpoint>): Promise<S3Response> {
  await requireBucket(ctx, req, req.endpoint.bucket);
  let requested: Promise<RequestedPart[]> | undefined;
  const requestedParts = () => (requested ??= req.readBody(4 * 1024 * 1024).then((b) => parseCompleteBody(b.toString('utf8'))));
  try {
    return await completeOpenUpload(ctx, req, requestedParts);
  } catch (err) {
    if (!(err instanceof S3Error) || err.code !== 'NoSuchUpload') throw err;
    const object = await ctx.metadata.getObject(req.endpoint.bucket, req.endpoint.key);
    const uploadId = req.query.get('uploadId') ?? '';
    if (!object || !object.multipart || uploadId === '' || object.objectId !== uploadId) throw err;
    const parts = await requestedParts();
    const same = parts.length === object.parts.length && parts.every((p, i) => p.partNumber === object.parts[i]!.partNumber && p.etag === object.parts[i]!.etag);
    if (!same) throw err;
    return completionResponse(object, versionIdHeader(await bucketVersioning(ctx, object.bucket), object));
  }
}

/** The CompleteMultipartUploadResult of a completed object (also what a retried Complete gets again). */
function completionResponse(object: ObjectRecord, extra: Record<string, HeaderValue> = {}): S3Response {
  const headers: Record<string, HeaderValue> = { ...XML, ...sseResponseHeaders(object.encryption), ...extra };
  const body: XmlNode[] = [
    ['Location', `/${object.bucket}/${urlEncodeKey(object.key)}`],
    ['Bucket', object.bucket],
    ['Key', object.key],
    ['ETag', quoteEtag(object.etag)],
  ];
  if (object.checksum) {
    body.push([checksumElement(object.checksum.algorithm), object.checksum.value], ['ChecksumType', object.checksum.type]);
    headers['x-amz-checksum-type'] = object.checksum.type;
  }
  return { status: 200, headers, body: buildS3Xml('CompleteMultipartUploadResult', body) };
}

async function completeOpenUpload(ctx: S3Context, req: S3Request<ObjectEndpoint>, requestedParts: () => Promise<RequestedPart[]>): Promise<S3Response> {
  const upload = await requireUpload(ctx, req);
  // S3 documents kms:Decrypt on the upload's key for completing it (it reads the encrypted parts), not only for the parts.
  await requireKmsDecrypt(ctx, req, upload.encryption);
  const condition = writeConditionFrom(req);
  const typeHeader = header(req, 'x-amz-checksum-type')?.toUpperCase();
  if (typeHeader !== undefined && upload.checksumType !== undefined && typeHeader !== upload.checksumType) {
    // S3: a checksum type on Complete that differs from CreateMultipartUpload's is BadDigest.
    throw new S3Error('BadDigest', `The checksum type ${typeHeader} does not match the checksum type of the upload.`);
  }
  const requested = await requestedParts();
  for (let i = 1; i < requested.length; i++) {
    if (requested[i]!.partNumber <= requested[i - 1]!.partNumber) throw new S3Error('InvalidPartOrder');
  }
  const stored = new Map<number, PartRecord>();
  for (let after = 0; ; ) {
    const page = await ctx.metadata.listParts(upload.uploadId, after, 1000);
    for (const p of page) stored.set(p.partNumber, p);
    if (page.length < 1000) break;
    after = page[page.length - 1]!.partNumber;
  }
  const parts: StoredPart[] = [];
  for (const [i, r] of requested.entries()) {
    const p = stored.get(r.partNumber);
    if (!p || p.etag !== r.etag) throw new S3Error('InvalidPart', undefined, { fields: { UploadId: upload.uploadId, PartNumber: r.partNumber, ETag: r.etag } });
    for (const [alg, value] of r.checksums) {
      if (!p.checksum || p.checksum.algorithm !== alg || p.checksum.value !== value) {
        throw new S3Error('InvalidPart', `The ${alg} checksum of part ${r.partNumber} does not match the uploaded part.`);
      }
    }
    if (upload.checksumAlgorithm && !p.checksum) throw new S3Error('InvalidPart', `Part ${r.partNumber} has no ${upload.checksumAlgorithm} checksum.`);
    if (upload.checksumAlgorithm && (upload.checksumType ?? 'COMPOSITE') === 'COMPOSITE' && !r.checksums.has(upload.checksumAlgorithm)) {
      // S3 refuses to complete a COMPOSITE-checksum upload unless the request names every part's checksum.
      throw new S3Error(
        'InvalidRequest',
        `The upload was created using a ${upload.checksumAlgorithm.toLowerCase()} checksum. The complete request must include the checksum for each part. It was missing for part ${r.partNumber} in the request.`,
      );
    }
    if (i < requested.length - 1 && p.size < ctx.config.minPartSize) {
      throw new S3Error('EntityTooSmall', undefined, {
        fields: { ProposedSize: p.size, MinSizeAllowed: ctx.config.minPartSize, PartNumber: r.partNumber, ETag: quoteEtag(p.etag) },
      });
    }
    parts.push({ partNumber: p.partNumber, blobId: p.blobId, size: p.size, etag: p.etag, ...(p.checksum ? { checksum: p.checksum } : {}), ...(p.cipher ? { cipher: p.cipher } : {}) });
  }
  checkObjectSize(req, parts.reduce((n, p) => n + p.size, 0));
  const md5s = createHash('md5');
  for (const p of parts) md5s.update(Buffer.from(p.etag, 'hex'));
  const etag = `${md5s.digest('hex')}-${parts.length}`;
  const object: ObjectRecord = {
    bucket: upload.bucket,
    key: upload.key,
    // The parts' blobs were bound to the upload id as they arrived.
    objectId: upload.uploadId,
    size: parts.reduce((n, p) => n + p.size, 0),
    etag,
    lastModified: Date.now(),
    headers: upload.headers,
    userMetadata: upload.userMetadata,
    tags: upload.tags,
    parts,
    multipart: true,
    storageClass: upload.storageClass,
    ownerId: upload.ownerId,
    ...(upload.encryption ? { encryption: upload.encryption } : {}),
    ...(upload.acl ? { acl: upload.acl } : {}),
    ...(await defaultLockAtComplete(ctx, upload.bucket, upload.lock)),
  };
  if (upload.checksumAlgorithm) {
    const alg = upload.checksumAlgorithm;
    object.checksum = { algorithm: alg, type: 'COMPOSITE', value: await compositeChecksum(alg, parts.map((p) => p.checksum!.value)) };
    // S3: an x-amz-checksum-<alg> on Complete is the client's expected object checksum; a mismatch is BadDigest.
    const expected = header(req, checksumHeaderName(alg))?.trim();
    if (expected !== undefined && expected !== object.checksum.value && `${expected}-${parts.length}` !== object.checksum.value) {
      throw new S3Error('BadDigest', `The ${alg.toLowerCase()} you specified did not match the calculated checksum.`);
    }
  }
  const versioning = await bucketVersioning(ctx, upload.bucket);
  const completed = await ctx.metadata.completeUpload(upload.uploadId, object, condition, versioning ? { versioning } : {});
  return completionResponse(object, versionIdHeader(versioning, completed));
}

export async function abortMultipartUpload(ctx: S3Context, req: S3Request<ObjectEndpoint>): Promise<S3Response> {
  await requireBucket(ctx, req, req.endpoint.bucket);
  const upload = await requireUpload(ctx, req);
  if (!(await ctx.metadata.abortUpload(upload.uploadId))) throw new S3Error('NoSuchUpload', undefined, { fields: { UploadId: upload.uploadId } });
  return { status: 204 };
}

/** Initiator and Owner: the account that will own the object (the bucket owner unless ACLs are enabled), by canonical id and display name. */
function ownerNodes(owner: { id: string; displayName: string }): XmlNode[] {
  return [
    ['Initiator', [['ID', owner.id], ['DisplayName', owner.displayName]]],
    ['Owner', [['ID', owner.id], ['DisplayName', owner.displayName]]],
  ];
}

function parseLimit(v: string | null, name: string): number {
  if (v === null) return 1000;
  if (!/^\d+$/.test(v)) throw new S3Error('InvalidArgument', `Provided ${name} not an integer or within integer range`, { fields: { ArgumentName: name, ArgumentValue: v } });
  return Math.min(Number(v), 1000);
}

export async function listParts(ctx: S3Context, req: S3Request<ObjectEndpoint>): Promise<S3Response> {
  await requireBucket(ctx, req, req.endpoint.bucket);
  const upload = await requireUpload(ctx, req);
  const owner = await ownerOf(ctx, upload.ownerId);
  const maxParts = parseLimit(req.query.get('max-parts'), 'max-parts');
  const markerText = req.query.get('part-number-marker') ?? '0';
  if (!/^\d+$/.test(markerText)) throw new S3Error('InvalidArgument', 'Provided part-number-marker not an integer or within integer range', { fields: { ArgumentName: 'part-number-marker', ArgumentValue: markerText } });
  const marker = Number(markerText);
  const page = maxParts === 0 ? [] : await ctx.metadata.listParts(upload.uploadId, marker, maxParts + 1);
  const truncated = page.length > maxParts;
  const shown = page.slice(0, maxParts);
  return {
    status: 200,
    headers: XML,
    body: buildS3Xml('ListPartsResult', [
      ['Bucket', upload.bucket],
      ['Key', upload.key],
      ['UploadId', upload.uploadId],
      ['PartNumberMarker', marker],
      ['NextPartNumberMarker', shown.length > 0 ? shown[shown.length - 1]!.partNumber : marker],
      ['MaxParts', maxParts],
      ['IsTruncated', truncated],
      ...shown.map((p): XmlNode => [
        'Part',
        [
          ['PartNumber', p.partNumber],
          ['LastModified', new Date(p.lastModified)],
          ['ETag', quoteEtag(p.etag)],
          ['Size', p.size],
          ...(p.checksum ? [[checksumElement(p.checksum.algorithm), p.checksum.value] as XmlNode] : []),
        ],
      ]),
      ...ownerNodes(owner),
      ['StorageClass', upload.storageClass],
      ['ChecksumAlgorithm', upload.checksumAlgorithm],
      ['ChecksumType', upload.checksumType],
    ]),
  };
}

export async function listMultipartUploads(ctx: S3Context, req: S3Request<BucketEndpoint>): Promise<S3Response> {
  const bucket = await requireBucket(ctx, req, req.endpoint.bucket);
  const owners = new Map<string, { id: string; displayName: string }>();
  const q = req.query;
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') ?? '';
  const keyMarker = q.get('key-marker') ?? '';
  const uploadIdMarker = q.get('upload-id-marker') ?? '';
  const maxUploads = parseLimit(q.get('max-uploads'), 'max-uploads');
  const url = parseEncodingType(q.get('encoding-type'));
  const enc = url ? urlEncodeKey : (s: string) => s;

  const uploads: UploadRecord[] = [];
  const prefixes: string[] = [];
  let truncated = false;
  let start: { key: string; inclusive: boolean } | undefined;
  let markers: { keyMarker?: string; uploadIdMarker?: string } = keyMarker ? { keyMarker, ...(uploadIdMarker ? { uploadIdMarker } : {}) } : {};
  // A key-marker that is itself a common prefix means "after everything under it" (as in ListObjects).
  // An absent key-marker is no marker at all: S3 lists from the start of the prefix, so the
  // endsWith guard is needed (for '' both sides of the indexOf test would be -1).
  let exhausted = false;
  if (
    delimiter &&
    keyMarker !== '' &&
    keyMarker.endsWith(delimiter) &&
    keyMarker.startsWith(prefix) &&
    keyMarker.indexOf(delimiter, prefix.length) === keyMarker.length - delimiter.length
  ) {
    const end = prefixEnd(keyMarker);
    if (end === undefined) exhausted = true;
    else {
      start = { key: end, inclusive: true };
      markers = {};
    }
  }
  outer: while (maxUploads > 0 && !exhausted) {
    const batch = await ctx.metadata.listUploads(bucket.name, { prefix, ...markers, ...(start ? { start } : {}), limit: 1000 });
    if (batch.length === 0) break;
    for (const u of batch) {
      const cut = delimiter === '' ? -1 : u.key.indexOf(delimiter, prefix.length);
      if (uploads.length + prefixes.length === maxUploads) {
        truncated = true;
        break outer;
      }
      if (cut < 0) {
        uploads.push(u);
        markers = { keyMarker: u.key, uploadIdMarker: u.uploadId };
        start = undefined;
        continue;
      }
      const cp = u.key.slice(0, cut + delimiter.length);
      prefixes.push(cp);
      const end = prefixEnd(cp);
      if (end === undefined) break outer;
      start = { key: end, inclusive: true };
      markers = {};
      continue outer;
    }
    if (batch.length < 1000) break;
  }
  for (const u of uploads) if (!owners.has(u.ownerId)) owners.set(u.ownerId, await ownerOf(ctx, u.ownerId));
  const lastUpload = uploads[uploads.length - 1];
  const lastPrefix = prefixes[prefixes.length - 1];
  const nextKey = lastPrefix !== undefined && (!lastUpload || lastPrefix > lastUpload.key) ? lastPrefix : lastUpload?.key;
  return {
    status: 200,
    headers: XML,
    body: buildS3Xml('ListMultipartUploadsResult', [
      ['Bucket', bucket.name],
      ['KeyMarker', enc(keyMarker)],
      ['UploadIdMarker', uploadIdMarker],
      ['NextKeyMarker', truncated && nextKey !== undefined ? enc(nextKey) : undefined],
      ['NextUploadIdMarker', truncated && lastUpload && nextKey === lastUpload.key ? lastUpload.uploadId : undefined],
      ['Delimiter', delimiter ? enc(delimiter) : undefined],
      ['Prefix', enc(prefix)],
      ['MaxUploads', maxUploads],
      ['IsTruncated', truncated],
      ['EncodingType', url ? 'url' : undefined],
      ...uploads.map((u): XmlNode => [
        'Upload',
        [
          ['Key', enc(u.key)],
          ['UploadId', u.uploadId],
          ...ownerNodes(owners.get(u.ownerId)!),
          ['StorageClass', u.storageClass],
          ['Initiated', new Date(u.initiated)],
          ['ChecksumAlgorithm', u.checksumAlgorithm],
          ['ChecksumType', u.checksumType],
        ],
      ]),
      ...prefixes.map((p): XmlNode => ['CommonPrefixes', [['Prefix', enc(p)]]]),
    ]),
  };
}

/** Aborts uploads older than the configured age; returns how many. */
export async function sweepStaleUploads(ctx: S3Context, now = Date.now()): Promise<number> {
  let n = 0;
  for (;;) {
    const stale = await ctx.metadata.staleUploads(now - ctx.config.staleUploadAgeMs, 100);
    for (const u of stale) if (await ctx.metadata.abortUpload(u.uploadId)) n++;
    if (stale.length < 100) return n;
  }
}
