/**
 * The storage backend failing underneath a running server, for real (issue #19,
 * the fault suite): the data dir lives on an ext4 volume (a loop device whose
 * image is on a tmpfs) that the tests fail — ext4 turns itself read-only, as
 * errors=remount-ro does on a real I/O error —, unmount and mount again, and
 * whose blob directory they move away while a GET streams. Every request must
 * then answer S3's 503 ServiceUnavailable (never 500, never a crash), nothing
 * acknowledged may be lost or altered, nothing refused may appear, a GET whose
 * blob fails mid-stream must be cut (never a short 200), and once the volume is
 * back the same process serves again without a restart.
 *
 * Mounting needs root, loop devices and mkfs.ext4 (CI has them); elsewhere the
 * tests are skipped, saying why.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, renameSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { GenerateDataKeyCommand } from '@aws-sdk/client-kms';
import Database from 'better-sqlite3';
import { SqliteMetadataStore } from '../../src/metadata/sqlite/sqlite-store.js';
import { SqliteBlobStore } from '../../src/blob/sqlite/sqlite-blob-store.js';
import { isBackendUnavailable } from '../../src/errors/backend-unavailable.js';
import { randomBytesSeeded } from '../helpers/data.js';
import { kmsClient } from '../helpers/kms.js';
import { mountExt4, type Ext4Volume } from '../helpers/mounts.js';
import { bodyBytes, expectS3Error, md5Hex } from '../helpers/s3.js';
import { startServer, type TestServer } from '../helpers/server.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const keys = { accessKeyId: 'BACKENDGONEKEY', secretAccessKey: 'backend-gone-secret-0123456789' };
const env = { COFFER_RESERVE_BYTES: String(MiB), COFFER_GC_INTERVAL_MS: '200' };

/** Blob files under a FsBlobStore's blobs/ directory. */
function blobFiles(dir: string): number {
  return readdirSync(dir).reduce((n, shard) => n + readdirSync(join(dir, shard)).length, 0);
}

async function until(what: string, timeoutMs: number, probe: () => boolean): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await sleep(100);
  }
}

/** `p`, whose failure says what it was doing (SDK errors carry no test line). */
async function labelled<T>(what: string, p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof Error) err.message = `${what}: ${err.message}`;
    throw err;
  }
}

function unavailable(p: Promise<unknown>): Promise<unknown> {
  return expectS3Error(p, 'ServiceUnavailable', 503);
}

