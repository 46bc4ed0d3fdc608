/**
 * The Kms contract over any AWS-KMS-compatible endpoint (AWS KMS itself, or
 * another Coffer's built-in KMS), through @aws-sdk/client-kms: several Coffer
 * nodes can share one KMS. A thin pass-through — the remote does the
 * cryptography and enforces key states; errors come back as the same
 * KmsError types, and network trouble as DependencyTimeoutException.
 */
import {
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  KMSClient,
  KMSServiceException,
  type KeyMetadata as SdkKeyMetadata,
} from '@aws-sdk/client-kms';
import { recordOrFail, type KmsAudit, type AuditDetails } from './kms-audit.js';
import { KMS_ERRORS, KmsError, type KmsErrorType } from './kms-errors.js';
import type {
  DecryptRequest,
  DecryptResult,
  EncryptRequest,
  EncryptResult,
  GenerateDataKeyRequest,
  GenerateDataKeyResult,
  KeyMetadata,
  KeyState,
  Kms,
  KmsCaller,
} from './kms.js';

export interface RemoteKmsOptions {
  /** e.g. `https://kms.us-east-1.amazonaws.com` or another Coffer's URL. */
  endpoint: string;
  region: string;
  /** Omitted: the SDK's default credential chain (environment, profile, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Local audit of the calls this node makes (the remote audits them too). */
  audit?: KmsAudit;
  /** Per-request timeout, ms. */
  requestTimeoutMs?: number;
}

function toKmsError(err: unknown): KmsError {
  if (err instanceof KmsError) return err;
  if (err instanceof KMSServiceException || (err instanceof Error && err.name in KMS_ERRORS)) {
    const e = err as Error;
    const type = (e.name in KMS_ERRORS ? e.name : 'KMSInternalException') as KmsErrorType;
    return new KmsError(type, e.message);
  }
  // Not an answer from the KMS: the network, a timeout, a response that is not KMS JSON.
  return new KmsError('DependencyTimeoutException', `The KMS at the configured endpoint could not be reached: ${(err as Error)?.message ?? String(err)}`);
}

/** The key id (UUID) at the end of a key ARN, for the audit log. */
function keyIdOf(arnOrId: string): string {
  return /key\/([^/]+)$/.exec(arnOrId)?.[1] ?? arnOrId;
}

function required<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new KmsError('KMSInternalException', `The remote KMS response has no ${what}.`);
  return v;
}

function metadataFrom(m: SdkKeyMetadata | undefined): KeyMetadata {
  const md = required(m, 'KeyMetadata');
  return {
    keyId: required(md.KeyId, 'KeyId'),
    arn: required(md.Arn, 'Arn'),
    awsAccountId: md.AWSAccountId ?? '',
    creationDate: md.CreationDate ?? new Date(0),
    enabled: md.Enabled ?? false,
    description: md.Description ?? '',
    keyUsage: 'ENCRYPT_DECRYPT',
    keySpec: 'SYMMETRIC_DEFAULT',
    keyState: (md.KeyState ?? 'Unavailable') as KeyState,
    ...(md.DeletionDate ? { deletionDate: md.DeletionDate } : {}),
    ...(md.PendingDeletionWindowInDays !== undefined ? { pendingDeletionWindowInDays: md.PendingDeletionWindowInDays } : {}),
    origin: 'AWS_KMS',
    keyManager: md.KeyManager === 'AWS' ? 'AWS' : 'CUSTOMER',
    encryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
  };
}

const buf = (b: Uint8Array | undefined, what: string): Buffer => {
  const v = required(b, what);
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
};

export class RemoteKms implements Kms {
  readonly #client: KMSClient;
  readonly #audit: KmsAudit | undefined;

