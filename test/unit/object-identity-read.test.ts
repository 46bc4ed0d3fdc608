/**
 * The read pipeline decrypts a part as the object it was written for: through
 * the real write and read pipelines and the real filesystem BlobStore, a
 * format-2 part reads back only under its own bucket, key and object id;
 * parts written in format 1 (before the binding) still read, alone or mixed
 * with format-2 parts in one multipart object; and a document that claims an
 * encrypted part is stored in clear, or names an unknown format, is refused.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FsBlobStore } from '../../src/blob/fs/fs-blob-store.js';
import { BlobIntegrityError, encryptBlob, type ObjectIdentity } from '../../src/crypto/blob-format.js';
import type { StoredPart } from '../../src/metadata/metadata-store.js';
import { readParts } from '../../src/storage/object-reader.js';
import { writeData } from '../../src/storage/object-writer.js';
import { randomBytesSeeded } from '../helpers/data.js';

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of it) out.push(c);
  return Buffer.concat(out);
}

async function* once(data: Buffer): AsyncGenerator<Buffer> {
  yield data;
}

describe('reading parts as their object', () => {
  const dir = mkdtempSync(join(tmpdir(), 'coffer-identity-'));
  let blobs: FsBlobStore;
  const dataKeys = [Buffer.alloc(32, 7)];
  const identity: ObjectIdentity = { bucket: 'photos', key: 'a.jpg', objectId: 'upload-1' };
  const first = randomBytesSeeded(1, 70_000);
  const second = randomBytesSeeded(2, 65_536 * 2 + 3);
  let v2Part: StoredPart;
  let v1Part: StoredPart;

  before(async () => {
    blobs = await FsBlobStore.open({ root: dir });
    const written = await writeData(blobs, once(second), { expectedSize: second.length, maxSize: second.length, encrypt: { dataKeys, partNumber: 2, identity } });
    await written.pending.publish();
    assert.equal(written.cipher?.format, 2, 'new parts are written in format 2');
    v2Part = { partNumber: 2, blobId: written.pending.blobId, size: second.length, etag: written.md5, cipher: written.cipher! };
    // A part as Coffer wrote it before format 2: a version-1 blob, and a cipher record without `format`.
    const salt = randomBytesSeeded(3, 32);
    const old = await blobs.write(encryptBlob(once(first), { size: first.length, dataKeys, params: { version: 1, layers: 1, partNumber: 1, salt } }));
    await old.publish();
    v1Part = { partNumber: 1, blobId: old.blobId, size: first.length, etag: 'x', cipher: { salt: salt.toString('base64'), part: 1 } };
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const read = (parts: StoredPart[], as: ObjectIdentity, start = 0, end = parts.reduce((n, p) => n + p.size, 0) - 1) =>
    collect(readParts(blobs, parts, { start, end }, { dataKeys, identity: as }));

  test('a_format_2_part_reads_under_its_own_identity_whole_and_ranged', async () => {
    assert.deepEqual(await read([v2Part], identity), second);
    assert.deepEqual(await read([v2Part], identity, 65_530, 65_540), second.subarray(65_530, 65_541));
  });

  test('a_format_2_part_never_reads_as_another_object', async () => {
    for (const other of [
      { ...identity, bucket: 'photos-2' },
      { ...identity, key: 'b.jpg' },
      { ...identity, objectId: 'upload-2' },
      { ...identity, objectId: '' },
    ]) {
      await assert.rejects(read([v2Part], other), BlobIntegrityError, JSON.stringify(other));
      await assert.rejects(read([v2Part], other, 65_536 * 2, second.length - 1), BlobIntegrityError, `last package as ${JSON.stringify(other)}`);
    }
  });

  test('format_1_parts_still_read_alone_and_mixed_with_format_2', async () => {
    assert.deepEqual(await read([v1Part], identity), first);
    // Format 1 binds no identity: it reads whatever the request names (the weakness format 2 closes).
    assert.deepEqual(await read([v1Part], { bucket: 'any', key: 'thing', objectId: '' }), first);
    // An upload whose first part was written before the upgrade and its second after.
    assert.deepEqual(await read([v1Part, v2Part], identity), Buffer.concat([first, second]));
    assert.deepEqual(await read([v1Part, v2Part], identity, first.length - 5, first.length + 5), Buffer.concat([first, second]).subarray(first.length - 5, first.length + 6));
  });

  test('a_document_that_drops_the_cipher_or_names_an_unknown_format_is_refused', async () => {
    const { cipher: _dropped, ...inClear } = v2Part;
    await assert.rejects(read([inClear], identity), BlobIntegrityError);
    await assert.rejects(read([{ ...v2Part, cipher: { ...v2Part.cipher!, format: 3 as never } }], identity), BlobIntegrityError);
    // Relabelled as format 1, a format-2 blob gets other keys.
    const { format: _f, ...asV1 } = v2Part.cipher!;
    await assert.rejects(read([{ ...v2Part, cipher: asV1 }], identity), BlobIntegrityError);
  });
});
