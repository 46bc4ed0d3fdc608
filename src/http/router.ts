/**
 * Turns method + host + path + query into a typed Endpoint before anything is
 * handled (the shape Garage's router has). Pure: no I/O, no node:http.
 */
import { S3Error } from '../errors/s3-errors.js';

export type ServiceOperation = 'ListBuckets';
export type BucketOperation =
  | 'CreateBucket'
  | 'HeadBucket'
  | 'DeleteBucket'
  | 'GetBucketLocation'
  | 'GetBucketVersioning'
  | 'PutBucketVersioning'
  | 'ListObjectVersions'
  | 'PutObjectLockConfiguration'
  | 'GetObjectLockConfiguration'
  | 'ListObjects'
  | 'ListObjectsV2'
  | 'ListMultipartUploads'
  | 'DeleteObjects'
  | 'PutBucketEncryption'
  | 'GetBucketEncryption'
  | 'DeleteBucketEncryption'
  | 'PutBucketPolicy'
  | 'GetBucketPolicy'
  | 'DeleteBucketPolicy'
  | 'GetBucketPolicyStatus'
  | 'PutPublicAccessBlock'
  | 'GetPublicAccessBlock'
  | 'DeletePublicAccessBlock'
  | 'PutBucketOwnershipControls'
  | 'GetBucketOwnershipControls'
  | 'DeleteBucketOwnershipControls'
  | 'GetBucketAcl'
  | 'PutBucketAcl'
  | 'PutBucketCors'
  | 'GetBucketCors'
  | 'DeleteBucketCors';
export type ObjectOperation =
  | 'PutObject'
  | 'CopyObject'
  | 'GetObject'
  | 'HeadObject'
  | 'DeleteObject'
  | 'PutObjectTagging'
  | 'GetObjectTagging'
  | 'DeleteObjectTagging'
  | 'CreateMultipartUpload'
  | 'UploadPart'
  | 'UploadPartCopy'
  | 'CompleteMultipartUpload'
  | 'AbortMultipartUpload'
  | 'ListParts'
  | 'UpdateObjectEncryption'
  | 'GetObjectAcl'
  | 'PutObjectAcl'
  | 'GetObjectAttributes'
  | 'GetObjectRetention'
  | 'PutObjectRetention'
  | 'GetObjectLegalHold'
  | 'PutObjectLegalHold';

export type Endpoint =
  | { kind: 'health' }
  /** Coffer's own paths under /_coffer/ (metrics, readiness, the web console): no bucket name starts with `_`. */
  | { kind: 'coffer'; path: string }
  | { kind: 'service'; operation: ServiceOperation }
  | { kind: 'bucket'; operation: BucketOperation; bucket: string }
  | { kind: 'object'; operation: ObjectOperation; bucket: string; key: string }
  /** The AWS KMS JSON API (`X-Amz-Target: TrentService.<operation>`); the KMS handler knows which operations exist. */
  | { kind: 'kms'; operation: string }
  /** The IAM (or STS) query API: POST / form-encoded, signed for service `iam` or `sts`; the handler reads Action from the body. */
  | { kind: 'iam'; service: 'iam' | 'sts' }
  /** A CORS preflight (`OPTIONS`): answered from the bucket's CORS rules before any authentication (s3/cors.ts). */
  | { kind: 'preflight'; bucket: string; key?: string }
  /**
   * POST Object, an HTML form upload (`POST /bucket`, multipart/form-data): authenticated by the
   * form's signed policy rather than a header, so the HTTP front reads the form first (s3/post-object.ts).
   */
  | { kind: 'post-object'; bucket: string }
  /** A real S3 operation Coffer does not implement: answered 501 NotImplemented. */
  | { kind: 'unsupported'; operation: string; bucket?: string; key?: string };

export interface RouteInput {
  method: string;
  /** Host header (may include a port). */
  host: string | undefined;
  /** Raw, still percent-encoded path. */
  rawPath: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
}

export interface RouterOptions {
  /** Domains under which `bucket.<domain>` is virtual-hosted-style addressing. */
  domains: readonly string[];
}

