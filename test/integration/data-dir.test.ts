/**
 * The data directory's permissions (issue #22, item 7): it holds the root key,
 * the root credentials and all ciphertext, so a directory that existed before
 * first start with group or other access (`mkdir data` leaves 0755) is
 * tightened to 0700, and the log says so.
 */
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { startServer } from '../helpers/server.js';

describe('data directory', () => {
  const parent = mkdtempSync(join(tmpdir(), 'coffer-datadir-'));
  after(() => rmSync(parent, { recursive: true, force: true }));

  test('Serve_on_a_precreated_0755_data_dir_tightens_it_to_0700_and_logs_it', async () => {
    const dataDir = join(parent, 'precreated');
    mkdirSync(dataDir);
    chmodSync(dataDir, 0o755);
    const server = await startServer({ dataDir });
    try {
      assert.equal(statSync(dataDir).mode & 0o777, 0o700);
      const line = server.output().split('\n').find((l) => l.includes('tightened it to mode 0700'));
      assert.ok(line, `the tightening is logged:\n${server.output()}`);
      const logged = JSON.parse(line) as { was: string; now: string; dataDir: string };
      assert.equal(logged.was, '0755');
      assert.equal(logged.now, '0700');
    } finally {
      await server.stop();
    }
    // A second start finds it private and says nothing more.
    const again = await startServer({ dataDir });
    try {
      assert.equal(statSync(dataDir).mode & 0o777, 0o700);
      assert.ok(!again.output().includes('tightened it to mode 0700'), 'nothing to tighten the second time');
    } finally {
      await again.stop();
    }
  });

  // Another user's directory is theirs to change: warn, never chmod it (only root can make one here).
  test('Serve_on_a_0755_data_dir_owned_by_another_user_leaves_it_and_warns', { skip: process.getuid?.() !== 0 ? 'needs root to give the directory to another user' : false }, async () => {
    const dataDir = join(parent, 'not-ours');
    mkdirSync(dataDir);
    chmodSync(dataDir, 0o755);
    chownSync(dataDir, 65534, 65534);
    const server = await startServer({ dataDir });
    try {
      assert.equal(statSync(dataDir).mode & 0o777, 0o755, 'left as it is');
      const line = server.output().split('\n').find((l) => l.includes('owned by another user'));
      assert.ok(line, `the warning is logged:\n${server.output()}`);
      assert.equal((JSON.parse(line) as { mode: string }).mode, '0755');
    } finally {
      await server.stop();
    }
  });

  test('Serve_creates_a_missing_data_dir_0700', async () => {
    const dataDir = join(parent, 'fresh', 'nested');
    const server = await startServer({ dataDir });
    try {
      assert.equal(statSync(dataDir).mode & 0o777, 0o700);
      assert.ok(!server.output().includes('tightened it to mode 0700'));
    } finally {
      await server.stop();
    }
  });
});
