/**
 * S3 access control lists as data: the ACL a request states (a canned ACL,
 * `x-amz-grant-*` headers, or an AccessControlPolicy document) resolved into
 * grants, the grants rendered back as S3 renders them, and which of them make
 * a resource public. Who may then do what with them is decided once, in
 * access.ts and auth/access/evaluate.ts; when ACLs apply at all (Object
 * Ownership) is ownership.ts's business.
 */
import { ALL_USERS_GROUP, ANONYMOUS_CANONICAL_ID, AUTHENTICATED_USERS_GROUP, LOG_DELIVERY_GROUP } from '../auth/access/index.js';
import { S3Error } from '../errors/s3-errors.js';
import { header, type S3Request } from '../http/types.js';
import type { AclGrant, AclGrantee, AclPermission } from '../metadata/metadata-store.js';
import { buildS3Xml, childList, childText, onlyChildren, parseXml, type XmlElement, type XmlNode } from '../xml/xml.js';
import type { S3Context } from './context.js';

export const ACL_PERMISSIONS: readonly AclPermission[] = ['FULL_CONTROL', 'READ', 'WRITE', 'READ_ACP', 'WRITE_ACP'];

/** The groups a grant may name; any other URI is InvalidArgument. */
const GROUPS: readonly string[] = [ALL_USERS_GROUP, AUTHENTICATED_USERS_GROUP, LOG_DELIVERY_GROUP];
/** Grants to these make an ACL public (S3 counts every signed request as the public too); LogDelivery does not. */
const PUBLIC_GROUPS: readonly string[] = [ALL_USERS_GROUP, AUTHENTICATED_USERS_GROUP];

/** Amazon EC2's account, which `aws-exec-read` lets read a machine image bundle; S3 names it so in ACLs. */
export const EC2_BUNDLE_READER = Object.freeze({ id: '6aa5a366c34c1cbe25dc49211496e913e0351eb0e8c37aa3477e40942ec6b97c', displayName: 'za-team' });

/**
 * Canned ACLs by what they may be set on. S3's ObjectCannedACL has no `log-delivery-write`;
 * the two bucket-owner ACLs are accepted on a bucket and mean nothing there (the bucket owner
 * is the owner), so they leave it `private`.
 */
const CANNED: Record<'bucket' | 'object', readonly string[]> = {
  bucket: ['private', 'public-read', 'public-read-write', 'authenticated-read', 'aws-exec-read', 'log-delivery-write', 'bucket-owner-read', 'bucket-owner-full-control'],
  object: ['private', 'public-read', 'public-read-write', 'authenticated-read', 'aws-exec-read', 'bucket-owner-read', 'bucket-owner-full-control'],
};

/** Grant headers in the order their grants are listed. */
const GRANT_HEADERS: readonly [string, AclPermission][] = [
  ['x-amz-grant-full-control', 'FULL_CONTROL'],
  ['x-amz-grant-read', 'READ'],
  ['x-amz-grant-read-acp', 'READ_ACP'],
  ['x-amz-grant-write', 'WRITE'],
  ['x-amz-grant-write-acp', 'WRITE_ACP'],
];

/** S3's limit on the grants of one ACL. */
const MAX_GRANTS = 100;

const XSI = 'http://www.w3.org/2001/XMLSchema-instance';

/** A grantee as a request names it, before it is checked: by canonical id, group URI or email address. */
export type RequestedGrantee = { type: 'id' | 'uri' | 'emailAddress'; value: string };

/** The ACL a request asks for, as written. */
export interface RequestedAcl {
  canned?: string;
  grants: { permission: AclPermission; grantee: RequestedGrantee; header?: string }[];
  /** An AccessControlPolicy's Owner/ID (a body must name the resource's owner). */
  ownerId?: string;
}

// ---- reading requests

function parseGrantHeader(name: string, permission: AclPermission, value: string): RequestedAcl['grants'] {
  return value.split(',').map((part) => {
    const m = /^\s*([A-Za-z]+)\s*=\s*(?:"([^"]*)"|([^",]*?))\s*$/.exec(part);
    const kind = m?.[1]?.toLowerCase();
    if (!m || (kind !== 'id' && kind !== 'uri' && kind !== 'emailaddress')) {
      throw new S3Error('InvalidArgument', 'Argument format not recognized', { fields: { ArgumentName: name, ArgumentValue: value } });
    }
    const type = kind === 'emailaddress' ? 'emailAddress' : kind;
    return { permission, grantee: { type, value: (m[2] ?? m[3] ?? '').trim() }, header: name };
  });
}

/**
 * The ACL headers of a request (`x-amz-acl` or `x-amz-grant-*`), or undefined when it has none.
 * Both at once is 400 InvalidRequest, as S3 answers.
 */
