/**
 * Scale-out (issue 14): three Coffer nodes on one PostgreSQL (started here, initdb +
 * postgres on a temp dir) and one S3 blob backend (a fourth Coffer process on a temp
 * dir), each node with its own empty data dir — as behind a load balancer. Any node
 * serves any request; what one node does, the others see.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutBucketEncryptionCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { CreateKeyCommand, DisableKeyCommand, EnableKeyCommand, GenerateDataKeyCommand } from '@aws-sdk/client-kms';
import { CreateAccessKeyCommand, CreateUserCommand, DeleteAccessKeyCommand, IAMClient, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import pg from 'pg';
import { kmsClient } from '../helpers/kms.js';
import { findPostgres, startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { startServer, type TestServer } from '../helpers/server.js';

const bins = findPostgres();
const BLOB_BUCKET = 'cluster-blobs';
const MiB = 1024 * 1024;
/** Short, so that a killed node's staged write is recovered by the others within the test. */
const LEASE_MS = 2_000;

async function bodyOf(client: S3Client, Bucket: string, Key: string): Promise<Buffer> {
  const r = await client.send(new GetObjectCommand({ Bucket, Key }));
  return Buffer.from(await r.Body!.transformToByteArray());
}

async function backendKeys(client: S3Client, Prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let ContinuationToken: string | undefined;
  do {
    const r = await client.send(new ListObjectsV2Command({ Bucket: BLOB_BUCKET, Prefix, ...(ContinuationToken ? { ContinuationToken } : {}) }));
    keys.push(...(r.Contents ?? []).map((o) => o.Key!));
    ContinuationToken = r.IsTruncated ? r.NextContinuationToken : undefined;
  } while (ContinuationToken);
  return keys;
}

async function until(what: string, ok: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Every file under a directory (PostgreSQL's heap files and WAL), concatenated per file. */
async function* filesUnder(dir: string): AsyncGenerator<{ path: string; data: Buffer }> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* filesUnder(path);
    else if (entry.isFile() && (await stat(path)).size > 0) yield { path, data: await readFile(path) };
  }
}

/** The forms a secret could be stored in: raw, hex, base64. */
function forms(secret: Buffer): Buffer[] {
  return [secret, Buffer.from(secret.toString('hex')), Buffer.from(secret.toString('base64'))];
}

