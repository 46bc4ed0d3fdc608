/**
 * The fuzz campaign's smoke run (`npm run fuzz -- --smoke`, issue: hardening):
 * a short, seeded run of mutated signed requests and raw malformed HTTP
 * against a real Coffer. It must end with no 5xx (but 501), no error response
 * without its error document, no hang, no crash and bounded memory. The long
 * runs (≥ 10⁶ requests) are recorded in bench/RESULTS.md, not run here.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';

/** dist/test/integration → dist/fuzz/run.js */
const FUZZ = fileURLToPath(new URL('../../fuzz/run.js', import.meta.url));

describe('npm run fuzz -- --smoke', () => {
  const dir = mkdtempSync(join(tmpdir(), 'coffer-fuzz-smoke-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('mutated_and_malformed_requests_get_no_5xx_no_bare_errors_no_hang_no_crash', { timeout: 180_000 }, async () => {
    const out = join(dir, 'fuzz.json');
    const proc = spawn(process.execPath, [FUZZ, '--smoke', '--seed', '20261202', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    proc.stdout.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const code = await new Promise<number | null>((resolve) => proc.once('exit', resolve));
    assert.equal(code, 0, output);
    const summary = JSON.parse(readFileSync(out, 'utf8')) as { requests: number; answered: number; fiveXx: number; errorBodies: number; hangs: number; crashes: number; statusClasses: Record<string, number> };
    // Not vacuous: the run sent requests, most were answered, and some of them were refused.
    assert.ok(summary.requests >= 300, `sent ${summary.requests} requests`);
    assert.ok(summary.answered >= summary.requests * 0.9, `answered ${summary.answered} of ${summary.requests}`);
    assert.ok((summary.statusClasses['4xx'] ?? 0) > 0 && (summary.statusClasses['2xx'] ?? 0) > 0, JSON.stringify(summary.statusClasses));
    assert.deepEqual([summary.fiveXx, summary.errorBodies, summary.hangs, summary.crashes], [0, 0, 0, 0]);
  });
});
