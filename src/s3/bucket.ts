/** Service and bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation (versioning: versioning.ts). */
import type { BucketEndpoint } from '../http/router.js';
import { isIP } from 'node:net';
import { S3Error } from '../errors/s3-errors.js';
import { header, type S3Request, type S3Response } from '../http/types.js';
import { buildS3Xml, buildXml, childText, onlyChildren, parseXml, S3_XMLNS } from '../xml/xml.js';
import { requireBucket } from './access.js';
import type { S3Context } from './context.js';
import { NEW_BUCKET_OWNERSHIP_CONTROLS, newBucketConfigs, OBJECT_OWNERSHIPS, type ObjectOwnership } from './ownership.js';
import { NEW_BUCKET_PUBLIC_ACCESS_BLOCK, PUBLIC_ACCESS_BLOCK_CONFIG } from './public-access-block.js';
import { objectLockAtCreate } from './object-lock.js';


const XML = { 'content-type': 'application/xml' };

/** S3's bucket naming rules (general purpose buckets). */
export function validateBucketName(name: string): void {
  const bad = (why: string): never => {
    throw new S3Error('InvalidBucketName', `The specified bucket is not valid: ${why}`, { fields: { BucketName: name } });
  };
  if (name.length < 3 || name.length > 63) bad('names must be between 3 and 63 characters long');
  if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name)) {
    bad('names may contain only lowercase letters, numbers, dots and hyphens, and must begin and end with a letter or number');
  }
  if (name.includes('..')) bad('names must not contain two adjacent periods');
  if (isIP(name)) bad('names must not be formatted as an IP address');
  for (const p of ['xn--', 'sthree-', 'amzn-s3-demo-']) if (name.startsWith(p)) bad(`names must not start with ${p}`);
  for (const s of ['-s3alias', '--ol-s3', '.mrap', '--x-s3', '--table-s3']) if (name.endsWith(s)) bad(`names must not end with ${s}`);
}

/** S3's page size for ListBuckets when max-buckets is not given (and its largest allowed value). */
const MAX_BUCKETS_PAGE = 10_000;

function parseMaxBuckets(v: string | null): number {
  if (v === null) return MAX_BUCKETS_PAGE;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > MAX_BUCKETS_PAGE) {
    throw new S3Error('InvalidArgument', 'max-buckets must be an integer between 1 and 10000', { fields: { ArgumentName: 'max-buckets', ArgumentValue: v } });
  }
  return n;
}

export async function listBuckets(ctx: S3Context, req: S3Request): Promise<S3Response> {
  const principal = req.principal!;
  const q = req.query;
  const prefix = q.get('prefix') ?? '';
  const region = q.get('bucket-region');
  const maxBuckets = parseMaxBuckets(q.get('max-buckets'));
  // ListBuckets pages like ListObjectsV2 (max-buckets, an opaque continuation-token), as S3 has since 2024.
  const token = q.get('continuation-token');
  let after: string | undefined;
  if (token !== null && token !== '') {
    after = Buffer.from(token, 'base64url').toString('utf8');
    if (Buffer.from(after, 'utf8').toString('base64url') !== token) {
      throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', { fields: { ArgumentName: 'continuation-token' } });
    }
  }
  const matching = (await ctx.metadata.listBuckets()).filter(
    (b) => b.ownerId === principal.accountId && b.name.startsWith(prefix) && (region === null || b.region === region) && (after === undefined || b.name > after),
  );
  const buckets = matching.slice(0, maxBuckets);
  const truncated = matching.length > buckets.length;
  return {
    status: 200,
    headers: XML,
    body: buildS3Xml('ListAllMyBucketsResult', [
      ['Owner', [['ID', principal.accountId], ['DisplayName', principal.displayName]]],
      [
        'Buckets',
        buckets.map((b) => [
          'Bucket',
          [
            ['Name', b.name],
            ['CreationDate', new Date(b.createdAt)],
            ['BucketRegion', b.region],
          ],
        ]),
      ],
      ['ContinuationToken', truncated ? Buffer.from(buckets.at(-1)!.name, 'utf8').toString('base64url') : undefined],
      ['Prefix', q.has('prefix') ? prefix : undefined],
    ]),
  };
}

