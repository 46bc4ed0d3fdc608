/**
 * CopyObject against the real server with the AWS SDK for JavaScript v3:
 * within and across buckets, metadata and tagging directives, copy-source
 * conditionals, self-copies, URL-encoded source keys, multipart sources, and
 * the errors for missing sources.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CopyObjectCommandInput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { randomBytesSeeded } from '../helpers/data.js';
import { bodyBytes, expectS3Error, md5Hex, multipartEtag } from '../helpers/s3.js';
import { startServer, type TestServer } from '../helpers/server.js';

const MIN = 64 * 1024;
let seed = 7000;
const data = (size: number): Buffer => randomBytesSeeded(seed++, size);

/** `x-amz-copy-source` as SDKs send it: bucket/key with each key segment percent-encoded. */
function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

describe('CopyObject', () => {
  let server: TestServer;
  let s3: S3Client;
  const A = 'copy-a';
  const B = 'copy-b';

  before(async () => {
    server = await startServer({ args: ['--min-part-size', String(MIN)] });
    s3 = server.client();
    await s3.send(new CreateBucketCommand({ Bucket: A }));
    await s3.send(new CreateBucketCommand({ Bucket: B }));
  });
  after(async () => {
    s3?.destroy();
    await server?.destroy();
  });

  async function read(bucket: string, key: string): Promise<Buffer> {
    return bodyBytes(await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key })));
  }

  async function tags(bucket: string, key: string): Promise<[string, string][]> {
    const out = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key }));
    return (out.TagSet ?? []).map((t): [string, string] => [t.Key!, t.Value!]).sort();
  }

  /** A source object with representation headers, user metadata and tags. */
  async function putSource(bucket: string, key: string, body: Buffer): Promise<string> {
    const out = await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: body,
        ContentType: 'image/png',
        CacheControl: 'no-cache',
        ContentLanguage: 'en',
        Metadata: { origin: 'source', size: String(body.length) },
        Tagging: 'stage=raw&owner=alice',
      }),
    );
    return out.ETag!;
  }

  test('CopyObject_within_bucket_copies_bytes_metadata_and_tags', async () => {
    const body = data(10_000);
    await putSource(A, 'src/one', body);
    const before = Date.now();
    const out = await s3.send(new CopyObjectCommand({ Bucket: A, Key: 'dst/one', CopySource: copySource(A, 'src/one') }));
    assert.equal(out.CopyObjectResult?.ETag, `"${md5Hex(body)}"`);
    const lm = out.CopyObjectResult?.LastModified;
    assert.ok(lm instanceof Date, 'CopyObjectResult has LastModified');
    assert.ok(lm.getTime() >= Math.floor(before / 1000) * 1000 - 1000 && lm.getTime() <= Date.now() + 1000, `LastModified ${lm.toISOString()} is the copy time`);

    const head = await s3.send(new HeadObjectCommand({ Bucket: A, Key: 'dst/one' }));
    assert.equal(head.ETag, out.CopyObjectResult?.ETag);
    assert.equal(Math.floor(head.LastModified!.getTime() / 1000), Math.floor(lm.getTime() / 1000));
    assert.equal(head.ContentType, 'image/png');
    assert.equal(head.CacheControl, 'no-cache');
    assert.equal(head.ContentLanguage, 'en');
    assert.deepEqual(head.Metadata, { origin: 'source', size: '10000' });
    assert.deepEqual(await tags(A, 'dst/one'), [
      ['owner', 'alice'],
      ['stage', 'raw'],
    ]);
    assert.ok((await read(A, 'dst/one')).equals(body));
    // The source is unchanged.
    assert.ok((await read(A, 'src/one')).equals(body));
  });

  test('CopyObject_across_buckets', async () => {
    const body = data(3333);
    const etag = await putSource(A, 'cross', body);
    const out = await s3.send(new CopyObjectCommand({ Bucket: B, Key: 'cross-copy', CopySource: copySource(A, 'cross') }));
    assert.equal(out.CopyObjectResult?.ETag, etag);
    assert.ok((await read(B, 'cross-copy')).equals(body));
    const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'cross-copy' }));
    assert.deepEqual(head.Metadata, { origin: 'source', size: '3333' });
  });

  test('CopyObject_leading_slash_in_copy_source_is_accepted', async () => {
    const body = data(50);
    await s3.send(new PutObjectCommand({ Bucket: A, Key: 'slash-src', Body: body }));
    await s3.send(new CopyObjectCommand({ Bucket: A, Key: 'slash-dst', CopySource: `/${A}/slash-src` }));
    assert.ok((await read(A, 'slash-dst')).equals(body));
  });

  test('CopyObject_metadata_directive_COPY_ignores_request_metadata', async () => {
    const body = data(100);
    await putSource(A, 'md-copy-src', body);
    await s3.send(
      new CopyObjectCommand({
        Bucket: A,
        Key: 'md-copy-dst',
        CopySource: copySource(A, 'md-copy-src'),
        MetadataDirective: 'COPY',
        ContentType: 'text/html',
        Metadata: { ignored: 'yes' },
      }),
    );
    const head = await s3.send(new HeadObjectCommand({ Bucket: A, Key: 'md-copy-dst' }));
    assert.equal(head.ContentType, 'image/png');
    assert.deepEqual(head.Metadata, { origin: 'source', size: '100' });
  });

  test('CopyObject_metadata_directive_REPLACE_uses_request_metadata', async () => {
    const body = data(100);
    await putSource(A, 'md-replace-src', body);
    await s3.send(
      new CopyObjectCommand({
        Bucket: A,
        Key: 'md-replace-dst',
        CopySource: copySource(A, 'md-replace-src'),
        MetadataDirective: 'REPLACE',
        ContentType: 'text/csv',
        Metadata: { fresh: 'value' },
      }),
    );
    const head = await s3.send(new HeadObjectCommand({ Bucket: A, Key: 'md-replace-dst' }));
    assert.equal(head.ContentType, 'text/csv');
    assert.deepEqual(head.Metadata, { fresh: 'value' });
    assert.equal(head.CacheControl, undefined, 'REPLACE drops the source representation headers');
    assert.equal(head.ContentLanguage, undefined);
    // The tagging directive is separate: tags are still copied.
    assert.deepEqual(await tags(A, 'md-replace-dst'), [
      ['owner', 'alice'],
      ['stage', 'raw'],
    ]);
    assert.ok((await read(A, 'md-replace-dst')).equals(body));
  });

  test('CopyObject_tagging_directive_COPY_and_REPLACE', async () => {
    const body = data(100);
    await putSource(A, 'tag-src', body);
    await s3.send(new CopyObjectCommand({ Bucket: A, Key: 'tag-copy', CopySource: copySource(A, 'tag-src'), TaggingDirective: 'COPY', Tagging: 'ignored=1' }));
    assert.deepEqual(await tags(A, 'tag-copy'), [
      ['owner', 'alice'],
      ['stage', 'raw'],
    ]);
    await s3.send(new CopyObjectCommand({ Bucket: A, Key: 'tag-replace', CopySource: copySource(A, 'tag-src'), TaggingDirective: 'REPLACE', Tagging: 'new=tag&n=2' }));
    assert.deepEqual(await tags(A, 'tag-replace'), [
      ['n', '2'],
      ['new', 'tag'],
    ]);
    await s3.send(new CopyObjectCommand({ Bucket: A, Key: 'tag-none', CopySource: copySource(A, 'tag-src'), TaggingDirective: 'REPLACE' }));
    assert.deepEqual(await tags(A, 'tag-none'), [], 'REPLACE without x-amz-tagging leaves no tags');
    // Metadata was copied in all three.
    const head = await s3.send(new HeadObjectCommand({ Bucket: A, Key: 'tag-replace' }));
    assert.deepEqual(head.Metadata, { origin: 'source', size: '100' });
  });

  test('CopyObject_invalid_directive_is_InvalidArgument', async () => {
    await s3.send(new PutObjectCommand({ Bucket: A, Key: 'directive-src', Body: 'x' }));
    await expectS3Error(
      s3.send(new CopyObjectCommand({ Bucket: A, Key: 'directive-dst', CopySource: copySource(A, 'directive-src'), MetadataDirective: 'MOVE' as 'COPY' })),
      'InvalidArgument',
      400,
    );
  });

  describe('copy-source conditionals', () => {
    const body = data(2000);
    let etag: string;
    let lastModified: Date;
    const hourMs = 3600_000;

    before(async () => {
      etag = (await s3.send(new PutObjectCommand({ Bucket: A, Key: 'cond-src', Body: body }))).ETag!;
      lastModified = (await s3.send(new HeadObjectCommand({ Bucket: A, Key: 'cond-src' }))).LastModified!;
    });

    const copy = (extra: Partial<CopyObjectCommandInput>) =>
      s3.send(new CopyObjectCommand({ Bucket: A, Key: 'cond-dst', CopySource: copySource(A, 'cond-src'), ...extra }));

    test('CopyObject_copy_source_if_match_mismatch_is_PreconditionFailed', async () => {
      await expectS3Error(copy({ CopySourceIfMatch: '"00000000000000000000000000000000"' }), 'PreconditionFailed', 412);
      const ok = await copy({ CopySourceIfMatch: etag });
      assert.equal(ok.CopyObjectResult?.ETag, etag);
    });

    test('CopyObject_copy_source_if_none_match_matching_is_PreconditionFailed', async () => {
      await expectS3Error(copy({ CopySourceIfNoneMatch: etag }), 'PreconditionFailed', 412);
      await expectS3Error(copy({ CopySourceIfNoneMatch: '*' }), 'PreconditionFailed', 412);
      const ok = await copy({ CopySourceIfNoneMatch: '"00000000000000000000000000000000"' });
      assert.equal(ok.CopyObjectResult?.ETag, etag);
    });

    test('CopyObject_copy_source_if_modified_since_not_modified_is_PreconditionFailed', async () => {
      // Not modified since its own Last-Modified (S3 compares at second precision).
      await expectS3Error(copy({ CopySourceIfModifiedSince: lastModified }), 'PreconditionFailed', 412);
      const ok = await copy({ CopySourceIfModifiedSince: new Date(lastModified.getTime() - hourMs) });
      assert.equal(ok.CopyObjectResult?.ETag, etag);
    });

    test('CopyObject_copy_source_if_unmodified_since_modified_is_PreconditionFailed', async () => {
      await expectS3Error(copy({ CopySourceIfUnmodifiedSince: new Date(lastModified.getTime() - hourMs) }), 'PreconditionFailed', 412);
      const ok = await copy({ CopySourceIfUnmodifiedSince: lastModified });
      assert.equal(ok.CopyObjectResult?.ETag, etag);
    });

    test('CopyObject_copy_source_if_match_true_wins_over_if_unmodified_since_false', async () => {
      // S3 CopyObject docs: if-match true and if-unmodified-since false → 200 and the copy happens.
      const ok = await copy({ CopySourceIfMatch: etag, CopySourceIfUnmodifiedSince: new Date(lastModified.getTime() - hourMs) });
      assert.equal(ok.CopyObjectResult?.ETag, etag);
    });

    test('CopyObject_copy_source_if_none_match_false_with_if_modified_since_true_is_PreconditionFailed', async () => {
      // S3 CopyObject docs: if-none-match false and if-modified-since true → 412.
      await expectS3Error(copy({ CopySourceIfNoneMatch: etag, CopySourceIfModifiedSince: new Date(lastModified.getTime() - hourMs) }), 'PreconditionFailed', 412);
    });

    test('CopyObject_failed_condition_does_not_write_destination', async () => {
      await expectS3Error(
        s3.send(new CopyObjectCommand({ Bucket: A, Key: 'cond-never', CopySource: copySource(A, 'cond-src'), CopySourceIfMatch: '"ffffffffffffffffffffffffffffffff"' })),
        'PreconditionFailed',
        412,
      );
      await expectS3Error(s3.send(new HeadObjectCommand({ Bucket: A, Key: 'cond-never' })), 'NotFound', 404);
    });
  });

  test('CopyObject_onto_itself_without_REPLACE_is_InvalidRequest', async () => {
    const body = data(500);
    const etag = await putSource(A, 'self', body);
    await expectS3Error(s3.send(new CopyObjectCommand({ Bucket: A, Key: 'self', CopySource: copySource(A, 'self') })), 'InvalidRequest', 400);
    await expectS3Error(s3.send(new CopyObjectCommand({ Bucket: A, Key: 'self', CopySource: copySource(A, 'self'), MetadataDirective: 'COPY' })), 'InvalidRequest', 400);
    const head = await s3.send(new HeadObjectCommand({ Bucket: A, Key: 'self' }));
    assert.deepEqual(head.Metadata, { origin: 'source', size: '500' }, 'the refused self-copy changed nothing');
    assert.equal(head.ETag, etag);
  });

  test('CopyObject_onto_itself_with_REPLACE_updates_metadata', async () => {
    const body = data(500);
    const etag = await putSource(A, 'self-replace', body);
    const out = await s3.send(
      new CopyObjectCommand({ Bucket: A, Key: 'self-replace', CopySource: copySource(A, 'self-replace'), MetadataDirective: 'REPLACE', ContentType: 'text/plain', Metadata: { v: '2' } }),
    );
    assert.equal(out.CopyObjectResult?.ETag, etag, 'same bytes, same MD5 ETag');
    const head = await s3.send(new HeadObjectCommand({ Bucket: A, Key: 'self-replace' }));
    assert.equal(head.ContentType, 'text/plain');
    assert.deepEqual(head.Metadata, { v: '2' });
    assert.ok((await read(A, 'self-replace')).equals(body), 'bytes survive a self-copy');
  });

  test('CopyObject_source_keys_are_url_decoded', async () => {
    const keys = ['dir/with space.txt', 'unicode/ünïcødé 日本語 ✓.txt', 'plus/a+b+c.txt', 'percent/100% sure?.txt', 'amp/a&b=c;d.txt', 'tilde/~x*(1)!'];
    for (const [i, key] of keys.entries()) {
      const body = data(100 + i);
      await s3.send(new PutObjectCommand({ Bucket: A, Key: key, Body: body }));
      const out = await s3.send(new CopyObjectCommand({ Bucket: B, Key: `copied/${key}`, CopySource: copySource(A, key) }));
      assert.equal(out.CopyObjectResult?.ETag, `"${md5Hex(body)}"`, key);
      assert.ok((await read(B, `copied/${key}`)).equals(body), `copy of ${JSON.stringify(key)} has the source bytes`);
    }
    // '+' percent-encoded as %2B is a literal plus, not a space.
    await expectS3Error(
      s3.send(new CopyObjectCommand({ Bucket: B, Key: 'never', CopySource: `${A}/plus/a%20b%20c.txt` })),
      'NoSuchKey',
      404,
    );
  });

  test('CopyObject_of_multipart_source_copies_all_parts', async () => {
    const parts = [data(MIN + 1), data(MIN + 2), data(300)];
    const key = 'mp-src';
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: A, Key: key, ContentType: 'application/x-mp', Metadata: { from: 'mpu' } }));
    const done = [];
    for (const [i, Body] of parts.entries()) {
      const r = await s3.send(new UploadPartCommand({ Bucket: A, Key: key, UploadId, PartNumber: i + 1, Body }));
      done.push({ PartNumber: i + 1, ETag: r.ETag });
    }
    const completed = await s3.send(new CompleteMultipartUploadCommand({ Bucket: A, Key: key, UploadId, MultipartUpload: { Parts: done } }));
    assert.equal(completed.ETag, multipartEtag(parts));
    const whole = Buffer.concat(parts);

    const out = await s3.send(new CopyObjectCommand({ Bucket: B, Key: 'mp-copy', CopySource: copySource(A, key) }));
    // S3 API reference (Common response headers, ETag): objects created by the Copy
    // operation, unencrypted or SSE-S3, have an ETag that is the MD5 of their data.
    assert.equal(out.CopyObjectResult?.ETag, `"${md5Hex(whole)}"`);
    const got = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'mp-copy' }));
    assert.equal(got.ETag, out.CopyObjectResult?.ETag);
    assert.equal(got.ContentType, 'application/x-mp');
    assert.deepEqual(got.Metadata, { from: 'mpu' });
    assert.ok((await bodyBytes(got)).equals(whole), 'the copy has every part’s bytes in order');
    const range = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'mp-copy', Range: `bytes=${MIN - 5}-${MIN + 5}` }));
    assert.ok((await bodyBytes(range)).equals(whole.subarray(MIN - 5, MIN + 6)));
  });

  test('CopyObject_of_empty_object', async () => {
    await s3.send(new PutObjectCommand({ Bucket: A, Key: 'empty', Body: Buffer.alloc(0) }));
    const out = await s3.send(new CopyObjectCommand({ Bucket: B, Key: 'empty-copy', CopySource: copySource(A, 'empty') }));
    assert.equal(out.CopyObjectResult?.ETag, `"${md5Hex(Buffer.alloc(0))}"`);
    const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'empty-copy' }));
    assert.equal(head.ContentLength, 0);
  });

  test('CopyObject_overwrites_existing_destination', async () => {
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'overwrite', Body: 'old contents' }));
    const body = data(777);
    await s3.send(new PutObjectCommand({ Bucket: A, Key: 'overwrite-src', Body: body }));
    await s3.send(new CopyObjectCommand({ Bucket: B, Key: 'overwrite', CopySource: copySource(A, 'overwrite-src') }));
    assert.ok((await read(B, 'overwrite')).equals(body));
  });

  test('CopyObject_missing_source_key_is_NoSuchKey', async () => {
    await expectS3Error(s3.send(new CopyObjectCommand({ Bucket: A, Key: 'dst', CopySource: copySource(A, 'does/not/exist') })), 'NoSuchKey', 404);
  });

  test('CopyObject_missing_source_bucket_is_NoSuchBucket', async () => {
    await expectS3Error(s3.send(new CopyObjectCommand({ Bucket: A, Key: 'dst', CopySource: copySource('no-such-source-bucket', 'k') })), 'NoSuchBucket', 404);
  });

  test('CopyObject_missing_destination_bucket_is_NoSuchBucket', async () => {
    await s3.send(new PutObjectCommand({ Bucket: A, Key: 'to-nowhere', Body: 'x' }));
    await expectS3Error(s3.send(new CopyObjectCommand({ Bucket: 'no-such-dest-bucket', Key: 'dst', CopySource: copySource(A, 'to-nowhere') })), 'NoSuchBucket', 404);
  });

  test('CopyObject_copy_source_without_key_is_InvalidArgument', async () => {
    await expectS3Error(s3.send(new CopyObjectCommand({ Bucket: A, Key: 'dst', CopySource: A })), 'InvalidArgument', 400);
  });
});
