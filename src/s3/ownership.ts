/**
 * S3 Object Ownership and ACLs: Put/Get/DeleteBucketOwnershipControls,
 * Get/PutBucketAcl, Get/PutObjectAcl, and the owner and ACL every write that
 * may carry an ACL (CreateBucket, PutObject, CopyObject, CreateMultipartUpload)
 * gives what it creates.
 *
 * A new bucket has S3's default since April 2023: ACLs disabled
 * (BucketOwnerEnforced). The bucket owner owns every object, every ACL reads back
 * as the owner's FULL_CONTROL, stored ACLs grant nothing, and a request setting
 * any other ACL fails with 400 AccessControlListNotSupported
 * (InvalidBucketAclWithObjectOwnership on CreateBucket), as S3 answers.
 *
 * With ACLs enabled — BucketOwnerPreferred, ObjectWriter, or no setting at all
 * (after DeleteBucketOwnershipControls, which S3 treats as ObjectWriter) — ACLs
 * are stored (the bucket's among its configuration documents, an object's in its
 * record) and grant what S3's ACLs grant (access.ts). Under ObjectWriter the
 * writing account owns what it writes; under BucketOwnerPreferred the bucket
 * owner does when the write says `bucket-owner-full-control`. A public ACL meets
 * the bucket's BlockPublicAcls (403 AccessDenied; on CreateBucket
 * InvalidBucketAclWithBlockPublicAccessError). Going back to BucketOwnerEnforced
 * is refused while the bucket's own ACL grants another account or group
 * (InvalidBucketAclWithObjectOwnership); object ACLs are kept but ignored, and
 * honoured again if ACLs are enabled again.
 */
import { ANONYMOUS_CANONICAL_ID } from '../auth/access/index.js';
import { S3Error } from '../errors/s3-errors.js';
import type { BucketEndpoint, ObjectEndpoint } from '../http/router.js';
import type { S3Request, S3Response } from '../http/types.js';
import type { AclGrant, BucketRecord, ObjectRecord, StoredAcl } from '../metadata/metadata-store.js';
import { buildS3Xml, childList, childText, onlyChildren, parseXml } from '../xml/xml.js';
import { requireBucket } from './access.js';
import {
  accessControlPolicyXml,
  isPrivate,
  isPublicAcl,
  parseAccessControlPolicy,
  privateGrants,
  requestedAclHeaders,
  resolveAcl,
  type RequestedAcl,
} from './acl.js';
import type { S3Context } from './context.js';
import { verifyBodyIntegrity } from './headers.js';
import { versionIdOf } from '../metadata/metadata-rules.js';
import { bucketVersioning, requestedVersionId, resolveObjectVersion, versionIdHeader } from './versioning.js';
import { NEW_BUCKET_PUBLIC_ACCESS_BLOCK, publicAccessBlock } from './public-access-block.js';

/** The ownership controls' name among the bucket's configuration documents. */
export const OWNERSHIP_CONTROLS_CONFIG = 'ownershipControls';
/** The bucket ACL's name among the bucket's configuration documents (absent: `private`). */
export const BUCKET_ACL_CONFIG = 'acl';

export const OBJECT_OWNERSHIPS = ['BucketOwnerEnforced', 'BucketOwnerPreferred', 'ObjectWriter'] as const;
export type ObjectOwnership = (typeof OBJECT_OWNERSHIPS)[number];

/** The stored document (JSON). */
export interface OwnershipControls {
  objectOwnership: ObjectOwnership;
}

/** What a new bucket gets unless CreateBucket names another: ACLs disabled. */
export const NEW_BUCKET_OWNERSHIP_CONTROLS: Readonly<OwnershipControls> = Object.freeze({ objectOwnership: 'BucketOwnerEnforced' });

export async function ownershipControls(ctx: S3Context, bucket: string): Promise<OwnershipControls | undefined> {
  const doc = await ctx.metadata.getBucketConfig(bucket, OWNERSHIP_CONTROLS_CONFIG);
  return doc === undefined ? undefined : (JSON.parse(doc) as OwnershipControls);
}

/** The bucket's Object Ownership in effect: without ownership controls S3 has ACLs enabled, as ObjectWriter. */
export async function objectOwnership(ctx: S3Context, bucket: string): Promise<ObjectOwnership> {
  return (await ownershipControls(ctx, bucket))?.objectOwnership ?? 'ObjectWriter';
}

/** The bucket's ACL grants as stored (its owner's FULL_CONTROL when none is). */
export async function storedBucketGrants(ctx: S3Context, bucket: BucketRecord): Promise<AclGrant[]> {
  const doc = await ctx.metadata.getBucketConfig(bucket.name, BUCKET_ACL_CONFIG);
  return doc === undefined ? privateGrants(bucket.ownerId) : (JSON.parse(doc) as StoredAcl).grants;
}

