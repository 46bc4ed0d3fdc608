/**
 * The AWS CLI v2 (Debian's package) against Coffer's KMS API on a fresh
 * install: `aws kms create-key`, `create-alias`, `encrypt`, `decrypt`,
 * `generate-data-key`, `list-keys`, `schedule-key-deletion`, as the README
 * shows them.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startServer, type TestServer } from '../helpers/server.js';
import { AWS_CLI, missingTool, run } from '../helpers/tools.js';

const skip = missingTool('aws');

describe('aws cli kms', { skip }, () => {
  let server: TestServer;
  let work: string;
  const aws = async (...args: string[]) => JSON.parse((await run(AWS_CLI, ['--endpoint-url', server.url, '--output', 'json', 'kms', ...args], server.env())).stdout || '{}') as Record<string, unknown>;
  /** Runs a command expected to fail; returns the CLI's error text. */
  const awsFails = async (...args: string[]): Promise<string> => {
    try {
      await run(AWS_CLI, ['--endpoint-url', server.url, 'kms', ...args], server.env());
    } catch (err) {
      return (err as Error).message;
    }
    assert.fail(`aws kms ${args.join(' ')} succeeded`);
  };

  before(async () => {
    server = await startServer();
    work = mkdtempSync(join(tmpdir(), 'coffer-awscli-kms-'));
  });
  after(async () => {
    await server?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  test('kms_create_key_create_alias_encrypt_decrypt', async () => {
    const created = (await aws('create-key', '--description', 'cli key')).KeyMetadata as Record<string, string>;
    assert.match(created.KeyId!, /^[0-9a-f-]{36}$/);
    assert.equal(created.Description, 'cli key');
    assert.equal(created.KeyState, 'Enabled');
    await aws('create-alias', '--alias-name', 'alias/cli-demo', '--target-key-id', created.KeyId!);
    const plainFile = join(work, 'secret.txt');
    writeFileSync(plainFile, 'hello from aws kms encrypt\n');
    const enc = await aws('encrypt', '--key-id', 'alias/cli-demo', '--plaintext', `fileb://${plainFile}`, '--encryption-context', 'purpose=cli');
    assert.equal(enc.KeyId, created.Arn);
    const blobFile = join(work, 'secret.enc');
    writeFileSync(blobFile, Buffer.from(enc.CiphertextBlob as string, 'base64'));
    const dec = await aws('decrypt', '--ciphertext-blob', `fileb://${blobFile}`, '--encryption-context', 'purpose=cli');
    assert.equal(Buffer.from(dec.Plaintext as string, 'base64').toString(), 'hello from aws kms encrypt\n');
    assert.equal(dec.KeyId, created.Arn);
    const wrong = await awsFails('decrypt', '--ciphertext-blob', `fileb://${blobFile}`, '--encryption-context', 'purpose=other');
    assert.match(wrong, /InvalidCiphertextException/);
  });

  test('kms_generate_data_key_and_list_keys', async () => {
    const created = (await aws('create-key')).KeyMetadata as Record<string, string>;
    const dk = await aws('generate-data-key', '--key-id', created.KeyId!, '--key-spec', 'AES_256');
    assert.equal(Buffer.from(dk.Plaintext as string, 'base64').length, 32);
    const blobFile = join(work, 'dk.enc');
    writeFileSync(blobFile, Buffer.from(dk.CiphertextBlob as string, 'base64'));
    const back = await aws('decrypt', '--ciphertext-blob', `fileb://${blobFile}`);
    assert.equal(back.Plaintext, dk.Plaintext);
    const listed = (await aws('list-keys')).Keys as { KeyId: string; KeyArn: string }[];
    assert.ok(listed.some((k) => k.KeyId === created.KeyId && k.KeyArn === created.Arn));
  });

  test('kms_schedule_key_deletion_then_use_fails', async () => {
    const created = (await aws('create-key')).KeyMetadata as Record<string, string>;
    const scheduled = await aws('schedule-key-deletion', '--key-id', created.KeyId!, '--pending-window-in-days', '7');
    assert.equal(scheduled.KeyState, 'PendingDeletion');
    assert.equal(scheduled.PendingWindowInDays, 7);
    assert.equal(scheduled.KeyId, created.Arn);
    const plainFile = join(work, 'p.txt');
    writeFileSync(plainFile, 'x');
    assert.match(await awsFails('encrypt', '--key-id', created.KeyId!, '--plaintext', `fileb://${plainFile}`), /KMSInvalidStateException/);
    assert.match(await awsFails('schedule-key-deletion', '--key-id', created.KeyId!, '--pending-window-in-days', '3'), /ValidationException/);
    const described = (await aws('describe-key', '--key-id', created.KeyId!)).KeyMetadata as Record<string, string>;
    assert.equal(described.KeyState, 'PendingDeletion');
  });
});
