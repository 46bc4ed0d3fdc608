/**
 * S3 Object Lock: the bucket's configuration (Put/GetObjectLockConfiguration, default
 * retention), each version's retention (Put/GetObjectRetention) and legal hold
 * (Put/GetObjectLegalHold), the `x-amz-object-lock-*` headers of writes, and the rule that a
 * locked version cannot be deleted by anyone — the account root included — until its
 * retention ends (GOVERNANCE: unless the caller sends x-amz-bypass-governance-retention and
 * holds s3:BypassGovernanceRetention). Locks live in the version's record, so they are
 * checked in the same transaction that would delete it (MetadataStore.deleteObjectVersion).
 */
import type { BucketEndpoint, ObjectEndpoint } from '../http/router.js';
import { S3Error } from '../errors/s3-errors.js';
import { header, type HeaderValue, type S3Request, type S3Response } from '../http/types.js';
import type { ObjectRecord } from '../metadata/metadata-store.js';
import { buildS3Xml, childList, childText, onlyChildren, parseXml, type XmlNode } from '../xml/xml.js';
import { mayActOnObject, requireBucket } from './access.js';
import type { S3Context } from './context.js';
import { verifyBodyIntegrity } from './headers.js';
import { bucketVersioning, OBJECT_LOCK_CONFIG, requestedVersionId, resolveObjectVersion, versionIdHeader, VERSIONING_CONFIG } from './versioning.js';

export type RetentionMode = 'GOVERNANCE' | 'COMPLIANCE';

/** The bucket's Object Lock document. */
export interface ObjectLockDoc {
  enabled: true;
  defaultRetention?: { mode: RetentionMode; days?: number; years?: number };
}

/** What a write stores about locks on its new version. */
export interface LockFields {
  retention?: { mode: RetentionMode; retainUntil: number };
  legalHold?: boolean;
}

const XML = { 'content-type': 'application/xml' };
const DAY_MS = 86_400_000;

const missingConfiguration = (): S3Error => new S3Error('InvalidRequest', 'Bucket is missing Object Lock Configuration');

export async function objectLockConfig(ctx: S3Context, bucket: string): Promise<ObjectLockDoc | undefined> {
  const doc = await ctx.metadata.getBucketConfig(bucket, OBJECT_LOCK_CONFIG);
  return doc === undefined ? undefined : (JSON.parse(doc) as ObjectLockDoc);
}

function parseMode(v: string, name: string): RetentionMode {
  if (v !== 'GOVERNANCE' && v !== 'COMPLIANCE') throw new S3Error('InvalidArgument', 'Unknown wormMode directive.', { fields: { ArgumentName: name, ArgumentValue: v } });
  return v;
}

/** An ISO 8601 date (S3: `2030-01-01T00:00:00Z`, milliseconds optional) as ms epoch. */
function parseRetainUntil(v: string, name: string): number {
  const ms = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(v.trim()) ? Date.parse(v.trim()) : NaN;
  if (Number.isNaN(ms)) throw new S3Error('InvalidArgument', 'The retain until date must be provided in ISO 8601 format', { fields: { ArgumentName: name, ArgumentValue: v } });
  return ms;
}

function parseLegalHold(v: string, name: string): boolean {
  if (v !== 'ON' && v !== 'OFF') throw new S3Error('InvalidArgument', "Legal Hold must be either of 'ON' or 'OFF'", { fields: { ArgumentName: name, ArgumentValue: v } });
  return v === 'ON';
}

function defaultRetention(config: ObjectLockDoc, now: number): LockFields['retention'] {
  const rule = config.defaultRetention;
  if (!rule) return undefined;
  // S3 counts a retention year as 365 days.
  const days = rule.days ?? (rule.years ?? 0) * 365;
  return { mode: rule.mode, retainUntil: now + days * DAY_MS };
}

/**
 * The `x-amz-object-lock-*` headers of PutObject, CopyObject and CreateMultipartUpload, checked:
 * refused on a bucket without Object Lock (400 InvalidRequest "Bucket is missing Object Lock
 * Configuration"), mode and date only together, a date in the future, and — as S3 requires for
 * writes with Object Lock parameters — with a Content-MD5 or x-amz-checksum header when the
 * request has a body (`integrity`). Without retention headers the bucket's default retention
 * applies (`withDefault`: CreateMultipartUpload leaves that to Complete, when the object exists).
 */
