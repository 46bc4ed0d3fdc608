/**
 * S3 versioning as handlers see it: the bucket's state (PutBucketVersioning,
 * GetBucketVersioning), the `versionId` a request names, the version headers of
 * responses, the errors S3 gives for delete markers, and ListObjectVersions.
 * The versions themselves are the metadata store's (metadata-store.ts).
 */
import type { BucketEndpoint } from '../http/router.js';
import { S3Error } from '../errors/s3-errors.js';
import type { HeaderValue, S3Request, S3Response } from '../http/types.js';
import type { BucketRecord, ObjectRecord, ObjectVersionEntry, VersioningState } from '../metadata/metadata-store.js';
import { isVersionIdSyntax, versionIdOf } from '../metadata/metadata-rules.js';
import { buildS3Xml, childText, isXmlText, onlyChildren, parseXml, type XmlNode } from '../xml/xml.js';
import { ownerOf, requireBucket } from './access.js';
import type { S3Context } from './context.js';
import { httpDate, quoteEtag, verifyBodyIntegrity } from './headers.js';
import { parseEncodingType, parseMaxKeys, prefixEnd, urlEncodeKey } from './list.js';
import { objectOwnership } from './ownership.js';

/** The bucket document holding the versioning state: `{"status":"Enabled"|"Suspended"}`. */
export const VERSIONING_CONFIG = 'versioning';
/** The bucket document of Object Lock (see object-lock.ts); a bucket with it can never suspend versioning. */
export const OBJECT_LOCK_CONFIG = 'objectLock';

const XML = { 'content-type': 'application/xml' };

/** The bucket's versioning state; undefined for a bucket that never had versioning. */
export async function bucketVersioning(ctx: S3Context, bucket: string): Promise<VersioningState | undefined> {
  const doc = await ctx.metadata.getBucketConfig(bucket, VERSIONING_CONFIG);
  if (doc === undefined) return undefined;
  const status = (JSON.parse(doc) as { status?: unknown }).status;
  return status === 'Enabled' || status === 'Suspended' ? status : undefined;
}

/**
 * The `versionId` (or another parameter) a request names, checked: S3 answers a value that is
 * not a version id at all with 400 InvalidArgument "Invalid version id specified"; a well-formed
 * id that names nothing is the caller's 404 NoSuchVersion later.
 */
export function requestedVersionId(req: S3Request, param = 'versionId'): string | undefined {
  const v = req.query.get(param);
  if (v === null) return undefined;
  checkVersionIdSyntax(v, param);
  return v;
}

export function checkVersionIdSyntax(v: string, param = 'versionId'): void {
  if (!isVersionIdSyntax(v)) throw new S3Error('InvalidArgument', 'Invalid version id specified', { fields: { ArgumentName: param, ArgumentValue: v } });
}

/** S3's 404 for a version id that names no version of the key. */
export function noSuchVersion(key: string, versionId: string): S3Error {
  return new S3Error('NoSuchVersion', undefined, { fields: { Key: key, VersionId: versionId } });
}

/**
 * A GET or HEAD that names a delete marker by version id: S3 answers 405 MethodNotAllowed with
 * `Allow: DELETE` (the only method a delete marker takes), its Last-Modified and the marker headers.
 */
export function deleteMarkerNamed(marker: ObjectRecord, method = 'GET'): S3Error {
  return new S3Error('MethodNotAllowed', undefined, {
    fields: { Method: method, ResourceType: 'DeleteMarker' },
    headers: { allow: 'DELETE', 'last-modified': httpDate(marker.lastModified), 'x-amz-delete-marker': 'true', 'x-amz-version-id': versionIdOf(marker) },
  });
}

/**
 * A GET or HEAD without version id of a key whose latest version is a delete marker: S3's 404
 * NoSuchKey, telling the client it is a delete marker (and which).
 */
export async function noSuchKey(ctx: S3Context, bucket: string, key: string): Promise<S3Error> {
  const latest = (await bucketVersioning(ctx, bucket)) !== undefined ? await ctx.metadata.getLatestVersion(bucket, key) : undefined;
  return new S3Error('NoSuchKey', undefined, {
    fields: { Key: key },
    ...(latest?.deleteMarker ? { headers: { 'x-amz-delete-marker': 'true', 'x-amz-version-id': versionIdOf(latest) } } : {}),
  });
}

/** `x-amz-version-id` of a response about `record`: sent once the bucket has a versioning state (S3 says `null` for the null version). */
export function versionIdHeader(state: VersioningState | undefined, record: ObjectRecord): Record<string, HeaderValue> {
  if (state === undefined && record.versionId === undefined) return {};
  return { 'x-amz-version-id': versionIdOf(record) };
}

/**
 * The object a request names: its `versionId`'s version or the current object. Delete markers
 * and missing versions get S3's errors (405 with Allow: DELETE, 404 NoSuchVersion / NoSuchKey).
 */
