/**
 * Single-object operations against the real server with the AWS SDK for
 * JavaScript v3 (default settings, path-style): PutObject, GetObject,
 * HeadObject, DeleteObject, DeleteObjects, object tagging; integrity checks
 * (Content-MD5, additional checksums as headers and as aws-chunked trailers),
 * stored headers and user metadata, ranges, conditional reads and writes,
 * response-* overrides, S3's limits, awkward keys, and the 501 that any
 * server-side-encryption request gets until SSE is built.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  DeleteObjectTaggingCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  PutObjectTaggingCommand,
  type ChecksumAlgorithm,
  type S3Client,
  type Tag,
} from '@aws-sdk/client-s3';
import { S3_ERRORS, type S3ErrorCode } from '../../src/errors/s3-errors.js';
import { randomBytesSeeded } from '../helpers/data.js';
import { bodyBytes, crc32Raw, expectS3Error, md5Base64, md5Hex, type SdkError } from '../helpers/s3.js';
import { startServer, type TestServer } from '../helpers/server.js';

const KiB = 1024;
const MiB = 1024 * 1024;

/** Fails unless `promise` is rejected with S3 error `code` and the status the shared error table gives it. */
function expectCode(promise: Promise<unknown>, code: S3ErrorCode): Promise<SdkError> {
  return expectS3Error(promise, code, S3_ERRORS[code].status);
}

/**
 * HEAD and 304 responses carry no body, so S3 (and Coffer) send no error code
 * with them: the SDK names a 404 `NotFound` and anything else `Unknown`. Only
 * the status can be asserted.
 */
async function expectBodylessStatus(promise: Promise<unknown>, status: number): Promise<void> {
  let caught: SdkError | undefined;
  try {
    await promise;
  } catch (err) {
    caught = err as SdkError;
  }
  assert.ok(caught, `expected HTTP ${status}, but the request succeeded`);
  assert.equal(caught.$metadata.httpStatusCode, status, `HTTP status (error ${caught.name})`);
  assert.equal(caught.name, status === 404 ? 'NotFound' : 'Unknown');
}

let seedCounter = 7000;
function data(size: number): Buffer {
  return randomBytesSeeded(seedCounter++, size);
}

/** A stream of `buf` in irregular slices, so chunk boundaries fall everywhere. */
function streamOf(buf: Buffer): Readable {
  const sizes = [1, 7, 4096, 65_536, 100_003, 1_000_000];
  function* slices(): Generator<Buffer> {
    let offset = 0;
    let i = 0;
    while (offset < buf.length) {
      const n = sizes[i++ % sizes.length]!;
      yield buf.subarray(offset, offset + n);
      offset += n;
    }
  }
  return Readable.from(slices());
}

const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC32C (Castagnoli), written here so the test shares no code with the server. */
function crc32cRaw(buf: Buffer): Buffer {
  let c = 0xffffffff;
  for (const b of buf) c = CRC32C_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  const out = Buffer.alloc(4);
  out.writeUInt32BE((c ^ 0xffffffff) >>> 0);
  return out;
}

function expectedChecksum(algorithm: 'CRC32' | 'CRC32C' | 'SHA256', buf: Buffer): string {
  if (algorithm === 'CRC32') return crc32Raw(buf).toString('base64');
  if (algorithm === 'CRC32C') return crc32cRaw(buf).toString('base64');
  return createHash('sha256').update(buf).digest('base64');
}

/** Records the headers of every request the client sends, after signing. */
function captureHeaders(s3: S3Client): Record<string, string>[] {
  const seen: Record<string, string>[] = [];
  s3.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { headers?: Record<string, string> };
      seen.push({ ...(request.headers ?? {}) });
      return next(args);
    },
    { step: 'finalizeRequest', priority: 'low', name: 'captureHeadersForTest' },
  );
  return seen;
}

async function exists(s3: S3Client, bucket: string, key: string): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch (err) {
    if ((err as SdkError).$metadata?.httpStatusCode === 404) return false;
    throw err;
  }
}

