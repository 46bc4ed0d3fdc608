/**
 * GETs racing overwrites and deletes of the same key (issue #22, item 3): a read
 * gets the old object whole or the new one whole (or NoSuchKey), never a 5xx,
 * and never a body cut at the next part of a multipart object because the
 * blob collector deleted the replaced object's blobs under it. Run with one
 * worker and with two (two collectors sharing the data dir), with a short grace
 * period so that the collector really runs while the slow download goes on.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Readable } from 'node:stream';
import { after, describe, test, type TestContext } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { randomBytesSeeded } from '../helpers/data.js';
import { storedBlobIds, type SdkError } from '../helpers/s3.js';
import { startServer, type TestServer } from '../helpers/server.js';

const MiB = 1024 * 1024;
const BUCKET = 'races';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function waitUntil(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`${what}: not within ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** Uploads `parts` as one multipart object; returns the blob ids it added. */
async function putMultipart(server: TestServer, s3: S3Client, key: string, parts: Buffer[]): Promise<string[]> {
  const before = new Set(storedBlobIds(server.dataDir));
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }));
  const done: { PartNumber: number; ETag: string }[] = [];
  for (const [i, body] of parts.entries()) {
    const { ETag } = await s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId, PartNumber: i + 1, Body: body }));
    done.push({ PartNumber: i + 1, ETag: ETag! });
  }
  await s3.send(new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId, MultipartUpload: { Parts: done } }));
  return storedBlobIds(server.dataDir).filter((id) => !before.has(id));
}

/** A GET's outcome, as the race tests count them. */
type Outcome = { kind: 'whole'; version: number } | { kind: 'NoSuchKey' } | { kind: 'failed'; what: string };

async function getOnce(s3: S3Client, key: string, versions: Map<string, number>): Promise<Outcome> {
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    const body = Buffer.from(await out.Body!.transformToByteArray());
    const version = versions.get(sha(body));
    if (version === undefined) return { kind: 'failed', what: `200 with ${body.length} bytes matching no version written (Content-Length ${out.ContentLength})` };
    return { kind: 'whole', version };
  } catch (err) {
    const e = err as SdkError;
    if (e.name === 'NoSuchKey' && e.$metadata?.httpStatusCode === 404) return { kind: 'NoSuchKey' };
    return { kind: 'failed', what: `${e.$metadata?.httpStatusCode ?? 'no status'} ${e.name}: ${e.message}` };
  }
}

interface RaceFigures {
  writes: number;
  gets: number;
  whole: number;
  noSuchKey: number;
  /** Outcomes `allowed` let through (with no grace period: SlowDown). */
  allowed: number;
  /** CopyObjects of the key that succeeded (each checked whole). */
  copies: number;
  failures: string[];
}

/**
 * PUTs versions of every size class (a row of small-blobs.db, a file, a bigger file)
 * onto one key and DELETEs it every fourth round, while `readers` loops GET it.
 * Bounded by `writes` rounds and `budgetMs`. With `copies`, also copies it meanwhile.
 */
async function raceOneKey(
  s3: S3Client,
  key: string,
  options: { writes: number; minWrites: number; budgetMs: number; readers: number; copies?: boolean; allowed?: (o: Outcome & { kind: 'failed' }) => boolean },
): Promise<RaceFigures> {
  const bodies = [700, 12 * 1024, 200 * 1024, 1.5 * MiB].map((size, i) => randomBytesSeeded(1000 + i, size));
  const versions = new Map(bodies.map((b, i) => [sha(b), i]));
  const figures: RaceFigures = { writes: 0, gets: 0, whole: 0, noSuchKey: 0, allowed: 0, copies: 0, failures: [] };
  const deadline = Date.now() + options.budgetMs;
  let writing = true;
  const writer = (async () => {
    try {
      // A loaded machine gets the time it needs for `minWrites` rounds, up to a hard cap.
      const enough = (i: number) => Date.now() < deadline || (i < options.minWrites && Date.now() < deadline + 10_000);
      for (let i = 0; i < options.writes && enough(i); i++) {
        await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: bodies[i % bodies.length]! }));
        if (i % 4 === 3) await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
        figures.writes++;
      }
    } finally {
      writing = false;
    }
  })();
  const reader = async () => {
    // Also bounded by count, should the writer stall.
    for (let n = 0; writing && n < 5000 && Date.now() < deadline + 15_000; n++) {
      const o = await getOnce(s3, key, versions);
      figures.gets++;
      if (o.kind === 'whole') figures.whole++;
      else if (o.kind === 'NoSuchKey') figures.noSuchKey++;
      else if (options.allowed?.(o)) figures.allowed++;
      else figures.failures.push(o.what);
    }
  };
  // CopyObject reads its source as a GET does: the copy is one whole version too.
  const copier = async () => {
    for (let n = 0; writing && n < 1000 && Date.now() < deadline + 15_000; n++) {
      try {
        await s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: `${key}-copy`, CopySource: `${BUCKET}/${key}` }));
      } catch (err) {
        const e = err as SdkError;
        const what = `${e.$metadata?.httpStatusCode ?? 'no status'} ${e.name}: ${e.message}`;
        if (options.allowed?.({ kind: 'failed', what })) figures.allowed++;
        else if (e.name !== 'NoSuchKey') figures.failures.push(`CopyObject: ${what}`);
        continue;
      }
      figures.copies++;
      const o = await getOnce(s3, `${key}-copy`, versions);
      if (o.kind !== 'whole') figures.failures.push(`the copy: ${o.kind === 'failed' ? o.what : o.kind}`);
    }
  };
  await Promise.all([writer, ...Array.from({ length: options.readers }, reader), ...(options.copies ? [copier()] : [])]);
  return figures;
}

