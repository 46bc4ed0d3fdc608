/**
 * Versioning and Object Lock driven by the AWS CLI v2 (Debian's package, /usr/bin/aws):
 * `s3api put-bucket-versioning`, put-object returning VersionId, list-object-versions,
 * get-object / head-object / delete-object with --version-id, a delete marker hiding the key
 * and its removal bringing it back, a suspend / re-enable sequence with the null version,
 * `s3 rm` adding a delete marker, and create-bucket --object-lock-enabled-for-bucket with
 * put-object-retention and a locked version the CLI cannot delete.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startServer, type TestServer } from '../helpers/server.js';
import { AWS_CLI, missingTool, run } from '../helpers/tools.js';

interface Versions {
  Versions?: { Key: string; VersionId: string; IsLatest: boolean; Size: number }[];
  DeleteMarkers?: { Key: string; VersionId: string; IsLatest: boolean }[];
}

describe('aws cli versioning', { skip: missingTool('aws') }, () => {
  let server: TestServer;
  let work: string;
  const aws = async (...args: string[]) => run(AWS_CLI, ['--endpoint-url', server.url, '--output', 'json', ...args], server.env());
  const json = async <T>(...args: string[]): Promise<T> => JSON.parse((await aws(...args)).stdout || '{}') as T;
  const file = (name: string, content: string) => {
    const p = join(work, name);
    writeFileSync(p, content);
    return p;
  };
  const read = async (bucket: string, key: string, versionId?: string) => {
    const out = join(work, 'out');
    await aws('s3api', 'get-object', '--bucket', bucket, '--key', key, ...(versionId ? ['--version-id', versionId] : []), out);
    return readFileSync(out, 'utf8');
  };

  before(async () => {
    server = await startServer();
    work = mkdtempSync(join(tmpdir(), 'coffer-awscli-ver-'));
  });
  after(async () => {
    await server?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  test('s3api_versions_delete_markers_and_restoring_by_deleting_the_marker', async () => {
    await aws('s3api', 'create-bucket', '--bucket', 'cli-ver');
    await aws('s3api', 'put-bucket-versioning', '--bucket', 'cli-ver', '--versioning-configuration', 'Status=Enabled');
    assert.deepEqual(await json('s3api', 'get-bucket-versioning', '--bucket', 'cli-ver'), { Status: 'Enabled' });
    const v1 = (await json<{ VersionId: string }>('s3api', 'put-object', '--bucket', 'cli-ver', '--key', 'doc.txt', '--body', file('a', 'first'))).VersionId;
    const v2 = (await json<{ VersionId: string }>('s3api', 'put-object', '--bucket', 'cli-ver', '--key', 'doc.txt', '--body', file('b', 'second!'))).VersionId;
    assert.notEqual(v1, v2);
    assert.equal(await read('cli-ver', 'doc.txt'), 'second!');
    assert.equal(await read('cli-ver', 'doc.txt', v1), 'first');
    const head = await json<{ VersionId: string; ContentLength: number }>('s3api', 'head-object', '--bucket', 'cli-ver', '--key', 'doc.txt', '--version-id', v1);
    assert.equal(head.VersionId, v1);
    assert.equal(head.ContentLength, 5);
    // `aws s3 rm` in a versioned bucket adds a delete marker.
    await aws('s3', 'rm', 's3://cli-ver/doc.txt');
    await assert.rejects(aws('s3api', 'head-object', '--bucket', 'cli-ver', '--key', 'doc.txt'), /404|Not Found/);
    let listed = await json<Versions>('s3api', 'list-object-versions', '--bucket', 'cli-ver');
    assert.equal(listed.DeleteMarkers?.length, 1);
    assert.equal(listed.DeleteMarkers![0]!.IsLatest, true);
    assert.deepEqual(listed.Versions?.map((v) => [v.VersionId, v.IsLatest, v.Size]), [[v2, false, 7], [v1, false, 5]]);
    // Deleting the marker by its id: the object reappears.
    const del = await json<{ DeleteMarker?: boolean; VersionId: string }>('s3api', 'delete-object', '--bucket', 'cli-ver', '--key', 'doc.txt', '--version-id', listed.DeleteMarkers![0]!.VersionId);
    assert.equal(del.DeleteMarker, true);
    assert.equal(await read('cli-ver', 'doc.txt'), 'second!');
    // Deleting the latest version: the previous one becomes latest.
    await aws('s3api', 'delete-object', '--bucket', 'cli-ver', '--key', 'doc.txt', '--version-id', v2);
    assert.equal(await read('cli-ver', 'doc.txt'), 'first');
    listed = await json<Versions>('s3api', 'list-object-versions', '--bucket', 'cli-ver');
    assert.deepEqual(listed.Versions?.map((v) => [v.VersionId, v.IsLatest]), [[v1, true]]);
    await assert.rejects(aws('s3api', 'get-object', '--bucket', 'cli-ver', '--key', 'doc.txt', '--version-id', v2, join(work, 'x')), /NoSuchVersion/);
    await assert.rejects(aws('s3api', 'get-object', '--bucket', 'cli-ver', '--key', 'doc.txt', '--version-id', 'no-such', join(work, 'x')), /InvalidArgument/);
  });

  test('s3api_suspend_and_re_enable_with_the_null_version', async () => {
    await aws('s3api', 'create-bucket', '--bucket', 'cli-susp');
    await aws('s3api', 'put-object', '--bucket', 'cli-susp', '--key', 'k', '--body', file('p', 'pre-versioning'));
    await aws('s3api', 'put-bucket-versioning', '--bucket', 'cli-susp', '--versioning-configuration', 'Status=Enabled');
    const v1 = (await json<{ VersionId: string }>('s3api', 'put-object', '--bucket', 'cli-susp', '--key', 'k', '--body', file('e', 'enabled'))).VersionId;
    await aws('s3api', 'put-bucket-versioning', '--bucket', 'cli-susp', '--versioning-configuration', 'Status=Suspended');
    assert.deepEqual(await json('s3api', 'get-bucket-versioning', '--bucket', 'cli-susp'), { Status: 'Suspended' });
    await aws('s3api', 'put-object', '--bucket', 'cli-susp', '--key', 'k', '--body', file('s', 'suspended'));
    let listed = await json<Versions>('s3api', 'list-object-versions', '--bucket', 'cli-susp');
    // The suspended PUT replaced the pre-versioning null version; v1 is kept.
    assert.deepEqual(listed.Versions?.map((v) => [v.VersionId, v.IsLatest]), [['null', true], [v1, false]]);
    assert.equal(await read('cli-susp', 'k', 'null'), 'suspended');
    await aws('s3api', 'put-bucket-versioning', '--bucket', 'cli-susp', '--versioning-configuration', 'Status=Enabled');
    const v3 = (await json<{ VersionId: string }>('s3api', 'put-object', '--bucket', 'cli-susp', '--key', 'k', '--body', file('r', 're-enabled'))).VersionId;
    listed = await json<Versions>('s3api', 'list-object-versions', '--bucket', 'cli-susp');
    assert.deepEqual(listed.Versions?.map((v) => v.VersionId), [v3, 'null', v1]);
    assert.equal(await read('cli-susp', 'k'), 're-enabled');
  });

  test('s3api_object_lock_retention_refuses_deleting_the_version', async () => {
    await aws('s3api', 'create-bucket', '--bucket', 'cli-lock', '--object-lock-enabled-for-bucket');
    assert.deepEqual(await json('s3api', 'get-bucket-versioning', '--bucket', 'cli-lock'), { Status: 'Enabled' });
    const v = (await json<{ VersionId: string }>('s3api', 'put-object', '--bucket', 'cli-lock', '--key', 'k', '--body', file('l', 'locked'))).VersionId;
    const until = new Date(Date.now() + 86_400_000).toISOString();
    await aws('s3api', 'put-object-retention', '--bucket', 'cli-lock', '--key', 'k', '--version-id', v, '--retention', `Mode=COMPLIANCE,RetainUntilDate=${until}`);
    const got = await json<{ Retention: { Mode: string } }>('s3api', 'get-object-retention', '--bucket', 'cli-lock', '--key', 'k', '--version-id', v);
    assert.equal(got.Retention.Mode, 'COMPLIANCE');
    await assert.rejects(aws('s3api', 'delete-object', '--bucket', 'cli-lock', '--key', 'k', '--version-id', v), /AccessDenied/);
    await assert.rejects(
      aws('s3api', 'put-bucket-versioning', '--bucket', 'cli-lock', '--versioning-configuration', 'Status=Suspended'),
      /InvalidBucketState/,
    );
    assert.equal(await read('cli-lock', 'k', v), 'locked');
  });
});
