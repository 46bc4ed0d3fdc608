/**
 * The rows both SQL drivers store (sqlite/, postgres/: the same tables and columns) and
 * how each becomes its record. An object, upload or part keeps its key columns apart and
 * everything else as a JSON document (`doc`), so a new field needs no migration.
 */
import type {
  AccessKeyRecord,
  AccountRecord,
  IamUserRecord,
  KmsAliasRecord,
  KmsKeyRecord,
  KmsKeyVersionRecord,
  ObjectRecord,
  ObjectSummary,
  PartRecord,
  UploadRecord,
  UserPolicyRecord,
} from './metadata-store.js';

export type ObjectDoc = Omit<ObjectRecord, 'bucket' | 'key'>;
export type UploadDoc = Omit<UploadRecord, 'uploadId' | 'bucket' | 'key' | 'initiated'>;
export type PartDoc = Omit<PartRecord, 'uploadId' | 'partNumber'>;

/** Keys are stored as their UTF-8 bytes, so the engines order them as S3 does. */
export interface ObjectRow { bucket: string; key: Buffer; doc: string }
/** A non-current version or delete marker (the `object_versions` table). */
export interface VersionRow { bucket: string; key: Buffer; seq: number; version_id: string; doc: string }
export interface UploadRow { upload_id: string; bucket: string; key: Buffer; initiated: number; doc: string }
export interface PartRow { upload_id: string; part_number: number; doc: string }
export interface KmsKeyRow { key_id: string; revision: number; doc: string }
export interface KmsVersionRow { key_id: string; version: number; created_at: number; rotation_type: string; root_key_id: string; wrapped: Buffer }
export interface KmsAliasRow { alias_name: string; key_id: string; created_at: number; updated_at: number }
export interface AccountRow { account_id: string; canonical_id: string; name: string; created_at: number }
export interface UserRow { account_id: string; user_name: string; user_id: string; path: string; created_at: number }
export interface AccessKeyRow { access_key_id: string; account_id: string; user_name: string | null; status: string; created_at: number; root_key_id: string; wrapped_secret: Buffer }
export interface PolicyRow { account_id: string; user_name: string; policy_name: string; document: string }

export function objectFromRow(row: ObjectRow): ObjectRecord {
  return { bucket: row.bucket, key: row.key.toString('utf8'), ...(JSON.parse(row.doc) as ObjectDoc) };
}

/**
 * The `objects` columns that repeat, beside the document, what a listing shows
 * (ObjectSummary), in the order objectSummaryValues gives them. Every write of an
 * object row writes them with its document.
 */
export const OBJECT_SUMMARY_COLUMNS = ['size', 'etag', 'last_modified', 'checksum_algorithm', 'checksum_type', 'storage_class', 'owner_id'] as const;

export function objectSummaryValues(o: Omit<ObjectRecord, 'bucket' | 'key'>): (string | number | null)[] {
  return [o.size, o.etag, o.lastModified, o.checksum?.algorithm ?? null, o.checksum?.type ?? null, o.storageClass, o.ownerId];
}

/** A listing row: the key and the summary columns, as the engines return them. */
export interface ObjectSummaryRow {
  key: Buffer;
  size: number | string;
  etag: string;
  last_modified: number | string;
  checksum_algorithm: string | null;
  checksum_type: string | null;
  storage_class: string;
  owner_id: string;
}

/** The same as an array: the key as text, then the summary columns in their order. */
export type ObjectSummaryTuple = [key: string, size: number | string, etag: string, lastModified: number | string, checksumAlgorithm: string | null, checksumType: string | null, storageClass: string, ownerId: string];

export function objectSummaryFromTuple([key, size, etag, lastModified, checksumAlgorithm, checksumType, storageClass, ownerId]: ObjectSummaryTuple): ObjectSummary {
  // PostgreSQL's BIGINT arrives as a string.
  const s: ObjectSummary = { key, size: Number(size), etag, lastModified: Number(lastModified), storageClass, ownerId };
  if (checksumAlgorithm !== null) s.checksumAlgorithm = checksumAlgorithm as NonNullable<ObjectSummary['checksumAlgorithm']>;
  if (checksumType !== null) s.checksumType = checksumType as NonNullable<ObjectSummary['checksumType']>;
  return s;
}

export function objectSummaryFromRow(r: ObjectSummaryRow): ObjectSummary {
  return objectSummaryFromTuple([r.key.toString('utf8'), r.size, r.etag, r.last_modified, r.checksum_algorithm, r.checksum_type, r.storage_class, r.owner_id]);
}

/** The document and columns a version is stored with in `object_versions`. */
export function versionColumns(record: ObjectRecord): { seq: number; versionId: string; doc: string } {
  const { bucket: _b, key: _k, ...doc } = record;
  return { seq: record.versionSeq ?? 0, versionId: record.versionId ?? 'null', doc: JSON.stringify(doc) };
}

export function uploadFromRow(row: UploadRow): UploadRecord {
  return { uploadId: row.upload_id, bucket: row.bucket, key: row.key.toString('utf8'), initiated: row.initiated, ...(JSON.parse(row.doc) as UploadDoc) };
}

export function partFromRow(row: PartRow): PartRecord {
  return { uploadId: row.upload_id, partNumber: row.part_number, ...(JSON.parse(row.doc) as PartDoc) };
}

export function kmsKeyFromRow(row: KmsKeyRow): KmsKeyRecord {
  return { keyId: row.key_id, revision: row.revision, ...(JSON.parse(row.doc) as Omit<KmsKeyRecord, 'keyId' | 'revision'>) };
}

export function kmsVersionFromRow(row: KmsVersionRow): KmsKeyVersionRecord {
  return {
    keyId: row.key_id,
    version: row.version,
    createdAt: row.created_at,
    rotationType: row.rotation_type as KmsKeyVersionRecord['rotationType'],
    rootKeyId: row.root_key_id,
    wrappedMaterial: row.wrapped,
  };
}

export function kmsAliasFromRow(row: KmsAliasRow): KmsAliasRecord {
  return { aliasName: row.alias_name, keyId: row.key_id, createdAt: row.created_at, updatedAt: row.updated_at };
}

export function accountFromRow(r: AccountRow): AccountRecord {
  return { accountId: r.account_id, canonicalId: r.canonical_id, name: r.name, createdAt: r.created_at };
}

export function userFromRow(r: UserRow): IamUserRecord {
  return { accountId: r.account_id, userName: r.user_name, userId: r.user_id, path: r.path, createdAt: r.created_at };
}

export function accessKeyFromRow(r: AccessKeyRow): AccessKeyRecord {
  return {
    accessKeyId: r.access_key_id,
    accountId: r.account_id,
    ...(r.user_name !== null ? { userName: r.user_name } : {}),
    status: r.status === 'Inactive' ? 'Inactive' : 'Active',
    createdAt: r.created_at,
    rootKeyId: r.root_key_id,
    wrappedSecret: r.wrapped_secret,
  };
}

export function policyFromRow(r: PolicyRow): UserPolicyRecord {
  return { accountId: r.account_id, userName: r.user_name, policyName: r.policy_name, document: r.document };
}
