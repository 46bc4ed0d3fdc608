/**
 * S3 Block Public Access for a bucket: PutPublicAccessBlock, GetPublicAccessBlock,
 * DeletePublicAccessBlock, and the settings the access check and the ACL and
 * policy writers consult.
 *
 * As Amazon S3 does since April 2023, a new bucket starts with all four settings
 * on (written with the bucket, in the same transaction). A bucket whose block was
 * deleted — or that was created before Coffer had one — has none:
 * GetPublicAccessBlock answers 404 NoSuchPublicAccessBlockConfiguration and
 * nothing is blocked. There is no account-level block (S3 Control) in Coffer.
 */
import { S3Error } from '../errors/s3-errors.js';
import type { BucketEndpoint } from '../http/router.js';
import type { S3Request, S3Response } from '../http/types.js';
import { buildS3Xml, childText, onlyChildren, parseXml } from '../xml/xml.js';
import { requireBucket } from './access.js';
import type { S3Context } from './context.js';
import { verifyBodyIntegrity } from './headers.js';

/** The block's name among the bucket's configuration documents. */
export const PUBLIC_ACCESS_BLOCK_CONFIG = 'publicAccessBlock';

/** S3's PublicAccessBlockConfiguration; an element left out of a PUT is false. */
export interface PublicAccessBlock {
  /** PutBucketAcl, PutObjectAcl and writes carrying a public ACL fail with 403 AccessDenied. */
  blockPublicAcls: boolean;
  /** Public ACLs on the bucket and its objects grant nothing. */
  ignorePublicAcls: boolean;
  /** PutBucketPolicy with a public policy fails with 403 AccessDenied. */
  blockPublicPolicy: boolean;
  /** A public bucket policy grants nothing to anonymous callers and other accounts. */
  restrictPublicBuckets: boolean;
}

/** What a new bucket gets: everything blocked. */
export const NEW_BUCKET_PUBLIC_ACCESS_BLOCK: Readonly<PublicAccessBlock> = Object.freeze({
  blockPublicAcls: true,
  ignorePublicAcls: true,
  blockPublicPolicy: true,
  restrictPublicBuckets: true,
});

const ELEMENTS = [
  ['BlockPublicAcls', 'blockPublicAcls'],
  ['IgnorePublicAcls', 'ignorePublicAcls'],
  ['BlockPublicPolicy', 'blockPublicPolicy'],
  ['RestrictPublicBuckets', 'restrictPublicBuckets'],
] as const;

/** The bucket's block, or undefined when it has none (nothing blocked). */
export async function publicAccessBlock(ctx: S3Context, bucket: string): Promise<PublicAccessBlock | undefined> {
  const doc = await ctx.metadata.getBucketConfig(bucket, PUBLIC_ACCESS_BLOCK_CONFIG);
  return doc === undefined ? undefined : (JSON.parse(doc) as PublicAccessBlock);
}

export function parsePublicAccessBlock(body: string): PublicAccessBlock {
  const root = parseXml(body, 'PublicAccessBlockConfiguration');
  onlyChildren(root, ELEMENTS.map(([element]) => element));
  const config: PublicAccessBlock = { blockPublicAcls: false, ignorePublicAcls: false, blockPublicPolicy: false, restrictPublicBuckets: false };
  for (const [element, field] of ELEMENTS) {
    const text = childText(root, element)?.trim().toLowerCase();
    if (text === undefined) continue;
    if (text !== 'true' && text !== 'false') throw new S3Error('MalformedXML');
    config[field] = text === 'true';
  }
  return config;
}

export function publicAccessBlockXml(config: PublicAccessBlock): string {
  return buildS3Xml(
    'PublicAccessBlockConfiguration',
    ELEMENTS.map(([element, field]) => [element, config[field]]),
  );
}

export async function putPublicAccessBlock(ctx: S3Context, req: S3Request<BucketEndpoint>): Promise<S3Response> {
  const bucket = await requireBucket(ctx, req, req.endpoint.bucket);
  const body = await req.readBody(64 * 1024);
  await verifyBodyIntegrity(req, body, { required: true });
  const config = parsePublicAccessBlock(body.toString('utf8'));
  if (!(await ctx.metadata.putBucketConfig(bucket.name, PUBLIC_ACCESS_BLOCK_CONFIG, JSON.stringify(config)))) {
    throw new S3Error('NoSuchBucket', undefined, { fields: { BucketName: bucket.name } });
  }
  return { status: 200 };
}

export async function getPublicAccessBlock(ctx: S3Context, req: S3Request<BucketEndpoint>): Promise<S3Response> {
  const bucket = await requireBucket(ctx, req, req.endpoint.bucket);
  const config = await publicAccessBlock(ctx, bucket.name);
  if (!config) throw new S3Error('NoSuchPublicAccessBlockConfiguration', undefined, { fields: { BucketName: bucket.name } });
  return { status: 200, headers: { 'content-type': 'application/xml' }, body: publicAccessBlockXml(config) };
}

export async function deletePublicAccessBlock(ctx: S3Context, req: S3Request<BucketEndpoint>): Promise<S3Response> {
  const bucket = await requireBucket(ctx, req, req.endpoint.bucket);
  await ctx.metadata.deleteBucketConfig(bucket.name, PUBLIC_ACCESS_BLOCK_CONFIG);
  return { status: 204 };
}
