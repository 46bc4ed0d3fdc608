/**
 * Multipart uploads against the real server with the AWS SDK for JavaScript v3
 * (default settings, so CRC32 checksums go out as headers for buffers and as
 * aws-chunked trailers for streams): Create, UploadPart, UploadPartCopy,
 * Complete, Abort, ListParts, ListMultipartUploads, partNumber and range reads
 * of the result, blob accounting on disk, the stale-upload sweep, and
 * lib-storage's `Upload`.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type CompletedPart,
  type CreateMultipartUploadCommandInput,
  type ListMultipartUploadsCommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { randomBytesSeeded } from '../helpers/data.js';
import {
  storedBlobIds,
  bodyBytes,
  checksumBase64,
  compositeChecksum,
  crc32Raw,
  eventually,
  expectS3Error,
  md5Base64,
  md5Hex,
  multipartEtag,
  stagedBlobIds,
} from '../helpers/s3.js';
import { startServer, type TestServer } from '../helpers/server.js';

/** The server runs with this minimum part size so tests stay small and fast. */
const MIN = 64 * 1024;
const MiB = 1024 * 1024;
const SERVER_ARGS = ['--min-part-size', String(MIN)];

let seedCounter = 1000;
/** Fresh deterministic bytes for each call. */
function data(size: number): Buffer {
  return randomBytesSeeded(seedCounter++, size);
}

async function createUpload(s3: S3Client, bucket: string, key: string, extra: Partial<CreateMultipartUploadCommandInput> = {}): Promise<string> {
  const out = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ...extra }));
  assert.equal(out.Bucket, bucket);
  assert.equal(out.Key, key);
  assert.ok(out.UploadId, 'CreateMultipartUpload returns an UploadId');
  return out.UploadId;
}

/** Uploads `parts` as part numbers 1..n (or `numbers`), one after another; returns what Complete needs. */
async function uploadParts(s3: S3Client, bucket: string, key: string, uploadId: string, parts: readonly Buffer[], numbers?: readonly number[]): Promise<CompletedPart[]> {
  const done: CompletedPart[] = [];
  for (const [i, body] of parts.entries()) {
    const PartNumber = numbers?.[i] ?? i + 1;
    const out = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber, Body: body }));
    assert.equal(out.ETag, `"${md5Hex(body)}"`, `part ${PartNumber} ETag is the MD5 of its bytes`);
    done.push({ PartNumber, ETag: out.ETag });
  }
  return done;
}

async function complete(s3: S3Client, bucket: string, key: string, uploadId: string, parts: CompletedPart[]) {
  return s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }));
}

async function getBytes(s3: S3Client, bucket: string, key: string, extra: { Range?: string; PartNumber?: number } = {}) {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...extra }));
  return { out, bytes: await bodyBytes(out) };
}

/**
 * A client whose aws-chunked request bodies get one data byte flipped on the
 * wire, after the SDK has computed the trailing checksum over the original
 * bytes: the payload is unsigned (STREAMING-UNSIGNED-PAYLOAD-TRAILER), so only
 * the trailer checksum can catch it.
 */
function corruptingClient(server: TestServer): S3Client {
  const client = server.client({ maxAttempts: 1 });
  client.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { headers: Record<string, string>; body: unknown };
      if (request.headers['content-encoding']?.includes('aws-chunked')) {
        const chunks: Buffer[] = [];
        for await (const c of request.body as AsyncIterable<Buffer | string>) chunks.push(Buffer.from(c));
        const wire = Buffer.concat(chunks);
        const firstData = wire.indexOf('\r\n') + 2;
        assert.ok(firstData > 2 && firstData < wire.length, 'aws-chunked framing found');
        wire[firstData] = wire[firstData]! ^ 0xff;
        request.body = Readable.from([wire]);
      }
      return next(args);
    },
    { step: 'finalizeRequest', priority: 'low', name: 'corruptAwsChunkedData' },
  );
  return client;
}

