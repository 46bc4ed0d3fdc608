/**
 * The AWS KMS JSON 1.1 API on Coffer's listener: `POST /` with
 * `X-Amz-Target: TrentService.<Operation>`, a small JSON body, SigV4 for
 * service `kms`. Turns JSON into calls on the built-in KMS and results into
 * JSON the way AWS does (blobs base64, timestamps epoch seconds), and every
 * failure into `{"__type": …, "message": …}` with the status from the one
 * KMS error table. Unknown failures go out as KMSInternalException; their
 * details stay in the server log.
 */
import { createHash } from 'node:crypto';
import { hexDigestEqual } from '../crypto/compare.js';
import type { Logger } from 'pino';
import { HEADERS_NOT_SIGNED, verifySigV4, type Credential } from '../auth/sigv4/index.js';
import { S3Error } from '../errors/s3-errors.js';
import type { KmsHttpHandler, KmsHttpRequest } from '../http/server.js';
import type { S3Response } from '../http/types.js';
import type { BuiltinKms, Page, Tag } from './builtin-kms.js';
import { recordOrFail, type KmsAudit } from './kms-audit.js';
import { KmsError, isKmsError, type KmsErrorType } from './kms-errors.js';
import type { EncryptionContext, KeyMetadata, KmsCaller } from './kms.js';

/** KMS request bodies are small (a 4 KiB plaintext, base64, plus fields); anything near this is not KMS. */
export const MAX_KMS_BODY = 1024 * 1024;
const CONTENT_TYPE = 'application/x-amz-json-1.1';

export interface KmsApiOptions<C extends Credential> {
  kms: BuiltinKms;
  region: string;
  lookupCredential: (accessKeyId: string) => C | undefined | Promise<C | undefined>;
  /**
   * The principal ARN a credential acts as, or undefined when it may not call `kms:<operation>`
   * on the key the request acts on: `keyId` is that key's ARN (the request's KeyId resolved, or
   * for Decrypt the key its ciphertext names), or the KeyId as given when it names no key.
   */
  authorize: (credential: C, request: { operation: string; keyId?: string }) => string | undefined | Promise<string | undefined>;
  audit?: KmsAudit;
  log?: Logger;
}

type Json = Record<string, unknown>;

/** A failure found in the request itself, before the KMS saw it: audited here (the KMS audits its own). */
class RequestError extends KmsError {}
type Operation = (kms: BuiltinKms, input: Input, caller: KmsCaller) => Promise<Json>;

/** Typed reads of the request's JSON members; a member of the wrong JSON type is a SerializationException, as AWS answers. */
class Input {
  readonly #o: Json;

  constructor(o: Json) {
    this.#o = o;
  }