/** An object's owner and ACL as they count now: with ACLs disabled, the bucket owner's and `private`. */
export function effectiveObjectAcl(object: ObjectRecord, bucket: BucketRecord, ownership: ObjectOwnership): { ownerId: string; grants: AclGrant[] } {
  if (ownership === 'BucketOwnerEnforced') return { ownerId: bucket.ownerId, grants: privateGrants(bucket.ownerId) };
  return { ownerId: object.ownerId, grants: object.acl?.grants ?? privateGrants(object.ownerId) };
}

// ---- ACLs disabled: the only ACLs accepted are those that change nothing

/**
 * Whether the ACL is the bucket owner's full control and nothing else — the one ACL a bucket
 * with ACLs disabled accepts (`bucket-owner-full-control`, or the same said with grants).
 * `private` says the same for an object the bucket owner owns, which every object then is.
 */
function isOwnerFullControl(acl: RequestedAcl, ownerId: string, target: 'bucket' | 'object'): boolean {
  if (acl.canned !== undefined) return target === 'object' && (acl.canned === 'bucket-owner-full-control' || acl.canned === 'private');
  return acl.grants.length > 0 && acl.grants.every((g) => g.permission === 'FULL_CONTROL' && g.grantee.type === 'id' && g.grantee.value === ownerId);
}

/** A request to change an ACL on a bucket with ACLs disabled: fine if it changes nothing, else AccessControlListNotSupported. */
function refuseWhileDisabled(acl: RequestedAcl, bucket: BucketRecord, target: 'bucket' | 'object'): void {
  if (!isOwnerFullControl(acl, bucket.ownerId, target)) throw new S3Error('AccessControlListNotSupported');
}

/** BlockPublicAcls: a public ACL cannot be set (403 AccessDenied), as S3 answers. */
async function refusePublic(ctx: S3Context, bucket: BucketRecord, grants: readonly AclGrant[]): Promise<void> {
  if (isPublicAcl(grants) && (await publicAccessBlock(ctx, bucket.name))?.blockPublicAcls) throw new S3Error('AccessDenied');
}

// ---- writes that create

/**
 * The owner and ACL of an object a write creates (PutObject, CopyObject's destination,
 * CreateMultipartUpload for Complete), from the bucket's Object Ownership and the request's
 * ACL headers. Throws what S3 answers for an ACL the bucket does not accept.
 */
export async function newObjectAcl(ctx: S3Context, req: S3Request, bucket: BucketRecord): Promise<{ ownerId: string; acl?: StoredAcl }> {
  const requested = requestedAclHeaders(req);
  const ownership = await objectOwnership(ctx, bucket.name);
  if (ownership === 'BucketOwnerEnforced') {
    if (requested) refuseWhileDisabled(requested, bucket, 'object');
    return { ownerId: bucket.ownerId };
  }
  const writerId = req.principal?.accountId ?? ANONYMOUS_CANONICAL_ID;
  const ownerId = ownership === 'BucketOwnerPreferred' && requested?.canned === 'bucket-owner-full-control' ? bucket.ownerId : writerId;
  if (!requested) return { ownerId };
  const grants = await resolveAcl(ctx, requested, { target: 'object', ownerId, bucketOwnerId: bucket.ownerId });
  await refusePublic(ctx, bucket, grants);
  return isPrivate(grants, ownerId) ? { ownerId } : { ownerId, acl: { grants } };
}

/**
 * The ownership controls and ACL documents of a new bucket (CreateBucket's
 * x-amz-object-ownership, x-amz-acl and x-amz-grant-*), to be written with it.
 */
export async function newBucketConfigs(ctx: S3Context, req: S3Request, ownership: ObjectOwnership, ownerId: string): Promise<Record<string, string>> {
  const requested = requestedAclHeaders(req);
  const configs: Record<string, string> = { [OWNERSHIP_CONTROLS_CONFIG]: JSON.stringify({ objectOwnership: ownership } satisfies OwnershipControls) };
  if (!requested) return configs;
  if (ownership === 'BucketOwnerEnforced') {
    if (requested.canned === 'private' || (requested.canned === undefined && isOwnerFullControl(requested, ownerId, 'bucket'))) return configs;
    throw new S3Error('InvalidBucketAclWithObjectOwnership');
  }
  const grants = await resolveAcl(ctx, requested, { target: 'bucket', ownerId, bucketOwnerId: ownerId });
  // A new bucket blocks public ACLs (S3's default since April 2023): a public one cannot come with it.
  if (isPublicAcl(grants) && NEW_BUCKET_PUBLIC_ACCESS_BLOCK.blockPublicAcls) throw new S3Error('InvalidBucketAclWithBlockPublicAccessError');
  if (!isPrivate(grants, ownerId)) configs[BUCKET_ACL_CONFIG] = JSON.stringify({ grants } satisfies StoredAcl);
  return configs;
}

