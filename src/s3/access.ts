/**
 * Who may do what: every S3 operation mapped to its IAM action and checked
 * here, once, before its handler runs — so a denied request never learns
 * whether its body was valid (S3 authorizes before it parses). Policies come
 * from the caller's identity (IAM user policies) and the bucket (bucket
 * policy); on a bucket with ACLs enabled the bucket's and objects' ACLs grant
 * too. auth/access/ evaluates them as AWS does.
 *
 * ACLs as S3 applies them: a grant to an account's canonical id is a grant to
 * that account — its root directly, its IAM users only as far as their own
 * identity policies allow (what AWS's user context requires); AllUsers is
 * everyone, anonymous callers included; AuthenticatedUsers every signed
 * request; IgnorePublicAcls takes those two groups' grants away. An object
 * another account owns (ObjectWriter) answers to its own ACL only: the bucket
 * policy can still deny but not grant, and the bucket owner reads it only if
 * granted — yet deletes and overwrites it, which are the bucket's (WRITE).
 */
import {
  authorize,
  conditionContext,
  isPublicPolicy,
  normalizeConditionKey,
  parsePolicy,
  unmapIPv4,
  type AclInput,
  type AclPermission,
  type Decision,
  type Policy,
} from '../auth/access/index.js';
import { S3Error } from '../errors/s3-errors.js';
import type { BucketOperation, Endpoint, ObjectOperation } from '../http/router.js';
import { header, type Principal, type S3Request } from '../http/types.js';
import type { AclGrant, BucketRecord, ObjectRecord } from '../metadata/metadata-store.js';
import { isVersionIdSyntax } from '../metadata/metadata-rules.js';
import { hasAclHeaders, withoutPublicGrants } from './acl.js';
import type { S3Context } from './context.js';
import { parseCopySource } from './copy.js';
import { effectiveObjectAcl, objectOwnership, storedBucketGrants } from './ownership.js';
import { publicAccessBlock } from './public-access-block.js';

/** The bucket policy's name among the bucket's configuration documents. */
export const BUCKET_POLICY_CONFIG = 'policy';

/** IAM actions of bucket operations; DeleteObjects is checked per key (s3:DeleteObject) by its handler. */
export const BUCKET_ACTIONS: Record<BucketOperation, string | undefined> = {
  CreateBucket: 's3:CreateBucket',
  HeadBucket: 's3:ListBucket',
  DeleteBucket: 's3:DeleteBucket',
  GetBucketLocation: 's3:GetBucketLocation',
  GetBucketVersioning: 's3:GetBucketVersioning',
  PutBucketVersioning: 's3:PutBucketVersioning',
  ListObjectVersions: 's3:ListBucketVersions',
  PutObjectLockConfiguration: 's3:PutBucketObjectLockConfiguration',
  GetObjectLockConfiguration: 's3:GetBucketObjectLockConfiguration',
  ListObjects: 's3:ListBucket',
  ListObjectsV2: 's3:ListBucket',
  ListMultipartUploads: 's3:ListBucketMultipartUploads',
  DeleteObjects: undefined,
  PutBucketEncryption: 's3:PutEncryptionConfiguration',
  GetBucketEncryption: 's3:GetEncryptionConfiguration',
  DeleteBucketEncryption: 's3:PutEncryptionConfiguration',
  PutBucketPolicy: 's3:PutBucketPolicy',
  GetBucketPolicy: 's3:GetBucketPolicy',
  DeleteBucketPolicy: 's3:DeleteBucketPolicy',
  GetBucketPolicyStatus: 's3:GetBucketPolicyStatus',
  PutPublicAccessBlock: 's3:PutBucketPublicAccessBlock',
  GetPublicAccessBlock: 's3:GetBucketPublicAccessBlock',
  DeletePublicAccessBlock: 's3:PutBucketPublicAccessBlock',
  PutBucketOwnershipControls: 's3:PutBucketOwnershipControls',
  GetBucketOwnershipControls: 's3:GetBucketOwnershipControls',
  DeleteBucketOwnershipControls: 's3:PutBucketOwnershipControls',
  GetBucketAcl: 's3:GetBucketAcl',
  PutBucketAcl: 's3:PutBucketAcl',
  // S3's action names spell CORS in capitals; DeleteBucketCors needs s3:PutBucketCORS.
  PutBucketCors: 's3:PutBucketCORS',
  GetBucketCors: 's3:GetBucketCORS',
  DeleteBucketCors: 's3:PutBucketCORS',
};

