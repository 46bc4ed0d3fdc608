/**
 * UpdateObjectEncryption (`PUT /{Key}?encryption`, the 2025 S3 API): moves an
 * object from SSE-S3 to SSE-KMS, to another KMS key, or onto an S3 Bucket Key,
 * by re-wrapping its data key. No data is rewritten: the blobs, ETag,
 * checksums and Last-Modified stay as they are. As in S3, DSSE-KMS and SSE-C
 * sources are refused (InvalidRequest), and the new type can only be SSE-KMS.
 */
import { S3Error } from '../errors/s3-errors.js';
import type { ObjectEndpoint } from '../http/router.js';
import type { S3Request, S3Response } from '../http/types.js';
import { childList, childText, onlyChildren, parseXml } from '../xml/xml.js';
import { requireBucket } from './access.js';
import type { S3Context } from './context.js';
import { verifyBodyIntegrity } from './headers.js';
import { kmsCaller, kmsKeyPermit, requireKmsDecrypt } from './kms-permissions.js';
import { versionIdOf } from '../metadata/metadata-rules.js';
import { bucketVersioning, requestedVersionId, resolveObjectVersion, versionIdHeader } from './versioning.js';

/** `<ObjectEncryption><SSE-KMS><KMSKeyArn/><BucketKeyEnabled/></SSE-KMS></ObjectEncryption>` */
export function parseObjectEncryption(body: string): { kmsKeyArn: string; bucketKeyEnabled: boolean } {
  const root = parseXml(body, 'ObjectEncryption');
  onlyChildren(root, ['SSE-KMS']);
  const kms = childList(root, 'SSE-KMS');
  if (kms.length !== 1) throw new S3Error('MalformedXML');
  onlyChildren(kms[0]!, ['KMSKeyArn', 'BucketKeyEnabled']);
  const arn = childText(kms[0]!, 'KMSKeyArn')?.trim();
  if (!arn) throw new S3Error('MalformedXML');
  const bucketKey = childText(kms[0]!, 'BucketKeyEnabled')?.trim();
  if (bucketKey !== undefined && bucketKey !== 'true' && bucketKey !== 'false') throw new S3Error('MalformedXML');
  return { kmsKeyArn: arn, bucketKeyEnabled: bucketKey === 'true' };
}

export async function updateObjectEncryption(ctx: S3Context, req: S3Request<ObjectEndpoint>): Promise<S3Response> {
  const { bucket, key } = req.endpoint;
  const versionId = requestedVersionId(req);
  await requireBucket(ctx, req, bucket);
  const body = await req.readBody(64 * 1024);
  await verifyBodyIntegrity(req, body, { required: true });
  const wanted = parseObjectEncryption(body.toString('utf8'));
  // S3: "You must specify the full AWS KMS key ARN. The KMS key ID and KMS key alias aren't supported."
  if (!/^arn:aws[-a-z0-9]*:kms:[-a-z0-9]*:[0-9]{12}:key\/.+$/.test(wanted.kmsKeyArn)) {
    throw new S3Error('InvalidRequest', 'The UpdateObjectEncryption operation requires a valid AWS KMS key ARN.');
  }
  // Each version keeps its own keys: a named version is re-wrapped alone (S3 takes versionId here too).
  const object = await resolveObjectVersion(ctx, bucket, key, versionId);
  const current = object.encryption;
  if (!current || (current.mode !== 'AES256' && current.mode !== 'aws:kms')) {
    throw new S3Error(
      'InvalidRequest',
      'The UpdateObjectEncryption operation doesn\'t support source objects with the encryption type DSSE-KMS or SSE-C. Only source objects encrypted with SSE-S3 or SSE-KMS are supported.',
    );
  }
  const keys = ctx.keys;
  const caller = kmsCaller(req);
  // S3 unwraps the data key under the object's KMS key and wraps it under the new one (with a
  // bucket key: under a data key the new key generates), both on the requester's behalf.
  await requireKmsDecrypt(ctx, req, current);
  const [dataKey] = await keys.open(current, { bucket, key }, caller);
  const permit = kmsKeyPermit(ctx, req, wanted.bucketKeyEnabled ? 'kms:GenerateDataKey' : 'kms:Encrypt');
  const next = await keys.rewrapForKms(dataKey!, { kmsKeyId: wanted.kmsKeyArn, bucketKeyEnabled: wanted.bucketKeyEnabled }, { bucket, key }, caller, permit);
  // Compare-and-set on that version (pinned by its id): one re-wrapped meanwhile keeps its own, newer keys.
  const outcome = await ctx.metadata.updateObjectVersion(bucket, key, versionIdOf(object), (v) =>
    JSON.stringify(v.encryption) === JSON.stringify(current) && v.objectId === object.objectId ? { ...v, encryption: next } : undefined,
  );
  if (outcome !== 'updated') {
    throw new S3Error('InvalidRequest', 'The object changed while its encryption was being updated; retry.');
  }
  return { status: 200, headers: versionIdHeader(await bucketVersioning(ctx, bucket), object) };
}
