/**
 * HTTPS when --tls-cert/--tls-key are given (S3 requires TLS for customer keys
 * later), the unauthenticated health endpoint, and the CLI's credentials file.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { startServer, type TestServer } from '../helpers/server.js';

describe('tls and health', () => {
  let work: string;
  let server: TestServer;
  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'coffer-tls-'));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1',
      '-keyout', join(work, 'key.pem'), '-out', join(work, 'cert.pem'),
    ], { stdio: 'ignore' });
    server = await startServer({ args: ['--tls-cert', join(work, 'cert.pem'), '--tls-key', join(work, 'key.pem')] });
  });
  after(async () => {
    await server?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  test('https_serves_s3_with_the_given_certificate', async () => {
    const ca = readFileSync(join(work, 'cert.pem'));
    const s3 = new S3Client({
      endpoint: `https://127.0.0.1:${server.port}`,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
      requestHandler: new NodeHttpHandler({ httpsAgent: new Agent({ ca }) }),
    });
    await s3.send(new CreateBucketCommand({ Bucket: 'tls-bucket' }));
    const listed = await s3.send(new ListBucketsCommand({}));
    assert.deepEqual(listed.Buckets?.map((b) => b.Name), ['tls-bucket']);
    // Plain HTTP to a TLS port is not served.
    await assert.rejects(fetch(`http://127.0.0.1:${server.port}/_coffer/health`));
  });

  test('health_answers_200_without_a_signature', async () => {
    const plain = await startServer();
    try {
      const res = await fetch(`${plain.url}/_coffer/health`);
      assert.equal(res.status, 200);
      assert.ok(res.headers.get('x-amz-request-id'));
      // Bucket names cannot start with '_', so this path never shadows a bucket: every path
      // under /_coffer/ is Coffer's own (metrics, readiness, console), and others are 404.
      const other = await fetch(`${plain.url}/_coffer/other`);
      assert.equal(other.status, 404);
    } finally {
      await plain.destroy();
    }
  });

  test('generated_credentials_are_stored_0600_and_printed_once', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'coffer-creds-'));
    try {
      const first = await startServer({ dataDir, env: { COFFER_ACCESS_KEY_ID: '', COFFER_SECRET_ACCESS_KEY: '' } });
      await first.stop();
      const file = join(dataDir, 'credentials.json');
      assert.equal(statSync(file).mode & 0o777, 0o600);
      // The metadata database (wrapped keys and secrets) is owner-only too.
      assert.equal(statSync(join(dataDir, 'coffer.db')).mode & 0o777, 0o600);
      const creds = JSON.parse(readFileSync(file, 'utf8')) as { accessKeyId: string; secretAccessKey: string };
      assert.ok(first.output().includes(creds.secretAccessKey), 'printed at the start that generated them');
      const second = await startServer({ dataDir, env: { COFFER_ACCESS_KEY_ID: '', COFFER_SECRET_ACCESS_KEY: '' } });
      await second.stop();
      assert.ok(!second.output().includes(creds.secretAccessKey), 'never printed again');
      // And they work.
      const third = await startServer({ dataDir, env: { COFFER_ACCESS_KEY_ID: '', COFFER_SECRET_ACCESS_KEY: '' } });
      try {
        const s3 = new S3Client({ endpoint: third.url, region: 'us-east-1', forcePathStyle: true, credentials: creds });
        await s3.send(new ListBucketsCommand({}));
      } finally {
        await third.stop();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
