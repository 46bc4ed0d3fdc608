/**
 * Request and response headers S3 operations share: stored representation
 * headers, user metadata, tagging, Content-MD5, checksums, conditionals, and
 * the limits S3 enforces on them.
 */
import { S3Error } from '../errors/s3-errors.js';
import { header, type S3Request } from '../http/types.js';
import type { ChecksumAlgorithm, ObjectRecord } from '../metadata/metadata-store.js';
import { createHash } from 'node:crypto';
import { CHECKSUM_ALGORITHMS, checksumHeaderName, createChecksumHasher, parseChecksumAlgorithm, validateChecksumValue } from '../storage/checksums.js';

/**
 * Headers S3 stores with an object and returns on GET/HEAD: the representation headers, and
 * the website redirect location (validated in request-headers.ts; a copy does not carry it over).
 */
export const STORED_HEADERS = [
  'content-type',
  'cache-control',
  'content-disposition',
  'content-encoding',
  'content-language',
  'expires',
  'x-amz-website-redirect-location',
] as const;

/**
 * A value that can go out as an HTTP header as given: ISO-8859-1 text without control
 * characters (HTAB aside). Headers are Latin-1 on the wire; node refuses anything else
 * (ERR_INVALID_CHAR), and a CR or LF would let a value split the response.
 */
export function headerValueProblem(value: string): 'not-latin1' | 'control' | undefined {
  if (/[^\t\x20-\x7e\x80-\xff]/.test(value)) return /[^\x00-\xff]/.test(value) ? 'not-latin1' : 'control';
  return undefined;
}

export const MAX_KEY_BYTES = 1024;
export const MAX_USER_METADATA_BYTES = 2048;

/** S3 refuses keys over 1,024 bytes of UTF-8 with 400 KeyTooLongError, naming the size and the limit. */
export function validateKey(key: string): void {
  const size = Buffer.byteLength(key, 'utf8');
  if (size > MAX_KEY_BYTES) throw new S3Error('KeyTooLongError', undefined, { fields: { Size: size, MaxSizeAllowed: MAX_KEY_BYTES } });
}

/** Content-Type and friends from a request; aws-chunked is transport framing, not content. */
export function storedHeadersFrom(req: Pick<S3Request, 'headers'>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of STORED_HEADERS) {
    let v = header(req, name);
    if (v === undefined) continue;
    if (name === 'content-encoding') {
      v = v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '' && s.toLowerCase() !== 'aws-chunked')
        .join(',');
      if (v === '') continue;
    }
    out[name] = v;
  }
  return out;
}

/** `x-amz-meta-*` headers, names lower-cased; S3 limits their total size to 2 KB. */
export function userMetadataFrom(req: Pick<S3Request, 'headers'>): Record<string, string> {
  const out: Record<string, string> = {};
  let bytes = 0;
  for (const [name, value] of Object.entries(req.headers)) {
    if (!name.startsWith('x-amz-meta-') || value === undefined) continue;
    const key = name.slice('x-amz-meta-'.length);
    const v = Array.isArray(value) ? value.join(',') : value;
    out[key] = v;
    bytes += Buffer.byteLength(key) + Buffer.byteLength(v);
  }
  if (bytes > MAX_USER_METADATA_BYTES) throw new S3Error('MetadataTooLarge');
  return out;
}

/**
 * The characters S3 allows in tag keys and values (the S3Tag pattern of the API reference):
 * letters, separators and numbers of any script, and `_ . : / = + - @`.
 */
const TAG_TEXT = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

/** Validates a tag set as S3 does: ≤ 10 tags, unique keys, key ≤ 128 and value ≤ 256 characters of the allowed set. */
export function validateTags(tags: [string, string][]): void {
  if (tags.length > 10) throw new S3Error('InvalidTag', 'Object tags cannot be greater than 10');
  const seen = new Set<string>();
  for (const [k, v] of tags) {
    if (k.length === 0 || [...k].length > 128 || !TAG_TEXT.test(k)) throw new S3Error('InvalidTag', 'The TagKey you have provided is invalid');
    if ([...v].length > 256) throw new S3Error('InvalidTag', 'The TagValue you have provided is too long');
    if (!TAG_TEXT.test(v)) throw new S3Error('InvalidTag', 'The TagValue you have provided is invalid');
    if (k.startsWith('aws:')) throw new S3Error('InvalidTag', 'Your TagKey cannot be prefixed with aws:');
    if (seen.has(k)) throw new S3Error('InvalidTag', 'Cannot provide multiple Tags with the same key');
    seen.add(k);
  }
}

/** The `x-amz-tagging` header: a URL query string of tags. */
export function parseTaggingHeader(value: string | undefined): [string, string][] {
  if (value === undefined || value === '') return [];
  const tags: [string, string][] = [];
  for (const [k, v] of new URLSearchParams(value)) tags.push([k, v]);
  // S3 answers a repeated key in the header with InvalidArgument (in a Tagging document, InvalidTag).
  if (new Set(tags.map(([k]) => k)).size !== tags.length) {
    throw new S3Error('InvalidArgument', "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.", {
      fields: { ArgumentName: 'x-amz-tagging', ArgumentValue: value },
    });
  }
  validateTags(tags);
  return tags;
}

/** Decodes Content-MD5: InvalidDigest unless it is base64 of 16 bytes. */
export function contentMd5From(req: Pick<S3Request, 'headers'>): Buffer | undefined {
  const v = header(req, 'content-md5');
  if (v === undefined) return undefined;
  const raw = Buffer.from(v, 'base64');
  if (raw.length !== 16 || raw.toString('base64') !== v.trim()) throw new S3Error('InvalidDigest');
  return raw;
}

