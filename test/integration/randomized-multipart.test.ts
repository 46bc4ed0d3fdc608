/**
 * Randomized multipart uploads: seeded random part counts (1–8) and sizes
 * (min..3×min, the last smaller), uploaded in random order and concurrency,
 * sometimes re-uploading a part, sometimes as aws-chunked streams; then many
 * random ranges (first-last, open-ended, suffix, unsatisfiable) and partNumber
 * reads, each compared byte for byte with the expected plaintext.
 *
 * Reproduce a failure with the seed printed in the test names:
 *   COFFER_TEST_SEED=<seed> node --test dist/test/integration/randomized-multipart.test.js
 */
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { prng, randomBytesSeeded } from '../helpers/data.js';
import { bodyBytes, expectS3Error, md5Hex, multipartEtag } from '../helpers/s3.js';
import { startServer, type TestServer } from '../helpers/server.js';

const MIN = 64 * 1024;
const ROUNDS = 8;
const RANGES_PER_ROUND = 40;
const SEED = process.env.COFFER_TEST_SEED !== undefined ? Number(process.env.COFFER_TEST_SEED) : randomInt(1, 2 ** 31 - 1);
console.log(`# randomized-multipart seed ${SEED} (reproduce with COFFER_TEST_SEED=${SEED})`);