  #bad(name: string, expected: string): KmsError {
    return new RequestError('SerializationException', `${name} must be ${expected}.`);
  }

  #missing(name: string): KmsError {
    const member = name.charAt(0).toLowerCase() + name.slice(1);
    return new RequestError('ValidationException', `1 validation error detected: Value null at '${member}' failed to satisfy constraint: Member must not be null`);
  }

  has(name: string): boolean {
    return this.#o[name] !== undefined && this.#o[name] !== null;
  }

  str(name: string): string | undefined {
    const v = this.#o[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') throw this.#bad(name, 'a string');
    return v;
  }

  requiredStr(name: string): string {
    const v = this.str(name);
    if (v === undefined) throw this.#missing(name);
    return v;
  }

  int(name: string): number | undefined {
    const v = this.#o[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v)) throw this.#bad(name, 'an integer');
    return v;
  }

  bool(name: string): boolean | undefined {
    const v = this.#o[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') throw this.#bad(name, 'a boolean');
    return v;
  }

  blob(name: string): Buffer | undefined {
    const v = this.str(name);
    if (v === undefined) return undefined;
    if (v.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) throw this.#bad(name, 'base64-encoded');
    return Buffer.from(v, 'base64');
  }

  requiredBlob(name: string): Buffer {
    const v = this.blob(name);
    if (v === undefined) throw this.#missing(name);
    return v;
  }

  context(name: string): EncryptionContext | undefined {
    const v = this.#o[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'object' || Array.isArray(v)) throw this.#bad(name, 'a map of strings');
    const out: EncryptionContext = {};
    for (const [k, value] of Object.entries(v as Json)) {
      if (typeof value !== 'string') throw this.#bad(name, 'a map of strings');
      out[k] = value;
    }
    return out;
  }

  strList(name: string): string[] | undefined {
    const v = this.#o[name];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw this.#bad(name, 'a list of strings');
    return v as string[];
  }

  tags(name: string): Tag[] | undefined {
    const v = this.#o[name];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v)) throw this.#bad(name, 'a list of tags');
    return v.map((t: unknown) => {
      if (typeof t !== 'object' || t === null) throw this.#bad(name, 'a list of tags');
      const { TagKey, TagValue } = t as Json;
      if (typeof TagKey !== 'string' || typeof TagValue !== 'string') throw this.#bad(name, 'a list of {TagKey, TagValue} strings');
      return { tagKey: TagKey, tagValue: TagValue };
    });
  }

  /** EncryptionAlgorithm members: only SYMMETRIC_DEFAULT works with a symmetric key. */
  algorithm(name: string): void {
    const v = this.str(name);
    if (v === undefined || v === 'SYMMETRIC_DEFAULT') return;
    if (v === 'RSAES_OAEP_SHA_1' || v === 'RSAES_OAEP_SHA_256' || v === 'SM2PKE') {
      throw new RequestError('InvalidKeyUsageException', `${v} is not a valid encryption algorithm for a symmetric key; use SYMMETRIC_DEFAULT.`);
    }
    throw new RequestError('ValidationException', `1 validation error detected: Value '${v}' at '${name}' failed to satisfy constraint: Member must satisfy enum value set: [SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, SM2PKE]`);
  }

  noDryRun(): void {
    if (this.bool('DryRun')) throw new RequestError('UnsupportedOperationException', 'Coffer does not support DryRun.');
  }
}

const epoch = (d: Date): number => d.getTime() / 1000;

function keyMetadataJson(m: KeyMetadata): Json {
  return {
    AWSAccountId: m.awsAccountId,
    KeyId: m.keyId,
    Arn: m.arn,
    CreationDate: epoch(m.creationDate),
    Enabled: m.enabled,
    Description: m.description,
    KeyUsage: m.keyUsage,
    KeyState: m.keyState,
    ...(m.deletionDate ? { DeletionDate: epoch(m.deletionDate) } : {}),
    ...(m.pendingDeletionWindowInDays !== undefined ? { PendingDeletionWindowInDays: m.pendingDeletionWindowInDays } : {}),
    Origin: m.origin,
    KeyManager: m.keyManager,
    CustomerMasterKeySpec: m.keySpec,
    KeySpec: m.keySpec,
    EncryptionAlgorithms: m.encryptionAlgorithms,
    MultiRegion: false,
  };
}

function pageJson<T>(page: Page<T>, member: string, item: (t: T) => Json): Json {
  return { [member]: page.items.map(item), Truncated: page.truncated, ...(page.nextMarker !== undefined ? { NextMarker: page.nextMarker } : {}) };
}

const b64 = (b: Buffer): string => b.toString('base64');