interface DownloadSetup {
  whole: Buffer;
  mpBlobs: string[];
  markerBlob: string;
}

/**
 * A multipart object (~11.5 MiB, three parts) to download, and another multipart object to
 * tell when the collector has run. The marker has two blobs, so its blobs wait for the grace
 * period as the download's do: those of a one-blob object go at once (metadata-rules.ts
 * collectableAtOnce) and would tell nothing.
 */
async function setUpDownload(server: TestServer, s3: S3Client): Promise<DownloadSetup> {
  const parts = [randomBytesSeeded(1, 5 * MiB), randomBytesSeeded(2, 5 * MiB), randomBytesSeeded(3, 1.5 * MiB)];
  const mpBlobs = await putMultipart(server, s3, 'mp', parts);
  assert.equal(mpBlobs.length, 3, 'one blob per part');
  const markerBlobs = await putMultipart(server, s3, 'marker', [randomBytesSeeded(4, 5 * MiB), randomBytesSeeded(6, 100 * 1024)]);
  assert.equal(markerBlobs.length, 2);
  return { whole: Buffer.concat(parts), mpBlobs, markerBlob: markerBlobs[0]! };
}

/**
 * Starts a download of the multipart object and after its first bytes overwrites and
 * then deletes it; waits (the server's send blocked on the unread body, short of the
 * second part) until the collector has deleted a blob queued after the download's, so
 * those would be gone too were they not held, then reads the rest. The download must
 * be the first object, whole.
 */
async function downloadWhileReplaced(t: TestContext, server: TestServer, s3: S3Client, setup: DownloadSetup): Promise<void> {
  const { whole, mpBlobs, markerBlob } = setup;
  const out = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'mp' }));
  assert.equal(out.ContentLength, whole.length);
  const chunks: Buffer[] = [];
  let received = 0;
  const started = Date.now();
  let replaced = false;
  for await (const chunk of out.Body as Readable) {
    chunks.push(chunk as Buffer);
    received += (chunk as Buffer).length;
    if (!replaced) {
      replaced = true;
      // The key now holds another object, then nothing; `marker` goes last.
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'mp', Body: randomBytesSeeded(5, 1024) }));
      await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'mp' }));
      await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'marker' }));
      await waitUntil(() => !storedBlobIds(server.dataDir).includes(markerBlob), 10_000, 'the collector deletes the marker blob');
      t.diagnostic(`collector ran ${Date.now() - started} ms into the download, at byte ${received} of ${whole.length}`);
    }
  }
  const got = Buffer.concat(chunks);
  t.diagnostic(`download took ${Date.now() - started} ms`);
  assert.equal(got.length, whole.length, 'the whole object');
  assert.ok(got.equals(whole), 'byte for byte the object the GET resolved');
  // Its blobs were only held: once the download is over they are collected.
  await waitUntil(() => storedBlobIds(server.dataDir).every((id) => !mpBlobs.includes(id)), 10_000, 'the held blobs are collected after the download');
}

