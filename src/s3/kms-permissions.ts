/**
 * S3 uses a KMS key on the requester's behalf, so the requester needs the KMS
 * permission for each use, as in AWS: kms:GenerateDataKey to write an SSE-KMS
 * object (PutObject, CopyObject's destination, CreateMultipartUpload),
 * kms:Decrypt to read one (GetObject, a copy's source) or to add to a multipart
 * upload under a key (UploadPart, UploadPartCopy, CompleteMultipartUpload). The
 * decision is kms/kms-access.ts's — the one the KMS API applies to direct calls —
 * with kms:ViaService set to S3. It is made on every request: a bucket key may
 * spare the KMS call, never the check. HEAD decrypts nothing and needs nothing;
 * SSE-S3 objects answer to S3's own permissions only. A refusal is 403
 * AccessDenied with KMS's message naming the caller, the action and the key.
 */
import { S3Error } from '../errors/s3-errors.js';
import type { S3Request } from '../http/types.js';
import type { KmsAccessRequest } from '../kms/kms-access.js';
import { S3_SERVICE, type Kms, type KmsCaller } from '../kms/kms.js';
import type { ObjectEncryption } from '../metadata/metadata-store.js';
import type { KmsKeyPermit } from '../storage/object-keys.js';
import type { S3Context } from './context.js';

/** Who asks the KMS, for its audit log: the requester, with S3 acting for it (CloudTrail's invokedBy). */
export function kmsCaller(req: S3Request): KmsCaller {
  return { principal: req.principal?.arn ?? 'anonymous', invokedBy: S3_SERVICE, requestId: req.requestId };
}

/** The KMS actions S3 performs for a requester. */
export type KmsUse = 'kms:GenerateDataKey' | 'kms:Decrypt' | 'kms:Encrypt';

/** The ARN of the KMS's alias/aws/s3 key, by KMS: it never changes once made. */
const managedKeyArns = new WeakMap<Kms, Promise<string>>();

async function isManagedS3Key(ctx: S3Context, req: S3Request, keyArn: string): Promise<boolean> {
  const kms = ctx.kms;
  if (!kms) return false;
  let arn = managedKeyArns.get(kms);
  if (!arn) {
    arn = kms.managedS3Key({ principal: 'coffer:s3', requestId: req.requestId }).then((m) => m.arn);
    // A failed lookup is not remembered: the next request asks again.
    arn.catch(() => managedKeyArns.delete(kms));
    managedKeyArns.set(kms, arn);
  }
  return (await arn) === keyArn;
}

/** Throws 403 AccessDenied unless the requester may have S3 do `action` with the KMS key `keyArn`. */
export async function requireKmsPermission(ctx: S3Context, req: S3Request, action: KmsUse, keyArn: string): Promise<void> {
  const principal = req.principal;
  const request: KmsAccessRequest = { action, resource: keyArn, viaService: 's3' };
  // AWS KMS has no anonymous callers: an SSE-KMS object cannot be written or read anonymously, whatever the bucket policy says.
  let decision = principal ? ctx.kmsAccess.decide(principal, request) : { effect: 'ImplicitDeny' as const, reason: 'anonymous callers cannot use KMS keys' };
  if (principal && decision.effect === 'ImplicitDeny' && (await isManagedS3Key(ctx, req, keyArn))) {
    request.managedS3Key = true;
    decision = ctx.kmsAccess.decide(principal, request);
  }
  if (decision.effect === 'Allow') return;
  ctx.log.debug({ requestId: req.requestId, action, keyArn, principal: principal?.arn ?? 'anonymous', reason: decision.reason }, 'KMS key use denied');
  throw new S3Error('AccessDenied', ctx.kmsAccess.deniedMessage(principal, request, decision));
}

/** The check for a write's KMS key, which only the key store learns (the request may name an alias, or no key): handed to it to run once it has. */
export function kmsKeyPermit(ctx: S3Context, req: S3Request, action: KmsUse): KmsKeyPermit {
  return (keyArn) => requireKmsPermission(ctx, req, action, keyArn);
}

/** kms:Decrypt on the KMS key of an SSE-KMS or DSSE-KMS object or upload; nothing for the other modes. */
export async function requireKmsDecrypt(ctx: S3Context, req: S3Request, encryption: ObjectEncryption | undefined): Promise<void> {
  if (encryption?.mode !== 'aws:kms' && encryption?.mode !== 'aws:kms:dsse') return;
  // Every KMS-mode record names its key; were one not to, only a grant on every key (`*`) would do.
  await requireKmsPermission(ctx, req, 'kms:Decrypt', encryption.kmsKeyArn ?? '*');
}
