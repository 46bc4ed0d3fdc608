/**
 * S3 Object Ownership and ACLs: Put/Get/DeleteBucketOwnershipControls,
 * Get/PutBucketAcl, Get/PutObjectAcl, and the ACL check every write that may
 * carry an ACL (CreateBucket, PutObject, CopyObject, CreateMultipartUpload) makes.
 *
 * Coffer has S3's default since April 2023 and nothing else: ACLs disabled
 * (BucketOwnerEnforced). The bucket owner owns every object, every ACL reads
 * back as the owner's FULL_CONTROL, and a request setting any other ACL fails
 * with 400 AccessControlListNotSupported (InvalidBucketAclWithObjectOwnership on
 * CreateBucket), as S3 answers. ACLs themselves — BucketOwnerPreferred,
 * ObjectWriter, grants — are not implemented: asking for them answers
 * 501 NotImplemented, never a silent success. A bucket whose ownership controls
 * were deleted has ACLs enabled in S3; there too only the owner-full-control ACL
 * (which is what every Coffer ACL is) is accepted, a public ACL meets the public
 * access block (403 AccessDenied) and anything else is 501.
 */
import { S3Error } from '../errors/s3-errors.js';
import type { BucketEndpoint, ObjectEndpoint } from '../http/router.js';
import { header, type S3Request, type S3Response } from '../http/types.js';
import type { BucketRecord } from '../metadata/metadata-store.js';
import { buildS3Xml, childList, childText, onlyChildren, parseXml, type XmlNode } from '../xml/xml.js';
import { ownerOf, requireBucket } from './access.js';
import type { S3Context } from './context.js';
import { verifyBodyIntegrity } from './headers.js';
import { publicAccessBlock } from './public-access-block.js';

/** The ownership controls' name among the bucket's configuration documents. */
export const OWNERSHIP_CONTROLS_CONFIG = 'ownershipControls';

export const OBJECT_OWNERSHIPS = ['BucketOwnerEnforced', 'BucketOwnerPreferred', 'ObjectWriter'] as const;
export type ObjectOwnership = (typeof OBJECT_OWNERSHIPS)[number];

/** The stored document (JSON). Only BucketOwnerEnforced is ever stored by this version. */
export interface OwnershipControls {
  objectOwnership: ObjectOwnership;
}

/** What a new bucket gets: ACLs disabled. */
export const NEW_BUCKET_OWNERSHIP_CONTROLS: Readonly<OwnershipControls> = Object.freeze({ objectOwnership: 'BucketOwnerEnforced' });

/** Grantee group URIs that make an ACL public (S3 counts AuthenticatedUsers as public too). */
const PUBLIC_GROUPS = ['http://acs.amazonaws.com/groups/global/AllUsers', 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers'];
const PUBLIC_CANNED = new Set(['public-read', 'public-read-write', 'authenticated-read']);
const GRANT_HEADERS = ['x-amz-grant-full-control', 'x-amz-grant-read', 'x-amz-grant-read-acp', 'x-amz-grant-write', 'x-amz-grant-write-acp'];
const XSI = 'http://www.w3.org/2001/XMLSchema-instance';

export async function ownershipControls(ctx: S3Context, bucket: string): Promise<OwnershipControls | undefined> {
  const doc = await ctx.metadata.getBucketConfig(bucket, OWNERSHIP_CONTROLS_CONFIG);
  return doc === undefined ? undefined : (JSON.parse(doc) as OwnershipControls);
}

/** ACLs are disabled unless the bucket's ownership controls were deleted (S3: ObjectWriter then). */
async function aclsDisabled(ctx: S3Context, bucket: string): Promise<boolean> {
  return (await ownershipControls(ctx, bucket))?.objectOwnership === 'BucketOwnerEnforced';
}

// ---- ACLs as requests state them

/** The ACL a request asks for: a canned ACL, `x-amz-grant-*` headers, or (Put*Acl) an AccessControlPolicy body. */
export interface RequestedAcl {
  canned?: string;
  /** Grant header → its grantees (`id="…"`, `uri="…"`, `emailAddress="…"`). */
  grants: { permission: string; grantee: { type: 'id' | 'uri' | 'emailAddress'; value: string } }[];
}

function parseGrantees(headerName: string, value: string): RequestedAcl['grants'] {
  const permission = headerName.slice('x-amz-grant-'.length).toUpperCase().replace(/-/g, '_');
  return value.split(',').map((part) => {
    const m = /^\s*(id|uri|emailAddress)\s*=\s*"?([^"]*)"?\s*$/i.exec(part);
    if (!m) throw new S3Error('InvalidArgument', `Invalid grantee in ${headerName}`, { fields: { ArgumentName: headerName, ArgumentValue: value } });
    const type = m[1]!.toLowerCase() === 'emailaddress' ? 'emailAddress' : (m[1]!.toLowerCase() as 'id' | 'uri');
    return { permission, grantee: { type, value: m[2]! } };
  });
}

