/**
 * Cross-origin resource sharing for buckets: PutBucketCors, GetBucketCors,
 * DeleteBucketCors, the preflight (`OPTIONS`, answered before authentication —
 * browsers send no credentials on it) and the CORS headers of actual requests.
 *
 * Matches Amazon S3 ("Appendix: OPTIONS object", "How does Amazon S3 evaluate
 * the CORS configuration on a bucket?", PutBucketCors): the first rule whose
 * AllowedOrigin matches the Origin, whose AllowedMethod holds the (requested)
 * method and — on a preflight — whose AllowedHeader patterns match every
 * requested header, answers. An AllowedOrigin or AllowedHeader may hold one `*`
 * (prefix*suffix); origins compare case-sensitively, headers not. A rule whose
 * origin is `*` answers `Access-Control-Allow-Origin: *` without credentials;
 * otherwise the request's origin is echoed with `Access-Control-Allow-Credentials: true`.
 * Only bucket and object endpoints are opened: Coffer's KMS, IAM and /_coffer
 * endpoints never answer a preflight nor carry CORS headers.
 */
import { validateHeaderName, validateHeaderValue } from 'node:http';
import { S3Error } from '../errors/s3-errors.js';
import type { BucketEndpoint } from '../http/router.js';
import type { HeaderValue, S3Request, S3Response } from '../http/types.js';
import type { MetadataStore } from '../metadata/metadata-store.js';
import { buildS3Xml, childList, childText, onlyChildren, parseXml, type XmlNode } from '../xml/xml.js';
import { requireBucket } from './access.js';
import type { S3Context } from './context.js';
import { verifyBodyIntegrity } from './headers.js';

/** The configuration's name among the bucket's configuration documents. */
export const CORS_CONFIG = 'cors';
/** S3's limits: 100 rules, a 64 KB document. */
export const MAX_CORS_RULES = 100;
const MAX_CORS_DOCUMENT = 64 * 1024;
export const CORS_METHODS = ['GET', 'PUT', 'POST', 'DELETE', 'HEAD'] as const;

export interface CorsRule {
  id?: string;
  allowedOrigins: string[];
  allowedMethods: string[];
  allowedHeaders: string[];
  exposeHeaders: string[];
  maxAgeSeconds?: number;
}

const RULE_ELEMENTS = ['ID', 'AllowedOrigin', 'AllowedMethod', 'AllowedHeader', 'ExposeHeader', 'MaxAgeSeconds'];

function sendable(value: string): boolean {
  try {
    validateHeaderValue('x', value);
    return true;
  } catch {
    return false;
  }
}

function isHeaderName(value: string): boolean {
  try {
    validateHeaderName(value);
    return true;
  } catch {
    return false;
  }
}

/** Parses and validates a CORSConfiguration document; throws the S3Error S3 answers. */
export function parseCorsConfiguration(body: string): CorsRule[] {
  const root = parseXml(body, 'CORSConfiguration');
  onlyChildren(root, ['CORSRule']);
  const elements = childList(root, 'CORSRule');
  if (elements.length === 0 || elements.length > MAX_CORS_RULES) throw new S3Error('MalformedXML');
  // Structure first (MalformedXML), then values (InvalidRequest), as S3 reports a document with both.
  const rules = elements.map((el): CorsRule => {
    onlyChildren(el, RULE_ELEMENTS);
    const texts = (name: string) => childList(el, name).map((c) => c.text.trim());
    const allowedOrigins = texts('AllowedOrigin');
    const allowedMethods = texts('AllowedMethod');
    if (allowedOrigins.length === 0 || allowedMethods.length === 0) throw new S3Error('MalformedXML');
    const id = childText(el, 'ID');
    const maxAge = childText(el, 'MaxAgeSeconds')?.trim();
    if (maxAge !== undefined && !/^\d{1,10}$/.test(maxAge)) throw new S3Error('MalformedXML');
    if (id !== undefined && id.length > 255) throw new S3Error('InvalidArgument', 'The ID of a CORS rule can be at most 255 characters.', { fields: { ArgumentName: 'ID', ArgumentValue: id } });
    return {
      ...(id !== undefined ? { id } : {}),
      allowedOrigins,
      allowedMethods,
      allowedHeaders: texts('AllowedHeader'),
      exposeHeaders: texts('ExposeHeader'),
      ...(maxAge !== undefined ? { maxAgeSeconds: Number(maxAge) } : {}),
    };
  });
  for (const rule of rules) {
    for (const m of rule.allowedMethods) {
      if (!(CORS_METHODS as readonly string[]).includes(m)) throw new S3Error('InvalidRequest', `Found unsupported HTTP method in CORS config. Unsupported method is ${m}`);
    }
    for (const o of rule.allowedOrigins) {
      if (o.split('*').length > 2) throw new S3Error('InvalidRequest', `AllowedOrigin "${o}" can not have more than one wildcard.`);
      // Echoed in Access-Control-Allow-Origin: it must be sendable.
      if (!sendable(o)) throw new S3Error('InvalidRequest', `AllowedOrigin "${o}" contains invalid character.`);
    }
    for (const h of rule.allowedHeaders) {
      if (h.split('*').length > 2) throw new S3Error('InvalidRequest', `AllowedHeader "${h}" can not have more than one wildcard.`);
      if (h !== '' && !isHeaderName(h.replace('*', 'x'))) throw new S3Error('InvalidRequest', `AllowedHeader "${h}" contains invalid character.`);
    }
    for (const h of rule.exposeHeaders) {
      if (h.includes('*')) throw new S3Error('InvalidRequest', `ExposeHeader "${h}" contains wildcard. We currently do not support wildcard for ExposeHeader.`);
      if (!isHeaderName(h)) throw new S3Error('InvalidRequest', `ExposeHeader "${h}" contains invalid character.`);
    }
  }
  return rules;
}