export const HEALTH_PATH = '/_coffer/health';
/** Where Coffer's own paths live; S3 bucket names cannot start with `_`, so none is shadowed. */
export const COFFER_PREFIX = '/_coffer/';
/** X-Amz-Target prefix of AWS KMS operations. */
export const KMS_TARGET_PREFIX = 'TrentService.';

/** Bucket sub-resources S3 has and Coffer does not (yet): named so the 501 says which. */
const BUCKET_SUBRESOURCES: Record<string, string> = {
  accelerate: 'BucketAccelerateConfiguration',
  acl: 'BucketAcl',
  analytics: 'BucketAnalyticsConfiguration',
  cors: 'BucketCors',
  encryption: 'BucketEncryption',
  'intelligent-tiering': 'BucketIntelligentTieringConfiguration',
  inventory: 'BucketInventoryConfiguration',
  lifecycle: 'BucketLifecycleConfiguration',
  logging: 'BucketLogging',
  metrics: 'BucketMetricsConfiguration',
  notification: 'BucketNotificationConfiguration',
  'object-lock': 'ObjectLockConfiguration',
  ownershipControls: 'BucketOwnershipControls',
  policy: 'BucketPolicy',
  policyStatus: 'BucketPolicyStatus',
  publicAccessBlock: 'PublicAccessBlock',
  replication: 'BucketReplication',
  requestPayment: 'BucketRequestPayment',
  tagging: 'BucketTagging',
  versioning: 'BucketVersioning',
  website: 'BucketWebsite',
  metadataTable: 'BucketMetadataTableConfiguration',
};

const OBJECT_SUBRESOURCES: Record<string, string> = {
  acl: 'ObjectAcl',
  attributes: 'ObjectAttributes',
  'legal-hold': 'ObjectLegalHold',
  retention: 'ObjectRetention',
  torrent: 'ObjectTorrent',
  restore: 'RestoreObject',
  select: 'SelectObjectContent',
  encryption: 'ObjectEncryption',
  renameObject: 'RenameObject',
};

const VERB: Record<string, string> = { GET: 'Get', PUT: 'Put', DELETE: 'Delete', HEAD: 'Head', POST: 'Post' };

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new S3Error('InvalidURI');
  }
}

/** Splits host-or-path into bucket and key, honouring virtual-hosted-style domains. */
export function locate(input: Pick<RouteInput, 'host' | 'rawPath'>, options: RouterOptions): { bucket?: string; key?: string } {
  const host = (input.host ?? '').toLowerCase().replace(/:\d+$/, '');
  const path = input.rawPath.startsWith('/') ? input.rawPath.slice(1) : input.rawPath;
  for (const domain of options.domains) {
    const suffix = `.${domain.toLowerCase()}`;
    if (host.endsWith(suffix) && host.length > suffix.length) {
      const bucket = host.slice(0, -suffix.length);
      return path === '' ? { bucket } : { bucket, key: decodeSegment(path) };
    }
  }
  if (path === '') return {};
  const slash = path.indexOf('/');
  if (slash < 0) return { bucket: decodeSegment(path) };
  const bucket = decodeSegment(path.slice(0, slash));
  const rest = path.slice(slash + 1);
  return rest === '' ? { bucket } : { bucket, key: decodeSegment(rest) };
}

/** Whether the Host names a bucket (`bucket.<domain>`). */
function isVirtualHosted(hostHeader: string | undefined, options: RouterOptions): boolean {
  const host = (hostHeader ?? '').toLowerCase().replace(/:\d+$/, '');
  return options.domains.some((d) => host.endsWith(`.${d.toLowerCase()}`) && host.length > d.length + 1);
}

/** The service named in an Authorization header's credential scope (`Credential=AKID/date/region/service/aws4_request`). */
function signedService(authorization: string | string[] | undefined): string | undefined {
  const v = Array.isArray(authorization) ? authorization[0] : authorization;
  return v === undefined ? undefined : /Credential=[^/,\s]+\/\d{8}\/[^/,\s]+\/([^/,\s]+)\/aws4_request/.exec(v)?.[1];
}

function firstSubresource(query: URLSearchParams, table: Record<string, string>): string | undefined {
  for (const name of query.keys()) if (name in table) return name;
  return undefined;
}

