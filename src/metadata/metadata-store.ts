/**
 * The MetadataStore contract: everything Coffer knows about buckets, objects
 * and uploads, apart from the bytes. Drivers (sqlite/, later postgres/) make
 * every method atomic on its own; a method that drops references to blobs
 * queues those blobs for garbage collection in the same transaction, so a
 * crash never loses track of space and never frees data still referenced.
 *
 * Keys are compared as UTF-8 bytes (S3 lists in UTF-8 binary order).
 */

export type ChecksumAlgorithm = 'CRC32' | 'CRC32C' | 'SHA1' | 'SHA256' | 'CRC64NVME';
export type ChecksumType = 'FULL_OBJECT' | 'COMPOSITE';

export interface ChecksumValue {
  algorithm: ChecksumAlgorithm;
  /** base64 of the digest, with `-N` for composite multipart checksums. */
  value: string;
  type: ChecksumType;
}

/** How an object's data keys are kept (see storage/object-keys.ts). Every object written by Coffer has one. */
export interface ObjectEncryption {
  /** The x-amz-server-side-encryption value, or `SSE-C` for customer-provided keys. */
  mode: 'AES256' | 'aws:kms' | 'aws:kms:dsse' | 'SSE-C';
  /** The data keys, one per layer, wrapped (base64): never the keys themselves. */
  wrappedKeys: string[];
  /** SSE-KMS / DSSE-KMS: the KMS key's ARN. */
  kmsKeyArn?: string;
  bucketKeyEnabled?: boolean;
  /** With an S3 Bucket Key: the bucket key that wrapped the data key. */
  bucketKeyId?: string;
  /** The caller's own encryption-context pairs (S3 adds aws:s3:arn itself). */
  context?: Record<string, string>;
  /** SSE-C: a random salt and HMAC-SHA256(salt, customer key), base64. The key is never stored. */
  customerKeyCheck?: { salt: string; mac: string };
}

/** Where a stored run of bytes sits in the encrypted blob format (crypto/blob-format.ts). */
export interface BlobCipher {
  /** The blob header's salt, base64. */
  salt: string;
  /** The part number bound into the blob (0 for a single PUT). */
  part: number;
  /**
   * The blob's format version: 2 binds the blob to its object's identity (bucket, key,
   * ObjectRecord.objectId); absent for blobs written in version 1, before that binding.
   */
  format?: 2;
}

/** An ACL grantee: an account (or one of the users S3 itself defines) by canonical user id, or a predefined group by URI. */
export type AclGrantee = { type: 'CanonicalUser'; id: string } | { type: 'Group'; uri: string };
export type AclPermission = 'FULL_CONTROL' | 'READ' | 'WRITE' | 'READ_ACP' | 'WRITE_ACP';

export interface AclGrant {
  grantee: AclGrantee;
  permission: AclPermission;
}

/**
 * An access control list as S3 stores it: the grants, in the order given. Its owner is the
 * resource's owner (BucketRecord.ownerId, ObjectRecord.ownerId). A resource without one has
 * the implicit `private` ACL: its owner's FULL_CONTROL.
 */
export interface StoredAcl {
  grants: AclGrant[];
}

/** A bucket's stored objects (MetadataStore.bucketUsage). */
export interface BucketUsage {
  bucket: string;
  objects: number;
  /** The sum of the objects' sizes (plaintext, as S3 reports sizes). */
  bytes: number;
}

export interface BucketRecord {
  name: string;
  createdAt: number;
  ownerId: string;
  region: string;
}

/** A stored run of object bytes: a whole single-part object or one multipart part. */
export interface StoredPart {
  partNumber: number;
  blobId: string;
  /** Plaintext size of this part. */
  size: number;
  /** Hex MD5 of the part's plaintext (no quotes). */
  etag: string;
  checksum?: ChecksumValue;
  /** Present when the blob is in the encrypted format (always, for data Coffer writes). */
  cipher?: BlobCipher;
}