export function corsXml(rules: readonly CorsRule[]): string {
  return buildS3Xml(
    'CORSConfiguration',
    rules.map((r): XmlNode => [
      'CORSRule',
      [
        ['ID', r.id],
        ...r.allowedHeaders.map((h): XmlNode => ['AllowedHeader', h]),
        ...r.allowedMethods.map((m): XmlNode => ['AllowedMethod', m]),
        ...r.allowedOrigins.map((o): XmlNode => ['AllowedOrigin', o]),
        ...r.exposeHeaders.map((h): XmlNode => ['ExposeHeader', h]),
        ['MaxAgeSeconds', r.maxAgeSeconds],
      ],
    ]),
  );
}

/** The bucket's CORS rules, or undefined when it has no configuration. */
export async function corsRules(metadata: Pick<MetadataStore, 'getBucketConfig'>, bucket: string): Promise<CorsRule[] | undefined> {
  const doc = await metadata.getBucketConfig(bucket, CORS_CONFIG);
  return doc === undefined ? undefined : (JSON.parse(doc) as CorsRule[]);
}

export async function putBucketCors(ctx: S3Context, req: S3Request<BucketEndpoint>): Promise<S3Response> {
  const bucket = await requireBucket(ctx, req, req.endpoint.bucket);
  const body = await req.readBody(MAX_CORS_DOCUMENT);
  await verifyBodyIntegrity(req, body, { required: true });
  const rules = parseCorsConfiguration(body.toString('utf8'));
  if (!(await ctx.metadata.putBucketConfig(bucket.name, CORS_CONFIG, JSON.stringify(rules)))) {
    throw new S3Error('NoSuchBucket', undefined, { fields: { BucketName: bucket.name } });
  }
  return { status: 200 };
}

export async function getBucketCors(ctx: S3Context, req: S3Request<BucketEndpoint>): Promise<S3Response> {
  const bucket = await requireBucket(ctx, req, req.endpoint.bucket);
  const rules = await corsRules(ctx.metadata, bucket.name);
  if (!rules) throw new S3Error('NoSuchCORSConfiguration', undefined, { fields: { BucketName: bucket.name } });
  return { status: 200, headers: { 'content-type': 'application/xml' }, body: corsXml(rules) };
}

export async function deleteBucketCors(ctx: S3Context, req: S3Request<BucketEndpoint>): Promise<S3Response> {
  const bucket = await requireBucket(ctx, req, req.endpoint.bucket);
  await ctx.metadata.deleteBucketConfig(bucket.name, CORS_CONFIG);
  return { status: 204 };
}

/** `*` alone matches anything; one `*` matches any middle; otherwise equality. */
function wildcardMatch(pattern: string, value: string): boolean {
  const star = pattern.indexOf('*');
  if (star < 0) return pattern === value;
  const prefix = pattern.slice(0, star);
  const suffix = pattern.slice(star + 1);
  return value.length >= prefix.length + suffix.length && value.startsWith(prefix) && value.endsWith(suffix);
}

