/** Where the root key comes from (root-key.ts): order of sources, file formats, generation, the pending rotation key. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { loadRootKeys, parseRootKeyFile, rootKeyId } from '../../src/kms/root-key.js';

describe('root key', () => {
  const dirs: string[] = [];
  const dir = () => {
    const d = mkdtempSync(join(tmpdir(), 'coffer-rootkey-'));
    dirs.push(d);
    return d;
  };
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  test('generated_at_first_start_0600_then_reused', async () => {
    const d = dir();
    const first = await loadRootKeys({ dataDir: d });
    assert.deepEqual(first.source, { kind: 'file', path: join(d, 'root.key'), generated: true });
    assert.equal(statSync(join(d, 'root.key')).mode & 0o777, 0o600);
    const second = await loadRootKeys({ dataDir: d });
    assert.equal(second.source.kind === 'file' && second.source.generated, false);
    assert.deepEqual(second.primary.key, first.primary.key);
    assert.equal(second.primary.id, rootKeyId(first.primary.key));
  });

  test('environment_wins_over_file_and_nothing_is_generated', async () => {
    const d = dir();
    const key = randomBytes(32);
    const file = join(d, 'other.key');
    writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600 });
    const loaded = await loadRootKeys({ dataDir: d, rootKey: key.toString('base64'), rootKeyFile: file });
    assert.deepEqual(loaded.primary.key, key);
    assert.deepEqual(loaded.source, { kind: 'env' });
    assert.throws(() => statSync(join(d, 'root.key')));
  });

  test('key_file_base64_or_raw_and_a_missing_given_file_is_an_error', async () => {
    const d = dir();
    const key = randomBytes(32);
    const raw = join(d, 'raw.key');
    writeFileSync(raw, key, { mode: 0o600 });
    assert.deepEqual((await loadRootKeys({ dataDir: d, rootKeyFile: raw })).primary.key, key);
    assert.deepEqual(parseRootKeyFile(Buffer.from(`  ${key.toString('base64')}\n`), 'x'), key);
    assert.throws(() => parseRootKeyFile(Buffer.from('c2hvcnQ='), 'x'), /does not hold a root key/);
    await assert.rejects(loadRootKeys({ dataDir: d, rootKeyFile: join(d, 'missing.key') }), /ENOENT/);
  });

  test('loose_permissions_are_warned_about', async () => {
    const d = dir();
    const file = join(d, 'loose.key');
    writeFileSync(file, randomBytes(32).toString('base64'));
    chmodSync(file, 0o644);
    const loaded = await loadRootKeys({ dataDir: d, rootKeyFile: file });
    assert.equal(loaded.warnings.length, 1);
    assert.match(loaded.warnings[0]!, /chmod 600/);
    assert.ok(!loaded.warnings[0]!.includes(readFileSync(file, 'utf8').trim()));
  });

  test('a_pending_rotation_key_is_loaded_too', async () => {
    const d = dir();
    const current = await loadRootKeys({ dataDir: d });
    const pending = randomBytes(32);
    writeFileSync(join(d, 'root.key.pending'), pending.toString('base64'), { mode: 0o600 });
    const loaded = await loadRootKeys({ dataDir: d });
    assert.deepEqual(loaded.primary.key, current.primary.key);
    assert.deepEqual(loaded.pending?.key, pending);
  });
});
