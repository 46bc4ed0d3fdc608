/**
 * The README's shell examples run as written (issue 21 item 5). Every fenced ```sh block
 * of README.md runs, in order, in one bash (set -euo pipefail) from a fresh directory
 * holding ./data and a copy of README.md, against a real server started there without
 * preset credentials (so it generates ./data/credentials.json, as `npm start` does). What
 * the test changes, and only that: the endpoint http://127.0.0.1:9000 becomes the server's
 * free port; /usr/bin comes first on PATH (the AWS CLI v2); `npx coffer` runs this clone's
 * dist/src/cli/main.js (the temp directory is no npm project, and npx must never fetch a
 * package named coffer from the registry); blocks marked `<!-- readme-test: skip … -->`
 * (install/start and the test command) are not run. Blocks of other languages are not run.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { CLI, ROOT } from '../helpers/server.js';

interface Block {
  index: number;
  line: number;
  text: string;
  skip: boolean;
}

/** The fenced ```sh blocks of a Markdown text, each with whether the line before marks it skipped. */
function shellBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const end = lines.findIndex((l, j) => j > i && /^```\s*$/.test(l));
    assert.ok(end > i, `README.md:${i + 1}: unclosed fence`);
    if (open[1] === 'sh' || open[1] === 'bash' || open[1] === 'shell') {
      let before = i - 1;
      while (before >= 0 && lines[before]!.trim() === '') before--;
      const skip = before >= 0 && /^<!--\s*readme-test:\s*skip\b/.test(lines[before]!);
      blocks.push({ index: blocks.length, line: i + 1, text: lines.slice(i + 1, end).join('\n'), skip });
    }
    i = end;
  }
  return blocks;
}

describe('README shell blocks run in order (issue 21 item 5)', () => {
  let dir: string;
  let proc: ChildProcess;
  let url: string;
  let serverOut = '';
  let result: { status: number | null; stdout: string; stderr: string };
  const blocks = shellBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'));

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'coffer-readme-'));
    copyFileSync(join(ROOT, 'README.md'), join(dir, 'README.md'));
    const env: NodeJS.ProcessEnv = { ...process.env, COFFER_LOG_LEVEL: 'info' };
    for (const k of ['COFFER_ACCESS_KEY_ID', 'COFFER_SECRET_ACCESS_KEY', 'COFFER_ROOT_KEY', 'COFFER_DATA', 'COFFER_PORT']) delete env[k];
    proc = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--data', './data', '--workers', '1'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not start:\n${serverOut}`)), 20_000);
      proc.stdout!.on('data', (d: Buffer) => {
        serverOut += d.toString();
        const m = /"listening".*"port":(\d+)|"port":(\d+).*"listening"/.exec(serverOut);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1] ?? m[2]));
        }
      });
      proc.stderr!.on('data', (d: Buffer) => (serverOut += d.toString()));
      proc.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${serverOut}`)));
    });
    url = `http://127.0.0.1:${port}`;

    const script = [
      'set -euo pipefail',
      'export PATH="/usr/bin:$PATH"',
      'unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE AWS_CA_BUNDLE AWS_ENDPOINT_URL',
      'export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_PAGER= AWS_EC2_METADATA_DISABLED=true',
      `npx() { if [ "$1" = coffer ]; then shift; node ${JSON.stringify(CLI)} "$@"; else echo "the README test runs no other npx package: $*" >&2; return 1; fi; }`,
      ...blocks.filter((b) => !b.skip).flatMap((b) => [`echo "::readme-block ${b.index} (README.md:${b.line})::"`, b.text.replaceAll('http://127.0.0.1:9000', url)]),
      'echo "::readme-done::"',
    ].join('\n');
    const run = spawnSync('bash', ['-c', script], { cwd: dir, env: { ...process.env, HOME: dir }, encoding: 'utf8', timeout: 180_000, maxBuffer: 64 * 1024 * 1024 });
    result = { status: run.status, stdout: run.stdout, stderr: run.stderr };
  });

  after(async () => {
    if (proc && proc.exitCode === null) {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the README has shell blocks, and only install/start and test, and the cluster (run by cluster.test.ts), are skipped', () => {
    assert.ok(blocks.length >= 8, `shell blocks found: ${blocks.length}`);
    const skipped = blocks.filter((b) => b.skip);
    assert.equal(skipped.length, 2);
    assert.match(skipped[0]!.text, /npm ci && npm start/);
    assert.match(skipped[1]!.text, /COFFER_METADATA_URL=postgres:/);
  });

  test('every block runs to the end without an error', () => {
    const last = [...result.stdout.matchAll(/::readme-block (\d+) \(README\.md:(\d+)\)::/g)].at(-1);
    assert.equal(
      result.status,
      0,
      `the README failed in the block at README.md:${last?.[2]}\n--- stderr\n${result.stderr}\n--- stdout (tail)\n${result.stdout.slice(-3000)}\n--- server (tail)\n${serverOut.slice(-2000)}`,
    );
    assert.ok(result.stdout.includes('::readme-done::'));
  });

  test('what the blocks print is what the README says they print', () => {
    const out = result.stdout;
    // head-object of the SSE-KMS object: ServerSideEncryption aws:kms and the key's ARN.
    assert.match(out, /"ServerSideEncryption": "aws:kms"/);
    assert.match(out, /"SSEKMSKeyId": "arn:aws:kms:/);
    // head-object of the SSE-C object, with its key.
    assert.match(out, /"SSECustomerAlgorithm": "AES256"/);
    // kms encrypt then decrypt.
    assert.ok(out.includes("hello"), "the decrypted message");
    // create-access-key prints a secret once; sts get-caller-identity the root.
    assert.match(out, /"SecretAccessKey": "/);
    assert.match(out, /"Arn": "arn:aws:iam::\d{12}:root"/);
    // The anonymous curl read the README uploaded at the start.
    assert.match(out, /^# Coffer$/m);
    // The admin commands: the user list shows bob before he is deleted.
    assert.match(out, /bob/);
  });

  test('the last block removed the example bucket', async () => {
    const creds = JSON.parse(readFileSync(join(dir, 'data', 'credentials.json'), 'utf8')) as { accessKeyId: string; secretAccessKey: string };
    const s3 = new S3Client({ endpoint: url, region: 'us-east-1', forcePathStyle: true, credentials: creds });
    await assert.rejects(s3.send(new HeadBucketCommand({ Bucket: 'demo' })), (e: { name: string }) => e.name === 'NotFound');
    s3.destroy();
  });

  test('`npx coffer` runs this package\'s bin in the clone (README), without the registry', () => {
    // npx links the package folder as a dependency and so runs its `prepare` (tsc), rewriting
    // dist/ under the tests running beside this one (a worker once failed to load a half-written
    // module). `npm test` has built dist/ already: skip the scripts, keep the bin check.
    const r = spawnSync('npx', ['--offline', 'coffer', '--help'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, npm_config_update_notifier: 'false', npm_config_ignore_scripts: 'true' },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout + r.stderr, /Usage: coffer serve/);
  });
});
