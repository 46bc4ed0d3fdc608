/**
 * The `x-amz-*` request headers S3 defines that no handler reads for itself: each is
 * honoured here or refused here, never accepted and ignored (issue 21; the README
 * promises 501 for what is not built). Headers the handlers do read — SSE, checksums,
 * ACLs and grants, tagging, metadata, storage class, copy-source conditions and
 * directives, Object Ownership — are theirs to validate.
 *
 * Run by the dispatcher after the access check (a denied caller learns nothing about
 * its headers) and before the handler reads any body.
 *
 * | header | operations | Coffer |
 * | --- | --- | --- |
 * | x-amz-expected-bucket-owner | every bucket and object operation but CreateBucket | checked: not 12 digits → 400 InvalidBucketOwnerAWSAccountID; another account → 403 AccessDenied |
 * | x-amz-source-expected-bucket-owner | CopyObject, UploadPartCopy | the same, against the copy source's bucket |
 * | x-amz-bucket-object-lock-enabled | CreateBucket | honoured by the handler (object-lock.ts): Object Lock, versioning Enabled for good; not true/false → 400 InvalidArgument |
 * | x-amz-object-lock-mode, -retain-until-date, -legal-hold | PutObject, CopyObject, CreateMultipartUpload | honoured by the handlers (object-lock.ts); on a bucket without Object Lock 400 InvalidRequest, as S3 |
 * | x-amz-bypass-governance-retention | DeleteObject, DeleteObjects, PutObjectRetention | honoured (object-lock.ts): GOVERNANCE gives way with s3:BypassGovernanceRetention |
 * | x-amz-mfa | DeleteObject, DeleteObjects, PutBucketVersioning | accepted: MFA Delete cannot be enabled (PutBucketVersioning with MfaDelete Enabled is 501), and S3 requires the header only where it is |
 * | x-amz-request-payer | all | accepted (`requester`): no bucket is Requester Pays, so the owner pays, as S3 does there |
 * | x-amz-website-redirect-location | PutObject, CopyObject, CreateMultipartUpload | stored and returned on GET/HEAD (headers.ts); validated here: 400 InvalidRedirectLocation |
 * | x-amz-write-offset-bytes | PutObject | 501 NotImplemented (appends: S3 Express directory buckets only) |
 * | x-amz-if-match-last-modified-time, x-amz-if-match-size | DeleteObject | 501 NotImplemented (directory buckets only) |
 * | x-amz-if-match-initiated-time | AbortMultipartUpload | 501 NotImplemented (directory buckets only) |
 * | x-amz-mp-object-size | CompleteMultipartUpload | checked by the handler against the parts' total (multipart.ts) |
 * | x-amz-optional-object-attributes | ListObjects, ListObjectsV2 | `RestoreStatus` accepted: no object is archived, so none has a restore status to show; other values 400 InvalidArgument |
 * | x-amz-confirm-remove-self-bucket-access | PutBucketPolicy | accepted: the bucket owner's root can always manage the bucket policy (access.ts) |
 */
import { S3Error } from '../errors/s3-errors.js';
import type { BucketOperation, ObjectOperation } from '../http/router.js';
import { header, type S3Request } from '../http/types.js';
import type { S3Context } from './context.js';
import { parseCopySource } from './copy.js';

type Operation = BucketOperation | ObjectOperation;

const REDIRECT_WRITES: readonly Operation[] = ['PutObject', 'CopyObject', 'CreateMultipartUpload'];
export const REDIRECT_LOCATION_HEADER = 'x-amz-website-redirect-location';
const MAX_REDIRECT_LOCATION = 2048;

/** Headers of S3 Express One Zone (directory buckets) features, refused by operation. */
const DIRECTORY_BUCKET_ONLY: Partial<Record<Operation, readonly string[]>> = {
  PutObject: ['x-amz-write-offset-bytes'],
  DeleteObject: ['x-amz-if-match-last-modified-time', 'x-amz-if-match-size'],
  AbortMultipartUpload: ['x-amz-if-match-initiated-time'],
};

/** The 12-digit account id a bucket owner header names, checked as S3 checks it. */
function expectedOwner(req: S3Request, name: string): string | undefined {
  const v = header(req, name);
  if (v === undefined) return undefined;
  if (!/^\d{12}$/.test(v)) {
    throw new S3Error('InvalidBucketOwnerAWSAccountID', `The value of the expected bucket owner parameter must be an AWS Account ID... [${v}]`);
  }
  return v;
}

async function requireOwner(ctx: S3Context, bucketName: string, expected: string): Promise<void> {
  const bucket = await ctx.metadata.getBucket(bucketName);
  // A missing bucket was answered by the access check already (NoSuchBucket).
  if (!bucket) return;
  const owner = await ctx.identities.accountByCanonicalId(bucket.ownerId);
  // S3 says only "Access Denied" when the bucket belongs to another account (the bucket owner condition).
  if (owner?.accountId !== expected) throw new S3Error('AccessDenied');
}

/** Validates `x-amz-website-redirect-location` as S3 does; the value is then stored with the object. */
export function validateRedirectLocation(value: string): void {
  if (!(value.startsWith('/') || value.startsWith('http://') || value.startsWith('https://'))) {
    throw new S3Error('InvalidRedirectLocation');
  }
  if (value.length > MAX_REDIRECT_LOCATION) {
    throw new S3Error('InvalidRedirectLocation', 'The length of website redirect location cannot exceed 2,048 characters.');
  }
}

export async function checkRequestHeaders(ctx: S3Context, req: S3Request): Promise<void> {
  const e = req.endpoint;
  if (e.kind !== 'bucket' && e.kind !== 'object') return;
  const op: Operation = e.operation;

  if (op === 'CreateBucket') {
    // x-amz-bucket-object-lock-enabled: the handler's (object-lock.ts).
  } else {
    const owner = expectedOwner(req, 'x-amz-expected-bucket-owner');
    if (owner !== undefined) await requireOwner(ctx, e.bucket, owner);
  }

  if (op === 'CopyObject' || op === 'UploadPartCopy') {
    const sourceOwner = expectedOwner(req, 'x-amz-source-expected-bucket-owner');
    const source = header(req, 'x-amz-copy-source');
    if (sourceOwner !== undefined && source !== undefined) await requireOwner(ctx, parseCopySource(source).bucket, sourceOwner);
  }

  if (REDIRECT_WRITES.includes(op)) {
    const redirect = header(req, REDIRECT_LOCATION_HEADER);
    if (redirect !== undefined) validateRedirectLocation(redirect);
  }

  for (const name of DIRECTORY_BUCKET_ONLY[op] ?? []) {
    if (header(req, name) !== undefined) {
      throw new S3Error('NotImplemented', `The ${name} header is for directory buckets (S3 Express One Zone), which Coffer does not implement.`);
    }
  }

  if (op === 'ListObjects' || op === 'ListObjectsV2') {
    const optional = header(req, 'x-amz-optional-object-attributes');
    if (optional !== undefined && optional.split(',').some((v) => v.trim() !== 'RestoreStatus')) {
      throw new S3Error('InvalidArgument', 'Invalid attribute name specified.', {
        fields: { ArgumentName: 'x-amz-optional-object-attributes', ArgumentValue: optional },
      });
    }
  }
}