export interface ObjectRecord {
  bucket: string;
  key: string;
  size: number;
  /** The ETag without quotes: hex MD5, or `<hex>-<N>` for multipart. */
  etag: string;
  lastModified: number;
  /** Stored headers, lower-case names: content-type, cache-control, content-disposition, content-encoding, content-language, expires, x-amz-website-redirect-location (s3/headers.ts STORED_HEADERS). */
  headers: Record<string, string>;
  /** User metadata without the `x-amz-meta-` prefix, lower-case names. */
  userMetadata: Record<string, string>;
  tags: [string, string][];
  checksum?: ChecksumValue;
  /** The data, in order; empty for a zero-byte object. */
  parts: StoredPart[];
  /** Made by CompleteMultipartUpload (partNumber reads and `-N` ETags apply). */
  multipart: boolean;
  storageClass: string;
  /** The object's owner (canonical user id): the bucket owner, or with ACLs enabled the writer's account. */
  ownerId: string;
  encryption?: ObjectEncryption;
  /** The object's ACL when it is not the implicit `private` one. Honoured only while the bucket has ACLs enabled. */
  acl?: StoredAcl;
  /**
   * The id of the write that made this object's data: random per PutObject and CopyObject,
   * the upload id for CompleteMultipartUpload. Its blobs (format 2) are bound to it, with the
   * bucket and key, so they decrypt only as this object. Absent on objects written before.
   */
  objectId?: string;
  /**
   * S3's VersionId of this version: set by the store when it writes into a bucket with versioning
   * Enabled. Absent for the `null` version: objects written before versioning was enabled or
   * while it is suspended (S3 lists those as version "null").
   */
  versionId?: string;
  /** The store's order of a key's versions (larger is newer); absent (0) on objects written before versioning. */
  versionSeq?: number;
  /** A delete marker (S3): a version with no data, owned by whoever deleted; never the current object. */
  deleteMarker?: boolean;
  /** Object Lock retention of this version (`retainUntil`: ms epoch). */
  retention?: { mode: 'GOVERNANCE' | 'COMPLIANCE'; retainUntil: number };
  /** Object Lock legal hold of this version. */
  legalHold?: boolean;
}

/**
 * What a listing (ListObjects, ListObjectsV2) shows of an object. The drivers keep these
 * fields in columns of their own beside the object's document, so a page of 1000 keys is
 * read without reading, copying and parsing 1000 whole documents (bench/RESULTS.md).
 */
export interface ObjectSummary {
  key: string;
  size: number;
  etag: string;
  lastModified: number;
  checksumAlgorithm?: ChecksumAlgorithm;
  checksumType?: ChecksumType;
  storageClass: string;
  ownerId: string;
}

/** The summary of an object, as listObjects returns it. */
export function objectSummary(o: ObjectRecord): ObjectSummary {
  return {
    key: o.key,
    size: o.size,
    etag: o.etag,
    lastModified: o.lastModified,
    ...(o.checksum ? { checksumAlgorithm: o.checksum.algorithm, checksumType: o.checksum.type } : {}),
    storageClass: o.storageClass,
    ownerId: o.ownerId,
  };
}

/** S3 bucket versioning states; a bucket that never had versioning has none (and can never return to none). */
export type VersioningState = 'Enabled' | 'Suspended';

/** How a write treats the versions of its key: the bucket's versioning state at the time. */
export interface VersioningOptions {
  /**
   * Absent: the bucket never had versioning — the key has one object, replaced or deleted (its
   * blobs queued). `Enabled`: a write adds a new version (its id chosen by the store) and the
   * previous current version is kept, blobs and all; a delete adds a delete marker. `Suspended`:
   * a write or delete replaces the key's `null` version (whichever place it holds), keeping every
   * other version; a delete adds a `null` delete marker.
   */
  versioning?: VersioningState;
}

/** One entry of ListObjectVersions: a version or a delete marker, and whether it is the key's latest. */
export interface ObjectVersionEntry {
  record: ObjectRecord;
  isLatest: boolean;
}

/** A range of ListObjectVersions, in S3's order: keys ascending, each key's versions newest first. */
export interface VersionListRange {
  prefix: string;
  /** Keys strictly after this one (or from it, with all its versions, when `inclusive`). */
  start?: { key: string; inclusive: boolean };
  /**
   * With an exclusive `start`: first the versions of `start.key` older than this version
   * (S3's key-marker + version-id-marker), then the keys after it.
   */
  afterVersionId?: string;
  limit: number;
}