/** Each TrentService operation: JSON in, JSON out, shapes as in the AWS KMS API reference. */
const OPERATIONS: Record<string, Operation> = {
  CreateKey: async (kms, i, caller) => {
    const spec = i.str('KeySpec') ?? i.str('CustomerMasterKeySpec');
    i.str('Policy');
    const m = await kms.createKey(
      {
        ...(i.str('Description') !== undefined ? { description: i.str('Description')! } : {}),
        ...(i.str('KeyUsage') !== undefined ? { keyUsage: i.str('KeyUsage')! } : {}),
        ...(spec !== undefined ? { keySpec: spec } : {}),
        ...(i.str('Origin') !== undefined ? { origin: i.str('Origin')! } : {}),
        ...(i.bool('MultiRegion') !== undefined ? { multiRegion: i.bool('MultiRegion')! } : {}),
        ...(i.tags('Tags') !== undefined ? { tags: i.tags('Tags')! } : {}),
      },
      caller,
    );
    return { KeyMetadata: keyMetadataJson(m) };
  },
  DescribeKey: async (kms, i, caller) => ({ KeyMetadata: keyMetadataJson(await kms.describeKey(i.requiredStr('KeyId'), caller)) }),
  ListKeys: async (kms, i, caller) => {
    const page = await kms.listKeys({ ...optionalPage(i) }, caller);
    return pageJson(page, 'Keys', (k) => ({ KeyId: k.keyId, KeyArn: k.keyArn }));
  },
  EnableKey: async (kms, i, caller) => {
    await kms.enableKey(i.requiredStr('KeyId'), caller);
    return {};
  },
  DisableKey: async (kms, i, caller) => {
    await kms.disableKey(i.requiredStr('KeyId'), caller);
    return {};
  },
  ScheduleKeyDeletion: async (kms, i, caller) => {
    const days = i.int('PendingWindowInDays');
    const r = await kms.scheduleKeyDeletion({ keyId: i.requiredStr('KeyId'), ...(days !== undefined ? { pendingWindowInDays: days } : {}) }, caller);
    return { KeyId: r.keyId, DeletionDate: epoch(r.deletionDate), KeyState: r.keyState, PendingWindowInDays: r.pendingWindowInDays };
  },
  CancelKeyDeletion: async (kms, i, caller) => ({ KeyId: (await kms.cancelKeyDeletion(i.requiredStr('KeyId'), caller)).keyId }),
  CreateAlias: async (kms, i, caller) => {
    await kms.createAlias({ aliasName: i.requiredStr('AliasName'), targetKeyId: i.requiredStr('TargetKeyId') }, caller);
    return {};
  },
  UpdateAlias: async (kms, i, caller) => {
    await kms.updateAlias({ aliasName: i.requiredStr('AliasName'), targetKeyId: i.requiredStr('TargetKeyId') }, caller);
    return {};
  },
  DeleteAlias: async (kms, i, caller) => {
    await kms.deleteAlias(i.requiredStr('AliasName'), caller);
    return {};
  },
  ListAliases: async (kms, i, caller) => {
    const keyId = i.str('KeyId');
    const page = await kms.listAliases({ ...optionalPage(i), ...(keyId !== undefined ? { keyId } : {}) }, caller);
    return pageJson(page, 'Aliases', (a) => ({
      AliasName: a.aliasName,
      AliasArn: a.aliasArn,
      TargetKeyId: a.targetKeyId,
      CreationDate: epoch(a.creationDate),
      LastUpdatedDate: epoch(a.lastUpdatedDate),
    }));
  },
  EnableKeyRotation: async (kms, i, caller) => {
    const period = i.int('RotationPeriodInDays');
    await kms.enableKeyRotation({ keyId: i.requiredStr('KeyId'), ...(period !== undefined ? { rotationPeriodInDays: period } : {}) }, caller);
    return {};
  },
  DisableKeyRotation: async (kms, i, caller) => {
    await kms.disableKeyRotation(i.requiredStr('KeyId'), caller);
    return {};
  },
  GetKeyRotationStatus: async (kms, i, caller) => {
    const s = await kms.getKeyRotationStatus(i.requiredStr('KeyId'), caller);
    return {
      KeyRotationEnabled: s.keyRotationEnabled,
      KeyId: s.keyId,
      ...(s.rotationPeriodInDays !== undefined ? { RotationPeriodInDays: s.rotationPeriodInDays } : {}),
      ...(s.nextRotationDate ? { NextRotationDate: epoch(s.nextRotationDate) } : {}),
    };
  },
  RotateKeyOnDemand: async (kms, i, caller) => ({ KeyId: (await kms.rotateKeyOnDemand(i.requiredStr('KeyId'), caller)).keyId }),
  ListKeyRotations: async (kms, i, caller) => {
    const include = i.str('IncludeKeyMaterial');
    if (include !== undefined && include !== 'ROTATIONS_ONLY') {
      throw new RequestError('UnsupportedOperationException', 'Coffer lists rotations only (IncludeKeyMaterial ROTATIONS_ONLY).');
    }
    const page = await kms.listKeyRotations({ keyId: i.requiredStr('KeyId'), ...optionalPage(i) }, caller);
    return pageJson(page, 'Rotations', (r) => ({
      KeyId: r.keyId,
      KeyMaterialId: r.keyMaterialId,
      RotationDate: epoch(r.rotationDate),
      RotationType: r.rotationType,
    }));
  },
  Encrypt: async (kms, i, caller) => {
    i.algorithm('EncryptionAlgorithm');
    i.noDryRun();
    const context = i.context('EncryptionContext');
    const r = await kms.encrypt({ keyId: i.requiredStr('KeyId'), plaintext: i.requiredBlob('Plaintext'), ...(context ? { encryptionContext: context } : {}) }, caller);
    return { CiphertextBlob: b64(r.ciphertextBlob), KeyId: r.keyId, EncryptionAlgorithm: r.encryptionAlgorithm };
  },
  Decrypt: async (kms, i, caller) => {
    i.algorithm('EncryptionAlgorithm');
    i.noDryRun();
    if (i.has('Recipient')) throw new RequestError('UnsupportedOperationException', 'Coffer does not support Nitro Enclaves recipients.');
    const context = i.context('EncryptionContext');
    const keyId = i.str('KeyId');
    const r = await kms.decrypt(
      { ciphertextBlob: i.requiredBlob('CiphertextBlob'), ...(context ? { encryptionContext: context } : {}), ...(keyId !== undefined ? { keyId } : {}) },
      caller,
    );
    try {
      return { KeyId: r.keyId, Plaintext: b64(r.plaintext), EncryptionAlgorithm: r.encryptionAlgorithm };
    } finally {
      r.plaintext.fill(0);
    }
  },
  ReEncrypt: async (kms, i, caller) => {
    i.algorithm('SourceEncryptionAlgorithm');
    i.algorithm('DestinationEncryptionAlgorithm');
    i.noDryRun();
    const source = i.context('SourceEncryptionContext');
    const destination = i.context('DestinationEncryptionContext');
    const sourceKeyId = i.str('SourceKeyId');
    const r = await kms.reEncrypt(
      {
        ciphertextBlob: i.requiredBlob('CiphertextBlob'),
        destinationKeyId: i.requiredStr('DestinationKeyId'),
        ...(source ? { sourceEncryptionContext: source } : {}),
        ...(destination ? { destinationEncryptionContext: destination } : {}),
        ...(sourceKeyId !== undefined ? { sourceKeyId } : {}),
      },
      caller,
    );
    return {
      CiphertextBlob: b64(r.ciphertextBlob),
      SourceKeyId: r.sourceKeyId,
      KeyId: r.keyId,
      SourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
      DestinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
    };
  },
  GenerateDataKey: async (kms, i, caller) => {
    i.noDryRun();
    if (i.has('Recipient')) throw new RequestError('UnsupportedOperationException', 'Coffer does not support Nitro Enclaves recipients.');
    const r = await kms.generateDataKey(dataKeyRequest(i), caller);
    try {
      return { CiphertextBlob: b64(r.ciphertextBlob), Plaintext: b64(r.plaintext), KeyId: r.keyId };
    } finally {
      r.plaintext.fill(0);
    }
  },
  GenerateDataKeyWithoutPlaintext: async (kms, i, caller) => {
    i.noDryRun();
    const r = await kms.generateDataKeyWithoutPlaintext(dataKeyRequest(i), caller);
    return { CiphertextBlob: b64(r.ciphertextBlob), KeyId: r.keyId };
  },
  GenerateRandom: async (kms, i, caller) => {
    if (i.str('CustomKeyStoreId') !== undefined) throw new RequestError('UnsupportedOperationException', 'Coffer has no custom key stores.');
    const bytes = await kms.generateRandom(i.int('NumberOfBytes'), caller);
    return { Plaintext: b64(bytes) };
  },
  TagResource: async (kms, i, caller) => {
    const tags = i.tags('Tags');
    if (tags === undefined) throw new RequestError('ValidationException', "1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null");
    await kms.tagResource({ keyId: i.requiredStr('KeyId'), tags }, caller);
    return {};
  },
  UntagResource: async (kms, i, caller) => {
    const tagKeys = i.strList('TagKeys');
    if (tagKeys === undefined) throw new RequestError('ValidationException', "1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null");
    await kms.untagResource({ keyId: i.requiredStr('KeyId'), tagKeys }, caller);
    return {};
  },
  ListResourceTags: async (kms, i, caller) => {
    const page = await kms.listResourceTags({ keyId: i.requiredStr('KeyId'), ...optionalPage(i) }, caller);
    return pageJson(page, 'Tags', (t) => ({ TagKey: t.tagKey, TagValue: t.tagValue }));
  },
};