/** IAM actions of object operations (the copies also need s3:GetObject on their source). */
export const OBJECT_ACTIONS: Record<ObjectOperation, string> = {
  PutObject: 's3:PutObject',
  CopyObject: 's3:PutObject',
  GetObject: 's3:GetObject',
  HeadObject: 's3:GetObject',
  DeleteObject: 's3:DeleteObject',
  PutObjectTagging: 's3:PutObjectTagging',
  GetObjectTagging: 's3:GetObjectTagging',
  DeleteObjectTagging: 's3:DeleteObjectTagging',
  CreateMultipartUpload: 's3:PutObject',
  UploadPart: 's3:PutObject',
  UploadPartCopy: 's3:PutObject',
  CompleteMultipartUpload: 's3:PutObject',
  AbortMultipartUpload: 's3:AbortMultipartUpload',
  ListParts: 's3:ListMultipartUploadParts',
  UpdateObjectEncryption: 's3:PutObject',
  GetObjectAcl: 's3:GetObjectAcl',
  PutObjectAcl: 's3:PutObjectAcl',
  GetObjectAttributes: 's3:GetObjectAttributes',
  GetObjectRetention: 's3:GetObjectRetention',
  PutObjectRetention: 's3:PutObjectRetention',
  GetObjectLegalHold: 's3:GetObjectLegalHold',
  PutObjectLegalHold: 's3:PutObjectLegalHold',
};

/**
 * The action S3 authorizes when a request names a version (`?versionId=`): GetObjectVersion,
 * DeleteObjectVersion and the *Version* tagging and ACL actions, instead of the plain ones.
 */
const VERSION_ACTIONS: Readonly<Record<string, string>> = {
  's3:GetObject': 's3:GetObjectVersion',
  's3:DeleteObject': 's3:DeleteObjectVersion',
  's3:GetObjectTagging': 's3:GetObjectVersionTagging',
  's3:PutObjectTagging': 's3:PutObjectVersionTagging',
  's3:DeleteObjectTagging': 's3:DeleteObjectVersionTagging',
  's3:GetObjectAcl': 's3:GetObjectVersionAcl',
  's3:PutObjectAcl': 's3:PutObjectVersionAcl',
};

/** The IAM action of an object operation, as the request names a version or not. */
export function objectAction(operation: ObjectOperation, req: Pick<S3Request, 'query'>): string {
  const action = OBJECT_ACTIONS[operation];
  return req.query.has('versionId') ? (VERSION_ACTIONS[action] ?? action) : action;
}

/**
 * The ACL permission each action needs, on the bucket's ACL (S3's mapping of ACL permissions to
 * policy actions). WRITE on a bucket is the right to create, overwrite and delete its objects.
 */
const BUCKET_ACL_PERMISSIONS: Readonly<Record<string, AclPermission>> = {
  's3:ListBucket': 'READ',
  's3:ListBucketVersions': 'READ',
  's3:ListBucketMultipartUploads': 'READ',
  's3:PutObject': 'WRITE',
  's3:DeleteObject': 'WRITE',
  's3:DeleteObjectVersion': 'WRITE',
  's3:AbortMultipartUpload': 'WRITE',
  's3:GetBucketAcl': 'READ_ACP',
  's3:PutBucketAcl': 'WRITE_ACP',
};

/** The same for an object's ACL (WRITE means nothing on an object). */
const OBJECT_ACL_PERMISSIONS: Readonly<Record<string, AclPermission>> = {
  's3:GetObject': 'READ',
  's3:GetObjectVersion': 'READ',
  's3:GetObjectAcl': 'READ_ACP',
  's3:GetObjectVersionAcl': 'READ_ACP',
  's3:PutObjectAcl': 'WRITE_ACP',
  's3:PutObjectVersionAcl': 'WRITE_ACP',
};