export function requestedAclHeaders(req: S3Request): RequestedAcl | undefined {
  const canned = header(req, 'x-amz-acl');
  const grants = GRANT_HEADERS.flatMap(([name, permission]) => {
    const v = header(req, name);
    return v === undefined ? [] : parseGrantHeader(name, permission, v);
  });
  if (canned === undefined && grants.length === 0) return undefined;
  if (canned !== undefined && grants.length > 0) throw new S3Error('InvalidRequest', 'Specifying both Canned ACLs and Header Grants is not allowed');
  return canned !== undefined ? { canned: canned.trim(), grants } : { grants };
}

/** Whether the request's ACL headers ask for anything (the extra permission CreateBucket needs). */
export function hasAclHeaders(req: S3Request): boolean {
  return header(req, 'x-amz-acl') !== undefined || GRANT_HEADERS.some(([name]) => header(req, name) !== undefined);
}

function granteeOf(el: XmlElement): RequestedGrantee {
  onlyChildren(el, ['ID', 'DisplayName', 'URI', 'EmailAddress']);
  const type = el.attributes.get('type');
  const id = childText(el, 'ID')?.trim();
  const uri = childText(el, 'URI')?.trim();
  const email = childText(el, 'EmailAddress')?.trim();
  // xsi:type says what the grantee is; the element it needs must be there (the SDKs always write both).
  if (type === 'CanonicalUser' && id !== undefined && uri === undefined && email === undefined) return { type: 'id', value: id };
  if (type === 'Group' && uri !== undefined && id === undefined && email === undefined) return { type: 'uri', value: uri };
  if (type === 'AmazonCustomerByEmail' && email !== undefined && id === undefined && uri === undefined) return { type: 'emailAddress', value: email };
  throw new S3Error('MalformedACLError');
}

/**
 * An AccessControlPolicy document (PutBucketAcl, PutObjectAcl). Anything that is not one —
 * not XML, unknown elements, a grant without grantee or with an unknown permission, no
 * Owner/ID — is 400 MalformedACLError.
 */
export function parseAccessControlPolicy(body: string): RequestedAcl {
  try {
    const root = parseXml(body, 'AccessControlPolicy', { attributes: true });
    onlyChildren(root, ['Owner', 'AccessControlList']);
    const owners = childList(root, 'Owner');
    if (owners.length !== 1) throw new S3Error('MalformedACLError');
    onlyChildren(owners[0]!, ['ID', 'DisplayName']);
    const ownerId = childText(owners[0]!, 'ID')?.trim();
    if (ownerId === undefined || ownerId === '') throw new S3Error('MalformedACLError');
    const lists = childList(root, 'AccessControlList');
    if (lists.length !== 1) throw new S3Error('MalformedACLError');
    onlyChildren(lists[0]!, ['Grant']);
    const grants = childList(lists[0]!, 'Grant').map((g) => {
      onlyChildren(g, ['Grantee', 'Permission']);
      const grantees = childList(g, 'Grantee');
      const permission = childText(g, 'Permission')?.trim() as AclPermission | undefined;
      if (grantees.length !== 1 || permission === undefined || !ACL_PERMISSIONS.includes(permission)) throw new S3Error('MalformedACLError');
      return { permission, grantee: granteeOf(grantees[0]!) };
    });
    return { grants, ownerId };
  } catch (err) {
    if (err instanceof S3Error && err.code === 'MalformedXML') throw new S3Error('MalformedACLError');
    throw err;
  }
}

// ---- resolving into grants

function user(id: string): AclGrantee {
  return { type: 'CanonicalUser', id };
}

function group(uri: string): AclGrantee {
  return { type: 'Group', uri };
}

/** The implicit ACL of everything that has none stored: its owner's FULL_CONTROL. */
export function privateGrants(ownerId: string): AclGrant[] {
  return [{ grantee: user(ownerId), permission: 'FULL_CONTROL' }];
}

/** Whether grants are exactly the implicit `private` ACL (so nothing need be stored). */
export function isPrivate(grants: readonly AclGrant[], ownerId: string): boolean {
  return grants.length === 1 && grants[0]!.permission === 'FULL_CONTROL' && grants[0]!.grantee.type === 'CanonicalUser' && grants[0]!.grantee.id === ownerId;
}

