/**
 * Coffer's configuration: one typed, validated, frozen object built from
 * command-line flags, then environment variables, then a configuration file
 * (`--config FILE`, config-file.ts), then defaults.
 */
import { availableParallelism } from 'node:os';
import { z } from 'zod';

const MiB = 1024 * 1024;

export const ConfigSchema = z
  .object({
    address: z.string().min(1).default('127.0.0.1'),
    port: z.coerce.number().int().min(0).max(65535).default(9000),
    dataDir: z.string().min(1).default('./data'),
    region: z.string().regex(/^[a-z0-9-]+$/).default('us-east-1'),
    /** Domains for virtual-hosted-style requests: `bucket.<domain>`. */
    domains: z.array(z.string().min(1)).default(['localhost']),
    accessKeyId: z.string().min(3).max(128).optional(),
    secretAccessKey: z.string().min(8).max(256).optional(),
    tlsCert: z.string().optional(),
    tlsKey: z.string().optional(),
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
    /** Smallest size of every part but the last (S3: 5 MiB). */
    minPartSize: z.coerce.number().int().min(0).default(5 * MiB),
    /** Largest single PUT (S3: 5 GiB). */
    maxObjectSize: z.coerce.number().int().min(1).default(5 * 1024 * MiB),
    /** Multipart uploads older than this are aborted by the background sweep. */
    staleUploadAgeMs: z.coerce.number().int().min(1000).default(7 * 24 * 3600 * 1000),
    sweepIntervalMs: z.coerce.number().int().min(100).default(3600 * 1000),
    /** The blob collector's fallback round; it also runs one grace period after each write that frees blobs. */
    gcIntervalMs: z.coerce.number().int().min(100).default(1000),
    /**
     * How long a replaced or deleted object's blobs stay readable before the collector may
     * delete them: for reads that resolved the object just before (storage/blob-collector.ts).
     * Longer reads keep extending it. 0 deletes at once (a read racing a write may then fail).
     */
    gcGraceMs: z.coerce.number().int().min(0).default(120_000),
    /** How long graceful shutdown waits for in-flight requests. */
    shutdownTimeoutMs: z.coerce.number().int().min(0).default(30_000),
    /**
     * Longest wait for the next bytes of a request body the server is reading. S3 gives up on
     * an upload that stops sending for about 20 seconds (400 RequestTimeout); a body that keeps
     * moving, however slowly, is never cut off, so 5 GiB PUTs over slow links still complete.
     */
    bodyIdleTimeoutMs: z.coerce.number().int().min(10).default(20_000),
    /** Longest time a client may take to send a request's headers (slowloris); the connection is then closed. */
    headersTimeoutMs: z.coerce.number().int().min(10).default(60_000),
    /** Connections one serving process holds open at most; further ones are closed as they arrive. */
    maxConnections: z.coerce.number().int().min(1).default(1024),
    /** Serving processes (node:cluster), sharing the port and the data dir. Default: one per core. */
    workers: z.coerce.number().int().min(1).max(256).default(availableParallelism()),
    /** SSE-C on buckets without an encryption configuration: blocked, as S3 does for buckets made since April 2026. */
    defaultSseC: z.enum(['blocked', 'allowed']).default('blocked'),
    /** Accept SSE-C keys over plain HTTP from non-loopback clients (S3 requires TLS). */
    allowInsecureSseC: z.preprocess((v) => (typeof v === 'string' ? v === 'true' || v === '1' : v), z.boolean()).default(false),
    /** How long one S3 Bucket Key serves new SSE-KMS objects before the KMS is asked for another. */
    bucketKeyPeriodMs: z.coerce.number().int().min(1).default(3600 * 1000),
    /**
     * Blobs of at most this many stored bytes live in <data>/small-blobs.db (SQLite) instead
     * of a file each: a 4 KiB object then costs no file create, fsync and rename. 0 turns it off.
     */
    smallBlobMax: z.coerce.number().int().min(0).max(1024 * 1024).default(16 * 1024),
    /**
     * Bytes kept free in `<data>/.reserve`, released when the disk fills so that deletes can
     * still commit (util/space-reserve.ts). 0 turns it off.
     */
    reserveBytes: z.coerce.number().int().min(0).default(8 * MiB),
    /** The 32-byte root key, base64 (COFFER_ROOT_KEY). Wins over rootKeyFile. */
    rootKey: z
      .string()
      .refine((v) => /^[A-Za-z0-9+/=\s]+$/.test(v) && Buffer.from(v, 'base64').length === 32, {
        message: 'COFFER_ROOT_KEY must be 32 bytes, base64-encoded',
      })
      .optional(),
    /** A file holding the root key (base64, or 32 raw bytes). Default: `<data>/root.key`, created at first start. */
    rootKeyFile: z.string().min(1).optional(),
    /** An external AWS-KMS-compatible endpoint; when set, Coffer uses it instead of its built-in KMS. */
    kmsEndpoint: z.string().url().optional(),
    kmsAccessKeyId: z.string().min(3).max(128).optional(),
    kmsSecretAccessKey: z.string().min(8).max(256).optional(),
    /** Region the external KMS is signed for (default: `region`). */
    kmsRegion: z.string().regex(/^[a-z0-9-]+$/).optional(),
    /**
     * Metadata (buckets, objects, uploads, identities, the built-in KMS's keys) in PostgreSQL
     * instead of `<data>/coffer.db`: `postgres://USER[:PASSWORD]@HOST:PORT/DB`. With `blobUrl`
     * too, a node keeps nothing of value locally and any number of nodes can share them.
     */
    metadataUrl: z
      .string()
      .regex(/^postgres(ql)?:\/\/\S+$/, { message: 'the metadata URL must look like postgres://USER@HOST:PORT/DB' })
      .optional(),
    /**
     * Blobs in a bucket of another S3-compatible service instead of <data>/blobs:
     * `s3://BUCKET/PREFIX` (blob/s3/s3-blob-store.ts). Only ciphertext is sent there.
     */
    blobUrl: z
      .string()
      .regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/, { message: 'the blob URL must look like s3://BUCKET or s3://BUCKET/PREFIX' })
      .optional(),
    /** The blob backend's endpoint URL (omitted: AWS S3 in `blobRegion`). */
    blobEndpoint: z.string().url().optional(),
    blobAccessKeyId: z.string().min(3).max(128).optional(),
    blobSecretAccessKey: z.string().min(8).max(256).optional(),
    /** Region requests to the blob backend are signed for (default: `region`). */
    blobRegion: z.string().regex(/^[a-z0-9-]+$/).optional(),
    /**
     * With --blob-url: how old an unreferenced staging marker must be before any node's
     * recovery takes it for a crashed write (blob/s3/s3-blob-store.ts). Writes in flight
     * renew theirs every quarter of it.
     */
    blobStagingLeaseMs: z.coerce.number().int().min(100).default(15 * 60 * 1000),
    /** Shortest ScheduleKeyDeletion PendingWindowInDays (AWS: 7). Tests use 0 to delete at once. */
    kmsMinPendingWindowDays: z.coerce.number().int().min(0).max(7).default(7),
    /** Shortest EnableKeyRotation RotationPeriodInDays (AWS: 90). */
    kmsMinRotationPeriodDays: z.coerce.number().int().min(1).max(90).default(90),
    /** Length of a KMS "day" in seconds, for deletion windows and rotation periods. Only tests shorten it. */
    kmsDaySeconds: z.coerce.number().min(0.001).max(86_400).default(86_400),
    /**
     * A bearer token `GET /_coffer/metrics` must present (`Authorization: Bearer …`);
     * unset, the metrics are open to whoever reaches the port.
     */
    metricsToken: z.string().min(16, { message: 'the metrics token must be at least 16 characters' }).max(512).regex(/^[\x21-\x7e]+$/, { message: 'the metrics token must be printable ASCII without spaces' }).optional(),
    /** The web console at /_coffer/console/ (console/). */
    console: z.enum(['enabled', 'disabled']).default('enabled'),
    /** How often expired deletion windows and due automatic rotations are swept. */
    kmsSweepIntervalMs: z.coerce.number().int().min(50).default(60_000),
  })
  .refine((c) => (c.accessKeyId === undefined) === (c.secretAccessKey === undefined), {
    message: 'COFFER_ACCESS_KEY_ID and COFFER_SECRET_ACCESS_KEY must be set together',
  })
  .refine((c) => (c.tlsCert === undefined) === (c.tlsKey === undefined), {
    message: '--tls-cert and --tls-key must be given together',
  })
  .refine((c) => (c.kmsAccessKeyId === undefined) === (c.kmsSecretAccessKey === undefined), {
    message: 'COFFER_KMS_ACCESS_KEY_ID and COFFER_KMS_SECRET_ACCESS_KEY must be set together',
  })
  .refine((c) => c.kmsEndpoint !== undefined || c.kmsAccessKeyId === undefined, {
    message: 'KMS credentials given without --kms-endpoint',
  })
  .refine((c) => (c.blobAccessKeyId === undefined) === (c.blobSecretAccessKey === undefined), {
    message: 'COFFER_BLOB_ACCESS_KEY_ID and COFFER_BLOB_SECRET_ACCESS_KEY must be set together',
  })
  .refine((c) => c.metadataUrl === undefined || c.rootKey !== undefined || c.rootKeyFile !== undefined, {
    message: 'with --metadata-url every node needs the same root key: set COFFER_ROOT_KEY or --root-key-file (a key generated into one node\'s data dir would differ from the others\')',
  })
  .refine((c) => c.metadataUrl === undefined || c.accessKeyId !== undefined, {
    message: 'with --metadata-url every node needs the same root credentials: set COFFER_ACCESS_KEY_ID and COFFER_SECRET_ACCESS_KEY',
  })
  .refine((c) => c.blobUrl !== undefined || (c.blobEndpoint === undefined && c.blobAccessKeyId === undefined && c.blobRegion === undefined), {
    message: 'blob backend settings given without --blob-url',
  });

