/**
 * Readiness vs liveness: `/_coffer/health/ready` answers 503 while the blob
 * backend (or the metadata store) cannot be reached and 200 again once it is
 * back, without a restart; `/_coffer/health` (liveness) stays 200 meanwhile,
 * since restarting the process would not bring the backend back.
 */
import assert from 'node:assert/strict';
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, test } from 'node:test';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { startServer, type TestServer } from '../helpers/server.js';
import { TcpSwitch } from '../helpers/tcp-switch.js';

async function ready(server: TestServer): Promise<{ status: number; body: { status: string; checks?: Record<string, string> } }> {
  const res = await fetch(`${server.url}/_coffer/health/ready`);
  return { status: res.status, body: (await res.json()) as { status: string; checks?: Record<string, string> } };
}

async function live(server: TestServer): Promise<number> {
  return (await fetch(`${server.url}/_coffer/health`)).status;
}

describe('readiness', () => {
  const cleanup: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  test('ready_is_503_while_the_local_blob_store_is_missing_and_liveness_stays_200', async () => {
    const server = await startServer();
    cleanup.push(() => server.destroy());
    assert.deepEqual(await ready(server), { status: 200, body: { status: 'ready', checks: { metadata: 'ok', blobs: 'ok' } } });
    // The blob directory vanishes (a volume not mounted, a bad bind mount).
    renameSync(join(server.dataDir, 'blobs'), join(server.dataDir, 'blobs-away'));
    assert.deepEqual(await ready(server), { status: 503, body: { status: 'unavailable', checks: { metadata: 'ok', blobs: 'unavailable' } } });
    assert.equal(await live(server), 200);
    renameSync(join(server.dataDir, 'blobs-away'), join(server.dataDir, 'blobs'));
    assert.equal((await ready(server)).status, 200);
    // Logged once when it went away and once when it came back, not on every poll.
    await ready(server);
    for (let i = 0; i < 50 && !server.output().includes('readiness: reachable again'); i++) await sleep(20);
    assert.equal(server.output().split('\n').filter((l) => l.includes('readiness: unreachable')).length, 1);
    assert.equal(server.output().split('\n').filter((l) => l.includes('readiness: reachable again')).length, 1);
    const post = await fetch(`${server.url}/_coffer/health/ready`, { method: 'POST' });
    assert.equal(post.status, 405);
  });

  test('ready_is_503_while_a_remote_blob_backend_is_unreachable_and_200_once_it_is_back', async () => {
    const backend = await startServer();
    cleanup.push(() => backend.destroy());
    const bc = backend.client();
    await bc.send(new CreateBucketCommand({ Bucket: 'blobs' }));
    bc.destroy();
    const sw = new TcpSwitch(backend.port);
    await sw.on();
    cleanup.push(() => sw.off());
    const node = await startServer({
      args: ['--blob-url', 's3://blobs/node', '--blob-endpoint', sw.url],
      env: { COFFER_BLOB_ACCESS_KEY_ID: backend.accessKeyId, COFFER_BLOB_SECRET_ACCESS_KEY: backend.secretAccessKey },
    });
    cleanup.push(() => node.destroy());
    assert.equal((await ready(node)).status, 200);
    await sw.off();
    const down = await ready(node);
    assert.equal(down.status, 503);
    assert.equal(down.body.checks?.blobs, 'unavailable');
    assert.equal(await live(node), 200);
    await sw.on();
    assert.equal((await ready(node)).status, 200);
  });
});
