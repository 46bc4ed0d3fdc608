/**
 * `coffer serve --blob-url s3://BUCKET/PREFIX --blob-endpoint URL` (issue #14):
 * a Coffer node whose blobs live in a bucket of a second Coffer. Objects round
 * trip byte-exact through the official SDK, the blobs are on the backend and
 * none on the node's disk, and when the backend goes away the node answers
 * 503 ServiceUnavailable, stays up, and serves again once it is back.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { randomBytesSeeded } from '../helpers/data.js';
import { bodyBytes, expectS3Error } from '../helpers/s3.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { TcpSwitch } from '../helpers/tcp-switch.js';

const MiB = 1024 * 1024;
const BLOB_BUCKET = 'coffer-blobs';

const md5 = (b: Buffer) => `"${createHash('md5').update(b).digest('hex')}"`;

describe('coffer serve --blob-url (blobs on a second Coffer)', () => {
  let backend: TestServer;
  let backendClient: S3Client;
  let sw: TcpSwitch;
  let node: TestServer;
  let client: S3Client;

  const blobKeys = async (): Promise<string[]> =>
    ((await backendClient.send(new ListObjectsV2Command({ Bucket: BLOB_BUCKET, Prefix: 'node-a/' }))).Contents ?? []).map((o) => o.Key!);

  before(async () => {
    backend = await startServer();
    backendClient = backend.client();
    await backendClient.send(new CreateBucketCommand({ Bucket: BLOB_BUCKET }));
    sw = new TcpSwitch(backend.port);
    await sw.on();
    node = await startServer({
      args: ['--blob-url', `s3://${BLOB_BUCKET}/node-a`, '--blob-endpoint', sw.url],
      env: { COFFER_BLOB_ACCESS_KEY_ID: backend.accessKeyId, COFFER_BLOB_SECRET_ACCESS_KEY: backend.secretAccessKey },
    });
    // One attempt: the 503s below should show at once, not after the SDK's retries.
    client = node.client({ maxAttempts: 1 });
    await client.send(new CreateBucketCommand({ Bucket: 'photos' }));
  });

  after(async () => {
    client?.destroy();
    await node?.destroy();
    await sw?.off();
    backendClient?.destroy();
    await backend?.destroy();
  });

  test('PutObject_GetObject_round_trip_byte_exact_with_the_blobs_on_the_backend', async () => {
    const small = randomBytesSeeded(1, 100);
    const large = randomBytesSeeded(2, 12 * MiB + 5);
    for (const [Key, Body] of [['small', small], ['large', large]] as const) {
      const put = await client.send(new PutObjectCommand({ Bucket: 'photos', Key, Body }));
      assert.equal(put.ETag, md5(Body));
      const got = await client.send(new GetObjectCommand({ Bucket: 'photos', Key }));
      assert.ok((await bodyBytes(got)).equals(Body), `${Key}: byte-exact`);
    }
    const ranged = await client.send(new GetObjectCommand({ Bucket: 'photos', Key: 'large', Range: 'bytes=7000000-7100000' }));
    assert.ok((await bodyBytes(ranged)).equals(large.subarray(7_000_000, 7_100_001)));

    const keys = await blobKeys();
    assert.equal(keys.filter((k) => k.startsWith('node-a/blobs/')).length, 2, 'one blob per object, on the backend');
    assert.deepEqual(keys.filter((k) => k.startsWith('node-a/tmp/')), [], 'both published');
    assert.equal(existsSync(join(node.dataDir, 'blobs')), false, 'no blob files on the node');
    assert.equal(existsSync(join(node.dataDir, 'small-blobs.db')), false, 'small blobs go to the backend too');
  });

  test('an_unreachable_blob_backend_is_503_ServiceUnavailable_and_the_node_serves_again_once_it_is_back', async () => {
    const body = randomBytesSeeded(3, 64 * 1024);
    await client.send(new PutObjectCommand({ Bucket: 'photos', Key: 'kept', Body: body }));
    await sw.off();
    try {
      await expectS3Error(client.send(new GetObjectCommand({ Bucket: 'photos', Key: 'kept' })), 'ServiceUnavailable', 503);
      await expectS3Error(client.send(new PutObjectCommand({ Bucket: 'photos', Key: 'refused', Body: body })), 'ServiceUnavailable', 503);
      assert.match(node.output(), /blob backend .* could not be reached/, 'the log says what is wrong');
      assert.doesNotMatch(node.output(), /"code":"InternalError"|InternalError/, 'no 500');
    } finally {
      await sw.on();
    }
    const got = await client.send(new GetObjectCommand({ Bucket: 'photos', Key: 'kept' }));
    assert.ok((await bodyBytes(got)).equals(body), 'the same process serves again');
    await expectS3Error(client.send(new GetObjectCommand({ Bucket: 'photos', Key: 'refused' })), 'NoSuchKey', 404);
  });

  test('DeleteObject_lets_the_collector_remove_the_blob_from_the_backend', async () => {
    await client.send(new PutObjectCommand({ Bucket: 'photos', Key: 'doomed', Body: randomBytesSeeded(4, 5000) }));
    const before = (await blobKeys()).length;
    await client.send(new DeleteObjectCommand({ Bucket: 'photos', Key: 'doomed' }));
    const end = Date.now() + 10_000;
    while ((await blobKeys()).length >= before) {
      assert.ok(Date.now() < end, 'the blob was not collected from the backend');
      await sleep(100);
    }
  });
});