export function parseEndpoint(input: RouteInput, options: RouterOptions): Endpoint {
  const method = input.method.toUpperCase();
  if (input.rawPath === HEALTH_PATH && (method === 'GET' || method === 'HEAD')) return { kind: 'health' };
  // Path-style only: on `bucket.<domain>` the same path is an object key (`_coffer/…`), as in S3.
  if (input.rawPath.startsWith(COFFER_PREFIX) && input.rawPath !== HEALTH_PATH && !isVirtualHosted(input.host, options)) return { kind: 'coffer', path: input.rawPath };
  // KMS (a JSON 1.1 service) shares the listener: POST / naming a TrentService target. S3 has no
  // operation at POST / with X-Amz-Target, so this never shadows one.
  const target = input.headers['x-amz-target'];
  if (method === 'POST' && input.rawPath === '/' && typeof target === 'string' && target.startsWith(KMS_TARGET_PREFIX)) {
    return { kind: 'kms', operation: target.slice(KMS_TARGET_PREFIX.length) };
  }
  const { bucket, key } = locate(input, options);
  // IAM and STS (query protocol) share the listener too: POST / with a form body, told apart from S3
  // (which has no POST on the service) by the service in the signature's credential scope.
  if (method === 'POST' && bucket === undefined) {
    const service = signedService(input.headers['authorization']);
    if (service === 'iam' || service === 'sts') return { kind: 'iam', service };
  }
  const q = input.query;
  const verb = VERB[method] ?? method;

  if (method === 'OPTIONS') {
    // Only buckets and objects have CORS rules: the service, KMS and IAM endpoints answer no preflight.
    if (bucket === undefined) throw new S3Error('MethodNotAllowed');
    return key === undefined ? { kind: 'preflight', bucket } : { kind: 'preflight', bucket, key };
  }

  if (bucket === undefined) {
    if (method === 'GET') return { kind: 'service', operation: 'ListBuckets' };
    throw new S3Error('MethodNotAllowed');
  }

  if (key === undefined) {
    const sub = firstSubresource(q, BUCKET_SUBRESOURCES);
    if (method === 'GET' && sub === 'versioning') return { kind: 'bucket', operation: 'GetBucketVersioning', bucket };
    if (method === 'PUT' && sub === 'versioning') return { kind: 'bucket', operation: 'PutBucketVersioning', bucket };
    if (sub === 'object-lock' && (method === 'PUT' || method === 'GET')) return { kind: 'bucket', operation: `${VERB[method] as 'Put' | 'Get'}ObjectLockConfiguration`, bucket };
    if (sub === 'policy' && (method === 'PUT' || method === 'GET' || method === 'DELETE')) {
      return { kind: 'bucket', operation: `${VERB[method] as 'Put' | 'Get' | 'Delete'}BucketPolicy`, bucket };
    }
    if (sub === 'policyStatus' && method === 'GET') return { kind: 'bucket', operation: 'GetBucketPolicyStatus', bucket };
    if (sub === 'encryption' && (method === 'PUT' || method === 'GET' || method === 'DELETE')) {
      return { kind: 'bucket', operation: `${VERB[method] as 'Put' | 'Get' | 'Delete'}BucketEncryption`, bucket };
    }
    if (sub === 'publicAccessBlock' && (method === 'PUT' || method === 'GET' || method === 'DELETE')) {
      return { kind: 'bucket', operation: `${VERB[method] as 'Put' | 'Get' | 'Delete'}PublicAccessBlock`, bucket };
    }
    if (sub === 'ownershipControls' && (method === 'PUT' || method === 'GET' || method === 'DELETE')) {
      return { kind: 'bucket', operation: `${VERB[method] as 'Put' | 'Get' | 'Delete'}BucketOwnershipControls`, bucket };
    }
    if (sub === 'acl' && (method === 'PUT' || method === 'GET')) return { kind: 'bucket', operation: `${VERB[method] as 'Put' | 'Get'}BucketAcl`, bucket };
    if (sub === 'cors' && (method === 'PUT' || method === 'GET' || method === 'DELETE')) {
      return { kind: 'bucket', operation: `${VERB[method] as 'Put' | 'Get' | 'Delete'}BucketCors`, bucket };
    }
    if (sub) return { kind: 'unsupported', operation: `${verb}${BUCKET_SUBRESOURCES[sub]}`, bucket };
    switch (method) {
      case 'PUT':
        return { kind: 'bucket', operation: 'CreateBucket', bucket };
      case 'HEAD':
        return { kind: 'bucket', operation: 'HeadBucket', bucket };
      case 'DELETE':
        return { kind: 'bucket', operation: 'DeleteBucket', bucket };
      case 'GET':
        if (q.has('location')) return { kind: 'bucket', operation: 'GetBucketLocation', bucket };
        if (q.has('uploads')) return { kind: 'bucket', operation: 'ListMultipartUploads', bucket };
        if (q.has('versions')) return { kind: 'bucket', operation: 'ListObjectVersions', bucket };
        if (q.get('list-type') === '2') return { kind: 'bucket', operation: 'ListObjectsV2', bucket };
        return { kind: 'bucket', operation: 'ListObjects', bucket };
      case 'POST':
        if (q.has('delete')) return { kind: 'bucket', operation: 'DeleteObjects', bucket };
        return { kind: 'post-object', bucket };
      default:
        throw new S3Error('MethodNotAllowed');
    }
  }

  const sub = firstSubresource(q, OBJECT_SUBRESOURCES);
  if (sub === 'encryption' && method === 'PUT') return { kind: 'object', operation: 'UpdateObjectEncryption', bucket, key };
  if (sub === 'acl' && (method === 'PUT' || method === 'GET')) return { kind: 'object', operation: `${VERB[method] as 'Put' | 'Get'}ObjectAcl`, bucket, key };
  if (sub === 'attributes' && method === 'GET') return { kind: 'object', operation: 'GetObjectAttributes', bucket, key };
  if (sub === 'retention' && (method === 'PUT' || method === 'GET')) return { kind: 'object', operation: `${VERB[method] as 'Put' | 'Get'}ObjectRetention`, bucket, key };
  if (sub === 'legal-hold' && (method === 'PUT' || method === 'GET')) return { kind: 'object', operation: `${VERB[method] as 'Put' | 'Get'}ObjectLegalHold`, bucket, key };
  if (sub) return { kind: 'unsupported', operation: `${verb}${OBJECT_SUBRESOURCES[sub]}`, bucket, key };
  const copySource = input.headers['x-amz-copy-source'] !== undefined;
  switch (method) {
    case 'PUT':
      if (q.has('tagging')) return { kind: 'object', operation: 'PutObjectTagging', bucket, key };
      if (q.has('uploadId') || q.has('partNumber')) {
        return { kind: 'object', operation: copySource ? 'UploadPartCopy' : 'UploadPart', bucket, key };
      }
      return { kind: 'object', operation: copySource ? 'CopyObject' : 'PutObject', bucket, key };
    case 'GET':
      if (q.has('tagging')) return { kind: 'object', operation: 'GetObjectTagging', bucket, key };
      if (q.has('uploadId')) return { kind: 'object', operation: 'ListParts', bucket, key };
      return { kind: 'object', operation: 'GetObject', bucket, key };
    case 'HEAD':
      return { kind: 'object', operation: 'HeadObject', bucket, key };
    case 'DELETE':
      if (q.has('tagging')) return { kind: 'object', operation: 'DeleteObjectTagging', bucket, key };
      if (q.has('uploadId')) return { kind: 'object', operation: 'AbortMultipartUpload', bucket, key };
      return { kind: 'object', operation: 'DeleteObject', bucket, key };
    case 'POST':
      if (q.has('uploads')) return { kind: 'object', operation: 'CreateMultipartUpload', bucket, key };
      if (q.has('uploadId')) return { kind: 'object', operation: 'CompleteMultipartUpload', bucket, key };
      return { kind: 'unsupported', operation: 'PostObject', bucket, key };
    default:
      throw new S3Error('MethodNotAllowed');
  }
}

export type BucketEndpoint = Extract<Endpoint, { kind: 'bucket' }>;
export type ObjectEndpoint = Extract<Endpoint, { kind: 'object' }>;
