/**
 * The one comparison helper for client-supplied digests, signatures, MACs and
 * key ids (src/crypto/compare.ts): format and length are checked before the
 * constant-time comparison, so no client text can make it throw.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { base64DigestEqual, bytesEqual, hexDigestEqual, strictBase64, strictHex, textEqual } from '../../src/crypto/compare.js';

describe('constant-time comparison helper', () => {
  test('textEqual compares UTF-8 bytes: same length in characters, different in bytes, is unequal (not a RangeError)', () => {
    const id = 'CFAKEROOTKEY0123456A';
    const forged = `${id.slice(0, -1)}é`; // same .length, one byte longer in UTF-8
    assert.equal(forged.length, id.length);
    assert.equal(textEqual(forged, id), false);
    assert.equal(textEqual(id, id), true);
    assert.equal(textEqual('', id), false);
    assert.equal(textEqual('é', 'é'), true);
  });

  test('bytesEqual answers false for different lengths', () => {
    assert.equal(bytesEqual(Buffer.from([1, 2]), Buffer.from([1, 2, 3])), false);
    assert.equal(bytesEqual(Buffer.from([1, 2, 3]), Buffer.from([1, 2, 3])), true);
    assert.equal(bytesEqual(Buffer.from([1, 2, 4]), Buffer.from([1, 2, 3])), false);
  });

  test('strictHex refuses what Buffer.from(…, "hex") would silently shorten', () => {
    const good = 'ab'.repeat(32);
    assert.equal(strictHex(good, 32)?.length, 32);
    assert.equal(strictHex(good.toUpperCase(), 32)?.length, 32);
    assert.equal(strictHex(`${good.slice(0, 10)}é${good.slice(11)}`, 32), undefined);
    assert.equal(strictHex(`${good.slice(0, 10)}zz${good.slice(12)}`, 32), undefined);
    assert.equal(strictHex(good.slice(2), 32), undefined);
    assert.equal(strictHex(`${good}ab`, 32), undefined);
  });

  test('strictBase64 accepts canonical padded base64 of the right length only', () => {
    const md5 = createHash('md5').update('x').digest();
    const b64 = md5.toString('base64');
    assert.deepEqual(strictBase64(b64, 16), md5);
    assert.equal(strictBase64(b64.replace(/=+$/, ''), 16), undefined, 'unpadded');
    assert.equal(strictBase64(`${b64.slice(0, 3)}é${b64.slice(4)}`, 16), undefined);
    assert.equal(strictBase64(`${b64.slice(0, 3)}-${b64.slice(4)}`, 16), undefined, 'base64url is not base64');
    assert.equal(strictBase64('AAAA', 16), undefined, 'wrong length');
    assert.equal(strictBase64('', 16), undefined);
    assert.equal(strictBase64('AB==', 1), undefined, 'non-canonical: unused bits set');
    assert.deepEqual(strictBase64('AA==', 1), Buffer.from([0]));
  });

  test('digest comparisons: equal, flipped, non-ASCII, short and long inputs', () => {
    const digest = createHash('sha256').update('body').digest();
    const hex = digest.toString('hex');
    assert.equal(hexDigestEqual(digest, hex), true);
    assert.equal(hexDigestEqual(digest, hex.toUpperCase()), true);
    assert.equal(hexDigestEqual(digest, `${hex.slice(0, -1)}${hex.endsWith('0') ? '1' : '0'}`), false);
    assert.equal(hexDigestEqual(digest, `${hex.slice(0, -1)}\u00ff`), false);
    assert.equal(hexDigestEqual(digest, hex.slice(0, 62)), false);
    assert.equal(hexDigestEqual(digest, `${hex}00`), false);
    const b64 = digest.toString('base64');
    assert.equal(base64DigestEqual(digest, b64), true);
    assert.equal(base64DigestEqual(digest, `${b64.slice(0, 5)}\u0080${b64.slice(6)}`), false);
    assert.equal(base64DigestEqual(digest, createHash('md5').update('body').digest('base64')), false);
  });
});