export interface UploadRecord {
  uploadId: string;
  bucket: string;
  key: string;
  initiated: number;
  ownerId: string;
  headers: Record<string, string>;
  userMetadata: Record<string, string>;
  tags: [string, string][];
  checksumAlgorithm?: ChecksumAlgorithm;
  checksumType?: ChecksumType;
  storageClass: string;
  /** The upload's data keys: its parts are encrypted as they arrive, under the object's future keys. */
  encryption?: ObjectEncryption;
  /** The ACL CreateMultipartUpload asked for, given to the object at Complete (absent: `private`). */
  acl?: StoredAcl;
  /** The Object Lock retention and legal hold CreateMultipartUpload asked for, given to the object at Complete. */
  lock?: Pick<ObjectRecord, 'retention' | 'legalHold'>;
}

export interface PartRecord extends StoredPart {
  uploadId: string;
  lastModified: number;
}

/** Conditions checked atomically with an object write (S3 conditional writes). */
export interface WriteCondition {
  /** `If-None-Match: *`: fail if the key exists. */
  ifNoneMatch?: boolean;
  /** `If-Match: <etag>` (no quotes): fail unless the current ETag is this. */
  ifMatch?: string;
}

/** A range scan over keys in UTF-8 byte order. */
export interface KeyRange {
  prefix: string;
  /** Start strictly after this key (or at it when `inclusive`). */
  start?: { key: string; inclusive: boolean };
  limit: number;
}

export interface UploadListRange {
  prefix: string;
  /** Uploads with key > keyMarker, or key = keyMarker and uploadId > uploadIdMarker. */
  keyMarker?: string;
  uploadIdMarker?: string;
  start?: { key: string; inclusive: boolean };
  limit: number;
}

/** An SSE-KMS bucket key: an intermediate key made by the KMS, kept only as KMS ciphertext. */
export interface BucketKeyRecord {
  id: string;
  bucket: string;
  /** ARN of the KMS key that encrypted it. */
  kmsKeyArn: string;
  /** The KMS ciphertext blob, base64; empty while the process that claimed the key is making it. */
  wrapped: string;
  createdAt: number;
}

export interface MetadataStore {
  /** Brings the schema up to date. Idempotent. */
  migrate(): Promise<void>;
  close(): Promise<void>;

  /**
   * Creates a bucket, with its initial sub-resource documents (`configs`, by name) in the same
   * transaction — so a bucket never exists without the settings it was created with (the
   * public access block of a new bucket). False when the name is taken; then nothing is written.
   */
  createBucket(bucket: BucketRecord, options?: { configs?: Readonly<Record<string, string>> }): Promise<boolean>;
  getBucket(name: string): Promise<BucketRecord | undefined>;
  /** All buckets by name. */
  listBuckets(): Promise<BucketRecord[]>;
  /** Deletes an empty bucket (no objects, no versions or delete markers, no uploads). */
  deleteBucket(name: string): Promise<'deleted' | 'not-empty' | 'missing'>;

  /** A bucket sub-resource document (e.g. `encryption`), or undefined when never set. */
  getBucketConfig(bucket: string, name: string): Promise<string | undefined>;
  /** All of a bucket's sub-resource documents, by name, in one read (s3/request-metadata.ts). */
  getBucketConfigs(bucket: string): Promise<Map<string, string>>;
  /** Sets a bucket sub-resource document; false when the bucket does not exist. */
  putBucketConfig(bucket: string, name: string, doc: string): Promise<boolean>;
  /** Removes a bucket sub-resource document (absent is fine). Deleting a bucket removes all of them. */
  deleteBucketConfig(bucket: string, name: string): Promise<void>;

  /**
   * Bucket keys are made once per id (one id per bucket, KMS key and period) by whichever
   * process claims it first: `claimBucketKey` inserts the record with an empty `wrapped` and
   * is false when the id exists already; the claimer then `fillBucketKey`s it, or
   * `releaseBucketKey`s an unfilled claim so another process can make it.
   */
  claimBucketKey(key: Omit<BucketKeyRecord, 'wrapped'>): Promise<boolean>;
  /** Sets an unfilled claim's KMS ciphertext; false when there is no unfilled claim with this id. */
  fillBucketKey(id: string, wrapped: string): Promise<boolean>;
  /** Removes an unfilled claim (a filled key stays). */
  releaseBucketKey(id: string): Promise<void>;
  getBucketKey(id: string): Promise<BucketKeyRecord | undefined>;

