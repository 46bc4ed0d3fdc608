/**
 * POST Object: browser form uploads (`POST /bucket`, multipart/form-data), as
 * the S3 API reference describes them (RESTObjectPOST, "Creating a POST policy",
 * sigv4-HTTPPOSTConstructPolicy, sigv4-UsingHTTPPOST).
 *
 * The fields before the `file` part are read (at most 20 KB, as S3), the form's
 * SigV4 signature — hex(HMAC(signing key, the base64 policy)) — is verified in
 * constant time, the policy's expiration and every condition are checked against
 * the fields, and then the upload becomes an ordinary PutObject: the form's
 * fields become its headers (Content-Type, x-amz-meta-*, the SSE fields…) and the
 * file part its body, handed to the same dispatcher every PUT goes through. So
 * the access check (with the bucket policy's SSE conditions seeing the form's SSE
 * fields), the bucket's default encryption, BlockedEncryptionTypes, Object
 * Ownership and the write pipeline are PutObject's own, not a copy. The file is
 * streamed, never held whole: its length is known only at its end, and
 * content-length-range is enforced as it flows, before the blob is made durable,
 * so an upload that fails leaves nothing visible. Fields after the file are
 * ignored, as S3 ignores them. A form with no signature and no policy is
 * anonymous: it succeeds only where the bucket policy (or an ACL) lets anyone
 * write, as in S3.
 */
import { deriveSigningKey, signatureHex, signaturesEqual } from '../auth/sigv4/canonical.js';
import type { Config } from '../config/config.js';
import { S3Error } from '../errors/s3-errors.js';
import { FormDataReader, formBoundary, readPartText, type FormPart } from '../http/form-data.js';
import type { AccountCredential, PostObjectHttpHandler, PostObjectHttpRequest } from '../http/server.js';
import type { HeaderValue, S3Request, S3Response } from '../http/types.js';
import { buildXml, childList, childText, onlyChildren, parseXml } from '../xml/xml.js';
import { headerValueProblem } from './headers.js';

/** S3 refuses more than 20 KB of fields before the file (MaxPostPreDataLengthExceededError). */
export const MAX_POST_PRE_DATA = 20 * 1024;
/** Fields after the file are read and dropped up to this much; beyond it the connection is closed after the answer. */
const MAX_POST_EPILOGUE = 1024 * 1024;
const ALGORITHM = 'AWS4-HMAC-SHA256';
/** What a part's boundary and Content-Disposition line cost at least, counted against MAX_POST_PRE_DATA. */
const PART_OVERHEAD = 48;
/** An HTTP header name (RFC 9110 token): what a field must be named to become a header. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

export interface PostObjectDeps {
  config: Pick<Config, 'region' | 'maxObjectSize'>;
  lookupCredential: (accessKeyId: string) => AccountCredential | undefined | Promise<AccountCredential | undefined>;
  /** The S3 dispatcher: the upload goes through it as a PutObject. */
  dispatch: (req: S3Request) => Promise<S3Response>;
}

/** Fields that are never in the policy's conditions nor become headers (S3's exemption list, plus the file). */
function exempt(name: string): boolean {
  return name === 'x-amz-signature' || name === 'file' || name === 'policy' || name.startsWith('x-ignore-');
}

/** Form fields PutObject takes as the headers of the same name. */
const HEADER_FIELDS = new Set(['cache-control', 'content-type', 'content-disposition', 'content-encoding', 'content-language', 'expires']);

/** x-amz-* fields that become headers; the signing fields and anything naming another operation (copy source) do not. */
function isHeaderField(name: string): boolean {
  if (HEADER_FIELDS.has(name)) return true;
  return (
    name.startsWith('x-amz-meta-') ||
    name.startsWith('x-amz-server-side-encryption') ||
    name.startsWith('x-amz-checksum-') ||
    name.startsWith('x-amz-object-lock-') ||
    name === 'x-amz-storage-class' ||
    name === 'x-amz-website-redirect-location'
  );
}

function missingField(name: string): S3Error {
  return new S3Error('InvalidArgument', `Bucket POST must contain a field named '${name}'.  If it is specified, please check the order of the fields.`, {
    fields: { ArgumentName: name, ArgumentValue: '' },
  });
}

function invalidPolicy(why: string): S3Error {
  return new S3Error('InvalidPolicyDocument', `Invalid Policy: ${why}`);
}

function policyDenied(why: string): S3Error {
  return new S3Error('AccessDenied', `Invalid according to Policy: ${why}`);
}

/** The fields, by lower-cased name (S3's form field names are case-insensitive); the first of repeated ones counts. */
type Fields = Map<string, string>;

