/**
 * Raw HTTP requests to a test server, optionally signed by the AWS SDK's own
 * SigV4 signer (@smithy/signature-v4): for what SDKs will not send (no
 * Content-MD5, a wrong key MD5, malformed XML) or hide (the XML error document).
 */
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';
import { S3_ERRORS, type S3ErrorCode } from '../../src/errors/s3-errors.js';
import type { TestServer } from './server.js';

type SourceData = string | ArrayBuffer | ArrayBufferView;
const bytes = (d: SourceData) => (typeof d === 'string' ? Buffer.from(d) : ArrayBuffer.isView(d) ? Buffer.from(d.buffer, d.byteOffset, d.byteLength) : Buffer.from(d));

/** The hash constructor the SDK signer takes (HMAC when given a secret), on node:crypto. */
export class Sha256 {
  #h: { update(b: Buffer): unknown; digest(): Buffer };
  constructor(readonly secret?: SourceData) {
    this.#h = this.#fresh();
  }
  #fresh() {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(this.secret));
  }
  update(data: SourceData): void {
    this.#h.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return this.#h.digest();
  }
  reset(): void {
    this.#h = this.#fresh();
  }
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** Whether the server sent `100 Continue` first. */
  continued: boolean;
}

/** RFC 3986 encoding, as SigV4 canonicalizes query strings. */
export function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export function queryString(query: Record<string, string | string[] | null | undefined>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(query)) {
    for (const one of Array.isArray(v) ? v : [v ?? '']) parts.push(`${uriEncode(k)}=${uriEncode(one)}`);
  }
  return parts.join('&');
}

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** One XML element's text from a response document. */
export function xmlField(body: Buffer, name: string): string | undefined {
  const m = new RegExp(`<${name}>([^<]*)</${name}>`).exec(body.toString('utf8'));
  return m?.[1];
}

/** Asserts an S3 XML error: status from the shared table, Code, Message, RequestId = x-amz-request-id. */
export function expectXmlError(res: RawResponse, code: S3ErrorCode): void {
  assert.equal(res.status, S3_ERRORS[code].status, `HTTP status of ${code} (body: ${res.body.toString()})`);
  assert.equal(res.headers['content-type'], 'application/xml');
  assert.equal(xmlField(res.body, 'Code'), code);
  assert.ok(xmlField(res.body, 'Message'), 'the error has a Message');
  assert.equal(xmlField(res.body, 'RequestId'), res.headers['x-amz-request-id'], 'RequestId in the body is the x-amz-request-id header');
}

export function s3Signer(server: TestServer, secretAccessKey = server.secretAccessKey, accessKeyId = server.accessKeyId): SignatureV4 {
  return new SignatureV4({ credentials: { accessKeyId, secretAccessKey }, region: server.region, service: 's3', sha256: Sha256, uriEscapePath: false, applyChecksum: false });
}

export interface RawRequestOptions {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer;
  host?: string;
  waitForContinue?: boolean;
  /** Send the body with Transfer-Encoding: chunked (no Content-Length). */
  chunked?: boolean;
}

export function rawRequest(server: TestServer, options: RawRequestOptions): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: server.port, method: options.method, path: options.path, headers: { ...options.headers, ...(options.host ? { host: options.host } : {}) } });
    let continued = false;
    req.on('continue', () => {
      continued = true;
      if (options.waitForContinue) req.end(options.body);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks), continued }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (options.waitForContinue) return;
    if (options.chunked && options.body) {
      req.write(options.body);
      req.end();
    } else {
      req.end(options.body);
    }
  });
}

export interface SignedRequestOptions {
  method: string;
  path: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: Buffer;
  payloadHash?: string;
  signingDate?: Date;
  sign?: SignatureV4;
  waitForContinue?: boolean;
  chunked?: boolean;
}

/** Signs with the Authorization header (x-amz-content-sha256 = the body's hash unless given), then sends. */
export async function signedRequest(server: TestServer, options: SignedRequestOptions): Promise<RawResponse> {
  const host = `127.0.0.1:${server.port}`;
  const payloadHash = options.payloadHash ?? sha256Hex(options.body ?? Buffer.alloc(0));
  const out = await (options.sign ?? s3Signer(server)).sign(
    {
      method: options.method,
      protocol: 'http:',
      hostname: '127.0.0.1',
      port: server.port,
      path: options.path,
      query: options.query ?? {},
      headers: { host, 'x-amz-content-sha256': payloadHash, ...options.headers },
    },
    options.signingDate ? { signingDate: options.signingDate } : {},
  );
  const qs = queryString(options.query ?? {});
  return rawRequest(server, {
    method: options.method,
    path: qs ? `${options.path}?${qs}` : options.path,
    headers: out.headers,
    ...(options.body ? { body: options.body } : {}),
    ...(options.waitForContinue ? { waitForContinue: true } : {}),
    ...(options.chunked ? { chunked: true } : {}),
  });
}