  /** The current object at the key: its latest version, unless that is a delete marker (then undefined). */
  getObject(bucket: string, key: string): Promise<ObjectRecord | undefined>;
  /**
   * Inserts or replaces an object. Throws S3Error PreconditionFailed (or NoSuchKey for
   * If-Match on a missing key) when `condition` does not hold (checked against the current
   * object); the replaced object's blobs go to the garbage queue — only when it is really
   * gone: with versioning Enabled nothing is replaced, with Suspended only the null version
   * (see VersioningOptions). Returns the record as stored (with the store's versionId).
   */
  putObject(object: ObjectRecord, condition?: WriteCondition, options?: VersioningOptions): Promise<ObjectRecord>;
  /**
   * DeleteObject without a version id. Unversioned: deletes the object, queues its blobs and
   * returns it (undefined if absent). Versioned: adds a delete marker owned by `markerOwnerId`
   * (Suspended: the null version goes first, its blobs queued) and returns the marker; throws
   * S3Error NoSuchBucket when the bucket is gone (no marker is left in no bucket).
   */
  deleteObject(bucket: string, key: string, options?: VersioningOptions & { markerOwnerId?: string }): Promise<ObjectRecord | undefined>;
  /**
   * One version (or delete marker) by S3 version id (`null` for the null version); undefined
   * when the key has no such version.
   */
  getObjectVersion(bucket: string, key: string, versionId: string): Promise<ObjectRecord | undefined>;
  /** The key's latest version, which may be a delete marker; undefined when it has none. */
  getLatestVersion(bucket: string, key: string): Promise<ObjectRecord | undefined>;
  /**
   * Deletes one version for good (DeleteObject with versionId) and queues its blobs; when it was
   * the latest, the next newer-than-all-others version becomes latest (an object reappears when
   * its delete marker is deleted). `check` runs on the version inside the transaction and may
   * throw (Object Lock) to leave everything as it was. Undefined when there is no such version.
   */
  deleteObjectVersion(bucket: string, key: string, versionId: string, options?: { check?: (version: ObjectRecord) => void }): Promise<ObjectRecord | undefined>;
  /**
   * Changes one version's record (tags, ACL, encryption wrapping, retention, legal hold) in
   * one transaction: `patch` gets the version (the current object when `versionId` is
   * undefined; may be a delete marker) and returns the new record, or undefined to change
   * nothing; it may throw an S3Error, which leaves the version as it was and is rethrown.
   * The patch must keep the identity fields (bucket, key, versionId, versionSeq, parts).
   */
  updateObjectVersion(bucket: string, key: string, versionId: string | undefined, patch: (version: ObjectRecord) => ObjectRecord | undefined): Promise<'updated' | 'unchanged' | 'missing'>;
  /** ListObjectVersions: versions and delete markers in S3's order, O(limit) rows read. */
  listObjectVersions(bucket: string, range: VersionListRange): Promise<ObjectVersionEntry[]>;
  /** Replaces an object's tags; false when the object is absent. */
  putObjectTags(bucket: string, key: string, tags: [string, string][]): Promise<boolean>;
  /**
   * Replaces how an object's data keys are wrapped (UpdateObjectEncryption), leaving its
   * data, ETag and checksums alone. Atomic compare-and-set: false when the object is gone
   * or its encryption is no longer `expected` (it was overwritten or updated meanwhile).
   */
  setObjectEncryption(bucket: string, key: string, expected: ObjectEncryption, next: ObjectEncryption): Promise<boolean>;
  /** The summaries of the objects in key order within the range (an index range scan). */
  listObjects(bucket: string, range: KeyRange): Promise<ObjectSummary[]>;
  /**
   * Replaces an object's ACL (PutObjectAcl), leaving its data and everything else alone;
   * `acl` undefined restores the implicit `private` ACL. Compare-and-set on the object read
   * before: 'changed' when the key now holds another object (its ETag or Last-Modified
   * differ: it was overwritten meanwhile), 'missing' when it holds none.
   */
  setObjectAcl(bucket: string, key: string, expected: { etag: string; lastModified: number }, acl: StoredAcl | undefined): Promise<'updated' | 'changed' | 'missing'>;

