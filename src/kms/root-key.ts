/**
 * The root key: 32 bytes at the top of the key hierarchy. It wraps every KMS
 * key's material (AES-256-GCM, see kms-crypto.ts); without it nothing Coffer
 * encrypted can be decrypted, which is why it lives apart from the metadata
 * and must be backed up apart from the data directory.
 *
 * Sources, in order: COFFER_ROOT_KEY (base64), `--root-key-file`, else
 * `<data>/root.key`, generated at first start with mode 0600.
 *
 * `coffer admin rotate-root-key` writes its new key to `<data>/root.key.pending`
 * before re-wrapping anything; while that file exists it is loaded as well,
 * so an interrupted rotation leaves every row readable under one key or the other.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { open, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export const ROOT_KEY_SIZE = 32;
export const ROOT_KEY_FILE = 'root.key';
export const PENDING_ROOT_KEY_FILE = 'root.key.pending';

export interface RootKey {
  /** A fingerprint (HMAC of a constant under the key): names the key in metadata rows, reveals nothing of it. */
  readonly id: string;
  readonly key: Buffer;
}

export type RootKeySource =
  | { kind: 'env' }
  | { kind: 'file'; path: string; /** Created by this load (first start). */ generated: boolean };

export interface LoadedRootKeys {
  primary: RootKey;
  source: RootKeySource;
  /** The key an interrupted rotate-root-key was moving to, if any. */
  pending?: RootKey;
  pendingPath: string;
  /** Things the operator should hear about (loose file permissions); never key bytes. */
  warnings: string[];
}

export interface RootKeyOptions {
  dataDir: string;
  /** COFFER_ROOT_KEY: base64 of 32 bytes. */
  rootKey?: string | undefined;
  rootKeyFile?: string | undefined;
}

export function rootKeyId(key: Buffer): string {
  return createHmac('sha256', key).update('coffer/root-key-id/v1').digest('hex').slice(0, 16);
}

export function makeRootKey(key: Buffer): RootKey {
  if (key.length !== ROOT_KEY_SIZE) throw new Error(`a root key is ${ROOT_KEY_SIZE} bytes`);
  return Object.freeze({ id: rootKeyId(key), key });
}

export function generateRootKey(): RootKey {
  return makeRootKey(randomBytes(ROOT_KEY_SIZE));
}

/** A key file holds the key in base64 (one line), or exactly 32 raw bytes. */
export function parseRootKeyFile(content: Buffer, where: string): Buffer {
  if (content.length === ROOT_KEY_SIZE) return Buffer.from(content);
  const text = content.toString('latin1').trim();
  const decoded = /^[A-Za-z0-9+/]+={0,2}$/.test(text) ? Buffer.from(text, 'base64') : undefined;
  if (!decoded || decoded.length !== ROOT_KEY_SIZE) {
    throw new Error(`${where} does not hold a root key (32 bytes, base64-encoded or raw)`);
  }
  return decoded;
}

async function readKeyFile(path: string, warnings: string[]): Promise<Buffer> {
  const st = await stat(path);
  if ((st.mode & 0o077) !== 0) warnings.push(`root key file ${path} is readable by group or others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
  return parseRootKeyFile(await readFile(path), path);
}

/** fsync a directory, so a rename or create in it is durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Writes a key file (base64 line, mode 0600) durably: the file is fsynced and
 * so is its directory, so a crash never leaves a rotation depending on a key
 * that did not reach the disk. `exclusive` refuses to replace an existing file.
 */
export async function writeRootKeyFile(path: string, key: RootKey, options: { exclusive: boolean }): Promise<void> {
  const fh = await open(path, options.exclusive ? 'wx' : 'w', 0o600);
  try {
    await fh.chmod(0o600);
    await fh.writeFile(`${key.key.toString('base64')}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fsyncDir(dirname(path));
}

/** Loads the root key (generating `<data>/root.key` on first start) and any pending rotation key. */
export async function loadRootKeys(options: RootKeyOptions): Promise<LoadedRootKeys> {
  const warnings: string[] = [];
  const pendingPath = join(options.dataDir, PENDING_ROOT_KEY_FILE);
  let primary: RootKey;
  let source: RootKeySource;
  if (options.rootKey !== undefined && options.rootKey !== '') {
    const key = Buffer.from(options.rootKey.trim(), 'base64');
    if (key.length !== ROOT_KEY_SIZE) throw new Error('COFFER_ROOT_KEY must be 32 bytes, base64-encoded');
    primary = makeRootKey(key);
    source = { kind: 'env' };
  } else if (options.rootKeyFile !== undefined) {
    primary = makeRootKey(await readKeyFile(options.rootKeyFile, warnings));
    source = { kind: 'file', path: options.rootKeyFile, generated: false };
  } else {
    const path = join(options.dataDir, ROOT_KEY_FILE);
    try {
      primary = makeRootKey(await readKeyFile(path, warnings));
      source = { kind: 'file', path, generated: false };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      primary = generateRootKey();
      try {
        await writeRootKeyFile(path, primary, { exclusive: true });
        source = { kind: 'file', path, generated: true };
      } catch (writeErr) {
        // Another process created it first: use theirs.
        if ((writeErr as NodeJS.ErrnoException).code !== 'EEXIST') throw writeErr;
        primary = makeRootKey(await readKeyFile(path, warnings));
        source = { kind: 'file', path, generated: false };
      }
    }
  }
  let pending: RootKey | undefined;
  try {
    pending = makeRootKey(await readKeyFile(pendingPath, warnings));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return { primary, source, ...(pending && pending.id !== primary.id ? { pending } : {}), pendingPath, warnings };
}

/** The root keys a KMS can unwrap with, by id. */
export class RootKeyring {
  readonly #keys = new Map<string, RootKey>();

  constructor(keys: Iterable<RootKey>) {
    for (const k of keys) this.#keys.set(k.id, k);
  }

  static of(loaded: LoadedRootKeys): RootKeyring {
    return new RootKeyring(loaded.pending ? [loaded.primary, loaded.pending] : [loaded.primary]);
  }

  get(id: string): RootKey | undefined {
    return this.#keys.get(id);
  }

  ids(): string[] {
    return [...this.#keys.keys()];
  }
}
