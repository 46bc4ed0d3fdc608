/**
 * What every MetadataStore driver decides the same way, whatever the engine:
 * S3's conditional-write rules, which blobs a replacement frees, the byte
 * bounds of a prefix scan, when the built-in KMS's sweeps have work for a key.
 * The drivers (sqlite/, postgres/) keep only their SQL; this is written once.
 */
import { randomBytes } from 'node:crypto';
import { S3Error } from '../errors/s3-errors.js';
import type { KmsKeyRecord, ObjectRecord, ObjectVersionEntry, WriteCondition } from './metadata-store.js';

/** Throws S3's error when `condition` does not hold for the object now at the key (If-None-Match, If-Match). */
export function checkWriteCondition(existing: ObjectRecord | undefined, condition: WriteCondition | undefined): void {
  if (!condition) return;
  if (condition.ifNoneMatch && existing) throw new S3Error('PreconditionFailed');
  if (condition.ifMatch !== undefined) {
    if (!existing) throw new S3Error('NoSuchKey');
    if (existing.etag !== condition.ifMatch) throw new S3Error('PreconditionFailed');
  }
}

/**
 * Whether the blobs an object frees may be collected at once rather than after the
 * collector's grace period (storage/blob-collector.ts): true for an object read through one
 * blob. A read opens that blob right after it resolves the object, and a blob being read
 * stays readable to its end when it is deleted (BlobStore.read); a read that finds it gone
 * resolves the key again (s3/object.ts retryingLostBlob). An object of several blobs opens
 * them one after another as it streams, so its blobs keep the grace period (and the holds of
 * long reads, storage/read-holds.ts). Collecting at once gives the replaced data's page cache
 * back while the next writes can use it (bench/RESULTS.md).
 */
export function collectableAtOnce(freed: Pick<ObjectRecord, 'parts'>): boolean {
  return freed.parts.length <= 1;
}

/** queued_at of a garbage entry collectable at once: older than any grace period. */
export const QUEUED_AT_ONCE = 0;

/** The blobs of `existing` that `next` no longer references: what replacing it queues for collection. */
export function blobsFreedByReplace(existing: ObjectRecord, next: ObjectRecord): string[] {
  const kept = new Set(next.parts.map((p) => p.blobId));
  return existing.parts.map((p) => p.blobId).filter((id) => !kept.has(id));
}

/** The smallest byte string greater than every string starting with `prefix`, or undefined if none. */
export function prefixSuccessor(prefix: Buffer): Buffer | undefined {
  const out = Buffer.from(prefix);
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i]! < 0xff) {
      out[i]! += 1;
      return out.subarray(0, i + 1);
    }
  }
  return undefined;
}

/**
 * The UTF-8 byte bounds of a scan over keys starting with `prefix` and after (or at) `start`:
 * keys >= (or >) `lower.bound` and, when there is an upper bound, < `upper`.
 */
export function keyScanBounds(
  prefix: string,
  start: { key: string; inclusive: boolean } | undefined,
): { lower: { bound: Buffer; inclusive: boolean }; upper: Buffer | undefined } {
  const p = Buffer.from(prefix, 'utf8');
  const upper = prefix === '' ? undefined : prefixSuccessor(p);
  let lower: { bound: Buffer; inclusive: boolean } = { bound: p, inclusive: true };
  if (start) {
    const s = Buffer.from(start.key, 'utf8');
    if (Buffer.compare(s, p) >= 0) lower = { bound: s, inclusive: start.inclusive };
  }
  return { lower, upper };
}

/**
 * The dates the KMS sweeps index a key by (null: the sweep has nothing to do for it).
 * Only a key in PendingDeletion is due for deletion; only an Enabled key with automatic
 * rotation is due for rotation — disabled keys do not rotate, and re-enabling one that is
 * overdue rotates it at the next sweep (as AWS does).
 */
export function kmsKeySchedule(key: KmsKeyRecord): { deletionDate: number | null; nextRotationDate: number | null } {
  return {
    deletionDate: key.keyState === 'PendingDeletion' && key.deletionDate !== undefined ? key.deletionDate : null,
    nextRotationDate: key.keyState === 'Enabled' && key.rotationEnabled && key.nextRotationDate !== undefined ? key.nextRotationDate : null,
  };
}

/** A key record's document: everything but the columns drivers keep apart (id, revision). */
export function kmsKeyDoc(key: KmsKeyRecord): string {
  const { keyId: _id, revision: _rev, ...doc } = key;
  return JSON.stringify(doc);
}

