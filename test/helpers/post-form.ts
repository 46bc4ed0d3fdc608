/**
 * HTML form uploads (POST Object) from tests: a multipart/form-data body built
 * byte by byte, and SigV4 POST policies signed as the S3 docs describe
 * (sigv4-HTTPPOSTConstructPolicy): signature = hex(HMAC(signing key, base64 policy)).
 */
import { createHmac } from 'node:crypto';
import { rawRequest, type RawResponse } from './raw-s3.js';
import type { TestServer } from './server.js';

export interface FormField {
  name: string;
  value: string | Buffer;
  filename?: string;
  contentType?: string;
}

export const BOUNDARY = '----CofferFormBoundary7MA4YWxkTrZu0gW';

export function formBody(fields: readonly FormField[], boundary = BOUNDARY): Buffer {
  const pieces: Buffer[] = [];
  for (const f of fields) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${f.name}"`;
    if (f.filename !== undefined) head += `; filename="${f.filename}"`;
    head += '\r\n';
    if (f.contentType !== undefined) head += `Content-Type: ${f.contentType}\r\n`;
    pieces.push(Buffer.from(`${head}\r\n`), Buffer.isBuffer(f.value) ? f.value : Buffer.from(f.value, 'utf8'), Buffer.from('\r\n'));
  }
  pieces.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(pieces);
}

/** Fields as an ordered list, from a record (createPresignedPost's `fields`). */
export function fieldList(record: Record<string, string>): FormField[] {
  return Object.entries(record).map(([name, value]) => ({ name, value }));
}

export function postForm(server: TestServer, bucket: string, fields: readonly FormField[], headers: Record<string, string> = {}): Promise<RawResponse> {
  return rawRequest(server, {
    method: 'POST',
    path: `/${bucket}`,
    headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, ...headers },
    body: formBody(fields),
  });
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

export interface PolicyOptions {
  /** Milliseconds from now; negative for an expired policy. */
  expiresInMs?: number;
  /** Leave out the conditions on x-amz-algorithm / -credential / -date (to test Extra input fields). */
  omitAuthConditions?: boolean;
  secretAccessKey?: string;
  accessKeyId?: string;
  /** Replace the computed signature. */
  signature?: string;
}

/** The signing fields of a SigV4 POST policy with these conditions (the auth fields' conditions added). */
export function signedPolicyFields(server: TestServer, conditions: unknown[], options: PolicyOptions = {}): FormField[] {
  const now = new Date();
  const amzDate = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const date = amzDate.slice(0, 8);
  const credential = `${options.accessKeyId ?? server.accessKeyId}/${date}/${server.region}/s3/aws4_request`;
  const all = options.omitAuthConditions
    ? conditions
    : [...conditions, { 'x-amz-algorithm': 'AWS4-HMAC-SHA256' }, { 'x-amz-credential': credential }, { 'x-amz-date': amzDate }];
  const policy = Buffer.from(JSON.stringify({ expiration: new Date(now.getTime() + (options.expiresInMs ?? 600_000)).toISOString(), conditions: all })).toString('base64');
  const key = hmac(hmac(hmac(hmac(`AWS4${options.secretAccessKey ?? server.secretAccessKey}`, date), server.region), 's3'), 'aws4_request');
  return [
    { name: 'x-amz-algorithm', value: 'AWS4-HMAC-SHA256' },
    { name: 'x-amz-credential', value: credential },
    { name: 'x-amz-date', value: amzDate },
    { name: 'policy', value: policy },
    { name: 'x-amz-signature', value: options.signature ?? hmac(key, policy).toString('hex') },
  ];
}
