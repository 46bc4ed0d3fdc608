/**
 * ListObjects (v1) and ListObjectsV2 against the real server with the AWS SDK
 * for JavaScript v3: prefix, delimiter and CommonPrefixes, paging with
 * max-keys (NextMarker / NextContinuationToken), marker and start-after,
 * encoding-type=url, fetch-owner, S3's UTF-8 binary key order, empty and
 * missing buckets.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type ListObjectsCommandInput,
  type ListObjectsV2CommandInput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { S3_ERRORS, type S3ErrorCode } from '../../src/errors/s3-errors.js';
import { expectS3Error, md5Hex, type SdkError } from '../helpers/s3.js';
import { startServer, type TestServer } from '../helpers/server.js';

function expectCode(promise: Promise<unknown>, code: S3ErrorCode): Promise<SdkError> {
  return expectS3Error(promise, code, S3_ERRORS[code].status);
}

/** S3's key order: by UTF-8 bytes (not JavaScript's UTF-16 code units). */
function utf8Order(keys: readonly string[]): string[] {
  return [...keys].sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
}

/**
 * Decodes an `encoding-type=url` value the way boto3 (unquote_plus) and
 * rclone (url.QueryUnescape) do, so either S3 spelling of a space (`+` or `%20`) passes.
 */
function formUrlDecode(s: string): string {
  return decodeURIComponent(s.replace(/\+/g, ' '));
}

async function putAll(s3: S3Client, bucket: string, keys: readonly string[]): Promise<void> {
  for (let i = 0; i < keys.length; i += 16) {
    await Promise.all(keys.slice(i, i + 16).map((Key) => s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: Key }))));
  }
}

/** Every page of a V2 listing, checking the paging fields of each. */
/**
 * A page's keys as stored: percent-decoded when the page says EncodingType=url. Coffer
 * answers url-encoded, and says so, when a page holds a key XML 1.0 cannot carry
 * (U+0001, U+FFFF…) even if the client did not ask (src/s3/list.ts, listingEncodesUrl).
 */
function keysOf(page: { EncodingType?: string | undefined; Contents?: { Key?: string | undefined }[] | undefined }): string[] {
  return (page.Contents ?? []).map((c) => (page.EncodingType === 'url' ? decodeURIComponent(c.Key!) : c.Key!));
}

async function pagesV2(s3: S3Client, input: ListObjectsV2CommandInput) {
  const pages = [];
  let token: string | undefined;
  for (let i = 0; i < 1000; i++) {
    const page = await s3.send(new ListObjectsV2Command({ ...input, ...(token ? { ContinuationToken: token } : {}) }));
    const count = (page.Contents?.length ?? 0) + (page.CommonPrefixes?.length ?? 0);
    assert.equal(page.KeyCount, count, 'KeyCount counts keys and common prefixes');
    if (input.MaxKeys !== undefined) assert.ok(count <= input.MaxKeys, `page of ${count} exceeds MaxKeys ${input.MaxKeys}`);
    assert.equal(page.ContinuationToken, token, 'the continuation token is echoed');
    pages.push(page);
    if (!page.IsTruncated) {
      assert.equal(page.NextContinuationToken, undefined, 'no NextContinuationToken on the last page');
      return pages;
    }
    assert.ok(page.NextContinuationToken, 'a truncated page has a NextContinuationToken');
    token = page.NextContinuationToken;
  }
  throw new Error('listing did not end');
}

