/**
 * What every MetadataStore driver decides the same way, whatever the engine:
 * S3's conditional-write rules, which blobs a replacement frees, the byte
 * bounds of a prefix scan, when the built-in KMS's sweeps have work for a key.
 * The drivers (sqlite/, postgres/) keep only their SQL; this is written once.
 */
import { S3Error } from '../errors/s3-errors.js';
import type { KmsKeyRecord, ObjectRecord, WriteCondition } from './metadata-store.js';

/** Throws S3's error when `condition` does not hold for the object now at the key (If-None-Match, If-Match). */
export function checkWriteCondition(existing: ObjectRecord | undefined, condition: WriteCondition | undefined): void {
  if (!condition) return;
  if (condition.ifNoneMatch && existing) throw new S3Error('PreconditionFailed');
  if (condition.ifMatch !== undefined) {
    if (!existing) throw new S3Error('NoSuchKey');
    if (existing.etag !== condition.ifMatch) throw new S3Error('PreconditionFailed');
  }
}

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
