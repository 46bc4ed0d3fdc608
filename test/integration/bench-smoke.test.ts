/**
 * The benchmark's smoke run (issue 7: "CI still runs only a short smoke of the
 * benchmark"): `npm run bench -- --smoke` starts the sinks and a real Coffer,
 * runs every workload once, tiny, and must finish cleanly, with every GET it
 * sampled verified byte for byte. The figures themselves are not asserted: a
 * smoke run on a shared CI machine measures nothing worth a threshold.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { startCoffer, startSink } from '../../bench/lib/servers.js';
import { findPostgres } from '../helpers/postgres.js';

/** dist/test/integration → dist/bench/run.js */
const BENCH = fileURLToPath(new URL('../../bench/run.js', import.meta.url));

/** The rows of the report's figure tables: workload, target, then the rest of the cells by header. */
function figureRows(report: string): Array<Record<string, string>> {
  const rows: Array<Record<string, string>> = [];
  let header: string[] | undefined;
  for (const line of report.split('\n')) {
    if (!line.startsWith('|')) {
      header = undefined;
      continue;
    }
    const cells = line.slice(1, -1).split('|').map((c) => c.trim());
    if (header === undefined) {
      header = cells;
      continue;
    }
    if (cells.every((c) => /^-+$/.test(c)) || header[0] !== 'workload' || header[1] !== 'target') continue;
    rows.push(Object.fromEntries(header.map((h, i) => [h, cells[i] ?? ''])));
  }
  return rows;
}