describe('GET racing overwrite and delete', () => {
  const servers: TestServer[] = [];
  after(async () => {
    for (const s of servers) await s.destroy();
  });

  async function serve(env: NodeJS.ProcessEnv, workers: number): Promise<{ server: TestServer; s3: S3Client }> {
    const server = await startServer({ env: { COFFER_GC_INTERVAL_MS: '100', ...env }, args: ['--workers', String(workers)] });
    servers.push(server);
    // No SDK retries: a 500 or a cut body must be seen, not retried away.
    const s3 = server.client({ maxAttempts: 1 });
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    return { server, s3 };
  }

  for (const workers of [1, 2]) {
    test(`GetObject_racing_PutObject_and_DeleteObject_gets_one_whole_version_${workers}_worker${workers > 1 ? 's' : ''}`, async (t) => {
      const { server, s3 } = await serve({ COFFER_GC_GRACE_MS: '1000' }, workers);
      const setup = await setUpDownload(server, s3);
      const [figures] = await Promise.all([raceOneKey(s3, 'k', { writes: 150, minWrites: 10, budgetMs: 3000, readers: 3, copies: true }), downloadWhileReplaced(t, server, s3, setup)]);
      t.diagnostic(JSON.stringify({ ...figures, failures: figures.failures.length }));
      assert.deepEqual(figures.failures.slice(0, 10), [], `${figures.failures.length} of ${figures.gets} GETs failed`);
      assert.ok(figures.writes >= 10 && figures.whole >= 10, 'the race really ran');
    });
  }

  // With COFFER_GC_GRACE_MS=0 a blob can go between a GET's metadata read and its open:
  // the GET then resolves the key again rather than answer 500.
  test('GetObject_racing_writes_with_no_grace_period_never_answers_500', async (t) => {
    const { s3 } = await serve({ COFFER_GC_GRACE_MS: '0' }, 1);
    // Before the fix about one GET in twenty answered 500 here.
    const figures = await raceOneKey(s3, 'k', { writes: 200, minWrites: 20, budgetMs: 3000, readers: 4, allowed: (o) => o.what.startsWith('503 SlowDown') });
    t.diagnostic(JSON.stringify({ ...figures, failures: figures.failures.length }));
    assert.deepEqual(figures.failures.slice(0, 10), [], `${figures.failures.length} of ${figures.gets} GETs failed`);
    assert.ok(figures.writes >= 20 && figures.whole >= 20, 'the race really ran');
  });

  // CopyObject reads its source as a GET does, and can lose the same race: with no grace period
  // its source blob can go between the copy's metadata read and its open. The copy then resolves
  // the source again (object.ts retryingLostBlob) rather than answer 500. The window is a
  // millisecond or so and a collector round must fall into it, so most runs here never hit it;
  // test/unit/lost-blob-retry.test.ts pins the retry itself.
  test('CopyObject_racing_writes_to_its_source_with_no_grace_period_never_answers_500', async (t) => {
    const { s3 } = await serve({ COFFER_GC_GRACE_MS: '0' }, 1);
    const figures = await raceOneKey(s3, 'c', { writes: 200, minWrites: 20, budgetMs: 3000, readers: 1, copies: true, allowed: (o) => o.what.startsWith('503 SlowDown') });
    t.diagnostic(JSON.stringify({ ...figures, failures: figures.failures.length }));
    assert.deepEqual(figures.failures.slice(0, 10), [], `${figures.failures.length} GETs or copies failed`);
    assert.ok(figures.writes >= 20 && figures.copies >= 10, 'the race really ran');
  });

  // Only a zero grace period lets a part blob go while the object is streamed: the
  // response is then cut (the client sees fewer bytes than Content-Length and an error),
  // never ended as if complete.
  test('GetObject_of_multipart_object_whose_next_part_is_collected_mid_stream_is_aborted', async () => {
    const { server, s3 } = await serve({ COFFER_GC_GRACE_MS: '0' }, 1);
    const parts = [randomBytesSeeded(7, 5 * MiB), randomBytesSeeded(8, 5 * MiB), randomBytesSeeded(9, 1.5 * MiB)];
    const total = parts.reduce((n, p) => n + p.length, 0);
    const mpBlobs = await putMultipart(server, s3, 'cut', parts);
    const out = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'cut' }));
    const body = out.Body as Readable;
    // A response ended short on a kept-alive connection would leave the body waiting forever.
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      body.destroy(new Error('timed out waiting for the rest of the body'));
    }, 15_000);
    let received = 0;
    let deleted = false;
    const read = (async () => {
      for await (const chunk of body) {
        received += (chunk as Buffer).length;
        if (!deleted) {
          deleted = true;
          await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'cut' }));
          await waitUntil(() => storedBlobIds(server.dataDir).every((id) => !mpBlobs.includes(id)), 10_000, 'the part blobs are collected');
        }
      }
    })();
    await assert.rejects(read, 'the body stream fails');
    clearTimeout(timer);
    assert.equal(timedOut, false, 'the server cut the connection rather than end the response short');
    assert.ok(received < total, `received ${received} of ${total} bytes`);
  });
});