  constructor(options: RemoteKmsOptions) {
    this.#client = new KMSClient({
      endpoint: options.endpoint,
      region: options.region,
      ...(options.credentials ? { credentials: options.credentials } : {}),
      maxAttempts: 3,
      ...(options.requestTimeoutMs !== undefined ? { requestHandler: { requestTimeout: options.requestTimeoutMs } } : {}),
    });
    this.#audit = options.audit;
  }

  /** Runs a call and records how it ended; a record that cannot be written fails the call (kms-audit.ts recordOrFail). */
  async #call<T>(operation: string, caller: KmsCaller, details: AuditDetails, fn: () => Promise<T>, after?: (r: T) => void): Promise<T> {
    const who = { requestId: caller.requestId, principal: caller.principal, ...(caller.invokedBy !== undefined ? { invokedBy: caller.invokedBy } : {}) };
    let r: T;
    try {
      r = await fn();
      after?.(r);
    } catch (err) {
      const kmsErr = toKmsError(err);
      await recordOrFail(this.#audit, { ...who, operation, ...details, outcome: 'failure', errorType: kmsErr.type });
      throw kmsErr;
    }
    await recordOrFail(this.#audit, { ...who, operation, ...details, outcome: 'success' });
    return r;
  }

  async describeKey(keyId: string, caller: KmsCaller): Promise<KeyMetadata> {
    const details: AuditDetails = {};
    return this.#call('DescribeKey', caller, details, async () => metadataFrom((await this.#client.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata), (m) => {
      details.keyId = m.keyId;
    });
  }

  /** AWS (and Coffer) create the alias/aws/s3 key when it is first described or used. */
  async managedS3Key(caller: KmsCaller): Promise<KeyMetadata> {
    const details: AuditDetails = { aliasName: 'alias/aws/s3' };
    return this.#call('DescribeKey', caller, details, async () => metadataFrom((await this.#client.send(new DescribeKeyCommand({ KeyId: 'alias/aws/s3' }))).KeyMetadata), (m) => {
      details.keyId = m.keyId;
    });
  }

  /** Another Coffer creates its S3 service key on first use too; Coffer nodes sharing one KMS share it. */
  async s3ServiceKey(caller: KmsCaller): Promise<KeyMetadata> {
    return this.describeKey('alias/aws/coffer-s3-service', caller);
  }

  async generateDataKey(request: GenerateDataKeyRequest, caller: KmsCaller): Promise<GenerateDataKeyResult> {
    const details: AuditDetails = { ...(request.encryptionContext ? { encryptionContext: request.encryptionContext } : {}) };
    return this.#call('GenerateDataKey', caller, details, async () => {
      const r = await this.#client.send(
        new GenerateDataKeyCommand({
          KeyId: request.keyId,
          ...(request.keySpec !== undefined ? { KeySpec: request.keySpec } : {}),
          ...(request.numberOfBytes !== undefined ? { NumberOfBytes: request.numberOfBytes } : {}),
          ...(request.encryptionContext ? { EncryptionContext: request.encryptionContext } : {}),
        }),
      );
      return { keyId: required(r.KeyId, 'KeyId'), plaintext: buf(r.Plaintext, 'Plaintext'), ciphertextBlob: buf(r.CiphertextBlob, 'CiphertextBlob') };
    }, (r) => {
      details.keyId = keyIdOf(r.keyId);
    });
  }

  async decrypt(request: DecryptRequest, caller: KmsCaller): Promise<DecryptResult> {
    const details: AuditDetails = { ...(request.encryptionContext ? { encryptionContext: request.encryptionContext } : {}) };
    return this.#call('Decrypt', caller, details, async () => {
      const r = await this.#client.send(
        new DecryptCommand({
          CiphertextBlob: request.ciphertextBlob,
          ...(request.encryptionContext ? { EncryptionContext: request.encryptionContext } : {}),
          ...(request.keyId !== undefined ? { KeyId: request.keyId } : {}),
        }),
      );
      return { keyId: required(r.KeyId, 'KeyId'), plaintext: buf(r.Plaintext, 'Plaintext'), encryptionAlgorithm: 'SYMMETRIC_DEFAULT' as const };
    }, (r) => {
      details.keyId = keyIdOf(r.keyId);
    });
  }

  async encrypt(request: EncryptRequest, caller: KmsCaller): Promise<EncryptResult> {
    const details: AuditDetails = { ...(request.encryptionContext ? { encryptionContext: request.encryptionContext } : {}) };
    return this.#call('Encrypt', caller, details, async () => {
      const r = await this.#client.send(
        new EncryptCommand({
          KeyId: request.keyId,
          Plaintext: request.plaintext,
          ...(request.encryptionContext ? { EncryptionContext: request.encryptionContext } : {}),
        }),
      );
      return { keyId: required(r.KeyId, 'KeyId'), ciphertextBlob: buf(r.CiphertextBlob, 'CiphertextBlob'), encryptionAlgorithm: 'SYMMETRIC_DEFAULT' as const };
    }, (r) => {
      details.keyId = keyIdOf(r.keyId);
    });
  }

  close(): void {
    this.#client.destroy();
  }
}