export interface RequestedChecksum {
  algorithm: ChecksumAlgorithm;
  /** The value to verify against, once known (header now; trailer after the body). */
  expected: () => string | undefined;
}

/**
 * The checksum a write asks for: an `x-amz-checksum-<alg>` header, an
 * `x-amz-trailer` naming one (current AWS SDKs' default), or only
 * `x-amz-sdk-checksum-algorithm` / `x-amz-checksum-algorithm` (compute, nothing to verify).
 */
export function requestedChecksum(req: S3Request): RequestedChecksum | undefined {
  const found: ChecksumAlgorithm[] = CHECKSUM_ALGORITHMS.filter((a) => header(req, checksumHeaderName(a)) !== undefined);
  if (found.length > 1) throw new S3Error('InvalidRequest', 'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.');
  const trailer = header(req, 'x-amz-trailer')?.trim().toLowerCase();
  const declared = header(req, 'x-amz-sdk-checksum-algorithm') ?? header(req, 'x-amz-checksum-algorithm');
  if (found.length === 1) {
    const algorithm = found[0]!;
    const value = header(req, checksumHeaderName(algorithm))!;
    validateChecksumValue(algorithm, value);
    if (declared !== undefined && parseChecksumAlgorithm(declared) !== algorithm) {
      throw new S3Error('InvalidRequest', 'Value for x-amz-sdk-checksum-algorithm header is invalid.');
    }
    return { algorithm, expected: () => value };
  }
  if (trailer) {
    const algorithm = CHECKSUM_ALGORITHMS.find((a) => checksumHeaderName(a) === trailer);
    if (!algorithm) throw new S3Error('InvalidRequest', 'The value specified in the x-amz-trailer header is not supported');
    return {
      algorithm,
      expected: () => {
        const value = req.trailers()[trailer];
        if (value === undefined) throw new S3Error('IncompleteBody', 'The request did not include the trailing checksum it declared.');
        validateChecksumValue(algorithm, value);
        return value;
      },
    };
  }
  if (declared !== undefined) return { algorithm: parseChecksumAlgorithm(declared), expected: () => undefined };
  return undefined;
}

export function quoteEtag(etag: string): string {
  return `"${etag}"`;
}

/** Strips quotes (and a weak prefix) from an ETag a client sent. */
export function unquoteEtag(v: string): string {
  let s = v.trim();
  if (s.startsWith('W/')) s = s.slice(2);
  if (s.length >= 2 && s.startsWith('"') && s.endsWith('"')) s = s.slice(1, -1);
  return s;
}

function etagListMatches(list: string, etag: string): boolean {
  return list.split(',').some((t) => {
    const v = t.trim();
    return v === '*' || unquoteEtag(v) === etag;
  });
}

function parseHttpDate(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

export interface ConditionalHeaders {
  ifMatch?: string;
  ifNoneMatch?: string;
  ifModifiedSince?: string;
  ifUnmodifiedSince?: string;
}

/**
 * RFC 7232 evaluation as S3 does it for GET/HEAD and copy sources: If-Match
 * (412) takes precedence over If-Unmodified-Since; If-None-Match (304 for
 * GET/HEAD, 412 for copy sources) over If-Modified-Since.
 */
export function checkConditions(object: Pick<ObjectRecord, 'etag' | 'lastModified'>, h: ConditionalHeaders, notModified: 'NotModified' | 'PreconditionFailed'): void {
  const lastModifiedSec = Math.floor(object.lastModified / 1000) * 1000;
  if (h.ifMatch !== undefined) {
    if (!etagListMatches(h.ifMatch, object.etag)) throw new S3Error('PreconditionFailed');
  } else {
    const since = parseHttpDate(h.ifUnmodifiedSince);
    if (since !== undefined && lastModifiedSec > since) throw new S3Error('PreconditionFailed');
  }
  if (h.ifNoneMatch !== undefined) {
    if (etagListMatches(h.ifNoneMatch, object.etag)) throw notModifiedError(object, notModified);
  } else {
    const since = parseHttpDate(h.ifModifiedSince);
    if (since !== undefined && lastModifiedSec <= since) throw notModifiedError(object, notModified);
  }
}

function notModifiedError(object: Pick<ObjectRecord, 'etag' | 'lastModified'>, code: 'NotModified' | 'PreconditionFailed'): S3Error {
  if (code === 'PreconditionFailed') return new S3Error('PreconditionFailed');
  return new S3Error('NotModified', undefined, {
    headers: { etag: quoteEtag(object.etag), 'last-modified': new Date(object.lastModified).toUTCString() },
  });
}

export function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

/**
 * Verifies a small, fully read body against Content-MD5 and any `x-amz-checksum-*`
 * header. With `required`, one of them must be present, as S3 demands for
 * DeleteObjects and PutBucketEncryption (400 InvalidRequest otherwise).
 */
export async function verifyBodyIntegrity(req: S3Request, body: Buffer, options: { required: boolean }): Promise<void> {
  const md5 = contentMd5From(req);
  const checksum = requestedChecksum(req);
  const expected = checksum?.expected();
  if (options.required && !md5 && expected === undefined) {
    throw new S3Error('InvalidRequest', 'Missing required header for this request: Content-MD5');
  }
  if (md5 && !createHash('md5').update(body).digest().equals(md5)) throw new S3Error('BadDigest');
  if (checksum && expected !== undefined) {
    const h = createChecksumHasher(checksum.algorithm);
    h.update(body);
    if ((await h.digest()).toString('base64') !== expected) {
      throw new S3Error('BadDigest', `The ${checksum.algorithm} you specified did not match the calculated checksum.`);
    }
  }
}
