/**
 * The POST policy check (s3/post-object.ts checkPostPolicy) and the streaming
 * multipart/form-data reader (http/form-data.ts), without a server: S3's
 * InvalidPolicyDocument cases, and parts read back exactly however the body is
 * cut into chunks (a boundary split across chunks, a preamble, CRLFs and
 * boundary look-alikes inside a file).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { S3Error } from '../../src/errors/s3-errors.js';
import { FormDataReader, formBoundary } from '../../src/http/form-data.js';
import { checkPostPolicy } from '../../src/s3/post-object.js';
import { prng } from '../helpers/data.js';

const b64 = (doc: unknown) => Buffer.from(typeof doc === 'string' ? doc : JSON.stringify(doc)).toString('base64');
const future = new Date(Date.now() + 60_000).toISOString();

function throwsS3(fn: () => unknown, code: string, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof S3Error && err.code === code && (message === undefined || message.test(err.message)));
}

describe('checkPostPolicy', () => {
  const fields = new Map([['key', 'user/a.txt']]);
  test('not_JSON_is_InvalidPolicyDocument', () => throwsS3(() => checkPostPolicy(b64('{not json'), fields, 'b'), 'InvalidPolicyDocument', /Invalid JSON/));
  test('not_base64_is_InvalidPolicyDocument', () => throwsS3(() => checkPostPolicy('%%%', fields, 'b'), 'InvalidPolicyDocument'));
  test('missing_expiration_is_InvalidPolicyDocument', () => throwsS3(() => checkPostPolicy(b64({ conditions: [] }), fields, 'b'), 'InvalidPolicyDocument', /Policy missing expiration/));
  test('a_bad_expiration_is_InvalidPolicyDocument', () => throwsS3(() => checkPostPolicy(b64({ expiration: 'tomorrow', conditions: [] }), fields, 'b'), 'InvalidPolicyDocument', /expiration/));
  test('missing_conditions_is_InvalidPolicyDocument', () => throwsS3(() => checkPostPolicy(b64({ expiration: future }), fields, 'b'), 'InvalidPolicyDocument', /missing conditions/));
  test('an_unknown_operator_is_InvalidPolicyDocument', () =>
    throwsS3(() => checkPostPolicy(b64({ expiration: future, conditions: [['ends-with', '$key', 'x']] }), fields, 'b'), 'InvalidPolicyDocument', /Invalid Condition/));
  test('a_content_length_range_with_bad_bounds_is_InvalidPolicyDocument', () =>
    throwsS3(() => checkPostPolicy(b64({ expiration: future, conditions: [{ key: 'user/a.txt' }, ['content-length-range', 'a', 5]] }), fields, 'b'), 'InvalidPolicyDocument'));
  test('a_passing_policy_reports_its_content_length_range', () => {
    const outcome = checkPostPolicy(b64({ expiration: future, conditions: [['starts-with', '$key', 'user/'], ['content-length-range', '1', 10]] }), fields, 'b');
    assert.deepEqual(outcome.lengthRange, { min: 1, max: 10 });
  });
  test('condition_names_are_case_insensitive', () => {
    checkPostPolicy(b64({ expiration: future, conditions: [['eq', '$Key', 'user/a.txt']] }), fields, 'b');
  });
});

async function* chunked(data: Buffer, seed: number, max: number): AsyncGenerator<Buffer> {
  const next = prng(seed);
  for (let pos = 0; pos < data.length; ) {
    const n = 1 + (next() % max);
    yield data.subarray(pos, pos + n);
    pos += n;
  }
}

describe('FormDataReader', () => {
  const boundary = 'XyZ123';
  const fileBytes = Buffer.concat([Buffer.from('\r\n--XyZ12\r\n-XyZ123\n--XyZ123'), Buffer.alloc(70_000, 0x2d), Buffer.from('\r\n-')]);
  const body = Buffer.concat([
    Buffer.from('preamble to ignore\r\n--XyZ123\r\nContent-Disposition: form-data; name="key"\r\n\r\nuser/${filename}\r\n'),
    Buffer.from('--XyZ123  \r\ncontent-disposition: form-data; name="Policy"\r\n\r\n\r\n'),
    Buffer.from('--XyZ123\r\nContent-Disposition: form-data; name="file"; filename="a \\"q\\".bin"\r\nContent-Type: image/png\r\n\r\n'),
    fileBytes,
    Buffer.from('\r\n--XyZ123\r\nContent-Disposition: form-data; name="after"\r\n\r\nlate\r\n--XyZ123--\r\nepilogue'),
  ]);

  for (const [seed, max] of [[1, 1], [2, 9], [3, 4096], [4, 200_000]] as const) {
    test(`parts_read_back_exactly_in_chunks_of_up_to_${max}_bytes`, async () => {
      const reader = new FormDataReader(chunked(body, seed, max), boundary);
      const got: { name: string; filename?: string; contentType?: string; value: Buffer }[] = [];
      for (let part = await reader.next(); part; part = await reader.next()) {
        const pieces: Buffer[] = [];
        for await (const c of part.body) pieces.push(c);
        got.push({ name: part.name, ...(part.filename !== undefined ? { filename: part.filename } : {}), ...(part.contentType !== undefined ? { contentType: part.contentType } : {}), value: Buffer.concat(pieces) });
      }
      assert.deepEqual(
        got.map((p) => [p.name, p.filename, p.contentType, p.value.length]),
        [
          ['key', undefined, undefined, 'user/${filename}'.length],
          ['Policy', undefined, undefined, 0],
          ['file', 'a "q".bin', 'image/png', fileBytes.length],
          ['after', undefined, undefined, 4],
        ],
      );
      assert.ok(got[2]!.value.equals(fileBytes));
    });
  }

  test('a_part_left_unread_is_skipped', async () => {
    const reader = new FormDataReader(chunked(body, 5, 333), boundary);
    assert.equal((await reader.next())?.name, 'key');
    assert.equal((await reader.next())?.name, 'Policy');
    assert.equal((await reader.next())?.name, 'file');
    assert.equal((await reader.next())?.name, 'after');
    assert.equal(await reader.next(), undefined);
  });

  test('a_body_cut_inside_a_part_is_MalformedPOSTRequest', async () => {
    const reader = new FormDataReader(chunked(body.subarray(0, 300), 6, 50), boundary);
    await assert.rejects(
      (async () => {
        for (let part = await reader.next(); part; part = await reader.next()) for await (const _ of part.body);
      })(),
      (err: unknown) => err instanceof S3Error && err.code === 'MalformedPOSTRequest',
    );
  });

  test('formBoundary_reads_quoted_and_plain_boundaries_of_multipart_form_data_only', () => {
    assert.equal(formBoundary('multipart/form-data; boundary=abc'), 'abc');
    assert.equal(formBoundary('Multipart/Form-Data; charset=utf-8; boundary="a b:c"'), 'a b:c');
    assert.equal(formBoundary('multipart/mixed; boundary=abc'), undefined);
    assert.equal(formBoundary('multipart/form-data'), undefined);
    assert.equal(formBoundary(undefined), undefined);
  });
});
