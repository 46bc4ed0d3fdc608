/**
 * `coffer serve --config FILE` with the real server: settings come from the
 * file unless a flag or an environment variable says otherwise, and a bad file
 * stops the start with a clear message.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CreateBucketCommand, GetBucketLocationCommand } from '@aws-sdk/client-s3';
import { CLI, startServer, type TestServer } from '../helpers/server.js';

describe('serve --config', () => {
  const dir = mkdtempSync(join(tmpdir(), 'coffer-config-'));
  const servers: TestServer[] = [];
  after(async () => {
    for (const s of servers) await s.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  test('settings_come_from_the_file_and_flags_and_environment_win_over_it', async () => {
    const path = join(dir, 'coffer.yaml');
    // port 1 would fail to bind as non-root and is privileged: the test's --port 0 must win.
    writeFileSync(path, ['port: 1', 'region: eu-west-3', 'metricsToken: file-token-0123456789', 'logLevel: silent'].join('\n'), { mode: 0o600 });
    // The file says logLevel silent; the environment's info wins (the helper waits for the "listening" line).
    const server = await startServer({ args: ['--config', path], env: { COFFER_LOG_LEVEL: 'info' } });
    servers.push(server);
    assert.notEqual(server.port, 1, 'the flag won over the file');
    assert.ok(server.output().includes('"region":"eu-west-3"'), 'the region came from the file');
    const s3 = server.client({ region: 'eu-west-3' });
    await s3.send(new CreateBucketCommand({ Bucket: 'from-file', CreateBucketConfiguration: { LocationConstraint: 'eu-west-3' } }));
    assert.equal((await s3.send(new GetBucketLocationCommand({ Bucket: 'from-file' }))).LocationConstraint, 'eu-west-3');
    s3.destroy();
    assert.equal((await fetch(`${server.url}/_coffer/metrics`)).status, 401, 'the metrics token came from the file');
    assert.equal((await fetch(`${server.url}/_coffer/metrics`, { headers: { authorization: 'Bearer file-token-0123456789' } })).status, 200);
    assert.ok(!server.output().includes('file-token-0123456789'), 'the token is never logged');
  });

  test('a_bad_file_stops_the_start_with_a_clear_message', async () => {
    const path = join(dir, 'bad.yaml');
    writeFileSync(path, 'dataDir: /tmp/x\nworkerz: 2\n', { mode: 0o600 });
    const proc = spawn(process.execPath, [CLI, 'serve', '--config', path, '--port', '0'], {
      env: { ...process.env, COFFER_ACCESS_KEY_ID: 'TESTKEYCONFIG', COFFER_SECRET_ACCESS_KEY: 'test-secret-key-0123456789abcdef' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    proc.stdout.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const code = await new Promise<number | null>((resolve) => proc.once('close', resolve));
    assert.equal(code, 1, output);
    assert.match(output, /coffer: invalid configuration: .*bad\.yaml: unknown setting 'workerz'/);
    assert.ok(!output.includes('    at '), 'no stack trace');
  });
});