/**
 * Actions S3 decides in the object's context (its owner, its ACL); the other object actions
 * (writes, deletes, multipart) are the bucket's business.
 */
const OBJECT_CONTEXT_ACTIONS: ReadonlySet<string> = new Set([
  's3:GetObject',
  's3:GetObjectVersion',
  's3:GetObjectVersionAcl',
  's3:PutObjectVersionAcl',
  's3:GetObjectVersionTagging',
  's3:PutObjectVersionTagging',
  's3:DeleteObjectVersionTagging',
  's3:GetObjectAcl',
  's3:PutObjectAcl',
  's3:GetObjectTagging',
  's3:PutObjectTagging',
  's3:DeleteObjectTagging',
]);

/** The bucket owner's root may always manage the bucket policy, even against its own Deny (as S3 allows). */
const OWNER_OVERRIDES: ReadonlySet<string> = new Set(['s3:PutBucketPolicy', 's3:GetBucketPolicy', 's3:DeleteBucketPolicy']);

export async function requireBucket(ctx: S3Context, req: S3Request, name: string): Promise<BucketRecord> {
  const bucket = await ctx.metadata.getBucket(name);
  // Anonymous callers do not learn which buckets exist (S3 would say NoSuchBucket).
  if (!bucket && !req.principal) throw new S3Error('AccessDenied');
  if (!bucket) throw new S3Error('NoSuchBucket', undefined, { fields: { BucketName: name } });
  return bucket;
}

const policyCache = new Map<string, Policy>();

/** The bucket's policy, parsed (cached by document text), or undefined. */
export async function bucketPolicy(ctx: S3Context, bucket: string): Promise<Policy | undefined> {
  const doc = await ctx.metadata.getBucketConfig(bucket, BUCKET_POLICY_CONFIG);
  if (doc === undefined) return undefined;
  let policy = policyCache.get(doc);
  if (!policy) {
    try {
      policy = parsePolicy(doc, { kind: 'bucket', bucket });
    } catch {
      return undefined; // validated when stored
    }
    if (policyCache.size > 1000) policyCache.clear();
    policyCache.set(doc, policy);
  }
  return policy;
}

function mentionsKey(policies: readonly (Policy | undefined)[], prefix: string): boolean {
  return policies.some((p) => p?.statements.some((s) => s.conditions.some((c) => normalizeConditionKey(c.key).startsWith(prefix))));
}

/** The tag pairs of an `x-amz-tagging` header (URL-encoded query form). */
function taggingHeader(req: S3Request): [string, string][] | undefined {
  const v = header(req, 'x-amz-tagging');
  return v === undefined ? undefined : [...new URLSearchParams(v).entries()];
}