function optionalPage(i: Input): { limit?: number; marker?: string } {
  const limit = i.int('Limit');
  const marker = i.str('Marker');
  return { ...(limit !== undefined ? { limit } : {}), ...(marker !== undefined ? { marker } : {}) };
}

function dataKeyRequest(i: Input) {
  const keySpec = i.str('KeySpec');
  const numberOfBytes = i.int('NumberOfBytes');
  const context = i.context('EncryptionContext');
  return {
    keyId: i.requiredStr('KeyId'),
    ...(keySpec !== undefined ? { keySpec: keySpec as 'AES_256' | 'AES_128' } : {}),
    ...(numberOfBytes !== undefined ? { numberOfBytes } : {}),
    ...(context ? { encryptionContext: context } : {}),
  };
}

/** The names of the operations this API serves. */
export const KMS_API_OPERATIONS: readonly string[] = Object.freeze(Object.keys(OPERATIONS));

/** How a SigV4 failure (reported as the S3 error S3 would send) reads in a JSON protocol. */
function authError(err: S3Error): KmsError {
  switch (err.code) {
    case 'InvalidAccessKeyId':
      return new KmsError('UnrecognizedClientException', 'The security token included in the request is invalid.');
    case 'SignatureDoesNotMatch':
      return new KmsError(
        'InvalidSignatureException',
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
      );
    case 'RequestTimeTooSkewed':
      return new KmsError('InvalidSignatureException', 'Signature expired: the request time is more than 15 minutes from the server time.');
    case 'AccessDenied':
      if (err.message === HEADERS_NOT_SIGNED) return new KmsError('IncompleteSignatureException', `${err.message}: ${String(err.fields.HeadersNotSigned)}`);
      return new KmsError('IncompleteSignatureException', err.message);
    default:
      return new KmsError('IncompleteSignatureException', err.message);
  }
}

