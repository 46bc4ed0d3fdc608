/**
 * GetObjectAttributes (`GET /{bucket}/{key}?attributes`): what HEAD tells and more,
 * without the body — the ETag, the object's checksum, its parts (for multipart objects,
 * paged with x-amz-max-parts / x-amz-part-number-marker), storage class and size, each only
 * when named in `x-amz-object-attributes`. As in S3: the ETag is unquoted; the checksum of
 * a COMPOSITE multipart object is the checksum of the part checksums without the `-N`
 * suffix; Part elements are listed only when the parts carry checksums (general purpose
 * buckets); an SSE-C object answers only with its key headers, as HEAD does.
 */
import { S3Error } from '../errors/s3-errors.js';
import type { ObjectEndpoint } from '../http/router.js';
import { header, type HeaderValue, type S3Request, type S3Response } from '../http/types.js';
import { buildS3Xml, type XmlNode } from '../xml/xml.js';
import { mayActOnObject, requireBucket } from './access.js';
import type { S3Context } from './context.js';
import { httpDate } from './headers.js';
import { bucketVersioning, requestedVersionId, resolveObjectVersion, versionIdHeader } from './versioning.js';
import { keysForRead } from './object-encryption.js';

const ATTRIBUTES = ['ETag', 'Checksum', 'ObjectParts', 'StorageClass', 'ObjectSize'] as const;
type Attribute = (typeof ATTRIBUTES)[number];
/** S3's page size for ObjectParts when x-amz-max-parts is not given (and its largest value). */
const MAX_PARTS = 1000;

function requestedAttributes(req: S3Request): Set<Attribute> {
  const raw = req.headers['x-amz-object-attributes'];
  const values = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
  const invalid = () => new S3Error('InvalidArgument', 'Invalid attribute name specified.', { fields: { ArgumentName: 'x-amz-object-attributes' } });
  if (values.length === 0) throw invalid();
  for (const v of values) if (!(ATTRIBUTES as readonly string[]).includes(v)) throw invalid();
  return new Set(values as Attribute[]);
}

function integerHeader(req: S3Request, name: string, fallback: number, max: number): number {
  const text = header(req, name);
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n > max) {
    throw new S3Error('InvalidArgument', `Argument ${name} must be an integer between 0 and ${max}`, { fields: { ArgumentName: name, ArgumentValue: text } });
  }
  return n;
}

export async function getObjectAttributes(ctx: S3Context, req: S3Request<ObjectEndpoint>): Promise<S3Response> {
  const { bucket, key } = req.endpoint;
  const versionId = requestedVersionId(req);
  const bucketRecord = await requireBucket(ctx, req, bucket);
  // S3 needs s3:GetObject (s3:GetObjectVersion for a named version) as well as s3:GetObjectAttributes (checked before the handler).
  if (!(await mayActOnObject(ctx, req, bucketRecord, key, versionId !== undefined ? 's3:GetObjectVersion' : 's3:GetObject'))) throw new S3Error('AccessDenied');
  const wanted = requestedAttributes(req);
  const maxParts = integerHeader(req, 'x-amz-max-parts', MAX_PARTS, MAX_PARTS);
  const marker = integerHeader(req, 'x-amz-part-number-marker', 0, 10_000);
  const object = await resolveObjectVersion(ctx, bucket, key, versionId, 'GET');
  // An SSE-C object tells nothing without its key (400 without the headers, 403 with another key).
  await keysForRead(ctx, req, object.encryption, { bucket, key }, { withKeys: false });

  const body: XmlNode[] = [];
  if (wanted.has('ETag')) body.push(['ETag', object.etag]);
  if (wanted.has('Checksum') && object.checksum) {
    const value = object.checksum.type === 'COMPOSITE' ? object.checksum.value.replace(/-\d+$/, '') : object.checksum.value;
    body.push(['Checksum', [[`Checksum${object.checksum.algorithm}`, value], ['ChecksumType', object.checksum.type]]]);
  }
  if (wanted.has('ObjectParts') && object.multipart) {
    const parts: XmlNode[] = [['PartsCount', object.parts.length]];
    // Without part checksums S3 lists no Part elements for a general purpose bucket: the count alone.
    if (object.parts.every((p) => p.checksum !== undefined)) {
      const after = object.parts.filter((p) => p.partNumber > marker);
      const page = after.slice(0, maxParts);
      const truncated = after.length > page.length;
      parts.push(
        ['PartNumberMarker', marker],
        ['NextPartNumberMarker', page.length > 0 ? page[page.length - 1]!.partNumber : marker],
        ['MaxParts', maxParts],
        ['IsTruncated', truncated],
        ...page.map((p): XmlNode => ['Part', [['PartNumber', p.partNumber], ['Size', p.size], [`Checksum${p.checksum!.algorithm}`, p.checksum!.value]]]),
      );
    }
    body.push(['ObjectParts', parts]);
  }
  if (wanted.has('StorageClass')) body.push(['StorageClass', object.storageClass]);
  if (wanted.has('ObjectSize')) body.push(['ObjectSize', object.size]);

  // S3's response headers: Last-Modified, and x-amz-version-id in a bucket with versioning.
  const headers: Record<string, HeaderValue> = {
    'content-type': 'application/xml',
    'last-modified': httpDate(object.lastModified),
    ...versionIdHeader(await bucketVersioning(ctx, bucket), object),
  };
  return { status: 200, headers, body: buildS3Xml('GetObjectAttributesResponse', body) };
}
