/** Bucket policies: PutBucketPolicy, GetBucketPolicy, DeleteBucketPolicy, GetBucketPolicyStatus. */
import { isPublicPolicy, MAX_BUCKET_POLICY_BYTES, parsePolicy, PolicyError } from '../auth/access/index.js';
import { S3Error } from '../errors/s3-errors.js';
import type { BucketEndpoint } from '../http/router.js';
import type { S3Request, S3Response } from '../http/types.js';
import { buildS3Xml } from '../xml/xml.js';
import { bucketPolicy, BUCKET_POLICY_CONFIG } from './access.js';
import type { S3Context } from './context.js';
import { publicAccessBlock } from './public-access-block.js';

export async function putBucketPolicy(ctx: S3Context, req: S3Request<BucketEndpoint>): Promise<S3Response> {
  const bucket = req.endpoint.bucket;
  const body = await req.readBody(MAX_BUCKET_POLICY_BYTES + 1);
  if (body.length > MAX_BUCKET_POLICY_BYTES) throw new S3Error('PolicyTooLarge', `Policy exceeds the maximum allowed document size of ${MAX_BUCKET_POLICY_BYTES} bytes.`);
  if (body.length === 0) throw new S3Error('MissingRequestBodyError');
  const text = body.toString('utf8');
  let policy;
  try {
    policy = parsePolicy(text, { kind: 'bucket', bucket });
  } catch (err) {
    if (err instanceof PolicyError) throw new S3Error('MalformedPolicy', err.message);
    throw err;
  }
  // BlockPublicPolicy refuses a public policy whoever asks, the owner's root included (as S3 does).
  if (isPublicPolicy(policy) && (await publicAccessBlock(ctx, bucket))?.blockPublicPolicy) {
    throw new S3Error(
      'AccessDenied',
      `User: ${req.principal?.arn ?? 'anonymous'} is not authorized to perform: s3:PutBucketPolicy on resource: "arn:aws:s3:::${bucket}" because public policies are blocked by the BlockPublicPolicy block public access setting.`,
    );
  }
  if (!(await ctx.metadata.putBucketConfig(bucket, BUCKET_POLICY_CONFIG, text))) throw new S3Error('NoSuchBucket', undefined, { fields: { BucketName: bucket } });
  // S3 answers 204 No Content (the SDKs accept 200 as well).
  return { status: 204 };
}

export async function getBucketPolicy(ctx: S3Context, req: S3Request<BucketEndpoint>): Promise<S3Response> {
  const doc = await ctx.metadata.getBucketConfig(req.endpoint.bucket, BUCKET_POLICY_CONFIG);
  if (doc === undefined) throw new S3Error('NoSuchBucketPolicy', undefined, { fields: { BucketName: req.endpoint.bucket } });
  return { status: 200, headers: { 'content-type': 'application/json' }, body: doc };
}

export async function deleteBucketPolicy(ctx: S3Context, req: S3Request<BucketEndpoint>): Promise<S3Response> {
  await ctx.metadata.deleteBucketConfig(req.endpoint.bucket, BUCKET_POLICY_CONFIG);
  return { status: 204 };
}

export async function getBucketPolicyStatus(ctx: S3Context, req: S3Request<BucketEndpoint>): Promise<S3Response> {
  const policy = await bucketPolicy(ctx, req.endpoint.bucket);
  if (!policy) throw new S3Error('NoSuchBucketPolicy', undefined, { fields: { BucketName: req.endpoint.bucket } });
  return {
    status: 200,
    headers: { 'content-type': 'application/xml' },
    body: buildS3Xml('PolicyStatus', [['IsPublic', isPublicPolicy(policy) ? 'true' : 'false']]),
  };
}