export type Config = Readonly<z.infer<typeof ConfigSchema>>;
export type ConfigInput = z.input<typeof ConfigSchema>;

/** Environment variable for each setting that has one. */
export const ENV_NAMES: Partial<Record<keyof ConfigInput, string>> = {
  address: 'COFFER_ADDRESS',
  port: 'COFFER_PORT',
  dataDir: 'COFFER_DATA',
  region: 'COFFER_REGION',
  domains: 'COFFER_DOMAIN',
  accessKeyId: 'COFFER_ACCESS_KEY_ID',
  secretAccessKey: 'COFFER_SECRET_ACCESS_KEY',
  tlsCert: 'COFFER_TLS_CERT',
  tlsKey: 'COFFER_TLS_KEY',
  logLevel: 'COFFER_LOG_LEVEL',
  minPartSize: 'COFFER_MIN_PART_SIZE',
  maxObjectSize: 'COFFER_MAX_OBJECT_SIZE',
  staleUploadAgeMs: 'COFFER_STALE_UPLOAD_AGE_MS',
  sweepIntervalMs: 'COFFER_SWEEP_INTERVAL_MS',
  gcIntervalMs: 'COFFER_GC_INTERVAL_MS',
  gcGraceMs: 'COFFER_GC_GRACE_MS',
  shutdownTimeoutMs: 'COFFER_SHUTDOWN_TIMEOUT_MS',
  bodyIdleTimeoutMs: 'COFFER_BODY_IDLE_TIMEOUT_MS',
  headersTimeoutMs: 'COFFER_HEADERS_TIMEOUT_MS',
  maxConnections: 'COFFER_MAX_CONNECTIONS',
  workers: 'COFFER_WORKERS',
  defaultSseC: 'COFFER_DEFAULT_SSE_C',
  allowInsecureSseC: 'COFFER_ALLOW_INSECURE_SSE_C',
  bucketKeyPeriodMs: 'COFFER_BUCKET_KEY_PERIOD_MS',
  smallBlobMax: 'COFFER_SMALL_BLOB_MAX',
  reserveBytes: 'COFFER_RESERVE_BYTES',
  rootKey: 'COFFER_ROOT_KEY',
  rootKeyFile: 'COFFER_ROOT_KEY_FILE',
  kmsEndpoint: 'COFFER_KMS_ENDPOINT',
  kmsAccessKeyId: 'COFFER_KMS_ACCESS_KEY_ID',
  kmsSecretAccessKey: 'COFFER_KMS_SECRET_ACCESS_KEY',
  kmsRegion: 'COFFER_KMS_REGION',
  metadataUrl: 'COFFER_METADATA_URL',
  blobUrl: 'COFFER_BLOB_URL',
  blobEndpoint: 'COFFER_BLOB_ENDPOINT',
  blobAccessKeyId: 'COFFER_BLOB_ACCESS_KEY_ID',
  blobSecretAccessKey: 'COFFER_BLOB_SECRET_ACCESS_KEY',
  blobRegion: 'COFFER_BLOB_REGION',
  blobStagingLeaseMs: 'COFFER_BLOB_STAGING_LEASE_MS',
  kmsMinPendingWindowDays: 'COFFER_KMS_MIN_PENDING_WINDOW_DAYS',
  kmsMinRotationPeriodDays: 'COFFER_KMS_MIN_ROTATION_PERIOD_DAYS',
  kmsDaySeconds: 'COFFER_KMS_DAY_SECONDS',
  kmsSweepIntervalMs: 'COFFER_KMS_SWEEP_INTERVAL_MS',
  metricsToken: 'COFFER_METRICS_TOKEN',
  console: 'COFFER_CONSOLE',
};

