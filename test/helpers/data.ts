/** Deterministic test data: a seeded PRNG and streams of pseudo-random bytes. */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

/** xorshift32: small, seeded, reproducible. */
export function prng(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** `size` pseudo-random bytes from `seed`, in chunks of at most `chunk` bytes. */
export function* randomChunks(seed: number, size: number, chunk = 1024 * 1024): Generator<Buffer> {
  const next = prng(seed);
  let left = size;
  while (left > 0) {
    const n = Math.min(chunk, left);
    const buf = Buffer.allocUnsafe(n);
    let i = 0;
    for (; i + 4 <= n; i += 4) buf.writeUInt32LE(next(), i);
    for (; i < n; i++) buf[i] = next() & 0xff;
    left -= n;
    yield buf;
  }
}

export function randomBytesSeeded(seed: number, size: number): Buffer {
  return Buffer.concat([...randomChunks(seed, size)], size);
}

export function sha256(data: Buffer | Iterable<Buffer>): string {
  const h = createHash('sha256');
  if (Buffer.isBuffer(data)) h.update(data);
  else for (const c of data) h.update(c);
  return h.digest('hex');
}

export async function writeRandomFile(path: string, seed: number, size: number): Promise<string> {
  const out = createWriteStream(path);
  const h = createHash('sha256');
  for (const c of randomChunks(seed, size)) {
    h.update(c);
    if (!out.write(c)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return h.digest('hex');
}