// ---- Get/Put*Acl

/** The ACL a Put*Acl request states, from its headers or its body (not both). */
async function aclOfPutAclRequest(req: S3Request): Promise<RequestedAcl> {
  const fromHeaders = requestedAclHeaders(req);
  const body = await req.readBody(64 * 1024);
  await verifyBodyIntegrity(req, body, { required: false });
  if (body.toString('utf8').trim() !== '') {
    if (fromHeaders) throw new S3Error('UnexpectedContent', 'This request does not support content');
    return parseAccessControlPolicy(body.toString('utf8'));
  }
  if (!fromHeaders) throw new S3Error('MissingSecurityHeader', 'Your request was missing a required header', { fields: { MissingHeaderName: 'x-amz-acl' } });
  return fromHeaders;
}

/** The grants a Put*Acl request sets on a resource owned by `ownerId`; a body naming another owner is AccessDenied (an ACL cannot give a resource away). */
async function grantsOfPutAcl(ctx: S3Context, requested: RequestedAcl, resource: { target: 'bucket' | 'object'; ownerId: string; bucket: BucketRecord }): Promise<AclGrant[]> {
  if (requested.ownerId !== undefined && requested.ownerId !== resource.ownerId) throw new S3Error('AccessDenied');
  const grants = await resolveAcl(ctx, requested, { target: resource.target, ownerId: resource.ownerId, bucketOwnerId: resource.bucket.ownerId });
  await refusePublic(ctx, resource.bucket, grants);
  return grants;
}

function xmlResponse(body: string): S3Response {
  return { status: 200, headers: { 'content-type': 'application/xml' }, body };
}

export async function getBucketAcl(ctx: S3Context, req: S3Request<BucketEndpoint>): Promise<S3Response> {
  const bucket = await requireBucket(ctx, req, req.endpoint.bucket);
  const enforced = (await objectOwnership(ctx, bucket.name)) === 'BucketOwnerEnforced';
  const grants = enforced ? privateGrants(bucket.ownerId) : await storedBucketGrants(ctx, bucket);
  return xmlResponse(await accessControlPolicyXml(ctx, bucket.ownerId, grants));
}

export async function putBucketAcl(ctx: S3Context, req: S3Request<BucketEndpoint>): Promise<S3Response> {
  const bucket = await requireBucket(ctx, req, req.endpoint.bucket);
  const requested = await aclOfPutAclRequest(req);
  if ((await objectOwnership(ctx, bucket.name)) === 'BucketOwnerEnforced') {
    if (requested.ownerId !== undefined && requested.ownerId !== bucket.ownerId) throw new S3Error('AccessDenied');
    refuseWhileDisabled(requested, bucket, 'bucket');
    return { status: 200 }; // the bucket's ACL already is its owner's full control
  }
  const grants = await grantsOfPutAcl(ctx, requested, { target: 'bucket', ownerId: bucket.ownerId, bucket });
  const stored = isPrivate(grants, bucket.ownerId)
    ? (await ctx.metadata.deleteBucketConfig(bucket.name, BUCKET_ACL_CONFIG), true)
    : await ctx.metadata.putBucketConfig(bucket.name, BUCKET_ACL_CONFIG, JSON.stringify({ grants } satisfies StoredAcl));
  if (!stored) throw new S3Error('NoSuchBucket', undefined, { fields: { BucketName: bucket.name } });
  return { status: 200 };
}

/** The version a Get/PutObjectAcl names (`versionId`), or the current object; S3's errors otherwise. */
async function requireObject(ctx: S3Context, req: S3Request<ObjectEndpoint>): Promise<ObjectRecord> {
  return resolveObjectVersion(ctx, req.endpoint.bucket, req.endpoint.key, requestedVersionId(req), req.method);
}

export async function getObjectAcl(ctx: S3Context, req: S3Request<ObjectEndpoint>): Promise<S3Response> {
  const bucket = await requireBucket(ctx, req, req.endpoint.bucket);
  const object = await requireObject(ctx, req);
  const { ownerId, grants } = effectiveObjectAcl(object, bucket, await objectOwnership(ctx, bucket.name));
  const response = xmlResponse(await accessControlPolicyXml(ctx, ownerId, grants));
  return { ...response, headers: { ...response.headers, ...versionIdHeader(await bucketVersioning(ctx, bucket.name), object) } };
}