describe('multipart uploads', () => {
  let server: TestServer;
  let s3: S3Client;
  const B = 'multipart';

  before(async () => {
    server = await startServer({ args: SERVER_ARGS });
    s3 = server.client();
    await s3.send(new CreateBucketCommand({ Bucket: B }));
  });
  after(async () => {
    s3?.destroy();
    await server?.destroy();
  });

  test('CreateMultipartUpload_metadata_content_type_and_tagging_apply_to_object', async () => {
    const key = 'meta/object.txt';
    const uploadId = await createUpload(s3, B, key, {
      ContentType: 'text/plain; charset=utf-8',
      CacheControl: 'max-age=60',
      ContentDisposition: 'attachment; filename="x.txt"',
      Metadata: { color: 'blue', 'project-name': 'coffer' },
      Tagging: 'team=storage&note=two%20words',
    });
    const parts = [data(MIN), data(10)];
    const completed = await uploadParts(s3, B, key, uploadId, parts);
    const done = await complete(s3, B, key, uploadId, completed);
    assert.equal(done.ETag, multipartEtag(parts));

    const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key: key }));
    assert.equal(head.ContentType, 'text/plain; charset=utf-8');
    assert.equal(head.CacheControl, 'max-age=60');
    assert.equal(head.ContentDisposition, 'attachment; filename="x.txt"');
    assert.deepEqual(head.Metadata, { color: 'blue', 'project-name': 'coffer' });
    assert.equal(head.ContentLength, MIN + 10);
    assert.equal(head.ETag, multipartEtag(parts));
    const tagging = await s3.send(new GetObjectTaggingCommand({ Bucket: B, Key: key }));
    assert.deepEqual(
      tagging.TagSet?.map((t) => [t.Key, t.Value]).sort(),
      [
        ['note', 'two words'],
        ['team', 'storage'],
      ],
    );
  });

  test('CompleteMultipartUpload_etag_is_md5_of_part_md5s_dash_count', async () => {
    const key = 'etag/three-parts';
    const parts = [data(MIN + 1), data(MIN + 2), data(3)];
    const uploadId = await createUpload(s3, B, key);
    const done = await complete(s3, B, key, uploadId, await uploadParts(s3, B, key, uploadId, parts));
    const expected = multipartEtag(parts);
    assert.match(expected, /^"[0-9a-f]{32}-3"$/);
    assert.equal(done.ETag, expected);
    assert.equal(done.Bucket, B);
    assert.equal(done.Key, key);
    const { out, bytes } = await getBytes(s3, B, key);
    assert.equal(out.ETag, expected);
    assert.ok(bytes.equals(Buffer.concat(parts)), 'object bytes are the parts concatenated');
    // The upload is gone once completed.
    await expectS3Error(s3.send(new ListPartsCommand({ Bucket: B, Key: key, UploadId: uploadId })), 'NoSuchUpload', 404);
  });

  test('CompleteMultipartUpload_retried_after_success_answers_200_with_the_same_result (S3; issue 21 item 2)', async () => {
    const key = 'retry/complete';
    const parts = [data(MIN), data(7)];
    const uploadId = await createUpload(s3, B, key, { ChecksumAlgorithm: 'SHA256' });
    const listed: CompletedPart[] = [];
    for (const [i, body] of parts.entries()) {
      const out = await s3.send(new UploadPartCommand({ Bucket: B, Key: key, UploadId: uploadId, PartNumber: i + 1, Body: body, ChecksumAlgorithm: 'SHA256' }));
      listed.push({ PartNumber: i + 1, ETag: out.ETag!, ChecksumSHA256: out.ChecksumSHA256! });
    }
    const first = await complete(s3, B, key, uploadId, listed);
    // An SDK that lost the first answer (a timeout) sends the same Complete again.
    const again = await complete(s3, B, key, uploadId, listed);
    assert.equal(again.$metadata.httpStatusCode, 200);
    for (const field of ['Location', 'Bucket', 'Key', 'ETag', 'ChecksumSHA256', 'ChecksumType', 'ServerSideEncryption'] as const) {
      assert.equal(again[field], first[field], field);
    }
    assert.equal(again.ETag, multipartEtag(parts));
    // Another part list is not a retry of that completion.
    await expectS3Error(complete(s3, B, key, uploadId, listed.slice(0, 1)), 'NoSuchUpload', 404);
    // Once the key holds another object, the upload id names nothing any more.
    await s3.send(new PutObjectCommand({ Bucket: B, Key: key, Body: 'replaced' }));
    await expectS3Error(complete(s3, B, key, uploadId, listed), 'NoSuchUpload', 404);
    await expectS3Error(s3.send(new ListPartsCommand({ Bucket: B, Key: key, UploadId: uploadId })), 'NoSuchUpload', 404);
  });

  test('CompleteMultipartUpload_single_small_part_is_allowed', async () => {
    const key = 'etag/one-byte';
    const parts = [data(1)];
    const uploadId = await createUpload(s3, B, key);
    const done = await complete(s3, B, key, uploadId, await uploadParts(s3, B, key, uploadId, parts));
    assert.equal(done.ETag, multipartEtag(parts));
    assert.ok((await getBytes(s3, B, key)).bytes.equals(parts[0]!));
  });

  test('CompleteMultipartUpload_subset_of_parts_makes_object_of_those_parts', async () => {
    const key = 'subset';
    const parts = [data(MIN), data(MIN + 5), data(77)];
    const uploadId = await createUpload(s3, B, key);
    const completed = await uploadParts(s3, B, key, uploadId, parts, [2, 5, 9]);
    const chosen = [completed[0]!, completed[2]!];
    const done = await complete(s3, B, key, uploadId, chosen);
    assert.equal(done.ETag, multipartEtag([parts[0]!, parts[2]!]));
    const { bytes } = await getBytes(s3, B, key);
    assert.ok(bytes.equals(Buffer.concat([parts[0]!, parts[2]!])));
    const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key: key, PartNumber: 2 }));
    assert.equal(head.PartsCount, 2);
    assert.equal(head.ContentLength, 77, 'partNumber counts the completed parts 1..N, not the upload part numbers');
  });

  test('UploadPart_content_md5_correct_is_accepted', async () => {
    const key = 'md5/ok';
    const body = data(1000);
    const uploadId = await createUpload(s3, B, key);
    const out = await s3.send(new UploadPartCommand({ Bucket: B, Key: key, UploadId: uploadId, PartNumber: 1, Body: body, ContentMD5: md5Base64(body) }));
    assert.equal(out.ETag, `"${md5Hex(body)}"`);
    await s3.send(new AbortMultipartUploadCommand({ Bucket: B, Key: key, UploadId: uploadId }));
  });

  test('UploadPart_content_md5_mismatch_is_BadDigest_and_stores_nothing', async () => {
    const key = 'md5/bad';
    const uploadId = await createUpload(s3, B, key);
    const wrong = md5Base64(Buffer.from('something else'));
    await expectS3Error(
      s3.send(new UploadPartCommand({ Bucket: B, Key: key, UploadId: uploadId, PartNumber: 1, Body: data(1000), ContentMD5: wrong })),
      'BadDigest',
      400,
    );
    const parts = await s3.send(new ListPartsCommand({ Bucket: B, Key: key, UploadId: uploadId }));
    assert.equal(parts.Parts?.length ?? 0, 0, 'a rejected part is not recorded');
    assert.deepEqual(stagedBlobIds(server.dataDir), [], 'a rejected part leaves no staged file');
    await s3.send(new AbortMultipartUploadCommand({ Bucket: B, Key: key, UploadId: uploadId }));
  });

  test('UploadPart_content_md5_malformed_is_InvalidDigest', async () => {
    const key = 'md5/malformed';
    const uploadId = await createUpload(s3, B, key);
    for (const bad of ['not-base64!', Buffer.alloc(15).toString('base64')]) {
      await expectS3Error(
        s3.send(new UploadPartCommand({ Bucket: B, Key: key, UploadId: uploadId, PartNumber: 1, Body: data(100), ContentMD5: bad })),
        'InvalidDigest',
        400,
      );
    }
    await s3.send(new AbortMultipartUploadCommand({ Bucket: B, Key: key, UploadId: uploadId }));
  });

  test('UploadPart_checksum_header_is_verified', async () => {
    const key = 'checksum/header';
    const uploadId = await createUpload(s3, B, key);
    const body = data(5000);
    const ok = await s3.send(
      new UploadPartCommand({ Bucket: B, Key: key, UploadId: uploadId, PartNumber: 1, Body: body, ChecksumSHA256: checksumBase64('SHA256', body) }),
    );
    assert.equal(ok.ChecksumSHA256, checksumBase64('SHA256', body));
    const other = data(5000);
    await expectS3Error(
      s3.send(new UploadPartCommand({ Bucket: B, Key: key, UploadId: uploadId, PartNumber: 2, Body: body, ChecksumSHA256: checksumBase64('SHA256', other) })),
      'BadDigest',
      400,
    );
    await expectS3Error(
      s3.send(new UploadPartCommand({ Bucket: B, Key: key, UploadId: uploadId, PartNumber: 3, Body: body, ChecksumCRC32: crc32Raw(other).toString('base64') })),
      'BadDigest',
      400,
    );
    const listed = await s3.send(new ListPartsCommand({ Bucket: B, Key: key, UploadId: uploadId }));
    assert.deepEqual(listed.Parts?.map((p) => p.PartNumber), [1], 'only the verified part was stored');
    await s3.send(new AbortMultipartUploadCommand({ Bucket: B, Key: key, UploadId: uploadId }));
  });

  test('UploadPart_sdk_default_crc32_header_and_trailer_are_verified', async () => {
    const key = 'checksum/trailer';
    const uploadId = await createUpload(s3, B, key);
    const p1 = data(MIN + 100);
    const p2 = data(3000);
    // A Buffer body: the SDK sends x-amz-checksum-crc32 as a header.
    const r1 = await s3.send(new UploadPartCommand({ Bucket: B, Key: key, UploadId: uploadId, PartNumber: 1, Body: p1 }));
    assert.equal(r1.ChecksumCRC32, crc32Raw(p1).toString('base64'));
    // A stream body: the SDK sends aws-chunked with an x-amz-checksum-crc32 trailer.
    const r2 = await s3.send(new UploadPartCommand({ Bucket: B, Key: key, UploadId: uploadId, PartNumber: 2, Body: Readable.from([p2]), ContentLength: p2.length }));
    assert.equal(r2.ChecksumCRC32, crc32Raw(p2).toString('base64'));
    assert.equal(r2.ETag, `"${md5Hex(p2)}"`);

    const corrupt = corruptingClient(server);
    try {
      await expectS3Error(
        corrupt.send(new UploadPartCommand({ Bucket: B, Key: key, UploadId: uploadId, PartNumber: 3, Body: Readable.from([data(3000)]), ContentLength: 3000 })),
        'BadDigest',
        400,
      );
    } finally {
      corrupt.destroy();
    }
    const listed = await s3.send(new ListPartsCommand({ Bucket: B, Key: key, UploadId: uploadId }));
    assert.deepEqual(listed.Parts?.map((p) => p.PartNumber), [1, 2]);
    const done = await complete(s3, B, key, uploadId, [
      { PartNumber: 1, ETag: r1.ETag },
      { PartNumber: 2, ETag: r2.ETag },
    ]);
    assert.equal(done.ETag, multipartEtag([p1, p2]));
    assert.ok((await getBytes(s3, B, key)).bytes.equals(Buffer.concat([p1, p2])));
  });

  test('CreateMultipartUpload_checksum_algorithm_SHA256_gives_composite_checksum', async () => {
    const key = 'checksum/sha256-composite';
    const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: key, ChecksumAlgorithm: 'SHA256' }));
    assert.equal(created.ChecksumAlgorithm, 'SHA256');
    const uploadId = created.UploadId!;
    const parts = [data(MIN), data(MIN + 3), data(999)];
    const completed: CompletedPart[] = [];
    for (const [i, body] of parts.entries()) {
      const out = await s3.send(new UploadPartCommand({ Bucket: B, Key: key, UploadId: uploadId, PartNumber: i + 1, Body: body, ChecksumAlgorithm: 'SHA256' }));
      assert.equal(out.ChecksumSHA256, checksumBase64('SHA256', body));
      completed.push({ PartNumber: i + 1, ETag: out.ETag, ChecksumSHA256: out.ChecksumSHA256 });
    }
    const listed = await s3.send(new ListPartsCommand({ Bucket: B, Key: key, UploadId: uploadId }));
    assert.equal(listed.ChecksumAlgorithm, 'SHA256');
    assert.deepEqual(
      listed.Parts?.map((p) => p.ChecksumSHA256),
      parts.map((p) => checksumBase64('SHA256', p)),
    );
    const done = await complete(s3, B, key, uploadId, completed);
    const expected = compositeChecksum('SHA256', parts);
    assert.equal(done.ChecksumSHA256, expected);
    assert.equal(done.ChecksumType, 'COMPOSITE');
    assert.equal(done.ETag, multipartEtag(parts));
    const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key: key, ChecksumMode: 'ENABLED' }));
    assert.equal(head.ChecksumSHA256, expected);
    assert.equal(head.ChecksumType, 'COMPOSITE');
    assert.ok((await getBytes(s3, B, key)).bytes.equals(Buffer.concat(parts)));
  });

  test('CreateMultipartUpload_checksum_algorithm_CRC32_composite_over_header_and_trailer_parts', async () => {
    const key = 'checksum/crc32-composite';
    const uploadId = await createUpload(s3, B, key, { ChecksumAlgorithm: 'CRC32' });
    const parts = [data(MIN + 9), data(4321)];
    const r1 = await s3.send(new UploadPartCommand({ Bucket: B, Key: key, UploadId: uploadId, PartNumber: 1, Body: parts[0], ChecksumAlgorithm: 'CRC32' }));
    const r2 = await s3.send(
      new UploadPartCommand({ Bucket: B, Key: key, UploadId: uploadId, PartNumber: 2, Body: Readable.from([parts[1]!]), ContentLength: parts[1]!.length, ChecksumAlgorithm: 'CRC32' }),
    );
    const done = await complete(s3, B, key, uploadId, [
      { PartNumber: 1, ETag: r1.ETag, ChecksumCRC32: r1.ChecksumCRC32 },
      { PartNumber: 2, ETag: r2.ETag, ChecksumCRC32: r2.ChecksumCRC32 },
    ]);
    const expected = compositeChecksum('CRC32', parts);
    assert.equal(done.ChecksumCRC32, expected);
    const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key: key, ChecksumMode: 'ENABLED' }));
    assert.equal(head.ChecksumCRC32, expected);
  });

  test('CompleteMultipartUpload_composite_upload_without_part_checksums_is_InvalidRequest', async () => {
    const key = 'checksum/missing-in-complete';
    const uploadId = await createUpload(s3, B, key, { ChecksumAlgorithm: 'SHA256' });
    const body = data(500);
    const r = await s3.send(new UploadPartCommand({ Bucket: B, Key: key, UploadId: uploadId, PartNumber: 1, Body: body, ChecksumAlgorithm: 'SHA256' }));
    // S3: "The upload was created using a sha256 checksum. The complete request must include
    // the checksum for each part. It was missing for part 1 in the request."
    const err = await expectS3Error(complete(s3, B, key, uploadId, [{ PartNumber: 1, ETag: r.ETag }]), 'InvalidRequest', 400);
    assert.match(err.message, /sha256 checksum.*missing for part 1/);
    // A part checksum that is not the part's is InvalidPart.
    await expectS3Error(
      complete(s3, B, key, uploadId, [{ PartNumber: 1, ETag: r.ETag, ChecksumSHA256: checksumBase64('SHA256', data(500)) }]),
      'InvalidPart',
      400,
    );
    // The expected object checksum on Complete is verified (BadDigest), then a right one completes.
    await expectS3Error(
      s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: B,
          Key: key,
          UploadId: uploadId,
          ChecksumSHA256: compositeChecksum('SHA256', [data(500)]),
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: r.ETag, ChecksumSHA256: r.ChecksumSHA256 }] },
        }),
      ),
      'BadDigest',
      400,
    );
    const done = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: B,
        Key: key,
        UploadId: uploadId,
        ChecksumSHA256: compositeChecksum('SHA256', [body]),
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: r.ETag, ChecksumSHA256: r.ChecksumSHA256 }] },
      }),
    );
    assert.equal(done.ChecksumSHA256, compositeChecksum('SHA256', [body]));
  });

  test('UploadPartCopy_into_checksum_upload_returns_part_checksum', async () => {
    const srcBody = data(MIN + 10);
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'checksum/copy-src', Body: srcBody }));
    const key = 'checksum/copy-dst';
    const uploadId = await createUpload(s3, B, key, { ChecksumAlgorithm: 'SHA256' });
    const r = await s3.send(new UploadPartCopyCommand({ Bucket: B, Key: key, UploadId: uploadId, PartNumber: 1, CopySource: `${B}/checksum/copy-src` }));
    assert.equal(r.CopyPartResult?.ChecksumSHA256, checksumBase64('SHA256', srcBody));
    const done = await complete(s3, B, key, uploadId, [{ PartNumber: 1, ETag: r.CopyPartResult!.ETag, ChecksumSHA256: r.CopyPartResult!.ChecksumSHA256 }]);
    assert.equal(done.ChecksumSHA256, compositeChecksum('SHA256', [srcBody]));
  });

  test('UploadPart_checksum_algorithm_other_than_upload_is_InvalidRequest', async () => {
    const key = 'checksum/mismatch';
    const uploadId = await createUpload(s3, B, key, { ChecksumAlgorithm: 'SHA256' });
    await expectS3Error(
      s3.send(new UploadPartCommand({ Bucket: B, Key: key, UploadId: uploadId, PartNumber: 1, Body: data(100), ChecksumAlgorithm: 'CRC32' })),
      'InvalidRequest',
      400,
    );
    await s3.send(new AbortMultipartUploadCommand({ Bucket: B, Key: key, UploadId: uploadId }));
  });

  test('UploadPart_part_number_0_and_10001_are_InvalidArgument', async () => {
    const key = 'part-numbers';
    const uploadId = await createUpload(s3, B, key);
    for (const PartNumber of [0, 10001]) {
      await expectS3Error(s3.send(new UploadPartCommand({ Bucket: B, Key: key, UploadId: uploadId, PartNumber, Body: data(10) })), 'InvalidArgument', 400);
    }
    // The bounds themselves are valid.
    const lo = await s3.send(new UploadPartCommand({ Bucket: B, Key: key, UploadId: uploadId, PartNumber: 1, Body: data(10) }));
    const hi = await s3.send(new UploadPartCommand({ Bucket: B, Key: key, UploadId: uploadId, PartNumber: 10000, Body: data(10) }));
    assert.ok(lo.ETag && hi.ETag);
    const listed = await s3.send(new ListPartsCommand({ Bucket: B, Key: key, UploadId: uploadId }));
    assert.deepEqual(listed.Parts?.map((p) => p.PartNumber), [1, 10000]);
    await s3.send(new AbortMultipartUploadCommand({ Bucket: B, Key: key, UploadId: uploadId }));
  });

  test('UploadPartCopy_part_number_0_is_InvalidArgument', async () => {
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'copy-src-small', Body: data(100) }));
    const key = 'copy-part-number';
    const uploadId = await createUpload(s3, B, key);
    await expectS3Error(
      s3.send(new UploadPartCopyCommand({ Bucket: B, Key: key, UploadId: uploadId, PartNumber: 0, CopySource: `${B}/copy-src-small` })),
      'InvalidArgument',
      400,
    );
    await s3.send(new AbortMultipartUploadCommand({ Bucket: B, Key: key, UploadId: uploadId }));
  });

  test('CompleteMultipartUpload_small_non_last_part_is_EntityTooSmall', async () => {
    const key = 'too-small';
    const uploadId = await createUpload(s3, B, key);
    const parts = [data(MIN - 1), data(MIN)];
    const completed = await uploadParts(s3, B, key, uploadId, parts);
    await expectS3Error(complete(s3, B, key, uploadId, completed), 'EntityTooSmall', 400);
    // The failed Complete leaves the upload as it was: fixing part 1 lets it complete.
    const fixed = data(MIN);
    const r = await s3.send(new UploadPartCommand({ Bucket: B, Key: key, UploadId: uploadId, PartNumber: 1, Body: fixed }));
    const done = await complete(s3, B, key, uploadId, [{ PartNumber: 1, ETag: r.ETag }, completed[1]!]);
    assert.equal(done.ETag, multipartEtag([fixed, parts[1]!]));
  });

  test('CompleteMultipartUpload_parts_out_of_order_is_InvalidPartOrder', async () => {
    const key = 'order';
    const uploadId = await createUpload(s3, B, key);
    const completed = await uploadParts(s3, B, key, uploadId, [data(MIN), data(MIN)]);
    await expectS3Error(complete(s3, B, key, uploadId, [completed[1]!, completed[0]!]), 'InvalidPartOrder', 400);
    // Still there: the proper order completes.
    await complete(s3, B, key, uploadId, completed);
  });

  test('CompleteMultipartUpload_empty_part_list_is_MalformedXML', async () => {
    const key = 'empty-list';
    const uploadId = await createUpload(s3, B, key);
    await uploadParts(s3, B, key, uploadId, [data(10)]);
    await expectS3Error(complete(s3, B, key, uploadId, []), 'MalformedXML', 400);
    await s3.send(new AbortMultipartUploadCommand({ Bucket: B, Key: key, UploadId: uploadId }));
  });

  test('CompleteMultipartUpload_zero_byte_last_part_counts_in_etag', async () => {
    const key = 'zero-last';
    const parts = [data(MIN), Buffer.alloc(0)];
    const uploadId = await createUpload(s3, B, key);
    const done = await complete(s3, B, key, uploadId, await uploadParts(s3, B, key, uploadId, parts));
    assert.equal(done.ETag, multipartEtag(parts));
    assert.match(done.ETag ?? '', /-2"$/);
    const { out, bytes } = await getBytes(s3, B, key);
    assert.equal(out.ContentLength, MIN);
    assert.ok(bytes.equals(parts[0]!));
  });

  test('CompleteMultipartUpload_if_none_match_on_existing_key_is_PreconditionFailed', async () => {
    const key = 'conditional-complete';
    await s3.send(new PutObjectCommand({ Bucket: B, Key: key, Body: 'existing' }));
    const parts = [data(100)];
    const uploadId = await createUpload(s3, B, key);
    const completed = await uploadParts(s3, B, key, uploadId, parts);
    await expectS3Error(
      s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: key, UploadId: uploadId, IfNoneMatch: '*', MultipartUpload: { Parts: completed } })),
      'PreconditionFailed',
      412,
    );
    assert.equal((await getBytes(s3, B, key)).bytes.toString(), 'existing', 'the existing object is untouched');
    // The failed conditional Complete leaves the upload in place.
    const done = await complete(s3, B, key, uploadId, completed);
    assert.equal(done.ETag, multipartEtag(parts));
  });

  test('GetObject_part_number_with_range_is_InvalidRequest', async () => {
    const key = 'part-and-range';
    const uploadId = await createUpload(s3, B, key);
    await complete(s3, B, key, uploadId, await uploadParts(s3, B, key, uploadId, [data(100)]));
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: B, Key: key, PartNumber: 1, Range: 'bytes=0-1' })), 'InvalidRequest', 400);
  });

  test('CreateMultipartUpload_missing_bucket_is_NoSuchBucket', async () => {
    await expectS3Error(s3.send(new CreateMultipartUploadCommand({ Bucket: 'no-such-bucket-mpu', Key: 'k' })), 'NoSuchBucket', 404);
  });

  test('CompleteMultipartUpload_unknown_part_is_InvalidPart', async () => {
    const key = 'unknown-part';
    const uploadId = await createUpload(s3, B, key);
    const completed = await uploadParts(s3, B, key, uploadId, [data(MIN)]);
    await expectS3Error(complete(s3, B, key, uploadId, [completed[0]!, { PartNumber: 2, ETag: completed[0]!.ETag }]), 'InvalidPart', 400);
    await s3.send(new AbortMultipartUploadCommand({ Bucket: B, Key: key, UploadId: uploadId }));
  });

  test('CompleteMultipartUpload_mismatched_etag_is_InvalidPart', async () => {
    const key = 'wrong-etag';
    const uploadId = await createUpload(s3, B, key);
    await uploadParts(s3, B, key, uploadId, [data(MIN)]);
    await expectS3Error(complete(s3, B, key, uploadId, [{ PartNumber: 1, ETag: `"${md5Hex(Buffer.from('nope'))}"` }]), 'InvalidPart', 400);
    await s3.send(new AbortMultipartUploadCommand({ Bucket: B, Key: key, UploadId: uploadId }));
  });

  test('UploadPart_reupload_of_part_number_replaces_it', async () => {
    const key = 'replace';
    const uploadId = await createUpload(s3, B, key);
    const first = data(MIN + 50);
    const second = data(MIN + 70);
    const [old] = await uploadParts(s3, B, key, uploadId, [first]);
    const [replacement] = await uploadParts(s3, B, key, uploadId, [second]);
    const listed = await s3.send(new ListPartsCommand({ Bucket: B, Key: key, UploadId: uploadId }));
    assert.equal(listed.Parts?.length, 1);
    assert.equal(listed.Parts?.[0]?.ETag, `"${md5Hex(second)}"`);
    assert.equal(listed.Parts?.[0]?.Size, second.length);
    await expectS3Error(complete(s3, B, key, uploadId, [old!]), 'InvalidPart', 400);
    const done = await complete(s3, B, key, uploadId, [replacement!]);
    assert.equal(done.ETag, multipartEtag([second]));
    assert.ok((await getBytes(s3, B, key)).bytes.equals(second));
  });

  test('NoSuchUpload_for_unknown_upload_id_on_every_operation', async () => {
    const key = 'nosuch';
    const UploadId = 'does-not-exist-0123456789';
    await expectS3Error(s3.send(new UploadPartCommand({ Bucket: B, Key: key, UploadId, PartNumber: 1, Body: data(10) })), 'NoSuchUpload', 404);
    await expectS3Error(s3.send(new ListPartsCommand({ Bucket: B, Key: key, UploadId })), 'NoSuchUpload', 404);
    await expectS3Error(s3.send(new AbortMultipartUploadCommand({ Bucket: B, Key: key, UploadId })), 'NoSuchUpload', 404);
    await expectS3Error(complete(s3, B, key, UploadId, [{ PartNumber: 1, ETag: '"00000000000000000000000000000000"' }]), 'NoSuchUpload', 404);
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'nosuch-src', Body: 'x' }));
    await expectS3Error(
      s3.send(new UploadPartCopyCommand({ Bucket: B, Key: key, UploadId, PartNumber: 1, CopySource: `${B}/nosuch-src` })),
      'NoSuchUpload',
      404,
    );
  });

  test('NoSuchUpload_when_upload_id_belongs_to_another_key', async () => {
    const uploadId = await createUpload(s3, B, 'owner-key');
    await expectS3Error(s3.send(new UploadPartCommand({ Bucket: B, Key: 'other-key', UploadId: uploadId, PartNumber: 1, Body: data(10) })), 'NoSuchUpload', 404);
    await expectS3Error(s3.send(new ListPartsCommand({ Bucket: B, Key: 'other-key', UploadId: uploadId })), 'NoSuchUpload', 404);
    await s3.send(new AbortMultipartUploadCommand({ Bucket: B, Key: 'owner-key', UploadId: uploadId }));
  });

  test('AbortMultipartUpload_removes_upload_and_its_parts', async () => {
    const key = 'abort-me';
    const uploadId = await createUpload(s3, B, key);
    await uploadParts(s3, B, key, uploadId, [data(MIN), data(10)]);
    const out = await s3.send(new AbortMultipartUploadCommand({ Bucket: B, Key: key, UploadId: uploadId }));
    assert.equal(out.$metadata.httpStatusCode, 204);
    await expectS3Error(s3.send(new ListPartsCommand({ Bucket: B, Key: key, UploadId: uploadId })), 'NoSuchUpload', 404);
    await expectS3Error(s3.send(new UploadPartCommand({ Bucket: B, Key: key, UploadId: uploadId, PartNumber: 3, Body: data(10) })), 'NoSuchUpload', 404);
    await expectS3Error(complete(s3, B, key, uploadId, [{ PartNumber: 1, ETag: '"x"' }]), 'NoSuchUpload', 404);
    // S3: aborting an upload that no longer exists is NoSuchUpload.
    await expectS3Error(s3.send(new AbortMultipartUploadCommand({ Bucket: B, Key: key, UploadId: uploadId })), 'NoSuchUpload', 404);
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: B, Prefix: key }));
    assert.equal(uploads.Uploads?.length ?? 0, 0);
    await expectS3Error(s3.send(new HeadObjectCommand({ Bucket: B, Key: key })), 'NotFound', 404);
  });

  test('ListParts_paginates_with_part_number_marker_and_max_parts', async () => {
    const key = 'list-parts';
    const uploadId = await createUpload(s3, B, key);
    const numbers = [1, 2, 3, 5, 8, 13, 21];
    const bodies = numbers.map((n) => data(n * 10));
    await uploadParts(s3, B, key, uploadId, bodies, numbers);

    const all = await s3.send(new ListPartsCommand({ Bucket: B, Key: key, UploadId: uploadId }));
    assert.equal(all.IsTruncated, false);
    assert.deepEqual(all.Parts?.map((p) => p.PartNumber), numbers);
    assert.deepEqual(all.Parts?.map((p) => p.Size), numbers.map((n) => n * 10));
    assert.deepEqual(all.Parts?.map((p) => p.ETag), bodies.map((b) => `"${md5Hex(b)}"`));
    assert.ok(all.Parts?.every((p) => p.LastModified instanceof Date && Math.abs(p.LastModified.getTime() - Date.now()) < 60_000));
    assert.equal(all.UploadId, uploadId);
    assert.equal(all.Key, key);
    assert.equal(all.Bucket, B);

    const pages: number[][] = [];
    const markers: (string | undefined)[] = [];
    let marker: string | undefined;
    for (let i = 0; i < 10; i++) {
      const page = await s3.send(new ListPartsCommand({ Bucket: B, Key: key, UploadId: uploadId, MaxParts: 3, ...(marker ? { PartNumberMarker: marker } : {}) }));
      assert.equal(page.MaxParts, 3);
      pages.push(page.Parts?.map((p) => p.PartNumber!) ?? []);
      markers.push(page.NextPartNumberMarker);
      if (!page.IsTruncated) break;
      marker = page.NextPartNumberMarker;
      assert.ok(marker, 'a truncated page has a NextPartNumberMarker');
    }
    assert.deepEqual(pages, [[1, 2, 3], [5, 8, 13], [21]]);
    assert.deepEqual(markers.slice(0, 2), ['3', '13']);

    // A marker between part numbers starts after it.
    const mid = await s3.send(new ListPartsCommand({ Bucket: B, Key: key, UploadId: uploadId, PartNumberMarker: '4', MaxParts: 2 }));
    assert.deepEqual(mid.Parts?.map((p) => p.PartNumber), [5, 8]);
    assert.equal(mid.IsTruncated, true);
    assert.equal(mid.PartNumberMarker, '4');
    assert.equal(mid.NextPartNumberMarker, '8');
    await s3.send(new AbortMultipartUploadCommand({ Bucket: B, Key: key, UploadId: uploadId }));
  });

  test('GetObject_and_HeadObject_part_number_return_that_part', async () => {
    const key = 'by-part';
    const parts = [data(MIN + 7), data(MIN + 13), data(999)];
    const uploadId = await createUpload(s3, B, key);
    await complete(s3, B, key, uploadId, await uploadParts(s3, B, key, uploadId, parts));
    const total = parts.reduce((n, p) => n + p.length, 0);
    let offset = 0;
    for (const [i, part] of parts.entries()) {
      const PartNumber = i + 1;
      const { out, bytes } = await getBytes(s3, B, key, { PartNumber });
      assert.ok(bytes.equals(part), `GetObject partNumber=${PartNumber} returns exactly that part`);
      assert.equal(out.$metadata.httpStatusCode, 206);
      assert.equal(out.PartsCount, 3);
      assert.equal(out.ContentLength, part.length);
      assert.equal(out.ContentRange, `bytes ${offset}-${offset + part.length - 1}/${total}`);
      assert.equal(out.ETag, multipartEtag(parts), 'the ETag is the whole object’s');
      const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key: key, PartNumber }));
      assert.equal(head.PartsCount, 3);
      assert.equal(head.ContentLength, part.length);
      offset += part.length;
    }
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: B, Key: key, PartNumber: 4 })), 'InvalidPartNumber', 416);
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: B, Key: key, PartNumber: 0 })), 'InvalidArgument', 400);
  });

  test('GetObject_range_spanning_part_boundaries_returns_exact_bytes', async () => {
    const key = 'ranges';
    const parts = [data(MIN + 11), data(MIN), data(MIN + 5), data(123)];
    const uploadId = await createUpload(s3, B, key);
    await complete(s3, B, key, uploadId, await uploadParts(s3, B, key, uploadId, parts));
    const whole = Buffer.concat(parts);
    const b1 = parts[0]!.length;
    const b2 = b1 + parts[1]!.length;
    const b3 = b2 + parts[2]!.length;
    const cases: [string, number, number][] = [
      [`bytes=${b1 - 1}-${b1}`, b1 - 1, b1],
      [`bytes=${b1}-${b1}`, b1, b1],
      [`bytes=${b1 - 10}-${b3 + 5}`, b1 - 10, b3 + 5],
      [`bytes=${b2 - 1}-${b2}`, b2 - 1, b2],
      [`bytes=0-${whole.length - 1}`, 0, whole.length - 1],
      [`bytes=${b3 - 3}-`, b3 - 3, whole.length - 1],
      [`bytes=-${whole.length - b1 + 2}`, b1 - 2, whole.length - 1],
      [`bytes=${b2 + 1}-${whole.length + 1000}`, b2 + 1, whole.length - 1],
    ];
    for (const [Range, start, end] of cases) {
      const { out, bytes } = await getBytes(s3, B, key, { Range });
      assert.equal(out.$metadata.httpStatusCode, 206, Range);
      assert.equal(out.ContentRange, `bytes ${start}-${end}/${whole.length}`, Range);
      assert.ok(bytes.equals(whole.subarray(start, end + 1)), `${Range} returns exactly bytes ${start}-${end}`);
    }
  });

  test('UploadPart_parallel_uploads_complete_in_order', async () => {
    const key = 'parallel';
    const parts = Array.from({ length: 6 }, (_, i) => data(MIN + i * 1000));
    const uploadId = await createUpload(s3, B, key);
    const results = await Promise.all(
      parts.map((Body, i) => s3.send(new UploadPartCommand({ Bucket: B, Key: key, UploadId: uploadId, PartNumber: i + 1, Body }))),
    );
    const completed = results.map((r, i) => ({ PartNumber: i + 1, ETag: r.ETag }));
    assert.deepEqual(completed.map((c) => c.ETag), parts.map((p) => `"${md5Hex(p)}"`));
    const listed = await s3.send(new ListPartsCommand({ Bucket: B, Key: key, UploadId: uploadId }));
    assert.deepEqual(listed.Parts?.map((p) => p.PartNumber), [1, 2, 3, 4, 5, 6]);
    const done = await complete(s3, B, key, uploadId, completed);
    assert.equal(done.ETag, multipartEtag(parts));
    assert.ok((await getBytes(s3, B, key)).bytes.equals(Buffer.concat(parts)));
  });

  test('lib_storage_Upload_20MiB_with_5MiB_parts_reads_back_byte_for_byte', async () => {
    const key = 'lib-storage/big.bin';
    const body = randomBytesSeeded(20240601, 20 * MiB + 12345);
    const partSize = 5 * MiB;
    const upload = new Upload({ client: s3, params: { Bucket: B, Key: key, Body: body }, partSize, queueSize: 4 });
    const result = await upload.done();
    const slices: Buffer[] = [];
    for (let off = 0; off < body.length; off += partSize) slices.push(body.subarray(off, Math.min(off + partSize, body.length)));
    assert.equal(slices.length, 5);
    assert.equal(result.ETag, multipartEtag(slices));
    const { out, bytes } = await getBytes(s3, B, key);
    assert.equal(out.ContentLength, body.length);
    assert.ok(bytes.equals(body), 'read back byte for byte');
    // lib-storage asks for CRC32 (COMPOSITE) when the client calculates checksums by default.
    const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key: key, ChecksumMode: 'ENABLED' }));
    assert.equal(head.ChecksumCRC32, compositeChecksum('CRC32', slices));
    const last = await getBytes(s3, B, key, { PartNumber: 5 });
    assert.ok(last.bytes.equals(slices[4]!));
    assert.equal(last.out.PartsCount, 5);
  });
});