/** Uniform integers from a seeded xorshift. */
class Rng {
  readonly #next: () => number;
  constructor(seed: number) {
    // Mix the seed so nearby seeds (one per round) give unrelated streams.
    this.#next = prng(Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) ^ 0x5bd1e995);
  }
  /** Integer in [lo, hi], inclusive. */
  int(lo: number, hi: number): number {
    return lo + (this.#next() % (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.#next() / 0x1_0000_0000 < p;
  }
  shuffle<T>(items: T[]): T[] {
    const a = [...items];
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a;
  }
}

interface RangeCase {
  header: string;
  /** Inclusive bounds of the expected bytes, or undefined when unsatisfiable. */
  expected?: { start: number; end: number };
}

/** A random Range header over an object of `size` bytes (> 0) whose part boundaries are `bounds`. */
function randomRange(rng: Rng, size: number, bounds: number[]): RangeCase {
  const kind = rng.int(0, 9);
  if (kind <= 3) {
    // first-last anywhere, sometimes running past the end (S3 clamps).
    const start = rng.int(0, size - 1);
    const end = rng.chance(0.15) ? size + rng.int(0, 1000) : rng.int(start, size - 1);
    return { header: `bytes=${start}-${end}`, expected: { start, end: Math.min(end, size - 1) } };
  }
  if (kind <= 5) {
    // Around a part boundary, so the range spans two or more parts.
    const b = bounds[rng.int(0, bounds.length - 1)]!;
    const start = Math.max(0, b - rng.int(1, 3 * MIN));
    const end = Math.min(size - 1, b + rng.int(0, 3 * MIN));
    return { header: `bytes=${start}-${end}`, expected: { start, end } };
  }
  if (kind === 6) {
    const start = rng.int(0, size - 1);
    return { header: `bytes=${start}-`, expected: { start, end: size - 1 } };
  }
  if (kind <= 8) {
    const n = rng.chance(0.1) ? size + rng.int(1, 100) : rng.int(1, size);
    return { header: `bytes=-${n}`, expected: { start: Math.max(0, size - n), end: size - 1 } };
  }
  const start = size + rng.int(0, 100);
  return { header: `bytes=${start}-${start + rng.int(0, 100)}` };
}

describe(`randomized multipart (seed ${SEED})`, () => {
  let server: TestServer;
  let s3: S3Client;
  const B = 'random-mpu';

  before(async () => {
    server = await startServer({ args: ['--min-part-size', String(MIN)] });
    s3 = server.client();
    await s3.send(new CreateBucketCommand({ Bucket: B }));
  });
  after(async () => {
    s3?.destroy();
    await server?.destroy();
  });

  for (let round = 0; round < ROUNDS; round++) {
    const roundSeed = SEED + round * 7919;
    test(`randomized_multipart_round_${round}_seed_${SEED}`, async () => {
      const rng = new Rng(roundSeed);
      const where = (what: string) => `seed ${SEED} round ${round}: ${what}`;
      const key = `r${round}/obj-${rng.int(0, 1e6)}`;
      const count = rng.int(1, 8);
      const sizes = Array.from({ length: count }, (_, i) => (i < count - 1 ? rng.int(MIN, 3 * MIN) : rng.int(count > 1 && rng.chance(0.1) ? 0 : 1, MIN - 1)));
      let dataSeed = roundSeed * 31;
      const parts = sizes.map((n) => randomBytesSeeded(++dataSeed, n));
      const asStream = rng.chance(0.5);

      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: key }));
      const etags = new Map<number, string>();
      const send = async (partNumber: number, body: Buffer) => {
        const out = await s3.send(
          new UploadPartCommand({
            Bucket: B,
            Key: key,
            UploadId,
            PartNumber: partNumber,
            ...(asStream ? { Body: Readable.from([body]), ContentLength: body.length } : { Body: body }),
          }),
        );
        assert.equal(out.ETag, `"${md5Hex(body)}"`, where(`ETag of part ${partNumber}`));
        etags.set(partNumber, out.ETag!);
      };
      // A wrong first version of one part, replaced later.
      const replaced = count > 1 && rng.chance(0.5) ? rng.int(1, count) : undefined;
      if (replaced !== undefined) await send(replaced, randomBytesSeeded(++dataSeed, rng.int(1, 2 * MIN)));
      const order = rng.shuffle(parts.map((_, i) => i));
      const concurrency = rng.int(1, 4);
      for (let i = 0; i < order.length; i += concurrency) {
        await Promise.all(order.slice(i, i + concurrency).map((idx) => send(idx + 1, parts[idx]!)));
      }

      const done = await s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: B,
          Key: key,
          UploadId,
          MultipartUpload: { Parts: parts.map((_, i) => ({ PartNumber: i + 1, ETag: etags.get(i + 1)! })) },
        }),
      );
      const whole = Buffer.concat(parts);
      const size = whole.length;
      assert.equal(done.ETag, multipartEtag(parts), where('completed ETag'));

      const full = await s3.send(new GetObjectCommand({ Bucket: B, Key: key }));
      assert.equal(full.ContentLength, size, where('ContentLength'));
      assert.ok((await bodyBytes(full)).equals(whole), where('full GET'));

      // Every partNumber read returns exactly that part.
      let offset = 0;
      for (const [i, part] of parts.entries()) {
        const PartNumber = i + 1;
        const got = await s3.send(new GetObjectCommand({ Bucket: B, Key: key, PartNumber }));
        assert.equal(got.PartsCount, count, where(`PartsCount for part ${PartNumber}`));
        assert.equal(got.ContentLength, part.length, where(`ContentLength of part ${PartNumber}`));
        assert.ok((await bodyBytes(got)).equals(part), where(`bytes of part ${PartNumber} (offset ${offset}, size ${part.length})`));
        offset += part.length;
      }
      const probe = rng.int(1, count);
      const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key: key, PartNumber: probe }));
      assert.equal(head.ContentLength, parts[probe - 1]!.length, where(`HEAD partNumber=${probe}`));
      assert.equal(head.PartsCount, count);
      await expectS3Error(s3.send(new GetObjectCommand({ Bucket: B, Key: key, PartNumber: count + 1 })), 'InvalidPartNumber', 416);

      // Random ranges.
      const bounds: number[] = [];
      for (let i = 0, o = 0; i < parts.length - 1; i++) bounds.push((o += parts[i]!.length));
      if (bounds.length === 0) bounds.push(Math.floor(size / 2));
      for (let i = 0; i < RANGES_PER_ROUND; i++) {
        const r = randomRange(rng, size, bounds);
        if (!r.expected) {
          await expectS3Error(s3.send(new GetObjectCommand({ Bucket: B, Key: key, Range: r.header })), 'InvalidRange', 416);
          continue;
        }
        const got = await s3.send(new GetObjectCommand({ Bucket: B, Key: key, Range: r.header }));
        const { start, end } = r.expected;
        assert.equal(got.$metadata.httpStatusCode, 206, where(r.header));
        assert.equal(got.ContentRange, `bytes ${start}-${end}/${size}`, where(`Content-Range for ${r.header}`));
        const bytes = await bodyBytes(got);
        assert.equal(bytes.length, end - start + 1, where(`length for ${r.header}`));
        assert.ok(bytes.equals(whole.subarray(start, end + 1)), where(`bytes for ${r.header} (size ${size}, parts ${sizes.join(',')})`));
      }
    });
  }
});
