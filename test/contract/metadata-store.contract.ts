/**
 * The MetadataStore contract, run against every driver (sqlite now; postgres
 * joins by adding a file that calls this with its factory).
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { S3Error } from '../../src/errors/s3-errors.js';
import { objectSummary, type KmsKeyRecord, type KmsKeyVersionRecord, type MetadataStore, type ObjectRecord, type UploadRecord } from '../../src/metadata/metadata-store.js';

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

    test('getBucketConfigs_returns_every_document_of_that_bucket_only', async () => {
      const [b, other] = [await fresh(), await fresh()];
      assert.deepEqual(await store.getBucketConfigs(b), new Map());
      await store.putBucketConfig(b, 'encryption', '{"e":1}');
      await store.putBucketConfig(b, 'policy', '{"p":1}');
      await store.putBucketConfig(other, 'policy', '{"other":1}');
      assert.deepEqual(await store.getBucketConfigs(b), new Map([['encryption', '{"e":1}'], ['policy', '{"p":1}']]));
      await store.deleteBucketConfig(b, 'policy');
      assert.deepEqual(await store.getBucketConfigs(b), new Map([['encryption', '{"e":1}']]));
      assert.deepEqual(await store.getBucketConfigs('no-such-bucket'), new Map());
    });

    test('createBucket_with_initial_configs_writes_them_only_when_it_creates', async () => {
      const b = `with-configs-${n++}`;
      const configs = { publicAccessBlock: '{"p":1}', ownershipControls: '{"o":1}' };
      assert.equal(await store.createBucket({ name: b, createdAt: 1, ownerId: 'owner', region: 'us-east-1' }, { configs }), true);
      assert.equal(await store.getBucketConfig(b, 'publicAccessBlock'), '{"p":1}');
      assert.equal(await store.getBucketConfig(b, 'ownershipControls'), '{"o":1}');
      await store.deleteBucketConfig(b, 'publicAccessBlock');
      // Taken name: nothing is written, the existing bucket's documents stay as they are.
      assert.equal(await store.createBucket({ name: b, createdAt: 2, ownerId: 'x', region: 'r' }, { configs: { publicAccessBlock: '{"p":2}' } }), false);
      assert.equal(await store.getBucketConfig(b, 'publicAccessBlock'), undefined);
      assert.equal((await store.getBucket(b))?.ownerId, 'owner');
    });

    test('bucket_keys_are_claimed_once_filled_once_and_released_only_unfilled', async () => {
      const b = await fresh();
      const arn = 'arn:aws:kms:us-east-1:000000000000:key/k1';
      const claim = { id: `bk-${b}`, bucket: b, kmsKeyArn: arn, createdAt: 10 };
      assert.equal(await store.getBucketKey(claim.id), undefined);
      assert.equal(await store.claimBucketKey(claim), true);
      assert.equal(await store.claimBucketKey({ ...claim, createdAt: 11 }), false, 'a second claim of the same id loses');
      assert.deepEqual(await store.getBucketKey(claim.id), { ...claim, wrapped: '' }, 'claimed, not yet made');
      await store.releaseBucketKey(claim.id);
      assert.equal(await store.getBucketKey(claim.id), undefined, 'an unfilled claim can be released');
      assert.equal(await store.claimBucketKey(claim), true);
      assert.equal(await store.fillBucketKey(claim.id, 'AAAA'), true);
      assert.equal(await store.fillBucketKey(claim.id, 'BBBB'), false, 'filled once');
      await store.releaseBucketKey(claim.id);
      assert.deepEqual(await store.getBucketKey(claim.id), { ...claim, wrapped: 'AAAA' }, 'a filled key is never released');
      assert.equal(await store.fillBucketKey('bk-none', 'CCCC'), false);
      assert.equal(await store.getBucketKey('bk-none'), undefined);
    });

    test('set_object_encryption_is_compare_and_set_and_keeps_everything_else', async () => {
      const b = await fresh();
      const a = { mode: 'AES256' as const, wrappedKeys: ['a'] };
      const k = { mode: 'aws:kms' as const, wrappedKeys: ['k'], kmsKeyArn: 'arn:k', bucketKeyEnabled: false };
      await store.putObject({ ...obj(b, 'o'), encryption: a });
      const before = await store.getObject(b, 'o');
      assert.equal(await store.setObjectEncryption(b, 'o', k, a), false, 'stale expectation');
      assert.equal(await store.setObjectEncryption(b, 'o', a, k), true);
      const after = await store.getObject(b, 'o');
      assert.deepEqual(after, { ...before, encryption: k });
      assert.equal(await store.setObjectEncryption(b, 'missing', a, k), false);
      assert.deepEqual(await store.takeGarbage(1000).then((ids) => ids.filter((id) => before!.parts.some((p) => p.blobId === id))), [], 'no blob queued');
    });

    // Blob format 2 decrypts only with the object id the row was written with (crypto/blob-format.ts):
    // a driver, or an update, that dropped it would make the object unreadable for good.
    test('object_id_and_blob_format_round_trip_and_survive_every_update', async () => {
      const b = await fresh();
      const cipher = { salt: 'c2FsdA==', part: 0, format: 2 as const };
      const stored = { ...obj(b, 'o', ['b-id1']), objectId: '0123456789abcdef0123456789abcdef', encryption: { mode: 'AES256' as const, wrappedKeys: ['a'] } };
      stored.parts = stored.parts.map((p) => ({ ...p, cipher }));
      await store.putObject(stored);
      assert.deepEqual(await store.getObject(b, 'o'), stored);
      assert.deepEqual((await store.listObjects(b, { prefix: '', limit: 10 }))[0], objectSummary(stored));
      assert.equal(await store.putObjectTags(b, 'o', [['t', 'v']]), true);
      assert.equal(await store.setObjectAcl(b, 'o', { etag: stored.etag, lastModified: stored.lastModified }, { grants: [] }), 'updated');
      const k = { mode: 'aws:kms' as const, wrappedKeys: ['k'], kmsKeyArn: 'arn:k', bucketKeyEnabled: false };
      assert.equal(await store.setObjectEncryption(b, 'o', stored.encryption, k), true);
      const after = (await store.getObject(b, 'o'))!;
      assert.equal(after.objectId, stored.objectId);
      assert.deepEqual(after.parts, stored.parts);
      // Parts carry their format from UploadPart to the completed object.
      await store.createUpload(upload(b, 'm', '00000009-id'));
      await store.putPart({ uploadId: '00000009-id', partNumber: 1, blobId: 'b-id2', size: 10, etag: 'p', lastModified: 1, cipher: { ...cipher, part: 1 } });
      assert.deepEqual((await store.listParts('00000009-id', 0, 10))[0]?.cipher, { ...cipher, part: 1 });
      const completed = { ...obj(b, 'm', ['b-id2']), objectId: '00000009-id' };
      completed.parts = completed.parts.map((p) => ({ ...p, cipher: { ...cipher, part: 1 } }));
      await store.completeUpload('00000009-id', completed);
      assert.deepEqual(await store.getObject(b, 'm'), completed);
      await store.garbageCollected(await garbage(store));
    });

    test('object_acls_round_trip_with_objects_and_uploads', async () => {
      const b = await fresh();
      const acl = { grants: [{ grantee: { type: 'CanonicalUser' as const, id: 'writer' }, permission: 'FULL_CONTROL' as const }, { grantee: { type: 'Group' as const, uri: 'http://acs.amazonaws.com/groups/global/AllUsers' }, permission: 'READ' as const }] };
      await store.putObject({ ...obj(b, 'k'), ownerId: 'writer', acl });
      assert.deepEqual((await store.getObject(b, 'k'))?.acl, acl);
      assert.equal((await store.listObjects(b, { prefix: '', limit: 10 }))[0]?.ownerId, 'writer');
      // Replacing the object replaces its ACL: a new object without one has none.
      await store.putObject(obj(b, 'k', ['b-k2']));
      assert.equal((await store.getObject(b, 'k'))?.acl, undefined);
      await store.createUpload({ ...upload(b, 'm', '00000002-acl'), ownerId: 'writer', acl });
      assert.deepEqual((await store.getUpload('00000002-acl'))?.acl, acl);
      await store.putPart({ uploadId: '00000002-acl', partNumber: 1, blobId: 'b-acl-1', size: 10, etag: 'p', lastModified: 1 });
      await store.completeUpload('00000002-acl', { ...obj(b, 'm', ['b-acl-1']), ownerId: 'writer', acl });
      assert.deepEqual((await store.getObject(b, 'm'))?.acl, acl);
      await store.garbageCollected(await garbage(store));
    });

    test('set_object_acl_is_compare_and_set_on_the_object_and_keeps_everything_else', async () => {
      const b = await fresh();
      const acl = { grants: [{ grantee: { type: 'CanonicalUser' as const, id: 'other' }, permission: 'READ' as const }] };
      await store.putObject({ ...obj(b, 'k', ['b-sa'], 'e1'), tags: [['t', 'v']] });
      const before = (await store.getObject(b, 'k'))!;
      const same = { etag: before.etag, lastModified: before.lastModified };
      assert.equal(await store.setObjectAcl(b, 'k', same, acl), 'updated');
      assert.deepEqual(await store.getObject(b, 'k'), { ...before, acl });
      assert.equal(await store.setObjectAcl(b, 'k', { ...same, etag: 'e0' }, undefined), 'changed', 'another object by ETag');
      assert.equal(await store.setObjectAcl(b, 'k', { ...same, lastModified: same.lastModified + 1 }, undefined), 'changed', 'another object by time');
      assert.deepEqual((await store.getObject(b, 'k'))?.acl, acl, 'a refused update changes nothing');
      // undefined goes back to the implicit private ACL: nothing stored.
      assert.equal(await store.setObjectAcl(b, 'k', same, undefined), 'updated');
      assert.deepEqual(await store.getObject(b, 'k'), before);
      assert.equal('acl' in (await store.getObject(b, 'k'))!, false);
      assert.equal(await store.setObjectAcl(b, 'missing', same, acl), 'missing');
      assert.deepEqual(await store.takeGarbage(1000).then((ids) => ids.filter((id) => id === 'b-sa')), [], 'no blob queued');
    });

    test('bucket_usage_is_kept_by_every_object_write_and_delete', async () => {
      const b = await fresh();
      const other = await fresh();
      const usage = async (name: string) => (await store.bucketUsage()).find((u) => u.bucket === name);
      assert.deepEqual(await usage(b), { bucket: b, objects: 0, bytes: 0 }, 'an empty bucket shows zeros');
      await store.putObject({ ...obj(b, 'a'), size: 100 });
      await store.putObject({ ...obj(b, 'b'), size: 23 });
      await store.putObject({ ...obj(other, 'x'), size: 5 });
      assert.deepEqual(await usage(b), { bucket: b, objects: 2, bytes: 123 });
      await store.putObject({ ...obj(b, 'a', ['b-a2']), size: 40 }); // a replace changes bytes, not the count
      assert.deepEqual(await usage(b), { bucket: b, objects: 2, bytes: 63 });
      await store.putObjectTags(b, 'b', [['t', 'v']]); // an update that keeps the size
      assert.deepEqual(await usage(b), { bucket: b, objects: 2, bytes: 63 });
      const uploadId = `usage-${b}`;
      await store.createUpload(upload(b, 'm', uploadId));
      await store.completeUpload(uploadId, { ...obj(b, 'm', ['m1', 'm2']), size: 1000 });
      assert.deepEqual(await usage(b), { bucket: b, objects: 3, bytes: 1063 });
      await store.deleteObject(b, 'a');
      await store.deleteObject(b, 'a'); // absent: nothing changes
      assert.deepEqual(await usage(b), { bucket: b, objects: 2, bytes: 1023 });
      assert.deepEqual(await usage(other), { bucket: other, objects: 1, bytes: 5 }, 'other buckets are untouched');
      await store.deleteObject(b, 'b');
      await store.deleteObject(b, 'm');
      assert.deepEqual(await usage(b), { bucket: b, objects: 0, bytes: 0 });
      assert.equal(await store.deleteBucket(b), 'deleted');
      assert.equal(await usage(b), undefined, 'a deleted bucket is gone from the usage');
      assert.equal(await store.createBucket({ name: b, createdAt: 3, ownerId: 'owner', region: 'us-east-1' }), true);
      assert.deepEqual(await usage(b), { bucket: b, objects: 0, bytes: 0 }, 'a bucket made again under the name starts at zero');
    });

    test('garbage_queue_length_counts_queued_blobs', async () => {
      await store.garbageCollected(await garbage(store));
      assert.equal(await store.garbageQueueLength(), 0);
      const b = await fresh();
      await store.putObject(obj(b, 'k', ['q1', 'q2']));
      await store.deleteObject(b, 'k');
      assert.equal(await store.garbageQueueLength(), 2);
      await store.garbageCollected(['q1', 'q2']);
      assert.equal(await store.garbageQueueLength(), 0);
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

    // The blob collector's grace period (storage/blob-collector.ts): entries are collectable
    // only once old enough, and a long read restarts their age (storage/read-holds.ts).
    // (Objects of two blobs: those of a one-blob object skip the period, as the next test shows.)
    test('takeGarbage_minAgeMs_returns_only_old_enough_entries_and_deferGarbage_makes_them_young', async () => {
      const b = await fresh();
      await garbage(store).then((ids) => store.garbageCollected(ids));
      await store.putObject(obj(b, 'k', ['age1', 'age1b']));
      await store.putObject(obj(b, 'k', ['age2', 'age2b']));
      assert.deepEqual(await store.takeGarbage(10, { minAgeMs: 60_000 }), [], 'younger than a minute');
      await sleep(400);
      assert.deepEqual((await store.takeGarbage(10, { minAgeMs: 300 })).sort(), ['age1', 'age1b'], 'older than 300 ms');
      await store.deferGarbage(['age1', 'age1b', 'never-queued']);
      assert.deepEqual(await store.takeGarbage(10, { minAgeMs: 300 }), [], 'deferred: young again');
      await sleep(400);
      assert.deepEqual((await store.takeGarbage(10, { minAgeMs: 300 })).sort(), ['age1', 'age1b'], 'old enough again');
      assert.deepEqual(await garbage(store), ['age1', 'age1b'], 'deferring queues nothing');
      await store.garbageCollected(['age1', 'age1b']);
      await store.deferGarbage([]);
    });

    // A one-blob object's blob is read through one open that outlives its deletion (BlobStore.read),
    // so what it frees is collectable at once, whatever the grace period (metadata-rules.ts
    // collectableAtOnce); several blobs, opened one after another, wait for it.
    test('blobs_of_one_blob_objects_are_collectable_at_once_and_those_of_several_wait_for_the_grace_period', async () => {
      const b = await fresh();
      await garbage(store).then((ids) => store.garbageCollected(ids));
      const young = async (): Promise<string[]> => (await store.takeGarbage(100, { minAgeMs: 60_000 })).sort();
      await store.putObject(obj(b, 'one', ['o1']));
      await store.putObject(obj(b, 'one', ['o2']));
      await store.putObject(obj(b, 'many', ['m1', 'm2']));
      await store.putObject(obj(b, 'many', ['m3']));
      assert.deepEqual(await young(), ['o1'], 'replaced: the one-blob object at once, the two-blob one not');
      await store.deleteObject(b, 'one');
      await store.deleteObject(b, 'many');
      assert.deepEqual(await young(), ['m3', 'o1', 'o2'], 'deleted: one-blob objects at once');
      // Versions: deleting one version for good frees its blob at once too.
      const v1 = await store.putObject(obj(b, 'v', ['v1']), undefined, { versioning: 'Enabled' });
      await store.putObject(obj(b, 'v', ['v2']), undefined, { versioning: 'Enabled' });
      assert.ok(await store.deleteObjectVersion(b, 'v', v1.versionId!));
      assert.deepEqual(await young(), ['m3', 'o1', 'o2', 'v1']);
      // A long read's hold restarts the age even of an entry queued to go at once.
      await store.deferGarbage(['o2']);
      assert.deepEqual(await young(), ['m3', 'o1', 'v1']);
      await sleep(400);
      assert.deepEqual((await store.takeGarbage(100, { minAgeMs: 300 })).sort(), ['m1', 'm2', 'm3', 'o1', 'o2', 'v1']);
      await store.garbageCollected(await garbage(store));
    });

    // The blob collector runs on this signal (storage/blob-collector.ts), not only on its timer.
    test('onGarbage_fires_after_writes_that_queue_garbage_and_only_those', async () => {
      const b = await fresh();
      await garbage(store).then((ids) => store.garbageCollected(ids));
      let calls = 0;
      store.onGarbage(() => calls++);
      try {
        await store.putObject(obj(b, 'k', ['g1']));
        assert.equal(calls, 0, 'a new key frees nothing');
        await store.putObject(obj(b, 'k', ['g2']));
        assert.equal(calls, 1, 'replacing an object frees its blob, and the write resolves after telling');
        await store.getObject(b, 'k');
        await store.putBucketConfig(b, 'x', '{}');
        assert.equal(calls, 1, 'reads and writes that free nothing do not fire');
        await store.deleteObject(b, 'k');
        assert.equal(calls, 2, 'deleting an object frees its blob');
        assert.deepEqual(await garbage(store), ['g1', 'g2']);
        await store.garbageCollected(['g1', 'g2']);
        assert.equal(calls, 2, 'forgetting collected garbage queues none');
      } finally {
        store.onGarbage(() => {});
      }
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

    // A listing reads the summary columns, not the document (metadata-rows.ts): every write of an
    // object row must keep the two in step, or ListObjects would show an old size or ETag.
    test('listing_summaries_follow_every_write_of_an_object', async () => {
      const b = await fresh();
      const listed = async (): Promise<unknown[]> => store.listObjects(b, { prefix: '', limit: 100 });
      const current = async (...keys: string[]): Promise<unknown[]> => Promise.all(keys.map(async (k) => objectSummary((await store.getObject(b, k))!)));
      const first = { ...obj(b, 'k', ['s1', 's2'], 'e1-2'), checksum: { algorithm: 'CRC32' as const, value: 'AAAAAA==-2', type: 'COMPOSITE' as const } };
      await store.putObject(first);
      assert.deepEqual(await listed(), [objectSummary(first)]);
      assert.deepEqual(objectSummary(first), {
        key: 'k', size: 20, etag: 'e1-2', lastModified: 1_700_000_000_000, checksumAlgorithm: 'CRC32', checksumType: 'COMPOSITE', storageClass: 'STANDARD', ownerId: 'owner',
      });
      // Replaced by an object with no checksum, another size, class and owner: nothing of the first stays.
      const second = { ...obj(b, 'k', ['s3'], 'e2'), lastModified: 1_700_000_001_234, storageClass: 'STANDARD_IA', ownerId: 'other' };
      await store.putObject(second);
      assert.deepEqual(await listed(), [objectSummary(second)]);
      assert.equal(await store.putObjectTags(b, 'k', [['t', 'v']]), true);
      assert.equal(await store.setObjectAcl(b, 'k', { etag: 'e2', lastModified: second.lastModified }, { grants: [] }), 'updated');
      assert.equal(await store.updateObjectVersion(b, 'k', undefined, (o) => ({ ...o, legalHold: true })), 'updated');
      assert.deepEqual(await listed(), await current('k'));
      assert.deepEqual(await listed(), [objectSummary(second)]);
      // Completing an upload writes the row too.
      await store.createUpload(upload(b, 'm', '00000011-sum'));
      await store.putPart({ uploadId: '00000011-sum', partNumber: 1, blobId: 's4', size: 10, etag: 'p', lastModified: 1 });
      const completed = { ...obj(b, 'm', ['s4'], 'em-1'), multipart: true };
      await store.completeUpload('00000011-sum', completed);
      assert.deepEqual(await listed(), await current('k', 'm'));
      // Versions: deleting the current version makes the one before it current again, summary and all.
      const v1 = await store.putObject(obj(b, 'v', ['s5'], 'ev1'), undefined, { versioning: 'Enabled' });
      const v2 = await store.putObject({ ...obj(b, 'v', ['s6', 's7'], 'ev2'), lastModified: 1_700_000_009_000 }, undefined, { versioning: 'Enabled' });
      assert.deepEqual((await listed())[2], objectSummary(v2));
      await store.deleteObjectVersion(b, 'v', v2.versionId!);
      assert.deepEqual((await listed())[2], objectSummary(v1));
      assert.deepEqual(await listed(), await current('k', 'm', 'v'));
      await store.deleteObject(b, 'k');
      assert.deepEqual((await listed()).map((o) => (o as { key: string }).key), ['m', 'v']);
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
      const keys = ['a', 'a/b', 'a/c', 'ab', 'b', 'é', '\uFFFD', '😀', 'Z', '~', 'a\u0000b', 'a\tb\nc'];
      // Blob ids of their own: PostgreSQL's jsonb (the usage trigger reads the document) holds no U+0000.
      for (const [i, k] of keys.entries()) await store.putObject(obj(b, k, [`b-order-${i}`]));
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

    // ---- the built-in KMS's tables

    let kmsN = 0;
    const kmsKey = (over: Partial<KmsKeyRecord> = {}): KmsKeyRecord => ({
      keyId: `00000000-0000-4000-8000-${String(++kmsN).padStart(12, '0')}`,
      revision: 0,
      createdAt: 1000,
      description: 'd',
      keyManager: 'CUSTOMER',
      keyState: 'Enabled',
      rotationEnabled: false,
      currentVersion: 1,
      onDemandRotations: 0,
      tags: [['team', 'a']],
      ...over,
    });
    const kmsVersion = (keyId: string, version: number, rootKeyId = 'root-a'): KmsKeyVersionRecord => ({
      keyId,
      version,
      createdAt: 1000 + version,
      rotationType: version === 1 ? 'INITIAL' : 'ON_DEMAND',
      rootKeyId,
      wrappedMaterial: Buffer.alloc(60, version),
    });

    // ---- versioning (S3: "Working with objects in a versioning-enabled bucket",
    //      "Working with objects in a versioning-suspended bucket", "Deleting object versions")

    /** The queued garbage, then forgotten (as the collector does), so each check sees only what came since. */
    const drain = async (): Promise<string[]> => {
      const g = await garbage(store);
      await store.garbageCollected(g);
      return g;
    };
    const ids = async (b: string, prefix = ''): Promise<string[]> =>
      (await store.listObjectVersions(b, { prefix, limit: 1000 })).map((e) => `${e.record.key}:${e.record.deleteMarker ? 'DM' : e.record.etag}${e.isLatest ? '*' : ''}`);

    test('versioning_enabled_put_keeps_every_version_and_its_blobs', async () => {
      const b = await fresh();
      await drain();
      const v1 = await store.putObject(obj(b, 'k', ['v1'], 'e1'), undefined, { versioning: 'Enabled' });
      const v2 = await store.putObject(obj(b, 'k', ['v2'], 'e2'), undefined, { versioning: 'Enabled' });
      assert.match(v1.versionId!, /^[0-9a-f]{32}$/);
      assert.notEqual(v1.versionId, v2.versionId);
      assert.ok(v2.versionSeq! > v1.versionSeq!);
      assert.equal((await store.getObject(b, 'k'))?.etag, 'e2');
      assert.equal((await store.getObjectVersion(b, 'k', v1.versionId!))?.etag, 'e1');
      assert.equal((await store.getObjectVersion(b, 'k', v2.versionId!))?.etag, 'e2');
      assert.equal(await store.getObjectVersion(b, 'k', 'null'), undefined);
      assert.deepEqual(await drain(), [], 'an overwrite in a versioned bucket frees nothing');
      assert.deepEqual(await ids(b), ['k:e2*', 'k:e1']);
      assert.deepEqual([...(await store.referencedBlobIds(['v1', 'v2', 'zz']))].sort(), ['v1', 'v2'], 'crash recovery keeps noncurrent blobs');
      assert.equal(await store.deleteBucket(b), 'not-empty');
      await assert.rejects(store.deleteObject('no-such-bucket', 'k', { versioning: 'Enabled' }), code('NoSuchBucket'));
    });

    test('object_written_before_versioning_becomes_the_null_version', async () => {
      const b = await fresh();
      await store.putObject(obj(b, 'k', ['n0'], 'e0'));
      const v1 = await store.putObject(obj(b, 'k', ['n1'], 'e1'), undefined, { versioning: 'Enabled' });
      assert.equal((await store.getObjectVersion(b, 'k', 'null'))?.etag, 'e0');
      assert.deepEqual(await ids(b), ['k:e1*', 'k:e0']);
      const entries = await store.listObjectVersions(b, { prefix: '', limit: 10 });
      assert.equal(entries[1]!.record.versionId, undefined);
      assert.equal(entries[0]!.record.versionId, v1.versionId);
    });

    test('delete_in_enabled_bucket_adds_a_marker_and_deleting_the_marker_brings_the_object_back', async () => {
      const b = await fresh();
      await drain();
      const v1 = await store.putObject(obj(b, 'k', ['d1'], 'e1'), undefined, { versioning: 'Enabled' });
      const marker = await store.deleteObject(b, 'k', { versioning: 'Enabled', markerOwnerId: 'deleter' });
      assert.equal(marker?.deleteMarker, true);
      assert.equal(marker?.ownerId, 'deleter');
      assert.match(marker!.versionId!, /^[0-9a-f]{32}$/);
      assert.equal(await store.getObject(b, 'k'), undefined);
      assert.equal((await store.getLatestVersion(b, 'k'))?.deleteMarker, true);
      assert.deepEqual(await ids(b), ['k:DM*', 'k:e1']);
      assert.deepEqual(await drain(), []);
      // A delete of a key with no versions at all still adds a marker (S3 does).
      assert.equal((await store.deleteObject(b, 'none', { versioning: 'Enabled' }))?.deleteMarker, true);
      assert.equal((await store.deleteObjectVersion(b, 'k', marker!.versionId!))?.deleteMarker, true);
      assert.equal((await store.getObject(b, 'k'))?.versionId, v1.versionId, 'the object reappears');
      assert.deepEqual(await ids(b), ['k:e1*', 'none:DM*']);
      assert.deepEqual(await drain(), []);
    });

    test('deleting_the_latest_version_makes_the_previous_one_latest_and_queues_only_its_blobs', async () => {
      const b = await fresh();
      await drain();
      const v1 = await store.putObject(obj(b, 'k', ['l1'], 'e1'), undefined, { versioning: 'Enabled' });
      const v2 = await store.putObject(obj(b, 'k', ['l2'], 'e2'), undefined, { versioning: 'Enabled' });
      assert.equal(await store.deleteObjectVersion(b, 'k', 'ffffffffffffffff0000000000000000'), undefined);
      assert.equal((await store.deleteObjectVersion(b, 'k', v2.versionId!))?.etag, 'e2');
      assert.equal((await store.getObject(b, 'k'))?.versionId, v1.versionId);
      assert.deepEqual(await drain(), ['l2'], 'a permanent delete frees exactly that version');
      assert.equal((await store.deleteObjectVersion(b, 'k', v1.versionId!))?.etag, 'e1');
      assert.equal(await store.getLatestVersion(b, 'k'), undefined);
      assert.deepEqual(await ids(b), []);
      assert.equal(await store.deleteBucket(b), 'deleted');
    });

    test('deleting_a_noncurrent_version_leaves_the_current_one', async () => {
      const b = await fresh();
      const v1 = await store.putObject(obj(b, 'k', ['m1'], 'e1'), undefined, { versioning: 'Enabled' });
      const m = await store.deleteObject(b, 'k', { versioning: 'Enabled' });
      await store.putObject(obj(b, 'k', ['m3'], 'e3'), undefined, { versioning: 'Enabled' });
      await store.deleteObjectVersion(b, 'k', v1.versionId!);
      await store.deleteObjectVersion(b, 'k', m!.versionId!);
      assert.deepEqual(await ids(b), ['k:e3*']);
      // With a check that throws (Object Lock), nothing changes.
      const cur = await store.getObject(b, 'k');
      await assert.rejects(store.deleteObjectVersion(b, 'k', cur!.versionId!, { check: () => { throw new S3Error('AccessDenied'); } }), code('AccessDenied'));
      assert.deepEqual(await ids(b), ['k:e3*']);
    });

    test('suspended_put_replaces_the_null_version_wherever_it_is_and_keeps_the_others', async () => {
      const b = await fresh();
      await drain();
      await store.putObject(obj(b, 'k', ['s0'], 'e0')); // null version, from before versioning
      const v1 = await store.putObject(obj(b, 'k', ['s1'], 'e1'), undefined, { versioning: 'Enabled' });
      const n = await store.putObject(obj(b, 'k', ['s2'], 'e2'), undefined, { versioning: 'Suspended' });
      assert.equal(n.versionId, undefined, 'a suspended write is the null version');
      assert.deepEqual(await drain(), ['s0'], 'the old null version (noncurrent) is replaced');
      assert.deepEqual(await ids(b), ['k:e2*', 'k:e1']);
      await store.putObject(obj(b, 'k', ['s3'], 'e3'), undefined, { versioning: 'Suspended' });
      assert.deepEqual(await drain(), ['s2'], 'the current null version is replaced');
      assert.deepEqual(await ids(b), ['k:e3*', 'k:e1']);
      assert.equal((await store.getObjectVersion(b, 'k', v1.versionId!))?.etag, 'e1');
      // Re-enabled: the null version stays as a noncurrent version.
      await store.putObject(obj(b, 'k', ['s4'], 'e4'), undefined, { versioning: 'Enabled' });
      assert.deepEqual(await ids(b), ['k:e4*', 'k:e3', 'k:e1']);
      assert.deepEqual(await drain(), []);
    });

    test('suspended_delete_replaces_the_null_version_with_a_null_delete_marker', async () => {
      const b = await fresh();
      await drain();
      const v1 = await store.putObject(obj(b, 'k', ['t1'], 'e1'), undefined, { versioning: 'Enabled' });
      await store.putObject(obj(b, 'k', ['t2'], 'e2'), undefined, { versioning: 'Suspended' });
      const m = await store.deleteObject(b, 'k', { versioning: 'Suspended' });
      assert.equal(m?.deleteMarker, true);
      assert.equal(m?.versionId, undefined);
      assert.deepEqual(await drain(), ['t2']);
      assert.deepEqual(await ids(b), ['k:DM*', 'k:e1']);
      assert.equal((await store.getObjectVersion(b, 'k', 'null'))?.deleteMarker, true);
      // A suspended delete of a key whose current version is not null keeps that version.
      await store.deleteObjectVersion(b, 'k', 'null');
      assert.equal((await store.getObject(b, 'k'))?.versionId, v1.versionId);
      await store.deleteObject(b, 'k', { versioning: 'Suspended' });
      assert.deepEqual(await ids(b), ['k:DM*', 'k:e1']);
      assert.deepEqual(await drain(), []);
    });

    test('conditional_writes_in_a_versioned_bucket_see_the_current_object', async () => {
      const b = await fresh();
      await store.putObject(obj(b, 'k', ['c1'], 'e1'), undefined, { versioning: 'Enabled' });
      await assert.rejects(store.putObject(obj(b, 'k', ['c2']), { ifNoneMatch: true }, { versioning: 'Enabled' }), code('PreconditionFailed'));
      await store.deleteObject(b, 'k', { versioning: 'Enabled' });
      // Behind a delete marker the key does not exist: If-None-Match succeeds, If-Match is NoSuchKey.
      await assert.rejects(store.putObject(obj(b, 'k', ['c3']), { ifMatch: 'e1' }, { versioning: 'Enabled' }), code('NoSuchKey'));
      await store.putObject(obj(b, 'k', ['c4'], 'e4'), { ifNoneMatch: true }, { versioning: 'Enabled' });
      assert.deepEqual(await ids(b), ['k:e4*', 'k:DM', 'k:e1']);
    });

    test('complete_upload_in_a_versioned_bucket_adds_a_version', async () => {
      const b = await fresh();
      const v1 = await store.putObject(obj(b, 'k', ['u0'], 'e0'), undefined, { versioning: 'Enabled' });
      await store.createUpload(upload(b, 'k', 'vup1'));
      await store.putPart({ uploadId: 'vup1', partNumber: 1, blobId: 'u1', size: 10, etag: 'p', lastModified: 1 });
      const done = await store.completeUpload('vup1', obj(b, 'k', ['u1'], 'm-1'), undefined, { versioning: 'Enabled' });
      assert.match(done.versionId!, /^[0-9a-f]{32}$/);
      assert.deepEqual(await ids(b), ['k:m-1*', 'k:e0']);
      assert.equal((await store.getObjectVersion(b, 'k', v1.versionId!))?.parts[0]?.blobId, 'u0');
    });

    test('update_object_version_changes_one_version_and_may_refuse', async () => {
      const b = await fresh();
      const v1 = await store.putObject(obj(b, 'k', ['w1'], 'e1'), undefined, { versioning: 'Enabled' });
      const v2 = await store.putObject(obj(b, 'k', ['w2'], 'e2'), undefined, { versioning: 'Enabled' });
      assert.equal(await store.updateObjectVersion(b, 'k', v1.versionId, (o) => ({ ...o, tags: [['a', 'old']] })), 'updated');
      assert.equal(await store.updateObjectVersion(b, 'k', undefined, (o) => ({ ...o, legalHold: true })), 'updated');
      assert.equal(await store.updateObjectVersion(b, 'k', v2.versionId, () => undefined), 'unchanged');
      assert.equal(await store.updateObjectVersion(b, 'k', 'ffffffffffffffff0000000000000000', (o) => o), 'missing');
      await assert.rejects(store.updateObjectVersion(b, 'k', v1.versionId, () => { throw new S3Error('AccessDenied'); }), code('AccessDenied'));
      assert.deepEqual((await store.getObjectVersion(b, 'k', v1.versionId!))?.tags, [['a', 'old']]);
      assert.equal((await store.getObjectVersion(b, 'k', v1.versionId!))?.legalHold, undefined);
      assert.equal((await store.getObject(b, 'k'))?.legalHold, true);
      assert.deepEqual((await store.getObject(b, 'k'))?.tags, []);
    });

    test('list_object_versions_orders_keys_ascending_versions_newest_first_and_resumes_at_markers', async () => {
      const b = await fresh();
      const put = (k: string, e: string) => store.putObject(obj(b, k, [`${b}-${k}-${e}`], e), undefined, { versioning: 'Enabled' });
      await put('b', '1');
      await put('a', '1');
      await put('b', '2');
      await store.deleteObject(b, 'b', { versioning: 'Enabled' });
      await put('a', '2');
      await put('c/x', '1');
      await put('\u00e9', '1'); // UTF-8 byte order: after every ASCII key
      await put('b', '3');
      const all = await ids(b);
      assert.deepEqual(all, ['a:2*', 'a:1', 'b:3*', 'b:DM', 'b:2', 'b:1', 'c/x:1*', '\u00e9:1*']);
      assert.deepEqual(await ids(b, 'b'), ['b:3*', 'b:DM', 'b:2', 'b:1']);
      // Resuming page by page at (key, version id) gives the same sequence, none repeated, isLatest kept.
      const seen: string[] = [];
      let range: { start?: { key: string; inclusive: boolean }; afterVersionId?: string } = {};
      for (let i = 0; i < 20; i++) {
        const page = await store.listObjectVersions(b, { prefix: '', limit: 3, ...range });
        if (page.length === 0) break;
        seen.push(...page.map((e) => `${e.record.key}:${e.record.deleteMarker ? 'DM' : e.record.etag}${e.isLatest ? '*' : ''}`));
        const last = page[page.length - 1]!.record;
        range = { start: { key: last.key, inclusive: false }, afterVersionId: last.versionId ?? 'null' };
      }
      assert.deepEqual(seen, all);
      // A crafted marker id beyond any seq (and beyond a BIGINT) is no error: the whole rest of its key follows.
      const crafted = await store.listObjectVersions(b, { prefix: '', start: { key: 'b', inclusive: false }, afterVersionId: 'ffffffffffffffffffffffffffffffff', limit: 10 });
      assert.deepEqual(crafted.map((e) => e.record.key), ['b', 'b', 'b', 'b', 'c/x', '\u00e9']);
      // key-marker alone: the keys after it.
      assert.deepEqual((await store.listObjectVersions(b, { prefix: '', start: { key: 'b', inclusive: false }, limit: 10 })).map((e) => e.record.key), ['c/x', '\u00e9']);
      // The marker version deleted between pages: the version that became current is still listed, as latest.
      const d = await fresh();
      const d1 = await store.putObject(obj(d, 'k', ['dd1'], 'e1'), undefined, { versioning: 'Enabled' });
      const d2 = await store.putObject(obj(d, 'k', ['dd2'], 'e2'), undefined, { versioning: 'Enabled' });
      const first = await store.listObjectVersions(d, { prefix: '', limit: 1 });
      assert.equal(first[0]!.record.versionId, d2.versionId);
      await store.deleteObjectVersion(d, 'k', d2.versionId!);
      const rest = await store.listObjectVersions(d, { prefix: '', start: { key: 'k', inclusive: false }, afterVersionId: d2.versionId!, limit: 10 });
      assert.deepEqual(rest.map((e) => [e.record.versionId, e.isLatest]), [[d1.versionId, true]]);
      // A version-id-marker that is the null version of its key.
      const c = await fresh();
      await store.putObject(obj(c, 'k', ['nn0'], 'e0'));
      await store.putObject(obj(c, 'k', ['nn1'], 'e1'), undefined, { versioning: 'Enabled' });
      await store.putObject(obj(c, 'l', ['nn2'], 'e2'), undefined, { versioning: 'Enabled' });
      const after = await store.listObjectVersions(c, { prefix: '', start: { key: 'k', inclusive: false }, afterVersionId: 'null', limit: 10 });
      assert.deepEqual(after.map((e) => `${e.record.key}:${e.record.etag}${e.isLatest ? '*' : ''}`), ['l:e2*']);
    });

    test('kms_key_create_get_list_and_revisioned_update', async () => {
      const k = kmsKey();
      assert.equal(await store.createKmsKey(k, kmsVersion(k.keyId, 1)), true);
      assert.deepEqual(await store.getKmsKey(k.keyId), k);
      assert.equal(await store.getKmsKey('00000000-0000-4000-8000-ffffffffffff'), undefined);
      assert.ok((await store.listKmsKeys(undefined, 1000)).some((x) => x.keyId === k.keyId));
      assert.ok(!(await store.listKmsKeys(k.keyId, 1000)).some((x) => x.keyId === k.keyId), 'listing starts strictly after the marker');
      assert.equal(await store.updateKmsKey({ ...k, description: 'new' }), true);
      // A writer that read revision 0 lost the race: its update must not apply.
      assert.equal(await store.updateKmsKey({ ...k, description: 'stale' }), false);
      const now = await store.getKmsKey(k.keyId);
      assert.equal(now?.description, 'new');
      assert.equal(now?.revision, 1);
    });

    test('kms_update_adds_a_version_atomically', async () => {
      const k = kmsKey();
      await store.createKmsKey(k, kmsVersion(k.keyId, 1));
      assert.equal(await store.updateKmsKey({ ...k, currentVersion: 2 }, kmsVersion(k.keyId, 2)), true);
      // The loser of a concurrent rotation adds no version.
      assert.equal(await store.updateKmsKey({ ...k, currentVersion: 2 }, kmsVersion(k.keyId, 3)), false);
      const versions = await store.listKmsKeyVersions(k.keyId);
      assert.deepEqual(versions.map((v) => v.version), [1, 2]);
      assert.deepEqual(await store.getKmsKeyVersion(k.keyId, 2), kmsVersion(k.keyId, 2));
      assert.equal(await store.getKmsKeyVersion(k.keyId, 3), undefined);
    });

    test('kms_due_for_deletion_and_rotation', async () => {
      const pending = kmsKey({ keyState: 'PendingDeletion', deletionDate: 5000, pendingWindowInDays: 7 });
      const rotating = kmsKey({ rotationEnabled: true, rotationPeriodDays: 90, nextRotationDate: 6000 });
      const disabledRotating = kmsKey({ keyState: 'Disabled', rotationEnabled: true, rotationPeriodDays: 90, nextRotationDate: 6000 });
      for (const k of [pending, rotating, disabledRotating]) await store.createKmsKey(k, kmsVersion(k.keyId, 1));
      assert.ok(!(await store.kmsKeysDueForDeletion(4999, 100)).includes(pending.keyId));
      assert.ok((await store.kmsKeysDueForDeletion(5000, 100)).includes(pending.keyId));
      assert.ok(!(await store.kmsKeysDueForRotation(5999, 100)).includes(rotating.keyId));
      const due = await store.kmsKeysDueForRotation(6000, 100);
      assert.ok(due.includes(rotating.keyId));
      assert.ok(!due.includes(disabledRotating.keyId), 'disabled keys do not rotate');
      // Re-enabling an overdue key makes it due at once (AWS rotates it then).
      await store.updateKmsKey({ ...disabledRotating, keyState: 'Enabled' });
      assert.ok((await store.kmsKeysDueForRotation(6000, 100)).includes(disabledRotating.keyId));
    });

    test('kms_destroy_removes_material_versions_and_aliases', async () => {
      const k = kmsKey();
      await store.createKmsKey(k, kmsVersion(k.keyId, 1));
      await store.updateKmsKey({ ...k, currentVersion: 2 }, kmsVersion(k.keyId, 2));
      assert.equal(await store.createKmsAlias({ aliasName: `alias/destroy-${k.keyId}`, keyId: k.keyId, createdAt: 1, updatedAt: 1 }), 'created');
      assert.equal(await store.destroyKmsKey(k.keyId), true);
      assert.equal(await store.getKmsKey(k.keyId), undefined);
      assert.deepEqual(await store.listKmsKeyVersions(k.keyId), []);
      assert.equal(await store.getKmsKeyVersion(k.keyId, 1), undefined);
      assert.equal(await store.getKmsAlias(`alias/destroy-${k.keyId}`), undefined);
      assert.equal(await store.destroyKmsKey(k.keyId), false);
    });

    test('kms_aliases_create_update_delete_list', async () => {
      const a = kmsKey();
      const b = kmsKey();
      await store.createKmsKey(a, kmsVersion(a.keyId, 1));
      await store.createKmsKey(b, kmsVersion(b.keyId, 1));
      const name = `alias/contract-${a.keyId}`;
      assert.equal(await store.createKmsAlias({ aliasName: name, keyId: a.keyId, createdAt: 1, updatedAt: 1 }), 'created');
      assert.equal(await store.createKmsAlias({ aliasName: name, keyId: b.keyId, createdAt: 2, updatedAt: 2 }), 'exists');
      assert.equal(await store.createKmsAlias({ aliasName: `${name}-x`, keyId: '00000000-0000-4000-8000-fffffffffffe', createdAt: 1, updatedAt: 1 }), 'no-key');
      assert.equal(await store.createKmsAlias({ aliasName: `${name}-2`, keyId: a.keyId, createdAt: 1, updatedAt: 1 }), 'created');
      assert.deepEqual((await store.listKmsAliases({ keyId: a.keyId, limit: 10 })).map((x) => x.aliasName), [name, `${name}-2`]);
      assert.deepEqual((await store.listKmsAliases({ keyId: a.keyId, after: name, limit: 10 })).map((x) => x.aliasName), [`${name}-2`]);
      assert.equal(await store.updateKmsAlias(name, b.keyId, 5), 'updated');
      assert.deepEqual(await store.getKmsAlias(name), { aliasName: name, keyId: b.keyId, createdAt: 1, updatedAt: 5 });
      assert.equal(await store.updateKmsAlias('alias/none', b.keyId, 5), 'missing');
      assert.equal(await store.updateKmsAlias(name, '00000000-0000-4000-8000-fffffffffffe', 5), 'no-key');
      assert.ok((await store.listKmsAliases({ limit: 1000 })).some((x) => x.aliasName === name));
      assert.equal(await store.deleteKmsAlias(name), true);
      assert.equal(await store.deleteKmsAlias(name), false);
      assert.equal(await store.getKmsAlias(name), undefined);
    });

    test('kms_managed_key_creation_is_atomic_with_its_alias', async () => {
      const first = kmsKey({ keyManager: 'AWS' });
      const second = kmsKey({ keyManager: 'AWS' });
      const alias = (keyId: string) => ({ aliasName: 'alias/aws/contract-managed', keyId, createdAt: 1, updatedAt: 1 });
      assert.equal(await store.createKmsKey(first, kmsVersion(first.keyId, 1), alias(first.keyId)), true);
      // A second node racing to create the managed key loses and creates nothing.
      assert.equal(await store.createKmsKey(second, kmsVersion(second.keyId, 1), alias(second.keyId)), false);
      assert.equal(await store.getKmsKey(second.keyId), undefined);
      assert.equal((await store.getKmsAlias('alias/aws/contract-managed'))?.keyId, first.keyId);
    });

    test('kms_rewrap_is_compare_and_set_on_the_root_key', async () => {
      const k = kmsKey();
      await store.createKmsKey(k, kmsVersion(k.keyId, 1, 'root-old'));
      assert.ok((await store.kmsRootKeyIds()).includes('root-old'));
      const todo = await store.kmsKeyVersionsNotWrappedBy('root-new', 10_000);
      assert.ok(todo.some((v) => v.keyId === k.keyId && v.version === 1));
      const to = { rootKeyId: 'root-new', wrappedMaterial: Buffer.alloc(60, 9) };
      assert.equal(await store.rewrapKmsKeyVersion(k.keyId, 1, 'root-other', to), false);
      assert.equal(await store.rewrapKmsKeyVersion(k.keyId, 1, 'root-old', to), true);
      assert.equal(await store.rewrapKmsKeyVersion(k.keyId, 1, 'root-old', to), false, 'a second run does not re-wrap twice');
      assert.deepEqual((await store.getKmsKeyVersion(k.keyId, 1))?.wrappedMaterial, to.wrappedMaterial);
      assert.ok(!(await store.kmsKeyVersionsNotWrappedBy('root-new', 10_000)).some((v) => v.keyId === k.keyId));
    });

    test('kms_settings', async () => {
      assert.equal(await store.getKmsSetting('contract-setting'), undefined);
      await store.putKmsSetting('contract-setting', 'a');
      await store.putKmsSetting('contract-setting', 'b');
      assert.equal(await store.getKmsSetting('contract-setting'), 'b');
    });

    test('accounts_create_get_list', async () => {
      const a = { accountId: '111122223333', canonicalId: 'c'.repeat(64), name: 'acct-a', createdAt: 5 };
      assert.equal(await store.createAccount(a), true);
      assert.equal(await store.createAccount({ ...a, name: 'again' }), false, 'same id');
      assert.equal(await store.createAccount({ ...a, accountId: '999988887777' }), false, 'same canonical id');
      assert.deepEqual(await store.getAccount('111122223333'), a);
      assert.deepEqual(await store.getAccountByCanonicalId('c'.repeat(64)), a);
      assert.equal(await store.getAccount('000000000000'), undefined);
      assert.ok((await store.listAccounts()).some((x) => x.accountId === a.accountId));
    });

    test('iam_users_names_are_case_insensitive_per_account', async () => {
      const u = { accountId: '111122223333', userName: 'Alice', userId: 'AIDAALICE', path: '/', createdAt: 1 };
      assert.equal(await store.createIamUser(u), true);
      assert.equal(await store.createIamUser({ ...u, userName: 'alice', userId: 'AIDAOTHER' }), false);
      assert.equal(await store.createIamUser({ ...u, accountId: '444455556666', userId: 'AIDAALICE2' }), true, 'another account may reuse the name');
      assert.deepEqual(await store.getIamUser('111122223333', 'ALICE'), u);
      assert.deepEqual((await store.listIamUsers('111122223333')).map((x) => x.userName), ['Alice']);
    });

    test('access_keys_lifecycle', async () => {
      await store.createIamUser({ accountId: '111122223333', userName: 'bob', userId: 'AIDABOB', path: '/', createdAt: 1 });
      const k = { accessKeyId: 'AKIABOB1', accountId: '111122223333', userName: 'bob', status: 'Active' as const, createdAt: 2, rootKeyId: 'rk', wrappedSecret: Buffer.from([1, 2, 3]) };
      assert.equal(await store.createAccessKey(k), true);
      assert.equal(await store.createAccessKey(k), false, 'duplicate id');
      assert.equal(await store.createAccessKey({ ...k, accessKeyId: 'AKIANOBODY', userName: 'nobody' }), false, 'unknown user');
      const rootKey = { ...k, accessKeyId: 'AKIAROOT1', createdAt: 3 };
      delete (rootKey as { userName?: string }).userName;
      assert.equal(await store.createAccessKey(rootKey), true, 'a key of the account root');
      assert.deepEqual(await store.getAccessKey('AKIABOB1'), k);
      assert.deepEqual((await store.listAccessKeys('111122223333', 'BOB')).map((x) => x.accessKeyId), ['AKIABOB1']);
      assert.deepEqual((await store.listAccessKeys('111122223333', undefined)).map((x) => x.accessKeyId), ['AKIAROOT1']);
      assert.equal(await store.updateAccessKeyStatus('AKIABOB1', 'Inactive'), true);
      assert.equal((await store.getAccessKey('AKIABOB1'))?.status, 'Inactive');
      assert.equal(await store.updateAccessKeyStatus('AKIAMISSING', 'Inactive'), false);
      assert.equal(await store.deleteAccessKey('AKIAROOT1'), true);
      assert.equal(await store.deleteAccessKey('AKIAROOT1'), false);
      // Root key rotation: find the keys under another root key, compare-and-set their secret.
      assert.deepEqual((await store.accessKeysNotWrappedBy('rk2', 10)).map((x) => x.accessKeyId), ['AKIABOB1']);
      assert.equal(await store.rewrapAccessKey('AKIABOB1', 'stale', { rootKeyId: 'rk2', wrappedSecret: Buffer.from([7]) }), false);
      assert.equal(await store.rewrapAccessKey('AKIABOB1', 'rk', { rootKeyId: 'rk2', wrappedSecret: Buffer.from([7]) }), true);
      assert.deepEqual(await store.accessKeysNotWrappedBy('rk2', 10), []);
      assert.deepEqual((await store.getAccessKey('AKIABOB1'))?.wrappedSecret, Buffer.from([7]));
    });

    test('user_policies_and_delete_user_conflicts', async () => {
      await store.createIamUser({ accountId: '111122223333', userName: 'carol', userId: 'AIDACAROL', path: '/', createdAt: 1 });
      const p = { accountId: '111122223333', userName: 'carol', policyName: 'p1', document: '{"Version":"2012-10-17"}' };
      assert.equal(await store.putUserPolicy(p), true);
      assert.equal(await store.putUserPolicy({ ...p, document: '{}' }), true, 'replace');
      assert.equal(await store.putUserPolicy({ ...p, userName: 'nobody' }), false);
      assert.equal((await store.getUserPolicy('111122223333', 'carol', 'p1'))?.document, '{}');
      assert.deepEqual((await store.listUserPolicies('111122223333', 'carol')).map((x) => x.policyName), ['p1']);
      await store.createAccessKey({ accessKeyId: 'AKIACAROL', accountId: '111122223333', userName: 'carol', status: 'Active', createdAt: 1, rootKeyId: 'rk', wrappedSecret: Buffer.from([9]) });
      assert.equal(await store.deleteIamUser('111122223333', 'carol', { cascade: false }), 'has-dependents');
      assert.equal(await store.deleteUserPolicy('111122223333', 'carol', 'p1'), true);
      assert.equal(await store.deleteUserPolicy('111122223333', 'carol', 'p1'), false);
      assert.equal(await store.deleteIamUser('111122223333', 'carol', { cascade: true }), 'deleted');
      assert.equal(await store.getAccessKey('AKIACAROL'), undefined, 'cascade removes keys');
      assert.equal(await store.deleteIamUser('111122223333', 'carol', { cascade: true }), 'missing');
    });
  });
}
