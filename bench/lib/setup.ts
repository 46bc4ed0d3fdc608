/** Setting up a store under test: buckets, and a KMS key through the AWS KMS JSON API. */
import type { S3Client } from './client.js';
import { sha256Hex } from './sigv4.js';

/** Creates a bucket; one that already exists and is ours is fine. */
export async function createBucket(client: S3Client, bucket: string): Promise<void> {
  const reply = await client.send({ method: 'PUT', path: `/${bucket}`, body: [] });
  if (reply.status === 200) return;
  if (reply.status === 409 && reply.body?.toString('utf8').includes('BucketAlreadyOwnedByYou')) return;
  throw new Error(`CreateBucket ${bucket}: HTTP ${reply.status} ${reply.body?.toString('utf8').slice(0, 200) ?? ''}`);
}

/** A symmetric KMS key through the AWS KMS JSON API (TrentService.CreateKey) on the same endpoint. */
export async function createKmsKey(client: S3Client): Promise<string> {
  const body = Buffer.from('{"Description":"coffer benchmark"}');
  const reply = await client.ok(
    {
      method: 'POST',
      path: '/',
      service: 'kms',
      headers: { 'x-amz-target': 'TrentService.CreateKey', 'content-type': 'application/x-amz-json-1.1' },
      body: [body],
      payloadHash: sha256Hex(body),
      response: { kind: 'collect' },
    },
    'KMS CreateKey',
  );
  const parsed = JSON.parse(reply.body!.toString('utf8')) as { KeyMetadata?: { Arn?: string; KeyId?: string } };
  const id = parsed.KeyMetadata?.Arn ?? parsed.KeyMetadata?.KeyId;
  if (!id) throw new Error('KMS CreateKey: no KeyMetadata in the answer');
  return id;
}
