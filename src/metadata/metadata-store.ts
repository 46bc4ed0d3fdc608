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
}

export interface ObjectRecord {
  bucket: string;
  key: string;
  size: number;
  /** The ETag without quotes: hex MD5, or `<hex>-<N>` for multipart. */
  etag: string;
  lastModified: number;
  /** Stored representation headers, lower-case names: content-type, cache-control, content-disposition, content-encoding, content-language, expires. */
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
  ownerId: string;
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
  /** The KMS ciphertext blob, base64. */
  wrapped: string;
  createdAt: number;
}

export interface MetadataStore {
  /** Brings the schema up to date. Idempotent. */
  migrate(): Promise<void>;
  close(): Promise<void>;

  /** Creates a bucket; false when the name is taken. */
  createBucket(bucket: BucketRecord): Promise<boolean>;
  getBucket(name: string): Promise<BucketRecord | undefined>;
  /** All buckets by name. */
  listBuckets(): Promise<BucketRecord[]>;
  /** Deletes an empty bucket (no objects, no uploads). */
  deleteBucket(name: string): Promise<'deleted' | 'not-empty' | 'missing'>;

  /** A bucket sub-resource document (e.g. `encryption`), or undefined when never set. */
  getBucketConfig(bucket: string, name: string): Promise<string | undefined>;
  /** Sets a bucket sub-resource document; false when the bucket does not exist. */
  putBucketConfig(bucket: string, name: string, doc: string): Promise<boolean>;
  /** Removes a bucket sub-resource document (absent is fine). Deleting a bucket removes all of them. */
  deleteBucketConfig(bucket: string, name: string): Promise<void>;

  putBucketKey(key: BucketKeyRecord): Promise<void>;
  getBucketKey(id: string): Promise<BucketKeyRecord | undefined>;
  /** The newest bucket key of a bucket for a KMS key, if any. */
  latestBucketKey(bucket: string, kmsKeyArn: string): Promise<BucketKeyRecord | undefined>;

  getObject(bucket: string, key: string): Promise<ObjectRecord | undefined>;
  /**
   * Inserts or replaces an object. Throws S3Error PreconditionFailed (or NoSuchKey for
   * If-Match on a missing key) when `condition` does not hold; the replaced object's
   * blobs go to the garbage queue.
   */
  putObject(object: ObjectRecord, condition?: WriteCondition): Promise<void>;
  /** Deletes an object and queues its blobs; returns it, or undefined if absent. */
  deleteObject(bucket: string, key: string): Promise<ObjectRecord | undefined>;
  /** Replaces an object's tags; false when the object is absent. */
  putObjectTags(bucket: string, key: string, tags: [string, string][]): Promise<boolean>;
  /** Objects in key order within the range (an index range scan). */
  listObjects(bucket: string, range: KeyRange): Promise<ObjectRecord[]>;

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
  completeUpload(uploadId: string, object: ObjectRecord, condition?: WriteCondition): Promise<void>;
  /** Removes an upload and queues its parts' blobs; false if absent. */
  abortUpload(uploadId: string): Promise<boolean>;
  /** Uploads initiated before `before` (ms epoch). */
  staleUploads(before: number, limit: number): Promise<UploadRecord[]>;

  /** Blobs waiting to be deleted. */
  takeGarbage(limit: number): Promise<string[]>;
  /** Forgets garbage entries once their blobs are gone. */
  garbageCollected(blobIds: string[]): Promise<void>;
  /** Of the given blob ids, those some object or part references (crash recovery). */
  referencedBlobIds(blobIds: string[]): Promise<Set<string>>;
}
