/**
 * The acceptance with the real AWS CLI: `aws iam create-user` +
 * `create-access-key` + a bucket policy granting that user
 * s3:PutEncryptionConfiguration lets the user set the bucket's encryption.
 * And the admin CLI (`coffer admin user|key|policy`), on the data dir of a running server.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { CLI, startServer, type TestServer } from '../helpers/server.js';
import { AWS_CLI, missingTool, run } from '../helpers/tools.js';

const execFileAsync = promisify(execFile);
const skip = missingTool('aws');

describe('aws iam and the admin CLI', () => {
  let server: TestServer;
  let work: string;
  const aws = (env: NodeJS.ProcessEnv, ...args: string[]) => run(AWS_CLI, ['--endpoint-url', server.url, '--output', 'json', ...args], env);
  const admin = (...args: string[]) =>
    execFileAsync(process.execPath, [CLI, 'admin', ...args, '--data', server.dataDir], {
      env: { ...process.env, COFFER_ACCESS_KEY_ID: server.accessKeyId, COFFER_SECRET_ACCESS_KEY: server.secretAccessKey },
    });

  before(async () => {
    server = await startServer();
    work = mkdtempSync(join(tmpdir(), 'coffer-iamcli-'));
  });
  after(async () => {
    await server?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  test('aws_iam_create_user_and_key_then_bucket_policy_grants_PutBucketEncryption', { skip }, async () => {
    const rootEnv = server.env();
    const user = JSON.parse((await aws(rootEnv, 'iam', 'create-user', '--user-name', 'cli-user')).stdout) as { User: { Arn: string } };
    assert.match(user.User.Arn, /^arn:aws:iam::\d{12}:user\/cli-user$/);
    const key = JSON.parse((await aws(rootEnv, 'iam', 'create-access-key', '--user-name', 'cli-user')).stdout) as { AccessKey: { AccessKeyId: string; SecretAccessKey: string } };
    const userEnv = { ...rootEnv, AWS_ACCESS_KEY_ID: key.AccessKey.AccessKeyId, AWS_SECRET_ACCESS_KEY: key.AccessKey.SecretAccessKey };
    const identity = JSON.parse((await aws(userEnv, 'sts', 'get-caller-identity')).stdout) as { Arn: string };
    assert.equal(identity.Arn, user.User.Arn);
    assert.match((await aws(rootEnv, 'iam', 'list-users')).stdout, /cli-user/);

    await aws(rootEnv, 's3api', 'create-bucket', '--bucket', 'cli-iam');
    const config = JSON.stringify({ Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] });
    await assert.rejects(aws(userEnv, 's3api', 'put-bucket-encryption', '--bucket', 'cli-iam', '--server-side-encryption-configuration', config), /AccessDenied/);
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: user.User.Arn }, Action: ['s3:PutEncryptionConfiguration', 's3:GetEncryptionConfiguration'], Resource: 'arn:aws:s3:::cli-iam' }],
    });
    await aws(rootEnv, 's3api', 'put-bucket-policy', '--bucket', 'cli-iam', '--policy', policy);
    await aws(userEnv, 's3api', 'put-bucket-encryption', '--bucket', 'cli-iam', '--server-side-encryption-configuration', config);
    assert.match((await aws(userEnv, 's3api', 'get-bucket-encryption', '--bucket', 'cli-iam')).stdout, /AES256/);

    // Inline policies through the CLI (it URL-decodes GetUserPolicy's document).
    const doc = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:ListBucket', Resource: 'arn:aws:s3:::cli-iam' }] });
    await aws(rootEnv, 'iam', 'put-user-policy', '--user-name', 'cli-user', '--policy-name', 'list', '--policy-document', doc);
    const got = JSON.parse((await aws(rootEnv, 'iam', 'get-user-policy', '--user-name', 'cli-user', '--policy-name', 'list')).stdout) as { PolicyDocument: unknown };
    assert.deepEqual(got.PolicyDocument, JSON.parse(doc));
    await assert.rejects(aws(rootEnv, 'iam', 'get-user', '--user-name', 'nobody'), /NoSuchEntity/);
  });

  test('admin_user_key_policy_commands', async () => {
    const created = await admin('user', 'create', 'ops');
    assert.match(created.stdout, /^arn:aws:iam::\d{12}:user\/ops$/m);
    assert.match((await admin('user', 'list')).stdout, /^ops\tAIDA/m);
    const key = await admin('key', 'create', 'ops');
    const id = /^AWS_ACCESS_KEY_ID=(.+)$/m.exec(key.stdout)![1]!;
    const secret = /^AWS_SECRET_ACCESS_KEY=(.+)$/m.exec(key.stdout)![1]!;
    assert.match((await admin('key', 'list', 'ops')).stdout, new RegExp(`^${id}\\tActive`, 'm'));
    const policyFile = join(work, 'policy.json');
    writeFileSync(policyFile, JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:ListAllMyBuckets', Resource: '*' }] }));
    await admin('policy', 'attach', 'ops', 'list-all', policyFile);
    const opsEnv = { ...server.env(), AWS_ACCESS_KEY_ID: id, AWS_SECRET_ACCESS_KEY: secret };
    if (!skip) {
      // The running server sees the new key and policy (its lookup cache lives a second).
      await new Promise((r) => setTimeout(r, 1100));
      await aws(opsEnv, 's3api', 'list-buckets');
    }
    writeFileSync(policyFile, '{"Statement": "nope"}');
    await assert.rejects(admin('policy', 'attach', 'ops', 'bad', policyFile), /Statement/);
    // Secrets are never stored in clear.
    const db = await execFileAsync('grep', ['-rc', secret, server.dataDir]).catch((err: { code: number }) => err);
    assert.equal((db as { code: number }).code, 1, 'the secret appears nowhere in the data dir');
    await admin('key', 'delete', 'ops', id);
    assert.doesNotMatch((await admin('key', 'list', 'ops')).stdout, new RegExp(id));
    await admin('user', 'delete', 'ops');
    assert.doesNotMatch((await admin('user', 'list')).stdout, /^ops\t/m);
  });

  test('aws_s3api_public_access_block_and_ownership_controls', { skip }, async () => {
    const env = server.env();
    writeFileSync(join(work, 'hello.txt'), 'hello');
    await aws(env, 's3api', 'create-bucket', '--bucket', 'cli-pab');
    await aws(env, 's3api', 'put-object', '--bucket', 'cli-pab', '--key', 'hello.txt', '--body', join(work, 'hello.txt'));
    const block = JSON.parse((await aws(env, 's3api', 'get-public-access-block', '--bucket', 'cli-pab')).stdout) as { PublicAccessBlockConfiguration: Record<string, boolean> };
    assert.deepEqual(block.PublicAccessBlockConfiguration, { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true });
    const ownership = JSON.parse((await aws(env, 's3api', 'get-bucket-ownership-controls', '--bucket', 'cli-pab')).stdout) as { OwnershipControls: { Rules: unknown[] } };
    assert.deepEqual(ownership.OwnershipControls.Rules, [{ ObjectOwnership: 'BucketOwnerEnforced' }]);
    await assert.rejects(aws(env, 's3api', 'put-object', '--bucket', 'cli-pab', '--key', 'x', '--acl', 'public-read'), /AccessControlListNotSupported/);
    const publicRead = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::cli-pab/*' }] });
    await assert.rejects(aws(env, 's3api', 'put-bucket-policy', '--bucket', 'cli-pab', '--policy', publicRead), /AccessDenied/);
    // The README's recipe: lift the block, then the public policy serves anonymous readers.
    await aws(env, 's3api', 'delete-public-access-block', '--bucket', 'cli-pab');
    await assert.rejects(aws(env, 's3api', 'get-public-access-block', '--bucket', 'cli-pab'), /NoSuchPublicAccessBlockConfiguration/);
    await aws(env, 's3api', 'put-bucket-policy', '--bucket', 'cli-pab', '--policy', publicRead);
    const res = await fetch(`${server.url}/cli-pab/hello.txt`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'hello');
  });
});
