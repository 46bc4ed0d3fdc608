/**
 * ListObjects (v1) and ListObjectsV2. Pages are built from index range scans:
 * a run of keys that rolls up into one CommonPrefix is skipped with one seek
 * past the prefix, never walked, so a page costs O(page), not O(bucket).
 */
import type { BucketEndpoint } from '../http/router.js';
import { S3Error } from '../errors/s3-errors.js';
import type { S3Request, S3Response } from '../http/types.js';
import type { BucketRecord, ObjectSummary } from '../metadata/metadata-store.js';
import { buildS3Xml, escapeXml, isXmlText, RawXml, renderNode, type XmlNode } from '../xml/xml.js';
import { ownerOf, requireBucket } from './access.js';
import type { S3Context } from './context.js';
import { objectOwnership } from './ownership.js';


/** The smallest string greater than every string that starts with `prefix` (UTF-8 order), or undefined. */
export function prefixEnd(prefix: string): string | undefined {
  const cps = [...prefix];
  while (cps.length > 0) {
    let cp = cps.pop()!.codePointAt(0)! + 1;
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xe000;
    if (cp <= 0x10ffff) return cps.join('') + String.fromCodePoint(cp);
  }
  return undefined;
}

export interface ListPage {
  contents: ObjectSummary[];
  commonPrefixes: string[];
  isTruncated: boolean;
  /** The last key or common prefix returned (S3's NextMarker). */
  last?: string;
}

export interface ListRequest {
  prefix: string;
  delimiter: string;
  /** Exclusive start: a key, or a common prefix already returned. */
  after?: string;
  maxKeys: number;
}

/** One page of a listing with prefix/delimiter roll-up, in UTF-8 key order. */
export async function listPage(ctx: S3Context, bucket: string, r: ListRequest): Promise<ListPage> {
  const page: ListPage = { contents: [], commonPrefixes: [], isTruncated: false };
  if (r.maxKeys === 0) return page;
  let start: { key: string; inclusive: boolean } | undefined = r.after !== undefined ? { key: r.after, inclusive: false } : undefined;
  // A marker that is itself a common prefix means "after everything under it".
  if (r.after !== undefined && r.delimiter !== '' && r.after.startsWith(r.prefix) && r.after.endsWith(r.delimiter)
    && r.after.indexOf(r.delimiter, r.prefix.length) === r.after.length - r.delimiter.length) {
    const end = prefixEnd(r.after);
    if (end === undefined) return page;
    start = { key: end, inclusive: true };
  }
  let count = 0;
  // With a delimiter, a batch may end up used for one row (its first key rolls up into a
  // CommonPrefix and the scan seeks past it): start small after every seek and grow while
  // the rows are all used, so a page never reads much more than it returns.
  let want = r.delimiter === '' ? 1000 : 2;
  for (;;) {
    const batchSize = Math.min(want, r.maxKeys - count + 1);
    want = Math.min(want * 4, 1000);
    const batch = await ctx.metadata.listObjects(bucket, { prefix: r.prefix, ...(start ? { start } : {}), limit: batchSize });
    if (batch.length === 0) return page;
    let jumped = false;
    for (const obj of batch) {
      const cut = r.delimiter === '' ? -1 : obj.key.indexOf(r.delimiter, r.prefix.length);
      const item = cut < 0 ? obj.key : obj.key.slice(0, cut + r.delimiter.length);
      if (count === r.maxKeys) {
        page.isTruncated = true;
        return page;
      }
      count++;
      page.last = item;
      if (cut < 0) {
        page.contents.push(obj);
        start = { key: obj.key, inclusive: false };
        continue;
      }
      page.commonPrefixes.push(item);
      const end = prefixEnd(item);
      if (end === undefined) return page;
      start = { key: end, inclusive: true };
      jumped = true;
      want = 2;
      break;
    }
    if (!jumped && batch.length < batchSize) return page;
  }
}

/** S3's `encoding-type=url`: percent-encode everything but unreserved characters and '/'. */
export function urlEncodeKey(s: string): string {
  return encodeURIComponent(s)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replaceAll('%2F', '/');
}

