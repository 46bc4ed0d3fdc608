/**
 * `coffer serve --workers N`: N processes share the port and the data dir,
 * every request sees the same data whichever worker serves it, and the
 * workers never outlive the primary (SIGTERM drains them; SIGKILL of the
 * primary makes them finish and exit). The data dir is prepared (credentials,
 * root key, migrations, staged-blob recovery) once per start, by a short-lived
 * process before any worker serves: the primary never loads the server itself.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, test } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { SERVING_V8_FLAGS } from '../../src/cli/v8-flags.js';
import { randomBytesSeeded } from '../helpers/data.js';
import { bodyBytes } from '../helpers/s3.js';
import { CLI, startServer, workerPids, type TestServer } from '../helpers/server.js';

async function gone(pids: number[]): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (pids.every((pid) => !existsSync(`/proc/${pid}`))) return true;
    await sleep(100);
  }
  return false;
}

/** Lines of the output that hold this log message. */
function logLines(output: string, msg: string): string[] {
  return output.split('\n').filter((line) => line.includes(`"msg":"${msg}"`));
}

function occurrences(text: string, what: string): number {
  return text.split(what).length - 1;
}

/** Whether the process has the SQLite driver (a native addon every serving process loads) mapped. */
function loadedSqlite(pid: number): boolean {
  return readFileSync(`/proc/${pid}/maps`, 'utf8').includes('better_sqlite3.node');
}

/** Runs `coffer serve` to its end (for starts that must fail). */
function serveUntilExit(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; output: string }> {
  const proc = spawn(process.execPath, [CLI, 'serve', '--port', '0', ...args], {
    env: { ...process.env, COFFER_ACCESS_KEY_ID: 'TESTKEYWORKERS', COFFER_SECRET_ACCESS_KEY: 'test-secret-key-0123456789abcdef', COFFER_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  proc.stdout.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
  return new Promise((resolve) =>
    proc.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    }),
  );
}

describe('workers', () => {
  const servers: TestServer[] = [];
  const dirs: string[] = [];
  after(async () => {
    for (const s of servers) await s.destroy();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const tempDir = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'coffer-test-'));
    dirs.push(dir);
    return dir;
  };

  test('two_workers_share_port_and_data_and_drain_on_SIGTERM', async () => {
    const server = await startServer({ args: ['--workers', '2'] });
    servers.push(server);
    const pids = await workerPids(server, 2);
    assert.equal(pids.length, 2);
    assert.ok(!pids.includes(server.proc.pid!), 'the primary does not serve');
    // Every worker runs with the serving heap settings (v8-flags.ts); the primary does not need them.
    for (const pid of pids) {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      for (const flag of SERVING_V8_FLAGS) assert.ok(argv.includes(flag), `worker ${pid} lacks ${flag}: ${argv.join(' ')}`);
    }
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
    // The SSE-S3 bucket key of this period is made once for both workers (24 concurrent PUTs
    // land on both): one GenerateDataKey, and at most one Decrypt by the other worker to load it.
    const audit = readFileSync(join(server.dataDir, 'kms-audit.log'), 'utf8').split('\n').filter((l) => l.includes('"shared"') || l.includes(':::shared'));
    const count = (op: string) => audit.filter((l) => l.includes(`"operation":"${op}"`)).length;
    assert.equal(count('GenerateDataKey'), 1, audit.join('\n'));
    assert.ok(count('Decrypt') <= 1, audit.join('\n'));
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

  test('the_data_dir_is_prepared_once_before_the_workers_and_never_by_them_or_the_primary', async () => {
    const dataDir = tempDir();
    // A blob staged by an upload that a crash interrupted: nothing references it, recovery removes it.
    mkdirSync(join(dataDir, 'tmp'), { recursive: true, mode: 0o700 });
    const leftover = join(dataDir, 'tmp', 'ab'.repeat(16));
    writeFileSync(leftover, 'interrupted upload');
    // No root credentials given: the first start generates them (and the root key) and prints them once.
    const server = await startServer({ dataDir, args: ['--workers', '2'], env: { COFFER_ACCESS_KEY_ID: '', COFFER_SECRET_ACCESS_KEY: '' } });
    servers.push(server);
    const pids = await workerPids(server, 2);
    const primary = server.proc.pid!;
    let out = server.output();
    const recovered = logLines(out, 'recovered staged blobs after an unclean stop');
    assert.equal(recovered.length, 1, out);
    assert.equal((JSON.parse(recovered[0]!) as { removed: number }).removed, 1);
    assert.ok(out.indexOf(recovered[0]!) < out.indexOf('"listening"'), 'recovered before any worker serves');
    assert.ok(!existsSync(leftover));
    assert.equal(occurrences(out, 'Generated root credentials'), 1, out);
    assert.equal(occurrences(out, 'AWS_SECRET_ACCESS_KEY='), 1, out);
    assert.equal(occurrences(out, 'Generated a root key in'), 1, out);
    // The workers serve from SQLite; the primary only forks and watches them.
    for (const pid of pids) assert.ok(loadedSqlite(pid), `worker ${pid} has the SQLite driver loaded`);
    assert.ok(!loadedSqlite(primary), 'the primary does not load the server');

    // A blob a worker is staging right now: a worker started later must not "recover" it.
    const inFlight = join(dataDir, 'tmp', 'cd'.repeat(16));
    writeFileSync(inFlight, 'upload in flight');
    // Workers dying in the first 5 s count as failing at start (the primary gives up); later ones are replaced.
    await sleep(5500);
    process.kill(pids[0]!, 'SIGKILL');
    const replaced = await workerPids(server, 3);
    out = server.output();
    assert.equal(logLines(out, 'a worker died; starting another').length, 1, out);
    assert.ok(replaced.some((pid) => !pids.includes(pid)), 'a replacement worker serves');
    assert.ok(existsSync(inFlight), 'the replacement worker did not run recovery');
    assert.equal(logLines(out, 'recovered staged blobs after an unclean stop').length, 1, out);
    assert.equal(occurrences(out, 'Generated root credentials'), 1, out);
    assert.ok(!loadedSqlite(primary), 'the primary does not load the server');
    assert.equal(await server.stop('SIGTERM'), 0);
    assert.ok(await gone(replaced), 'workers exited with the primary');
  });

  test('a_failing_preparation_stops_serve_before_any_worker_starts', async () => {
    const dataDir = tempDir();
    writeFileSync(join(dataDir, 'root.key'), 'not a root key\n', { mode: 0o600 });
    const broken = await serveUntilExit(['--data', dataDir, '--workers', '2']);
    assert.equal(broken.code, 1, broken.output);
    assert.equal(occurrences(broken.output, `coffer: ${join(dataDir, 'root.key')} does not hold a root key`), 1, broken.output);
    assert.doesNotMatch(broken.output, /"listening"|a worker died|workers are failing/);

    // The configuration is checked before anything is prepared, with the same message as a single process's.
    const fresh = tempDir();
    const invalid = await serveUntilExit(['--data', fresh, '--workers', '2', '--region', 'Not_A_Region']);
    assert.equal(invalid.code, 1, invalid.output);
    assert.equal(occurrences(invalid.output, 'coffer: invalid configuration: region:'), 1, invalid.output);
    assert.doesNotMatch(invalid.output, /"listening"/);
    assert.ok(!existsSync(join(fresh, 'coffer.db')), 'nothing was prepared');
  });
});