describe('storage backend unavailable', () => {
  let volume: Ext4Volume | undefined;
  let skipReason: string | undefined;
  let server: TestServer | undefined;
  let s3: S3Client;
  /** Every object the server acknowledged, with its bytes. */
  const acknowledged = new Map<string, Buffer>();

  before(() => {
    const v = mountExt4('coffer-backend-', 128);
    if ('skip' in v) skipReason = v.skip;
    else volume = v;
  });

  after(async () => {
    await server?.stop('SIGKILL');
    volume?.cleanup();
  });

  async function put(key: string, body: Buffer, extra: Partial<ConstructorParameters<typeof PutObjectCommand>[0]> = {}): Promise<void> {
    await labelled(`PUT ${key}`, s3.send(new PutObjectCommand({ Bucket: 'vol', Key: key, Body: body, ...extra })));
    acknowledged.set(key, body);
  }

  async function putMultipart(key: string, parts: Buffer[]): Promise<void> {
    const { UploadId } = await labelled(`CreateMultipartUpload ${key}`, s3.send(new CreateMultipartUploadCommand({ Bucket: 'vol', Key: key })));
    const done = [];
    for (const [i, body] of parts.entries()) {
      const r = await labelled(`UploadPart ${key} ${i + 1}`, s3.send(new UploadPartCommand({ Bucket: 'vol', Key: key, UploadId, PartNumber: i + 1, Body: body })));
      done.push({ PartNumber: i + 1, ETag: r.ETag! });
    }
    await labelled(`CompleteMultipartUpload ${key}`, s3.send(new CompleteMultipartUploadCommand({ Bucket: 'vol', Key: key, UploadId, MultipartUpload: { Parts: done } })));
    acknowledged.set(key, Buffer.concat(parts));
  }

  async function assertAcknowledgedIntact(what: string): Promise<void> {
    for (const [key, body] of acknowledged) {
      const got = await labelled(`${what}: GET ${key}`, s3.send(new GetObjectCommand({ Bucket: 'vol', Key: key })).then(bodyBytes));
      assert.equal(got.length, body.length, `${what}: ${key} has its length`);
      assert.equal(md5Hex(got), md5Hex(body), `${what}: ${key} reads back byte for byte`);
    }
  }

  /** The server's log records (pino JSON lines, of every process), from its start. */
  function logLines(): { level: number; msg: string }[] {
    const records: { level: number; msg: string }[] = [];
    for (const line of server!.output().split('\n')) {
      try {
        const r = JSON.parse(line) as { level?: number; msg?: string };
        if (typeof r.msg === 'string' && typeof r.level === 'number') records.push(r as { level: number; msg: string });
      } catch {
        /* not a log record */
      }
    }
    return records;
  }

  async function start(args: string[] = []): Promise<void> {
    server = await startServer({ dataDir: join(volume!.dir, 'data'), ...keys, env, args });
    s3 = server.client({ maxAttempts: 1 });
  }

  async function assertAlive(): Promise<void> {
    assert.equal(server!.proc.exitCode, null, 'the server process is still running');
    const health = await fetch(`${server!.url}/_coffer/health`);
    assert.equal(health.status, 200, 'the server answers its health check');
    // A failure that reached the catch-all handler, or a 500, would be a bug, not the backend's state.
    const bugs = logLines().filter((l) => l.msg === 'request failed' || l.msg.startsWith('unhandled rejection') || l.msg.startsWith('a worker died'));
    assert.deepEqual(bugs, [], 'no request failed as InternalError, no promise rejection went unhandled, no worker died');
    assert.ok(logLines().some((l) => l.msg === 'storage unavailable: answered 503'), 'each 503 is in the log for the operator');
  }

  test('BackendUnavailable_read_only_volume_answers_503_loses_nothing_and_recovers_after_remount_without_restart', async (t) => {
    if (!volume) return t.skip(skipReason);
    await start();
    const kms = kmsClient(server!, { maxAttempts: 1 });
    await s3.send(new CreateBucketCommand({ Bucket: 'vol' }));
    // One of each way an object is stored: a small blob (SQLite), a blob file, an SSE-KMS
    // object (its Decrypt is audited), a multipart object (a blob file per part).
    await put('small', randomBytesSeeded(1, 300));
    await put('file', randomBytesSeeded(2, 700 * KiB));
    await put('kms', randomBytesSeeded(3, 40 * KiB), { ServerSideEncryption: 'aws:kms' });
    await putMultipart('multi', [randomBytesSeeded(4, 5 * MiB), randomBytesSeeded(5, 123 * KiB)]);

    // The volume meets an I/O error and turns itself read-only: every write fails with EROFS.
    volume.fail();
    await unavailable(s3.send(new PutObjectCommand({ Bucket: 'vol', Key: 'ro-small', Body: 'x' })));
    await unavailable(s3.send(new PutObjectCommand({ Bucket: 'vol', Key: 'ro-file', Body: randomBytesSeeded(6, 300 * KiB) })));
    await unavailable(s3.send(new CreateMultipartUploadCommand({ Bucket: 'vol', Key: 'ro-multi' })));
    await unavailable(s3.send(new CreateBucketCommand({ Bucket: 'ro-bucket' })));
    await unavailable(s3.send(new DeleteObjectCommand({ Bucket: 'vol', Key: 'small' })));
    // Reads need no write, but for an SSE-KMS object's audited Decrypt, whose record cannot be written.
    const read = new Map(acknowledged);
    read.delete('kms');
    for (const [key, body] of read) {
      const got = await labelled(`read-only volume: GET ${key}`, s3.send(new GetObjectCommand({ Bucket: 'vol', Key: key })).then(bodyBytes));
      assert.equal(md5Hex(got), md5Hex(body), `read-only volume: ${key} reads back byte for byte`);
    }
    await unavailable(s3.send(new GetObjectCommand({ Bucket: 'vol', Key: 'kms' })));
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'vol' }));
    assert.deepEqual((listed.Contents ?? []).map((o) => o.Key).sort(), [...acknowledged.keys()].sort(), 'nothing refused is listed');
    await assertAlive();

    // The operator takes the failed volume away: the data dir is an empty mount point.
    volume.detach();
    assert.ok(!existsSync(join(volume.dir, 'data')), 'the data dir is gone with its volume');
    await unavailable(s3.send(new GetObjectCommand({ Bucket: 'vol', Key: 'file' })));
    // The small-blob database's connection still reads the detached volume: what it holds is served.
    assert.equal(md5Hex(await bodyBytes(await s3.send(new GetObjectCommand({ Bucket: 'vol', Key: 'small' })))), md5Hex(acknowledged.get('small')!));
    await unavailable(s3.send(new PutObjectCommand({ Bucket: 'vol', Key: 'gone-file', Body: randomBytesSeeded(7, 300 * KiB) })));
    await unavailable(s3.send(new PutObjectCommand({ Bucket: 'vol', Key: 'gone-small', Body: 'y' })));
    await unavailable(s3.send(new CreateBucketCommand({ Bucket: 'gone-bucket' })));
    assert.ok(!existsSync(join(volume.dir, 'data')), 'nothing made a new, empty data dir on the mount point');
    await assertAlive();

    // Checked and mounted again: the same process serves again, from its first request.
    volume.attachAgain();
    await put('after-small', randomBytesSeeded(8, 200));
    await put('after-file', randomBytesSeeded(9, 900 * KiB));
    await put('after-kms', randomBytesSeeded(10, 10 * KiB), { ServerSideEncryption: 'aws:kms' });
    await putMultipart('after-multi', [randomBytesSeeded(11, 5 * MiB), randomBytesSeeded(12, 1000)]);
    await s3.send(new CreateBucketCommand({ Bucket: 'after-bucket' }));
    const dataKey = await kms.send(new GenerateDataKeyCommand({ KeyId: 'alias/aws/s3', KeySpec: 'AES_256' }));
    assert.equal(dataKey.Plaintext?.length, 32, 'the KMS serves (and audits) again');
    await assertAcknowledgedIntact('after the remount');
    for (const key of ['ro-small', 'ro-file', 'ro-multi', 'gone-file', 'gone-small']) {
      await expectS3Error(s3.send(new HeadObjectCommand({ Bucket: 'vol', Key: key })), 'NotFound', 404);
    }
    const after = await s3.send(new ListObjectsV2Command({ Bucket: 'vol' }));
    assert.deepEqual((after.Contents ?? []).map((o) => o.Key).sort(), [...acknowledged.keys()].sort(), 'exactly the acknowledged objects are listed');
    const r = await s3.send(new DeleteObjectCommand({ Bucket: 'vol', Key: 'small' }));
    assert.equal(r.$metadata.httpStatusCode, 204);
    acknowledged.delete('small');
    await expectS3Error(s3.send(new HeadObjectCommand({ Bucket: 'vol', Key: 'small' })), 'NotFound', 404);
    await assertAlive();
  });

  test('BackendUnavailable_GET_whose_blob_store_vanishes_mid_stream_is_cut_never_a_short_200', async (t) => {
    if (!volume) return t.skip(skipReason);
    assert.ok(server, 'the first test started the server');
    // A first part larger than every socket buffer between server and client: while the
    // client does not read, the server is still inside it when the blob store goes away.
    const parts = [randomBytesSeeded(20, 24 * MiB), randomBytesSeeded(21, 64 * KiB)];
    await putMultipart('stream', parts);
    const total = parts[0]!.length + parts[1]!.length;
    const blobs = join(server.dataDir, 'blobs');

    const out = await s3.send(new GetObjectCommand({ Bucket: 'vol', Key: 'stream' }));
    assert.equal(out.ContentLength, total);
    const body = out.Body as Readable;
    const it = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    let received = (await it.next()).value!.length;
    // The blob directory disappears (moved away, as a failing mount or an operator's mistake does).
    renameSync(blobs, `${blobs}-away`);
    let failure: unknown;
    try {
      for (;;) {
        const r = await it.next();
        if (r.done) break;
        received += r.value.length;
      }
    } catch (err) {
      failure = err;
    }
    assert.ok(failure !== undefined, `the response must be cut, not end cleanly (got ${received} of ${total} bytes)`);
    assert.ok(received < total, `a cut response is short (${received} of ${total} bytes)`);

    // Asked now, the same object is 503 (the store is not there), not 404 or 500.
    await unavailable(s3.send(new GetObjectCommand({ Bucket: 'vol', Key: 'stream' })));
    await unavailable(s3.send(new GetObjectCommand({ Bucket: 'vol', Key: 'file' })));
    // An upload still succeeds, durably: its blob is written (and fsynced) to the staging
    // directory, which is there; it is read from there until a restart's recovery moves it.
    await put('while-away', randomBytesSeeded(22, 300 * KiB));
    assert.equal(md5Hex(await bodyBytes(await s3.send(new GetObjectCommand({ Bucket: 'vol', Key: 'while-away' })))), md5Hex(acknowledged.get('while-away')!));
    // A delete's blob cannot be removed from a store that is not there: the collector must not
    // count it gone (it would stay on the volume for good); it is removed once the store is back.
    const filesBefore = blobFiles(`${blobs}-away`);
    await s3.send(new DeleteObjectCommand({ Bucket: 'vol', Key: 'after-file' }));
    acknowledged.delete('after-file');
    await sleep(1500); // several collector rounds (COFFER_GC_INTERVAL_MS 200, grace 200 ms) while the store is away
    await assertAlive();

    renameSync(`${blobs}-away`, blobs);
    await until('the deleted object’s blob file is removed once the store is back', 30_000, () => blobFiles(blobs) === filesBefore - 1);
    const whole = await bodyBytes(await s3.send(new GetObjectCommand({ Bucket: 'vol', Key: 'stream' })));
    assert.equal(md5Hex(whole), md5Hex(Buffer.concat(parts)), 'once the store is back the object reads whole');
    await assertAcknowledgedIntact('after the blob store came back');
    await assertAlive();
  });

  test('BackendUnavailable_SQLite_stores_reconnect_after_their_volume_failed_and_was_mounted_again', async (t) => {
    if (!volume) return t.skip(skipReason);
    // The stores alone, on their own files, with the server stopped (it holds the volume too).
    await server!.stop();
    server = undefined;
    // (The next test starts a server of its own on the volume, healthy again at this test's end.)
    const dir = join(volume.dir, 'stores');
    mkdirSync(dir);
    const metadata = new SqliteMetadataStore({ path: join(dir, 'meta.db') });
    const blobs = new SqliteBlobStore({ path: join(dir, 'blobs.db') });
    try {
      await metadata.migrate();
      const bucket = (name: string) => ({ name, createdAt: 0, ownerId: 'o', region: 'us-east-1' });
      assert.equal(await metadata.createBucket(bucket('before')), true);
      const kept = await blobs.write((async function* () { yield Buffer.from('kept'); })());
      await kept.publish();

      volume.fail();
      await assert.rejects(metadata.createBucket(bucket('read-only')), (err) => isBackendUnavailable(err), 'a write on the read-only volume is "backend unavailable"');
      await assert.rejects(blobs.write((async function* () { yield Buffer.from('no'); })()), (err) => isBackendUnavailable(err));
      volume.detach();
      volume.attachAgain();

      // The old connections are bound to the dead mount; the stores make new ones by path.
      assert.equal(await metadata.createBucket(bucket('after')), true);
      assert.deepEqual((await metadata.listBuckets()).map((b) => b.name), ['after', 'before']);
      const later = await blobs.write((async function* () { yield Buffer.from('later'); })());
      await later.publish();
      const text = async (id: string) => {
        const chunks: Buffer[] = [];
        for await (const c of await blobs.read(id)) chunks.push(c);
        return Buffer.concat(chunks).toString();
      };
      assert.equal(await text(kept.blobId), 'kept');
      assert.equal(await text(later.blobId), 'later');
    } finally {
      await metadata.close().catch(() => {});
      await blobs.close().catch(() => {});
    }
  });
  test('BackendUnavailable_two_workers_under_concurrent_load_answer_503_and_both_recover', async (t) => {
    if (!volume) return t.skip(skipReason);
    assert.equal(server, undefined, 'the stores test stopped the first server');
    await start(['--workers', '2']);
    // Both workers serving before the volume fails (a worker that cannot start on a read-only
    // volume is another matter: it cannot open the KMS audit log for appending).
    await until('both workers are listening', 10_000, () => logLines().filter((l) => l.msg === 'listening').length === 2);
    // Many connections at once: the primary hands them to both workers.
    const readable = [...acknowledged.keys()].filter((k) => !k.includes('kms'));
    const load = (round: string) =>
      Promise.allSettled([
        ...Array.from({ length: 12 }, (_, i) => s3.send(new PutObjectCommand({ Bucket: 'vol', Key: `${round}-${i}`, Body: randomBytesSeeded(100 + i, i % 2 ? 200 : 200 * KiB) }))),
        ...readable.map((key) => s3.send(new GetObjectCommand({ Bucket: 'vol', Key: key })).then(bodyBytes)),
      ]);

    volume.fail();
    const during = await load('ro');
    for (const [i, r] of during.entries()) {
      if (i < 12) {
        assert.equal(r.status, 'rejected', `PUT ro-${i} on the read-only volume is refused`);
        assert.equal((r as PromiseRejectedResult).reason.name, 'ServiceUnavailable', `PUT ro-${i}: ${(r as PromiseRejectedResult).reason.message}`);
        assert.equal((r as PromiseRejectedResult).reason.$metadata.httpStatusCode, 503);
      } else {
        // A worker that has not yet used the object's data key must have the KMS decrypt it,
        // and that Decrypt cannot be audited on a read-only volume: 503, as for any write.
        const key = readable[i - 12]!;
        if (r.status === 'fulfilled') assert.equal(md5Hex(r.value as Buffer), md5Hex(acknowledged.get(key)!), `GET ${key} byte for byte`);
        else {
          assert.equal(r.reason.name, 'ServiceUnavailable', `GET ${key}: ${r.reason.message}`);
          assert.equal(r.reason.$metadata.httpStatusCode, 503);
        }
      }
    }
    await assertAlive();

    volume.detach();
    volume.attachAgain();
    // Enough requests that each worker meets the remounted volume, reconnects and serves.
    const after = await load('back');
    for (const [i, r] of after.entries()) assert.equal(r.status, 'fulfilled', `request ${i} after the remount: ${(r as PromiseRejectedResult).reason?.message}`);
    for (let i = 0; i < 12; i++) acknowledged.set(`back-${i}`, randomBytesSeeded(100 + i, i % 2 ? 200 : 200 * KiB));
    for (let i = 0; i < 12; i++) await expectS3Error(s3.send(new HeadObjectCommand({ Bucket: 'vol', Key: `ro-${i}` })), 'NotFound', 404);
    await assertAcknowledgedIntact('two workers, after the remount');
    await assertAlive();

    // Stopped, the databases are whole: no connection left on the failed mount deleted the
    // new mount's WAL or shared-memory index on its way out.
    await server!.stop();
    server = undefined;
    for (const file of ['coffer.db', 'small-blobs.db']) {
      const db: Database.Database = new Database(join(volume.dir, 'data', file), { readonly: true, fileMustExist: true });
      try {
        assert.equal(db.pragma('integrity_check', { simple: true }), 'ok', `${file} passes integrity_check`);
      } finally {
        db.close();
      }
    }
  });
});