/** The grants of a canned ACL, for a resource owned by `ownerId` in a bucket owned by `bucketOwnerId`. */
export function cannedGrants(name: string, target: 'bucket' | 'object', ownerId: string, bucketOwnerId: string): AclGrant[] {
  if (!CANNED[target].includes(name)) throw new S3Error('InvalidArgument', undefined, { fields: { ArgumentName: 'x-amz-acl', ArgumentValue: name } });
  const grants = privateGrants(ownerId);
  const add = (grantee: AclGrantee, ...permissions: AclPermission[]) => grants.push(...permissions.map((permission) => ({ grantee, permission })));
  switch (name) {
    case 'public-read':
      add(group(ALL_USERS_GROUP), 'READ');
      break;
    case 'public-read-write':
      add(group(ALL_USERS_GROUP), 'READ', 'WRITE');
      break;
    case 'authenticated-read':
      add(group(AUTHENTICATED_USERS_GROUP), 'READ');
      break;
    case 'aws-exec-read':
      add(user(EC2_BUNDLE_READER.id), 'READ');
      break;
    case 'log-delivery-write':
      add(group(LOG_DELIVERY_GROUP), 'WRITE', 'READ_ACP');
      break;
    case 'bucket-owner-read':
      if (bucketOwnerId !== ownerId) add(user(bucketOwnerId), 'READ');
      break;
    case 'bucket-owner-full-control':
      if (bucketOwnerId !== ownerId) add(user(bucketOwnerId), 'FULL_CONTROL');
      break;
  }
  return grants;
}

/** Whether S3 knows a canonical user id: an account of this Coffer, or one of the users S3 itself names. */
async function knownUser(ctx: S3Context, id: string): Promise<boolean> {
  if (id === EC2_BUNDLE_READER.id || id === ANONYMOUS_CANONICAL_ID) return true;
  return (await ctx.identities.accountByCanonicalId(id)) !== undefined;
}

/**
 * The grants a requested ACL makes, every grantee checked as S3 checks it: an unknown canonical
 * id or group URI is 400 InvalidArgument; an email address is 400 UnresolvableGrantByEmailAddress
 * (Coffer accounts have none to resolve it against).
 */
export async function resolveAcl(
  ctx: S3Context,
  requested: RequestedAcl,
  resource: { target: 'bucket' | 'object'; ownerId: string; bucketOwnerId: string },
): Promise<AclGrant[]> {
  if (requested.canned !== undefined) return cannedGrants(requested.canned, resource.target, resource.ownerId, resource.bucketOwnerId);
  if (requested.grants.length > MAX_GRANTS) throw new S3Error('MalformedACLError', `An ACL may have at most ${MAX_GRANTS} grants.`);
  const grants: AclGrant[] = [];
  for (const { permission, grantee, header: name } of requested.grants) {
    const argument = { ArgumentName: name ?? `${grantee.type === 'id' ? 'CanonicalUser/ID' : 'Group/URI'}`, ArgumentValue: grantee.value };
    if (grantee.type === 'emailAddress') throw new S3Error('UnresolvableGrantByEmailAddress', undefined, { fields: { EmailAddress: grantee.value } });
    if (grantee.type === 'uri') {
      if (!GROUPS.includes(grantee.value)) throw new S3Error('InvalidArgument', 'Invalid group uri', { fields: argument });
      grants.push({ grantee: group(grantee.value), permission });
    } else {
      if (!(await knownUser(ctx, grantee.value))) throw new S3Error('InvalidArgument', 'Invalid id', { fields: argument });
      grants.push({ grantee: user(grantee.value), permission });
    }
  }
  return grants;
}

/** Whether grants give anything to everyone or to every signed request (what Block Public Access calls public). */
export function isPublicAcl(grants: readonly AclGrant[]): boolean {
  return grants.some((g) => g.grantee.type === 'Group' && PUBLIC_GROUPS.includes(g.grantee.uri));
}

/** The grants without the public ones: what IgnorePublicAcls leaves of an ACL. */
export function withoutPublicGrants(grants: readonly AclGrant[]): AclGrant[] {
  return grants.filter((g) => !(g.grantee.type === 'Group' && PUBLIC_GROUPS.includes(g.grantee.uri)));
}

// ---- rendering

/** The display name S3 shows for a canonical user, if it has one. */
async function displayName(ctx: S3Context, id: string): Promise<string | undefined> {
  if (id === EC2_BUNDLE_READER.id) return EC2_BUNDLE_READER.displayName;
  return (await ctx.identities.accountByCanonicalId(id))?.name;
}

/** GetBucketAcl's and GetObjectAcl's AccessControlPolicy document. */
export async function accessControlPolicyXml(ctx: S3Context, ownerId: string, grants: readonly AclGrant[]): Promise<string> {
  const ownerName = (await displayName(ctx, ownerId)) ?? ownerId;
  const list: XmlNode[] = [];
  for (const g of grants) {
    const type = { 'xmlns:xsi': XSI, 'xsi:type': g.grantee.type };
    const grantee: XmlNode =
      g.grantee.type === 'Group'
        ? ['Grantee', [['URI', g.grantee.uri]], type]
        : ['Grantee', [['ID', g.grantee.id], ['DisplayName', await displayName(ctx, g.grantee.id)]], type];
    list.push(['Grant', [grantee, ['Permission', g.permission]]]);
  }
  return buildS3Xml('AccessControlPolicy', [
    ['Owner', [['ID', ownerId], ['DisplayName', ownerName]]],
    ['AccessControlList', list],
  ]);
}
