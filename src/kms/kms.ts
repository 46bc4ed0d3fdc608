/**
 * The Kms contract: what Coffer's server-side encryption (and the AWS-KMS JSON
 * API on the same listener) asks of a key management service. Shapes follow
 * the AWS KMS API reference (same names, same semantics), with Buffers for
 * blobs, so that a remote AWS-KMS-compatible implementation is a thin
 * pass-through to @aws-sdk/client-kms and the built-in one can be tested
 * against the same contract suite.
 *
 * Every method throws KmsError (kms-errors.ts) for the failures AWS KMS
 * documents: NotFoundException, DisabledException, KMSInvalidStateException,
 * InvalidCiphertextException, …
 */

export type KeyState = 'Enabled' | 'Disabled' | 'PendingDeletion' | 'PendingImport' | 'Unavailable';

/** KMS's KeyMetadata, the fields Coffer fills. */
export interface KeyMetadata {
  /** The key id: a UUID. */
  keyId: string;
  /** `arn:aws:kms:<region>:<account>:key/<keyId>` */
  arn: string;
  awsAccountId: string;
  creationDate: Date;
  enabled: boolean;
  description: string;
  keyUsage: 'ENCRYPT_DECRYPT';
  keySpec: 'SYMMETRIC_DEFAULT';
  keyState: KeyState;
  /** Set while the key is PendingDeletion. */
  deletionDate?: Date;
  pendingDeletionWindowInDays?: number;
  origin: 'AWS_KMS';
  /** `AWS` for Coffer-managed keys (alias/aws/s3), `CUSTOMER` otherwise. */
  keyManager: 'AWS' | 'CUSTOMER';
  encryptionAlgorithms: ['SYMMETRIC_DEFAULT'];
}

export type EncryptionContext = Record<string, string>;

/** The service name S3 acts under when it uses a KMS key for a requester (CloudTrail's `invokedBy`). */
export const S3_SERVICE = 's3.amazonaws.com';

/** Who is calling, for the audit log (permissions are checked before: kms-access.ts). */
export interface KmsCaller {
  /** A principal ARN, `anonymous`, or Coffer's own service name (e.g. `coffer:kms` for automatic rotation). */
  principal: string;
  /** The service making the call on the principal's behalf (S3_SERVICE for SSE-KMS). */
  invokedBy?: string;
  requestId: string;
}

export interface GenerateDataKeyRequest {
  /** Key id, key ARN, alias name (`alias/…`) or alias ARN. */
  keyId: string;
  /** AES_256 (32 bytes) or AES_128 (16 bytes); or numberOfBytes. */
  keySpec?: 'AES_256' | 'AES_128';
  numberOfBytes?: number;
  encryptionContext?: EncryptionContext;
}

export interface GenerateDataKeyResult {
  /** The ARN of the key that encrypted the data key. */
  keyId: string;
  plaintext: Buffer;
  /** Self-describing: Decrypt needs no key id. */
  ciphertextBlob: Buffer;
}

export interface DecryptRequest {
  ciphertextBlob: Buffer;
  encryptionContext?: EncryptionContext;
  /** When given, the ciphertext must have been made under this key (IncorrectKeyException otherwise). */
  keyId?: string;
}

export interface DecryptResult {
  /** ARN of the key that decrypted it. */
  keyId: string;
  plaintext: Buffer;
  encryptionAlgorithm: 'SYMMETRIC_DEFAULT';
}

export interface EncryptRequest {
  keyId: string;
  plaintext: Buffer;
  encryptionContext?: EncryptionContext;
}

export interface EncryptResult {
  keyId: string;
  ciphertextBlob: Buffer;
  encryptionAlgorithm: 'SYMMETRIC_DEFAULT';
}

/**
 * The part of KMS that server-side encryption uses. The full AWS-KMS API
 * (CreateKey, aliases, rotation, deletion, tags, …) extends this in the
 * built-in implementation; these signatures are what SSE code relies on.
 */
export interface Kms {
  /** Resolves any key reference (id, ARN, alias, alias ARN). NotFoundException if none. */
  describeKey(keyId: string, caller: KmsCaller): Promise<KeyMetadata>;
  /**
   * The key behind `alias/aws/s3`, created on first use (AWS's managed key for
   * SSE-KMS requests and bucket defaults that name no key).
   */
  managedS3Key(caller: KmsCaller): Promise<KeyMetadata>;
  /**
   * Coffer's S3 service key (`alias/aws/coffer-s3-service`), created on first use: it wraps
   * the data keys of SSE-S3 objects, so the root key protects them like every KMS key and
   * rotating it (or the root key) never touches object data.
   */
  s3ServiceKey(caller: KmsCaller): Promise<KeyMetadata>;
  generateDataKey(request: GenerateDataKeyRequest, caller: KmsCaller): Promise<GenerateDataKeyResult>;
  decrypt(request: DecryptRequest, caller: KmsCaller): Promise<DecryptResult>;
  encrypt(request: EncryptRequest, caller: KmsCaller): Promise<EncryptResult>;
}