interface PolicyOutcome {
  /** content-length-range, when the policy has one. */
  lengthRange?: { min: number; max: number };
}

/** How S3 prints a failed condition: `["eq", "$key", "x"]`. */
function conditionText(c: unknown): string {
  return Array.isArray(c) ? `[${c.map((v) => JSON.stringify(v)).join(', ')}]` : JSON.stringify(c);
}

function lengthBound(v: unknown): number | undefined {
  const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/**
 * Checks a signed policy against the form: its expiration, each condition, and
 * that no field is left uncovered ("Extra input fields"). Throws S3's errors.
 */
export function checkPostPolicy(policyBase64: string, fields: Fields, bucket: string, now = Date.now()): PolicyOutcome {
  if (!/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(policyBase64)) throw invalidPolicy('Invalid JSON.');
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(policyBase64, 'base64').toString('utf8'));
  } catch {
    throw invalidPolicy('Invalid JSON.');
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw invalidPolicy('Invalid JSON.');
  const { expiration, conditions } = doc as { expiration?: unknown; conditions?: unknown };
  if (expiration === undefined) throw invalidPolicy('Policy missing expiration.');
  const expires = typeof expiration === 'string' && /^\d{4}-\d\d-\d\dT/.test(expiration) ? Date.parse(expiration) : NaN;
  if (Number.isNaN(expires)) throw invalidPolicy(`Invalid 'expiration' value: '${String(expiration)}'`);
  if (expires < now) throw policyDenied('Policy expired.');
  if (!Array.isArray(conditions)) throw invalidPolicy('Policy missing conditions.');

  const covered = new Set<string>();
  const outcome: PolicyOutcome = {};
  const valueOf = (name: string) => (name === 'bucket' ? bucket : (fields.get(name) ?? ''));
  for (const c of conditions) {
    if (c !== null && typeof c === 'object' && !Array.isArray(c)) {
      // The object form {"name": "value"} is an exact match.
      const entries = Object.entries(c as Record<string, unknown>);
      if (entries.length !== 1 || typeof entries[0]![1] !== 'string') throw invalidPolicy(`Invalid Simple-Condition: value must be a string.`);
      const [rawName, expected] = entries[0] as [string, string];
      const name = rawName.toLowerCase();
      covered.add(name);
      if (valueOf(name) !== expected) throw policyDenied(`Policy Condition failed: ${conditionText(['eq', `$${rawName}`, expected])}`);
      continue;
    }
    if (!Array.isArray(c) || c.length !== 3 || typeof c[0] !== 'string') throw invalidPolicy(`Invalid Condition: ${conditionText(c)}`);
    const op = c[0].toLowerCase();
    if (op === 'content-length-range') {
      const min = lengthBound(c[1]);
      const max = lengthBound(c[2]);
      if (min === undefined || max === undefined) throw invalidPolicy(`Invalid content-length-range: ${conditionText(c)}`);
      outcome.lengthRange = { min, max };
      continue;
    }
    if (op !== 'eq' && op !== 'starts-with') throw invalidPolicy(`Invalid Condition: ${conditionText(c)}`);
    if (typeof c[1] !== 'string' || !c[1].startsWith('$') || typeof c[2] !== 'string') throw invalidPolicy(`Invalid Condition: ${conditionText(c)}`);
    const name = c[1].slice(1).toLowerCase();
    const expected = c[2];
    covered.add(name);
    const actual = valueOf(name);
    const ok =
      op === 'eq'
        ? actual === expected
        : // Content-Type may list several types: each must start with the prefix (S3's rule).
          name === 'content-type'
          ? actual.split(',').every((t) => t.trim().startsWith(expected))
          : actual.startsWith(expected);
    if (!ok) throw policyDenied(`Policy Condition failed: ${conditionText(c)}`);
  }
  const extra = [...fields.keys()].filter((n) => !exempt(n) && !covered.has(n));
  if (extra.length > 0) throw policyDenied(`Extra input fields: ${extra.join(', ')}`);
  return outcome;
}

