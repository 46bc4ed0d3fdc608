/**
 * The kill -9 fault campaign's smoke run (`npm run faults -- --cycles 3`,
 * issue: hardening): concurrent puts, multipart uploads, copies and deletes in
 * every encryption mode, the whole server killed with SIGKILL mid-load,
 * restarted, and every key checked against what was acknowledged. The long
 * run (≥ 100 cycles) is recorded in bench/RESULTS.md, not run here.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';

/** dist/test/integration → dist/fuzz/faults.js */
const FAULTS = fileURLToPath(new URL('../../fuzz/faults.js', import.meta.url));

describe('npm run faults -- --cycles 3', () => {
  const dir = mkdtempSync(join(tmpdir(), 'coffer-faults-smoke-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('acknowledged_writes_survive_kill_9_and_cut_ones_leave_old_or_new', { timeout: 180_000 }, async () => {
    const out = join(dir, 'faults.json');
    const proc = spawn(process.execPath, [FAULTS, '--cycles', '3', '--seed', '20261202', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    proc.stdout.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const code = await new Promise<number | null>((resolve) => proc.once('exit', resolve));
    assert.equal(code, 0, output);
    const summary = JSON.parse(readFileSync(out, 'utf8')) as { acknowledgedWrites: number; keysChecked: number; violations: number };
    // Not vacuous: writes were acknowledged before the kills, and every key was checked each cycle.
    assert.ok(summary.acknowledgedWrites >= 10, `acknowledged ${summary.acknowledgedWrites}`);
    assert.ok(summary.keysChecked >= 3 * 40, `checked ${summary.keysChecked}`);
    assert.equal(summary.violations, 0);
  });
});
