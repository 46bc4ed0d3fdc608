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
  // 3: the built-in KMS — keys, their versions (material wrapped under the root key, with
  //    the id of that root key so root key rotation can resume), aliases, settings.
  //    deletion_date / next_rotation_date are set only while the sweep has work for the key.
  `
  CREATE TABLE kms_keys (
    key_id TEXT PRIMARY KEY,
    revision INTEGER NOT NULL,
    deletion_date INTEGER,
    next_rotation_date INTEGER,
    doc TEXT NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX kms_keys_deletion ON kms_keys (deletion_date) WHERE deletion_date IS NOT NULL;
  CREATE INDEX kms_keys_rotation ON kms_keys (next_rotation_date) WHERE next_rotation_date IS NOT NULL;
  CREATE TABLE kms_key_versions (
    key_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    rotation_type TEXT NOT NULL,
    root_key_id TEXT NOT NULL,
    wrapped BLOB NOT NULL,
    PRIMARY KEY (key_id, version)
  ) WITHOUT ROWID;
  CREATE INDEX kms_key_versions_by_root_key ON kms_key_versions (root_key_id);
  CREATE TABLE kms_aliases (
    alias_name TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX kms_aliases_by_key ON kms_aliases (key_id, alias_name);
  CREATE TABLE kms_settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) WITHOUT ROWID;
  `,
  // 4: identities — accounts, IAM users (names unique per account, case-insensitively),
  //    access keys (secrets only wrapped, with the id of the root key that wrapped them),
  //    inline user policies.
  `
  CREATE TABLE iam_accounts (
    account_id TEXT PRIMARY KEY,
    canonical_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE iam_users (
    account_id TEXT NOT NULL,
    user_name TEXT NOT NULL COLLATE NOCASE,
    user_id TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, user_name)
  ) WITHOUT ROWID;
  CREATE TABLE iam_access_keys (
    access_key_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    user_name TEXT COLLATE NOCASE,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    root_key_id TEXT NOT NULL,
    wrapped_secret BLOB NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX iam_access_keys_by_user ON iam_access_keys (account_id, user_name, created_at);
  CREATE TABLE iam_user_policies (
    account_id TEXT NOT NULL,
    user_name TEXT NOT NULL COLLATE NOCASE,
    policy_name TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (account_id, user_name, policy_name)
  ) WITHOUT ROWID;
  `,
  // 5: S3 Object Ownership. Buckets made before it existed never accepted an ACL: they keep
  //    that as an explicit BucketOwnerEnforced setting (a bucket with no setting has ACLs
  //    enabled, as in S3 after DeleteBucketOwnershipControls). They get no public access
  //    block: S3 too left buckets made before April 2023 as they were.
  `
  INSERT INTO bucket_configs (bucket, name, doc)
    SELECT name, 'ownershipControls', '{"objectOwnership":"BucketOwnerEnforced"}' FROM buckets WHERE true
    ON CONFLICT (bucket, name) DO NOTHING;
  `,
  // 6: the blob collector takes only garbage older than its grace period, oldest first:
  //    an index range scan instead of a scan of every queued entry.
  `
  CREATE INDEX garbage_by_queued_at ON garbage (queued_at);
  `,
  // 7: per-bucket usage (objects, bytes) for the metrics, kept by triggers in the transaction
  //    of every object write and delete, so that no scrape has to count the objects. Buckets
  //    that hold objects already are counted once, here.
  `
  CREATE TABLE bucket_usage (
    bucket TEXT PRIMARY KEY,
    objects INTEGER NOT NULL,
    bytes INTEGER NOT NULL
  ) WITHOUT ROWID;
  INSERT INTO bucket_usage (bucket, objects, bytes)
    SELECT bucket, count(*), coalesce(sum(json_extract(doc, '$.size')), 0) FROM objects GROUP BY bucket;
  CREATE TRIGGER bucket_usage_on_insert AFTER INSERT ON objects BEGIN
    INSERT INTO bucket_usage (bucket, objects, bytes) VALUES (NEW.bucket, 1, json_extract(NEW.doc, '$.size'))
      ON CONFLICT (bucket) DO UPDATE SET objects = objects + 1, bytes = bytes + excluded.bytes;
  END;
  CREATE TRIGGER bucket_usage_on_update AFTER UPDATE OF doc ON objects
    WHEN json_extract(OLD.doc, '$.size') IS NOT json_extract(NEW.doc, '$.size') BEGIN
    UPDATE bucket_usage SET bytes = bytes - json_extract(OLD.doc, '$.size') + json_extract(NEW.doc, '$.size') WHERE bucket = NEW.bucket;
  END;
  CREATE TRIGGER bucket_usage_on_delete AFTER DELETE ON objects BEGIN
    UPDATE bucket_usage SET objects = objects - 1, bytes = bytes - json_extract(OLD.doc, '$.size') WHERE bucket = OLD.bucket;
  END;
  CREATE TRIGGER bucket_usage_on_bucket_delete AFTER DELETE ON buckets BEGIN
    DELETE FROM bucket_usage WHERE bucket = OLD.name;
  END;
  `,
  // 8: S3 versioning. A key's current object stays in `objects` (listings and GETs unchanged);
  //    its other versions and its delete markers live here, newest first within a key (seq DESC),
  //    so ListObjectVersions is one index range scan per table.
  `
  CREATE TABLE object_versions (
    bucket TEXT NOT NULL,
    key BLOB NOT NULL,
    seq INTEGER NOT NULL,
    version_id TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (bucket, key, seq DESC)
  ) WITHOUT ROWID;
  CREATE UNIQUE INDEX object_versions_by_id ON object_versions (bucket, key, version_id);
  `,
  // 9: what a listing shows of an object (metadata-rows.ts OBJECT_SUMMARY_COLUMNS), in columns
  //    beside its document, so that a page of ListObjectsV2 reads no document (issue 18).
  `
  ALTER TABLE objects ADD COLUMN size INTEGER;
  ALTER TABLE objects ADD COLUMN etag TEXT;
  ALTER TABLE objects ADD COLUMN last_modified INTEGER;
  ALTER TABLE objects ADD COLUMN checksum_algorithm TEXT;
  ALTER TABLE objects ADD COLUMN checksum_type TEXT;
  ALTER TABLE objects ADD COLUMN storage_class TEXT;
  ALTER TABLE objects ADD COLUMN owner_id TEXT;
  UPDATE objects SET
    size = json_extract(doc, '$.size'),
    etag = json_extract(doc, '$.etag'),
    last_modified = json_extract(doc, '$.lastModified'),
    checksum_algorithm = json_extract(doc, '$.checksum.algorithm'),
    checksum_type = json_extract(doc, '$.checksum.type'),
    storage_class = json_extract(doc, '$.storageClass'),
    owner_id = json_extract(doc, '$.ownerId');
  `,
];
