/** What every S3 handler may use: the configuration and the stores, wired by main.ts. */
import type { Logger } from 'pino';
import type { BlobStore } from '../blob/blob-store.js';
import type { Config } from '../config/config.js';
import type { MetadataStore } from '../metadata/metadata-store.js';

export interface S3Context {
  readonly config: Config;
  readonly metadata: MetadataStore;
  readonly blobs: BlobStore;
  readonly log: Logger;
}