export async function lockFieldsForWrite(
  ctx: S3Context,
  req: S3Request,
  bucket: string,
  options: { contentMd5?: boolean; withDefault?: boolean } = {},
): Promise<LockFields> {
  const modeText = header(req, 'x-amz-object-lock-mode');
  const untilText = header(req, 'x-amz-object-lock-retain-until-date');
  const holdText = header(req, 'x-amz-object-lock-legal-hold');
  const config = await objectLockConfig(ctx, bucket);
  const asked = modeText !== undefined || untilText !== undefined || holdText !== undefined;
  // S3's words for PutObject, CopyObject and CreateMultipartUpload (the Object Lock operations say "Object Lock Configuration").
  if (asked && !config) throw new S3Error('InvalidRequest', 'Bucket is missing ObjectLockConfiguration');
  if (!config) return {};
  if ((modeText === undefined) !== (untilText === undefined)) {
    throw new S3Error('InvalidArgument', 'x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied', {
      fields: { ArgumentName: modeText === undefined ? 'x-amz-object-lock-mode' : 'x-amz-object-lock-retain-until-date' },
    });
  }
  // S3 asks for the integrity header whenever the new object gets a retention, the bucket's
  // default one included (clients that send neither fail there too: aws-sdk-php#1694).
  const retained = asked || (options.withDefault !== false && config.defaultRetention !== undefined);
  if (retained && options.contentMd5 === false) {
    throw new S3Error('InvalidRequest', 'Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters');
  }
  const now = Date.now();
  const fields: LockFields = {};
  if (modeText !== undefined && untilText !== undefined) {
    const mode = parseMode(modeText, 'x-amz-object-lock-mode');
    const retainUntil = parseRetainUntil(untilText, 'x-amz-object-lock-retain-until-date');
    if (retainUntil <= now) throw new S3Error('InvalidArgument', 'The retain until date must be in the future!', { fields: { ArgumentName: 'x-amz-object-lock-retain-until-date', ArgumentValue: untilText } });
    fields.retention = { mode, retainUntil };
  } else if (options.withDefault !== false) {
    const d = defaultRetention(config, now);
    if (d) fields.retention = d;
  }
  if (holdText !== undefined && parseLegalHold(holdText, 'x-amz-object-lock-legal-hold')) fields.legalHold = true;
  return fields;
}

/** The bucket default retention a new object gets at CompleteMultipartUpload when its upload named none. */
export async function defaultLockAtComplete(ctx: S3Context, bucket: string, fromUpload: LockFields | undefined): Promise<LockFields> {
  const config = await objectLockConfig(ctx, bucket);
  if (!config) return {};
  const out: LockFields = { ...(fromUpload ?? {}) };
  if (!out.retention) {
    const d = defaultRetention(config, Date.now());
    if (d) out.retention = d;
  }
  return out;
}

/** Whether a version's retention still holds. */
function activeRetention(v: ObjectRecord, now = Date.now()): ObjectRecord['retention'] {
  return v.retention && v.retention.retainUntil > now ? v.retention : undefined;
}

/**
 * Run inside the transaction that would delete a version for good: a legal hold or an unexpired
 * COMPLIANCE retention refuses everyone (403 AccessDenied, the root included); an unexpired
 * GOVERNANCE retention refuses unless the caller may bypass it.
 */
export function checkDeleteAllowed(v: ObjectRecord, options: { bypassGovernance: boolean }): void {
  if (v.deleteMarker) return;
  if (v.legalHold) throw new S3Error('AccessDenied', 'Access Denied because object protected by object lock.');
  const r = activeRetention(v);
  if (!r) return;
  if (r.mode === 'GOVERNANCE' && options.bypassGovernance) return;
  throw new S3Error('AccessDenied', 'Access Denied because object protected by object lock.');
}

/** The `x-amz-object-lock-*` headers GET and HEAD send about a version. */
export function lockHeaders(v: ObjectRecord): Record<string, HeaderValue> {
  const h: Record<string, HeaderValue> = {};
  if (v.retention) {
    h['x-amz-object-lock-mode'] = v.retention.mode;
    h['x-amz-object-lock-retain-until-date'] = new Date(v.retention.retainUntil).toISOString();
  }
  if (v.legalHold !== undefined) h['x-amz-object-lock-legal-hold'] = v.legalHold ? 'ON' : 'OFF';
  return h;
}

/** Whether the request asks to bypass GOVERNANCE retention and the caller holds s3:BypassGovernanceRetention. */
export async function mayBypassGovernance(ctx: S3Context, req: S3Request, bucket: string, key: string): Promise<boolean> {
  if (header(req, 'x-amz-bypass-governance-retention')?.trim().toLowerCase() !== 'true') return false;
  return mayActOnObject(ctx, req, await requireBucket(ctx, req, bucket), key, 's3:BypassGovernanceRetention');
}

// ---- bucket configuration