export async function resolveObjectVersion(ctx: S3Context, bucket: string, key: string, versionId: string | undefined, method = 'GET'): Promise<ObjectRecord> {
  if (versionId === undefined) {
    const current = await ctx.metadata.getObject(bucket, key);
    if (!current) throw await noSuchKey(ctx, bucket, key);
    return current;
  }
  const version = await ctx.metadata.getObjectVersion(bucket, key, versionId);
  if (!version) {
    // A bucket that never had versioning has only null versions: S3 says NoSuchKey for one that is missing.
    if (versionId === 'null' && (await bucketVersioning(ctx, bucket)) === undefined) throw await noSuchKey(ctx, bucket, key);
    throw noSuchVersion(key, versionId);
  }
  if (version.deleteMarker) throw deleteMarkerNamed(version, method);
  return version;
}

export async function getBucketVersioning(ctx: S3Context, req: S3Request<BucketEndpoint>): Promise<S3Response> {
  await requireBucket(ctx, req, req.endpoint.bucket);
  const state = await bucketVersioning(ctx, req.endpoint.bucket);
  // A bucket that never had versioning: S3 answers an empty configuration.
  return { status: 200, headers: XML, body: buildS3Xml('VersioningConfiguration', state ? [['Status', state]] : []) };
}

/**
 * PutBucketVersioning: Enabled or Suspended, never back to unversioned. MFA delete needs an MFA
 * device Coffer does not have: `MfaDelete Enabled` is 501 NotImplemented (Disabled is accepted).
 * A bucket with Object Lock cannot suspend versioning (S3: 409 InvalidBucketState).
 */
export async function putBucketVersioning(ctx: S3Context, req: S3Request<BucketEndpoint>): Promise<S3Response> {
  const bucket = await requireBucket(ctx, req, req.endpoint.bucket);
  const body = await req.readBody(64 * 1024);
  // The S3 API model requires an integrity checksum (Content-MD5 or x-amz-checksum-*) on this request.
  await verifyBodyIntegrity(req, body, { required: true });
  const doc = parseXml(body.toString('utf8'), 'VersioningConfiguration');
  onlyChildren(doc, ['Status', 'MfaDelete']);
  const status = childText(doc, 'Status');
  const mfaDelete = childText(doc, 'MfaDelete');
  if (status !== undefined && status !== 'Enabled' && status !== 'Suspended') throw new S3Error('MalformedXML');
  if (mfaDelete !== undefined && mfaDelete !== 'Enabled' && mfaDelete !== 'Disabled') throw new S3Error('MalformedXML');
  if (mfaDelete === 'Enabled') throw new S3Error('NotImplemented', 'MFA delete is not supported: Coffer has no MFA devices.');
  if (status === undefined) return { status: 200 };
  if (status === 'Suspended' && (await ctx.metadata.getBucketConfig(bucket.name, OBJECT_LOCK_CONFIG)) !== undefined) {
    throw new S3Error('InvalidBucketState', 'An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.');
  }
  if (!(await ctx.metadata.putBucketConfig(bucket.name, VERSIONING_CONFIG, JSON.stringify({ status })))) {
    throw new S3Error('NoSuchBucket', undefined, { fields: { BucketName: bucket.name } });
  }
  return { status: 200 };
}

interface VersionPage {
  entries: ObjectVersionEntry[];
  commonPrefixes: string[];
  isTruncated: boolean;
  /** Where the next page starts (NextKeyMarker / NextVersionIdMarker). */
  nextKeyMarker?: string;
  nextVersionIdMarker?: string;
}

/**
 * One ListObjectVersions page with prefix/delimiter roll-up, as list.ts's listPage: index range
 * scans, a CommonPrefix skipped with one seek, so a page costs O(page) however many versions.
 */
export async function listVersionPage(
  ctx: S3Context,
  bucket: string,
  r: { prefix: string; delimiter: string; keyMarker?: string; versionIdMarker?: string; maxKeys: number },
): Promise<VersionPage> {
  const page: VersionPage = { entries: [], commonPrefixes: [], isTruncated: false };
  if (r.maxKeys === 0) return page;
  let start: { key: string; inclusive: boolean } | undefined;
  let afterVersionId: string | undefined;
  if (r.keyMarker !== undefined && r.keyMarker !== '') {
    start = { key: r.keyMarker, inclusive: false };
    // S3 ignores version-id-marker without key-marker; with one, the marker key's older versions come first.
    if (r.versionIdMarker !== undefined && r.versionIdMarker !== '') afterVersionId = r.versionIdMarker;
    const km = r.keyMarker;
    if (afterVersionId === undefined && r.delimiter !== '' && km.startsWith(r.prefix) && km.endsWith(r.delimiter) && km.indexOf(r.delimiter, r.prefix.length) === km.length - r.delimiter.length) {
      const end = prefixEnd(km);
      if (end === undefined) return page;
      start = { key: end, inclusive: true };
    }
  }
  let count = 0;
  let want = r.delimiter === '' ? 1000 : 2;
  for (;;) {
    const limit = Math.min(want, r.maxKeys - count + 1);
    want = Math.min(want * 4, 1000);
    const batch = await ctx.metadata.listObjectVersions(bucket, { prefix: r.prefix, ...(start ? { start } : {}), ...(afterVersionId !== undefined ? { afterVersionId } : {}), limit });
    if (batch.length === 0) return page;
    let jumped = false;
    for (const entry of batch) {
      const key = entry.record.key;
      const cut = r.delimiter === '' ? -1 : key.indexOf(r.delimiter, r.prefix.length);
      if (count === r.maxKeys) {
        page.isTruncated = true;
        return page;
      }
      count++;
      if (cut < 0) {
        page.entries.push(entry);
        page.nextKeyMarker = key;
        page.nextVersionIdMarker = versionIdOf(entry.record);
        start = { key, inclusive: false };
        afterVersionId = versionIdOf(entry.record);
        continue;
      }
      const item = key.slice(0, cut + r.delimiter.length);
      page.commonPrefixes.push(item);
      page.nextKeyMarker = item;
      delete page.nextVersionIdMarker;
      const end = prefixEnd(item);
      if (end === undefined) return page;
      start = { key: end, inclusive: true };
      afterVersionId = undefined;
      jumped = true;
      want = 2;
      break;
    }
    if (!jumped && batch.length < limit) return page;
  }
}

