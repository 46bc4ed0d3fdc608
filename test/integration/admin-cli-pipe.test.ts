/**
 * `coffer admin kms audit | head` (issue: never silently ignore … and newcomer
 * fixes): when the reader closes the pipe early, the command ends quietly with
 * status 0 instead of dying on EPIPE with a stack trace.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CLI } from '../helpers/server.js';

describe('coffer admin kms audit into a pipe closed early', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'coffer-audit-pipe-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  test('admin_kms_audit_piped_into_head_ends_with_status_0_and_no_stack_trace', async () => {
    // Far more than a pipe buffer holds, so the writer meets the closed pipe.
    const record = (i: number) => JSON.stringify({ time: new Date(1_700_000_000_000 + i).toISOString(), requestId: `r${i}`, principal: 'arn:aws:iam::000000000000:root', operation: 'Encrypt', keyId: '00000000-0000-4000-8000-000000000000', outcome: 'success' });
    writeFileSync(join(dataDir, 'kms-audit.log'), `${Array.from({ length: 20_000 }, (_, i) => record(i)).join('\n')}\n`, { mode: 0o600 });
    const proc = spawn(process.execPath, [CLI, 'admin', 'kms', 'audit', '--data', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // Read one line, then close the pipe, as `head -1` does.
    const first = await new Promise<string>((resolve) => {
      let text = '';
      proc.stdout.on('data', (d: Buffer) => {
        text += d.toString();
        if (text.includes('\n')) {
          proc.stdout.destroy();
          resolve(text.split('\n')[0]!);
        }
      });
    });
    assert.equal((JSON.parse(first) as { requestId: string }).requestId, 'r0');
    const code = await new Promise<number | null>((resolve) => proc.once('exit', resolve));
    assert.equal(code, 0, stderr);
    assert.doesNotMatch(stderr, /EPIPE|at .*\(|Error/, stderr);
  });
});