export async function putObjectLockConfiguration(ctx: S3Context, req: S3Request<BucketEndpoint>): Promise<S3Response> {
  const bucket = await requireBucket(ctx, req, req.endpoint.bucket);
  const body = await req.readBody(64 * 1024);
  await verifyBodyIntegrity(req, body, { required: true });
  const doc = parseXml(body.toString('utf8'), 'ObjectLockConfiguration');
  onlyChildren(doc, ['ObjectLockEnabled', 'Rule']);
  if (childText(doc, 'ObjectLockEnabled') !== 'Enabled') throw new S3Error('MalformedXML');
  const next: ObjectLockDoc = { enabled: true };
  const rules = childList(doc, 'Rule');
  if (rules.length > 1) throw new S3Error('MalformedXML');
  if (rules.length === 1) {
    onlyChildren(rules[0]!, ['DefaultRetention']);
    const defaults = childList(rules[0]!, 'DefaultRetention');
    if (defaults.length !== 1) throw new S3Error('MalformedXML');
    const d = defaults[0]!;
    onlyChildren(d, ['Mode', 'Days', 'Years']);
    const mode = childText(d, 'Mode');
    const days = childText(d, 'Days');
    const years = childText(d, 'Years');
    if (mode === undefined || (days === undefined) === (years === undefined)) throw new S3Error('MalformedXML');
    const n = Number(days ?? years);
    if (!/^\d+$/.test((days ?? years)!) || n <= 0) throw new S3Error('InvalidArgument', 'Default retention period must be a positive integer value.', { fields: { ArgumentName: days !== undefined ? 'Days' : 'Years' } });
    // S3's largest: 100 years.
    if ((days !== undefined && n > 36500) || (years !== undefined && n > 100)) throw new S3Error('InvalidArgument', 'Default retention period is too large.', { fields: { ArgumentName: days !== undefined ? 'Days' : 'Years' } });
    next.defaultRetention = { mode: parseMode(mode, 'Mode'), ...(days !== undefined ? { days: n } : { years: n }) };
  }
  // S3 lets Object Lock be turned on for an existing bucket only while its versioning is Enabled.
  if ((await bucketVersioning(ctx, bucket.name)) !== 'Enabled') {
    throw new S3Error('InvalidBucketState', 'Versioning must be \'Enabled\' on the bucket to apply a Object Lock configuration');
  }
  await ctx.metadata.putBucketConfig(bucket.name, OBJECT_LOCK_CONFIG, JSON.stringify(next));
  return { status: 200 };
}

export async function getObjectLockConfiguration(ctx: S3Context, req: S3Request<BucketEndpoint>): Promise<S3Response> {
  const bucket = await requireBucket(ctx, req, req.endpoint.bucket);
  const config = await objectLockConfig(ctx, bucket.name);
  if (!config) throw new S3Error('ObjectLockConfigurationNotFoundError', undefined, { fields: { BucketName: bucket.name } });
  const children: XmlNode[] = [['ObjectLockEnabled', 'Enabled']];
  const d = config.defaultRetention;
  if (d) children.push(['Rule', [['DefaultRetention', [['Mode', d.mode], ['Days', d.days], ['Years', d.years]]]]]);
  return { status: 200, headers: XML, body: buildS3Xml('ObjectLockConfiguration', children) };
}

/** The configs CreateBucket writes for `x-amz-bucket-object-lock-enabled: true`: Object Lock, and versioning Enabled with it (for good). */
export function objectLockAtCreate(req: S3Request): Record<string, string> {
  const v = header(req, 'x-amz-bucket-object-lock-enabled');
  if (v === undefined || v.trim().toLowerCase() !== 'true') {
    if (v !== undefined && v.trim().toLowerCase() !== 'false') {
      throw new S3Error('InvalidArgument', 'Invalid x-amz-bucket-object-lock-enabled header', { fields: { ArgumentName: 'x-amz-bucket-object-lock-enabled', ArgumentValue: v } });
    }
    return {};
  }
  return { [OBJECT_LOCK_CONFIG]: JSON.stringify({ enabled: true } satisfies ObjectLockDoc), [VERSIONING_CONFIG]: JSON.stringify({ status: 'Enabled' }) };
}

// ---- per version

async function lockedVersion(ctx: S3Context, req: S3Request<ObjectEndpoint>): Promise<{ object: ObjectRecord; versionId: string | undefined }> {
  const versionId = requestedVersionId(req);
  await requireBucket(ctx, req, req.endpoint.bucket);
  if (!(await objectLockConfig(ctx, req.endpoint.bucket))) throw missingConfiguration();
  const object = await resolveObjectVersion(ctx, req.endpoint.bucket, req.endpoint.key, versionId, req.method);
  return { object, versionId };
}

