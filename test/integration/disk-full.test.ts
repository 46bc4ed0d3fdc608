/**
 * A full data filesystem, for real: the data dir lives on a 24 MiB tmpfs that
 * the tests fill (with PUTs, then with a filler file, as another program
 * would). Writes must fail with a clean S3 error (503 ServiceUnavailable,
 * never 500), DeleteObject must still work and give the space back, the
 * server must start on the full disk and serve GET/LIST/DELETE, and KMS calls
 * must either succeed with their audit record intact or fail cleanly — never
 * succeed unaudited (issue #22).
 *
 * Mounting needs root (CI runs as root); elsewhere the tests are skipped, saying why.
 */
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, statfsSync, unlinkSync, writeSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { CreateKeyCommand, DecryptCommand, EncryptCommand, GenerateDataKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import { AUDIT_LOG_FILE, readAuditLog, type KmsAuditEvent } from '../../src/kms/kms-audit.js';
import { kmsClient } from '../helpers/kms.js';
import { mountTmpfs, type TmpfsMount } from '../helpers/mounts.js';
import { startServer, type TestServer } from '../helpers/server.js';

const MiB = 1024 * 1024;
const RESERVE = 4 * MiB;
const keys = { accessKeyId: 'DISKFULLKEY', secretAccessKey: 'disk-full-secret-0123456789' };
const env = { COFFER_RESERVE_BYTES: String(RESERVE), COFFER_GC_INTERVAL_MS: '200' };

function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}