/** The ACL headers of a request, or undefined when it names none. */
export function requestedAclHeaders(req: S3Request): RequestedAcl | undefined {
  const canned = header(req, 'x-amz-acl');
  const grants = GRANT_HEADERS.flatMap((name) => {
    const v = header(req, name);
    return v === undefined ? [] : parseGrantees(name, v);
  });
  if (canned === undefined && grants.length === 0) return undefined;
  if (canned !== undefined && grants.length > 0) throw new S3Error('InvalidRequest', 'Specifying both Canned ACLs and Header Grants is not allowed');
  return canned !== undefined ? { canned, grants } : { grants };
}

function isPublicAcl(acl: RequestedAcl): boolean {
  if (acl.canned !== undefined && PUBLIC_CANNED.has(acl.canned)) return true;
  return acl.grants.some((g) => g.grantee.type === 'uri' && PUBLIC_GROUPS.includes(g.grantee.value));
}

/**
 * Whether the ACL is the bucket owner's full control and nothing else — the one ACL a bucket
 * with ACLs disabled accepts (`bucket-owner-full-control`, or the same said with grants).
 * `private` says the same for an object the bucket owner owns, which every Coffer object is.
 */
function isOwnerFullControl(acl: RequestedAcl, ownerId: string, target: 'bucket' | 'object'): boolean {
  if (acl.canned !== undefined) return target === 'object' && (acl.canned === 'bucket-owner-full-control' || acl.canned === 'private');
  return acl.grants.length > 0 && acl.grants.every((g) => g.permission === 'FULL_CONTROL' && g.grantee.type === 'id' && g.grantee.value === ownerId);
}

/**
 * The check a write carrying an ACL makes (PutObject, CopyObject, CreateMultipartUpload,
 * PutObjectAcl, PutBucketAcl): returns when the ACL changes nothing, else throws what S3 answers.
 */
export async function refuseAcl(ctx: S3Context, bucket: BucketRecord, acl: RequestedAcl | undefined, target: 'bucket' | 'object'): Promise<void> {
  if (acl === undefined || isOwnerFullControl(acl, bucket.ownerId, target)) return;
  if (await aclsDisabled(ctx, bucket.name)) throw new S3Error('AccessControlListNotSupported');
  // ACLs enabled: `private` is the ACL the bucket (and every object) already has.
  if (acl.canned === 'private') return;
  if (isPublicAcl(acl) && (await publicAccessBlock(ctx, bucket.name))?.blockPublicAcls) throw new S3Error('AccessDenied');
  throw new S3Error('NotImplemented', 'ACLs other than the bucket owner\'s full control are not implemented by this Coffer version.');
}

/** The ACL of a new bucket (CreateBucket's x-amz-acl / x-amz-grant-*): with ACLs disabled, only `private`. */
export function refuseCreateBucketAcl(req: S3Request, ownerId: string): void {
  const acl = requestedAclHeaders(req);
  if (acl === undefined || acl.canned === 'private' || (acl.canned === undefined && isOwnerFullControl(acl, ownerId, 'bucket'))) return;
  throw new S3Error('InvalidBucketAclWithObjectOwnership');
}

/** An AccessControlPolicy body (PutBucketAcl, PutObjectAcl) as grants. */
function parseAccessControlPolicy(body: string): RequestedAcl {
  const root = parseXml(body, 'AccessControlPolicy');
  onlyChildren(root, ['Owner', 'AccessControlList']);
  const lists = childList(root, 'AccessControlList');
  if (lists.length !== 1) throw new S3Error('MalformedACLError');
  onlyChildren(lists[0]!, ['Grant']);
  const grants = childList(lists[0]!, 'Grant').map((g) => {
    const grantee = childList(g, 'Grantee')[0];
    const permission = childText(g, 'Permission')?.trim();
    if (!grantee || permission === undefined || !['FULL_CONTROL', 'READ', 'READ_ACP', 'WRITE', 'WRITE_ACP'].includes(permission)) {
      throw new S3Error('MalformedACLError');
    }
    const id = childText(grantee, 'ID')?.trim();
    const uri = childText(grantee, 'URI')?.trim();
    const email = childText(grantee, 'EmailAddress')?.trim();
    const who = id !== undefined ? { type: 'id' as const, value: id } : uri !== undefined ? { type: 'uri' as const, value: uri } : email !== undefined ? { type: 'emailAddress' as const, value: email } : undefined;
    if (!who) throw new S3Error('MalformedACLError');
    return { permission, grantee: who };
  });
  return { grants };
}

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

