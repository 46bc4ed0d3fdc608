/**
 * `coffer serve --workers N`: N processes share the port and the data dir,
 * every request sees the same data whichever worker serves it, and the
 * workers never outlive the primary (SIGTERM drains them; SIGKILL of the
 * primary makes them finish and exit).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, test } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { randomBytesSeeded } from '../helpers/data.js';
import { bodyBytes } from '../helpers/s3.js';
import { startServer, type TestServer } from '../helpers/server.js';

/** pids of the workers that logged "listening". */
async function workerPids(server: TestServer, n: number): Promise<number[]> {
  for (let i = 0; i < 100; i++) {
    const pids = new Set<number>();
    for (const line of server.output().split('\n')) {
      if (!line.includes('"listening"')) continue;
      try {
        pids.add((JSON.parse(line) as { pid: number }).pid);
      } catch {
        /* partial line */
      }
    }
    if (pids.size >= n) return [...pids];
    await sleep(100);
  }
  assert.fail(`fewer than ${n} workers started:\n${server.output()}`);
}

async function gone(pids: number[]): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (pids.every((pid) => !existsSync(`/proc/${pid}`))) return true;
    await sleep(100);
  }
  return false;
}

describe('workers', () => {
  const servers: TestServer[] = [];
  after(async () => {
    for (const s of servers) await s.destroy();
  });

  test('two_workers_share_port_and_data_and_drain_on_SIGTERM', async () => {
    const server = await startServer({ args: ['--workers', '2'] });
    servers.push(server);
    const pids = await workerPids(server, 2);
    assert.equal(pids.length, 2);
    assert.ok(!pids.includes(server.proc.pid!), 'the primary does not serve');
    const s3 = server.client();
    await s3.send(new CreateBucketCommand({ Bucket: 'shared' }));
    const bodies = Array.from({ length: 24 }, (_, i) => randomBytesSeeded(i + 1, 70_000 + i));
    await Promise.all(bodies.map((Body, i) => s3.send(new PutObjectCommand({ Bucket: 'shared', Key: `k${i}`, Body }))));
    // Fresh connections land on either worker: each must see every object.
    for (let round = 0; round < 3; round++) {
      const fresh = server.client();
      const listed = await fresh.send(new ListObjectsV2Command({ Bucket: 'shared' }));
      assert.equal(listed.KeyCount, 24);
      await Promise.all(bodies.map(async (b, i) => assert.deepEqual(await bodyBytes(await fresh.send(new GetObjectCommand({ Bucket: 'shared', Key: `k${i}` }))), b)));
      fresh.destroy();
    }
    assert.equal(await server.stop('SIGTERM'), 0);
    assert.ok(await gone(pids), 'workers exited with the primary');
  });

  test('workers_exit_when_the_primary_is_killed', async () => {
    const server = await startServer({ args: ['--workers', '2'] });
    servers.push(server);
    const pids = await workerPids(server, 2);
    await server.stop('SIGKILL');
    assert.ok(await gone(pids), 'no orphaned worker keeps the port or the data dir');
  });
});
