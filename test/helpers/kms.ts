/** KMS clients and error assertions for tests that drive Coffer's AWS KMS API. */
import assert from 'node:assert/strict';
import { KMSClient } from '@aws-sdk/client-kms';
import { SignatureV4 } from '@smithy/signature-v4';
import { KMS_ERRORS, type KmsErrorType } from '../../src/kms/kms-errors.js';
import { Sha256 } from './raw-s3.js';
import type { TestServer } from './server.js';

/** An @aws-sdk/client-kms client with default settings, pointed at a test server. */
export function kmsClient(server: TestServer, overrides: Partial<ConstructorParameters<typeof KMSClient>[0]> = {}): KMSClient {
  return new KMSClient({
    endpoint: server.url,
    region: server.region,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    maxAttempts: 1,
    ...overrides,
  });
}

/** Asserts an SDK call failed with this KMS error type (`__type`) and the HTTP status of the one error table. */
export async function rejectsWithSdkError(p: Promise<unknown>, type: KmsErrorType): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    assert.equal(e.name, type, `expected ${type}, got ${e.name}: ${e.message}`);
    assert.equal(e.$metadata?.httpStatusCode, KMS_ERRORS[type], `HTTP status of ${type}`);
    return true;
  });
}

export interface RawKmsResponse {
  status: number;
  contentType: string | null;
  json: Record<string, unknown>;
}

/**
 * Sends a KMS JSON request by hand (as the SDK would, or deliberately not):
 * `POST /` with X-Amz-Target, signed with SigV4 for `service` unless `sign` is false.
 */
export async function rawKmsRequest(
  server: TestServer,
  target: string,
  body: string,
  options: { sign?: boolean; service?: string; secretAccessKey?: string; contentSha256?: string } = {},
): Promise<RawKmsResponse> {
  const url = new URL(server.url);
  const headers: Record<string, string> = {
    host: url.host,
    'content-type': 'application/x-amz-json-1.1',
    'x-amz-target': target,
    ...(options.contentSha256 !== undefined ? { 'x-amz-content-sha256': options.contentSha256 } : {}),
  };
  if (options.sign !== false) {
    const signer = new SignatureV4({
      credentials: { accessKeyId: server.accessKeyId, secretAccessKey: options.secretAccessKey ?? server.secretAccessKey },
      region: server.region,
      service: options.service ?? 'kms',
      sha256: Sha256,
    });
    const signed = await signer.sign({ method: 'POST', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: '/', headers, body });
    Object.assign(headers, signed.headers);
  }
  const { host: _host, ...sendHeaders } = headers;
  const res = await fetch(`${server.url}/`, { method: 'POST', headers: sendHeaders, body });
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get('content-type'), json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}