function jsonResponse(status: number, requestId: string, body: Json, extraHeaders: Record<string, string> = {}): S3Response {
  return {
    status,
    headers: { 'content-type': CONTENT_TYPE, 'x-amzn-requestid': requestId, ...extraHeaders },
    body: JSON.stringify(body),
  };
}

export function errorJson(type: KmsErrorType, message: string): Json {
  return { __type: type, message };
}

async function readSmallBody(req: KmsHttpRequest, limit: number): Promise<Buffer | undefined> {
  const declared = req.headers['content-length'];
  const length = typeof declared === 'string' && /^\d+$/.test(declared) ? Number(declared) : undefined;
  if (length !== undefined && length > limit) return undefined;
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req.body) {
    total += chunk.length;
    if (total > limit) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}

/**
 * The key a request acts on, for authorization only (parsing proper comes later). AWS evaluates
 * policies on the key, so a KeyId is resolved to its key's ARN — naming the key by an alias must
 * not slip past a Deny on the key — and a Decrypt without KeyId is about the key its ciphertext
 * names. A KeyId that resolves to nothing is passed on as given (the operation reports it).
 */
async function authorizationKeyOf(kms: BuiltinKms, operation: string, body: Buffer): Promise<string | undefined> {
  let o: unknown;
  try {
    o = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof o !== 'object' || o === null) return undefined;
  const { KeyId, CiphertextBlob } = o as { KeyId?: unknown; CiphertextBlob?: unknown };
  if (typeof KeyId === 'string') return (await kms.authorizationArn({ keyId: KeyId })) ?? KeyId;
  if (operation === 'Decrypt' && typeof CiphertextBlob === 'string') return kms.authorizationArn({ ciphertextBlob: Buffer.from(CiphertextBlob, 'base64') });
  return undefined;
}

