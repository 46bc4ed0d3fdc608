/**
 * The MetadataStore contract, run against every driver (sqlite now; postgres
 * joins by adding a file that calls this with its factory).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { S3Error } from '../../src/errors/s3-errors.js';
import type { MetadataStore, ObjectRecord, UploadRecord } from '../../src/metadata/metadata-store.js';

export interface StoreFactory {
  name: string;
  create(): Promise<MetadataStore>;
  destroy?(): Promise<void>;
}

function obj(bucket: string, key: string, blobIds: string[] = [`b-${key}`], etag = 'e'): ObjectRecord {
  return {
    bucket,
    key,
    size: blobIds.length * 10,
    etag,
    lastModified: 1_700_000_000_000,
    headers: { 'content-type': 'text/plain' },
    userMetadata: { a: '1' },
    tags: [],
    parts: blobIds.map((blobId, i) => ({ partNumber: i + 1, blobId, size: 10, etag: 'p' })),
    multipart: blobIds.length > 1,
    storageClass: 'STANDARD',
    ownerId: 'owner',
  };
}

function upload(bucket: string, key: string, uploadId: string): UploadRecord {
  return { uploadId, bucket, key, initiated: Date.now(), ownerId: 'owner', headers: {}, userMetadata: {}, tags: [], storageClass: 'STANDARD' };
}

async function garbage(store: MetadataStore): Promise<string[]> {
  return (await store.takeGarbage(1000)).sort();
}

function code(c: string) {
  return (err: unknown) => err instanceof S3Error && err.code === c;
}

export function metadataStoreContract(factory: StoreFactory): void {
  describe(`MetadataStore contract: ${factory.name}`, () => {
    let store: MetadataStore;
    let n = 0;
    const fresh = async (): Promise<string> => {
      const name = `bucket-${n++}`;
      assert.equal(await store.createBucket({ name, createdAt: 1, ownerId: 'owner', region: 'us-east-1' }), true);
      return name;
    };
    before(async () => {
      store = await factory.create();
      await store.migrate();
      await store.migrate(); // idempotent
    });
    after(async () => {
      await store.close();
      await factory.destroy?.();
    });

    test('buckets_create_get_list_delete', async () => {
      const b = await fresh();
      assert.equal(await store.createBucket({ name: b, createdAt: 2, ownerId: 'x', region: 'r' }), false);
      assert.deepEqual(await store.getBucket(b), { name: b, createdAt: 1, ownerId: 'owner', region: 'us-east-1' });
      assert.ok((await store.listBuckets()).some((x) => x.name === b));
      await store.putObject(obj(b, 'k'));
      assert.equal(await store.deleteBucket(b), 'not-empty');
      await store.deleteObject(b, 'k');
      assert.equal(await store.deleteBucket(b), 'deleted');
      assert.equal(await store.deleteBucket(b), 'missing');
      assert.equal(await store.getBucket(b), undefined);
    });

    test('bucket_configs_put_get_replace_delete_and_go_with_the_bucket', async () => {
      const b = await fresh();
      assert.equal(await store.getBucketConfig(b, 'encryption'), undefined);
      assert.equal(await store.putBucketConfig(b, 'encryption', '{"a":1}'), true);
      assert.equal(await store.putBucketConfig(b, 'encryption', '{"a":2}'), true);
      assert.equal(await store.getBucketConfig(b, 'encryption'), '{"a":2}');
      assert.equal(await store.getBucketConfig(b, 'policy'), undefined);
      await store.deleteBucketConfig(b, 'encryption');
      assert.equal(await store.getBucketConfig(b, 'encryption'), undefined);
      assert.equal(await store.putBucketConfig('no-such-bucket', 'encryption', '{}'), false);
      await store.putBucketConfig(b, 'encryption', '{"a":3}');
      assert.equal(await store.deleteBucket(b), 'deleted');
      assert.equal(await store.createBucket({ name: b, createdAt: 1, ownerId: 'owner', region: 'us-east-1' }), true);
      assert.equal(await store.getBucketConfig(b, 'encryption'), undefined, 'a re-created bucket starts without the old configuration');
    });

    test('bucket_keys_latest_per_bucket_and_kms_key', async () => {
      const b = await fresh();
      const arn = 'arn:aws:kms:us-east-1:000000000000:key/k1';
      assert.equal(await store.latestBucketKey(b, arn), undefined);
      await store.putBucketKey({ id: 'bk-1', bucket: b, kmsKeyArn: arn, wrapped: 'AAAA', createdAt: 10 });
      await store.putBucketKey({ id: 'bk-2', bucket: b, kmsKeyArn: arn, wrapped: 'BBBB', createdAt: 20 });
      await store.putBucketKey({ id: 'bk-3', bucket: b, kmsKeyArn: `${arn}x`, wrapped: 'CCCC', createdAt: 30 });
      assert.equal((await store.latestBucketKey(b, arn))?.id, 'bk-2');
      assert.deepEqual(await store.getBucketKey('bk-1'), { id: 'bk-1', bucket: b, kmsKeyArn: arn, wrapped: 'AAAA', createdAt: 10 });
      assert.equal(await store.getBucketKey('bk-none'), undefined);
    });

    test('bucket_with_upload_is_not_empty', async () => {
      const b = await fresh();
      await store.createUpload(upload(b, 'k', '00000001-a'));
      assert.equal(await store.deleteBucket(b), 'not-empty');
    });

    test('objects_put_get_replace_queues_old_blobs', async () => {
      const b = await fresh();
      await garbage(store).then((ids) => store.garbageCollected(ids));
      await store.putObject(obj(b, 'k', ['b1']));
      assert.deepEqual((await store.getObject(b, 'k'))?.parts.map((p) => p.blobId), ['b1']);
      await store.putObject(obj(b, 'k', ['b2']));
      assert.deepEqual(await garbage(store), ['b1']);
      await store.garbageCollected(['b1']);
      assert.deepEqual(await garbage(store), []);
      const deleted = await store.deleteObject(b, 'k');
      assert.equal(deleted?.key, 'k');
      assert.deepEqual(await garbage(store), ['b2']);
      await store.garbageCollected(['b2']);
      assert.equal(await store.deleteObject(b, 'k'), undefined);
    });

    test('put_into_missing_bucket_is_NoSuchBucket', async () => {
      await assert.rejects(store.putObject(obj('no-such-bucket', 'k')), code('NoSuchBucket'));
    });

    test('conditional_writes', async () => {
      const b = await fresh();
      await store.putObject(obj(b, 'k', ['c1'], 'etag1'), { ifNoneMatch: true });
      await assert.rejects(store.putObject(obj(b, 'k', ['c2']), { ifNoneMatch: true }), code('PreconditionFailed'));
      await assert.rejects(store.putObject(obj(b, 'k', ['c3']), { ifMatch: 'other' }), code('PreconditionFailed'));
      await assert.rejects(store.putObject(obj(b, 'missing', ['c4']), { ifMatch: 'etag1' }), code('NoSuchKey'));
      await store.putObject(obj(b, 'k', ['c5'], 'etag2'), { ifMatch: 'etag1' });
      assert.equal((await store.getObject(b, 'k'))?.etag, 'etag2');
      await store.garbageCollected(await garbage(store));
    });

    test('tags_replace', async () => {
      const b = await fresh();
      await store.putObject(obj(b, 'k'));
      assert.equal(await store.putObjectTags(b, 'k', [['a', 'b']]), true);
      assert.deepEqual((await store.getObject(b, 'k'))?.tags, [['a', 'b']]);
      assert.equal(await store.putObjectTags(b, 'nope', []), false);
    });

    test('list_is_utf8_byte_order_with_prefix_and_start', async () => {
      const b = await fresh();
      const keys = ['a', 'a/b', 'a/c', 'ab', 'b', 'é', '\uFFFD', '😀', 'Z', '~'];
      for (const k of keys) await store.putObject(obj(b, k));
      const expected = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
      assert.deepEqual((await store.listObjects(b, { prefix: '', limit: 100 })).map((o) => o.key), expected);
      assert.deepEqual((await store.listObjects(b, { prefix: 'a/', limit: 100 })).map((o) => o.key), ['a/b', 'a/c']);
      assert.deepEqual((await store.listObjects(b, { prefix: 'a', start: { key: 'a/b', inclusive: false }, limit: 100 })).map((o) => o.key), ['a/c', 'ab']);
      assert.deepEqual((await store.listObjects(b, { prefix: '', start: { key: 'b', inclusive: true }, limit: 2 })).map((o) => o.key), ['b', '~']);
      assert.deepEqual((await store.listObjects(b, { prefix: 'zz', limit: 100 })).map((o) => o.key), []);
    });

    test('multipart_parts_replace_complete_abort', async () => {
      const b = await fresh();
      await store.garbageCollected(await garbage(store));
      await store.createUpload(upload(b, 'k', '00000002-a'));
      assert.equal((await store.getUpload('00000002-a'))?.key, 'k');
      const part = (n: number, blobId: string) => ({ uploadId: '00000002-a', partNumber: n, blobId, size: 10, etag: 'p', lastModified: 1 });
      await store.putPart(part(1, 'p1'));
      await store.putPart(part(2, 'p2'));
      await store.putPart(part(2, 'p2b'));
      await store.putPart(part(3, 'p3'));
      assert.deepEqual(await garbage(store), ['p2']);
      await store.garbageCollected(['p2']);
      assert.deepEqual((await store.listParts('00000002-a', 0, 2)).map((p) => p.partNumber), [1, 2]);
      assert.deepEqual((await store.listParts('00000002-a', 2, 10)).map((p) => p.blobId), ['p3']);
      await store.completeUpload('00000002-a', obj(b, 'k', ['p1', 'p2b']));
      assert.deepEqual(await garbage(store), ['p3'], 'the part left out of Complete is freed');
      await store.garbageCollected(['p3']);
      assert.equal(await store.getUpload('00000002-a'), undefined);
      await assert.rejects(store.completeUpload('00000002-a', obj(b, 'k', ['p1'])), code('NoSuchUpload'));
      await assert.rejects(store.putPart(part(4, 'p4')), code('NoSuchUpload'));

      await store.createUpload(upload(b, 'k2', '00000003-a'));
      await store.putPart({ ...part(1, 'q1'), uploadId: '00000003-a' });
      assert.equal(await store.abortUpload('00000003-a'), true);
      assert.equal(await store.abortUpload('00000003-a'), false);
      assert.deepEqual(await garbage(store), ['q1']);
      await store.garbageCollected(['q1']);
    });

    test('complete_condition_failure_keeps_upload', async () => {
      const b = await fresh();
      await store.putObject(obj(b, 'k', ['x1']));
      await store.createUpload(upload(b, 'k', '00000004-a'));
      await assert.rejects(store.completeUpload('00000004-a', obj(b, 'k', ['y1']), { ifNoneMatch: true }), code('PreconditionFailed'));
      assert.ok(await store.getUpload('00000004-a'));
    });

    test('list_uploads_markers_and_stale', async () => {
      const b = await fresh();
      await store.createUpload({ ...upload(b, 'a', '00000010-x'), initiated: 10 });
      await store.createUpload({ ...upload(b, 'a', '00000011-x'), initiated: 11 });
      await store.createUpload({ ...upload(b, 'b/c', '00000012-x'), initiated: 12 });
      assert.deepEqual((await store.listUploads(b, { prefix: '', limit: 10 })).map((u) => u.uploadId), ['00000010-x', '00000011-x', '00000012-x']);
      assert.deepEqual(
        (await store.listUploads(b, { prefix: '', keyMarker: 'a', uploadIdMarker: '00000010-x', limit: 10 })).map((u) => u.uploadId),
        ['00000011-x', '00000012-x'],
      );
      assert.deepEqual((await store.listUploads(b, { prefix: '', keyMarker: 'a', limit: 10 })).map((u) => u.uploadId), ['00000012-x']);
      assert.deepEqual((await store.listUploads(b, { prefix: 'b/', limit: 10 })).map((u) => u.key), ['b/c']);
      const stale = (await store.staleUploads(12, 10)).map((u) => u.uploadId);
      assert.ok(stale.includes('00000010-x') && stale.includes('00000011-x') && !stale.includes('00000012-x'));
    });

    test('referenced_blob_ids', async () => {
      const b = await fresh();
      await store.putObject(obj(b, 'k', ['r1']));
      await store.createUpload(upload(b, 'k', '00000020-a'));
      await store.putPart({ uploadId: '00000020-a', partNumber: 1, blobId: 'r2', size: 1, etag: 'p', lastModified: 1 });
      assert.deepEqual([...(await store.referencedBlobIds(['r1', 'r2', 'r3']))].sort(), ['r1', 'r2']);
    });
  });
}