  createUpload(upload: UploadRecord): Promise<void>;
  getUpload(uploadId: string): Promise<UploadRecord | undefined>;
  /** Adds or replaces a part; the replaced part's blob is queued. Throws S3Error NoSuchUpload when the upload is gone. */
  putPart(part: PartRecord): Promise<void>;
  /** Parts with partNumber > `after`, ascending. */
  listParts(uploadId: string, after: number, limit: number): Promise<PartRecord[]>;
  listUploads(bucket: string, range: UploadListRange): Promise<UploadRecord[]>;
  /**
   * Atomically turns an upload into an object: the upload and all its part rows go,
   * parts not in `object.parts` are queued, a replaced object is queued.
   * Throws S3Error NoSuchUpload if the upload is gone (another Complete or Abort won).
   */
  completeUpload(uploadId: string, object: ObjectRecord, condition?: WriteCondition, options?: VersioningOptions): Promise<ObjectRecord>;
  /** Removes an upload and queues its parts' blobs; false if absent. */
  abortUpload(uploadId: string): Promise<boolean>;
  /** Uploads initiated before `before` (ms epoch). */
  staleUploads(before: number, limit: number): Promise<UploadRecord[]>;

  /**
   * Blobs waiting to be deleted, oldest first. Only entries whose queueing is durable:
   * a crash can no longer roll back the write that queued them and restore an object
   * that needs the blob. With `minAgeMs`, only entries queued (or last deferred) at
   * least that long ago, by the store's own clock: the collector's grace period for
   * readers that resolved the object before it was replaced (storage/blob-collector.ts).
   */
  takeGarbage(limit: number, options?: { minAgeMs?: number }): Promise<string[]>;
  /**
   * Restarts the grace period of those of `blobIds` that are queued, as if queued now
   * (by the store's clock); ids not queued are ignored. A read still streaming a
   * replaced object calls this periodically so no node collects its blobs under it.
   */
  deferGarbage(blobIds: readonly string[]): Promise<void>;
  /**
   * Calls `listener` after each write that queued garbage, once that write is
   * durable (the blob collector runs then, not only on its timer). One listener;
   * a second call replaces the first.
   */
  onGarbage(listener: () => void): void;
  /** Forgets garbage entries once their blobs are gone. */
  garbageCollected(blobIds: string[]): Promise<void>;
  /** Of the given blob ids, those some object version or part references (crash recovery). */
  referencedBlobIds(blobIds: string[]): Promise<Set<string>>;

  // ---- usage, for the operator's metrics (metrics/): maintained by the drivers in the same
  //      transaction as every object write and delete, never counted over the objects.

  /**
   * Every bucket with its object count and the sum of its objects' (plaintext) sizes, as of
   * the last committed write; buckets without objects show zeros. Cost: O(buckets).
   */
  bucketUsage(): Promise<BucketUsage[]>;
  /** How many blobs wait in the garbage queue (the blob collector's backlog). */
  garbageQueueLength(): Promise<number>;

  // ---- the built-in KMS (kms/builtin-kms.ts): key records, versions (material wrapped
  //      under the root key, never raw), aliases. Shared by every node using this store.

