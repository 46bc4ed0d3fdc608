/**
 * Verifies a request's AWS Signature Version 4 — from the Authorization
 * header or from presigned-URL query parameters — and says how its payload is
 * to be checked as it streams (see payload.ts). Requests carrying neither are
 * anonymous; whether an anonymous request may do anything is decided later.
 *
 * Errors follow Amazon S3: InvalidAccessKeyId, SignatureDoesNotMatch,
 * RequestTimeTooSkewed (15 minutes), AuthorizationHeaderMalformed,
 * AuthorizationQueryParametersError, AccessDenied for an expired URL.
 */
import { S3Error } from '../../errors/s3-errors.js';
import {
  ALGORITHM,
  canonicalHeaders,
  canonicalQuery,
  canonicalRequest,
  canonicalUris,
  credentialScope,
  signatureHex,
  signaturesEqual,
  SigningKeyCache,
  sha256Hex,
  stringToSign,
} from './canonical.js';

export interface Credential {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** How the body of an authenticated request is verified while it is read. */
export type PayloadMode =
  /** `UNSIGNED-PAYLOAD` (and anonymous requests): the body is taken as sent. */
  | { kind: 'unsigned' }
  /** A hex SHA-256 in x-amz-content-sha256: the body must hash to it. */
  | { kind: 'sha256'; hex: string }
  /** `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`: aws-chunked, every chunk signed. */
  | { kind: 'chunked-signed'; trailer: boolean; seedSignature: string; signingKey: Buffer; timestamp: string; scope: string }
  /** `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: aws-chunked, a checksum trailer, no chunk signatures. */
  | { kind: 'chunked-unsigned-trailer' };

export interface SigV4Request {
  method: string;
  /** The path exactly as sent, still percent-encoded. */
  rawPath: string;
  /** The query exactly as sent, without `?`. */
  rawQuery: string;
  headers: Record<string, string | string[] | undefined>;
  /** node's rawHeaders: name, value, name, value… in arrival order. */
  rawHeaders: readonly string[];
}

export interface VerifyOptions<C extends Credential> {
  /** The region requests must be signed for. */
  region: string;
  /** Services this endpoint answers for (`s3`, later `kms`, `iam`…). */
  services: readonly string[];
  lookup: (accessKeyId: string) => C | undefined | Promise<C | undefined>;
  /** Clock, for tests. */
  now?: () => number;
  cache?: SigningKeyCache;
  /**
   * The whole (small) body, already read, for services whose clients sign its
   * hash without sending x-amz-content-sha256 (KMS, IAM and STS JSON/query APIs).
   * S3 requests must carry the header.
   */
  body?: Buffer;
}

export type AuthResult<C extends Credential> =
  | { anonymous: true; payload: PayloadMode }
  | { anonymous: false; credential: C; payload: PayloadMode; service: string; presigned: boolean };

/** AWS allows this much clock difference between client and server. */
export const MAX_SKEW_MS = 15 * 60 * 1000;
/** Presigned URLs live at most seven days. */
export const MAX_PRESIGNED_EXPIRES_S = 7 * 24 * 3600;

const defaultCache = new SigningKeyCache();

const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
const STREAMING_SIGNED = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
const STREAMING_SIGNED_TRAILER = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER';
const STREAMING_UNSIGNED_TRAILER = 'STREAMING-UNSIGNED-PAYLOAD-TRAILER';

const UNSUPPORTED_MECHANISM = 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.';

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** Parses `YYYYMMDDTHHMMSSZ` to ms since the epoch. */
export function parseAmzDate(v: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(v);
  if (!m) return undefined;
  const t = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
  return Number.isNaN(t) ? undefined : t;
}

export function formatAmzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

interface ParsedAuth {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
  /** The request time as signed (`YYYYMMDDTHHMMSSZ`). */
  timestamp: string;
  presigned: boolean;
  /** Presigned URLs only. */
  expiresSeconds?: number;
}

type MalformedCode = 'AuthorizationHeaderMalformed' | 'AuthorizationQueryParametersError';

function parseCredential(value: string, code: MalformedCode): Pick<ParsedAuth, 'accessKeyId' | 'date' | 'region' | 'service'> {
  const parts = value.split('/');
  if (parts.length !== 5 || parts[4] !== 'aws4_request' || !/^\d{8}$/.test(parts[1]!) || parts[0] === '' || parts[2] === '' || parts[3] === '') {
    throw new S3Error(
      code,
      code === 'AuthorizationHeaderMalformed'
        ? `The authorization header is malformed; the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".`
        : `Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".`,
    );
  }
  return { accessKeyId: parts[0]!, date: parts[1]!, region: parts[2]!, service: parts[3]! };
}

function parseSignedHeaders(value: string, code: MalformedCode): string[] {
  const names = value.split(';');
  if (names.some((n) => n === '' || n !== n.toLowerCase())) throw new S3Error(code, 'The SignedHeaders list is malformed.');
  return names;
}

function requestTimestamp(headers: SigV4Request['headers']): string {
  const amz = first(headers['x-amz-date']);
  if (amz !== undefined) return amz;
  // SigV4 allows the Date header instead; its ISO basic form is what was signed.
  const date = first(headers['date']);
  if (date !== undefined) {
    const t = Date.parse(date);
    if (!Number.isNaN(t)) return formatAmzDate(t);
  }
  throw new S3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
}

function parseAuthorizationHeader(value: string, headers: SigV4Request['headers']): ParsedAuth {
  if (!value.startsWith(`${ALGORITHM} `)) throw new S3Error('InvalidRequest', UNSUPPORTED_MECHANISM);
  const fields = new Map<string, string>();
  for (const piece of value.slice(ALGORITHM.length + 1).split(',')) {
    const p = piece.trim();
    const eq = p.indexOf('=');
    if (eq <= 0) throw new S3Error('AuthorizationHeaderMalformed');
    fields.set(p.slice(0, eq), p.slice(eq + 1));
  }
  const credential = fields.get('Credential');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (credential === undefined || signedHeaders === undefined || signature === undefined) {
    throw new S3Error('AuthorizationHeaderMalformed', 'The authorization header is malformed; it must contain Credential, SignedHeaders and Signature.');
  }
  return {
    ...parseCredential(credential, 'AuthorizationHeaderMalformed'),
    signedHeaders: parseSignedHeaders(signedHeaders, 'AuthorizationHeaderMalformed'),
    signature,
    timestamp: requestTimestamp(headers),
    presigned: false,
  };
}

function parsePresigned(query: URLSearchParams): ParsedAuth {
  const algorithm = query.get('X-Amz-Algorithm');
  if (algorithm !== ALGORITHM) {
    throw new S3Error('AuthorizationQueryParametersError', 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
  }
  const credential = query.get('X-Amz-Credential');
  const timestamp = query.get('X-Amz-Date');
  const signedHeaders = query.get('X-Amz-SignedHeaders');
  const signature = query.get('X-Amz-Signature');
  const expires = query.get('X-Amz-Expires');
  if (credential === null || timestamp === null || signedHeaders === null || signature === null || expires === null) {
    throw new S3Error(
      'AuthorizationQueryParametersError',
      'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
    );
  }
  if (!/^\d+$/.test(expires)) {
    throw new S3Error('AuthorizationQueryParametersError', 'X-Amz-Expires should be a number');
  }
  const expiresSeconds = Number(expires);
  if (expiresSeconds > MAX_PRESIGNED_EXPIRES_S) {
    throw new S3Error('AuthorizationQueryParametersError', 'X-Amz-Expires must be less than a week (in seconds) that is 604800');
  }
  return {
    ...parseCredential(credential, 'AuthorizationQueryParametersError'),
    signedHeaders: parseSignedHeaders(signedHeaders, 'AuthorizationQueryParametersError'),
    signature,
    timestamp,
    presigned: true,
    expiresSeconds,
  };
}

/** Maps the x-amz-content-sha256 value of a header-signed request to how its body is checked. */
type DeclaredPayload = Exclude<PayloadMode, { kind: 'chunked-signed' }> | { kind: 'chunked-signed-pending'; trailer: boolean };

function payloadModeFor(value: string | undefined, presigned: boolean): DeclaredPayload {
  if (value === undefined) {
    if (presigned) return { kind: 'unsigned' };
    throw new S3Error('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
  }
  switch (value) {
    case UNSIGNED_PAYLOAD:
      return { kind: 'unsigned' };
    case STREAMING_SIGNED:
      return { kind: 'chunked-signed-pending', trailer: false };
    case STREAMING_SIGNED_TRAILER:
      return { kind: 'chunked-signed-pending', trailer: true };
    case STREAMING_UNSIGNED_TRAILER:
      return { kind: 'chunked-unsigned-trailer' };
    case 'STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD':
    case 'STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER':
      throw new S3Error('NotImplemented', 'Signature Version 4A (ECDSA) is not implemented by Coffer.');
  }
  if (/^[0-9a-fA-F]{64}$/.test(value)) return { kind: 'sha256', hex: value.toLowerCase() };
  throw new S3Error('InvalidArgument', 'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.', {
    fields: { ArgumentName: 'x-amz-content-sha256', ArgumentValue: value },
  });
}

/** The message S3 sends (403 AccessDenied, with HeadersNotSigned) for x-amz-* headers left out of the signature. */
export const HEADERS_NOT_SIGNED = 'There were headers present in the request which were not signed';

/**
 * Every `x-amz-*` header of a signed request must be signed, as S3 demands
 * (header and presigned auth alike). Otherwise anyone holding a presigned PUT
 * URL, or a captured signed request, could add `x-amz-copy-source` and turn it
 * into a copy of any object the signer can read, or add SSE-C keys, tags, ACLs
 * or metadata the signer never chose; on the JSON APIs, an unsigned
 * `x-amz-target` would turn a signed KMS Encrypt into any other operation.
 */
function refuseUnsignedAmzHeaders(headers: SigV4Request['headers'], signedHeaders: readonly string[]): void {
  const unsigned = Object.keys(headers).filter((name) => name.startsWith('x-amz-') && !signedHeaders.includes(name));
  if (unsigned.length > 0) {
    throw new S3Error('AccessDenied', HEADERS_NOT_SIGNED, { fields: { HeadersNotSigned: unsigned.sort().join(', ') } });
  }
}

/**
 * Authenticates a request. Throws the S3Error a real S3 endpoint would send;
 * on success returns the credential and how to verify the payload.
 */
export async function verifySigV4<C extends Credential>(req: SigV4Request, options: VerifyOptions<C>): Promise<AuthResult<C>> {
  const authorization = first(req.headers['authorization']);
  const query = new URLSearchParams(req.rawQuery);
  const contentSha = first(req.headers['x-amz-content-sha256']);

  let parsed: ParsedAuth;
  if (authorization !== undefined) {
    parsed = parseAuthorizationHeader(authorization, req.headers);
  } else if (query.has('X-Amz-Algorithm') || query.has('X-Amz-Credential') || query.has('X-Amz-Signature')) {
    parsed = parsePresigned(query);
  } else if (query.has('AWSAccessKeyId') && query.has('Signature')) {
    throw new S3Error('InvalidRequest', UNSUPPORTED_MECHANISM);
  } else {
    return { anonymous: true, payload: contentSha === STREAMING_UNSIGNED_TRAILER ? { kind: 'chunked-unsigned-trailer' } : { kind: 'unsigned' } };
  }
  const malformed: MalformedCode = parsed.presigned ? 'AuthorizationQueryParametersError' : 'AuthorizationHeaderMalformed';

  if (parsed.region !== options.region) {
    throw new S3Error(malformed, `The authorization header is malformed; the region '${parsed.region}' is wrong; expecting '${options.region}'`, {
      fields: { Region: options.region },
    });
  }
  if (!options.services.includes(parsed.service)) {
    throw new S3Error(malformed, `The authorization header is malformed; incorrect service '${parsed.service}'. This endpoint belongs to '${options.services[0]}'.`);
  }
  const requestTime = parseAmzDate(parsed.timestamp);
  if (requestTime === undefined) {
    throw new S3Error(parsed.presigned ? 'AuthorizationQueryParametersError' : 'AccessDenied', 'X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd\'T\'HHmmss\'Z\'"');
  }
  if (parsed.timestamp.slice(0, 8) !== parsed.date) {
    throw new S3Error(malformed, `Invalid credential date "${parsed.date}". This date is not the same as X-Amz-Date: "${parsed.timestamp.slice(0, 8)}".`);
  }
  if (!parsed.signedHeaders.includes('host')) {
    throw new S3Error(malformed, 'The host header must be signed.');
  }
  refuseUnsignedAmzHeaders(req.headers, parsed.signedHeaders);

  const now = (options.now ?? Date.now)();
  const skewed = parsed.presigned ? requestTime - now > MAX_SKEW_MS : Math.abs(requestTime - now) > MAX_SKEW_MS;
  if (skewed) {
    throw new S3Error('RequestTimeTooSkewed', undefined, {
      fields: { RequestTime: parsed.timestamp, ServerTime: new Date(now).toISOString(), MaxAllowedSkewMilliseconds: MAX_SKEW_MS },
    });
  }
  if (parsed.presigned && now > requestTime + parsed.expiresSeconds! * 1000) {
    throw new S3Error('AccessDenied', 'Request has expired', {
      fields: { 'X-Amz-Expires': parsed.expiresSeconds!, Expires: new Date(requestTime + parsed.expiresSeconds! * 1000).toISOString(), ServerTime: new Date(now).toISOString() },
    });
  }

  const credential = await options.lookup(parsed.accessKeyId);
  if (!credential) throw new S3Error('InvalidAccessKeyId', undefined, { fields: { AWSAccessKeyId: parsed.accessKeyId } });

  // The payload hash that was signed: the header's literal value (a hash or one of the
  // STREAMING-*/UNSIGNED-PAYLOAD markers); a presigned URL without it signs UNSIGNED-PAYLOAD;
  // a small body read up front (non-S3 services) signs its own hash, verified right here.
  const hashOfBody = contentSha === undefined && options.body !== undefined ? sha256Hex(options.body) : undefined;
  const mode: DeclaredPayload = hashOfBody !== undefined ? { kind: 'unsigned' } : payloadModeFor(contentSha, parsed.presigned);
  const payloadHash = hashOfBody ?? contentSha ?? UNSIGNED_PAYLOAD;
  const headersText = canonicalHeaders(parsed.signedHeaders, req.rawHeaders);
  if (headersText === undefined) {
    throw new S3Error(malformed, 'A header named in SignedHeaders is missing from the request.');
  }
  const queryText = canonicalQuery(req.rawQuery, parsed.presigned ? 'X-Amz-Signature' : undefined);
  const scope = credentialScope(parsed.date, parsed.region, parsed.service);
  const cache = options.cache ?? defaultCache;
  const signingKey = cache.get(credential.accessKeyId, credential.secretAccessKey, parsed.date, parsed.region, parsed.service);

  let matched = false;
  for (const uri of canonicalUris(req.rawPath)) {
    const creq = canonicalRequest({
      method: req.method,
      canonicalUri: uri,
      canonicalQuery: queryText,
      canonicalHeaders: headersText,
      signedHeaders: parsed.signedHeaders,
      payloadHash,
    });
    if (signaturesEqual(signatureHex(signingKey, stringToSign(parsed.timestamp, scope, creq)), parsed.signature)) {
      matched = true;
      break;
    }
  }
  // Deliberately no canonical request or string to sign in the message: they would help an attacker.
  if (!matched) throw new S3Error('SignatureDoesNotMatch', undefined, { fields: { AWSAccessKeyId: parsed.accessKeyId } });

  const payload: PayloadMode =
    mode.kind === 'chunked-signed-pending'
      ? { kind: 'chunked-signed', trailer: mode.trailer, seedSignature: parsed.signature.toLowerCase(), signingKey, timestamp: parsed.timestamp, scope }
      : mode;
  return { anonymous: false, credential, payload, service: parsed.service, presigned: parsed.presigned };
}