/** ListObjectVersions (`GET /bucket?versions`): Version and DeleteMarker elements, keys ascending, each key's newest first. */
export async function listObjectVersions(ctx: S3Context, req: S3Request<BucketEndpoint>): Promise<S3Response> {
  const bucket: BucketRecord = await requireBucket(ctx, req, req.endpoint.bucket);
  const q = req.query;
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') ?? '';
  const keyMarker = q.get('key-marker') ?? '';
  const versionIdMarker = q.get('version-id-marker') ?? '';
  const maxKeys = parseMaxKeys(q.get('max-keys'));
  const requested = parseEncodingType(q.get('encoding-type'));
  // S3: a version-id-marker needs a key-marker, and must be a version id.
  if (versionIdMarker !== '' && keyMarker === '') {
    throw new S3Error('InvalidArgument', 'A version-id marker cannot be specified without a key marker.', { fields: { ArgumentName: 'version-id-marker', ArgumentValue: versionIdMarker } });
  }
  if (versionIdMarker !== '') checkVersionIdSyntax(versionIdMarker, 'version-id-marker');
  const page = await listVersionPage(ctx, bucket.name, { prefix, delimiter, maxKeys, keyMarker, versionIdMarker });
  // As ListObjects does (list.ts listingEncodesUrl): names XML 1.0 cannot carry send the page url-encoded, saying so.
  const url =
    requested ||
    ![prefix, delimiter, keyMarker, ...page.entries.map((e) => e.record.key), ...page.commonPrefixes].every((x) => isXmlText(x));
  const enc = url ? urlEncodeKey : (s: string) => s;
  const enforced = (await objectOwnership(ctx, bucket.name)) === 'BucketOwnerEnforced';
  const owners = new Map<string, XmlNode>();
  const ownerXml = async (id: string): Promise<XmlNode> => {
    let node = owners.get(id);
    if (!node) {
      const o = await ownerOf(ctx, id);
      node = ['Owner', [['ID', o.id], ['DisplayName', o.displayName]]];
      owners.set(id, node);
    }
    return node;
  };
  const items: XmlNode[] = [];
  for (const { record: o, isLatest } of page.entries) {
    // While ACLs are disabled the bucket owner owns every version and delete marker; otherwise its writer (or deleter).
    const owner = await ownerXml(enforced ? bucket.ownerId : o.ownerId || bucket.ownerId);
    const lastModified = new Date(Math.floor(o.lastModified / 1000) * 1000);
    const head: XmlNode[] = [['Key', enc(o.key)], ['VersionId', versionIdOf(o)], ['IsLatest', isLatest], ['LastModified', lastModified]];
    if (o.deleteMarker) {
      items.push(['DeleteMarker', [...head, owner]]);
    } else {
      // The element order of the S3 API reference's ListObjectVersions example.
      items.push([
        'Version',
        [
          ...head,
          ['ETag', quoteEtag(o.etag)],
          ['ChecksumAlgorithm', o.checksum?.algorithm],
          ['ChecksumType', o.checksum?.type],
          ['Size', o.size],
          ['StorageClass', o.storageClass],
          owner,
        ],
      ]);
    }
  }
  return {
    status: 200,
    headers: XML,
    body: buildS3Xml('ListVersionsResult', [
      ['Name', bucket.name],
      ['Prefix', enc(prefix)],
      ['KeyMarker', enc(keyMarker)],
      ['VersionIdMarker', versionIdMarker],
      ['NextKeyMarker', page.isTruncated && page.nextKeyMarker !== undefined ? enc(page.nextKeyMarker) : undefined],
      ['NextVersionIdMarker', page.isTruncated ? page.nextVersionIdMarker : undefined],
      ['MaxKeys', maxKeys],
      ['Delimiter', delimiter ? enc(delimiter) : undefined],
      ['IsTruncated', page.isTruncated],
      ['EncodingType', url ? 'url' : undefined],
      ...items,
      ...page.commonPrefixes.map((p): XmlNode => ['CommonPrefixes', [['Prefix', enc(p)]]]),
    ]),
  };
}