  /** Creates a key with its first version and, for a Coffer-managed key, its alias: false when that alias is taken. */
  createKmsKey(key: KmsKeyRecord, version: KmsKeyVersionRecord, alias?: KmsAliasRecord): Promise<boolean>;
  getKmsKey(keyId: string): Promise<KmsKeyRecord | undefined>;
  /** Keys in key id order, strictly after `afterKeyId`. */
  listKmsKeys(afterKeyId: string | undefined, limit: number): Promise<KmsKeyRecord[]>;
  /**
   * Replaces a key's record if its stored revision is still `key.revision` (the stored
   * one becomes revision + 1) and adds `newVersion` in the same transaction. False when
   * another writer changed the key first, or it is gone: re-read and retry.
   */
  updateKmsKey(key: KmsKeyRecord, newVersion?: KmsKeyVersionRecord): Promise<boolean>;
  getKmsKeyVersion(keyId: string, version: number): Promise<KmsKeyVersionRecord | undefined>;
  /** All versions of a key, oldest first. */
  listKmsKeyVersions(keyId: string): Promise<KmsKeyVersionRecord[]>;
  /**
   * Destroys a key for good (crypto-shredding): its record, every version's wrapped
   * material (overwritten, not just unlinked) and its aliases. False if absent.
   */
  destroyKmsKey(keyId: string): Promise<boolean>;
  /** Keys in PendingDeletion whose deletion date is at or before `now`. */
  kmsKeysDueForDeletion(now: number, limit: number): Promise<string[]>;
  /** Enabled keys with automatic rotation whose next rotation date is at or before `now`. */
  kmsKeysDueForRotation(now: number, limit: number): Promise<string[]>;

  /** 'no-key' when the target key does not exist. */
  createKmsAlias(alias: KmsAliasRecord): Promise<'created' | 'exists' | 'no-key'>;
  getKmsAlias(aliasName: string): Promise<KmsAliasRecord | undefined>;
  /** Points an existing alias at another (existing) key. */
  updateKmsAlias(aliasName: string, keyId: string, updatedAt: number): Promise<'updated' | 'missing' | 'no-key'>;
  deleteKmsAlias(aliasName: string): Promise<boolean>;
  /** Aliases in name order, strictly after `after`, optionally only those of one key. */
  listKmsAliases(options: { keyId?: string; after?: string; limit: number }): Promise<KmsAliasRecord[]>;

  /** Key versions whose material is wrapped by a root key other than `rootKeyId` (root key rotation). */
  kmsKeyVersionsNotWrappedBy(rootKeyId: string, limit: number): Promise<KmsKeyVersionRecord[]>;
  /** Re-wraps one version if it is still wrapped by `fromRootKeyId`; false otherwise. */
  rewrapKmsKeyVersion(keyId: string, version: number, fromRootKeyId: string, to: { rootKeyId: string; wrappedMaterial: Buffer }): Promise<boolean>;
  /** The distinct ids of the root keys wrapping any key material. */
  kmsRootKeyIds(): Promise<string[]>;
  /** Small named KMS settings (e.g. the root key new material is wrapped under). */
  getKmsSetting(name: string): Promise<string | undefined>;
  putKmsSetting(name: string, value: string): Promise<void>;

  // ---- identities (iam/): accounts, users, access keys, inline user policies.

  /** Creates an account; false when its id or canonical id exists. */
  createAccount(account: AccountRecord): Promise<boolean>;
  getAccount(accountId: string): Promise<AccountRecord | undefined>;
  getAccountByCanonicalId(canonicalId: string): Promise<AccountRecord | undefined>;
  listAccounts(): Promise<AccountRecord[]>;
  /** Creates a user; false when the account already has one by that name (case-insensitively). */
  createIamUser(user: IamUserRecord): Promise<boolean>;
  getIamUser(accountId: string, userName: string): Promise<IamUserRecord | undefined>;
  /** The account's users by name. */
  listIamUsers(accountId: string): Promise<IamUserRecord[]>;
  /**
   * Deletes a user. Without `cascade`, a user that still has access keys or policies is
   * left alone ('has-dependents', IAM's DeleteConflict); with it they go in the same transaction.
   */
  deleteIamUser(accountId: string, userName: string, options: { cascade: boolean }): Promise<'deleted' | 'missing' | 'has-dependents'>;
  /** Adds an access key; false when the user (if any) is gone or the id exists. */
  createAccessKey(key: AccessKeyRecord): Promise<boolean>;
  getAccessKey(accessKeyId: string): Promise<AccessKeyRecord | undefined>;
  /** Keys of a user (or, with userName undefined, of the account's root), oldest first. */
  listAccessKeys(accountId: string, userName: string | undefined): Promise<AccessKeyRecord[]>;
  updateAccessKeyStatus(accessKeyId: string, status: AccessKeyStatus): Promise<boolean>;
  deleteAccessKey(accessKeyId: string): Promise<boolean>;
  /** Access keys whose secret is wrapped under a root key other than `rootKeyId` (root key rotation). */
  accessKeysNotWrappedBy(rootKeyId: string, limit: number): Promise<AccessKeyRecord[]>;
  /** Replaces a key's wrapped secret if it is still wrapped under `fromRootKeyId` (compare-and-set). */
  rewrapAccessKey(accessKeyId: string, fromRootKeyId: string, next: { rootKeyId: string; wrappedSecret: Buffer }): Promise<boolean>;
  /** Adds or replaces an inline policy; false when the user does not exist. */
  putUserPolicy(policy: UserPolicyRecord): Promise<boolean>;
  getUserPolicy(accountId: string, userName: string, policyName: string): Promise<UserPolicyRecord | undefined>;
  /** A user's inline policies by name. */
  listUserPolicies(accountId: string, userName: string): Promise<UserPolicyRecord[]>;
  deleteUserPolicy(accountId: string, userName: string, policyName: string): Promise<boolean>;
}

