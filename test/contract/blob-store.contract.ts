/** The BlobStore contract, run against every driver. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { randomBytes } from 'node:crypto';
import { BlobNotFoundError, SCRATCH_MIN_CHUNK, type BlobStore } from '../../src/blob/blob-store.js';

export interface BlobStoreFactory {
  name: string;
  create(): Promise<BlobStore>;
  destroy?(): Promise<void>;
}

async function* chunks(...parts: (string | Buffer)[]): AsyncGenerator<Buffer> {
  for (const p of parts) yield Buffer.isBuffer(p) ? p : Buffer.from(p);
}

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of it) out.push(c);
  return Buffer.concat(out);
}

export function blobStoreContract(factory: BlobStoreFactory): void {
  describe(`BlobStore contract: ${factory.name}`, () => {
    let store: BlobStore;
    before(async () => (store = await factory.create()));
    after(async () => factory.destroy?.());

    test('write_publish_read_whole_and_ranges', async () => {
      const data = Buffer.from('0123456789abcdefghij');
      const pending = await store.write(chunks(data.subarray(0, 7), data.subarray(7)));
      assert.equal(pending.size, 20);
      assert.deepEqual(await collect(await store.read(pending.blobId)), data, 'readable before publish');
      await pending.publish();
      assert.deepEqual(await collect(await store.read(pending.blobId)), data);
      assert.deepEqual(await collect(await store.read(pending.blobId, { start: 3, end: 5 })), Buffer.from('345'));
      assert.deepEqual(await collect(await store.read(pending.blobId, { start: 19, end: 19 })), Buffer.from('j'));
    });

    test('probe_resolves_while_the_backend_answers', async () => {
      // Readiness (/_coffer/health/ready) asks this; the integration tests make it fail.
      await store.probe();
    });

    test('read_counts_bytes', async () => {
      const pending = await store.write(chunks('x'.repeat(1000)));
      await pending.publish();
      const before = store.stats().bytesRead;
      await collect(await store.read(pending.blobId, { start: 10, end: 19 }));
      assert.equal(store.stats().bytesRead - before, 10);
    });

    test('failed_source_leaves_nothing', async () => {
      async function* failing(): AsyncGenerator<Buffer> {
        yield Buffer.from('partial');
        throw new Error('client went away');
      }
      await assert.rejects(store.write(failing()), /client went away/);
      const recovered = await store.recover(async () => new Set());
      assert.equal(recovered.removed, 0, 'no staged leftovers from a failed write');
    });

    test('discard_and_delete', async () => {
      const a = await store.write(chunks('a'));
      await a.discard();
      await assert.rejects(store.read(a.blobId), BlobNotFoundError);
      const b = await store.write(chunks('b'));
      await b.publish();
      await store.delete(b.blobId);
      await assert.rejects(store.read(b.blobId), BlobNotFoundError);
      await store.delete(b.blobId); // absent is fine
      await assert.rejects(store.read('not-an-id'), BlobNotFoundError);
    });

    // The blob collector deletes a round's blobs side by side; the others must be untouched.
    test('concurrent_deletes_remove_exactly_those_blobs', async () => {
      const written = await Promise.all(Array.from({ length: 40 }, (_, i) => store.write(chunks(`blob ${i}`, i % 2 ? randomBytes(i) : ''))));
      await Promise.all(written.map((w) => w.publish()));
      const [gone, kept] = [written.filter((_, i) => i % 3 !== 0), written.filter((_, i) => i % 3 === 0)];
      await Promise.all([...gone.map((w) => store.delete(w.blobId)), store.delete(gone[0]!.blobId)]);
      for (const w of gone) await assert.rejects(store.read(w.blobId), BlobNotFoundError);
      for (const w of kept) assert.equal((await collect(await store.read(w.blobId))).length, w.size);
      await Promise.all(kept.map((w) => store.delete(w.blobId)));
      for (const w of kept) await assert.rejects(store.read(w.blobId), BlobNotFoundError);
    });

    // A GET can resolve an object the moment its PUT commits, while the PUT publishes the
    // blob: the read must find it wherever it is at that instant, never "not found".
    test('a_blob_read_while_it_is_published_is_found', async () => {
      const data = randomBytes(1024);
      let misses = 0;
      // Before the fix the fs driver missed about one read in twelve here.
      for (let i = 0; i < 100; i++) {
        const p = await store.write(chunks(data));
        const [, read] = await Promise.all([p.publish(), store.read(p.blobId).then(collect, (err: unknown) => err)]);
        if (read instanceof BlobNotFoundError) misses++;
        else assert.deepEqual(read, data);
        await store.delete(p.blobId);
      }
      assert.equal(misses, 0, 'reads that found the blob in neither place');
    });

    // A committed object can be replaced, and its blob collected, before the request that wrote
    // it has published that blob: publishing then finds nothing to move, which is not a failure,
    // and must not bring the blob back.
    test('a_blob_deleted_before_it_is_published_stays_deleted_and_publish_succeeds', async () => {
      const small = await store.write(chunks('early'));
      const large = await store.write(chunks(randomBytes(64 * 1024)));
      for (const p of [small, large]) {
        await store.delete(p.blobId);
        await p.publish();
        await assert.rejects(store.read(p.blobId), BlobNotFoundError);
      }
      const recovered = await store.recover(async (ids) => new Set(ids));
      assert.equal(recovered.published, 0, 'nothing left in staging to publish');
    });

    test('recover_publishes_referenced_and_removes_the_rest', async () => {
      const keep = await store.write(chunks('keep'));
      const drop = await store.write(chunks('drop'));
      const result = await store.recover(async (ids) => new Set(ids.filter((id) => id === keep.blobId)));
      assert.deepEqual(result, { published: 1, removed: 1 });
      assert.deepEqual(await collect(await store.read(keep.blobId)), Buffer.from('keep'));
      await assert.rejects(store.read(drop.blobId), BlobNotFoundError);
    });

    test('scratch_reads_return_the_same_bytes_in_chunks_of_at_least_the_minimum', async () => {
      const data = randomBytes(600 * 1024 + 13);
      const p = await store.write(chunks(data.subarray(0, 100_000), data.subarray(100_000)));
      await p.publish();
      // Two scratch readers at once share the store's buffer pool; each copies its chunks out at once.
      const readCopying = async (start: number, end: number) => {
        const out: Buffer[] = [];
        const sizes: number[] = [];
        for await (const c of await store.read(p.blobId, { start, end }, { scratch: true })) {
          out.push(Buffer.from(c));
          sizes.push(c.length);
        }
        for (const n of sizes.slice(0, -1)) assert.ok(n >= SCRATCH_MIN_CHUNK, `chunk of ${n} bytes`);
        return Buffer.concat(out);
      };
      const [a, b] = await Promise.all([readCopying(0, data.length - 1), readCopying(70_001, 500_000)]);
      assert.ok(a.equals(data));
      assert.ok(b.equals(data.subarray(70_001, 500_001)));
    });

    // The blob collector deletes the blobs of a one-blob object without a grace period
    // (metadata-rules.ts collectableAtOnce): that is safe only because a read, once `read`
    // has answered, gets the whole blob even if the blob is deleted meanwhile.
    test('a_blob_being_read_stays_readable_to_its_end_when_it_is_deleted', async () => {
      // Several chunks each: the stores under test read plain chunks of a few bytes, scratch ones of about 1 MiB.
      for (const [options, data] of [
        [{}, randomBytes(10_000)],
        [{ scratch: true }, randomBytes(3 * 1024 * 1024 + 77)],
      ] as const) {
        const p = await store.write(chunks(data.subarray(0, 1000), data.subarray(1000)));
        await p.publish();
        const it = (await store.read(p.blobId, undefined, options))[Symbol.asyncIterator]();
        const out: Buffer[] = [];
        const first = await it.next();
        assert.ok(!first.done);
        out.push(Buffer.from(first.value));
        await store.delete(p.blobId);
        await assert.rejects(store.read(p.blobId), BlobNotFoundError, 'deleted: a new read does not find it');
        for (let r = await it.next(); !r.done; r = await it.next()) out.push(Buffer.from(r.value));
        assert.ok(Buffer.concat(out).equals(data), 'the read that had begun got every byte');
      }
    });

    test('empty_blob', async () => {
      const p = await store.write(chunks());
      assert.equal(p.size, 0);
      await p.publish();
      assert.equal((await collect(await store.read(p.blobId))).length, 0);
    });
  });
}