describe('objects', () => {
  let server: TestServer;
  let s3: S3Client;
  const bucket = 'objects-test';

  before(async () => {
    server = await startServer();
    s3 = server.client();
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });
  after(async () => {
    s3?.destroy();
    await server?.destroy();
  });

  describe('round trips', () => {
    const SIZES: [string, number][] = [
      ['0B', 0],
      ['1B', 1],
      ['64KiB_minus_1', 64 * KiB - 1],
      ['64KiB', 64 * KiB],
      ['64KiB_plus_1', 64 * KiB + 1],
      ['8MiB_plus_1', 8 * MiB + 1],
    ];
    type Mode = { name: string; stream: boolean; algorithm?: 'CRC32C' | 'SHA256' };
    const MODES: Mode[] = [
      // Buffers: the SDK computes CRC32 and sends it as a header.
      { name: 'default_buffer', stream: false },
      // Streams: STREAMING-UNSIGNED-PAYLOAD-TRAILER, aws-chunked body, CRC32 trailer.
      { name: 'default_stream', stream: true },
      { name: 'sha256_stream', stream: true, algorithm: 'SHA256' },
      { name: 'crc32c_buffer', stream: false, algorithm: 'CRC32C' },
      { name: 'crc32c_stream', stream: true, algorithm: 'CRC32C' },
    ];

    for (const mode of MODES) {
      for (const [label, size] of SIZES) {
        test(`PutObject_GetObject_${mode.name}_${label}_round_trips_byte_for_byte`, async () => {
          const client = server.client();
          const sent = captureHeaders(client);
          try {
            const body = data(size);
            const key = `roundtrip/${mode.name}/${label}`;
            const algorithm = mode.algorithm ?? 'CRC32';
            const want = expectedChecksum(algorithm, body);
            const put = await client.send(
              new PutObjectCommand({
                Bucket: bucket,
                Key: key,
                Body: mode.stream ? streamOf(body) : body,
                ContentLength: size,
                ...(mode.algorithm ? { ChecksumAlgorithm: mode.algorithm as ChecksumAlgorithm } : {}),
              }),
            );
            const putHeaders = sent.at(-1)!;
            const checksumHeader = `x-amz-checksum-${algorithm.toLowerCase()}`;
            if (mode.stream) {
              assert.equal(putHeaders['x-amz-content-sha256'], 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'the SDK used the aws-chunked trailer path');
              assert.equal(putHeaders['x-amz-trailer'], checksumHeader);
              assert.equal(putHeaders['x-amz-decoded-content-length'], String(size));
            } else {
              assert.equal(putHeaders[checksumHeader], want, 'the SDK sent the checksum as a header');
            }
            assert.equal(put.ETag, `"${md5Hex(body)}"`, 'ETag is the quoted MD5 of the bytes');
            const putChecksum = algorithm === 'CRC32' ? put.ChecksumCRC32 : algorithm === 'CRC32C' ? put.ChecksumCRC32C : put.ChecksumSHA256;
            assert.equal(putChecksum, want, 'PutObject returns the checksum it verified');

            const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }));
            const bytes = await bodyBytes(got);
            assert.equal(bytes.length, size);
            assert.ok(bytes.equals(body), 'GetObject returns exactly the bytes put');
            assert.equal(got.ContentLength, size);
            assert.equal(got.ETag, put.ETag);
            const gotChecksum = algorithm === 'CRC32' ? got.ChecksumCRC32 : algorithm === 'CRC32C' ? got.ChecksumCRC32C : got.ChecksumSHA256;
            assert.equal(gotChecksum, want, 'GetObject with ChecksumMode ENABLED returns the stored checksum');
            assert.equal(got.ChecksumType, 'FULL_OBJECT');

            const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }));
            assert.equal(head.ContentLength, size);
            assert.equal(head.ETag, put.ETag);
            const headChecksum = algorithm === 'CRC32' ? head.ChecksumCRC32 : algorithm === 'CRC32C' ? head.ChecksumCRC32C : head.ChecksumSHA256;
            assert.equal(headChecksum, want, 'HeadObject with ChecksumMode ENABLED returns the stored checksum');
          } finally {
            client.destroy();
          }
        });
      }
    }

    test('GetObject_without_checksum_mode_omits_the_checksum', async () => {
      const body = data(100);
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'no-checksum-mode', Body: body, ChecksumAlgorithm: 'SHA256' }));
      // Without ChecksumMode the SDK still sets x-amz-checksum-mode by default; turn that off.
      const plain = server.client({ responseChecksumValidation: 'WHEN_REQUIRED' });
      try {
        const got = await plain.send(new GetObjectCommand({ Bucket: bucket, Key: 'no-checksum-mode' }));
        assert.ok((await bodyBytes(got)).equals(body));
        assert.equal(got.ChecksumSHA256, undefined, 'S3 returns checksums only when asked');
      } finally {
        plain.destroy();
      }
    });
  });

  describe('integrity', () => {
    test('PutObject_matching_content_md5_is_accepted', async () => {
      const body = data(1000);
      const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'md5/good', Body: body, ContentMD5: md5Base64(body) }));
      assert.equal(put.ETag, `"${md5Hex(body)}"`);
    });

    test('PutObject_malformed_content_md5_is_InvalidDigest', async () => {
      await expectCode(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'md5/malformed', Body: 'abc', ContentMD5: 'not-an-md5' })), 'InvalidDigest');
      // Valid base64, but 15 bytes: not an MD5 either.
      await expectCode(
        s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'md5/malformed', Body: 'abc', ContentMD5: Buffer.alloc(15).toString('base64') })),
        'InvalidDigest',
      );
      assert.equal(await exists(s3, bucket, 'md5/malformed'), false);
    });

    test('PutObject_bad_content_md5_is_BadDigest_and_stores_nothing', async () => {
      const body = data(5000);
      await expectCode(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'md5/mismatch', Body: body, ContentMD5: md5Base64(data(5000)) })), 'BadDigest');
      assert.equal(await exists(s3, bucket, 'md5/mismatch'), false);
    });

    test('PutObject_bad_content_md5_on_aws_chunked_stream_is_BadDigest', async () => {
      const body = data(70_000);
      await expectCode(
        s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'md5/mismatch-stream', Body: streamOf(body), ContentLength: body.length, ContentMD5: md5Base64(Buffer.from('x')) })),
        'BadDigest',
      );
      assert.equal(await exists(s3, bucket, 'md5/mismatch-stream'), false);
    });

    test('PutObject_wrong_crc32_header_is_BadDigest', async () => {
      const body = data(3000);
      const wrong = crc32Raw(Buffer.from('something else')).toString('base64');
      await expectCode(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'crc/wrong', Body: body, ChecksumCRC32: wrong })), 'BadDigest');
      assert.equal(await exists(s3, bucket, 'crc/wrong'), false);
      // The right value is accepted and echoed.
      const right = crc32Raw(body).toString('base64');
      const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'crc/right', Body: body, ChecksumCRC32: right }));
      assert.equal(put.ChecksumCRC32, right);
    });

    test('PutObject_wrong_sha256_header_is_BadDigest', async () => {
      const wrong = createHash('sha256').update('other').digest('base64');
      await expectCode(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'sha/wrong', Body: data(10), ChecksumSHA256: wrong })), 'BadDigest');
      assert.equal(await exists(s3, bucket, 'sha/wrong'), false);
    });
  });

  describe('headers and metadata', () => {
    test('PutObject_user_metadata_round_trips', async () => {
      const put = await s3.send(
        new PutObjectCommand({ Bucket: bucket, Key: 'meta/obj', Body: 'x', Metadata: { color: 'blue', 'Mixed-Case': 'Value With  Spaces', empty: '' } }),
      );
      assert.ok(put.ETag);
      for (const out of [
        await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'meta/obj' })),
        await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'meta/obj' })),
      ]) {
        // S3 lower-cases user metadata names (HTTP header names are case-insensitive).
        assert.equal(out.Metadata?.color, 'blue');
        assert.equal(out.Metadata?.['mixed-case'], 'Value With  Spaces');
        assert.equal(out.Metadata?.empty, '');
      }
    });

    for (const stream of [false, true]) {
      test(`PutObject_representation_headers_are_stored_and_returned_${stream ? 'aws_chunked' : 'buffer'}`, async () => {
        const body = data(2000);
        const key = `headers/${stream ? 'stream' : 'buffer'}`;
        const expires = new Date('2031-02-03T04:05:06Z');
        await s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: stream ? streamOf(body) : body,
            ContentLength: body.length,
            ContentType: 'text/plain; charset=utf-8',
            CacheControl: 'max-age=3600, public',
            ContentDisposition: 'attachment; filename="report.txt"',
            // With aws-chunked the SDK sends `gzip,aws-chunked`: aws-chunked is framing, not content.
            ContentEncoding: 'gzip',
            ContentLanguage: 'en-GB',
            Expires: expires,
          }),
        );
        const get = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        for (const out of [get, head]) {
          assert.equal(out.ContentType, 'text/plain; charset=utf-8');
          assert.equal(out.CacheControl, 'max-age=3600, public');
          assert.equal(out.ContentDisposition, 'attachment; filename="report.txt"');
          assert.equal(out.ContentEncoding, 'gzip');
          assert.equal(out.ContentLanguage, 'en-GB');
          assert.equal(out.ExpiresString, expires.toUTCString());
          assert.equal(out.ContentLength, body.length);
          assert.equal(out.AcceptRanges, 'bytes');
          assert.ok(out.LastModified instanceof Date);
        }
        assert.ok((await bodyBytes(get)).equals(body));
      });
    }

    test('GetObject_response_overrides_replace_stored_headers', async () => {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'override/obj', Body: 'a,b\n', ContentType: 'text/plain', CacheControl: 'max-age=60' }));
      const expires = new Date('2032-01-01T00:00:00Z');
      const out = await s3.send(
        new GetObjectCommand({
          Bucket: bucket,
          Key: 'override/obj',
          ResponseContentType: 'text/csv',
          ResponseContentDisposition: 'attachment; filename="data.csv"',
          ResponseCacheControl: 'no-cache',
          ResponseContentLanguage: 'fr',
          ResponseContentEncoding: 'identity',
          ResponseExpires: expires,
        }),
      );
      assert.equal(out.ContentType, 'text/csv');
      assert.equal(out.ContentDisposition, 'attachment; filename="data.csv"');
      assert.equal(out.CacheControl, 'no-cache');
      assert.equal(out.ContentLanguage, 'fr');
      assert.equal(out.ContentEncoding, 'identity');
      assert.equal(out.Expires?.getTime(), expires.getTime());
      assert.equal((await bodyBytes(out)).toString(), 'a,b\n');
      // The override is per response: the stored headers are unchanged.
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'override/obj' }));
      assert.equal(head.ContentType, 'text/plain');
      assert.equal(head.CacheControl, 'max-age=60');
    });

    test('PutObject_overwrite_replaces_bytes_metadata_and_headers', async () => {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'overwrite', Body: 'first', Metadata: { a: '1' }, ContentType: 'text/plain' }));
      const second = data(321);
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'overwrite', Body: second, Metadata: { b: '2' } }));
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'overwrite' }));
      assert.ok((await bodyBytes(got)).equals(second));
      assert.deepEqual(got.Metadata, { b: '2' });
      assert.notEqual(got.ContentType, 'text/plain');
      assert.equal(got.ETag, `"${md5Hex(second)}"`);
    });
  });

  describe('ranges', () => {
    const body = randomBytesSeeded(4242, 1000);
    before(async () => {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'range/obj', Body: body }));
    });

    const CASES: [string, string, number, number][] = [
      ['first_ten_bytes', 'bytes=0-9', 0, 9],
      ['middle', 'bytes=100-199', 100, 199],
      ['end_past_size_is_clamped', 'bytes=990-5000', 990, 999],
      ['open_ended', 'bytes=500-', 500, 999],
      ['suffix', 'bytes=-100', 900, 999],
      ['suffix_longer_than_object', 'bytes=-5000', 0, 999],
      ['last_byte', 'bytes=999-999', 999, 999],
    ];
    for (const [name, range, start, end] of CASES) {
      test(`GetObject_range_${name}_is_206_with_content_range`, async () => {
        const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'range/obj', Range: range }));
        assert.equal(out.$metadata.httpStatusCode, 206);
        assert.equal(out.ContentRange, `bytes ${start}-${end}/1000`);
        assert.equal(out.ContentLength, end - start + 1);
        assert.ok((await bodyBytes(out)).equals(body.subarray(start, end + 1)));
        assert.equal(out.ETag, `"${md5Hex(body)}"`, 'a range response carries the whole object ETag');
      });
    }

    test('GetObject_range_starting_at_size_is_InvalidRange', async () => {
      await expectCode(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'range/obj', Range: 'bytes=1000-' })), 'InvalidRange');
      await expectCode(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'range/obj', Range: 'bytes=5000-6000' })), 'InvalidRange');
    });

    // S3 ignores Range headers it cannot parse, and multiple ranges, and serves the whole object.
    for (const [name, range] of [
      ['malformed', 'bytes=abc'],
      ['last_before_first', 'bytes=20-10'],
      ['multiple_ranges', 'bytes=0-1,5-6'],
      ['wrong_unit', 'items=0-1'],
    ] as const) {
      test(`GetObject_${name}_range_is_ignored`, async () => {
        const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'range/obj', Range: range }));
        assert.equal(out.$metadata.httpStatusCode, 200);
        assert.equal(out.ContentRange, undefined);
        assert.ok((await bodyBytes(out)).equals(body));
      });
    }

    test('HeadObject_range_reports_the_range_length', async () => {
      const out = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'range/obj', Range: 'bytes=10-19' }));
      assert.equal(out.$metadata.httpStatusCode, 206);
      assert.equal(out.ContentLength, 10);
      assert.equal(out.ContentRange, 'bytes 10-19/1000');
    });
  });

  describe('conditionals', () => {
    const key = 'cond/obj';
    let etag: string;
    let lastModified: Date;
    before(async () => {
      const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'conditional body' }));
      etag = put.ETag!;
      lastModified = (await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).LastModified!;
    });
    const later = () => new Date(lastModified.getTime() + 1000);
    const earlier = () => new Date(lastModified.getTime() - 3600_000);

    test('GetObject_if_match_matching_returns_the_object', async () => {
      const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, IfMatch: etag }));
      assert.equal((await bodyBytes(out)).toString(), 'conditional body');
      const star = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, IfMatch: '*' }));
      assert.equal(star.$metadata.httpStatusCode, 200);
      await star.Body?.transformToByteArray();
    });

    test('GetObject_if_match_other_etag_is_PreconditionFailed', async () => {
      await expectCode(s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, IfMatch: '"00000000000000000000000000000000"' })), 'PreconditionFailed');
    });

    test('GetObject_if_none_match_matching_is_304', async () => {
      // 304 has no body: S3 sends no error code, so the SDK cannot name one.
      await expectBodylessStatus(s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, IfNoneMatch: etag })), 304);
      await expectBodylessStatus(s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, IfNoneMatch: '*' })), 304);
    });

    test('GetObject_if_none_match_other_etag_returns_the_object', async () => {
      const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, IfNoneMatch: '"00000000000000000000000000000000"' }));
      assert.equal((await bodyBytes(out)).toString(), 'conditional body');
    });

    test('GetObject_if_modified_since_after_last_modified_is_304', async () => {
      await expectBodylessStatus(s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, IfModifiedSince: later() })), 304);
      // Last-Modified has one-second resolution: the exact value is "not modified since" too.
      await expectBodylessStatus(s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, IfModifiedSince: lastModified })), 304);
    });

    test('GetObject_if_modified_since_before_last_modified_returns_the_object', async () => {
      const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, IfModifiedSince: earlier() }));
      assert.equal((await bodyBytes(out)).toString(), 'conditional body');
    });

    test('GetObject_if_unmodified_since_before_last_modified_is_PreconditionFailed', async () => {
      await expectCode(s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, IfUnmodifiedSince: earlier() })), 'PreconditionFailed');
    });

    test('GetObject_if_unmodified_since_after_last_modified_returns_the_object', async () => {
      const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, IfUnmodifiedSince: later() }));
      assert.equal((await bodyBytes(out)).toString(), 'conditional body');
    });

    test('GetObject_if_match_true_and_if_unmodified_since_false_returns_the_object', async () => {
      // Documented S3 precedence: If-Match wins over If-Unmodified-Since.
      const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, IfMatch: etag, IfUnmodifiedSince: earlier() }));
      assert.equal(out.$metadata.httpStatusCode, 200);
      await out.Body?.transformToByteArray();
    });

    test('GetObject_if_none_match_false_and_if_modified_since_true_is_304', async () => {
      // Documented S3 precedence: If-None-Match wins over If-Modified-Since.
      await expectBodylessStatus(s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, IfNoneMatch: etag, IfModifiedSince: earlier() })), 304);
    });

    test('HeadObject_conditionals_are_412_and_304', async () => {
      await expectBodylessStatus(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, IfMatch: '"nope"' })), 412);
      await expectBodylessStatus(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, IfNoneMatch: etag })), 304);
      await expectBodylessStatus(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, IfUnmodifiedSince: earlier() })), 412);
      await expectBodylessStatus(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, IfModifiedSince: later() })), 304);
      const ok = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, IfMatch: etag, IfModifiedSince: earlier() }));
      assert.equal(ok.ETag, etag);
    });

    test('PutObject_if_none_match_star_on_new_key_writes', async () => {
      const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cond/create-once', Body: 'first', IfNoneMatch: '*' }));
      assert.equal(put.ETag, `"${md5Hex(Buffer.from('first'))}"`);
    });

    test('PutObject_if_none_match_star_on_existing_key_is_PreconditionFailed', async () => {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cond/exists', Body: 'original' }));
      await expectCode(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cond/exists', Body: 'replacement', IfNoneMatch: '*' })), 'PreconditionFailed');
      // Also on the aws-chunked path, where the body is streamed.
      const streamed = Buffer.from('streamed replacement');
      await expectCode(
        s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cond/exists', Body: streamOf(streamed), ContentLength: streamed.length, IfNoneMatch: '*' })),
        'PreconditionFailed',
      );
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'cond/exists' }));
      assert.equal((await bodyBytes(got)).toString(), 'original', 'the object is unchanged');
    });

    test('PutObject_if_match_writes_only_over_that_etag', async () => {
      const first = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cond/cas', Body: 'v1' }));
      const second = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cond/cas', Body: 'v2', IfMatch: first.ETag }));
      assert.equal(second.ETag, `"${md5Hex(Buffer.from('v2'))}"`);
      await expectCode(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cond/cas', Body: 'v3', IfMatch: first.ETag })), 'PreconditionFailed');
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'cond/cas' }));
      assert.equal((await bodyBytes(got)).toString(), 'v2');
      // If-Match on a key that does not exist: S3 answers 404 NoSuchKey.
      await expectCode(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cond/cas-missing', Body: 'x', IfMatch: first.ETag })), 'NoSuchKey');
    });
  });

  describe('tagging', () => {
    const sortTags = (tags: Tag[] | undefined) => [...(tags ?? [])].sort((a, b) => (a.Key! < b.Key! ? -1 : 1));

    test('PutObject_x_amz_tagging_is_stored', async () => {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'tags/header', Body: 'x', Tagging: 'project=coffer&env=test%20run' }));
      const tags = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'tags/header' }));
      assert.deepEqual(sortTags(tags.TagSet), [
        { Key: 'env', Value: 'test run' },
        { Key: 'project', Value: 'coffer' },
      ]);
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'tags/header' }));
      assert.equal(got.TagCount, 2);
      await got.Body?.transformToByteArray();
    });

    test('PutObjectTagging_replaces_and_DeleteObjectTagging_clears', async () => {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'tags/api', Body: 'x', Tagging: 'old=1' }));
      const put = await s3.send(
        new PutObjectTaggingCommand({
          Bucket: bucket,
          Key: 'tags/api',
          Tagging: { TagSet: [{ Key: 'a', Value: '1' }, { Key: 'with space', Value: 'ünïcødé 日本 +-=._:/@' }, { Key: 'empty', Value: '' }] },
        }),
      );
      assert.equal(put.$metadata.httpStatusCode, 200);
      const tags = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'tags/api' }));
      assert.deepEqual(sortTags(tags.TagSet), [
        { Key: 'a', Value: '1' },
        { Key: 'empty', Value: '' },
        { Key: 'with space', Value: 'ünïcødé 日本 +-=._:/@' },
      ]);
      const del = await s3.send(new DeleteObjectTaggingCommand({ Bucket: bucket, Key: 'tags/api' }));
      assert.equal(del.$metadata.httpStatusCode, 204);
      const after = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'tags/api' }));
      assert.deepEqual(after.TagSet ?? [], []);
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'tags/api' }));
      assert.equal(got.TagCount, undefined, 'no x-amz-tagging-count without tags');
      await got.Body?.transformToByteArray();
    });

    test('PutObjectTagging_more_than_10_tags_is_InvalidTag', async () => {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'tags/limits', Body: 'x' }));
      const eleven = Array.from({ length: 11 }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));
      await expectCode(s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 'tags/limits', Tagging: { TagSet: eleven } })), 'InvalidTag');
      const ten = eleven.slice(0, 10);
      await s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 'tags/limits', Tagging: { TagSet: ten } }));
      assert.equal((await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'tags/limits' }))).TagSet?.length, 10);
    });

    test('PutObjectTagging_invalid_tags_are_InvalidTag', async () => {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'tags/invalid', Body: 'x' }));
      const cases: Tag[][] = [
        [{ Key: 'k'.repeat(129), Value: 'v' }],
        [{ Key: 'k', Value: 'v'.repeat(257) }],
        [{ Key: 'dup', Value: '1' }, { Key: 'dup', Value: '2' }],
        [{ Key: 'aws:reserved', Value: 'v' }],
        // Outside S3's tag character set: letters, numbers, spaces and _ . : / = + - @.
        [{ Key: 'k', Value: 'a,b' }],
        [{ Key: 'k', Value: 'x&y' }],
        [{ Key: 'paren(s)', Value: 'v' }],
        [{ Key: 'k', Value: '<xml>' }],
      ];
      for (const TagSet of cases) {
        await expectCode(s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 'tags/invalid', Tagging: { TagSet } })), 'InvalidTag');
      }
      // The limits themselves are allowed.
      await s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 'tags/invalid', Tagging: { TagSet: [{ Key: 'k'.repeat(128), Value: 'v'.repeat(256) }] } }));
    });

    test('PutObject_invalid_x_amz_tagging_is_InvalidTag_and_stores_nothing', async () => {
      const eleven = Array.from({ length: 11 }, (_, i) => `k${i}=v`).join('&');
      await expectCode(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'tags/bad-header', Body: 'x', Tagging: eleven })), 'InvalidTag');
      await expectCode(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'tags/bad-header', Body: 'x', Tagging: 'aws:x=1' })), 'InvalidTag');
      await expectCode(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'tags/bad-header', Body: 'x', Tagging: 'k=a%2Cb' })), 'InvalidTag');
      // A repeated key in the header is InvalidArgument in S3 (in a Tagging document, InvalidTag).
      await expectCode(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'tags/bad-header', Body: 'x', Tagging: 'a=1&a=2' })), 'InvalidArgument');
      assert.equal(await exists(s3, bucket, 'tags/bad-header'), false);
    });

    test('ObjectTagging_on_missing_key_is_NoSuchKey', async () => {
      await expectCode(s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'tags/missing' })), 'NoSuchKey');
      await expectCode(s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 'tags/missing', Tagging: { TagSet: [] } })), 'NoSuchKey');
      await expectCode(s3.send(new DeleteObjectTaggingCommand({ Bucket: bucket, Key: 'tags/missing' })), 'NoSuchKey');
    });
  });

  describe('limits and missing things', () => {
    test('PutObject_key_of_1024_bytes_is_accepted', async () => {
      const key = 'k'.repeat(1024);
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'long' }));
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      assert.equal((await bodyBytes(got)).toString(), 'long');
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    });

    test('PutObject_key_over_1024_bytes_is_KeyTooLongError', async () => {
      await expectCode(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k'.repeat(1025), Body: 'x' })), 'KeyTooLongError');
      // The limit is in UTF-8 bytes, not characters: 342 × '€' is 1026 bytes.
      await expectCode(s3.send(new PutObjectCommand({ Bucket: bucket, Key: '€'.repeat(342), Body: 'x' })), 'KeyTooLongError');
    });

    test('PutObject_user_metadata_over_2KB_is_MetadataTooLarge', async () => {
      await expectCode(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'meta/large', Body: 'x', Metadata: { big: 'v'.repeat(2100) } })), 'MetadataTooLarge');
      // The limit is the sum over all entries.
      const many = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`key-${i}`, 'v'.repeat(70)]));
      await expectCode(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'meta/large', Body: 'x', Metadata: many })), 'MetadataTooLarge');
      assert.equal(await exists(s3, bucket, 'meta/large'), false);
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'meta/large', Body: 'x', Metadata: { big: 'v'.repeat(1900) } }));
      assert.equal((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'meta/large' }))).Metadata?.big?.length, 1900);
    });

    test('PutObject_acl_granting_access_is_AccessControlListNotSupported_and_stores_nothing', async () => {
      // New buckets have ACLs disabled (BucketOwnerEnforced): a request to share an object is refused, never silently ignored.
      await expectS3Error(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'acl/public', Body: 'x', ACL: 'public-read' })), 'AccessControlListNotSupported', 400);
      await expectS3Error(
        s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'acl/public', Body: 'x', GrantRead: 'uri="http://acs.amazonaws.com/groups/global/AllUsers"' })),
        'AccessControlListNotSupported',
        400,
      );
      assert.equal(await exists(s3, bucket, 'acl/public'), false);
      // The ACLs that change nothing are accepted.
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'acl/owner', Body: 'x', ACL: 'bucket-owner-full-control' }));
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'acl/private', Body: 'x', ACL: 'private' }));
    });

    test('GetObject_missing_key_is_NoSuchKey', async () => {
      await expectCode(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'does/not/exist' })), 'NoSuchKey');
      await expectBodylessStatus(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'does/not/exist' })), 404);
    });

    test('Object_operations_on_missing_bucket_are_NoSuchBucket', async () => {
      const Bucket = 'no-such-bucket-here';
      await expectCode(s3.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'x' })), 'NoSuchBucket');
      await expectCode(s3.send(new GetObjectCommand({ Bucket, Key: 'k' })), 'NoSuchBucket');
      await expectCode(s3.send(new DeleteObjectCommand({ Bucket, Key: 'k' })), 'NoSuchBucket');
      await expectCode(s3.send(new GetObjectTaggingCommand({ Bucket, Key: 'k' })), 'NoSuchBucket');
      await expectCode(s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: [{ Key: 'k' }] } })), 'NoSuchBucket');
      await expectBodylessStatus(s3.send(new HeadObjectCommand({ Bucket, Key: 'k' })), 404);
    });

    test('GetObject_version_id_other_than_null_is_InvalidArgument', async () => {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'versioned', Body: 'v' }));
      await expectCode(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'versioned', VersionId: 'abc123' })), 'InvalidArgument');
      // "null" is the version id of every object in a bucket that never had versioning.
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'versioned', VersionId: 'null' }));
      assert.equal((await bodyBytes(got)).toString(), 'v');
    });

    test('Every_response_carries_a_distinct_x_amz_request_id', async () => {
      const ids: (string | undefined)[] = [];
      ids.push((await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'reqid', Body: 'x' }))).$metadata.requestId);
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'reqid' }));
      await got.Body?.transformToByteArray();
      ids.push(got.$metadata.requestId);
      ids.push((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'reqid' }))).$metadata.requestId);
      ids.push((await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'reqid' }))).$metadata.requestId);
      ids.push((await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'reqid' }))).$metadata.requestId);
      const missing = await expectCode(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'reqid' })), 'NoSuchKey');
      ids.push((missing.$metadata as { requestId?: string }).requestId);
      try {
        await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'reqid' }));
        assert.fail('HeadObject of a deleted key succeeded');
      } catch (err) {
        ids.push((err as { $metadata: { requestId?: string } }).$metadata.requestId);
      }
      for (const id of ids) assert.match(id ?? '', /^\S{8,}$/, 'x-amz-request-id is present');
      assert.equal(new Set(ids).size, ids.length, 'request ids are unique');
    });
  });

  describe('deletes', () => {
    test('DeleteObject_removes_the_object_and_is_204', async () => {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'del/one', Body: 'x' }));
      const out = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'del/one' }));
      assert.equal(out.$metadata.httpStatusCode, 204);
      await expectCode(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'del/one' })), 'NoSuchKey');
    });

    test('DeleteObject_missing_key_is_204', async () => {
      const out = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'del/never-existed' }));
      assert.equal(out.$metadata.httpStatusCode, 204);
    });

    test('DeleteObjects_reports_each_key_deleted', async () => {
      const keys = ['del/many/a', 'del/many/b c', 'del/many/ü+%'];
      for (const Key of keys) await s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: Key }));
      const out = await s3.send(
        new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [...keys, 'del/many/missing'].map((Key) => ({ Key })) } }),
      );
      // S3 reports keys that did not exist as deleted too.
      assert.deepEqual(out.Deleted?.map((d) => d.Key).sort(), [...keys, 'del/many/missing'].sort());
      assert.equal(out.Errors, undefined);
      for (const Key of keys) assert.equal(await exists(s3, bucket, Key), false);
    });

    test('DeleteObjects_quiet_reports_only_errors', async () => {
      const keys = ['del/quiet/a', 'del/quiet/b'];
      for (const Key of keys) await s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: 'x' }));
      const tooLong = 'q'.repeat(1025);
      const out = await s3.send(
        new DeleteObjectsCommand({ Bucket: bucket, Delete: { Quiet: true, Objects: [{ Key: keys[0] }, { Key: tooLong }, { Key: keys[1] }] } }),
      );
      assert.equal(out.Deleted, undefined, 'quiet mode lists no deleted keys');
      assert.equal(out.Errors?.length, 1);
      assert.equal(out.Errors?.[0]?.Key, tooLong);
      assert.equal(out.Errors?.[0]?.Code, 'KeyTooLongError');
      assert.ok(out.Errors?.[0]?.Message);
      for (const Key of keys) assert.equal(await exists(s3, bucket, Key), false, 'the other keys are deleted');
    });

    test('DeleteObjects_per_key_error_does_not_stop_the_rest', async () => {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'del/mixed/ok', Body: 'x' }));
      const out = await s3.send(
        new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: 'x'.repeat(2000) }, { Key: 'del/mixed/ok' }] } }),
      );
      assert.deepEqual(out.Deleted?.map((d) => d.Key), ['del/mixed/ok']);
      assert.deepEqual(out.Errors?.map((e) => e.Code), ['KeyTooLongError']);
      assert.equal(await exists(s3, bucket, 'del/mixed/ok'), false);
    });

    test('DeleteObjects_more_than_1000_keys_is_MalformedXML', async () => {
      const Objects = Array.from({ length: 1001 }, (_, i) => ({ Key: `k${i}` }));
      await expectCode(s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects } })), 'MalformedXML');
    });
  });

  describe('awkward keys', () => {
    const KEYS = [
      'with space',
      'dir/sub dir/file name.txt',
      'ünïcødé/日本語/файл',
      'emoji/😀🎉',
      'plus+sign+',
      'percent%20literal%',
      'question?mark=1&x',
      'hash#fragment',
      "quote'apostrophe\"double",
      'star*paren(1)!',
      'tilde~and^caret',
      'semi;colon:comma,',
      'brackets[]{}<>',
      'back\\slash',
      'trailing-slash/',
      ' leading-space',
      'double//slash',
    ];
    for (const key of KEYS) {
      test(`PutObject_GetObject_key_${JSON.stringify(key)}`, async () => {
        const body = Buffer.from(`content of ${key}`);
        const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `awkward/${key}`, Body: body }));
        assert.equal(put.ETag, `"${md5Hex(body)}"`);
        const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `awkward/${key}` }));
        assert.ok((await bodyBytes(got)).equals(body));
        const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: `awkward/${key}` }));
        assert.equal(head.ContentLength, body.length);
      });
    }

    test('ListObjectsV2_returns_awkward_keys_exactly', async () => {
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'awkward/' }));
      const want = KEYS.map((k) => `awkward/${k}`).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      assert.deepEqual(listed.Contents?.map((c) => c.Key), want);
    });

    test('DeleteObject_awkward_keys_removes_them', async () => {
      for (const key of KEYS) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: `awkward/${key}` }));
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'awkward/' }));
      assert.equal(listed.KeyCount, 0);
    });
  });

  describe('server-side encryption headers on reads', () => {
    // Full SSE coverage lives in sse.test.ts; these are the read-side rules S3 applies.
    const key32 = Buffer.alloc(32, 7).toString('base64');
    test('GetObject_with_sse_c_key_on_an_sse_s3_object_is_InvalidRequest', async () => {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'sse/plain-for-get', Body: 'plain' }));
      await expectCode(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'sse/plain-for-get', SSECustomerAlgorithm: 'AES256', SSECustomerKey: key32 })), 'InvalidRequest');
    });
    test('PutObject_without_sse_headers_is_encrypted_with_sse_s3_by_default', async () => {
      const out = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'sse/default', Body: 'x' }));
      assert.equal(out.ServerSideEncryption, 'AES256');
    });
  });
});
