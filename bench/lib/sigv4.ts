/**
 * A lean AWS Signature Version 4 signer for the load generator: header
 * signing only, a signing key cached per (date, service), and the request
 * timestamp formatted once per second. It is written apart from
 * src/auth/sigv4 on purpose: a mistake shared by the signer and the verifier
 * would cancel out and go unnoticed.
 */
import { createHash, createHmac } from 'node:crypto';

export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** The payload hash a client sends when it does not hash the body (what SDKs do for large uploads over TLS). */
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

const ALGORITHM = 'AWS4-HMAC-SHA256';

/** RFC 3986 encoding as SigV4 wants it: `encodeURIComponent` plus `!'()*`. */
export function uriEncode(text: string, options: { keepSlash: boolean }): string {
  const encoded = encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return options.keepSlash ? encoded.replace(/%2F/g, '/') : encoded;
}

/**
 * The canonical query string of a parameter set. Requests put exactly this
 * text on the wire, so what is signed is what is sent.
 */
export function canonicalQuery(params: Readonly<Record<string, string>>): string {
  return Object.entries(params)
    .map(([k, v]) => [uriEncode(k, { keepSlash: false }), uriEncode(v, { keepSlash: false })] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export interface SignInput {
  method: string;
  /** `host[:port]` as sent. */
  host: string;
  /** The path as sent, already percent-encoded. */
  path: string;
  /** The canonical query string (see `canonicalQuery`), as sent. */
  query: string;
  /** Headers to sign, lower-case names. `host`, `x-amz-date` and `x-amz-content-sha256` are added. */
  headers: Readonly<Record<string, string>>;
  /** Hex SHA-256 of the body, or UNSIGNED-PAYLOAD. */
  payloadHash: string;
  /** `s3` or `kms`. */
  service: string;
}

export class Signer {
  readonly #credentials: Credentials;
  readonly #region: string;
  /** `date/service` → signing key: four HMACs saved on every request. */
  readonly #keys = new Map<string, Buffer>();
  #second = -1;
  #amzDate = '';

  constructor(credentials: Credentials, region: string) {
    this.#credentials = credentials;
    this.#region = region;
  }

  #timestamp(now: number): string {
    const second = Math.floor(now / 1000);
    if (second !== this.#second) {
      this.#second = second;
      this.#amzDate = new Date(second * 1000).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    }
    return this.#amzDate;
  }

  /** The SigV4 signing key for a date (`YYYYMMDD`) and service, cached. */
  signingKey(date: string, service: string): Buffer {
    return this.#signingKey(date, service);
  }

  /** The request time this signer would sign now (`YYYYMMDDTHHMMSSZ`). */
  timestamp(now = Date.now()): string {
    return this.#timestamp(now);
  }

  /**
   * A presigned URL's query string: `params` plus the X-Amz-* parameters, host
   * the only signed header, UNSIGNED-PAYLOAD. `params` go out in canonical order.
   */
  presign(input: { method: string; host: string; path: string; params: Readonly<Record<string, string>>; service: string; expiresSeconds: number }, now = Date.now()): string {
    const amzDate = this.#timestamp(now);
    const date = amzDate.slice(0, 8);
    const scope = `${date}/${this.#region}/${input.service}/aws4_request`;
    const query = canonicalQuery({
      ...input.params,
      'X-Amz-Algorithm': ALGORITHM,
      'X-Amz-Credential': `${this.#credentials.accessKeyId}/${scope}`,
      'X-Amz-Date': amzDate,
      'X-Amz-Expires': String(input.expiresSeconds),
      'X-Amz-SignedHeaders': 'host',
    });
    const canonicalRequest = `${input.method}\n${input.path}\n${query}\nhost:${input.host}\n\nhost\n${UNSIGNED_PAYLOAD}`;
    const stringToSign = `${ALGORITHM}\n${amzDate}\n${scope}\n${sha256Hex(canonicalRequest)}`;
    const signature = createHmac('sha256', this.#signingKey(date, input.service)).update(stringToSign).digest('hex');
    return `${query}&X-Amz-Signature=${signature}`;
  }

  #signingKey(date: string, service: string): Buffer {
    const id = `${date}/${service}`;
    let key = this.#keys.get(id);
    if (key === undefined) {
      const hmac = (k: Buffer | string, data: string) => createHmac('sha256', k).update(data).digest();
      key = hmac(hmac(hmac(hmac(`AWS4${this.#credentials.secretAccessKey}`, date), this.#region), service), 'aws4_request');
      if (this.#keys.size > 16) this.#keys.clear();
      this.#keys.set(id, key);
    }
    return key;
  }

  /** The headers to send: the input's, plus host, x-amz-date, x-amz-content-sha256 and authorization. */
  sign(input: SignInput, now = Date.now()): Record<string, string> {
    const amzDate = this.#timestamp(now);
    const date = amzDate.slice(0, 8);
    const headers: Record<string, string> = { ...input.headers, host: input.host, 'x-amz-date': amzDate, 'x-amz-content-sha256': input.payloadHash };
    const names = Object.keys(headers).sort();
    let canonicalHeaders = '';
    for (const name of names) canonicalHeaders += `${name}:${headers[name]!.trim()}\n`;
    const signedHeaders = names.join(';');
    const canonicalRequest = `${input.method}\n${input.path}\n${input.query}\n${canonicalHeaders}\n${signedHeaders}\n${input.payloadHash}`;
    const scope = `${date}/${this.#region}/${input.service}/aws4_request`;
    const stringToSign = `${ALGORITHM}\n${amzDate}\n${scope}\n${sha256Hex(canonicalRequest)}`;
    const signature = createHmac('sha256', this.#signingKey(date, input.service)).update(stringToSign).digest('hex');
    headers.authorization = `${ALGORITHM} Credential=${this.#credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
    return headers;
  }
}
