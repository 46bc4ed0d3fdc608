/**
 * The BlobStore contract against S3BlobStore, its backend a second real Coffer
 * process on a temp dir — how a Coffer node keeps its blobs in another S3
 * service. Then what only this driver has: multipart uploads for large blobs,
 * and a backend that goes away and comes back.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { BlobNotFoundError } from '../../src/blob/blob-store.js';
import { S3BlobStore } from '../../src/blob/s3/s3-blob-store.js';
import { isBackendUnavailable } from '../../src/errors/backend-unavailable.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { TcpSwitch } from '../helpers/tcp-switch.js';
import { blobStoreContract } from './blob-store.contract.js';

const BUCKET = 'coffer-blobs';
const MiB = 1024 * 1024;

function storeOn(server: TestServer, options: { endpoint?: string; prefix?: string; partSize?: number; stagingLeaseMs?: number } = {}): S3BlobStore {
  return new S3BlobStore({
    endpoint: options.endpoint ?? server.url,
    bucket: BUCKET,
    prefix: options.prefix ?? 'node-a/',
    region: server.region,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    ...(options.partSize !== undefined ? { partSize: options.partSize } : {}),
    // The contract's recover cases are one node alone on its prefix: every unreferenced marker is a crashed write.
    stagingLeaseMs: options.stagingLeaseMs ?? 0,
    // The unavailable test should not wait out long timeouts.
    connectionTimeoutMs: 2_000,
    requestTimeoutMs: 10_000,
  });
}

async function backend(): Promise<{ server: TestServer; client: S3Client }> {
  const server = await startServer();
  const client = server.client();
  await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
  return { server, client };
}

let contractBackend: { server: TestServer; client: S3Client } | undefined;
let contractStore: S3BlobStore | undefined;
blobStoreContract({
  name: 's3 (a second Coffer process)',
  create: async () => {
    contractBackend = await backend();
    return (contractStore = storeOn(contractBackend.server));
  },
  destroy: async () => {
    contractStore?.close();
    contractBackend?.client.destroy();
    await contractBackend?.server.destroy();
  },
});

async function* pieces(data: Buffer, sizes: number[]): AsyncGenerator<Buffer> {
  let off = 0;
  for (let i = 0; off < data.length; i++) {
    const n = sizes[i % sizes.length]!;
    yield data.subarray(off, off + n);
    off += n;
  }
}

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of it) out.push(Buffer.from(c));
  return Buffer.concat(out);
}

async function keysUnder(client: S3Client, prefix: string): Promise<string[]> {
  const r = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
  return (r.Contents ?? []).map((o) => o.Key!);
}

describe('S3BlobStore on a second Coffer', () => {
  let b: { server: TestServer; client: S3Client };
  before(async () => (b = await backend()));
  after(async () => {
    b.client.destroy();
    await b.server.destroy();
  });

  test('a_large_blob_goes_up_in_parts_and_a_range_across_parts_reads_only_its_bytes', async () => {
    const store = storeOn(b.server, { prefix: 'large', partSize: 5 * MiB });
    try {
      const data = randomBytes(12 * MiB + 777);
      const p = await store.write(pieces(data, [1_000_003, 65_536, 3]));
      assert.equal(p.size, data.length);
      assert.deepEqual(await keysUnder(b.client, 'large/tmp/'), [`large/tmp/${p.blobId}`], 'staged: the marker is there');
      await p.publish();
      assert.deepEqual(await keysUnder(b.client, 'large/tmp/'), [], 'published: no marker');
      assert.deepEqual(await keysUnder(b.client, 'large/blobs/'), [`large/blobs/${p.blobId.slice(0, 2)}/${p.blobId}`]);
      const whole = await collect(await store.read(p.blobId));
      assert.ok(whole.equals(data), 'byte-exact');
      const before = store.stats().bytesRead;
      const [start, end] = [5 * MiB - 10, 10 * MiB + 10];
      assert.ok((await collect(await store.read(p.blobId, { start, end }, { scratch: true }))).equals(data.subarray(start, end + 1)));
      assert.equal(store.stats().bytesRead - before, end - start + 1, 'a ranged GET on the backend');
      await store.delete(p.blobId);
      await assert.rejects(store.read(p.blobId), BlobNotFoundError);
      assert.deepEqual(await keysUnder(b.client, 'large/'), []);
    } finally {
      store.close();
    }
  });

  test('a_source_failing_after_the_first_part_leaves_no_object_and_no_open_upload', async () => {
    const store = storeOn(b.server, { prefix: 'failing', partSize: 5 * MiB });
    try {
      async function* failing(): AsyncGenerator<Buffer> {
        for (let i = 0; i < 12; i++) yield randomBytes(MiB);
        throw new Error('client went away');
      }
      await assert.rejects(store.write(failing()), /client went away/);
      assert.deepEqual(await keysUnder(b.client, 'failing/'), []);
      const uploads = await b.client.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: 'failing/' }));
      assert.equal(uploads.Uploads?.length ?? 0, 0);
    } finally {
      store.close();
    }
  });

  test('recover_removes_the_blob_and_open_upload_of_a_write_that_never_committed', async () => {
    const store = storeOn(b.server, { prefix: 'crash' });
    try {
      // What a crash after a small write leaves: its marker and its blob, and no metadata commit.
      const small = await store.write(pieces(randomBytes(1000), [100]));
      // And a crash in the middle of a large one: its marker and an open multipart upload.
      const large = '0123456789abcdef0123456789abcdef';
      await b.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: `crash/tmp/${large}`, Body: '' }));
      const { UploadId } = await b.client.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: `crash/blobs/01/${large}` }));
      await b.client.send(new UploadPartCommand({ Bucket: BUCKET, Key: `crash/blobs/01/${large}`, UploadId, PartNumber: 1, Body: randomBytes(5 * MiB) }));
      const restarted = storeOn(b.server, { prefix: 'crash' });
      const result = await restarted.recover(async () => new Set());
      restarted.close();
      assert.deepEqual(result, { published: 0, removed: 2 });
      await assert.rejects(store.read(small.blobId), BlobNotFoundError);
      assert.deepEqual(await keysUnder(b.client, 'crash/'), []);
      const uploads = await b.client.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: 'crash/' }));
      assert.equal(uploads.Uploads?.length ?? 0, 0, 'the open upload was aborted');
    } finally {
      store.close();
    }
  });
});

describe('S3BlobStore: several nodes on one prefix', () => {
  let b: { server: TestServer; client: S3Client };
  before(async () => (b = await backend()));
  after(async () => {
    b.client.destroy();
    await b.server.destroy();
  });

  test('recover_on_one_node_leaves_another_nodes_write_in_flight_alone_and_removes_a_dead_nodes_leftovers_after_the_lease', async () => {
    const LEASE = 3_000;
    const nodeA = storeOn(b.server, { prefix: 'shared', stagingLeaseMs: LEASE });
    const nodeB = storeOn(b.server, { prefix: 'shared', stagingLeaseMs: LEASE });
    const dying = storeOn(b.server, { prefix: 'shared', stagingLeaseMs: LEASE });
    try {
      // Node A's write is staged, its metadata not yet committed (a slow client, a big upload).
      const inFlight = await nodeA.write(pieces(randomBytes(3000), [1000]));
      // A node dies (kill -9) after staging a write: nothing renews its marker any more.
      const orphan = await dying.write(pieces(randomBytes(2000), [1000]));
      dying.close();
      // Node B starts, and recovers, while both are staged and fresh: nothing referenced, nothing removed.
      assert.deepEqual(await nodeB.recover(async () => new Set()), { published: 0, removed: 0 });
      assert.equal((await collect(await nodeB.read(inFlight.blobId))).length, 3000, 'a write in flight is left alone');
      // Past the lease (LastModified has one-second resolution), A's renewals keep its marker fresh.
      await new Promise((r) => setTimeout(r, LEASE + 1_500));
      assert.deepEqual(await nodeB.recover(async () => new Set()), { published: 0, removed: 1 }, "only the dead node's write is removed");
      await assert.rejects(nodeB.read(orphan.blobId), BlobNotFoundError);
      await inFlight.publish();
      assert.equal((await collect(await nodeB.read(inFlight.blobId))).length, 3000, 'the write in flight completes');
      assert.deepEqual(await keysUnder(b.client, 'shared/tmp/'), [], 'published: its marker is gone and is not renewed back');
      await new Promise((r) => setTimeout(r, LEASE / 2));
      assert.deepEqual(await keysUnder(b.client, 'shared/tmp/'), [], 'still gone after another renewal period');
    } finally {
      nodeA.close();
      nodeB.close();
    }
  });
});

describe('S3BlobStore with its backend gone', () => {
  test('an_unreachable_backend_is_backend_unavailable_and_the_store_recovers_when_it_is_back', async () => {
    const b = await backend();
    const sw = new TcpSwitch(b.server.port);
    await sw.on();
    const store = storeOn(b.server, { endpoint: `http://127.0.0.1:${sw.port}`, prefix: 'gone' });
    const unavailable = (err: unknown) => isBackendUnavailable(err) && !(err instanceof BlobNotFoundError);
    try {
      const kept = await store.write(pieces(Buffer.from('kept'), [4]));
      await kept.publish();
      await sw.off();
      await assert.rejects(store.read(kept.blobId), unavailable, 'read');
      await assert.rejects(store.write(pieces(Buffer.from('new'), [3])), unavailable, 'write');
      await assert.rejects(store.delete(kept.blobId), unavailable, 'a delete is not done while the backend is away');
      await assert.rejects(store.recover(async () => new Set()), unavailable, 'recover');
      await sw.on();
      assert.equal((await collect(await store.read(kept.blobId))).toString(), 'kept', 'back by itself: the same store reads again');
      const fresh = await store.write(pieces(Buffer.from('fresh'), [5]));
      await fresh.publish();
      assert.equal((await collect(await store.read(fresh.blobId))).toString(), 'fresh');
    } finally {
      store.close();
      await sw.off();
      b.client.destroy();
      await b.server.destroy();
    }
  });

  test('a_missing_bucket_is_backend_unavailable_a_missing_blob_is_not_found', async () => {
    const b = await backend();
    const store = new S3BlobStore({
      endpoint: b.server.url,
      bucket: 'no-such-bucket-here',
      region: b.server.region,
      credentials: { accessKeyId: b.server.accessKeyId, secretAccessKey: b.server.secretAccessKey },
    });
    const present = storeOn(b.server);
    try {
      await assert.rejects(present.read('0'.repeat(32)), BlobNotFoundError);
      await assert.rejects(store.read('0'.repeat(32)), (err) => isBackendUnavailable(err) && !(err instanceof BlobNotFoundError));
      await assert.rejects(store.delete('0'.repeat(32)), (err) => isBackendUnavailable(err));
    } finally {
      store.close();
      present.close();
      b.client.destroy();
      await b.server.destroy();
    }
  });
});
