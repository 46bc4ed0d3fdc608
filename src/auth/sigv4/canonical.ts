/**
 * The pure parts of AWS Signature Version 4: URI encoding, the canonical
 * request, the string to sign, the signing key (with a cache) and the
 * signature itself. No I/O; `verify.ts` and `payload.ts` build on these.
 *
 * Reference: "Create a canonical request for Signature Version 4" in the AWS
 * IAM user guide, and the S3 variants in "Authenticating Requests (AWS
 * Signature Version 4)" of the Amazon S3 API reference.
 */
import { createHash, createHmac } from 'node:crypto';
import { hexDigestEqual } from '../../crypto/compare.js';

export const ALGORITHM = 'AWS4-HMAC-SHA256';
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/**
 * RFC 3986 encoding as SigV4 defines it: every byte but the unreserved
 * characters becomes `%XX` (upper-case hex); `/` is kept when `keepSlash`.
 */
export function uriEncode(text: string, keepSlash: boolean): string {
  let out = '';
  for (const ch of text) {
    if (UNRESERVED.test(ch) || (keepSlash && ch === '/')) {
      out += ch;
      continue;
    }
    for (const byte of Buffer.from(ch, 'utf8')) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Decodes `application/x-www-form-urlencoded`-style text (`+` is a space), as URLSearchParams does. */
function formDecode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}

/**
 * The canonical query string: every parameter decoded then re-encoded with
 * `uriEncode`, sorted by name then value. `omit` drops a parameter
 * (X-Amz-Signature of a presigned URL).
 */
export function canonicalQuery(rawQuery: string, omit?: string): string {
  if (rawQuery === '') return '';
  const pairs: [string, string][] = [];
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = formDecode(eq < 0 ? part : part.slice(0, eq));
    if (name === omit) continue;
    const value = eq < 0 ? '' : formDecode(part.slice(eq + 1));
    pairs.push([uriEncode(name, false), uriEncode(value, false)]);
  }
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

/**
 * Canonical URIs to try for a raw request path. S3 signs the path exactly as
 * sent (no normalization, no double encoding), which is what every AWS SDK
 * does; the second candidate (decoded then re-encoded) accepts clients that
 * percent-encode a few characters differently on the wire than in their
 * signature (older s3cmd versions do this for `~` and `*`).
 */
export function canonicalUris(rawPath: string): string[] {
  const path = rawPath === '' ? '/' : rawPath;
  let reencoded: string;
  try {
    reencoded = uriEncode(decodeURIComponent(path), true);
  } catch {
    return [path];
  }
  return reencoded === path ? [path] : [path, reencoded];
}

/** Trims a header value and collapses runs of spaces, as SigV4's canonical headers require. */
function canonicalHeaderValue(v: string): string {
  return v.trim().replace(/\s+/g, ' ');
}

/**
 * `name:value\n` for each signed header, in the order given (already sorted
 * lower-case names). Repeated headers are joined with `,` in arrival order,
 * which is why this reads node's rawHeaders rather than its merged view.
 * Returns undefined when a signed header is absent.
 */
export function canonicalHeaders(signedHeaders: readonly string[], rawHeaders: readonly string[]): string | undefined {
  const values = new Map<string, string[]>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    let list = values.get(name);
    if (!list) values.set(name, (list = []));
    list.push(canonicalHeaderValue(rawHeaders[i + 1]!));
  }
  let out = '';
  for (const name of signedHeaders) {
    const list = values.get(name);
    if (!list) return undefined;
    out += `${name}:${list.join(',')}\n`;
  }
  return out;
}

export interface CanonicalRequestParts {
  method: string;
  canonicalUri: string;
  canonicalQuery: string;
  canonicalHeaders: string;
  signedHeaders: readonly string[];
  payloadHash: string;
}

export function canonicalRequest(p: CanonicalRequestParts): string {
  return [p.method, p.canonicalUri, p.canonicalQuery, p.canonicalHeaders, p.signedHeaders.join(';'), p.payloadHash].join('\n');
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** `<date>/<region>/<service>/aws4_request` */
export function credentialScope(date: string, region: string, service: string): string {
  return `${date}/${region}/${service}/aws4_request`;
}

/**
 * The canonical request is hashed as the bytes the client sent. node hands
 * header values over as Latin-1 (one character per byte), so a client's UTF-8
 * `é` arrives as `Ã©`; hashed as UTF-8 it would become four bytes and fail to
 * verify. Everything else in a canonical request is ASCII, so Latin-1 is
 * exact whenever every character fits in a byte (callers that build the text
 * themselves with wider characters get UTF-8, as before).
 */
function canonicalRequestHash(text: string): string {
  // eslint-disable-next-line no-control-regex
  return createHash('sha256').update(text, /[^\u0000-\u00ff]/.test(text) ? 'utf8' : 'latin1').digest('hex');
}

export function stringToSign(timestamp: string, scope: string, canonicalRequestText: string): string {
  return `${ALGORITHM}\n${timestamp}\n${scope}\n${canonicalRequestHash(canonicalRequestText)}`;
}

/** kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request"). */
export function deriveSigningKey(secret: string, date: string, region: string, service: string): Buffer {
  const kDate = hmac(`AWS4${secret}`, date);
  const kRegion = hmac(kDate, region);
  const kService = hmac(kRegion, service);
  return hmac(kService, 'aws4_request');
}

/**
 * Signing keys change once a day per (key, region, service): caching them
 * saves four HMACs per request. The secret is part of the entry so a rotated
 * secret never reuses a stale key. Bounded; cleared wholesale when full.
 */
export class SigningKeyCache {
  readonly #entries = new Map<string, { secret: string; key: Buffer }>();
  readonly #max: number;

  constructor(options: { maxEntries?: number } = {}) {
    this.#max = options.maxEntries ?? 4096;
  }

  get(accessKeyId: string, secret: string, date: string, region: string, service: string): Buffer {
    const id = `${accessKeyId}\n${date}\n${region}\n${service}`;
    const hit = this.#entries.get(id);
    if (hit && hit.secret === secret) return hit.key;
    if (this.#entries.size >= this.#max) this.#entries.clear();
    const key = deriveSigningKey(secret, date, region, service);
    this.#entries.set(id, { secret, key });
    return key;
  }
}

/** hex(HMAC(signingKey, stringToSign)) */
export function signatureHex(signingKey: Buffer, toSign: string): string {
  return hmac(signingKey, toSign).toString('hex');
}

/** Compares a computed hex signature with a provided one in constant time. */
export function signaturesEqual(expectedHex: string, providedHex: string): boolean {
  return hexDigestEqual(Buffer.from(expectedHex, 'hex'), providedHex);
}