describe('UploadPartCopy', () => {
  let server: TestServer;
  let s3: S3Client;
  const B = 'partcopy';
  const SRC = 'partcopy-src';
  let source: Buffer;
  let sourceEtag: string;

  before(async () => {
    server = await startServer({ args: SERVER_ARGS });
    s3 = server.client();
    await s3.send(new CreateBucketCommand({ Bucket: B }));
    await s3.send(new CreateBucketCommand({ Bucket: SRC }));
    source = data(3 * MIN + 500);
    const put = await s3.send(new PutObjectCommand({ Bucket: SRC, Key: 'source object+1.bin', Body: source }));
    sourceEtag = put.ETag!;
  });
  after(async () => {
    s3?.destroy();
    await server?.destroy();
  });

  const copySource = () => `${SRC}/${encodeURIComponent('source object+1.bin')}`;

  test('UploadPartCopy_with_copy_source_range_copies_those_bytes', async () => {
    const key = 'assembled';
    const uploadId = await createUpload(s3, B, key);
    const r1 = await s3.send(
      new UploadPartCopyCommand({ Bucket: B, Key: key, UploadId: uploadId, PartNumber: 1, CopySource: copySource(), CopySourceRange: `bytes=100-${100 + MIN - 1}` }),
    );
    const piece1 = source.subarray(100, 100 + MIN);
    assert.equal(r1.CopyPartResult?.ETag, `"${md5Hex(piece1)}"`);
    assert.ok(r1.CopyPartResult?.LastModified instanceof Date);
    const r2 = await s3.send(new UploadPartCopyCommand({ Bucket: B, Key: key, UploadId: uploadId, PartNumber: 2, CopySource: copySource() }));
    assert.equal(r2.CopyPartResult?.ETag, `"${md5Hex(source)}"`);
    const tail = data(77);
    const r3 = await s3.send(new UploadPartCommand({ Bucket: B, Key: key, UploadId: uploadId, PartNumber: 3, Body: tail }));
    const listed = await s3.send(new ListPartsCommand({ Bucket: B, Key: key, UploadId: uploadId }));
    assert.deepEqual(listed.Parts?.map((p) => p.Size), [MIN, source.length, 77]);
    const done = await complete(s3, B, key, uploadId, [
      { PartNumber: 1, ETag: r1.CopyPartResult!.ETag },
      { PartNumber: 2, ETag: r2.CopyPartResult!.ETag },
      { PartNumber: 3, ETag: r3.ETag },
    ]);
    assert.equal(done.ETag, multipartEtag([piece1, source, tail]));
    assert.ok((await getBytes(s3, B, key)).bytes.equals(Buffer.concat([piece1, source, tail])));
  });

  test('UploadPartCopy_from_multipart_source_range_across_its_parts', async () => {
    const srcParts = [data(MIN + 3), data(MIN + 8), data(40)];
    const srcKey = 'mp-source';
    const srcUpload = await createUpload(s3, SRC, srcKey);
    await complete(s3, SRC, srcKey, srcUpload, await uploadParts(s3, SRC, srcKey, srcUpload, srcParts));
    const whole = Buffer.concat(srcParts);
    const key = 'from-mp';
    const uploadId = await createUpload(s3, B, key);
    const start = MIN - 20;
    const end = 2 * MIN + 20; // spans all three source parts
    const r = await s3.send(
      new UploadPartCopyCommand({ Bucket: B, Key: key, UploadId: uploadId, PartNumber: 1, CopySource: `${SRC}/${srcKey}`, CopySourceRange: `bytes=${start}-${end}` }),
    );
    const piece = whole.subarray(start, end + 1);
    assert.equal(r.CopyPartResult?.ETag, `"${md5Hex(piece)}"`);
    await complete(s3, B, key, uploadId, [{ PartNumber: 1, ETag: r.CopyPartResult!.ETag }]);
    assert.ok((await getBytes(s3, B, key)).bytes.equals(piece));
  });

  test('UploadPartCopy_copy_source_conditionals_failing_are_PreconditionFailed', async () => {
    const key = 'conditional';
    const uploadId = await createUpload(s3, B, key);
    const base = { Bucket: B, Key: key, UploadId: uploadId, PartNumber: 1, CopySource: copySource() };
    const future = new Date(Date.now() + 3600_000);
    const past = new Date(Date.now() - 3600_000);
    await expectS3Error(s3.send(new UploadPartCopyCommand({ ...base, CopySourceIfMatch: '"0123456789abcdef0123456789abcdef"' })), 'PreconditionFailed', 412);
    await expectS3Error(s3.send(new UploadPartCopyCommand({ ...base, CopySourceIfNoneMatch: sourceEtag })), 'PreconditionFailed', 412);
    await expectS3Error(s3.send(new UploadPartCopyCommand({ ...base, CopySourceIfModifiedSince: future })), 'PreconditionFailed', 412);
    await expectS3Error(s3.send(new UploadPartCopyCommand({ ...base, CopySourceIfUnmodifiedSince: past })), 'PreconditionFailed', 412);
    const none = await s3.send(new ListPartsCommand({ Bucket: B, Key: key, UploadId: uploadId }));
    assert.equal(none.Parts?.length ?? 0, 0, 'no part was stored by a failed conditional copy');
    // Conditions that hold copy the part.
    const ok = await s3.send(new UploadPartCopyCommand({ ...base, CopySourceIfMatch: sourceEtag, CopySourceIfUnmodifiedSince: future, CopySourceIfModifiedSince: past }));
    assert.equal(ok.CopyPartResult?.ETag, `"${md5Hex(source)}"`);
    // S3: if-match true + if-unmodified-since false → copies.
    const both = await s3.send(new UploadPartCopyCommand({ ...base, PartNumber: 2, CopySourceIfMatch: sourceEtag, CopySourceIfUnmodifiedSince: past }));
    assert.equal(both.CopyPartResult?.ETag, `"${md5Hex(source)}"`);
    await s3.send(new AbortMultipartUploadCommand({ Bucket: B, Key: key, UploadId: uploadId }));
  });

  test('UploadPartCopy_missing_source_is_NoSuchKey', async () => {
    const key = 'missing-src';
    const uploadId = await createUpload(s3, B, key);
    await expectS3Error(
      s3.send(new UploadPartCopyCommand({ Bucket: B, Key: key, UploadId: uploadId, PartNumber: 1, CopySource: `${SRC}/no-such-key` })),
      'NoSuchKey',
      404,
    );
    await expectS3Error(
      s3.send(new UploadPartCopyCommand({ Bucket: B, Key: key, UploadId: uploadId, PartNumber: 1, CopySource: `no-such-bucket-xyz/k` })),
      'NoSuchBucket',
      404,
    );
    await s3.send(new AbortMultipartUploadCommand({ Bucket: B, Key: key, UploadId: uploadId }));
  });
});

