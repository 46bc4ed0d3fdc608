/**
 * The console's calls go to Coffer's own S3, KMS and IAM APIs, as real HTTP
 * requests to this node's own listener, signed (SigV4) here with the logged-in
 * identity's credential: every call meets the same authentication, access
 * checks, audit and errors as one from the AWS CLI, so the console can do only
 * what that identity may do. There is no second API behind it.
 *
 * The connection goes over loopback to this process's own port. With TLS it is
 * TLS too, without checking the certificate's name (127.0.0.1 is not in it):
 * nothing else can hold that port while Coffer listens on it.
 */
import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { canonicalQuery, canonicalRequest, credentialScope, deriveSigningKey, sha256Hex, signatureHex, stringToSign, ALGORITHM } from '../auth/sigv4/canonical.js';
import type { Credential } from '../auth/sigv4/index.js';

export interface SelfTarget {
  protocol: 'http:' | 'https:';
  /** A loopback address (an unspecified listen address becomes loopback). */
  hostname: string;
  port: number;
}

/** Where this node can reach itself, from the URL it listens on. */
export function selfTarget(listenUrl: string): SelfTarget {
  const u = new URL(listenUrl);
  const bare = u.hostname.replace(/^\[|\]$/g, '');
  const hostname = bare === '0.0.0.0' ? '127.0.0.1' : bare === '::' ? '::1' : bare;
  return { protocol: u.protocol === 'https:' ? 'https:' : 'http:', hostname, port: Number(u.port) };
}

export interface SignedCall {
  service: 's3' | 'kms' | 'iam';
  method: string;
  /** The path as it goes on the wire (already percent-encoded, as S3 signs it). */
  path: string;
  /** The raw query string, without `?`. */
  query: string;
  /** Lower-case names; no host, date or authorization (added here). */
  headers: Record<string, string>;
  /** A small body (its SHA-256 is signed) or a stream (sent as UNSIGNED-PAYLOAD, S3 only). */
  body?: Buffer | AsyncIterable<Buffer>;
  signal?: AbortSignal;
}

function amzDate(now: Date): string {
  return now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/** Signs `call` as `credential` and sends it to this node; resolves with the response (its body unread). */
export async function sendSigned(target: SelfTarget, credential: Credential, region: string, call: SignedCall): Promise<http.IncomingMessage> {
  const timestamp = amzDate(new Date());
  const date = timestamp.slice(0, 8);
  const streamed = call.body !== undefined && !Buffer.isBuffer(call.body);
  const payloadHash = streamed ? 'UNSIGNED-PAYLOAD' : sha256Hex(call.body === undefined ? Buffer.alloc(0) : (call.body as Buffer));
  const host = `${target.hostname.includes(':') ? `[${target.hostname}]` : target.hostname}:${target.port}`;
  const headers: Record<string, string> = { ...call.headers, host, 'x-amz-date': timestamp, 'x-amz-content-sha256': payloadHash };
  if (!streamed) headers['content-length'] = String(call.body === undefined ? 0 : (call.body as Buffer).length);
  const signed = Object.keys(headers).map((h) => h.toLowerCase()).sort();
  const canonicalHeaders = signed.map((h) => `${h}:${String(headers[h]).trim().replace(/\s+/g, ' ')}\n`).join('');
  const request = canonicalRequest({ method: call.method, canonicalUri: call.path, canonicalQuery: canonicalQuery(call.query), canonicalHeaders, signedHeaders: signed, payloadHash });
  const scope = credentialScope(date, region, call.service);
  const signature = signatureHex(deriveSigningKey(credential.secretAccessKey, date, region, call.service), stringToSign(timestamp, scope, request));
  headers.authorization = `${ALGORITHM} Credential=${credential.accessKeyId}/${scope}, SignedHeaders=${signed.join(';')}, Signature=${signature}`;

  const transport = target.protocol === 'https:' ? https : http;
  return new Promise<http.IncomingMessage>((resolve, reject) => {
    const req = transport.request({
      protocol: target.protocol,
      hostname: target.hostname,
      port: target.port,
      method: call.method,
      path: call.query === '' ? call.path : `${call.path}?${call.query}`,
      headers,
      agent: false,
      ...(target.protocol === 'https:' ? { rejectUnauthorized: false } : {}),
      ...(call.signal ? { signal: call.signal } : {}),
    });
    req.once('response', resolve);
    req.once('error', reject);
    if (call.body === undefined) req.end();
    else if (Buffer.isBuffer(call.body)) req.end(call.body);
    else pipeline(Readable.from(call.body), req).catch((err: unknown) => req.destroy(err as Error));
  });
}