/** Verifies the form's SigV4 fields; the credential that signed them. */
async function authenticate(deps: PostObjectDeps, fields: Fields): Promise<AccountCredential> {
  for (const name of ['x-amz-algorithm', 'x-amz-credential', 'x-amz-date', 'x-amz-signature', 'policy']) {
    if (!fields.has(name)) throw missingField(name);
  }
  if (fields.get('x-amz-algorithm') !== ALGORITHM) {
    throw new S3Error('InvalidArgument', `Only ${ALGORITHM} is supported for the x-amz-algorithm field.`, {
      fields: { ArgumentName: 'x-amz-algorithm', ArgumentValue: fields.get('x-amz-algorithm')! },
    });
  }
  const credential = fields.get('x-amz-credential')!;
  const m = /^([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request$/.exec(credential);
  if (!m) throw new S3Error('InvalidArgument', 'Invalid credential: expected AKID/yyyymmdd/region/s3/aws4_request.', { fields: { ArgumentName: 'x-amz-credential', ArgumentValue: credential } });
  const [, accessKeyId, date, region, service] = m as unknown as [string, string, string, string, string];
  if (region !== deps.config.region) {
    throw new S3Error('AuthorizationHeaderMalformed', `The authorization header is malformed; the region '${region}' is wrong; expecting '${deps.config.region}'`, { fields: { Region: deps.config.region } });
  }
  if (service !== 's3') throw new S3Error('InvalidArgument', `Invalid credential: the service must be s3, not ${service}.`, { fields: { ArgumentName: 'x-amz-credential', ArgumentValue: credential } });
  const amzDate = fields.get('x-amz-date')!;
  if (!/^\d{8}T\d{6}Z$/.test(amzDate) || amzDate.slice(0, 8) !== date) {
    throw new S3Error('InvalidArgument', 'The x-amz-date field must be yyyymmddTHHMMSSZ on the credential\'s date.', { fields: { ArgumentName: 'x-amz-date', ArgumentValue: amzDate } });
  }
  const found = await deps.lookupCredential(accessKeyId);
  if (!found) throw new S3Error('InvalidAccessKeyId', undefined, { fields: { AWSAccessKeyId: accessKeyId } });
  const expected = signatureHex(deriveSigningKey(found.secretAccessKey, date, region, 's3'), fields.get('policy')!);
  if (!signaturesEqual(expected, fields.get('x-amz-signature')!)) {
    throw new S3Error('SignatureDoesNotMatch', undefined, { fields: { AWSAccessKeyId: accessKeyId } });
  }
  return found;
}

/** The `tagging` field (a Tagging document) as the x-amz-tagging header PutObject reads. */
function taggingHeader(xml: string): string {
  const root = parseXml(xml, 'Tagging');
  onlyChildren(root, ['TagSet']);
  const set = childList(root, 'TagSet');
  if (set.length !== 1) throw new S3Error('MalformedXML');
  const params = new URLSearchParams();
  for (const tag of childList(set[0]!, 'Tag')) {
    onlyChildren(tag, ['Key', 'Value']);
    const key = childText(tag, 'Key');
    const value = childText(tag, 'Value');
    if (key === undefined || value === undefined) throw new S3Error('MalformedXML');
    params.append(key, value);
  }
  return params.toString();
}

/** The form fields as PutObject's headers: the text a header would carry (UTF-8 bytes read as Latin-1, as node reads headers). */
function headersFrom(fields: Fields): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of fields) {
    if (!isHeaderField(name)) continue;
    if (!TOKEN.test(name)) {
      throw new S3Error('InvalidArgument', 'The field name cannot be sent as an HTTP header.', { fields: { ArgumentName: name, ArgumentValue: value } });
    }
    const asHeader = Buffer.from(value, 'utf8').toString('latin1');
    if (headerValueProblem(asHeader) !== undefined) {
      // The value is not echoed: it may be a customer key (SSE-C).
      throw new S3Error('InvalidArgument', 'The field value contains characters that cannot be sent in an HTTP header.', { fields: { ArgumentName: name } });
    }
    out[name] = asHeader;
  }
  const acl = fields.get('acl');
  if (acl !== undefined) out['x-amz-acl'] = acl;
  const tagging = fields.get('tagging');
  if (tagging !== undefined) out['x-amz-tagging'] = taggingHeader(tagging);
  return out;
}

/** The file part's bytes, held to content-length-range as they flow (EntityTooLarge / EntityTooSmall, as S3). */
async function* withinRange(body: AsyncIterable<Buffer>, range: { min: number; max: number } | undefined): AsyncGenerator<Buffer> {
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (range && size > range.max) {
      throw new S3Error('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', { fields: { ProposedSize: size, MaxSizeAllowed: range.max } });
    }
    yield chunk;
  }
  if (range && size < range.min) {
    throw new S3Error('EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed size', { fields: { ProposedSize: size, MinSizeAllowed: range.min } });
  }
}

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** S3's object URL for the Location header and PostResponse: path-style on the host the form was posted to. */
function objectUrl(req: PostObjectHttpRequest, bucket: string, key: string): string {
  const host = one(req.headers.host) ?? 'localhost';
  const path = key.split('/').map(encodeURIComponent).join('/');
  return `${req.secure ? 'https' : 'http'}://${host}/${encodeURIComponent(bucket)}/${path}`;
}