describe('listing', () => {
  let server: TestServer;
  let s3: S3Client;
  const bucket = 'listing-test';
  const KEYS = [
    'a.txt',
    'docs/a',
    'docs/b',
    'docs/sub/c',
    'photos/2023/feb/1.jpg',
    'photos/2023/jan/1.jpg',
    'photos/2023/jan/2.jpg',
    'photos/2024/mar/1.jpg',
    'photos/readme',
    'z',
    ...Array.from({ length: 40 }, (_, i) => `many/${String(i).padStart(4, '0')}`),
  ];
  const ALL = utf8Order(KEYS);

  before(async () => {
    server = await startServer();
    s3 = server.client();
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await putAll(s3, bucket, KEYS);
  });
  after(async () => {
    s3?.destroy();
    await server?.destroy();
  });

  describe('ListObjectsV2', () => {
    test('ListObjectsV2_lists_every_key_in_order_with_its_fields', async () => {
      const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
      assert.equal(out.Name, bucket);
      assert.equal(out.IsTruncated, false);
      assert.equal(out.KeyCount, ALL.length);
      assert.equal(out.MaxKeys, 1000);
      assert.deepEqual(out.Contents?.map((c) => c.Key), ALL);
      for (const c of out.Contents ?? []) {
        assert.equal(c.Size, Buffer.byteLength(c.Key!));
        assert.equal(c.ETag, `"${md5Hex(Buffer.from(c.Key!))}"`);
        assert.equal(c.StorageClass, 'STANDARD');
        assert.ok(c.LastModified instanceof Date && Math.abs(c.LastModified.getTime() - Date.now()) < 600_000);
      }
    });

    test('ListObjectsV2_last_modified_matches_HeadObject', async () => {
      // S3 keeps Last-Modified to the second; a listing and a HEAD of the same object agree.
      const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'docs/' }));
      for (const c of out.Contents ?? []) {
        const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: c.Key! }));
        assert.equal(c.LastModified?.getTime(), head.LastModified?.getTime(), `LastModified of ${c.Key}`);
      }
      assert.equal(out.Contents?.length, 3);
    });

    test('ListObjectsV2_prefix_selects_keys', async () => {
      const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'photos/2023/' }));
      assert.equal(out.Prefix, 'photos/2023/');
      assert.deepEqual(out.Contents?.map((c) => c.Key), ['photos/2023/feb/1.jpg', 'photos/2023/jan/1.jpg', 'photos/2023/jan/2.jpg']);
      const none = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'nothing-here/' }));
      assert.equal(none.KeyCount, 0);
      assert.equal(none.Contents, undefined);
    });

    test('ListObjectsV2_delimiter_rolls_up_common_prefixes', async () => {
      const root = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: '/' }));
      assert.equal(root.Delimiter, '/');
      assert.deepEqual(root.Contents?.map((c) => c.Key), ['a.txt', 'z']);
      assert.deepEqual(root.CommonPrefixes?.map((p) => p.Prefix), ['docs/', 'many/', 'photos/']);
      assert.equal(root.KeyCount, 5);

      const photos = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'photos/', Delimiter: '/' }));
      assert.deepEqual(photos.Contents?.map((c) => c.Key), ['photos/readme']);
      assert.deepEqual(photos.CommonPrefixes?.map((p) => p.Prefix), ['photos/2023/', 'photos/2024/']);

      // The prefix need not end at a delimiter.
      const partial = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'photos/20', Delimiter: '/' }));
      assert.equal(partial.Contents, undefined);
      assert.deepEqual(partial.CommonPrefixes?.map((p) => p.Prefix), ['photos/2023/', 'photos/2024/']);
    });

    test('ListObjectsV2_delimiter_other_than_slash', async () => {
      const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'photos/2023/jan/', Delimiter: '.' }));
      assert.equal(out.Contents, undefined);
      assert.deepEqual(out.CommonPrefixes?.map((p) => p.Prefix), ['photos/2023/jan/1.', 'photos/2023/jan/2.']);
      const multi = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'photos/', Delimiter: '/jan/' }));
      assert.deepEqual(multi.CommonPrefixes?.map((p) => p.Prefix), ['photos/2023/jan/']);
      assert.deepEqual(multi.Contents?.map((c) => c.Key), ['photos/2023/feb/1.jpg', 'photos/2024/mar/1.jpg', 'photos/readme']);
    });

    for (const maxKeys of [1, 3, 7, 49, 50]) {
      test(`ListObjectsV2_max_keys_${maxKeys}_pages_over_every_key`, async () => {
        const pages = await pagesV2(s3, { Bucket: bucket, MaxKeys: maxKeys });
        assert.equal(pages.length, Math.max(1, Math.ceil(ALL.length / maxKeys)));
        for (const page of pages.slice(0, -1)) {
          assert.equal(page.IsTruncated, true);
          assert.equal(page.KeyCount, maxKeys, 'every page but the last is full');
          assert.equal(page.MaxKeys, maxKeys);
        }
        assert.deepEqual(pages.flatMap((p) => p.Contents?.map((c) => c.Key) ?? []), ALL);
      });
    }

    test('ListObjectsV2_paging_with_delimiter_counts_common_prefixes', async () => {
      const whole = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: '/' }));
      for (const maxKeys of [1, 2]) {
        const pages = await pagesV2(s3, { Bucket: bucket, Delimiter: '/', MaxKeys: maxKeys });
        assert.deepEqual(pages.flatMap((p) => p.Contents?.map((c) => c.Key) ?? []), whole.Contents?.map((c) => c.Key));
        assert.deepEqual(pages.flatMap((p) => p.CommonPrefixes?.map((c) => c.Prefix) ?? []), whole.CommonPrefixes?.map((c) => c.Prefix));
      }
    });

    test('ListObjectsV2_start_after_skips_keys', async () => {
      const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, StartAfter: 'photos/2023/jan/1.jpg' }));
      assert.equal(out.StartAfter, 'photos/2023/jan/1.jpg');
      assert.deepEqual(out.Contents?.map((c) => c.Key), ALL.filter((k) => k > 'photos/2023/jan/1.jpg'));
      // A start-after that is not a key works as a position.
      const between = await s3.send(new ListObjectsV2Command({ Bucket: bucket, StartAfter: 'photos/', Prefix: 'photos/' }));
      assert.equal(between.Contents?.[0]?.Key, 'photos/2023/feb/1.jpg');
      const pastEnd = await s3.send(new ListObjectsV2Command({ Bucket: bucket, StartAfter: 'zz' }));
      assert.equal(pastEnd.KeyCount, 0);
      assert.equal(pastEnd.IsTruncated, false);
    });

    test('ListObjectsV2_start_after_with_paging', async () => {
      const pages = await pagesV2(s3, { Bucket: bucket, StartAfter: 'many/0035', MaxKeys: 2 });
      assert.deepEqual(pages.flatMap((p) => p.Contents?.map((c) => c.Key) ?? []), ALL.filter((k) => k > 'many/0035'));
    });

    test('ListObjectsV2_fetch_owner_adds_owner_only_when_asked', async () => {
      const plain = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'docs/' }));
      assert.ok(plain.Contents && plain.Contents.length === 3);
      for (const c of plain.Contents) assert.equal(c.Owner, undefined, 'V2 omits Owner by default');
      const owner = (await s3.send(new ListBucketsCommand({}))).Owner;
      assert.ok(owner?.ID);
      const withOwner = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'docs/', FetchOwner: true }));
      for (const c of withOwner.Contents ?? []) assert.equal(c.Owner?.ID, owner.ID);
      assert.equal(withOwner.Contents?.length, 3);
    });

    test('ListObjectsV2_bad_continuation_token_is_InvalidArgument', async () => {
      await expectCode(s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: '!!not a token!!' })), 'InvalidArgument');
    });

    test('ListObjectsV2_negative_max_keys_is_InvalidArgument', async () => {
      await expectCode(s3.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: -1 })), 'InvalidArgument');
    });

    test('ListObjectsV2_bad_encoding_type_is_InvalidArgument', async () => {
      await expectCode(s3.send(new ListObjectsV2Command({ Bucket: bucket, EncodingType: 'base64' as 'url' })), 'InvalidArgument');
    });
  });

  describe('ListObjects (v1)', () => {
    test('ListObjects_lists_every_key_with_owner', async () => {
      const out = await s3.send(new ListObjectsCommand({ Bucket: bucket }));
      assert.equal(out.Name, bucket);
      assert.equal(out.IsTruncated, false);
      assert.equal(out.MaxKeys, 1000);
      assert.deepEqual(out.Contents?.map((c) => c.Key), ALL);
      // V1 always includes the owner.
      for (const c of out.Contents ?? []) assert.ok(c.Owner?.ID);
    });

    test('ListObjects_prefix_and_delimiter', async () => {
      const out = await s3.send(new ListObjectsCommand({ Bucket: bucket, Prefix: 'docs/', Delimiter: '/' }));
      assert.deepEqual(out.Contents?.map((c) => c.Key), ['docs/a', 'docs/b']);
      assert.deepEqual(out.CommonPrefixes?.map((p) => p.Prefix), ['docs/sub/']);
    });

    test('ListObjects_max_keys_pages_with_last_key_as_marker', async () => {
      const keys: string[] = [];
      let marker: string | undefined;
      for (let i = 0; i < 100; i++) {
        const page = await s3.send(new ListObjectsCommand({ Bucket: bucket, MaxKeys: 6, ...(marker ? { Marker: marker } : {}) }));
        assert.equal(page.Marker ?? '', marker ?? '');
        const got = page.Contents?.map((c) => c.Key!) ?? [];
        assert.ok(got.length <= 6);
        keys.push(...got);
        // Without a delimiter S3 sends no NextMarker: clients continue from the last key.
        assert.equal(page.NextMarker, undefined);
        if (!page.IsTruncated) break;
        assert.equal(got.length, 6);
        marker = got.at(-1);
      }
      assert.deepEqual(keys, ALL);
    });

    test('ListObjects_delimiter_paging_uses_next_marker', async () => {
      const contents: string[] = [];
      const prefixes: string[] = [];
      let marker: string | undefined;
      for (let i = 0; i < 100; i++) {
        const page = await s3.send(new ListObjectsCommand({ Bucket: bucket, Delimiter: '/', MaxKeys: 1, ...(marker ? { Marker: marker } : {}) }));
        contents.push(...(page.Contents?.map((c) => c.Key!) ?? []));
        prefixes.push(...(page.CommonPrefixes?.map((p) => p.Prefix!) ?? []));
        if (!page.IsTruncated) break;
        // With a delimiter NextMarker is the last key or common prefix returned.
        const last = page.CommonPrefixes?.at(-1)?.Prefix ?? page.Contents?.at(-1)?.Key;
        assert.equal(page.NextMarker, last);
        marker = page.NextMarker;
      }
      assert.deepEqual(contents, ['a.txt', 'z']);
      assert.deepEqual(prefixes, ['docs/', 'many/', 'photos/']);
    });

    test('ListObjects_marker_skips_keys', async () => {
      const out = await s3.send(new ListObjectsCommand({ Bucket: bucket, Marker: 'docs/b' }));
      assert.equal(out.Marker, 'docs/b');
      assert.deepEqual(out.Contents?.map((c) => c.Key), ALL.filter((k) => k > 'docs/b'));
    });
  });

  describe('encoding-type=url', () => {
    const ENC_KEYS = ['enc/with space', 'enc/ünïcødé', 'enc/a+b', 'enc/pct%41', 'enc/dir one/x', 'enc/q?&=#', 'enc/ctrl\u0001'];
    before(async () => {
      await putAll(s3, bucket, ENC_KEYS);
    });

    test('ListObjectsV2_encoding_type_url_encodes_keys', async () => {
      const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'enc/', EncodingType: 'url' }));
      assert.equal(out.EncodingType, 'url');
      const keys = out.Contents?.map((c) => c.Key!) ?? [];
      assert.deepEqual(keys.map(formUrlDecode), utf8Order(ENC_KEYS));
      for (const k of keys) {
        assert.doesNotMatch(k, /[^\x21-\x7e]/, `encoded key ${JSON.stringify(k)} has only printable ASCII`);
        assert.doesNotMatch(k, /[?#&=]/, `encoded key ${JSON.stringify(k)} escapes query characters`);
      }
      assert.ok(keys.includes('enc/a%2Bb'), 'a literal + is escaped, so it cannot be read as a space');
      assert.ok(keys.includes('enc/pct%2541'), 'a literal % is escaped');
    });

    test('ListObjectsV2_encoding_type_url_encodes_prefixes_and_start_after', async () => {
      const out = await s3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: 'enc/dir one/', Delimiter: '/', StartAfter: 'enc/dir one/', EncodingType: 'url' }),
      );
      assert.equal(formUrlDecode(out.Prefix!), 'enc/dir one/');
      assert.notEqual(out.Prefix, 'enc/dir one/');
      assert.equal(formUrlDecode(out.StartAfter!), 'enc/dir one/');
      assert.deepEqual(out.Contents?.map((c) => formUrlDecode(c.Key!)), ['enc/dir one/x']);
      const rolled = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'enc/d', Delimiter: '/', EncodingType: 'url' }));
      assert.deepEqual(rolled.CommonPrefixes?.map((p) => p.Prefix), [rolled.CommonPrefixes?.[0]?.Prefix]);
      assert.equal(formUrlDecode(rolled.CommonPrefixes![0]!.Prefix!), 'enc/dir one/');
      assert.notEqual(rolled.CommonPrefixes![0]!.Prefix, 'enc/dir one/');
    });

    test('ListObjects_encoding_type_url_encodes_keys_and_next_marker', async () => {
      const out = await s3.send(new ListObjectsCommand({ Bucket: bucket, Prefix: 'enc/', Delimiter: '/', MaxKeys: 2, EncodingType: 'url' }));
      assert.equal(out.EncodingType, 'url');
      assert.equal(out.IsTruncated, true);
      const items = [...(out.Contents?.map((c) => c.Key!) ?? []), ...(out.CommonPrefixes?.map((p) => p.Prefix!) ?? [])];
      for (const k of items) assert.doesNotMatch(k, /[^\x21-\x7e]/);
      assert.ok(out.NextMarker);
      assert.doesNotMatch(out.NextMarker, /[^\x21-\x7e]/);
      // Without encoding-type the same listing holds 'enc/ctrl\u0001', which XML 1.0 cannot carry:
      // it comes url-encoded anyway, flagged by EncodingType, and decodes to the stored keys.
      const raw = await s3.send(new ListObjectsCommand({ Bucket: bucket, Prefix: 'enc/', Delimiter: '/' }));
      assert.equal(raw.EncodingType, 'url');
      assert.deepEqual(
        keysOf(raw),
        utf8Order(ENC_KEYS.filter((k) => !k.startsWith('enc/dir one/'))),
      );
      assert.deepEqual(raw.CommonPrefixes?.map((p) => decodeURIComponent(p.Prefix!)), ['enc/dir one/']);
      // Without that key the page needs no encoding and has none.
      const plain = await s3.send(new ListObjectsCommand({ Bucket: bucket, Prefix: 'enc/q' }));
      assert.equal(plain.EncodingType, undefined);
      assert.deepEqual(plain.Contents?.map((c) => c.Key), ['enc/q?&=#']);
    });
  });

  describe('key order', () => {
    const orderBucket = 'listing-order';
    // UTF-16 would put '😀' (D83D DE00) before 'ｚ' (FF5A); UTF-8 puts it after (F0 > EF).
    const UNICODE_KEYS = ['😀', 'ｚ', 'é', 'aa', 'a/b', 'a', 'Z', '~', 'a😀', 'a\uffff', 'e\u0301'];
    const EXPECTED = ['Z', 'a', 'a/b', 'aa', 'a\uffff', 'a😀', 'e\u0301', '~', 'é', 'ｚ', '😀'];
    before(async () => {
      await s3.send(new CreateBucketCommand({ Bucket: orderBucket }));
      await putAll(s3, orderBucket, UNICODE_KEYS);
    });

    test('ListObjectsV2_orders_keys_by_utf8_bytes', async () => {
      assert.deepEqual(utf8Order(UNICODE_KEYS), EXPECTED, 'the expected order is the UTF-8 byte order');
      const out = await s3.send(new ListObjectsV2Command({ Bucket: orderBucket }));
      assert.deepEqual(keysOf(out), EXPECTED);
      const v1 = await s3.send(new ListObjectsCommand({ Bucket: orderBucket }));
      assert.deepEqual(keysOf(v1), EXPECTED);
    });

    test('ListObjectsV2_paging_keeps_utf8_order', async () => {
      const pages = await pagesV2(s3, { Bucket: orderBucket, MaxKeys: 1 });
      assert.deepEqual(pages.flatMap(keysOf), EXPECTED);
      const v1: string[] = [];
      let marker: string | undefined;
      for (let i = 0; i < 50; i++) {
        const page = await s3.send(new ListObjectsCommand({ Bucket: orderBucket, MaxKeys: 2, ...(marker ? { Marker: marker } : {}) } satisfies ListObjectsCommandInput));
        v1.push(...keysOf(page));
        if (!page.IsTruncated) break;
        marker = keysOf(page).at(-1);
      }
      assert.deepEqual(v1, EXPECTED);
    });

    test('ListObjectsV2_start_after_compares_utf8_bytes', async () => {
      const out = await s3.send(new ListObjectsV2Command({ Bucket: orderBucket, StartAfter: 'ｚ' }));
      assert.deepEqual(keysOf(out), ['😀']);
      const afterA = await s3.send(new ListObjectsV2Command({ Bucket: orderBucket, StartAfter: 'a\uffff' }));
      assert.equal(afterA.EncodingType, 'url', 'StartAfter echoes U+FFFF');
      assert.deepEqual(keysOf(afterA), EXPECTED.slice(EXPECTED.indexOf('a\uffff') + 1));
    });

    test('ListObjectsV2_delimiter_rolls_up_under_unicode_prefix', async () => {
      const out = await s3.send(new ListObjectsV2Command({ Bucket: orderBucket, Delimiter: '😀' }));
      assert.deepEqual(out.CommonPrefixes?.map((p) => (out.EncodingType === 'url' ? decodeURIComponent(p.Prefix!) : p.Prefix)), ['a😀', '😀']);
      assert.deepEqual(keysOf(out), EXPECTED.filter((k) => !k.includes('😀')));
    });
  });

  describe('empty and missing buckets', () => {
    test('ListObjectsV2_empty_bucket_lists_nothing', async () => {
      await s3.send(new CreateBucketCommand({ Bucket: 'listing-empty' }));
      const v2 = await s3.send(new ListObjectsV2Command({ Bucket: 'listing-empty' }));
      assert.equal(v2.KeyCount, 0);
      assert.equal(v2.Contents, undefined);
      assert.equal(v2.CommonPrefixes, undefined);
      assert.equal(v2.IsTruncated, false);
      assert.equal(v2.NextContinuationToken, undefined);
      const v1 = await s3.send(new ListObjectsCommand({ Bucket: 'listing-empty', Delimiter: '/' }));
      assert.equal(v1.Contents, undefined);
      assert.equal(v1.IsTruncated, false);
    });

    test('ListObjects_missing_bucket_is_NoSuchBucket', async () => {
      await expectCode(s3.send(new ListObjectsV2Command({ Bucket: 'listing-missing' })), 'NoSuchBucket');
      await expectCode(s3.send(new ListObjectsCommand({ Bucket: 'listing-missing' })), 'NoSuchBucket');
    });
  });
});
