/**
 * `coffer admin rotate-root-key`: re-wraps every KMS key version's material
 * under a new root key. Object data is never touched (it is encrypted under
 * data keys that KMS keys wrap; only the top of the hierarchy changes).
 *
 * Crash-safe by ordering, with both keys readable at every step:
 *   1. the new key is written durably to `<data>/root.key.pending` (0600);
 *      every Coffer start loads that file too while it exists;
 *   2. the metadata store is told that new material is wrapped under the new
 *      key (running nodes pick that up and reload their root keys);
 *   3. rows are re-wrapped one by one, each an atomic compare-and-set that
 *      records which root key now wraps it — so a re-run resumes where an
 *      interrupted one stopped (it reuses the pending key);
 *   4. the pending key replaces the key file (write + rename + fsync), and
 *      rows written meanwhile by a node still on the old key are swept up.
 * When the root key comes from COFFER_ROOT_KEY, Coffer cannot rewrite it:
 * the new key goes to `--new-root-key-file` and the operator switches to it.
 */
import { readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SecretBox } from '../iam/secret-box.js';
import type { MetadataStore } from '../metadata/metadata-store.js';
import { ACTIVE_ROOT_KEY_SETTING } from './builtin-kms.js';
import { unwrapMaterial, wrapMaterial } from './kms-crypto.js';
import {
  fsyncDir,
  generateRootKey,
  loadRootKeys,
  parseRootKeyFile,
  RootKeyring,
  writeRootKeyFile,
  type RootKey,
  type RootKeyOptions,
} from './root-key.js';

export interface RotateRootKeyOptions extends RootKeyOptions {
  metadata: MetadataStore;
  /** Required when the current key comes from COFFER_ROOT_KEY: where to write the new one. */
  newRootKeyFile?: string | undefined;
  /** Called after each re-wrapped key version (the crash test stops the process here). */
  onRewrapped?: (count: number) => void;
}

export interface RotateRootKeyResult {
  oldRootKeyId: string;
  newRootKeyId: string;
  /** Key versions re-wrapped by this run. */
  rewrapped: number;
  /** True when this run finished a rotation an earlier run started. */
  resumed: boolean;
  /** The file that now holds the root key. */
  keyFile: string;
  /** The operator must switch COFFER_ROOT_KEY to the new key (it came from the environment). */
  switchEnvironment: boolean;
}

async function rewrapAll(o: RotateRootKeyOptions, keyring: RootKeyring, next: RootKey, counter: { n: number }): Promise<void> {
  await rewrapKmsMaterial(o, keyring, next, counter);
  await rewrapAccessKeySecrets(o, keyring, next, counter);
}

/**
 * IAM access key secrets are wrapped under a key derived from the root key too
 * (iam/secret-box.ts): without this, every user's key would stop working once
 * the old root key is gone.
 */
async function rewrapAccessKeySecrets(o: RotateRootKeyOptions, keyring: RootKeyring, next: RootKey, counter: { n: number }): Promise<void> {
  const to = new SecretBox([next]);
  for (;;) {
    const rows = await o.metadata.accessKeysNotWrappedBy(next.id, 100);
    if (rows.length === 0) return;
    for (const row of rows) {
      const from = keyring.get(row.rootKeyId);
      const secret = from && new SecretBox([from]).unwrap(row.accessKeyId, row.rootKeyId, row.wrappedSecret);
      if (secret === undefined) {
        throw new Error(`the secret of access key ${row.accessKeyId} is wrapped under root key ${row.rootKeyId}, which is neither the current nor the new root key; nothing was changed for it`);
      }
      if (await o.metadata.rewrapAccessKey(row.accessKeyId, row.rootKeyId, { rootKeyId: next.id, wrappedSecret: to.wrap(row.accessKeyId, secret) })) {
        counter.n++;
        o.onRewrapped?.(counter.n);
      }
    }
  }
}

async function rewrapKmsMaterial(o: RotateRootKeyOptions, keyring: RootKeyring, next: RootKey, counter: { n: number }): Promise<void> {
  for (;;) {
    const rows = await o.metadata.kmsKeyVersionsNotWrappedBy(next.id, 100);
    if (rows.length === 0) return;
    for (const row of rows) {
      const from = keyring.get(row.rootKeyId);
      if (!from) {
        throw new Error(
          `key ${row.keyId} version ${row.version} is wrapped under root key ${row.rootKeyId}, which is neither the current nor the new root key; nothing was changed for it`,
        );
      }
      const material = unwrapMaterial(from.key, row.keyId, row.version, row.wrappedMaterial);
      try {
        const wrappedMaterial = wrapMaterial(next.key, row.keyId, row.version, material);
        if (await o.metadata.rewrapKmsKeyVersion(row.keyId, row.version, row.rootKeyId, { rootKeyId: next.id, wrappedMaterial })) {
          counter.n++;
          o.onRewrapped?.(counter.n);
        }
      } finally {
        material.fill(0);
      }
    }
  }
}

/** Puts `key` at `path` atomically: a temporary file beside it, fsynced, renamed over it, directory fsynced. */
async function installKeyFile(path: string, key: RootKey): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeRootKeyFile(tmp, key, { exclusive: false });
  await rename(tmp, path);
  await fsyncDir(dirname(path));
}

export async function rotateRootKey(o: RotateRootKeyOptions): Promise<RotateRootKeyResult> {
  const loaded = await loadRootKeys(o);
  if (loaded.source.kind === 'env' && o.newRootKeyFile === undefined) {
    throw new Error('the root key comes from COFFER_ROOT_KEY, which Coffer cannot rewrite: give --new-root-key-file PATH for the new key');
  }
  let next: RootKey;
  const resumed = loaded.pending !== undefined;
  if (loaded.pending) {
    next = loaded.pending;
  } else {
    // A pending file that is not loaded as pending holds the current key (a finished run stopped
    // just before removing it): safe to remove.
    await unlink(loaded.pendingPath).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    next = generateRootKey();
    await writeRootKeyFile(loaded.pendingPath, next, { exclusive: true });
  }
  const keyring = new RootKeyring([loaded.primary, next]);
  await o.metadata.putKmsSetting(ACTIVE_ROOT_KEY_SETTING, next.id);
  const counter = { n: 0 };
  await rewrapAll(o, keyring, next, counter);

  let keyFile: string;
  if (loaded.source.kind === 'file') {
    keyFile = loaded.source.path;
  } else {
    keyFile = o.newRootKeyFile!;
    try {
      const existing = parseRootKeyFile(await readFile(keyFile), keyFile);
      if (!existing.equals(next.key)) throw new Error(`${keyFile} already holds a different key; refusing to overwrite it`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  await installKeyFile(keyFile, next);
  await unlink(loaded.pendingPath);
  await fsyncDir(dirname(loaded.pendingPath));
  // A node that wrapped new material under the old key just before step 2 reached it.
  await rewrapAll(o, keyring, next, counter);
  return {
    oldRootKeyId: loaded.primary.id,
    newRootKeyId: next.id,
    rewrapped: counter.n,
    resumed,
    keyFile,
    switchEnvironment: loaded.source.kind === 'env',
  };
}
