/** What every S3 handler may use: the configuration and the stores, wired by main.ts. */
import type { Logger } from 'pino';
import type { BlobStore } from '../blob/blob-store.js';
import type { Config } from '../config/config.js';
import type { Identities } from '../iam/identities.js';
import type { KmsKeyAccess } from '../kms/kms-access.js';
import type { Kms } from '../kms/kms.js';
import type { MetadataStore } from '../metadata/metadata-store.js';
import type { ObjectKeys } from '../storage/object-keys.js';
import type { ReadHolds } from '../storage/read-holds.js';

export interface S3Context {
  readonly config: Config;
  readonly metadata: MetadataStore;
  readonly blobs: BlobStore;
  readonly log: Logger;
  /** The KMS (built-in or remote, chosen by main.ts; always set there). Optional only for tests that build a partial context. */
  readonly kms?: Kms;
  /** Data keys of encrypted objects (SSE-S3, SSE-KMS, DSSE-KMS, SSE-C). */
  readonly keys: ObjectKeys;
  /** Accounts, users and keys (bucket owners' display names, policy evaluation). */
  readonly identities: Identities;
  /** Keeps the blobs of objects being read from the blob collector while they are read. */
  readonly holds: ReadHolds;
  /** Who may use which KMS key: checked on every request that makes S3 use a key on the requester's behalf. */
  readonly kmsAccess: KmsKeyAccess;
}
