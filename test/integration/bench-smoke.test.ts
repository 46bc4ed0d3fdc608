/**
 * The benchmark's smoke run (issue 7: "CI still runs only a short smoke of the
 * benchmark"): `npm run bench -- --smoke` starts the sinks and a real Coffer,
 * runs every workload once, tiny, and must finish cleanly, with every GET it
 * sampled verified byte for byte. The figures themselves are not asserted: a
 * smoke run on a shared CI machine measures nothing worth a threshold.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
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
    if (cells.every((c) => /^-+$/.test(c)) || header[0] !== 'workload') continue;
    rows.push(Object.fromEntries(header.map((h, i) => [h, cells[i] ?? ''])));
  }
  return rows;
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
