/**
 * The Kms contract against RemoteKms (@aws-sdk/client-kms) talking to a
 * second Coffer process acting as the KMS — how several Coffer nodes share
 * one KMS.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CreateAliasCommand, CreateKeyCommand, DisableKeyCommand, EnableKeyCommand, ListKeysCommand, ScheduleKeyDeletionCommand } from '@aws-sdk/client-kms';
import { RemoteKms } from '../../src/kms/remote-kms.js';
import { kmsClient, rejectsWithSdkError } from '../helpers/kms.js';
import { startServer } from '../helpers/server.js';
import { kmsContract } from './kms.contract.js';

kmsContract({
  name: 'remote (a second Coffer process)',
  create: async () => {
    const server = await startServer({ env: { COFFER_KMS_MIN_PENDING_WINDOW_DAYS: '0' } });
    const client = kmsClient(server);
    const kms = new RemoteKms({
      endpoint: server.url,
      region: server.region,
      credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    });
    return {
      kms,
      admin: {
        createKey: async (description) => (await client.send(new CreateKeyCommand({ Description: description }))).KeyMetadata!.KeyId!,
        createAlias: async (AliasName, TargetKeyId) => void (await client.send(new CreateAliasCommand({ AliasName, TargetKeyId }))),
        disableKey: async (KeyId) => void (await client.send(new DisableKeyCommand({ KeyId }))),
        enableKey: async (KeyId) => void (await client.send(new EnableKeyCommand({ KeyId }))),
        scheduleKeyDeletion: async (KeyId, PendingWindowInDays) => void (await client.send(new ScheduleKeyDeletionCommand({ KeyId, PendingWindowInDays }))),
      },
      close: async () => {
        kms.close();
        client.destroy();
        await server.destroy();
      },
    };
  },
});

describe('coffer serve --kms-endpoint', () => {
  test('uses_the_remote_kms_without_a_local_root_key_and_serves_no_kms_api', async () => {
    const kmsNode = await startServer();
    const s3Node = await startServer({
      args: ['--kms-endpoint', kmsNode.url],
      env: { COFFER_KMS_ACCESS_KEY_ID: kmsNode.accessKeyId, COFFER_KMS_SECRET_ACCESS_KEY: kmsNode.secretAccessKey },
    });
    try {
      assert.equal(existsSync(join(s3Node.dataDir, 'root.key')), false, 'no root key: the keys live in the remote KMS');
      const client = kmsClient(s3Node);
      await rejectsWithSdkError(client.send(new ListKeysCommand({})), 'UnsupportedOperationException');
      client.destroy();
    } finally {
      await s3Node.destroy();
      await kmsNode.destroy();
    }
  });
});