/** Condition keys of the request (see the list; AWS's names). */
async function requestContext(ctx: S3Context, req: S3Request, target: { bucket?: BucketRecord; key?: string }, policies: readonly (Policy | undefined)[]) {
  const p = req.principal;
  const now = new Date();
  const pairs: Record<string, string | string[] | undefined> = {
    'aws:SecureTransport': req.secure ? 'true' : 'false',
    'aws:SourceIp': unmapIPv4(req.remoteAddress),
    'aws:CurrentTime': now.toISOString(),
    'aws:EpochTime': String(Math.floor(now.getTime() / 1000)),
    'aws:PrincipalType': p ? (p.userName !== undefined ? 'User' : 'Account') : 'Anonymous',
    'aws:username': p?.userName,
    'aws:userid': p ? (p.caller.userId ?? p.awsAccountId) : 'anonymous',
    'aws:PrincipalAccount': p?.awsAccountId,
    'aws:PrincipalArn': p?.arn,
    's3:authType': req.authType ?? (req.query.has('X-Amz-Signature') ? 'REST-QUERY-STRING' : p ? 'REST-HEADER' : undefined),
    's3:signatureversion': p ? 'AWS4-HMAC-SHA256' : undefined,
    's3:x-amz-content-sha256': header(req, 'x-amz-content-sha256'),
    's3:x-amz-acl': header(req, 'x-amz-acl'),
    's3:x-amz-server-side-encryption': header(req, 'x-amz-server-side-encryption'),
    's3:x-amz-server-side-encryption-aws-kms-key-id': header(req, 'x-amz-server-side-encryption-aws-kms-key-id'),
    's3:x-amz-server-side-encryption-customer-algorithm': header(req, 'x-amz-server-side-encryption-customer-algorithm'),
    's3:x-amz-copy-source': header(req, 'x-amz-copy-source'),
    's3:x-amz-metadata-directive': header(req, 'x-amz-metadata-directive'),
    's3:x-amz-storage-class': header(req, 'x-amz-storage-class'),
    // The version a request names (GetObjectVersion, DeleteObjectVersion…), as S3's s3:versionid condition key.
    's3:versionid': req.query.get('versionId') ?? undefined,
  };
  const e = req.endpoint;
  if (e.kind === 'bucket' && (e.operation === 'ListObjects' || e.operation === 'ListObjectsV2')) {
    pairs['s3:prefix'] = req.query.get('prefix') ?? undefined;
    pairs['s3:delimiter'] = req.query.get('delimiter') ?? undefined;
    pairs['s3:max-keys'] = req.query.get('max-keys') ?? undefined;
  }
  if (e.kind === 'object') {
    const tags = taggingHeader(req);
    if (tags && (e.operation === 'PutObject' || e.operation === 'CopyObject' || e.operation === 'CreateMultipartUpload')) {
      for (const [k, v] of tags) pairs[`s3:RequestObjectTag/${k}`] = v;
      pairs['s3:RequestObjectTagKeys'] = tags.map(([k]) => k);
    }
    // Parts carry no encryption headers: S3 evaluates them with their upload's encryption, so
    // "deny uploads without aws:kms" policies hold for multipart uploads too.
    if (e.operation === 'UploadPart' || e.operation === 'UploadPartCopy' || e.operation === 'CompleteMultipartUpload') {
      const uploadId = req.query.get('uploadId');
      const upload = uploadId ? await ctx.metadata.getUpload(uploadId) : undefined;
      const enc = upload?.encryption;
      if (enc && upload.bucket === e.bucket && upload.key === e.key) {
        if (enc.mode === 'SSE-C') pairs['s3:x-amz-server-side-encryption-customer-algorithm'] = 'AES256';
        else pairs['s3:x-amz-server-side-encryption'] = enc.mode;
        if (enc.kmsKeyArn !== undefined) pairs['s3:x-amz-server-side-encryption-aws-kms-key-id'] = enc.kmsKeyArn;
      }
    }
    if (target.bucket && target.key !== undefined && mentionsKey(policies, 's3:existingobjecttag/')) {
      const existing = await targetObject(ctx, req, target.bucket.name, target.key);
      for (const [k, v] of existing?.tags ?? []) pairs[`s3:ExistingObjectTag/${k}`] = v;
    }
  }
  return conditionContext(pairs);
}

/**
 * The object a request on `key` acts on, for its ACL and tags: the version its `versionId` names
 * (a malformed id or a delete marker: none, the handler answers S3's error), else the current one.
 */
async function targetObject(ctx: S3Context, req: S3Request, bucket: string, key: string): Promise<ObjectRecord | undefined> {
  const versionId = req.endpoint.kind === 'object' && req.endpoint.key === key ? req.query.get('versionId') : null;
  if (versionId === null) return ctx.metadata.getObject(bucket, key);
  if (!isVersionIdSyntax(versionId)) return undefined;
  const version = await ctx.metadata.getObjectVersion(bucket, key, versionId);
  return version?.deleteMarker ? undefined : version;
}

const publicPolicies = new WeakMap<Policy, boolean>();

/** A public policy with its Allow statements taken out: what RestrictPublicBuckets leaves of it for outsiders. */
const restrictedPolicies = new WeakMap<Policy, Policy>();

/**
 * The bucket policy as it applies to this caller. RestrictPublicBuckets makes a public policy
 * grant nothing to anonymous callers and other accounts (its Denies still bind them); the
 * owner account's principals are evaluated as usual, as S3 does.
 */