/** The one ACL every Coffer bucket and object has: its owner's full control. */
async function ownerFullControlXml(ctx: S3Context, ownerId: string): Promise<string> {
  const owner = await ownerOf(ctx, ownerId);
  const ownerNodes: XmlNode[] = [['ID', owner.id], ['DisplayName', owner.displayName]];
  return buildS3Xml('AccessControlPolicy', [
    ['Owner', ownerNodes],
    ['AccessControlList', [['Grant', [['Grantee', ownerNodes, { 'xmlns:xsi': XSI, 'xsi:type': 'CanonicalUser' }], ['Permission', 'FULL_CONTROL']]]]],
  ]);
}

// ---- handlers

export async function getBucketAcl(ctx: S3Context, req: S3Request<BucketEndpoint>): Promise<S3Response> {
  const bucket = await requireBucket(ctx, req, req.endpoint.bucket);
  return { status: 200, headers: { 'content-type': 'application/xml' }, body: await ownerFullControlXml(ctx, bucket.ownerId) };
}

export async function putBucketAcl(ctx: S3Context, req: S3Request<BucketEndpoint>): Promise<S3Response> {
  const bucket = await requireBucket(ctx, req, req.endpoint.bucket);
  await refuseAcl(ctx, bucket, await aclOfPutAclRequest(req), 'bucket');
  // The bucket's ACL already is its owner's full control: nothing to store.
  return { status: 200 };
}

async function requireObject(ctx: S3Context, req: S3Request<ObjectEndpoint>) {
  const v = req.query.get('versionId');
  if (v !== null && v !== 'null') throw new S3Error('InvalidArgument', 'Invalid version id specified', { fields: { ArgumentName: 'versionId', ArgumentValue: v } });
  const object = await ctx.metadata.getObject(req.endpoint.bucket, req.endpoint.key);
  if (!object) throw new S3Error('NoSuchKey', undefined, { fields: { Key: req.endpoint.key } });
  return object;
}

export async function getObjectAcl(ctx: S3Context, req: S3Request<ObjectEndpoint>): Promise<S3Response> {
  await requireBucket(ctx, req, req.endpoint.bucket);
  const object = await requireObject(ctx, req);
  return { status: 200, headers: { 'content-type': 'application/xml' }, body: await ownerFullControlXml(ctx, object.ownerId) };
}

export async function putObjectAcl(ctx: S3Context, req: S3Request<ObjectEndpoint>): Promise<S3Response> {
  const bucket = await requireBucket(ctx, req, req.endpoint.bucket);
  await requireObject(ctx, req);
  await refuseAcl(ctx, bucket, await aclOfPutAclRequest(req), 'object');
  return { status: 200 };
}

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

/** ACLs enabled (BucketOwnerPreferred, ObjectWriter) would need ACLs, which this version does not have. */
export function refuseAclsEnabled(ownership: string): void {
  if (ownership === 'BucketOwnerEnforced') return;
  throw new S3Error('NotImplemented', `Object ownership ${ownership} (ACLs enabled) is not implemented by this Coffer version; only BucketOwnerEnforced is.`);
}

export async function putBucketOwnershipControls(ctx: S3Context, req: S3Request<BucketEndpoint>): Promise<S3Response> {
  const bucket = await requireBucket(ctx, req, req.endpoint.bucket);
  const body = await req.readBody(64 * 1024);
  await verifyBodyIntegrity(req, body, { required: true });
  const controls = parseOwnershipControls(body.toString('utf8'));
  refuseAclsEnabled(controls.objectOwnership);
  if (!(await ctx.metadata.putBucketConfig(bucket.name, OWNERSHIP_CONTROLS_CONFIG, JSON.stringify(controls)))) {
    throw new S3Error('NoSuchBucket', undefined, { fields: { BucketName: bucket.name } });
  }
  return { status: 200 };
}

export async function getBucketOwnershipControls(ctx: S3Context, req: S3Request<BucketEndpoint>): Promise<S3Response> {
  const bucket = await requireBucket(ctx, req, req.endpoint.bucket);
  const controls = await ownershipControls(ctx, bucket.name);
  if (!controls) throw new S3Error('OwnershipControlsNotFoundError', undefined, { fields: { BucketName: bucket.name } });
  return { status: 200, headers: { 'content-type': 'application/xml' }, body: ownershipControlsXml(controls) };
}

export async function deleteBucketOwnershipControls(ctx: S3Context, req: S3Request<BucketEndpoint>): Promise<S3Response> {
  const bucket = await requireBucket(ctx, req, req.endpoint.bucket);
  await ctx.metadata.deleteBucketConfig(bucket.name, OWNERSHIP_CONTROLS_CONFIG);
  return { status: 204 };
}