/** Runs the benchmark; resolves with its exit status and everything it printed. */
async function runBench(args: string[]): Promise<{ code: number | null; output: string }> {
  const proc = spawn(process.execPath, [BENCH, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((resolve) => proc.once('exit', resolve));
  return { code, output };
}

/**
 * A plain store: keeps what is PUT and returns it, answers every request (no
 * authentication) and ignores every encryption header — what a filesystem fake does.
 */
async function plainStore(): Promise<{ url: string; server: Server }> {
  const objects = new Map<string, Buffer>();
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const isObject = path.split('/').filter(Boolean).length > 1;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'PUT') {
        if (isObject) objects.set(path, Buffer.concat(chunks));
        res.writeHead(200, { etag: '"0"', 'content-length': 0 }).end();
      } else if ((req.method === 'GET' || req.method === 'HEAD') && objects.has(path)) {
        const body = objects.get(path)!;
        res.writeHead(200, { 'content-length': body.length });
        res.end(req.method === 'GET' ? body : undefined);
      } else if (req.method === 'DELETE') {
        objects.delete(path);
        res.writeHead(204).end();
      } else {
        res.writeHead(404, { 'content-length': 0 }).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** The rows of the report's "Coffer / peer" table. */
function peerRows(report: string): Array<Record<string, string>> {
  const section = report.slice(report.indexOf('## Coffer / peer'));
  const lines = section.split('\n').filter((l) => l.startsWith('|'));
  const header = lines[0]!.slice(1, -1).split('|').map((c) => c.trim());
  return lines.slice(2).map((l) => Object.fromEntries(l.slice(1, -1).split('|').map((c, i) => [header[i]!, c.trim()])));
}

describe('npm run bench -- --smoke', () => {
  const dir = mkdtempSync(join(tmpdir(), 'coffer-bench-smoke-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('every_workload_runs_against_the_sinks_and_each_encryption_mode_and_GETs_verify', { timeout: 180_000 }, async () => {
    const out = join(dir, 'smoke.md');
    const proc = spawn(process.execPath, [BENCH, '--smoke', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    proc.stdout.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const code = await new Promise<number | null>((resolve) => proc.once('exit', resolve));
    assert.equal(code, 0, output);

    const rows = figureRows(readFileSync(out, 'utf8'));
    const row = (workload: RegExp, target: string) => {
      const found = rows.find((r) => workload.test(r.workload!) && r.target === target);
      assert.ok(found, `no row for ${workload} / ${target}:\n${output}`);
      return found;
    };
    for (const size of ['4 KiB', '1 MiB']) {
      for (const target of ['sink', 'sink+crypto', 'SSE-S3', 'SSE-KMS', 'SSE-KMS+BK', 'SSE-C']) {
        for (const op of ['PUT', 'GET']) assert.ok(Number(row(new RegExp(`^${op} ${size}$`), target)['ops/s']) > 0);
      }
      assert.ok(Number(row(new RegExp(`^PUT ${size}$`), 'sink+disk')['ops/s']) > 0);
      // Coffer's GETs were compared byte for byte with what was PUT; a mismatch fails the run.
      for (const target of ['SSE-S3', 'SSE-KMS', 'SSE-KMS+BK', 'SSE-C']) assert.ok(Number(row(new RegExp(`^GET ${size}$`), target).verified) > 0);
    }
    // SSE-KMS without bucket keys calls the KMS once per object; with bucket keys, not per object.
    assert.equal(row(/^GET 4 KiB$/, 'SSE-KMS')['KMS calls/op'], '1.00');
    assert.equal(row(/^GET 4 KiB$/, 'SSE-KMS+BK')['KMS calls/op'], '0');
    for (const workload of [/^Range GET 4 KiB/, /^HEAD /, /^ListObjectsV2 /, /^Multipart /]) assert.ok(Number(row(workload, 'SSE-S3')['ops/s']) > 0);
    assert.ok(rows.some((r) => /--workers 2/.test(r.workload!)), 'the scaling workloads ran');
    // The memory target was sampled while the concurrent uploads ran (shared pages counted once).
    const memory = readFileSync(out, 'utf8').split('\n').find((l) => l.startsWith('| Peak RSS'));
    assert.match(memory ?? '', /\| [1-9]\d* MB resident, all server processes together/, memory);
    // Issue 18's targets are judged from the same run, each from its own workload.
    const issue18 = readFileSync(out, 'utf8').split('## Targets of issue #18')[1]?.split('\n## ')[0] ?? '';
    assert.match(issue18, /\| ListObjectsV2 of 1000 keys ≤ 5 ms of server CPU per page \(\S+ keys\) \| \d+\.\d\d ms per page; p50 [\d.]+ ms \| (yes|\*\*no\*\*) \|/, issue18);
    assert.match(issue18, /\| PUT 4 KiB with `--workers \d+` ≥ 1\.6× `--workers 1` \| \d+\.\d\d× \| (yes|\*\*no\*\*) \|/, issue18);
    assert.match(issue18, /\| PUT 1 MiB SSE-S3 ≥ 85% of sink\+disk \| \d+% of sink\+disk \| (yes|\*\*no\*\*) \|/, issue18);
  });

  test('a_peer_server_is_probed_mode_by_mode_measured_interleaved_with_Coffer_and_compared', { timeout: 180_000 }, async () => {
    // The peer: a second Coffer with credentials of its own (the bench's Coffer has others).
    const peer = await startCoffer({ accessKeyId: 'PEERSMOKEKEY00000001', secretAccessKey: 'peer-smoke-secret-0123456789', region: 'us-east-1' });
    try {
      const out = join(dir, 'peer.md');
      const { code, output } = await runBench([
        '--smoke',
        '--only',
        '^(PUT|GET) 4 KiB$|^HEAD',
        '--peer-endpoint',
        peer.url.href,
        '--peer-access-key',
        'PEERSMOKEKEY00000001',
        '--peer-secret-key',
        'peer-smoke-secret-0123456789',
        '--peer-name',
        'coffer-peer',
        '--peer-pid',
        String(peer.probe.pid),
        '--out',
        out,
      ]);
      assert.equal(code, 0, output);
      const report = readFileSync(out, 'utf8');

      // Interleaved: each peer mode right after the Coffer mode it is compared with.
      const order = [...output.matchAll(/^  PUT 4 KiB +(.+?) +\d+ ops\/s/gm)].map((m) => m[1]);
      assert.deepEqual(order, ['sink', 'sink+crypto', 'sink+disk', 'SSE-S3', 'peer SSE-S3', 'SSE-KMS', 'peer SSE-KMS', 'SSE-KMS+BK', 'SSE-C', 'peer SSE-C'], output);

      // The peer's own rows: measured, its GETs verified byte for byte, its CPU read from /proc (--peer-pid).
      const rows = figureRows(report);
      for (const target of ['peer SSE-S3', 'peer SSE-KMS', 'peer SSE-C']) {
        const get = rows.find((r) => r.workload === 'GET 4 KiB' && r.target === target);
        assert.ok(get && Number(get['ops/s']) > 0 && Number(get.verified) > 0, `${target}: ${JSON.stringify(get)}`);
        assert.match(get['server CPU']!, /^\d+%$/);
      }
      // Coffer always encrypts, so it has no unencrypted mode: the probe says so and nothing is measured as one.
      assert.match(report, /peer none: \*\*not supported by the peer\*\*, not measured — the peer encrypts without being asked/);
      assert.ok(!rows.some((r) => r.target === 'peer none'), 'peer none was not measured');
      assert.match(report, /peer SSE-C: honoured — .*GET without the key HTTP 400/);
      assert.match(report, /peer SSE-KMS: honoured — .*a PUT under a KMS key that does not exist is refused/);

      // The ratio table: every workload and mode both measured, ratio = Coffer's median / the peer's.
      const table = peerRows(report);
      for (const workload of ['PUT 4 KiB', 'GET 4 KiB']) {
        assert.deepEqual(table.filter((r) => r.workload === workload).map((r) => r.mode), ['SSE-S3', 'SSE-KMS', 'SSE-C']);
      }
      assert.ok(table.some((r) => r.workload.startsWith('HEAD') && r.mode === 'SSE-S3'), 'HEAD compared');
      for (const r of table) {
        const coffer = Number(r['Coffer ops/s']);
        const other = Number(r['coffer-peer ops/s']);
        assert.ok(coffer > 0 && other > 0, JSON.stringify(r));
        const ratio = Number(r['Coffer / peer ops/s']!.replace('×', ''));
        // Both figures are rounded in the table; the ratio is computed from the unrounded medians.
        assert.ok(Math.abs(ratio - coffer / other) <= 0.02 * ratio + 0.01, `${ratio} vs ${coffer}/${other}`);
      }
      assert.match(output, /Coffer \/ coffer-peer: ratio of medians/);
    } finally {
      await peer.stop();
    }
  });

  test('a_peer_that_answers_anything_is_measured_in_no_mode', { timeout: 120_000 }, async () => {
    // The sink accepts every PUT and answers every GET with bytes of its own: no mode is honoured.
    const sink = await startSink('plain', { workers: 1 });
    try {
      const out = join(dir, 'fake-peer.md');
      const { code, output } = await runBench(['--smoke', '--only', '^PUT 4 KiB$', '--peer-endpoint', sink.url.href, '--peer-access-key', 'X', '--peer-secret-key', 'Y', '--peer-kms-key-id', 'k', '--out', out]);
      assert.equal(code, 0, output);
      const report = readFileSync(out, 'utf8');
      for (const mode of ['SSE-S3', 'SSE-KMS', 'SSE-C', 'none']) assert.match(report, new RegExp(`peer ${mode}: \\*\\*not supported by the peer\\*\\*`), report);
      assert.ok(!figureRows(report).some((r) => r.target!.startsWith('peer ')), 'nothing measured on the peer');
    } finally {
      await sink.stop();
    }
  });

  test('a_peer_that_stores_bytes_but_ignores_encryption_headers_is_measured_unencrypted_only', { timeout: 120_000 }, async () => {
    const store = await plainStore();
    try {
      const out = join(dir, 'plain-peer.md');
      const { code, output } = await runBench(['--smoke', '--only', '^(PUT|GET) 4 KiB$', '--peer-endpoint', store.url, '--peer-access-key', 'X', '--peer-secret-key', 'Y', '--peer-kms-key-id', 'k', '--peer-name', 'plain', '--out', out]);
      assert.equal(code, 0, output);
      const report = readFileSync(out, 'utf8');
      assert.match(report, /peer SSE-S3: \*\*not supported by the peer\*\*, not measured — PUT with x-amz-server-side-encryption: AES256 succeeded, but HEAD answers without/);
      assert.match(report, /peer SSE-KMS: \*\*not supported by the peer\*\*, not measured — HEAD answers without x-amz-server-side-encryption, not aws:kms/);
      assert.match(report, /peer SSE-C: \*\*not supported by the peer\*\*, not measured — HEAD answers customer-algorithm \(none\)/);
      assert.match(report, /peer none: honoured/);
      const measured = new Set(figureRows(report).map((r) => r.target).filter((t) => t!.startsWith('peer ')));
      assert.deepEqual([...measured], ['peer none']);
      const table = peerRows(report);
      assert.deepEqual(table.map((r) => `${r.workload} / ${r.mode}`), ['PUT 4 KiB / SSE-S3 vs peer unencrypted', 'GET 4 KiB / SSE-S3 vs peer unencrypted']);
    } finally {
      store.server.close();
    }
  });

  test('the_cluster_mode_runs_embedded_one_node_and_two_nodes_on_PostgreSQL_and_an_S3_backend', { timeout: 180_000, skip: findPostgres() ? false : 'no PostgreSQL on this machine' }, async () => {
    const out = join(dir, 'cluster.md');
    writeFileSync(out, '# a report\n');
    const proc = spawn(process.execPath, [BENCH, '--cluster', '--smoke', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    proc.stdout.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const code = await new Promise<number | null>((resolve) => proc.once('exit', resolve));
    assert.equal(code, 0, output);
    const report = readFileSync(out, 'utf8');
    assert.ok(report.startsWith('# a report'), 'the rest of the report is kept');
    const rows = report.split('\n').filter((l) => /^\| (PUT|GET) /.test(l));
    assert.deepEqual(rows.map((l) => l.split('|')[1]!.trim()), ['PUT 4 KiB', 'GET 4 KiB', 'PUT 1 MiB', 'GET 1 MiB']);
    for (const row of rows) assert.equal(row.match(/\d+(\.\d+)? (req|MiB)\/s/g)?.length, 3, `three topologies measured: ${row}`);
  });
});