/** Builds the handler the HTTP server calls for `{ kind: 'kms' }` endpoints. */
export function createKmsApiHandler<C extends Credential>(options: KmsApiOptions<C>): KmsHttpHandler {
  const { kms, log } = options;
  return async (req) => {
    let principal = 'anonymous';
    let bodyComplete = false;
    const fail = async (refusal: KmsError): Promise<S3Response> => {
      let err = refusal;
      try {
        await recordOrFail(options.audit, { requestId: req.requestId, principal, operation: req.operation, outcome: 'failure', errorType: refusal.type });
      } catch (auditErr) {
        // The refusal could not be audited: answered as the internal error it now is.
        err = auditErr as KmsError;
      }
      return jsonResponse(err.status, req.requestId, errorJson(err.type, err.message), bodyComplete ? {} : { connection: 'close' });
    };
    let input: Input;
    let caller: KmsCaller;
    try {
      const body = await readSmallBody(req, MAX_KMS_BODY);
      if (body === undefined) throw new KmsError('ValidationException', `The request body is larger than ${MAX_KMS_BODY} bytes.`);
      bodyComplete = true;
      let auth;
      try {
        auth = await verifySigV4(
          { method: req.method, rawPath: req.rawPath, rawQuery: req.rawQuery, headers: req.headers, rawHeaders: req.rawHeaders },
          { region: options.region, services: ['kms'], lookup: options.lookupCredential, body },
        );
      } catch (err) {
        if (err instanceof S3Error) throw authError(err);
        throw err;
      }
      if (auth.anonymous) throw new KmsError('MissingAuthenticationTokenException', 'Missing Authentication Token');
      principal = `access-key:${auth.credential.accessKeyId}`;
      // A client that did send x-amz-content-sha256 signed that value; the body must match it.
      if (auth.payload.kind === 'sha256' && !hexDigestEqual(createHash('sha256').update(body).digest(), auth.payload.hex)) {
        throw new KmsError('InvalidSignatureException', 'The provided x-amz-content-sha256 does not match the request body.');
      }
      if (auth.payload.kind === 'chunked-signed' || auth.payload.kind === 'chunked-unsigned-trailer') {
        throw new KmsError('IncompleteSignatureException', 'KMS requests cannot use aws-chunked payloads.');
      }
      const keyId = await authorizationKeyOf(kms, req.operation, body);
      const arn = await options.authorize(auth.credential, { operation: req.operation, ...(keyId !== undefined ? { keyId } : {}) });
      if (arn === undefined) {
        throw new KmsError('AccessDeniedException', `User ${principal} is not authorized to perform kms:${req.operation} because no identity-based policy allows the kms:${req.operation} action.`);
      }
      principal = arn;
      if (!Object.hasOwn(OPERATIONS, req.operation)) throw new KmsError('UnknownOperationException', `Unknown operation TrentService.${req.operation}.`);
      let parsed: unknown;
      try {
        parsed = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
      } catch {
        throw new KmsError('SerializationException', 'The request body is not valid JSON.');
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new KmsError('SerializationException', 'The request body must be a JSON object.');
      input = new Input(parsed as Json);
      caller = { principal, requestId: req.requestId };
    } catch (err) {
      if (isKmsError(err)) return fail(err);
      log?.error({ err, requestId: req.requestId }, 'KMS request failed');
      return fail(new KmsError('KMSInternalException', 'An internal error occurred.'));
    }
    try {
      return jsonResponse(200, req.requestId, await OPERATIONS[req.operation]!(kms, input, caller));
    } catch (err) {
      if (err instanceof RequestError) return fail(err);
      // Everything else came out of the KMS, which audited it.
      const kmsErr = isKmsError(err) ? err : new KmsError('KMSInternalException', 'An internal error occurred.');
      if (!isKmsError(err)) log?.error({ err, requestId: req.requestId }, 'KMS request failed');
      return jsonResponse(kmsErr.status, req.requestId, errorJson(kmsErr.type, kmsErr.message));
    }
  };
}

/** For a node whose KMS is external: every KMS API request is answered UnsupportedOperationException, in AWS JSON. */
export function kmsApiUnavailable(): KmsHttpHandler {
  return async (req) => {
    for await (const _chunk of req.body) {
      // Drain the small body so the connection can be reused.
    }
    const err = new KmsError('UnsupportedOperationException', 'This Coffer node uses an external KMS (--kms-endpoint); send KMS requests there.');
    return jsonResponse(err.status, req.requestId, errorJson(err.type, err.message));
  };
}
