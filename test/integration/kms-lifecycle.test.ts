/**
 * The KMS over time, against real Coffer processes: automatic rotation on its
 * period and deletion at the end of its window (both by the background sweep,
 * with a KMS "day" shortened to one second), the root key's sources, root key
 * rotation with a crash injected half-way, and the audit log with
 * `coffer admin kms audit`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, test } from 'node:test';
import {
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EnableKeyRotationCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GetKeyRotationStatusCommand,
  KMSClient,
  ListKeyRotationsCommand,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import type { KmsAuditEvent } from '../../src/kms/kms-audit.js';
import { kmsClient, rejectsWithSdkError } from '../helpers/kms.js';
import { CLI, startServer, type StartOptions, type TestServer } from '../helpers/server.js';

interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function coffer(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    proc.once('error', reject);
    proc.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

async function auditEvents(dataDir: string, ...args: string[]): Promise<KmsAuditEvent[]> {
  const r = await coffer(['admin', 'kms', 'audit', '--data', dataDir, ...args]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as KmsAuditEvent);
}

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'coffer-kms-life-'));
  dirs.push(d);
  return d;
}

const text = (b: Uint8Array | undefined) => Buffer.from(b!).toString();

describe('kms lifecycle', () => {
  const servers: TestServer[] = [];
  const clients: KMSClient[] = [];
  const start = async (options: StartOptions = {}) => {
    const s = await startServer({ accessKeyId: 'LIFECYCLEKEY', ...options });
    servers.push(s);
    const c = kmsClient(s);
    clients.push(c);
    return { server: s, kms: c };
  };
  /** A KMS day of one second, rotation periods from one day, the sweep ten times a second. */
  const FAST_CLOCK = {
    COFFER_KMS_DAY_SECONDS: '1',
    COFFER_KMS_MIN_ROTATION_PERIOD_DAYS: '1',
    COFFER_KMS_MIN_PENDING_WINDOW_DAYS: '0',
    COFFER_KMS_SWEEP_INTERVAL_MS: '100',
  };
  after(async () => {
    for (const c of clients) c.destroy();
    for (const s of servers) await s.destroy();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('automatic_rotation_happens_on_its_period_and_old_ciphertexts_still_decrypt', async () => {
    const { server, kms } = await start({ env: FAST_CLOCK });
    const key = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    const old = await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('before rotation') }));
    await kms.send(new EnableKeyRotationCommand({ KeyId: key.KeyId, RotationPeriodInDays: 1 }));
    const status = await kms.send(new GetKeyRotationStatusCommand({ KeyId: key.KeyId }));
    assert.ok(status.NextRotationDate!.getTime() - Date.now() <= 1500);
    // Touch nothing: the background sweep must rotate the key by itself.
    let rotations: KmsAuditEvent[] = [];
    for (let i = 0; i < 50 && rotations.length === 0; i++) {
      await sleep(100);
      rotations = (await auditEvents(server.dataDir, '--key', key.KeyId!)).filter((e) => e.operation === 'RotateKey');
    }
    assert.ok(rotations.length >= 1, 'the sweep rotated the key');
    assert.equal(rotations[0]!.principal, 'coffer:kms');
    assert.equal(rotations[0]!.keyVersion, 2);
    const listed = await kms.send(new ListKeyRotationsCommand({ KeyId: key.KeyId }));
    assert.ok(listed.Rotations!.length >= 1);
    assert.ok(listed.Rotations!.every((r) => r.RotationType === 'AUTOMATIC'));
    const fresh = await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('after rotation') }));
    assert.ok(Buffer.from(fresh.CiphertextBlob!).readUInt32BE(17) >= 2, 'new ciphertexts use the new version');
    assert.equal(text((await kms.send(new DecryptCommand({ CiphertextBlob: old.CiphertextBlob }))).Plaintext), 'before rotation');
    assert.equal(text((await kms.send(new DecryptCommand({ CiphertextBlob: fresh.CiphertextBlob }))).Plaintext), 'after rotation');
    // Both kinds of rotation coexist.
    await kms.send(new RotateKeyOnDemandCommand({ KeyId: key.KeyId }));
    assert.equal(text((await kms.send(new DecryptCommand({ CiphertextBlob: old.CiphertextBlob }))).Plaintext), 'before rotation');
  });

  test('deletion_window_end_is_swept_and_ciphertexts_are_shredded', async () => {
    const { server, kms } = await start({ env: FAST_CLOCK });
    const key = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    const dk = await kms.send(new GenerateDataKeyCommand({ KeyId: key.KeyId, KeySpec: 'AES_256' }));
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId, PendingWindowInDays: 1 }));
    await rejectsWithSdkError(kms.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob })), 'KMSInvalidStateException');
    let deleted: KmsAuditEvent[] = [];
    for (let i = 0; i < 50 && deleted.length === 0; i++) {
      await sleep(100);
      deleted = (await auditEvents(server.dataDir, '--key', key.Arn!)).filter((e) => e.operation === 'DeleteKey');
    }
    assert.equal(deleted.length, 1, 'the sweep deleted the key when its window ended');
    await rejectsWithSdkError(kms.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob })), 'NotFoundException');
    await rejectsWithSdkError(kms.send(new DescribeKeyCommand({ KeyId: key.KeyId })), 'NotFoundException');
    // Restarting does not bring it back: the material is gone from the database, not hidden.
    await server.stop();
    const again = await start({ dataDir: server.dataDir, env: FAST_CLOCK });
    await rejectsWithSdkError(again.kms.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob })), 'NotFoundException');
  });

  test('root_key_generated_at_first_start_with_mode_0600_and_a_warning', async () => {
    const { server } = await start();
    const path = join(server.dataDir, 'root.key');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
    assert.equal(key.length, 32);
    assert.match(server.output(), /Back it up now, apart from the data/);
    assert.ok(!server.output().includes(key.toString('base64')), 'the key itself is never printed');
    assert.equal(statSync(join(server.dataDir, 'kms-audit.log')).mode & 0o777, 0o600);
  });

  test('root_key_from_environment_or_file_and_the_wrong_one_refuses_to_start', async () => {
    const dataDir = tempDir();
    const rootKey = randomBytes(32).toString('base64');
    const first = await start({ dataDir, env: { COFFER_ROOT_KEY: rootKey } });
    assert.equal(existsSync(join(dataDir, 'root.key')), false, 'no key file when COFFER_ROOT_KEY is set');
    const key = (await first.kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    const enc = await first.kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('env key') }));
    await first.server.stop();
    // The same key from a file works.
    const keyFile = join(tempDir(), 'root.key');
    writeFileSync(keyFile, `${rootKey}\n`, { mode: 0o600 });
    const second = await start({ dataDir, args: ['--root-key-file', keyFile] });
    assert.equal(text((await second.kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }))).Plaintext), 'env key');
    await second.server.stop();
    // Another root key cannot unwrap the key material: Coffer refuses to start rather than fail every decrypt.
    await assert.rejects(startServer({ dataDir, accessKeyId: 'LIFECYCLEKEY', env: { COFFER_ROOT_KEY: randomBytes(32).toString('base64') } }), /not loaded/);
    // A malformed key is refused without echoing it.
    const bad = 'c2hvcnQ=';
    await assert.rejects(startServer({ dataDir, accessKeyId: 'LIFECYCLEKEY', env: { COFFER_ROOT_KEY: bad } }), (err: Error) => {
      assert.match(err.message, /COFFER_ROOT_KEY must be 32 bytes/);
      assert.ok(!err.message.includes(bad));
      return true;
    });
  });

  test('switching_to_COFFER_ROOT_KEY_before_any_key_exists_just_works', async () => {
    const dataDir = tempDir();
    const first = await start({ dataDir });
    assert.ok(existsSync(join(dataDir, 'root.key')));
    await first.server.stop();
    const second = await start({ dataDir, env: { COFFER_ROOT_KEY: randomBytes(32).toString('base64') } });
    const key = (await second.kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    const enc = await second.kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('fresh') }));
    assert.equal(text((await second.kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }))).Plaintext), 'fresh');
  });

  test('rotate_root_key_survives_a_crash_half_way_and_completes_on_rerun', async () => {
    const dataDir = tempDir();
    const first = await start({ dataDir });
    const blobs: { blob: Uint8Array; plaintext: string }[] = [];
    for (let i = 0; i < 3; i++) {
      const key = (await first.kms.send(new CreateKeyCommand({ Description: `k${i}` }))).KeyMetadata!;
      blobs.push({ blob: (await first.kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from(`v1 of ${i}`) }))).CiphertextBlob!, plaintext: `v1 of ${i}` });
      await first.kms.send(new RotateKeyOnDemandCommand({ KeyId: key.KeyId }));
      blobs.push({ blob: (await first.kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from(`v2 of ${i}`) }))).CiphertextBlob!, plaintext: `v2 of ${i}` });
    }
    await first.server.stop();
    const oldKey = readFileSync(join(dataDir, 'root.key'), 'utf8');

    // Six key versions to re-wrap; die like a power cut after two.
    const crashed = await coffer(['admin', 'rotate-root-key', '--data', dataDir], { COFFER_TEST_CRASH_AFTER_REWRAPS: '2' });
    assert.equal(crashed.signal, 'SIGKILL', `${crashed.stdout}${crashed.stderr}`);
    assert.equal(readFileSync(join(dataDir, 'root.key'), 'utf8'), oldKey, 'the key file is untouched until every row is re-wrapped');
    assert.ok(existsSync(join(dataDir, 'root.key.pending')));
    assert.equal(statSync(join(dataDir, 'root.key.pending')).mode & 0o777, 0o600);

    // Interrupted: both keys work — every old ciphertext decrypts, and new keys can be made and used.
    const middle = await start({ dataDir });
    assert.match(middle.server.output(), /root key rotation was interrupted/);
    for (const b of blobs) assert.equal(text((await middle.kms.send(new DecryptCommand({ CiphertextBlob: b.blob }))).Plaintext), b.plaintext);
    const during = (await middle.kms.send(new CreateKeyCommand({ Description: 'made mid-rotation' }))).KeyMetadata!;
    blobs.push({ blob: (await middle.kms.send(new EncryptCommand({ KeyId: during.KeyId, Plaintext: Buffer.from('mid') }))).CiphertextBlob!, plaintext: 'mid' });
    await middle.server.stop();

    const finished = await coffer(['admin', 'rotate-root-key', '--data', dataDir]);
    assert.equal(finished.code, 0, finished.stderr);
    assert.match(finished.stdout, /Finished the interrupted rotation/);
    assert.equal(existsSync(join(dataDir, 'root.key.pending')), false);
    const newKey = readFileSync(join(dataDir, 'root.key'), 'utf8');
    assert.notEqual(newKey, oldKey);
    assert.equal(statSync(join(dataDir, 'root.key')).mode & 0o777, 0o600);
    assert.ok(!finished.stdout.includes(newKey.trim()) && !finished.stderr.includes(newKey.trim()), 'the new key is never printed');

    const last = await start({ dataDir });
    for (const b of blobs) assert.equal(text((await last.kms.send(new DecryptCommand({ CiphertextBlob: b.blob }))).Plaintext), b.plaintext);
    await last.server.stop();
    // The old root key no longer opens anything.
    await assert.rejects(startServer({ dataDir, accessKeyId: 'LIFECYCLEKEY', env: { COFFER_ROOT_KEY: oldKey.trim() } }), /not loaded/);
  });

  test('rotate_root_key_from_environment_writes_the_new_key_to_a_file', async () => {
    const dataDir = tempDir();
    const rootKey = randomBytes(32).toString('base64');
    const first = await start({ dataDir, env: { COFFER_ROOT_KEY: rootKey } });
    const key = (await first.kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    const enc = await first.kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('env rotated') }));
    await first.server.stop();
    const refused = await coffer(['admin', 'rotate-root-key', '--data', dataDir], { COFFER_ROOT_KEY: rootKey });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /--new-root-key-file/);
    const newFile = join(tempDir(), 'new-root.key');
    const done = await coffer(['admin', 'rotate-root-key', '--data', dataDir, '--new-root-key-file', newFile], { COFFER_ROOT_KEY: rootKey });
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stdout, /COFFER_ROOT_KEY still holds the old key/);
    const next = await start({ dataDir, env: { COFFER_ROOT_KEY: readFileSync(newFile, 'utf8').trim() } });
    assert.equal(text((await next.kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }))).Plaintext), 'env rotated');
  });

  test('audit_log_records_every_operation_without_secrets_and_admin_kms_audit_filters', async () => {
    const { server, kms } = await start();
    const a = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    const b = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    const dk = await kms.send(new GenerateDataKeyCommand({ KeyId: a.KeyId, KeySpec: 'AES_256', EncryptionContext: { 'aws:s3:arn': 'arn:aws:s3:::b/k' } }));
    await kms.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob, EncryptionContext: { 'aws:s3:arn': 'arn:aws:s3:::b/k' } }));
    await rejectsWithSdkError(kms.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob })), 'InvalidCiphertextException');
    await kms.send(new EncryptCommand({ KeyId: b.KeyId, Plaintext: Buffer.from('other key') }));

    const all = await auditEvents(server.dataDir);
    const forA = await auditEvents(server.dataDir, '--key', a.KeyId!);
    assert.deepEqual(
      forA.map((e) => [e.operation, e.outcome, e.errorType]),
      [
        ['CreateKey', 'success', undefined],
        ['GenerateDataKey', 'success', undefined],
        ['Decrypt', 'success', undefined],
        ['Decrypt', 'failure', 'InvalidCiphertextException'],
      ],
    );
    for (const e of forA) {
      assert.equal(e.principal, `arn:aws:iam::${a.AWSAccountId}:root`);
      assert.match(e.requestId, /^[0-9A-F]{16}$/);
      assert.equal(e.keyId, a.KeyId);
      assert.ok(!Number.isNaN(Date.parse(e.time)));
    }
    assert.equal(forA[1]!.keyVersion, 1);
    assert.deepEqual(forA[1]!.encryptionContext, { 'aws:s3:arn': 'arn:aws:s3:::b/k' });
    assert.ok(all.length > forA.length && all.some((e) => e.keyId === b.KeyId));
    assert.deepEqual(await auditEvents(server.dataDir, '--since', new Date(Date.now() + 60_000).toISOString()), []);
    assert.equal((await auditEvents(server.dataDir, '--since', '1h')).length, all.length);
    const raw = readFileSync(join(server.dataDir, 'kms-audit.log'));
    const plaintext = Buffer.from(dk.Plaintext!);
    assert.equal(raw.indexOf(plaintext.toString('base64')), -1);
    assert.equal(raw.indexOf(plaintext.toString('hex')), -1);
    assert.equal(raw.indexOf('other key'), -1, 'plaintexts are never audited');
  });
});