export async function createBucket(ctx: S3Context, req: S3Request<BucketEndpoint>): Promise<S3Response> {
  const name = req.endpoint.bucket;
  validateBucketName(name);
  const ownership = header(req, 'x-amz-object-ownership') ?? NEW_BUCKET_OWNERSHIP_CONTROLS.objectOwnership;
  if (!(OBJECT_OWNERSHIPS as readonly string[]).includes(ownership)) {
    throw new S3Error('InvalidArgument', 'Invalid x-amz-object-ownership header', { fields: { ArgumentName: 'x-amz-object-ownership', ArgumentValue: ownership } });
  }
  // The bucket's Object Ownership and ACL, checked before anything is written and written with it.
  const aclConfigs = await newBucketConfigs(ctx, req, ownership as ObjectOwnership, req.principal!.accountId);
  const lockConfigs = objectLockAtCreate(req);
  const body = (await req.readBody(64 * 1024)).toString('utf8');
  if (body.trim() !== '') {
    const doc = parseXml(body, 'CreateBucketConfiguration');
    onlyChildren(doc, ['LocationConstraint', 'Location', 'Bucket', 'Tags']);
    if (doc.children.has('Location') || doc.children.has('Bucket') || doc.children.has('Tags')) {
      throw new S3Error('NotImplemented', 'Directory buckets and bucket tags at creation are not implemented by this Coffer version.');
    }
    const location = childText(doc, 'LocationConstraint');
    // Lenient: some clients (boto3, rclone) send us-east-1 explicitly, which S3 itself refuses.
    if (location !== undefined && location !== '' && location !== ctx.config.region) {
      throw new S3Error('IllegalLocationConstraintException', `The ${location} location constraint is incompatible for the region specific endpoint this request was sent to.`);
    }
  }
  const existing = await ctx.metadata.getBucket(name);
  if (existing) {
    if (existing.ownerId === req.principal!.accountId) throw new S3Error('BucketAlreadyOwnedByYou', undefined, { fields: { BucketName: name } });
    throw new S3Error('BucketAlreadyExists', undefined, { fields: { BucketName: name } });
  }
  // S3's defaults for new buckets since April 2023: ACLs disabled unless asked for, and all public access blocked.
  const configs = {
    ...aclConfigs,
    [PUBLIC_ACCESS_BLOCK_CONFIG]: JSON.stringify(NEW_BUCKET_PUBLIC_ACCESS_BLOCK),
    // x-amz-bucket-object-lock-enabled: Object Lock, with versioning Enabled for good.
    ...lockConfigs,
  };
  const created = await ctx.metadata.createBucket({ name, createdAt: Date.now(), ownerId: req.principal!.accountId, region: ctx.config.region }, { configs });
  if (!created) throw new S3Error('BucketAlreadyOwnedByYou', undefined, { fields: { BucketName: name } });
  return { status: 200, headers: { location: `/${name}` } };
}

export async function headBucket(ctx: S3Context, req: S3Request<BucketEndpoint>): Promise<S3Response> {
  const bucket = await requireBucket(ctx, req, req.endpoint.bucket);
  return { status: 200, headers: { 'x-amz-bucket-region': bucket.region, 'x-amz-access-point-alias': 'false' } };
}

export async function deleteBucket(ctx: S3Context, req: S3Request<BucketEndpoint>): Promise<S3Response> {
  await requireBucket(ctx, req, req.endpoint.bucket);
  const result = await ctx.metadata.deleteBucket(req.endpoint.bucket);
  if (result === 'not-empty') throw new S3Error('BucketNotEmpty', undefined, { fields: { BucketName: req.endpoint.bucket } });
  if (result === 'missing') throw new S3Error('NoSuchBucket', undefined, { fields: { BucketName: req.endpoint.bucket } });
  return { status: 204 };
}

export async function getBucketLocation(ctx: S3Context, req: S3Request<BucketEndpoint>): Promise<S3Response> {
  const bucket = await requireBucket(ctx, req, req.endpoint.bucket);
  // S3 answers an empty LocationConstraint for us-east-1.
  const region = bucket.region === 'us-east-1' ? '' : bucket.region;
  return { status: 200, headers: XML, body: buildXml(['LocationConstraint', region, { xmlns: S3_XMLNS }]) };
}