describe('ListMultipartUploads', () => {
  let server: TestServer;
  let s3: S3Client;
  const B = 'uploads-list';
  /** [key, uploadId] in S3's listing order: key, then initiation time. */
  const uploads: [string, string][] = [];

  before(async () => {
    server = await startServer({ args: SERVER_ARGS });
    s3 = server.client();
    await s3.send(new CreateBucketCommand({ Bucket: B }));
    for (const key of ['c', 'a/2', 'b/1', 'a/1', 'c', 'd/x/y']) {
      uploads.push([key, await createUpload(s3, B, key)]);
      await sleep(3); // distinct initiation times
    }
    uploads.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0)); // stable: keeps initiation order per key
  });
  after(async () => {
    s3?.destroy();
    await server?.destroy();
  });

  const pairs = (out: ListMultipartUploadsCommandOutput): [string, string][] => (out.Uploads ?? []).map((u) => [u.Key!, u.UploadId!]);

  test('ListMultipartUploads_lists_all_in_key_then_initiation_order', async () => {
    const out = await s3.send(new ListMultipartUploadsCommand({ Bucket: B }));
    assert.deepEqual(pairs(out), uploads);
    assert.equal(out.IsTruncated, false);
    assert.equal(out.Bucket, B);
    for (const u of out.Uploads ?? []) {
      assert.ok(u.Initiated instanceof Date && Math.abs(u.Initiated.getTime() - Date.now()) < 60_000);
      assert.equal(u.StorageClass, 'STANDARD');
    }
  });

  test('ListMultipartUploads_prefix_filters_keys', async () => {
    const out = await s3.send(new ListMultipartUploadsCommand({ Bucket: B, Prefix: 'a/' }));
    assert.deepEqual(pairs(out), uploads.filter(([k]) => k.startsWith('a/')));
    assert.equal(out.Prefix, 'a/');
  });

  test('ListMultipartUploads_delimiter_groups_common_prefixes', async () => {
    const out = await s3.send(new ListMultipartUploadsCommand({ Bucket: B, Delimiter: '/' }));
    assert.deepEqual(pairs(out), uploads.filter(([k]) => k === 'c'));
    assert.deepEqual(out.CommonPrefixes?.map((p) => p.Prefix), ['a/', 'b/', 'd/']);
    const nested = await s3.send(new ListMultipartUploadsCommand({ Bucket: B, Delimiter: '/', Prefix: 'd/' }));
    assert.equal(nested.Uploads?.length ?? 0, 0);
    assert.deepEqual(nested.CommonPrefixes?.map((p) => p.Prefix), ['d/x/']);
  });

  test('ListMultipartUploads_key_marker_and_upload_id_marker_paging', async () => {
    const seen: [string, string][] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    let pages = 0;
    for (;;) {
      const out = await s3.send(
        new ListMultipartUploadsCommand({ Bucket: B, MaxUploads: 2, ...(keyMarker ? { KeyMarker: keyMarker } : {}), ...(uploadIdMarker ? { UploadIdMarker: uploadIdMarker } : {}) }),
      );
      pages++;
      assert.equal(out.MaxUploads, 2);
      const page = pairs(out);
      assert.ok(page.length <= 2);
      seen.push(...page);
      if (!out.IsTruncated) break;
      assert.equal(out.NextKeyMarker, page[page.length - 1]![0]);
      assert.equal(out.NextUploadIdMarker, page[page.length - 1]![1]);
      keyMarker = out.NextKeyMarker;
      uploadIdMarker = out.NextUploadIdMarker;
      assert.ok(pages < 10, 'paging terminates');
    }
    assert.equal(pages, 3);
    // The second page boundary falls between the two uploads of key "c".
    assert.deepEqual(seen, uploads);

    // key-marker alone: only keys strictly after it.
    const after = await s3.send(new ListMultipartUploadsCommand({ Bucket: B, KeyMarker: 'c' }));
    assert.deepEqual(pairs(after), uploads.filter(([k]) => k > 'c'));
    // key-marker with upload-id-marker: the rest of that key's uploads, then later keys.
    const cUploads = uploads.filter(([k]) => k === 'c');
    const rest = await s3.send(new ListMultipartUploadsCommand({ Bucket: B, KeyMarker: 'c', UploadIdMarker: cUploads[0]![1] }));
    assert.deepEqual(pairs(rest), [cUploads[1]!, ...uploads.filter(([k]) => k > 'c')]);
  });

  test('ListMultipartUploads_delimiter_paging_counts_prefixes', async () => {
    const first = await s3.send(new ListMultipartUploadsCommand({ Bucket: B, Delimiter: '/', MaxUploads: 2 }));
    assert.deepEqual(first.CommonPrefixes?.map((p) => p.Prefix), ['a/', 'b/']);
    assert.equal(first.Uploads?.length ?? 0, 0);
    assert.equal(first.IsTruncated, true);
    assert.equal(first.NextKeyMarker, 'b/');
    const second = await s3.send(new ListMultipartUploadsCommand({ Bucket: B, Delimiter: '/', MaxUploads: 2, KeyMarker: first.NextKeyMarker }));
    assert.deepEqual(pairs(second), uploads.filter(([k]) => k === 'c'));
    assert.equal(second.IsTruncated, true);
    const third = await s3.send(
      new ListMultipartUploadsCommand({ Bucket: B, Delimiter: '/', MaxUploads: 2, KeyMarker: second.NextKeyMarker, UploadIdMarker: second.NextUploadIdMarker }),
    );
    assert.deepEqual(third.CommonPrefixes?.map((p) => p.Prefix), ['d/']);
    assert.equal(third.Uploads?.length ?? 0, 0);
    assert.equal(third.IsTruncated, false);
  });

  test('ListMultipartUploads_missing_bucket_is_NoSuchBucket', async () => {
    await expectS3Error(s3.send(new ListMultipartUploadsCommand({ Bucket: 'no-such-bucket-here' })), 'NoSuchBucket', 404);
  });
});