/** Settings read from a configuration file (config-file.ts readConfigFile), and where from. */
export interface ConfigFileValues {
  path: string;
  values: Record<string, unknown>;
}

/** Merges flags over environment over a configuration file over defaults, validates once and freezes. */
export function loadConfig(flags: Partial<ConfigInput>, env: NodeJS.ProcessEnv = process.env, file?: ConfigFileValues): Config {
  const merged: Record<string, unknown> = {};
  if (file) {
    const known = new Set(Object.keys(ConfigSchema.shape));
    for (const [key, v] of Object.entries(file.values)) {
      if (!known.has(key)) throw new Error(`invalid configuration: ${file.path}: unknown setting '${key}' (settings are named as in the README's configuration table, e.g. dataDir, tlsCert)`);
      if (v === null || v === undefined) continue;
      merged[key] = key === 'domains' && typeof v === 'string' ? v.split(',').map((d) => d.trim()).filter(Boolean) : v;
    }
  }
  for (const [key, envName] of Object.entries(ENV_NAMES)) {
    const v = envName ? env[envName] : undefined;
    if (v !== undefined && v !== '') merged[key] = key === 'domains' ? v.split(',').map((s) => s.trim()).filter(Boolean) : v;
  }
  for (const [key, v] of Object.entries(flags)) if (v !== undefined) merged[key] = v;
  const parsed = ConfigSchema.safeParse(merged);
  if (!parsed.success) {
    const msg = parsed.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`).join('; ');
    throw new Error(`invalid configuration: ${msg}`);
  }
  return Object.freeze({ ...parsed.data, domains: Object.freeze([...parsed.data.domains]) as string[] });
}

/** The bucket and key prefix of a validated `blobUrl` (`s3://BUCKET/PREFIX`). */
export function parseBlobUrl(url: string): { bucket: string; prefix: string } {
  const rest = url.slice('s3://'.length);
  const slash = rest.indexOf('/');
  if (slash < 0) return { bucket: rest, prefix: '' };
  const prefix = rest.slice(slash + 1).replace(/^\/+/, '');
  return { bucket: rest.slice(0, slash), prefix: prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/` };
}