/** An account (the IAM model): owns buckets; its root is its administrator. */
export interface AccountRecord {
  /** 12-digit AWS account id. */
  accountId: string;
  /** 64-hex canonical user id (S3 Owner/ID). */
  canonicalId: string;
  /** S3 Owner/DisplayName. */
  name: string;
  createdAt: number;
}

/** An IAM user of an account. Names are unique per account, case-insensitively. */
export interface IamUserRecord {
  accountId: string;
  userName: string;
  /** `AIDA…`, stable for the user's life. */
  userId: string;
  path: string;
  createdAt: number;
}

export type AccessKeyStatus = 'Active' | 'Inactive';

/** An access key; its secret is stored only wrapped under a key derived from the root key. */
export interface AccessKeyRecord {
  accessKeyId: string;
  accountId: string;
  /** The IAM user; undefined for a key of the account's root. */
  userName?: string;
  status: AccessKeyStatus;
  createdAt: number;
  /** Id of the root key the secret's wrapping key was derived from. */
  rootKeyId: string;
  /** The wrapped secret (iam/secret-box.ts). */
  wrappedSecret: Buffer;
}

/** An inline identity policy of a user (PutUserPolicy). */
export interface UserPolicyRecord {
  accountId: string;
  userName: string;
  policyName: string;
  /** The JSON document as given. */
  document: string;
}

export type KmsKeyState = 'Enabled' | 'Disabled' | 'PendingDeletion';
/** INITIAL is the material a key is created with; the others are KMS's RotationType. */
export type KmsRotationType = 'INITIAL' | 'AUTOMATIC' | 'ON_DEMAND';

export interface KmsKeyRecord {
  /** A UUID. */
  keyId: string;
  /** Optimistic concurrency: bumped by every update. */
  revision: number;
  createdAt: number;
  description: string;
  /** AWS for Coffer-managed keys (alias/aws/s3), CUSTOMER otherwise. */
  keyManager: 'AWS' | 'CUSTOMER';
  keyState: KmsKeyState;
  /** PendingDeletion only (ms epoch). */
  deletionDate?: number;
  pendingWindowInDays?: number;
  rotationEnabled: boolean;
  rotationPeriodDays?: number;
  /** When automatic rotation is next due (ms epoch); set while rotation is enabled. */
  nextRotationDate?: number;
  /** The version new ciphertexts use: the newest. */
  currentVersion: number;
  onDemandRotations: number;
  tags: [string, string][];
}

export interface KmsKeyVersionRecord {
  keyId: string;
  /** 1 for the initial material; each rotation adds one. */
  version: number;
  createdAt: number;
  rotationType: KmsRotationType;
  /** Id of the root key (root-key.ts rootKeyId) that wraps this material. */
  rootKeyId: string;
  /** The material wrapped under that root key (kms-crypto.ts wrapMaterial). */
  wrappedMaterial: Buffer;
}

export interface KmsAliasRecord {
  /** `alias/…` */
  aliasName: string;
  keyId: string;
  createdAt: number;
  updatedAt: number;
}
