/**
 * Numbered schema migrations for the PostgreSQL driver, the twin of
 * sqlite/sqlite-migrations.ts. Append only: a released migration is never
 * edited. Version 1 is the SQLite schema as it stands after its migration 6
 * (the SQLite history is not replayed: no PostgreSQL database predates it).
 * Keys are BYTEA, whose ordering is memcmp: S3's UTF-8 byte order, and prefix
 * scans are index range scans. Times are BIGINT milliseconds since the epoch.
 * User names are unique per account case-insensitively through lower() indexes
 * (SQLite's COLLATE NOCASE). Names and ids are COLLATE "C": byte order, as in
 * SQLite, whatever locale the database was created with.
 */
export const POSTGRES_MIGRATIONS: readonly string[] = [
  // 1: everything SQLite holds after its migration 6.
  `
  CREATE TABLE buckets (
    name TEXT COLLATE "C" PRIMARY KEY,
    created_at BIGINT NOT NULL,
    owner_id TEXT NOT NULL,
    region TEXT NOT NULL
  );
  CREATE TABLE objects (
    bucket TEXT COLLATE "C" NOT NULL,
    key BYTEA NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (bucket, key)
  );
  CREATE TABLE uploads (
    upload_id TEXT COLLATE "C" PRIMARY KEY,
    bucket TEXT COLLATE "C" NOT NULL,
    key BYTEA NOT NULL,
    initiated BIGINT NOT NULL,
    doc TEXT NOT NULL
  );
  CREATE INDEX uploads_by_key ON uploads (bucket, key, upload_id);
  CREATE INDEX uploads_by_age ON uploads (initiated);
  CREATE TABLE parts (
    upload_id TEXT NOT NULL,
    part_number INTEGER NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (upload_id, part_number)
  );
  CREATE TABLE garbage (
    blob_id TEXT COLLATE "C" PRIMARY KEY,
    queued_at BIGINT NOT NULL
  );
  CREATE INDEX garbage_by_queued_at ON garbage (queued_at);
  CREATE TABLE bucket_configs (
    bucket TEXT COLLATE "C" NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (bucket, name)
  );
  CREATE TABLE bucket_keys (
    id TEXT COLLATE "C" PRIMARY KEY,
    bucket TEXT COLLATE "C" NOT NULL,
    kms_key_arn TEXT NOT NULL,
    wrapped TEXT NOT NULL,
    created_at BIGINT NOT NULL
  );
  CREATE INDEX bucket_keys_latest ON bucket_keys (bucket, kms_key_arn, created_at);
  CREATE TABLE kms_keys (
    key_id TEXT COLLATE "C" PRIMARY KEY,
    revision INTEGER NOT NULL,
    deletion_date BIGINT,
    next_rotation_date BIGINT,
    doc TEXT NOT NULL
  );
  CREATE INDEX kms_keys_deletion ON kms_keys (deletion_date) WHERE deletion_date IS NOT NULL;
  CREATE INDEX kms_keys_rotation ON kms_keys (next_rotation_date) WHERE next_rotation_date IS NOT NULL;
  CREATE TABLE kms_key_versions (
    key_id TEXT COLLATE "C" NOT NULL,
    version INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    rotation_type TEXT NOT NULL,
    root_key_id TEXT COLLATE "C" NOT NULL,
    wrapped BYTEA NOT NULL,
    PRIMARY KEY (key_id, version)
  );
  CREATE INDEX kms_key_versions_by_root_key ON kms_key_versions (root_key_id);
  CREATE TABLE kms_aliases (
    alias_name TEXT COLLATE "C" PRIMARY KEY,
    key_id TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
  );
  CREATE INDEX kms_aliases_by_key ON kms_aliases (key_id, alias_name);
  CREATE TABLE kms_settings (
    name TEXT COLLATE "C" PRIMARY KEY,
    value TEXT NOT NULL
  );
  CREATE TABLE iam_accounts (
    account_id TEXT COLLATE "C" PRIMARY KEY,
    canonical_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
  );
  CREATE TABLE iam_users (
    account_id TEXT COLLATE "C" NOT NULL,
    user_name TEXT COLLATE "C" NOT NULL,
    user_id TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL,
    created_at BIGINT NOT NULL
  );
  CREATE UNIQUE INDEX iam_users_by_name ON iam_users (account_id, lower(user_name));
  CREATE TABLE iam_access_keys (
    access_key_id TEXT COLLATE "C" PRIMARY KEY,
    account_id TEXT COLLATE "C" NOT NULL,
    user_name TEXT COLLATE "C",
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    root_key_id TEXT COLLATE "C" NOT NULL,
    wrapped_secret BYTEA NOT NULL
  );
  CREATE INDEX iam_access_keys_by_user ON iam_access_keys (account_id, lower(user_name), created_at);
  CREATE TABLE iam_user_policies (
    account_id TEXT COLLATE "C" NOT NULL,
    user_name TEXT COLLATE "C" NOT NULL,
    policy_name TEXT COLLATE "C" NOT NULL,
    document TEXT NOT NULL
  );
  CREATE UNIQUE INDEX iam_user_policies_by_name ON iam_user_policies (account_id, lower(user_name), policy_name);
  `,
  // 2: per-bucket usage (objects, bytes) for the metrics (SQLite's migration 7). A trigger on
  //    objects appends a delta row in the writing transaction; folding the deltas into
  //    bucket_usage happens when usage is read (PostgresMetadataStore.bucketUsage). One row
  //    per bucket updated by every write would make concurrent writes to one bucket conflict
  //    (SERIALIZABLE) and retry; appended rows never conflict.
  `
  CREATE TABLE bucket_usage (
    bucket TEXT COLLATE "C" PRIMARY KEY,
    objects BIGINT NOT NULL,
    bytes BIGINT NOT NULL
  );
  CREATE TABLE bucket_usage_deltas (
    id BIGSERIAL PRIMARY KEY,
    bucket TEXT COLLATE "C" NOT NULL,
    objects BIGINT NOT NULL,
    bytes BIGINT NOT NULL
  );
  INSERT INTO bucket_usage (bucket, objects, bytes)
    SELECT bucket, count(*), coalesce(sum((doc::jsonb->>'size')::bigint), 0) FROM objects GROUP BY bucket;
  CREATE FUNCTION bucket_usage_delta() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF TG_OP = 'INSERT' THEN
      INSERT INTO bucket_usage_deltas (bucket, objects, bytes) VALUES (NEW.bucket, 1, (NEW.doc::jsonb->>'size')::bigint);
    ELSIF TG_OP = 'DELETE' THEN
      INSERT INTO bucket_usage_deltas (bucket, objects, bytes) VALUES (OLD.bucket, -1, -(OLD.doc::jsonb->>'size')::bigint);
    ELSIF (OLD.doc::jsonb->>'size') IS DISTINCT FROM (NEW.doc::jsonb->>'size') THEN
      INSERT INTO bucket_usage_deltas (bucket, objects, bytes)
        VALUES (NEW.bucket, 0, (NEW.doc::jsonb->>'size')::bigint - (OLD.doc::jsonb->>'size')::bigint);
    END IF;
    RETURN NULL;
  END $$;
  CREATE TRIGGER bucket_usage_delta AFTER INSERT OR UPDATE OF doc OR DELETE ON objects
    FOR EACH ROW EXECUTE FUNCTION bucket_usage_delta();
  `,
  // 3: S3 versioning (SQLite's migration 8). A key's current object stays in `objects`; its
  //    other versions and delete markers live here, newest first within a key.
  `
  CREATE TABLE object_versions (
    bucket TEXT COLLATE "C" NOT NULL,
    key BYTEA NOT NULL,
    seq BIGINT NOT NULL,
    version_id TEXT COLLATE "C" NOT NULL,
    doc TEXT NOT NULL
  );
  CREATE UNIQUE INDEX object_versions_newest_first ON object_versions (bucket, key, seq DESC);
  CREATE UNIQUE INDEX object_versions_by_id ON object_versions (bucket, key, version_id);
  `,
  // 4: what a listing shows of an object, in columns beside its document (SQLite's migration 9).
  `
  ALTER TABLE objects
    ADD COLUMN size BIGINT,
    ADD COLUMN etag TEXT,
    ADD COLUMN last_modified BIGINT,
    ADD COLUMN checksum_algorithm TEXT,
    ADD COLUMN checksum_type TEXT,
    ADD COLUMN storage_class TEXT,
    ADD COLUMN owner_id TEXT;
  UPDATE objects SET
    size = (doc::jsonb->>'size')::bigint,
    etag = doc::jsonb->>'etag',
    last_modified = (doc::jsonb->>'lastModified')::bigint,
    checksum_algorithm = doc::jsonb->'checksum'->>'algorithm',
    checksum_type = doc::jsonb->'checksum'->>'type',
    storage_class = doc::jsonb->>'storageClass',
    owner_id = doc::jsonb->>'ownerId';
  `,
];