export function parseMaxKeys(v: string | null, name = 'max-keys'): number {
  if (v === null) return 1000;
  if (!/^-?\d+$/.test(v)) throw new S3Error('InvalidArgument', `Provided ${name} not an integer or within integer range`, { fields: { ArgumentName: name, ArgumentValue: v } });
  const n = Number(v);
  if (n < 0) throw new S3Error('InvalidArgument', `Argument ${name} must be an integer between 0 and 2147483647`, { fields: { ArgumentName: name, ArgumentValue: v } });
  return Math.min(n, 1000);
}

export function parseEncodingType(v: string | null): boolean {
  if (v === null) return false;
  if (v.toLowerCase() !== 'url') throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request', { fields: { ArgumentName: 'encoding-type', ArgumentValue: v } });
  return true;
}

/**
 * Whether a page goes out with encoding-type=url: when the client asked, and also when a
 * name in it (a key, a common prefix, an echoed parameter) holds a character XML 1.0 cannot
 * carry, such as U+0001. Amazon S3 writes those as `&#x1;`, which is not well-formed XML 1.0:
 * strict parsers (expat, Go's encoding/xml, Woodstox) then fail on the whole listing, and S3's
 * documentation tells clients to ask for encoding-type=url. Coffer answers as if they had,
 * and says so in EncodingType, the element S3 defines for exactly this: the page is
 * well-formed and every key survives, percent-encoded, for a client that decodes it.
 */
export function listingEncodesUrl(requested: boolean, page: ListPage, echoed: readonly (string | null)[]): boolean {
  if (requested) return true;
  return !(echoed.every((s) => s === null || isXmlText(s)) && page.contents.every((o) => isXmlText(o.key)) && page.commonPrefixes.every(isXmlText));
}

/** `<LastModified>` text: S3 keeps Last-Modified to the second (HEAD and GET send an HTTP date), so listings show that instant. */
function lastModifiedText(ms: number, cache: { second: number; text: string }): string {
  const second = Math.floor(ms / 1000);
  if (second !== cache.second) {
    cache.second = second;
    cache.text = new Date(second * 1000).toISOString();
  }
  return cache.text;
}

/**
 * The page's `<Contents>` elements, written by a template rather than as a node tree: a
 * page has up to 1000 of them, and this is most of the page's CPU (bench/RESULTS.md).
 * What S3 writes, in its order; only the key (and ETag and storage class, which never need
 * it in practice) go through escaping.
 */
function contentsXml(objects: ObjectSummary[], enc: (s: string) => string, owners: Map<string, string> | undefined): RawXml {
  const lastModified = { second: Number.NaN, text: '' };
  let out = '';
  for (const o of objects) {
    out += `<Contents><Key>${escapeXml(enc(o.key))}</Key><LastModified>${lastModifiedText(o.lastModified, lastModified)}</LastModified><ETag>&quot;${escapeXml(o.etag)}&quot;</ETag>`;
    if (o.checksumAlgorithm) out += `<ChecksumAlgorithm>${o.checksumAlgorithm}</ChecksumAlgorithm>`;
    if (o.checksumType) out += `<ChecksumType>${o.checksumType}</ChecksumType>`;
    out += `<Size>${o.size}</Size>${owners?.get(o.ownerId) ?? ''}<StorageClass>${escapeXml(o.storageClass)}</StorageClass></Contents>`;
  }
  return new RawXml(out);
}

/**
 * Each object's Owner element by the object's owner id: the bucket owner's account while ACLs
 * are disabled (BucketOwnerEnforced: it owns every object), else the object's own owner.
 */
async function ownersXml(ctx: S3Context, bucket: BucketRecord, objects: readonly ObjectSummary[]): Promise<Map<string, string>> {
  const enforced = (await objectOwnership(ctx, bucket.name)) === 'BucketOwnerEnforced';
  const out = new Map<string, string>();
  for (const o of objects) {
    if (out.has(o.ownerId)) continue;
    const owner = await ownerOf(ctx, enforced ? bucket.ownerId : o.ownerId);
    out.set(o.ownerId, renderNode(['Owner', [['ID', owner.id], ['DisplayName', owner.displayName]]]));
  }
  return out;
}