/**
 * Blob accounting: this block has its own server so the files under
 * `<data>/blobs` belong to these tests alone. Every test starts and ends with
 * no blobs (it deletes what it made and waits for the garbage collector).
 */
describe('multipart blob accounting', () => {
  let server: TestServer;
  let s3: S3Client;
  const B = 'blobs';
  const blobs = () => storedBlobIds(server.dataDir).length;

  before(async () => {
    server = await startServer({ args: SERVER_ARGS });
    s3 = server.client();
    await s3.send(new CreateBucketCommand({ Bucket: B }));
  });
  after(async () => {
    s3?.destroy();
    await server?.destroy();
  });

  async function startsEmpty(): Promise<void> {
    await eventually(blobs, 0, 5000, 'blob files before the test');
  }

  async function endsEmpty(keys: string[]): Promise<void> {
    for (const Key of keys) await s3.send(new DeleteObjectCommand({ Bucket: B, Key }));
    await eventually(blobs, 0, 5000, 'blob files after deleting everything');
    assert.deepEqual(stagedBlobIds(server.dataDir), []);
  }

  test('CompleteMultipartUpload_racing_completes_both_answer_the_one_object_and_no_part_blobs_leak', async () => {
    await startsEmpty();
    const keys: string[] = [];
    for (let round = 0; round < 5; round++) {
      const key = `race-${round}`;
      keys.push(key);
      const parts = [data(MIN), data(MIN + 1), data(5)];
      const uploadId = await createUpload(s3, B, key);
      const completed = await uploadParts(s3, B, key, uploadId, parts);
      // The upload is consumed atomically by whichever commits first, so no second object is
      // ever built; the other Complete names the same parts and finds the object the first made:
      // it gets the same 200 result, as a retried Complete gets from S3 (issue 21 item 2).
      const results = await Promise.allSettled([complete(s3, B, key, uploadId, completed), complete(s3, B, key, uploadId, completed)]);
      const won = results.flatMap((r) => (r.status === 'fulfilled' ? [r] : []));
      assert.equal(won.length, 2, `round ${round}: both Completes answer 200 (${results.map((r) => (r.status === 'rejected' ? String(r.reason) : 'ok')).join(', ')})`);
      for (const w of won) assert.equal(w.value.ETag, multipartEtag(parts));
      assert.ok((await getBytes(s3, B, key)).bytes.equals(Buffer.concat(parts)));
    }
    // Only the objects' blobs remain: 3 parts per object, nothing leaked.
    await sleep(300);
    await eventually(blobs, 5 * 3, 5000, 'blob files after racing completes');
    assert.deepEqual(stagedBlobIds(server.dataDir), []);
    await endsEmpty(keys);
  });

  test('AbortMultipartUpload_frees_part_blobs', async () => {
    await startsEmpty();
    const key = 'abort';
    const uploadId = await createUpload(s3, B, key);
    await uploadParts(s3, B, key, uploadId, [data(MIN), data(MIN), data(10)]);
    await eventually(blobs, 3, 5000, 'blob files of the uploaded parts');
    await s3.send(new AbortMultipartUploadCommand({ Bucket: B, Key: key, UploadId: uploadId }));
    await eventually(blobs, 0, 5000, 'blob files after abort');
    await endsEmpty([]);
  });

  test('UploadPart_reupload_frees_the_replaced_part_blob', async () => {
    await startsEmpty();
    const key = 'reupload';
    const uploadId = await createUpload(s3, B, key);
    await uploadParts(s3, B, key, uploadId, [data(MIN)]);
    const [second] = await uploadParts(s3, B, key, uploadId, [data(MIN + 1)]);
    await eventually(blobs, 1, 5000, 'blob files after replacing part 1');
    await complete(s3, B, key, uploadId, [second!]);
    await eventually(blobs, 1, 5000, 'blob files of the completed object');
    await endsEmpty([key]);
  });

  test('CompleteMultipartUpload_frees_parts_left_out_and_the_replaced_object', async () => {
    await startsEmpty();
    const key = 'leftout';
    await s3.send(new PutObjectCommand({ Bucket: B, Key: key, Body: data(1000) }));
    const uploadId = await createUpload(s3, B, key);
    const completed = await uploadParts(s3, B, key, uploadId, [data(MIN), data(MIN), data(10)]);
    await eventually(blobs, 4, 5000, 'old object + 3 parts');
    await complete(s3, B, key, uploadId, [completed[0]!, completed[2]!]);
    await eventually(blobs, 2, 5000, 'blob files after completing with 2 of 3 parts over an existing object');
    await endsEmpty([key]);
  });

  test('UploadPart_concurrent_with_complete_leaves_no_orphan_blob', async () => {
    await startsEmpty();
    const key = 'late-part';
    const uploadId = await createUpload(s3, B, key);
    const completed = await uploadParts(s3, B, key, uploadId, [data(MIN)]);
    // Parts racing the Complete either land before it (and are left out, so freed)
    // or arrive after it (NoSuchUpload, discarded). Either way nothing is kept.
    // allSettled right away, so a part rejected before Complete returns is never an unhandled rejection.
    const late = Promise.allSettled(
      Array.from({ length: 4 }, (_, i) => s3.send(new UploadPartCommand({ Bucket: B, Key: key, UploadId: uploadId, PartNumber: i + 2, Body: data(MIN) }))),
    );
    await complete(s3, B, key, uploadId, completed);
    for (const r of await late) {
      if (r.status === 'rejected') await expectS3Error(Promise.reject(r.reason), 'NoSuchUpload', 404);
    }
    await eventually(blobs, 1, 5000, 'only the completed object’s blob');
    assert.deepEqual(stagedBlobIds(server.dataDir), []);
    await endsEmpty([key]);
  });

  test('UploadPart_concurrent_with_abort_leaves_no_orphan_blob', async () => {
    await startsEmpty();
    const key = 'abort-race';
    const uploadId = await createUpload(s3, B, key);
    await uploadParts(s3, B, key, uploadId, [data(MIN)]);
    const inflight = Promise.allSettled(
      Array.from({ length: 4 }, (_, i) => s3.send(new UploadPartCommand({ Bucket: B, Key: key, UploadId: uploadId, PartNumber: i + 2, Body: data(MIN) }))),
    );
    await s3.send(new AbortMultipartUploadCommand({ Bucket: B, Key: key, UploadId: uploadId }));
    for (const r of await inflight) {
      if (r.status === 'rejected') await expectS3Error(Promise.reject(r.reason), 'NoSuchUpload', 404);
    }
    await expectS3Error(s3.send(new ListPartsCommand({ Bucket: B, Key: key, UploadId: uploadId })), 'NoSuchUpload', 404);
    await eventually(blobs, 0, 5000, 'blob files after abort raced by part uploads');
    await endsEmpty([]);
  });
});