if (!bins) {
  test('cluster of nodes on PostgreSQL and an S3 blob backend', (t) => t.skip('PostgreSQL (initdb, postgres) not found; .ci/run installs it'));
} else {
  describe('three stateless nodes on one PostgreSQL and one blob backend', () => {
    let postgres: TestPostgres;
    let backend: TestServer;
    let backendClient: S3Client;
    const nodes: TestServer[] = [];
    const clients: S3Client[] = [];
    const accessKeyId = 'CLUSTERROOTKEY00001';
    const secretAccessKey = 'cluster-secret-0123456789abcdef';
    const rootKey = randomBytes(32).toString('base64');
    /** Plaintext written through the nodes: none of it may reach PostgreSQL or the backend. */
    const marker = Buffer.from(`PLAINTEXT-MARKER-${randomBytes(8).toString('hex')}`);
    const plaintexts: Buffer[] = [];

    const startNode = (): Promise<TestServer> =>
      startServer({
        accessKeyId,
        secretAccessKey,
        args: ['--metadata-url', postgres.url, '--blob-url', `s3://${BLOB_BUCKET}/cluster`, '--blob-endpoint', backend.url],
        env: {
          COFFER_ROOT_KEY: rootKey,
          COFFER_BLOB_ACCESS_KEY_ID: backend.accessKeyId,
          COFFER_BLOB_SECRET_ACCESS_KEY: backend.secretAccessKey,
          COFFER_BLOB_STAGING_LEASE_MS: String(LEASE_MS),
          COFFER_SWEEP_INTERVAL_MS: '500',
        },
      });

    before(async () => {
      [postgres, backend] = await Promise.all([startPostgres(bins), startServer()]);
      backendClient = backend.client();
      await backendClient.send(new CreateBucketCommand({ Bucket: BLOB_BUCKET }));
      // Started together: migrations, recovery and KMS setup race across nodes at first start.
      nodes.push(...(await Promise.all([startNode(), startNode(), startNode()])));
      clients.push(...nodes.map((n) => n.client()));
      await clients[0]!.send(new CreateBucketCommand({ Bucket: 'shared' }));
    });

    after(async () => {
      for (const c of clients) c.destroy();
      backendClient?.destroy();
      await Promise.all(nodes.map((n) => n.destroy()));
      await backend?.destroy();
      await postgres?.stop();
    });

    test('an_object_written_through_node_A_is_read_byte_exact_through_node_B_and_C', async () => {
      // Small blobs (≤ 16 KiB stored) are rows in PostgreSQL, larger ones objects in the backend bucket.
      const [a, b, c] = clients as [S3Client, S3Client, S3Client];
      for (const [key, size] of [
        ['small', 100],
        ['medium', 300_000],
        ['large', 9 * MiB + 17],
      ] as const) {
        const data = Buffer.concat([marker, randomBytes(size)]);
        plaintexts.push(data);
        await a.send(new PutObjectCommand({ Bucket: 'shared', Key: key, Body: data }));
        assert.ok((await bodyOf(b, 'shared', key)).equals(data), `${key} through B`);
        assert.ok((await bodyOf(c, 'shared', key)).equals(data), `${key} through C`);
        const head = await c.send(new HeadObjectCommand({ Bucket: 'shared', Key: key }));
        assert.equal(head.ServerSideEncryption, 'AES256', 'encrypted by default, on every node');
      }
      const range = await b.send(new GetObjectCommand({ Bucket: 'shared', Key: 'large', Range: 'bytes=5000000-5000099' }));
      assert.equal(range.ContentRange, `bytes 5000000-5000099/${9 * MiB + 17 + marker.length}`);
      assert.ok(Buffer.from(await range.Body!.transformToByteArray()).equals(plaintexts[2]!.subarray(5_000_000, 5_000_100)), 'a range through B');
    });

    test('concurrent_If_None_Match_star_PUTs_of_one_key_through_different_nodes_exactly_one_wins', async () => {
      for (let round = 0; round < 3; round++) {
        const Key = `once-${round}`;
        const results = await Promise.allSettled(
          Array.from({ length: 12 }, (_, i) => clients[i % 3]!.send(new PutObjectCommand({ Bucket: 'shared', Key, Body: `writer ${i}`, IfNoneMatch: '*' }))),
        );
        const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
        assert.equal(won.length, 1, `round ${round}: exactly one writer creates the key`);
        for (const r of results) {
          if (r.status === 'rejected') assert.equal((r.reason as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode, 412, String(r.reason));
        }
        for (const c of clients) assert.equal((await bodyOf(c, 'shared', Key)).toString(), `writer ${won[0]}`, 'every node reads the winner');
      }
    });

    test('multipart_parts_uploaded_through_different_nodes_complete_into_one_object', async () => {
      const [a, b, c] = clients as [S3Client, S3Client, S3Client];
      const parts = [randomBytes(5 * MiB), Buffer.concat([marker, randomBytes(5 * MiB)]), randomBytes(1234)];
      plaintexts.push(parts[1]!);
      const { UploadId } = await a.send(new CreateMultipartUploadCommand({ Bucket: 'shared', Key: 'multi' }));
      const done = await Promise.all(
        parts.map(async (Body, i) => {
          const r = await clients[(i + 1) % 3]!.send(new UploadPartCommand({ Bucket: 'shared', Key: 'multi', UploadId, PartNumber: i + 1, Body }));
          return { PartNumber: i + 1, ETag: r.ETag! };
        }),
      );
      const completed = await c.send(new CompleteMultipartUploadCommand({ Bucket: 'shared', Key: 'multi', UploadId, MultipartUpload: { Parts: done } }));
      assert.match(completed.ETag ?? '', /-3"$/);
      assert.ok((await bodyOf(b, 'shared', 'multi')).equals(Buffer.concat(parts)), 'byte-exact through another node');
      const uploads = await a.send(new ListMultipartUploadsCommand({ Bucket: 'shared' }));
      assert.equal(uploads.Uploads?.length ?? 0, 0, 'the upload is gone on every node');
    });

    test('a_KMS_key_disabled_through_node_A_fails_reads_through_node_B_within_one_second', async () => {
      const kmsA = kmsClient(nodes[0]!);
      try {
        const { KeyMetadata } = await kmsA.send(new CreateKeyCommand({ Description: 'cluster key' }));
        const KeyId = KeyMetadata!.KeyId!;
        const [a, b] = clients as [S3Client, S3Client];
        await a.send(new CreateBucketCommand({ Bucket: 'kms-bucket' }));
        const data = Buffer.concat([marker, randomBytes(2000)]);
        plaintexts.push(data);
        // One object under the KMS key directly, one under an S3 Bucket Key of it.
        await a.send(new PutObjectCommand({ Bucket: 'kms-bucket', Key: 'direct', Body: data, ServerSideEncryption: 'aws:kms', SSEKMSKeyId: KeyId }));
        await a.send(new PutBucketEncryptionCommand({
          Bucket: 'kms-bucket',
          ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: KeyId }, BucketKeyEnabled: true }] },
        }));
        await a.send(new PutObjectCommand({ Bucket: 'kms-bucket', Key: 'bucket-key', Body: data }));
        // Node B reads both, so it holds the bucket key in its cache.
        for (const Key of ['direct', 'bucket-key']) assert.ok((await bodyOf(b, 'kms-bucket', Key)).equals(data), `${Key} readable through B`);

        await kmsA.send(new DisableKeyCommand({ KeyId }));
        const disabledAt = Date.now();
        for (const Key of ['direct', 'bucket-key']) {
          // The documented bound (docs/cluster.md): at most one second on any node.
          await until(`${Key} refused through B`, async () => {
            try {
              await bodyOf(b, 'kms-bucket', Key);
              return false;
            } catch (err) {
              const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
              assert.equal(e.name, 'KMS.DisabledException', String(err));
              assert.equal(e.$metadata?.httpStatusCode, 400);
              return true;
            }
          });
        }
        assert.ok(Date.now() - disabledAt < 1_000 + 500, `refused within the bound (${Date.now() - disabledAt} ms)`);
        await assert.rejects(
          b.send(new PutObjectCommand({ Bucket: 'kms-bucket', Key: 'new', Body: 'x' })),
          (err: { name?: string }) => err.name === 'KMS.DisabledException',
          'a bucket-key PUT through B is refused too',
        );
        await kmsA.send(new EnableKeyCommand({ KeyId }));
        await until('readable again through C', async () => {
          try {
            return (await bodyOf(clients[2]!, 'kms-bucket', 'bucket-key')).equals(data);
          } catch {
            return false;
          }
        });
      } finally {
        kmsA.destroy();
      }
    });

    test('a_user_and_access_key_made_through_node_A_work_on_node_B_and_its_deletion_reaches_B_within_a_second', async () => {
      const iamA = new IAMClient({ endpoint: nodes[0]!.url, region: 'us-east-1', credentials: { accessKeyId, secretAccessKey } });
      try {
        await iamA.send(new CreateUserCommand({ UserName: 'cluster-carol' }));
        await iamA.send(new PutUserPolicyCommand({
          UserName: 'cluster-carol',
          PolicyName: 'read-shared',
          PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::shared/*' }] }),
        }));
        const key = (await iamA.send(new CreateAccessKeyCommand({ UserName: 'cluster-carol' }))).AccessKey!;
        const carolOnB = nodes[1]!.client({ credentials: { accessKeyId: key.AccessKeyId!, secretAccessKey: key.SecretAccessKey! }, maxAttempts: 1 });
        try {
          assert.ok((await bodyOf(carolOnB, 'shared', 'small')).equals(plaintexts[0]!), 'the new key signs requests on another node');
          await assert.rejects(carolOnB.send(new PutObjectCommand({ Bucket: 'shared', Key: 'carol', Body: 'x' })), (err: { name?: string }) => err.name === 'AccessDenied', 'her policy applies there too');
          await iamA.send(new DeleteAccessKeyCommand({ UserName: 'cluster-carol', AccessKeyId: key.AccessKeyId! }));
          const deletedAt = Date.now();
          await until('the deleted key refused on node B', async () => {
            try {
              await bodyOf(carolOnB, 'shared', 'small');
              return false;
            } catch (err) {
              assert.equal((err as { name?: string }).name, 'InvalidAccessKeyId', String(err));
              return true;
            }
          });
          assert.ok(Date.now() - deletedAt < 1_500, `refused within the one-second identity cache (${Date.now() - deletedAt} ms)`);
        } finally {
          carolOnB.destroy();
        }
      } finally {
        iamA.destroy();
      }
    });

    test('one_bucket_key_per_period_is_shared_by_every_node', async () => {
      await clients[0]!.send(new CreateBucketCommand({ Bucket: 'bk-shared' }));
      await Promise.all(
        Array.from({ length: 30 }, (_, i) => clients[i % 3]!.send(new PutObjectCommand({ Bucket: 'bk-shared', Key: `o${i}`, Body: `v${i}` }))),
      );
      const db = new pg.Client({ connectionString: postgres.url });
      await db.connect();
      try {
        const r = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM bucket_keys WHERE bucket = 'bk-shared'");
        assert.equal(r.rows[0]!.n, 1, 'thirty PUTs through three nodes: one bucket key (one KMS call) for the period');
      } finally {
        await db.end();
      }
    });

    test('kill_9_of_one_node_mid_upload_leaves_no_partial_object_and_the_others_keep_serving', async () => {
      const victim = nodes[2]!;
      const victimClient = clients[2]!;
      const total = 20 * MiB;
      let sent = 0;
      // A client streaming a large PUT that stops half-way (the node dies under it).
      const body = new Readable({
        read() {
          if (sent >= 12 * MiB) return; // hold the rest back: the upload is in flight
          const chunk = randomBytes(MiB);
          sent += chunk.length;
          this.push(chunk);
        },
      });
      const upload = victimClient.send(new PutObjectCommand({ Bucket: 'shared', Key: 'cut-off', Body: body, ContentLength: total }));
      upload.catch(() => {});
      // The node has started its blob on the backend (a staged multipart upload there).
      await until('the blob upload on the backend', async () => {
        const r = await backendClient.send(new ListMultipartUploadsCommand({ Bucket: BLOB_BUCKET, Prefix: 'cluster/' }));
        return (r.Uploads?.length ?? 0) > 0;
      });
      victim.proc.kill('SIGKILL');
      await assert.rejects(upload);
      await victim.stop();

      const [a, b] = clients as [S3Client, S3Client];
      await assert.rejects(a.send(new HeadObjectCommand({ Bucket: 'shared', Key: 'cut-off' })), (err: { name?: string }) => err.name === 'NotFound', 'no partial object');
      await b.send(new PutObjectCommand({ Bucket: 'shared', Key: 'after-kill', Body: 'still serving' }));
      assert.equal((await bodyOf(a, 'shared', 'after-kill')).toString(), 'still serving');

      // The dead node's staged blob is recovered by the nodes still running once its lease ran out.
      await until('the dead node\'s staged write removed from the backend', async () => {
        const staged = await backendKeys(backendClient, 'cluster/tmp/');
        const open = await backendClient.send(new ListMultipartUploadsCommand({ Bucket: BLOB_BUCKET, Prefix: 'cluster/' }));
        return staged.length === 0 && (open.Uploads?.length ?? 0) === 0;
      });
      // Replaced with a fresh node on a fresh data dir: it serves what is there.
      const fresh = await startNode();
      nodes[2] = fresh;
      clients[2]!.destroy();
      clients[2] = fresh.client();
      assert.ok((await bodyOf(clients[2], 'shared', 'large')).equals(plaintexts[2]!), 'a new node reads what the others wrote');
    });

    test('a_node_starts_and_answers_503_while_the_blob_backend_is_unreachable', async () => {
      const cut = await startServer({
        accessKeyId,
        secretAccessKey,
        // Nothing listens on port 1.
        args: ['--metadata-url', postgres.url, '--blob-url', `s3://${BLOB_BUCKET}/cluster`, '--blob-endpoint', 'http://127.0.0.1:1'],
        env: { COFFER_ROOT_KEY: rootKey, COFFER_BLOB_ACCESS_KEY_ID: backend.accessKeyId, COFFER_BLOB_SECRET_ACCESS_KEY: backend.secretAccessKey },
      });
      const client = cut.client({ maxAttempts: 1 });
      try {
        await assert.rejects(client.send(new GetObjectCommand({ Bucket: 'shared', Key: 'large' })), (err: { name?: string; $metadata?: { httpStatusCode?: number } }) => {
          assert.equal(err.$metadata?.httpStatusCode, 503, String(err));
          assert.equal(err.name, 'ServiceUnavailable');
          return true;
        });
        // Readiness says so (a load balancer takes the node out); liveness stays 200.
        assert.equal((await fetch(`${cut.url}/_coffer/health/ready`)).status, 503, 'not ready while the blob backend is away');
        assert.equal((await fetch(`${cut.url}/_coffer/health`)).status, 200, 'alive');
        assert.equal((await fetch(`${nodes[0]!.url}/_coffer/health/ready`)).status, 200, 'a node with both engines is ready');
        const head = await client.send(new HeadObjectCommand({ Bucket: 'shared', Key: 'large' }));
        assert.equal(head.ContentLength, 9 * MiB + 17 + marker.length, 'metadata is still served');
        // Small objects' blobs are rows in PostgreSQL: they are still read.
        assert.ok((await bodyOf(client, 'shared', 'small')).equals(plaintexts[0]!), 'a small object is served from PostgreSQL');
      } finally {
        client.destroy();
        await cut.destroy();
      }
    });

    test('no_plaintext_or_unwrapped_key_in_PostgreSQL_rows_its_files_and_WAL_or_the_blob_backend', async () => {
      // A data key's plaintext, as the KMS API hands it out: stored only wrapped.
      const kms = kmsClient(nodes[0]!);
      let dataKey: Buffer;
      try {
        const { KeyMetadata } = await kms.send(new CreateKeyCommand({}));
        const r = await kms.send(new GenerateDataKeyCommand({ KeyId: KeyMetadata!.KeyId!, KeySpec: 'AES_256' }));
        dataKey = Buffer.from(r.Plaintext!);
      } finally {
        kms.destroy();
      }
      const secrets = [marker, Buffer.from(secretAccessKey), Buffer.from(rootKey), Buffer.from(rootKey, 'base64'), dataKey];
      const findIn = (where: string, data: Buffer) => {
        for (const secret of secrets) for (const form of forms(secret)) assert.equal(data.indexOf(form), -1, `a secret (${form.length} bytes) found in ${where}`);
      };
      // Every row of every table, as text (bytea as hex).
      const db = new pg.Client({ connectionString: postgres.url });
      await db.connect();
      let tables: string[];
      try {
        tables = (await db.query<{ t: string }>("SELECT quote_ident(table_name) AS t FROM information_schema.tables WHERE table_schema = 'public'")).rows.map((r) => r.t);
        assert.ok(['objects', 'kms_keys', 'small_blobs'].every((t) => tables.includes(t)), `the schema is there: ${tables.join(', ')}`);
        for (const t of tables) {
          const rows = (await db.query<{ r: string }>(`SELECT row_to_json(x)::text AS r FROM ${t} x`)).rows;
          findIn(`table ${t}`, Buffer.from(rows.map((r) => r.r).join('\n')));
        }
        await db.query('CHECKPOINT');
      } finally {
        await db.end();
      }
      // And what PostgreSQL wrote to disk, WAL included.
      let files = 0;
      for await (const f of filesUnder(join(postgres.dir, 'data'))) {
        findIn(f.path, f.data);
        files++;
      }
      assert.ok(files > 10, 'the data directory was searched');
      // Every object in the backend bucket, fetched.
      const keys = await backendKeys(backendClient, '');
      assert.ok(keys.length >= 3, `the backend holds the larger blobs (${keys.length})`);
      for (const Key of keys) {
        const r = await backendClient.send(new GetObjectCommand({ Bucket: BLOB_BUCKET, Key }));
        findIn(`backend object ${Key}`, Buffer.from(await r.Body!.transformToByteArray()));
      }
      // The check finds what it looks for.
      assert.throws(() => findIn('a probe', Buffer.concat([Buffer.from('xx'), marker])));
    });

    // Last: it stops the shared database.
    test('with_PostgreSQL_stopped_every_node_answers_503_and_reports_not_ready_never_500', async () => {
      await postgres.stop();
      for (const [i, c] of clients.entries()) {
        await assert.rejects(c.send(new HeadObjectCommand({ Bucket: 'shared', Key: 'small' })), (err: { $metadata?: { httpStatusCode?: number } }) => {
          assert.equal(err.$metadata?.httpStatusCode, 503, `node ${i}: ${String(err)}`);
          return true;
        });
        await until(`node ${i} not ready`, async () => (await fetch(`${nodes[i]!.url}/_coffer/health/ready`)).status === 503, 10_000);
        assert.equal((await fetch(`${nodes[i]!.url}/_coffer/health`)).status, 200, `node ${i} alive`);
      }
    });
  });
}