async function effectivePolicy(ctx: S3Context, policy: Policy | undefined, bucket: BucketRecord, callerAccount: string | undefined, ownerAccount: string | undefined): Promise<Policy | undefined> {
  if (!policy || (callerAccount !== undefined && callerAccount === ownerAccount)) return policy;
  let isPublic = publicPolicies.get(policy);
  if (isPublic === undefined) {
    isPublic = isPublicPolicy(policy);
    publicPolicies.set(policy, isPublic);
  }
  if (!isPublic || !(await publicAccessBlock(ctx, bucket.name))?.restrictPublicBuckets) return policy;
  let restricted = restrictedPolicies.get(policy);
  if (!restricted) {
    restricted = { ...policy, statements: policy.statements.filter((st) => st.effect === 'Deny') };
    restrictedPolicies.set(policy, restricted);
  }
  return restricted;
}

/** The account owning a canonical id; one that is unknown belongs to nobody who can be asked (only policies and ACLs speak). */
async function owningAccount(ctx: S3Context, canonicalId: string): Promise<string> {
  return (await ctx.identities.accountByCanonicalId(canonicalId))?.accountId ?? `unknown:${canonicalId}`;
}

/**
 * The resource side of a decision on a bucket with ACLs enabled: the ACL that speaks for the
 * action and, for another account's object, that account as the resource owner. Undefined
 * while ACLs are disabled (BucketOwnerEnforced), where only policies speak.
 */
async function aclSide(
  ctx: S3Context,
  req: S3Request,
  bucket: BucketRecord,
  action: string,
  key: string | undefined,
): Promise<{ acl: AclInput | undefined; objectOwnerId?: string } | undefined> {
  const ownership = await objectOwnership(ctx, bucket.name);
  if (ownership === 'BucketOwnerEnforced') return undefined;
  const usable = async (grants: AclGrant[]) => ((await publicAccessBlock(ctx, bucket.name))?.ignorePublicAcls ? withoutPublicGrants(grants) : grants);
  const object = key !== undefined && OBJECT_CONTEXT_ACTIONS.has(action) ? await targetObject(ctx, req, bucket.name, key) : undefined;
  if (object) {
    const { ownerId, grants } = effectiveObjectAcl(object, bucket, ownership);
    const permission = OBJECT_ACL_PERMISSIONS[action];
    return { acl: permission ? { grants: await usable(grants), permission } : undefined, objectOwnerId: ownerId };
  }
  const permission = BUCKET_ACL_PERMISSIONS[action];
  return { acl: permission ? { grants: await usable(await storedBucketGrants(ctx, bucket)), permission } : undefined };
}

/** Evaluates one action on one S3 resource for this request. */
async function decide(ctx: S3Context, req: S3Request, action: string, target: { bucket?: BucketRecord; bucketName: string; key?: string }): Promise<Decision> {
  const principal: Principal | undefined = req.principal;
  const identityPolicies = principal?.policies ?? [];
  const bucket = target.bucket;
  const ownerAccount = bucket ? await owningAccount(ctx, bucket.ownerId) : undefined;
  const storedPolicy = bucket ? await bucketPolicy(ctx, bucket.name) : undefined;
  const policy = bucket ? await effectivePolicy(ctx, storedPolicy, bucket, principal?.awsAccountId, ownerAccount) : undefined;
  const resource = target.key === undefined ? `arn:aws:s3:::${target.bucketName}` : `arn:aws:s3:::${target.bucketName}/${target.key}`;
  const context = await requestContext(ctx, req, target, [policy, ...identityPolicies]);
  const acls = bucket ? await aclSide(ctx, req, bucket, action, target.key) : undefined;
  // Another account's object: S3's object context, where the bucket policy only denies.
  const foreignObject = bucket !== undefined && acls?.objectOwnerId !== undefined && acls.objectOwnerId !== bucket.ownerId;
  return authorize({
    request: { caller: principal?.caller, action, resource, context },
    identityPolicies,
    resourcePolicy: foreignObject ? undefined : policy,
    ...(foreignObject && policy ? { denyOnlyPolicies: [policy] } : {}),
    acl: acls?.acl,
    resourceAccount: foreignObject ? await owningAccount(ctx, acls!.objectOwnerId!) : ownerAccount,
    ownerOverrides: OWNER_OVERRIDES,
  });
}