/** Writes zeros into `path` until the filesystem refuses (ENOSPC): the disk is then full to the last page. */
function fillUp(path: string): number {
  const fd = openSync(path, 'a');
  let written = 0;
  try {
    for (const size of [MiB, 64 * 1024, 4096, 512, 1]) {
      const chunk = Buffer.alloc(size);
      for (;;) {
        try {
          written += writeSync(fd, chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

interface SdkError {
  name?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

/** A write refused for want of space: S3's 503 ServiceUnavailable, as the one error table has it. */
function assertStorageFull(err: unknown, what: string): void {
  const e = err as SdkError;
  assert.equal(e.name, 'ServiceUnavailable', `${what}: expected ServiceUnavailable, got ${e.name}: ${e.message}`);
  assert.equal(e.$metadata?.httpStatusCode, 503, `${what}: HTTP status`);
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await sleep(100);
  }
}

async function auditLog(dataDir: string): Promise<{ events: KmsAuditEvent[]; unreadable: number[] }> {
  const unreadable: number[] = [];
  const events: KmsAuditEvent[] = [];
  for await (const e of readAuditLog(join(dataDir, AUDIT_LOG_FILE), {}, { onUnreadable: (n) => unreadable.push(n) })) events.push(e);
  return { events, unreadable };
}

describe('disk full', () => {
  let tmpfs: TmpfsMount | undefined;
  let mount: string | undefined;
  let skipReason: string | undefined;
  const servers: TestServer[] = [];
  let server: TestServer | undefined;
  let s3: S3Client;
  let dataDir: string;

  before(() => {
    const m = mountTmpfs('coffer-diskfull-', '24m');
    if ('skip' in m) {
      skipReason = `cannot fill a small filesystem: ${m.skip}`;
      return;
    }
    tmpfs = m;
    mount = m.dir;
    dataDir = join(m.dir, 'data');
  });

  after(async () => {
    for (const s of servers) await s.stop('SIGKILL');
    tmpfs?.cleanup();
  });

  async function start(): Promise<void> {
    server = await startServer({ dataDir, ...keys, env });
    servers.push(server);
    s3 = server.client({ maxAttempts: 1 });
  }

  test('DiskFull_PutObject_fails_with_ServiceUnavailable_and_DeleteObject_frees_space', async (t) => {
    if (!mount) return t.skip(skipReason);
    await start();
    await s3.send(new CreateBucketCommand({ Bucket: 'full' }));

    // Uploads until the disk refuses one: that one, and every later one, is a clean 503.
    const body = Buffer.alloc(MiB, 7);
    let stored = 0;
    for (;; stored++) {
      assert.ok(stored < 24, 'a 24 MiB filesystem cannot take 24 MiB of objects');
      try {
        await s3.send(new PutObjectCommand({ Bucket: 'full', Key: `obj-${stored}`, Body: body }));
      } catch (err) {
        assertStorageFull(err, `PUT #${stored}`);
        break;
      }
    }
    assert.ok(stored >= 8, `stored ${stored} objects before the disk filled`);
    // Whatever is left goes to another program's file: the disk is full to the last page.
    fillUp(join(mount, 'filler-1'));
    assert.ok(freeBytes(mount) < 4096, 'the filesystem is full');
    await assert.rejects(s3.send(new PutObjectCommand({ Bucket: 'full', Key: 'small', Body: 'x' })), (err) => (assertStorageFull(err, 'small PUT'), true));
    await assert.rejects(s3.send(new PutObjectCommand({ Bucket: 'full', Key: 'more', Body: body })), (err) => (assertStorageFull(err, 'PUT'), true));

    // Reads still work.
    const got = await s3.send(new GetObjectCommand({ Bucket: 'full', Key: 'obj-0' }));
    assert.deepEqual(Buffer.from(await got.Body!.transformToByteArray()), body);

    // Deletes commit, and their blobs are unlinked at once: the space comes back.
    const before = freeBytes(mount);
    const deleted = 10;
    for (let i = 0; i < deleted; i++) {
      const r = await s3.send(new DeleteObjectCommand({ Bucket: 'full', Key: `obj-${i}` }));
      assert.equal(r.$metadata.httpStatusCode, 204);
    }
    await until('the deleted objects’ space is free', 5000, async () => (freeBytes(mount!) - before >= (deleted - 1) * MiB ? true : undefined));
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'full' }));
    assert.deepEqual(
      (listed.Contents ?? []).map((o) => o.Key).sort(),
      Array.from({ length: stored - deleted }, (_, i) => `obj-${i + deleted}`).sort(),
    );

    // With room for the reserve again, uploads are accepted again.
    await until('a PUT succeeds again', 10_000, async () => {
      try {
        await s3.send(new PutObjectCommand({ Bucket: 'full', Key: 'after', Body: body }));
        return true;
      } catch (err) {
        assertStorageFull(err, 'PUT while space comes back');
        return undefined;
      }
    });
    assert.ok(existsSync(join(dataDir, '.reserve')), 'the reserve is made again');
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'full', Key: 'after' }));
    assert.equal(head.ContentLength, MiB);
  });

  test('DiskFull_restart_on_a_full_filesystem_serves_GET_LIST_and_DELETE', async (t) => {
    if (!mount) return t.skip(skipReason);
    assert.ok(server, 'the first test started the server');
    await server.stop();
    // Full again, with the server down (its -shm and -wal files are gone: opening the
    // database has to make them again).
    fillUp(join(mount, 'filler-2'));
    assert.ok(freeBytes(mount) < 4096, 'the filesystem is full');
    await start();

    const got = await s3.send(new GetObjectCommand({ Bucket: 'full', Key: 'after' }));
    assert.equal((await got.Body!.transformToByteArray()).length, MiB);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'full' }));
    assert.ok((listed.Contents ?? []).some((o) => o.Key === 'after'));
    await assert.rejects(s3.send(new PutObjectCommand({ Bucket: 'full', Key: 'refused', Body: 'x' })), (err) => (assertStorageFull(err, 'PUT after restart'), true));
    const beforeDelete = freeBytes(mount);
    const r = await s3.send(new DeleteObjectCommand({ Bucket: 'full', Key: 'obj-10' }));
    assert.equal(r.$metadata.httpStatusCode, 204);
    await assert.rejects(s3.send(new HeadObjectCommand({ Bucket: 'full', Key: 'obj-10' })), (err: SdkError) => err.$metadata?.httpStatusCode === 404);
    // Its blob goes after the collector's grace period (COFFER_GC_GRACE_MS): wait for that
    // space here, or it would come back in the middle of the next test, after that test
    // filled the disk, and give the KMS calls there room they are meant not to have.
    await until('the deleted object’s space is free', 5000, async () => (freeBytes(mount!) - beforeDelete >= MiB - 64 * 1024 ? true : undefined));
  });

  test('DiskFull_KMS_calls_succeed_with_their_audit_record_or_fail_with_KMSInternalException', async (t) => {
    if (!mount) return t.skip(skipReason);
    assert.ok(server, 'the earlier tests started the server');
    const kms: KMSClient = kmsClient(server);
    const key = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const blob = (await kms.send(new EncryptCommand({ KeyId: key, Plaintext: Buffer.from('secret') }))).CiphertextBlob!;
    // Not a byte left: not even the space the reserve gave back.
    fillUp(join(mount, 'filler-3'));
    assert.ok(freeBytes(mount) < 4096, 'the filesystem is full');

    const succeeded: string[] = [];
    let failed = 0;
    for (let i = 0; i < 60; i++) {
      try {
        const r =
          i % 2 === 0
            ? await kms.send(new GenerateDataKeyCommand({ KeyId: key, KeySpec: 'AES_256', EncryptionContext: { round: String(i) } }))
            : await kms.send(new DecryptCommand({ CiphertextBlob: blob }));
        succeeded.push(r.$metadata.requestId!);
      } catch (err) {
        const e = err as SdkError;
        assert.equal(e.name, 'KMSInternalException', `call ${i}: ${e.name}: ${e.message}`);
        assert.equal(e.$metadata?.httpStatusCode, 500);
        failed++;
      }
    }
    assert.ok(failed > 0, 'on a disk with no space left, audited calls fail');
    // An S3 request that needs the KMS fails cleanly too (its upload is refused first).
    await assert.rejects(
      s3.send(new PutObjectCommand({ Bucket: 'full', Key: 'kms', Body: 'x', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: key })),
      (err) => (assertStorageFull(err, 'SSE-KMS PUT'), true),
    );

    // Space comes back: calls succeed again, and go on being audited.
    for (const f of ['filler-1', 'filler-2', 'filler-3']) unlinkSync(join(mount, f));
    const later = await kms.send(new DecryptCommand({ CiphertextBlob: blob }));
    succeeded.push(later.$metadata.requestId!);

    // Every call that succeeded has its record, whole; a torn fragment spoils no record but itself.
    const { events } = await auditLog(dataDir);
    const audited = new Set(events.filter((e) => e.outcome === 'success').map((e) => e.requestId));
    for (const id of succeeded) assert.ok(audited.has(id), `the successful call ${id} is in the audit log`);

    // The next start cuts a torn tail off; the log then reads with no record lost.
    await server.stop();
    await start();
    const afterRestart = await auditLog(dataDir);
    assert.deepEqual(
      afterRestart.events.map((e) => e.requestId),
      events.map((e) => e.requestId),
      'the repair cut nothing but a torn fragment',
    );
    const raw = readFileSync(join(dataDir, AUDIT_LOG_FILE), 'utf8');
    assert.ok(raw.endsWith('\n'), 'the log ends with a whole line');
  });
});
