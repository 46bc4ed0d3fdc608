/**
 * s3cmd and rclone (Debian's packages) against a real Coffer: bucket
 * creation, uploads (rclone with multipart forced by small cutoffs), listing,
 * download byte-for-byte, and deletion.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeRandomFile } from '../helpers/data.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { findTool, missingTool, run, sha256File } from '../helpers/tools.js';

describe('s3cmd', { skip: missingTool('s3cmd') }, () => {
  let server: TestServer;
  let work: string;
  let cfg: string;
  const s3cmd = (...args: string[]) => run(findTool('s3cmd')!, ['-c', cfg, ...args], server.env());

  before(async () => {
    server = await startServer();
    work = mkdtempSync(join(tmpdir(), 'coffer-s3cmd-'));
    cfg = join(work, 's3cfg');
    const host = `127.0.0.1:${server.port}`;
    // host_bucket equal to host makes s3cmd use path-style requests.
    writeFileSync(
      cfg,
      [
        '[default]',
        `access_key = ${server.accessKeyId}`,
        `secret_key = ${server.secretAccessKey}`,
        `host_base = ${host}`,
        `host_bucket = ${host}`,
        'use_https = False',
        'bucket_location = us-east-1',
        'signature_v2 = False',
        'multipart_chunk_size_mb = 5',
        '',
      ].join('\n'),
    );
  });
  after(async () => {
    await server?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  test('s3cmd_mb_put_ls_get_del_rb', async () => {
    await s3cmd('mb', 's3://s3cmd-demo');
    assert.match((await s3cmd('ls')).stdout, /s3:\/\/s3cmd-demo/);
    const src = join(work, 'file.txt');
    writeFileSync(src, 'hello from s3cmd\n');
    await s3cmd('put', src, 's3://s3cmd-demo/some dir/file.txt');
    assert.match((await s3cmd('ls', 's3://s3cmd-demo/some dir/')).stdout, /file\.txt/);
    const dst = join(work, 'file.out');
    await s3cmd('get', 's3://s3cmd-demo/some dir/file.txt', dst);
    assert.equal(readFileSync(dst, 'utf8'), 'hello from s3cmd\n');
    await s3cmd('del', 's3://s3cmd-demo/some dir/file.txt');
    assert.doesNotMatch((await s3cmd('ls', 's3://s3cmd-demo/some dir/')).stdout, /file\.txt/);
    await s3cmd('rb', 's3://s3cmd-demo');
  });

  test('s3cmd_multipart_put_round_trip', async () => {
    await s3cmd('mb', 's3://s3cmd-big');
    const src = join(work, 'big.bin');
    const digest = await writeRandomFile(src, 7, 12 * 1024 * 1024 + 3);
    await s3cmd('put', src, 's3://s3cmd-big/big.bin');
    const info = (await s3cmd('info', 's3://s3cmd-big/big.bin')).stdout;
    assert.match(info, /File size:\s+12582915/);
    const dst = join(work, 'big.out');
    await s3cmd('get', 's3://s3cmd-big/big.bin', dst);
    assert.equal(await sha256File(dst), digest);
  });
});

describe('rclone', { skip: missingTool('rclone') }, () => {
  let server: TestServer;
  let work: string;
  const rclone = (...args: string[]) =>
    run(findTool('rclone')!, ['--config', '/dev/null', ...args], {
      ...server.env(),
      RCLONE_CONFIG_COFFER_TYPE: 's3',
      RCLONE_CONFIG_COFFER_PROVIDER: 'Other',
      RCLONE_CONFIG_COFFER_ACCESS_KEY_ID: server.accessKeyId,
      RCLONE_CONFIG_COFFER_SECRET_ACCESS_KEY: server.secretAccessKey,
      RCLONE_CONFIG_COFFER_ENDPOINT: server.url,
      RCLONE_CONFIG_COFFER_REGION: 'us-east-1',
      RCLONE_CONFIG_COFFER_FORCE_PATH_STYLE: 'true',
    });

  before(async () => {
    server = await startServer();
    work = mkdtempSync(join(tmpdir(), 'coffer-rclone-'));
  });
  after(async () => {
    await server?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  test('rclone_copy_directory_with_large_file', async () => {
    const dir = join(work, 'src');
    mkdirSync(join(dir, 'nested', 'deeper'), { recursive: true });
    writeFileSync(join(dir, 'a.txt'), 'alpha');
    writeFileSync(join(dir, 'nested', 'b.txt'), 'bravo');
    writeFileSync(join(dir, 'nested', 'deeper', 'ünïcødé name.txt'), 'charlie');
    const bigDigest = await writeRandomFile(join(dir, 'large.bin'), 11, 23 * 1024 * 1024 + 17);
    await rclone('mkdir', 'coffer:rclone-demo');
    // Small cutoff and chunk size force rclone's multipart path for the large file.
    await rclone('copy', dir, 'coffer:rclone-demo/tree', '--s3-upload-cutoff', '5M', '--s3-chunk-size', '5M', '--s3-upload-concurrency', '3');
    const listed = (await rclone('lsf', '-R', '--files-only', 'coffer:rclone-demo/tree')).stdout.trim().split('\n').sort();
    assert.deepEqual(listed, ['a.txt', 'large.bin', 'nested/b.txt', 'nested/deeper/ünïcødé name.txt']);
    // rclone check compares sizes and hashes (MD5 for single-part objects) of every file.
    await rclone('check', dir, 'coffer:rclone-demo/tree');
    const back = join(work, 'back');
    await rclone('copy', 'coffer:rclone-demo/tree', back);
    assert.equal(await sha256File(join(back, 'large.bin')), bigDigest);
    assert.equal(readFileSync(join(back, 'nested', 'deeper', 'ünïcødé name.txt'), 'utf8'), 'charlie');
    await rclone('purge', 'coffer:rclone-demo');
    assert.doesNotMatch((await rclone('lsd', 'coffer:')).stdout, /rclone-demo/);
  });
});