// ---- versions (S3 versioning). A key's current object lives in `objects`; every other
//      version and every delete marker in `object_versions`, ordered by `seq` (newest first).
//      Invariant: when a key has no current object, its newest version (if any) is a delete marker.

/** S3's version id of the null version. */
export const NULL_VERSION_ID = 'null';

/** The S3 version id of a record: its own, or `null`. */
export function versionIdOf(record: ObjectRecord): string {
  return record.versionId ?? NULL_VERSION_ID;
}

/** A record's place among its key's versions (objects written before versioning: 0, the oldest). */
export function versionSeqOf(record: ObjectRecord): number {
  return record.versionSeq ?? 0;
}

/**
 * The seq of a new version of a key whose newest version has `newest`: time-based (microsecond
 * scale, below 2^53 for millennia) so ids sort by age across nodes, and always above `newest`
 * so a key's order never depends on clocks agreeing.
 */
export function nextVersionSeq(newest: number | undefined, now = Date.now()): number {
  return Math.max(now * 1000, (newest ?? 0) + 1);
}

/**
 * Version ids Coffer makes: 32 lower-case hex characters, the first 16 the version's seq (so a
 * version-id-marker resumes a listing without a lookup), the rest random (not guessable).
 */
export function newVersionId(seq: number): string {
  return seq.toString(16).padStart(16, '0') + randomBytes(8).toString('hex');
}

const VERSION_ID = /^[0-9a-f]{32}$/;

/** Whether `v` is a version id at all (`null` or one Coffer could have made): else S3's 400 InvalidArgument. */
export function isVersionIdSyntax(v: string): boolean {
  return v === NULL_VERSION_ID || VERSION_ID.test(v);
}

/** The seq a non-null version id carries; undefined for `null` or an id of another shape. */
export function seqOfVersionId(v: string): number | undefined {
  // Clamped: a crafted id may carry more than a BIGINT (or an exact double) holds; real seqs are far below.
  return VERSION_ID.test(v) ? Math.min(parseInt(v.slice(0, 16), 16), Number.MAX_SAFE_INTEGER) : undefined;
}

/** A delete marker as S3 makes one: no data, owned by the deleter, Last-Modified now. */
export function deleteMarkerRecord(bucket: string, key: string, ownerId: string, version: { versionId?: string; versionSeq: number }, now = Date.now()): ObjectRecord {
  return {
    bucket,
    key,
    size: 0,
    etag: '',
    lastModified: now,
    headers: {},
    userMetadata: {},
    tags: [],
    parts: [],
    multipart: false,
    storageClass: 'STANDARD',
    ownerId,
    deleteMarker: true,
    ...(version.versionId !== undefined ? { versionId: version.versionId } : {}),
    versionSeq: version.versionSeq,
  };
}

/** A record stamped as a new version: Enabled gets a fresh id, Suspended the null version. */
export function stampVersion(object: ObjectRecord, seq: number, enabled: boolean): ObjectRecord {
  const { versionId: _v, versionSeq: _s, deleteMarker: _d, ...rest } = object;
  return enabled ? { ...rest, versionId: newVersionId(seq), versionSeq: seq } : { ...rest, versionSeq: seq };
}

/**
 * One ListObjectVersions page from its two sources, each already in order and holding at least
 * the first `limit` entries of its table in the range: `current` (the objects table: each
 * key's current version, newer than all its others) and `older` (the versions table, keys
 * ascending, newest first within a key). `continuing` is the key whose newer versions an
 * earlier page already returned: none of its other versions here is the latest. `current` may hold
 * that key's current object when it is older than the marker (the marker version was deleted
 * since, and this one became current).
 */
export function mergeVersionPage(current: readonly ObjectRecord[], older: readonly ObjectRecord[], limit: number, continuing: string | undefined): ObjectVersionEntry[] {
  const out: ObjectVersionEntry[] = [];
  let i = 0;
  let j = 0;
  let lastKey: string | undefined = continuing;
  while (out.length < limit && (i < current.length || j < older.length)) {
    let takeCurrent: boolean;
    if (i >= current.length) takeCurrent = false;
    else if (j >= older.length) takeCurrent = true;
    else takeCurrent = Buffer.compare(Buffer.from(current[i]!.key, 'utf8'), Buffer.from(older[j]!.key, 'utf8')) <= 0;
    const record = takeCurrent ? current[i++]! : older[j++]!;
    // A current object is its key's latest; another version only when it is the first of its key here.
    out.push({ record, isLatest: takeCurrent || record.key !== lastKey });
    lastKey = record.key;
  }
  return out;
}