export async function getObjectRetention(ctx: S3Context, req: S3Request<ObjectEndpoint>): Promise<S3Response> {
  const { object } = await lockedVersion(ctx, req);
  if (!object.retention) throw new S3Error('NoSuchObjectLockConfiguration');
  return {
    status: 200,
    headers: XML,
    body: buildS3Xml('Retention', [['Mode', object.retention.mode], ['RetainUntilDate', new Date(object.retention.retainUntil).toISOString()]]),
  };
}

/**
 * PutObjectRetention. Extending is always allowed; an unexpired COMPLIANCE retention can be
 * neither shortened, nor removed, nor turned into GOVERNANCE (by anyone); an unexpired
 * GOVERNANCE one only with the bypass (header + s3:BypassGovernanceRetention). Checked inside
 * the update's transaction, against the version as stored then.
 */
export async function putObjectRetention(ctx: S3Context, req: S3Request<ObjectEndpoint>): Promise<S3Response> {
  const { object, versionId } = await lockedVersion(ctx, req);
  const body = await req.readBody(64 * 1024);
  await verifyBodyIntegrity(req, body, { required: true });
  const doc = parseXml(body.toString('utf8'), 'Retention');
  onlyChildren(doc, ['Mode', 'RetainUntilDate']);
  const modeText = childText(doc, 'Mode');
  const untilText = childText(doc, 'RetainUntilDate');
  if ((modeText === undefined) !== (untilText === undefined)) throw new S3Error('MalformedXML');
  let next: ObjectRecord['retention'];
  if (modeText !== undefined && untilText !== undefined) {
    next = { mode: parseMode(modeText, 'Mode'), retainUntil: parseRetainUntil(untilText, 'RetainUntilDate') };
    if (next.retainUntil <= Date.now()) throw new S3Error('InvalidArgument', 'The retain until date must be in the future!', { fields: { ArgumentName: 'RetainUntilDate', ArgumentValue: untilText } });
  }
  const bypass = await mayBypassGovernance(ctx, req, req.endpoint.bucket, req.endpoint.key);
  const target = versionId ?? object.versionId ?? 'null';
  const outcome = await ctx.metadata.updateObjectVersion(req.endpoint.bucket, req.endpoint.key, target, (v) => {
    if (v.deleteMarker) throw new S3Error('MethodNotAllowed');
    const current = activeRetention(v);
    if (current) {
      const weakens = !next || next.retainUntil < current.retainUntil || next.mode !== current.mode;
      if (weakens && (current.mode === 'COMPLIANCE' || !bypass)) throw new S3Error('AccessDenied', 'Access Denied because object protected by object lock.');
    }
    const { retention: _old, ...rest } = v;
    return next ? { ...rest, retention: next } : rest;
  });
  if (outcome === 'missing') throw new S3Error('NoSuchVersion', undefined, { fields: { Key: req.endpoint.key, VersionId: target } });
  return { status: 200, headers: versionIdHeader(await bucketVersioning(ctx, req.endpoint.bucket), object) };
}

export async function getObjectLegalHold(ctx: S3Context, req: S3Request<ObjectEndpoint>): Promise<S3Response> {
  const { object } = await lockedVersion(ctx, req);
  if (object.legalHold === undefined) throw new S3Error('NoSuchObjectLockConfiguration');
  return { status: 200, headers: XML, body: buildS3Xml('LegalHold', [['Status', object.legalHold ? 'ON' : 'OFF']]) };
}

export async function putObjectLegalHold(ctx: S3Context, req: S3Request<ObjectEndpoint>): Promise<S3Response> {
  const { object, versionId } = await lockedVersion(ctx, req);
  const body = await req.readBody(64 * 1024);
  await verifyBodyIntegrity(req, body, { required: true });
  const doc = parseXml(body.toString('utf8'), 'LegalHold');
  onlyChildren(doc, ['Status']);
  const status = childText(doc, 'Status');
  if (status === undefined) throw new S3Error('MalformedXML');
  const on = parseLegalHold(status, 'Status');
  const target = versionId ?? object.versionId ?? 'null';
  const outcome = await ctx.metadata.updateObjectVersion(req.endpoint.bucket, req.endpoint.key, target, (v) => {
    if (v.deleteMarker) throw new S3Error('MethodNotAllowed');
    return { ...v, legalHold: on };
  });
  if (outcome === 'missing') throw new S3Error('NoSuchVersion', undefined, { fields: { Key: req.endpoint.key, VersionId: target } });
  return { status: 200, headers: versionIdHeader(await bucketVersioning(ctx, req.endpoint.bucket), object) };
}