/** The requested header names of an Access-Control-Request-Headers value, lower-cased. */
function requestedHeaders(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== '');
}

/** The first rule that allows this origin and method (and, for a preflight, these headers). */
export function matchCorsRule(rules: readonly CorsRule[], origin: string, method: string, headers?: readonly string[]): CorsRule | undefined {
  return rules.find(
    (r) =>
      r.allowedOrigins.some((o) => wildcardMatch(o, origin)) &&
      r.allowedMethods.includes(method) &&
      (headers ?? []).every((h) => r.allowedHeaders.some((p) => wildcardMatch(p.toLowerCase(), h))),
  );
}

const VARY = 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method';

function ruleHeaders(rule: CorsRule, origin: string): Record<string, string> {
  const any = rule.allowedOrigins.includes('*') && !rule.allowedOrigins.some((o) => o !== '*' && wildcardMatch(o, origin));
  const h: Record<string, string> = {
    'access-control-allow-origin': any ? '*' : origin,
    'access-control-allow-methods': rule.allowedMethods.join(', '),
  };
  if (rule.exposeHeaders.length > 0) h['access-control-expose-headers'] = rule.exposeHeaders.join(', ');
  if (rule.maxAgeSeconds !== undefined) h['access-control-max-age'] = String(rule.maxAgeSeconds);
  if (!any) h['access-control-allow-credentials'] = 'true';
  h['vary'] = VARY;
  return h;
}

function forbidden(message: string, method: string, resourceType: 'BUCKET' | 'OBJECT'): S3Error {
  return new S3Error('AccessForbidden', `CORSResponse: ${message}`, { fields: { Method: method, ResourceType: resourceType } });
}

export interface PreflightInput {
  bucket: string;
  key?: string | undefined;
  headers: Record<string, string | string[] | undefined>;
}

export interface ActualRequestInput {
  bucket: string;
  method: string;
  origin: string;
}

/** The CORS side of the HTTP front, over the metadata store (main.ts wires it). */
export interface CorsService {
  /** Answers an OPTIONS preflight: 200 with the matching rule's headers, or throws S3's 400/403. */
  preflight(input: PreflightInput): Promise<S3Response>;
  /** The headers an actual request with an Origin gets, or none when no rule allows it. */
  responseHeaders(input: ActualRequestInput): Promise<Record<string, HeaderValue>>;
}

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

export function createCorsService(metadata: Pick<MetadataStore, 'getBucketConfig' | 'getBucket'>): CorsService {
  return {
    async preflight({ bucket, key, headers }) {
      const origin = one(headers['origin']);
      const method = one(headers['access-control-request-method']);
      const resourceType = key === undefined ? 'BUCKET' : 'OBJECT';
      // S3 checks the request before the bucket: these are 400s whatever the configuration.
      if (origin === undefined) throw new S3Error('BadRequest', 'Insufficient information. Origin request header needed.');
      if (method === undefined) throw new S3Error('BadRequest', 'Invalid Access-Control-Request-Method: null');
      if (!(CORS_METHODS as readonly string[]).includes(method)) throw new S3Error('BadRequest', `Invalid Access-Control-Request-Method: ${method}`);
      // A bucket that does not exist answers like one without CORS: a preflight tells nobody which buckets exist.
      const rules = (await metadata.getBucket(bucket)) ? await corsRules(metadata, bucket) : undefined;
      if (!rules) throw forbidden('CORS is not enabled for this bucket.', method, resourceType);
      const requested = requestedHeaders(one(headers['access-control-request-headers']));
      const rule = matchCorsRule(rules, origin, method, requested);
      if (!rule) {
        throw forbidden(
          "This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
          method,
          resourceType,
        );
      }
      const out: Record<string, HeaderValue> = ruleHeaders(rule, origin);
      if (requested.length > 0) out['access-control-allow-headers'] = requested.join(', ');
      return { status: 200, headers: out };
    },
    async responseHeaders({ bucket, method, origin }) {
      const rules = await corsRules(metadata, bucket);
      const rule = rules ? matchCorsRule(rules, origin, method) : undefined;
      return rule ? ruleHeaders(rule, origin) : {};
    },
  };
}
