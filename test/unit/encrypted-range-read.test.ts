/**
 * Range reads of encrypted objects cost O(range): through the real write and
 * read pipelines and the real filesystem BlobStore, reading the last 4 KiB of
 * a large SSE object reads at most a few 64 KiB packages from disk, counted
 * by the store's own bytes-read counter.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { FsBlobStore } from '../../src/blob/fs/fs-blob-store.js';
import { PACKAGE_SIZE, TAG_SIZE } from '../../src/crypto/blob-format.js';
import { readParts } from '../../src/storage/object-reader.js';
import { writeData } from '../../src/storage/object-writer.js';
import { randomChunks } from '../helpers/data.js';

const dir = mkdtempSync(join(tmpdir(), 'coffer-range-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of it) out.push(c);
  return Buffer.concat(out);
}

test('last_4KiB_of_a_256MiB_encrypted_object_reads_at_most_three_packages', async () => {
  const size = 256 * 1024 * 1024 + 123;
  const blobs = await FsBlobStore.open({ root: dir });
  const dataKeys = [Buffer.alloc(32, 3)];
  const identity = { bucket: 'b', key: 'big', objectId: 'id-1' };
  async function* source() {
    yield* randomChunks(42, size);
  }
  const written = await writeData(blobs, source(), { expectedSize: size, maxSize: size, encrypt: { dataKeys, partNumber: 0, identity } });
  await written.pending.publish();
  const part = { partNumber: 1, blobId: written.pending.blobId, size, etag: written.md5, cipher: written.cipher! };
  // The expected bytes: the tail of the same seeded stream.
  let tail = Buffer.alloc(0);
  for (const c of randomChunks(42, size)) tail = Buffer.concat([tail, c]).subarray(-4096);

  const before = blobs.stats().bytesRead;
  const got = await collect(readParts(blobs, [part], { start: size - 4096, end: size - 1 }, { dataKeys, identity }));
  const read = blobs.stats().bytesRead - before;
  assert.deepEqual(got, tail);
  assert.ok(read <= 3 * (PACKAGE_SIZE + TAG_SIZE), `read ${read} bytes from disk for a 4 KiB range`);

  // A range in the middle, across a package boundary, likewise.
  const mid = Math.floor(size / 2 / PACKAGE_SIZE) * PACKAGE_SIZE - 100;
  const before2 = blobs.stats().bytesRead;
  const middle = await collect(readParts(blobs, [part], { start: mid, end: mid + 199 }, { dataKeys, identity }));
  assert.equal(middle.length, 200);
  assert.ok(blobs.stats().bytesRead - before2 <= 2 * (PACKAGE_SIZE + TAG_SIZE));
});
