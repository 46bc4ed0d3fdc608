/**
 * Shared assertions and independent reference computations for integration
 * tests: S3 error shape, body reading, the fs blob layout, and S3's multipart
 * ETag and composite checksum formulas computed without any server code.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** What the SDK's service exceptions carry that tests look at. */
export interface SdkError {
  name: string;
  message: string;
  $metadata: { httpStatusCode?: number };
}

/** Awaits `promise`, which must fail with S3 error `code` and HTTP `status`; returns the error. */
export async function expectS3Error(promise: Promise<unknown>, code: string, status: number): Promise<SdkError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught !== undefined, `expected ${code} (${status}), but the request succeeded`);
  const e = caught as SdkError;
  assert.equal(e.name, code, `error code (message: ${e.message})`);
  assert.equal(e.$metadata?.httpStatusCode, status, `HTTP status of ${code}`);
  return e;
}

/** The whole body of a GetObject output. */
export async function bodyBytes(output: { Body?: { transformToByteArray(): Promise<Uint8Array> } | undefined }): Promise<Buffer> {
  assert.ok(output.Body, 'response has a body');
  return Buffer.from(await output.Body.transformToByteArray());
}

export function md5Hex(data: Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

export function md5Base64(data: Buffer): string {
  return createHash('md5').update(data).digest('base64');
}

/** S3's multipart ETag: `"<md5 of the concatenated binary part MD5s>-<count>"`, quoted. */
export function multipartEtag(parts: readonly Buffer[]): string {
  const h = createHash('md5');
  for (const p of parts) h.update(createHash('md5').update(p).digest());
  return `"${h.digest('hex')}-${parts.length}"`;
}

const CRC32_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC32 (IEEE), table-driven, written here so the test does not share code with the server. */
export function crc32Raw(data: Buffer): Buffer {
  let c = 0xffffffff;
  for (const b of data) c = CRC32_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  const out = Buffer.alloc(4);
  out.writeUInt32BE((c ^ 0xffffffff) >>> 0);
  return out;
}

export type TestChecksumAlgorithm = 'CRC32' | 'SHA1' | 'SHA256';

export function checksumRaw(algorithm: TestChecksumAlgorithm, data: Buffer): Buffer {
  if (algorithm === 'CRC32') return crc32Raw(data);
  return createHash(algorithm === 'SHA1' ? 'sha1' : 'sha256').update(data).digest();
}

export function checksumBase64(algorithm: TestChecksumAlgorithm, data: Buffer): string {
  return checksumRaw(algorithm, data).toString('base64');
}

/** S3's COMPOSITE multipart checksum: checksum of the concatenated raw part checksums, base64, `-N`. */
export function compositeChecksum(algorithm: TestChecksumAlgorithm, parts: readonly Buffer[]): string {
  const joined = Buffer.concat(parts.map((p) => checksumRaw(algorithm, p)));
  return `${checksumRaw(algorithm, joined).toString('base64')}-${parts.length}`;
}

/** Published blob files of the fs BlobStore: `<data>/blobs/<2 hex>/<32 hex id>`. */
/** Every file under a directory, recursively (none if it does not exist). */
export function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

/** Rows of `<data>/small-blobs.db` (small blobs live there, not in files), read-only. */
function smallBlobRows(dataDir: string): { id: string; staged: number; data: Buffer }[] {
  const path = join(dataDir, 'small-blobs.db');
  if (!existsSync(path)) return [];
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT id, staged, data FROM blobs').all() as { id: string; staged: number; data: Buffer }[];
  } finally {
    db.close();
  }
}

/** Ids of published blobs: files under `<data>/blobs/` and published rows of small-blobs.db. */
export function storedBlobIds(dataDir: string): string[] {
  const root = join(dataDir, 'blobs');
  const out: string[] = smallBlobRows(dataDir).filter((r) => r.staged === 0).map((r) => r.id);
  if (existsSync(root)) for (const shard of readdirSync(root)) for (const name of readdirSync(join(root, shard))) out.push(name);
  return out.sort();
}

/** Staged (not yet published) blobs: files `<data>/tmp/*` and staged rows of small-blobs.db. */
export function stagedBlobIds(dataDir: string): string[] {
  const dir = join(dataDir, 'tmp');
  const files = existsSync(dir) ? readdirSync(dir) : [];
  return [...files, ...smallBlobRows(dataDir).filter((r) => r.staged === 1).map((r) => r.id)].sort();
}

/** The stored bytes of a blob, wherever it lives. */
export function readStoredBlob(dataDir: string, id: string): Buffer {
  const row = smallBlobRows(dataDir).find((r) => r.id === id);
  if (row) return row.data;
  for (const p of [join(dataDir, 'blobs', id.slice(0, 2), id), join(dataDir, 'tmp', id)]) if (existsSync(p)) return readFileSync(p);
  throw new Error(`no stored blob ${id}`);
}

/**
 * Waits until `read()` returns `expected` (the server's garbage collector runs
 * after each write that frees blobs, and every second), then asserts it, so a timeout fails with the last value seen.
 */
export async function eventually<T>(read: () => T | Promise<T>, expected: T, timeoutMs = 5000, what = 'value'): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last = await read();
  while (!isDeepEqual(last, expected) && Date.now() < end) {
    await sleep(50);
    last = await read();
  }
  assert.deepEqual(last, expected, `${what} after ${timeoutMs} ms`);
}

function isDeepEqual(a: unknown, b: unknown): boolean {
  try {
    assert.deepEqual(a, b);
    return true;
  } catch {
    return false;
  }
}