export async function listObjectsV1(ctx: S3Context, req: S3Request<BucketEndpoint>): Promise<S3Response> {
  const bucket = await requireBucket(ctx, req, req.endpoint.bucket);
  const q = req.query;
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') ?? '';
  const marker = q.get('marker') ?? '';
  const maxKeys = parseMaxKeys(q.get('max-keys'));
  const requested = parseEncodingType(q.get('encoding-type'));
  const page = await listPage(ctx, bucket.name, { prefix, delimiter, maxKeys, ...(marker ? { after: marker } : {}) });
  const url = listingEncodesUrl(requested, page, [prefix, delimiter, marker]);
  const enc = url ? urlEncodeKey : (s: string) => s;
  return {
    status: 200,
    headers: { 'content-type': 'application/xml' },
    body: buildS3Xml('ListBucketResult', [
      ['Name', bucket.name],
      ['Prefix', enc(prefix)],
      ['Marker', enc(marker)],
      ['MaxKeys', q.get('max-keys') !== null ? maxKeys : 1000],
      ['Delimiter', delimiter ? enc(delimiter) : undefined],
      ['IsTruncated', page.isTruncated],
      // S3 returns NextMarker only when a delimiter was given; clients use the last key otherwise.
      ['NextMarker', page.isTruncated && delimiter && page.last !== undefined ? enc(page.last) : undefined],
      ['EncodingType', url ? 'url' : undefined],
      contentsXml(page.contents, enc, await ownersXml(ctx, bucket, page.contents)),
      ...page.commonPrefixes.map((p): XmlNode => ['CommonPrefixes', [['Prefix', enc(p)]]]),
    ]),
  };
}

function decodeToken(token: string): string {
  const key = Buffer.from(token, 'base64url').toString('utf8');
  if (token === '' || Buffer.from(key, 'utf8').toString('base64url') !== token) {
    throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', { fields: { ArgumentName: 'continuation-token' } });
  }
  return key;
}

export async function listObjectsV2(ctx: S3Context, req: S3Request<BucketEndpoint>): Promise<S3Response> {
  const bucket = await requireBucket(ctx, req, req.endpoint.bucket);
  const q = req.query;
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') ?? '';
  const maxKeys = parseMaxKeys(q.get('max-keys'));
  const requested = parseEncodingType(q.get('encoding-type'));
  const token = q.get('continuation-token');
  const startAfter = q.get('start-after');
  const fetchOwner = q.get('fetch-owner') === 'true';
  let after: string | undefined;
  if (token !== null) after = decodeToken(token);
  else if (startAfter) after = startAfter;
  const page = await listPage(ctx, bucket.name, { prefix, delimiter, maxKeys, ...(after !== undefined ? { after } : {}) });
  const url = listingEncodesUrl(requested, page, [prefix, delimiter, startAfter]);
  const enc = url ? urlEncodeKey : (s: string) => s;
  return {
    status: 200,
    headers: { 'content-type': 'application/xml' },
    body: buildS3Xml('ListBucketResult', [
      ['Name', bucket.name],
      ['Prefix', enc(prefix)],
      ['MaxKeys', maxKeys],
      ['Delimiter', delimiter ? enc(delimiter) : undefined],
      ['IsTruncated', page.isTruncated],
      ['EncodingType', url ? 'url' : undefined],
      ['KeyCount', page.contents.length + page.commonPrefixes.length],
      ['ContinuationToken', token ?? undefined],
      ['NextContinuationToken', page.isTruncated && page.last !== undefined ? Buffer.from(page.last, 'utf8').toString('base64url') : undefined],
      ['StartAfter', startAfter !== null ? enc(startAfter) : undefined],
      contentsXml(page.contents, enc, fetchOwner ? await ownersXml(ctx, bucket, page.contents) : undefined),
      ...page.commonPrefixes.map((p): XmlNode => ['CommonPrefixes', [['Prefix', enc(p)]]]),
    ]),
  };
}
