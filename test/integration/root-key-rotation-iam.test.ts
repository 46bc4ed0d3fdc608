/**
 * Rotating the root key re-wraps everything it protects, not only KMS key
 * material: IAM access key secrets are wrapped under a key derived from it,
 * and a user's key must keep working after `coffer admin rotate-root-key`.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, test } from 'node:test';
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { ListBucketsCommand } from '@aws-sdk/client-s3';
import { CLI, startServer, type TestServer } from '../helpers/server.js';

const run = promisify(execFile);
let server: TestServer | undefined;
after(async () => {
  if (server) {
    await server.destroy();
    rmSync(server.dataDir, { recursive: true, force: true });
  }
});

test('user_access_keys_survive_a_root_key_rotation', async () => {
  server = await startServer();
  const { dataDir, accessKeyId, secretAccessKey } = server;
  const iam = new IAMClient({ endpoint: server.url, region: 'us-east-1', credentials: { accessKeyId, secretAccessKey } });
  await iam.send(new CreateUserCommand({ UserName: 'rotated-ruth' }));
  await iam.send(
    new PutUserPolicyCommand({
      UserName: 'rotated-ruth',
      PolicyName: 'list',
      PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:ListAllMyBuckets', Resource: '*' }] }),
    }),
  );
  const key = (await iam.send(new CreateAccessKeyCommand({ UserName: 'rotated-ruth' }))).AccessKey!;
  const ruth = { accessKeyId: key.AccessKeyId!, secretAccessKey: key.SecretAccessKey! };
  assert.equal((await server.client({ credentials: ruth }).send(new ListBucketsCommand({}))).$metadata.httpStatusCode, 200);
  const oldRoot = readFileSync(join(dataDir, 'root.key'), 'utf8');
  await server.stop();

  const rotated = await run(process.execPath, [CLI, 'admin', 'rotate-root-key', '--data', dataDir]);
  assert.match(rotated.stdout + rotated.stderr, /re-?wrapped|rotat/i);
  assert.notEqual(readFileSync(join(dataDir, 'root.key'), 'utf8'), oldRoot, 'a new root key is in place');

  server = await startServer({ dataDir, accessKeyId, secretAccessKey });
  const out = await server.client({ credentials: ruth }).send(new ListBucketsCommand({}));
  assert.equal(out.$metadata.httpStatusCode, 200, 'the user key still authenticates under the new root key');
});