describe('stale upload sweep', () => {
  let server: TestServer;
  let s3: S3Client;
  const B = 'sweep';

  before(async () => {
    server = await startServer({ args: SERVER_ARGS, env: { COFFER_STALE_UPLOAD_AGE_MS: '1000', COFFER_SWEEP_INTERVAL_MS: '200' } });
    s3 = server.client();
    await s3.send(new CreateBucketCommand({ Bucket: B }));
  });
  after(async () => {
    s3?.destroy();
    await server?.destroy();
  });

  test('sweep_aborts_uploads_older_than_stale_age_and_frees_their_blobs', async () => {
    // Each step below is a few small requests, well inside the 1 s stale age.
    // A completed object is not an upload: the sweep must leave it alone.
    const keptParts = [data(1000)];
    const keptUpload = await createUpload(s3, B, 'completed');
    await complete(s3, B, 'completed', keptUpload, await uploadParts(s3, B, 'completed', keptUpload, keptParts));
    const key = 'stale';
    const uploadId = await createUpload(s3, B, key);
    await uploadParts(s3, B, key, uploadId, [data(10)]);
    const listed = await s3.send(new ListMultipartUploadsCommand({ Bucket: B }));
    assert.deepEqual(listed.Uploads?.map((u) => u.UploadId), [uploadId], 'the upload exists before it is stale');

    await eventually(async () => (await s3.send(new ListMultipartUploadsCommand({ Bucket: B }))).Uploads?.length ?? 0, 0, 8000, 'uploads listed');
    await expectS3Error(s3.send(new ListPartsCommand({ Bucket: B, Key: key, UploadId: uploadId })), 'NoSuchUpload', 404);
    await expectS3Error(s3.send(new UploadPartCommand({ Bucket: B, Key: key, UploadId: uploadId, PartNumber: 3, Body: data(10) })), 'NoSuchUpload', 404);
    await eventually(() => storedBlobIds(server.dataDir).length, 1, 5000, 'blob files: only the completed object’s part');
    assert.ok((await getBytes(s3, B, 'completed')).bytes.equals(Buffer.concat(keptParts)));
  });
});
