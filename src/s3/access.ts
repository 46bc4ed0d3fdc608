/**
 * Who may touch a bucket. Until policies exist (the access-control work),
 * a bucket is reachable by its owner only, as a private S3 bucket is.
 */
import { S3Error } from '../errors/s3-errors.js';
import type { S3Request } from '../http/types.js';
import type { BucketRecord } from '../metadata/metadata-store.js';
import type { S3Context } from './context.js';

export async function requireBucket(ctx: S3Context, req: S3Request, name: string): Promise<BucketRecord> {
  const bucket = await ctx.metadata.getBucket(name);
  if (!bucket) throw new S3Error('NoSuchBucket', undefined, { fields: { BucketName: name } });
  if (!req.principal || req.principal.accountId !== bucket.ownerId) throw new S3Error('AccessDenied');
  return bucket;
}