/** The answer S3 gives: a 303 to success_action_redirect, else success_action_status (200, 201 with PostResponse, or 204). */
function successResponse(req: PostObjectHttpRequest, fields: Fields, bucket: string, key: string, put: S3Response): S3Response {
  const putHeaders = put.headers ?? {};
  const etag = String(putHeaders['etag'] ?? '');
  const location = objectUrl(req, bucket, key);
  const headers: Record<string, HeaderValue> = { ...putHeaders, location };
  const redirect = fields.get('success_action_redirect') ?? fields.get('redirect');
  if (redirect !== undefined) {
    let target: URL | undefined;
    try {
      target = new URL(redirect);
    } catch {
      target = undefined;
    }
    // S3 redirects only to a URL it can parse; otherwise it answers as if no redirect were asked.
    if (target && (target.protocol === 'http:' || target.protocol === 'https:')) {
      target.searchParams.append('bucket', bucket);
      target.searchParams.append('key', key);
      target.searchParams.append('etag', etag);
      return { status: 303, headers: { ...headers, location: target.toString() } };
    }
  }
  const status = fields.get('success_action_status');
  if (status === '201') {
    return {
      status: 201,
      headers: { ...headers, 'content-type': 'application/xml' },
      body: buildXml(['PostResponse', [['Location', location], ['Bucket', bucket], ['Key', key], ['ETag', etag]]]),
    };
  }
  return { status: status === '200' ? 200 : 204, headers };
}

export function createPostObjectHandler(deps: PostObjectDeps): PostObjectHttpHandler {
  return async (req) => {
    const boundary = formBoundary(one(req.headers['content-type']));
    if (boundary === undefined) {
      throw new S3Error('PreconditionFailed', undefined, { fields: { Condition: 'Bucket POST must be of the enclosure-type multipart/form-data' } });
    }
    const reader = new FormDataReader(req.body, boundary);
    const fields: Fields = new Map();
    let preData = 0;
    let file: FormPart | undefined;
    for (;;) {
      const part = await reader.next();
      if (!part) break;
      const name = part.name.toLowerCase();
      if (name === 'file') {
        file = part;
        break;
      }
      const value = await readPartText(part, MAX_POST_PRE_DATA - preData, () => new S3Error('MaxPostPreDataLengthExceededError'));
      // Each part's framing counts too, so that a flood of empty parts is bounded like one large field.
      preData += Buffer.byteLength(value) + Buffer.byteLength(name) + PART_OVERHEAD;
      if (preData > MAX_POST_PRE_DATA) throw new S3Error('MaxPostPreDataLengthExceededError');
      if (!fields.has(name)) fields.set(name, value);
    }
    if (!file) throw new S3Error('IncorrectNumberOfFilesInPostRequest', undefined, { fields: { ArgumentName: 'file', ArgumentValue: 0 } });
    const rawKey = fields.get('key');
    if (rawKey === undefined) throw missingField('key');
    // ${filename} stands for the name of the file the user chose (S3's only variable).
    const key = rawKey.split('${filename}').join(file.filename ?? '');
    if (key === '') throw new S3Error('InvalidArgument', 'User key must have a length greater than 0.', { fields: { ArgumentName: 'key', ArgumentValue: '' } });

    if (fields.has('awsaccesskeyid') || fields.has('signature')) {
      throw new S3Error('InvalidRequest', 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.');
    }
    const signed = fields.has('x-amz-signature') || fields.has('policy') || fields.has('x-amz-credential');
    const credential = signed ? await authenticate(deps, fields) : undefined;
    const outcome = signed ? checkPostPolicy(fields.get('policy')!, fields, req.bucket) : {};

    let taken = false;
    const upload: S3Request = {
      requestId: req.requestId,
      endpoint: { kind: 'object', operation: 'PutObject', bucket: req.bucket, key },
      method: 'POST',
      rawPath: req.rawPath,
      headers: headersFrom(fields),
      query: new URLSearchParams(),
      principal: credential?.principal,
      secure: req.secure,
      remoteAddress: req.remoteAddress,
      signal: req.signal,
      contentLength: undefined,
      bodyLengthUnknown: true,
      ...(credential ? { authType: 'POST' as const } : {}),
      body: () => {
        if (taken) throw new Error('request body read twice');
        taken = true;
        return withinRange(file.body, outcome.lengthRange);
      },
      trailers: () => ({}),
      readBody: async () => {
        throw new Error('POST Object has no document body');
      },
    };
    const put = await deps.dispatch(upload);
    // Fields after the file are ignored, as S3 ignores them; a long tail closes the connection instead.
    await reader.drain(MAX_POST_EPILOGUE);
    return successResponse(req, fields, req.bucket, key, put);
  };
}
