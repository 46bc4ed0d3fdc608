/**
 * The AWS CLI v2 (Debian's package) against a real Coffer: `aws s3` high-level
 * commands (cp/ls/rm/sync, with automatic multipart for large files) and
 * `aws s3api` calls.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeRandomFile } from '../helpers/data.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { AWS_CLI, missingTool, run, sha256File } from '../helpers/tools.js';

const skip = missingTool('aws');

describe('aws cli', { skip }, () => {
  let server: TestServer;
  let work: string;
  const aws = (...args: string[]) => run(AWS_CLI, ['--endpoint-url', server.url, ...args], server.env());

  before(async () => {
    server = await startServer();
    work = mkdtempSync(join(tmpdir(), 'coffer-awscli-'));
  });
  after(async () => {
    await server?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  test('s3_mb_ls_rb', async () => {
    await aws('s3', 'mb', 's3://cli-demo');
    const { stdout } = await aws('s3', 'ls');
    assert.match(stdout, /cli-demo/);
    await aws('s3', 'rb', 's3://cli-demo');
    assert.doesNotMatch((await aws('s3', 'ls')).stdout, /cli-demo/);
  });

  test('s3_cp_small_file_round_trip', async () => {
    await aws('s3', 'mb', 's3://cli-small');
    const src = join(work, 'small.txt');
    writeFileSync(src, 'hello from the aws cli\n');
    await aws('s3', 'cp', src, 's3://cli-small/dir/small file+.txt');
    const dst = join(work, 'small.out');
    await aws('s3', 'cp', 's3://cli-small/dir/small file+.txt', dst);
    assert.equal(readFileSync(dst, 'utf8'), 'hello from the aws cli\n');
    const ls = await aws('s3', 'ls', 's3://cli-small/dir/');
    assert.match(ls.stdout, /small file\+\.txt/);
    await aws('s3', 'rm', 's3://cli-small/dir/small file+.txt');
    assert.equal((await aws('s3', 'ls', 's3://cli-small/dir/').catch(() => ({ stdout: '' }))).stdout.trim(), '');
  });

  test('s3_cp_100MiB_multipart_round_trip', async () => {
    await aws('s3', 'mb', 's3://cli-big');
    const src = join(work, 'big.bin');
    const digest = await writeRandomFile(src, 100, 100 * 1024 * 1024);
    await aws('s3', 'cp', src, 's3://cli-big/big.bin');
    const head = JSON.parse((await aws('s3api', 'head-object', '--bucket', 'cli-big', '--key', 'big.bin')).stdout) as {
      ContentLength: number;
      ETag: string;
    };
    assert.equal(head.ContentLength, 100 * 1024 * 1024);
    // The CLI switches to multipart above 8 MiB: the ETag has the "-N" form.
    assert.match(head.ETag, /^"[0-9a-f]{32}-\d+"$/);
    const dst = join(work, 'big.out');
    await aws('s3', 'cp', 's3://cli-big/big.bin', dst);
    assert.equal(await sha256File(dst), digest);
    rmSync(src);
    rmSync(dst);
  });

  test('s3_sync_directory', async () => {
    await aws('s3', 'mb', 's3://cli-sync');
    const dir = join(work, 'tree');
    mkdirSync(join(dir, 'a', 'b'), { recursive: true });
    writeFileSync(join(dir, 'top.txt'), 'top');
    writeFileSync(join(dir, 'a', 'one.txt'), 'one');
    writeFileSync(join(dir, 'a', 'b', 'two.txt'), 'two');
    // S3 timestamps have whole-second precision; `sync` re-uploads a file whose mtime is newer
    // than the object's LastModified, so files written in the same second as the upload would
    // look newer (against Amazon S3 too). Date them a few seconds back.
    const past = new Date(Date.now() - 5000);
    for (const f of ['top.txt', 'a/one.txt', 'a/b/two.txt']) utimesSync(join(dir, f), past, past);
    await aws('s3', 'sync', dir, 's3://cli-sync/tree');
    const listed = JSON.parse((await aws('s3api', 'list-objects-v2', '--bucket', 'cli-sync')).stdout) as { Contents: { Key: string }[] };
    assert.deepEqual(listed.Contents.map((c) => c.Key).sort(), ['tree/a/b/two.txt', 'tree/a/one.txt', 'tree/top.txt']);
    // A second sync has nothing to do.
    const again = await aws('s3', 'sync', dir, 's3://cli-sync/tree');
    assert.equal(again.stdout.trim(), '');
    const back = join(work, 'back');
    await aws('s3', 'sync', 's3://cli-sync/tree', back);
    assert.equal(readFileSync(join(back, 'a', 'b', 'two.txt'), 'utf8'), 'two');
  });

  test('s3api_put_head_get_delete_object', async () => {
    await aws('s3api', 'create-bucket', '--bucket', 'cli-api');
    const body = join(work, 'api.txt');
    writeFileSync(body, 'api body');
    const put = JSON.parse(
      (await aws('s3api', 'put-object', '--bucket', 'cli-api', '--key', 'k', '--body', body, '--content-type', 'text/plain', '--metadata', 'color=blue')).stdout,
    ) as { ETag: string };
    assert.equal(put.ETag, `"${createHash('md5').update('api body').digest('hex')}"`);
    const head = JSON.parse((await aws('s3api', 'head-object', '--bucket', 'cli-api', '--key', 'k')).stdout) as {
      ContentType: string;
      Metadata: Record<string, string>;
      ContentLength: number;
    };
    assert.equal(head.ContentType, 'text/plain');
    assert.deepEqual(head.Metadata, { color: 'blue' });
    assert.equal(head.ContentLength, 8);
    const out = join(work, 'api.out');
    await aws('s3api', 'get-object', '--bucket', 'cli-api', '--key', 'k', out);
    assert.equal(readFileSync(out, 'utf8'), 'api body');
    await aws('s3api', 'delete-object', '--bucket', 'cli-api', '--key', 'k');
    await assert.rejects(aws('s3api', 'head-object', '--bucket', 'cli-api', '--key', 'k'), /404|Not Found/);
  });

  test('s3api_error_codes_reach_the_cli', async () => {
    await assert.rejects(aws('s3api', 'get-object', '--bucket', 'no-such-bucket-here', '--key', 'k', join(work, 'x')), /NoSuchBucket/);
    await aws('s3api', 'create-bucket', '--bucket', 'cli-err');
    await assert.rejects(aws('s3api', 'get-object', '--bucket', 'cli-err', '--key', 'missing', join(work, 'x')), /NoSuchKey/);
    await assert.rejects(aws('s3api', 'create-bucket', '--bucket', 'Bad_Name'), /InvalidBucketName|Invalid bucket name/);
  });
});
