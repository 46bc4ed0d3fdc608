/**
 * Presigned URLs carry request headers in the query string: the AWS SDKs' presigners
 * "hoist" every `x-amz-*` header they sign (x-amz-acl, x-amz-tagging, x-amz-meta-*,
 * x-amz-checksum-*, x-amz-copy-source, …) into `?x-amz-acl=…`, and S3 honours them as
 * if they were sent as headers. They are signed — the canonical query is — so a
 * verified presigned request's hoisted headers are as trustworthy as its real ones.
 * Ignoring them would store an object without the metadata, tags, ACL or checksum
 * its URL was made for.
 */
import type { IncomingHttpHeaders } from 'node:http';

/** The presigned authentication parameters themselves: not headers. */
const AUTH_PARAMS = new Set(['x-amz-algorithm', 'x-amz-credential', 'x-amz-date', 'x-amz-expires', 'x-amz-signedheaders', 'x-amz-signature', 'x-amz-security-token']);

/**
 * Not taken from the query: the S3 User Guide ("Uploading objects with presigned URLs")
 * says presigned URLs do not support the additional checksum algorithms (CRC32, CRC32C,
 * SHA-1, SHA-256) and points to Content-MD5 instead. And the JavaScript SDK (since
 * 3.729) signs the checksum of an *empty* body (`x-amz-checksum-crc32=AAAAAA==`) into
 * every presigned PutObject: checking it would refuse every upload through such a URL.
 * As headers these are checked as always.
 */
function isChecksumParam(name: string): boolean {
  return name.startsWith('x-amz-checksum-') || name === 'x-amz-sdk-checksum-algorithm';
}

/** Whether the query string authenticates the request (SigV4 presigned). */
function isPresigned(query: URLSearchParams): boolean {
  return query.has('X-Amz-Signature') || query.has('X-Amz-Credential') || query.has('X-Amz-Algorithm');
}

/**
 * The request's headers with a presigned URL's hoisted `x-amz-*` query parameters added
 * (the request's own headers untouched when there are none). A name sent as a header too
 * keeps the header: SigV4 verification then refuses it unless it was signed (403
 * AccessDenied, HeadersNotSigned, as S3 answers a header added to a presigned URL).
 */
export function withHoistedHeaders(headers: IncomingHttpHeaders, query: URLSearchParams): IncomingHttpHeaders {
  if (!isPresigned(query)) return headers;
  let merged: IncomingHttpHeaders | undefined;
  for (const [rawName, value] of query) {
    const name = rawName.toLowerCase();
    if (!name.startsWith('x-amz-') || AUTH_PARAMS.has(name) || isChecksumParam(name)) continue;
    if (headers[name] !== undefined) continue;
    merged ??= { ...headers };
    const already = merged[name];
    merged[name] = already === undefined ? value : `${Array.isArray(already) ? already.join(',') : already},${value}`;
  }
  return merged ?? headers;
}
