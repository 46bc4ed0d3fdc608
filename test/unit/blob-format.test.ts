/**
 * The encrypted blob format (src/crypto/blob-format.ts, docs/encryption.md):
 * golden vectors of versions 1 and 2 that must decrypt forever, round trips
 * over every size and range class, and tampering — a flipped byte, swapped or
 * dropped packages, the wrong part or key, and in version 2 the wrong object
 * (bucket, key, object id, version id) or a downgrade to version 1 — always
 * fails, never returns wrong bytes.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  BlobIntegrityError,
  decryptRange,
  encryptBlob,
  encryptedSize,
  FORMAT_VERSION,
  HEADER_SIZE,
  identityBinding,
  PACKAGE_SIZE,
  parseHeader,
  TAG_SIZE,
  type BlobCipherParams,
  type ObjectIdentity,
} from '../../src/crypto/blob-format.js';
import { prng, randomBytesSeeded } from '../helpers/data.js';

const P = PACKAGE_SIZE;
const key1 = Buffer.alloc(32, 0x11);
const key2 = Buffer.alloc(32, 0x22);
const fixedParams = (layers: 1 | 2, partNumber = 0): BlobCipherParams => ({ version: 1, layers, partNumber, salt: Buffer.alloc(32, 0x5a) });
const keysFor = (layers: 1 | 2) => (layers === 1 ? [key1] : [key1, key2]);

async function* pieces(data: Buffer, seed: number): AsyncGenerator<Buffer> {
  const next = prng(seed);
  let pos = 0;
  while (pos < data.length) {
    const n = 1 + (next() % 100_000);
    yield data.subarray(pos, pos + n);
    pos += n;
  }
}

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of it) out.push(c);
  return Buffer.concat(out);
}

async function encrypt(data: Buffer, params: BlobCipherParams, keys = keysFor(params.layers), seed = 1): Promise<Buffer> {
  return collect(encryptBlob(pieces(data, seed), { size: data.length, dataKeys: keys, params }));
}

function reader(blob: Buffer, counter?: { bytes: number }) {
  return async (start: number, end: number) => {
    if (counter) counter.bytes += end - start + 1;
    const slice = blob.subarray(start, Math.min(end + 1, blob.length));
    return (async function* () {
      for (let i = 0; i < slice.length; i += 10_000) yield slice.subarray(i, i + 10_000);
    })();
  };
}

async function decrypt(blob: Buffer, size: number, params: BlobCipherParams, start = 0, end = size - 1, keys = keysFor(params.layers)): Promise<Buffer> {
  return collect(decryptRange({ size, dataKeys: keys, params, start, end, read: reader(blob) }));
}

describe('blob format v1', () => {
  // Golden vectors: produced once by format v1 and frozen. If one of these fails, the
  // change broke every object at rest — revert it and make a format version 2 instead.
  const GOLDEN: { name: string; layers: 1 | 2; partNumber: number; size: number; sha256: string }[] = [
    { name: 'empty', layers: 1, partNumber: 0, size: 0, sha256: '39015fd9205dc29779f6cbcbb0573effc29467fbc1ebaeddf8bc8b0c995f7c8e' },
    { name: 'hello', layers: 1, partNumber: 0, size: 5, sha256: 'e552a207f385ff70346c9fdb9cba0df1b04833877fd19d5a86c146127470d4ca' },
    { name: 'two packages and a byte, part 3', layers: 1, partNumber: 3, size: 2 * P + 1, sha256: '93cb22369993fb82653a47d4be32cf2f475745e06b1003cbc241ff6ba3c2fb6d' },
    { name: 'dsse one package plus one', layers: 2, partNumber: 0, size: P + 1, sha256: '238ceb67943679c54cfe207500838a92f302d3d0ac675b3dc92a904b8d288e44' },
  ];
  const plaintextFor = (size: number) => (size === 5 ? Buffer.from('hello') : randomBytesSeeded(size + 7, size));
  for (const g of GOLDEN) {
    test(`golden_vector_${g.name.replaceAll(' ', '_')}`, async () => {
      const plain = plaintextFor(g.size);
      const params = fixedParams(g.layers, g.partNumber);
      const blob = await encrypt(plain, params);
      const digest = createHash('sha256').update(blob).digest('hex');
      assert.equal(digest, g.sha256, `blob digest for ${g.name}`);
      assert.equal(blob.length, encryptedSize(g.size, g.layers));
      assert.deepEqual(await decrypt(blob, g.size, params), plain);
    });
  }

  test('golden_hello_blob_bytes', async () => {
    const blob = await encrypt(Buffer.from('hello'), fixedParams(1));
    // Also checked once with an independent implementation (Python `cryptography`: HKDF + AESGCM) of docs/encryption.md.
    assert.equal(blob.toString('hex'), '4346424c0101000000010000000000005a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a7794949ce2c636603e764b53854de5f873eb0ab781');
  });

  test('header_is_parsable_and_carries_the_params', async () => {
    const params = fixedParams(2, 42);
    const blob = await encrypt(Buffer.from('x'), params);
    assert.deepEqual(parseHeader(blob.subarray(0, HEADER_SIZE)), params);
  });

  for (const layers of [1, 2] as const) {
    for (const size of [0, 1, P - 1, P, P + 1, 3 * P + 5]) {
      test(`round_trip_layers_${layers}_size_${size}_whole_and_ranges`, async () => {
        const plain = randomBytesSeeded(size + layers, size);
        const params = { ...fixedParams(layers), salt: randomBytesSeeded(size, 32) };
        const blob = await encrypt(plain, params, keysFor(layers), size);
        assert.equal(blob.length, encryptedSize(size, layers));
        assert.deepEqual(await decrypt(blob, size, params), plain);
        const next = prng(size * 31 + layers);
        const edges = [0, 1, P - 1, P, P + 1, 2 * P - 1, 2 * P, size - 2, size - 1].filter((x) => x >= 0 && x < size);
        const ranges: [number, number][] = [];
        for (const a of edges) for (const b of edges) if (a <= b) ranges.push([a, b]);
        for (let i = 0; i < 20 && size > 0; i++) {
          const a = next() % size;
          ranges.push([a, a + (next() % (size - a))]);
        }
        for (const [a, b] of ranges) assert.deepEqual(await decrypt(blob, size, params, a, b), plain.subarray(a, b + 1), `range ${a}-${b}`);
      });
    }
  }

  test('range_read_touches_only_the_packages_it_needs', async () => {
    const size = 40 * P + 123;
    const plain = randomBytesSeeded(9, size);
    const params = fixedParams(1);
    const blob = await encrypt(plain, params);
    const counter = { bytes: 0 };
    const got = await collect(decryptRange({ size, dataKeys: [key1], params, start: size - 4096, end: size - 1, read: reader(blob, counter) }));
    assert.deepEqual(got, plain.subarray(size - 4096));
    // The last 4 KiB straddles at most two packages.
    assert.ok(counter.bytes <= 2 * (P + TAG_SIZE), `read ${counter.bytes} bytes`);
  });

  describe('tampering is detected, never returned as data', () => {
    const size = 3 * P + 100;
    const plain = randomBytesSeeded(77, size);
    const params = fixedParams(1, 2);
    const stride = P + TAG_SIZE;
    const fails = async (blob: Buffer, p: BlobCipherParams = params, keys = [key1], start = 0, end = size - 1) => {
      await assert.rejects(decrypt(blob, size, p, start, end, keys), BlobIntegrityError);
    };

    test('flipped_byte_in_every_package_and_tag', async () => {
      const blob = await encrypt(plain, params);
      for (const offset of [HEADER_SIZE, HEADER_SIZE + 1000, HEADER_SIZE + P, HEADER_SIZE + stride + 5, blob.length - 1, blob.length - TAG_SIZE - 1]) {
        const bad = Buffer.from(blob);
        bad[offset]! ^= 0x01;
        await fails(bad);
      }
    });

    test('swapped_packages', async () => {
      const blob = await encrypt(plain, params);
      const bad = Buffer.from(blob);
      blob.copy(bad, HEADER_SIZE, HEADER_SIZE + stride, HEADER_SIZE + 2 * stride);
      blob.copy(bad, HEADER_SIZE + stride, HEADER_SIZE, HEADER_SIZE + stride);
      await fails(bad);
    });

    test('truncated_blob_even_at_a_package_boundary', async () => {
      const blob = await encrypt(plain, params);
      await fails(blob.subarray(0, blob.length - 1));
      await fails(blob.subarray(0, HEADER_SIZE + 3 * stride));
      // Claiming the object ends at a package boundary: the final flag does not match.
      await assert.rejects(decrypt(blob.subarray(0, HEADER_SIZE + 3 * stride), 3 * P, params), BlobIntegrityError);
    });

    test('other_part_number_or_salt_or_key_or_layer_count', async () => {
      const blob = await encrypt(plain, params);
      await fails(blob, { ...params, partNumber: 3 });
      await fails(blob, { ...params, salt: Buffer.alloc(32, 1) });
      await fails(blob, params, [key2]);
    });

    test('the_same_plaintext_encrypts_differently_under_fresh_salts', async () => {
      const a = await encrypt(plain, { ...params, salt: randomBytesSeeded(1, 32) });
      const b = await encrypt(plain, { ...params, salt: randomBytesSeeded(2, 32) });
      assert.notDeepEqual(a.subarray(HEADER_SIZE, HEADER_SIZE + 64), b.subarray(HEADER_SIZE, HEADER_SIZE + 64));
      assert.equal(a.indexOf(plain.subarray(0, 32)), -1);
    });
  });

  test('source_longer_or_shorter_than_declared_throws', async () => {
    await assert.rejects(collect(encryptBlob(pieces(Buffer.alloc(10), 1), { size: 9, dataKeys: [key1], params: fixedParams(1) })));
    await assert.rejects(collect(encryptBlob(pieces(Buffer.alloc(10), 1), { size: 11, dataKeys: [key1], params: fixedParams(1) })));
  });
});

describe('blob format v2: bound to the object identity', () => {
  const identity: ObjectIdentity = { bucket: 'golden-bucket', key: 'photos/2026/ünïcode key.jpg', objectId: '00112233445566778899aabbccddeeff' };
  const v2 = (layers: 1 | 2, partNumber = 0, id: ObjectIdentity = identity): BlobCipherParams => ({
    version: 2,
    layers,
    partNumber,
    salt: Buffer.alloc(32, 0x5a),
    binding: identityBinding(id),
  });

  test('new_blobs_are_written_in_version_2', () => {
    assert.equal(FORMAT_VERSION, 2);
  });

  test('golden_identity_binding', () => {
    // Checked once with an independent implementation (Python hashlib) of docs/encryption.md.
    assert.equal(identityBinding(identity).toString('hex'), '570201e16afa5cb518a944c21593e4d06a9bdec8e57fab487a4905fe2d5eb2e0');
    // An absent version id is the empty one.
    assert.deepEqual(identityBinding({ ...identity, versionId: '' }), identityBinding(identity));
  });

  // Golden vectors of version 2: frozen like those of version 1.
  const GOLDEN: { name: string; layers: 1 | 2; partNumber: number; size: number; sha256: string }[] = [
    { name: 'empty', layers: 1, partNumber: 0, size: 0, sha256: 'a529395c8d90de0ae2ec19615ee7ae78feb92d6ee375ef7d4ec0a89557de26fa' },
    { name: 'hello', layers: 1, partNumber: 0, size: 5, sha256: 'ef4d24c382f48b078906d20e6ce18d97f85016fe819d888a3fba60478b14ec6c' },
    { name: 'two packages and a byte, part 3', layers: 1, partNumber: 3, size: 2 * P + 1, sha256: 'a07a7f3059fc3be4162e195dbd8bd0c8a012050024b4daa37e12d5465c92a1b7' },
    { name: 'dsse one package plus one', layers: 2, partNumber: 0, size: P + 1, sha256: '83f6fb64daf191d7798556240c2cec9b3a97ea637d402a311285ec38e5a1fd91' },
  ];
  const plaintextFor = (size: number) => (size === 5 ? Buffer.from('hello') : randomBytesSeeded(size + 7, size));
  for (const g of GOLDEN) {
    test(`golden_vector_v2_${g.name.replaceAll(' ', '_')}`, async () => {
      const plain = plaintextFor(g.size);
      const params = v2(g.layers, g.partNumber);
      const blob = await encrypt(plain, params);
      assert.equal(createHash('sha256').update(blob).digest('hex'), g.sha256, `blob digest for ${g.name}`);
      assert.equal(blob.length, encryptedSize(g.size, g.layers), 'version 2 adds no byte to a blob');
      assert.deepEqual(await decrypt(blob, g.size, params), plain);
    });
  }

  test('golden_v2_hello_blob_bytes', async () => {
    const blob = await encrypt(Buffer.from('hello'), v2(1));
    // Checked once with an independent implementation (Python `cryptography`: HKDF + AESGCM) of docs/encryption.md.
    assert.equal(blob.toString('hex'), '4346424c0201000000010000000000005a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a6f9502da5ad89091de4b00f529e31f89b1d60d5e75');
  });

  test('header_says_version_2_and_carries_no_identity', async () => {
    const blob = await encrypt(Buffer.from('x'), v2(2, 42));
    assert.deepEqual(parseHeader(blob.subarray(0, HEADER_SIZE)), { version: 2, layers: 2, partNumber: 42, salt: Buffer.alloc(32, 0x5a) });
    // The object's names are not on disk, not even hashed.
    assert.equal(blob.indexOf(identityBinding(identity)), -1);
    assert.equal(blob.indexOf(Buffer.from('golden-bucket')), -1);
  });

  test('round_trip_whole_and_ranges_one_and_two_layers', async () => {
    for (const layers of [1, 2] as const) {
      const size = 3 * P + 5;
      const plain = randomBytesSeeded(layers, size);
      const params = v2(layers, 7);
      const blob = await encrypt(plain, params);
      assert.deepEqual(await decrypt(blob, size, params), plain);
      for (const [a, b] of [[0, 0], [P - 1, P], [2 * P + 3, size - 1], [10, 3 * P]] as const) {
        assert.deepEqual(await decrypt(blob, size, params, a, b), plain.subarray(a, b + 1), `layers ${layers} range ${a}-${b}`);
      }
    }
  });

  describe('another object identity never decrypts it', () => {
    const size = 2 * P + 10;
    const plain = randomBytesSeeded(5, size);
    const fails = async (blob: Buffer, params: BlobCipherParams, layers: 1 | 2, start = 0, end = size - 1) => {
      await assert.rejects(decrypt(blob, size, params, start, end, keysFor(layers)), BlobIntegrityError);
    };
    for (const layers of [1, 2] as const) {
      test(`other_bucket_key_object_id_or_version_id_layers_${layers}`, async () => {
        const blob = await encrypt(plain, v2(layers));
        for (const other of [
          { ...identity, bucket: 'other-bucket' },
          { ...identity, key: 'photos/2026/other.jpg' },
          { ...identity, objectId: 'ffeeddccbbaa99887766554433221100' },
          { ...identity, objectId: '' },
          { ...identity, versionId: '3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY' },
        ]) {
          await fails(blob, v2(layers, 0, other), layers);
          // A range read of a later package alone fails too: every package's key is bound.
          await fails(blob, v2(layers, 0, other), layers, 2 * P, size - 1);
        }
      });
    }

    test('fields_cannot_be_shifted_between_bucket_key_and_ids', () => {
      const bindings = [
        { bucket: 'a', key: 'b/c', objectId: 'x' },
        { bucket: 'a/b', key: 'c', objectId: 'x' },
        { bucket: 'a', key: 'b/cx', objectId: '' },
        { bucket: 'a', key: 'b/c', objectId: '', versionId: 'x' },
      ].map((id) => identityBinding(id).toString('hex'));
      assert.equal(new Set(bindings).size, bindings.length);
    });

    test('no_downgrade_a_v2_blob_does_not_read_as_v1_nor_a_v1_blob_as_v2', async () => {
      const blob = await encrypt(plain, v2(1));
      // A document edited to claim format 1 (which binds nothing) gets other keys and fails.
      await fails(blob, { version: 1, layers: 1, partNumber: 0, salt: Buffer.alloc(32, 0x5a) }, 1);
      const old = await encrypt(plain, { version: 1, layers: 1, partNumber: 0, salt: Buffer.alloc(32, 0x5a) });
      await fails(old, v2(1), 1);
      // Even with the on-disk version byte rewritten to match.
      const relabelled = Buffer.from(blob);
      relabelled[4] = 1;
      await fails(relabelled, { version: 1, layers: 1, partNumber: 0, salt: Buffer.alloc(32, 0x5a) }, 1);
    });
  });
});