function deny(ctx: S3Context, req: S3Request, action: string, decision: Decision): never {
  ctx.log.debug({ requestId: req.requestId, action, principal: req.principal?.arn ?? 'anonymous', reason: decision.reason }, 'access denied');
  throw new S3Error('AccessDenied');
}

/**
 * The one access check, run by the dispatcher before any handler: throws AccessDenied
 * (or NoSuchBucket for a bucket that does not exist) unless the request is allowed.
 */
export async function authorizeRequest(ctx: S3Context, req: S3Request): Promise<void> {
  const e: Endpoint = req.endpoint;
  if (e.kind === 'service') {
    const d = await decide(ctx, req, 's3:ListAllMyBuckets', { bucketName: '*' });
    if (d.effect !== 'Allow' || !req.principal) deny(ctx, req, 's3:ListAllMyBuckets', d);
    return;
  }
  if (e.kind === 'bucket') {
    if (e.operation === 'CreateBucket') {
      // Setting an ACL or object ownership at creation also needs the permission to set it later (S3's rule).
      const actions = ['s3:CreateBucket'];
      if (hasAclHeaders(req)) actions.push('s3:PutBucketAcl');
      if (header(req, 'x-amz-object-ownership') !== undefined) actions.push('s3:PutBucketOwnershipControls');
      // S3: creating a bucket with Object Lock also needs the permissions to configure it and its versioning.
      if (header(req, 'x-amz-bucket-object-lock-enabled')?.trim().toLowerCase() === 'true') actions.push('s3:PutBucketObjectLockConfiguration', 's3:PutBucketVersioning');
      for (const action of actions) {
        const d = await decide(ctx, req, action, { bucketName: e.bucket });
        if (d.effect !== 'Allow' || !req.principal) deny(ctx, req, action, d);
      }
      return;
    }
    const bucket = await requireBucket(ctx, req, e.bucket);
    const action = BUCKET_ACTIONS[e.operation];
    if (action === undefined) return;
    const d = await decide(ctx, req, action, { bucket, bucketName: e.bucket });
    if (d.effect !== 'Allow') deny(ctx, req, action, d);
    return;
  }
  if (e.kind === 'object') {
    const bucket = await requireBucket(ctx, req, e.bucket);
    const action = objectAction(e.operation, req);
    const d = await decide(ctx, req, action, { bucket, bucketName: e.bucket, key: e.key });
    if (d.effect !== 'Allow') deny(ctx, req, action, d);
    if (e.operation === 'CopyObject' || e.operation === 'UploadPartCopy') {
      const sourceHeader = header(req, 'x-amz-copy-source');
      if (sourceHeader === undefined) return;
      const source = parseCopySource(sourceHeader);
      const sourceBucket = await requireBucket(ctx, req, source.bucket);
      // A copy of a named version needs s3:GetObjectVersion on the source (S3's rule).
      const sourceAction = source.versionId !== undefined ? 's3:GetObjectVersion' : 's3:GetObject';
      const sd = await decide(ctx, req, sourceAction, { bucket: sourceBucket, bucketName: source.bucket, key: source.key });
      if (sd.effect !== 'Allow') deny(ctx, req, sourceAction, sd);
    }
    return;
  }
  // Operations Coffer does not implement answer 501 to authenticated callers only.
  if (!req.principal) throw new S3Error('AccessDenied');
}

/** A per-key check for operations that act on many keys (DeleteObjects → s3:DeleteObject). */
export async function mayActOnObject(ctx: S3Context, req: S3Request, bucket: BucketRecord, key: string, action: string): Promise<boolean> {
  return (await decide(ctx, req, action, { bucket, bucketName: bucket.name, key })).effect === 'Allow';
}

/** The Owner element S3 shows for something a bucket owner owns: that account's canonical id and display name. */
export async function ownerOf(ctx: S3Context, canonicalId: string): Promise<{ id: string; displayName: string }> {
  const account = await ctx.identities.accountByCanonicalId(canonicalId);
  return { id: canonicalId, displayName: account?.name ?? canonicalId };
}
