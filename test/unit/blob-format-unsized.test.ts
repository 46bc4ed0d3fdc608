/**
 * encryptBlobUnsized (POST Object's file, whose length is known only at its end)
 * writes the very bytes encryptBlob writes for the same plaintext and
 * parameters: the frozen format is unchanged, whatever the size or chunking.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encryptBlob, encryptBlobUnsized, PACKAGE_SIZE, type BlobCipherParams } from '../../src/crypto/blob-format.js';
import { prng, randomBytesSeeded } from '../helpers/data.js';

const P = PACKAGE_SIZE;
const keys = [Buffer.alloc(32, 0x11), Buffer.alloc(32, 0x22)];
const params = (layers: 1 | 2): BlobCipherParams => ({ version: 2, layers, partNumber: 0, salt: Buffer.alloc(32, 0x5a), binding: Buffer.alloc(32, 0x33) });

async function* pieces(data: Buffer, seed: number, max: number): AsyncGenerator<Buffer> {
  const next = prng(seed);
  let pos = 0;
  while (pos < data.length) {
    const n = 1 + (next() % max);
    yield data.subarray(pos, pos + n);
    pos += n;
  }
}

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of it) out.push(c);
  return Buffer.concat(out);
}

for (const layers of [1, 2] as const) {
  for (const size of [0, 1, P - 1, P, P + 1, 2 * P, 3 * P + 17]) {
    test(`encryptBlobUnsized_equals_encryptBlob_${layers}_layer_${size}_bytes`, async () => {
      const data = randomBytesSeeded(size + 7, size);
      const k = keys.slice(0, layers);
      const sized = await collect(encryptBlob(pieces(data, 1, 100_000), { size, dataKeys: k, params: params(layers) }));
      for (const [seed, max] of [[2, 7], [3, 100_000], [4, 3 * P]] as const) {
        const unsized = await collect(encryptBlobUnsized(pieces(data, seed, max), { dataKeys: k, params: params(layers) }));
        assert.ok(unsized.equals(sized), `chunks up to ${max} bytes`);
      }
    });
  }
}
