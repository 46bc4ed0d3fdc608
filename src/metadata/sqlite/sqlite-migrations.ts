/**
 * Numbered schema migrations for the SQLite driver. Append only: a released
 * migration is never edited, so every database can be brought forward.
 */
export const SQLITE_MIGRATIONS: readonly string[] = [
  // 1: buckets, objects, multipart uploads and parts, the blob garbage queue.
  `
  CREATE TABLE buckets (
    name TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    owner_id TEXT NOT NULL,
    region TEXT NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE objects (
    bucket TEXT NOT NULL,
    key BLOB NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (bucket, key)
  ) WITHOUT ROWID;
  CREATE TABLE uploads (
    upload_id TEXT PRIMARY KEY,
    bucket TEXT NOT NULL,
    key BLOB NOT NULL,
    initiated INTEGER NOT NULL,
    doc TEXT NOT NULL
  );
  CREATE INDEX uploads_by_key ON uploads (bucket, key, upload_id);
  CREATE INDEX uploads_by_age ON uploads (initiated);
  CREATE TABLE parts (
    upload_id TEXT NOT NULL,
    part_number INTEGER NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (upload_id, part_number)
  ) WITHOUT ROWID;
  CREATE TABLE garbage (
    blob_id TEXT PRIMARY KEY,
    queued_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  // 2: bucket sub-resource configurations (encryption now; policy, cors… later) and
  //    SSE-KMS bucket keys (intermediate keys, stored only as KMS ciphertext).
  `
  CREATE TABLE bucket_configs (
    bucket TEXT NOT NULL,
    name TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (bucket, name)
  ) WITHOUT ROWID;
  CREATE TABLE bucket_keys (
    id TEXT PRIMARY KEY,
    bucket TEXT NOT NULL,
    kms_key_arn TEXT NOT NULL,
    wrapped TEXT NOT NULL,
    created_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX bucket_keys_latest ON bucket_keys (bucket, kms_key_arn, created_at);
  `,
];