export async function putObjectAcl(ctx: S3Context, req: S3Request<ObjectEndpoint>): Promise<S3Response> {
  const bucket = await requireBucket(ctx, req, req.endpoint.bucket);
  const object = await requireObject(ctx, req);
  const requested = await aclOfPutAclRequest(req);
  if ((await objectOwnership(ctx, bucket.name)) === 'BucketOwnerEnforced') {
    if (requested.ownerId !== undefined && requested.ownerId !== bucket.ownerId) throw new S3Error('AccessDenied');
    refuseWhileDisabled(requested, bucket, 'object');
    return { status: 200 };
  }
  const grants = await grantsOfPutAcl(ctx, requested, { target: 'object', ownerId: object.ownerId, bucket });
  const acl = isPrivate(grants, object.ownerId) ? undefined : { grants };
  if (req.query.has('versionId')) {
    // A named version: its id pins it, nothing can overwrite it meanwhile.
    const outcome = await ctx.metadata.updateObjectVersion(bucket.name, object.key, versionIdOf(object), (v) => {
      const { acl: _old, ...rest } = v;
      return acl ? { ...rest, acl } : rest;
    });
    if (outcome === 'missing') throw new S3Error('NoSuchVersion', undefined, { fields: { Key: object.key, VersionId: versionIdOf(object) } });
    return { status: 200, headers: versionIdHeader(await bucketVersioning(ctx, bucket.name), object) };
  }
  const result = await ctx.metadata.setObjectAcl(bucket.name, object.key, { etag: object.etag, lastModified: object.lastModified }, acl);
  if (result === 'missing') throw new S3Error('NoSuchKey', undefined, { fields: { Key: object.key } });
  // Overwritten since it was read (and authorized): the ACL was meant for the object that is gone.
  if (result === 'changed') throw new S3Error('OperationAborted');
  return { status: 200 };
}

// ---- ownership controls

function ownershipControlsXml(controls: OwnershipControls): string {
  return buildS3Xml('OwnershipControls', [['Rule', [['ObjectOwnership', controls.objectOwnership]]]]);
}

export function parseOwnershipControls(body: string): OwnershipControls {
  const root = parseXml(body, 'OwnershipControls');
  onlyChildren(root, ['Rule']);
  const rules = childList(root, 'Rule');
  if (rules.length !== 1) throw new S3Error('MalformedXML');
  onlyChildren(rules[0]!, ['ObjectOwnership']);
  const value = childText(rules[0]!, 'ObjectOwnership')?.trim();
  if (value === undefined || !(OBJECT_OWNERSHIPS as readonly string[]).includes(value)) throw new S3Error('MalformedXML');
  return { objectOwnership: value as ObjectOwnership };
}

export async function putBucketOwnershipControls(ctx: S3Context, req: S3Request<BucketEndpoint>): Promise<S3Response> {
  const bucket = await requireBucket(ctx, req, req.endpoint.bucket);
  const body = await req.readBody(64 * 1024);
  await verifyBodyIntegrity(req, body, { required: true });
  const controls = parseOwnershipControls(body.toString('utf8'));
  if (controls.objectOwnership === 'BucketOwnerEnforced') {
    // S3 will not disable ACLs while the bucket's ACL grants access outside the owner's account:
    // that access would vanish silently. Object ACLs just stop counting.
    const grants = await storedBucketGrants(ctx, bucket);
    if (grants.some((g) => g.grantee.type !== 'CanonicalUser' || g.grantee.id !== bucket.ownerId)) throw new S3Error('InvalidBucketAclWithObjectOwnership');
  }
  if (!(await ctx.metadata.putBucketConfig(bucket.name, OWNERSHIP_CONTROLS_CONFIG, JSON.stringify(controls)))) {
    throw new S3Error('NoSuchBucket', undefined, { fields: { BucketName: bucket.name } });
  }
  return { status: 200 };
}

export async function getBucketOwnershipControls(ctx: S3Context, req: S3Request<BucketEndpoint>): Promise<S3Response> {
  const bucket = await requireBucket(ctx, req, req.endpoint.bucket);
  const controls = await ownershipControls(ctx, bucket.name);
  if (!controls) throw new S3Error('OwnershipControlsNotFoundError', undefined, { fields: { BucketName: bucket.name } });
  return xmlResponse(ownershipControlsXml(controls));
}

export async function deleteBucketOwnershipControls(ctx: S3Context, req: S3Request<BucketEndpoint>): Promise<S3Response> {
  const bucket = await requireBucket(ctx, req, req.endpoint.bucket);
  await ctx.metadata.deleteBucketConfig(bucket.name, OWNERSHIP_CONTROLS_CONFIG);
  return { status: 204 };
}
