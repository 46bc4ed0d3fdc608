/**
 * An object's data is bound to its identity (bucket, key, and the id of the
 * write that made it): whoever can edit the metadata store but not the keys
 * must not be able to make GET of one key answer with another object's
 * plaintext. Two objects are written in every mode (and as multipart uploads,
 * copies, and across buckets); with the server stopped, their rows' documents
 * are swapped directly in coffer.db; after a restart each GET fails — an
 * error, logged as an integrity failure — instead of returning the other's bytes.
 * The real server, driven by @aws-sdk/client-s3 and client-kms.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutBucketEncryptionCommand,
  PutObjectCommand,
  UpdateObjectEncryptionCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { CreateKeyCommand } from '@aws-sdk/client-kms';
import { randomBytesSeeded } from '../helpers/data.js';
import { kmsClient } from '../helpers/kms.js';
import { bodyBytes, expectS3Error, type SdkError } from '../helpers/s3.js';
import { startServer, type TestServer } from '../helpers/server.js';

const CUSTOMER_KEY = 'customer-key-0123456789abcdefXYZ'; // 32 bytes: the same for A and B, so only the binding can tell them apart
const MIN_PART = 100_000;
const SIZE = 2 * 65536 + 777;

interface Pair {
  name: string;
  /** Where A and B live: [bucket, key]. */
  a: [string, string];
  b: [string, string];
  /** Request fields that choose the encryption of a write. */
  put: Record<string, unknown>;
  /** Request fields a reader must send (SSE-C). */
  read: Record<string, unknown>;
  /** The S3 error a GET of a swapped row answers. */
  code: string;
  status: number;
  write: (s3: S3Client, p: Pair, which: 'a' | 'b', data: Buffer) => Promise<void>;
}

async function putSingle(s3: S3Client, p: Pair, which: 'a' | 'b', data: Buffer): Promise<void> {
  const [Bucket, Key] = p[which];
  await s3.send(new PutObjectCommand({ Bucket, Key, Body: data, ...p.put } as never));
}

async function putMultipart(s3: S3Client, p: Pair, which: 'a' | 'b', data: Buffer): Promise<void> {
  const [Bucket, Key] = p[which];
  const created = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key, ...p.put } as never));
  const pieces = [data.subarray(0, MIN_PART), data.subarray(MIN_PART)];
  const parts: { ETag: string; PartNumber: number }[] = [];
  for (const [i, Body] of pieces.entries()) {
    const up = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId: created.UploadId, PartNumber: i + 1, Body, ...p.read } as never));
    parts.push({ ETag: up.ETag!, PartNumber: i + 1 });
  }
  await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId: created.UploadId, MultipartUpload: { Parts: parts }, ...p.read } as never));
}

describe('object identity binding', () => {
  let server: TestServer;
  let s3: S3Client;
  let keyArn = '';
  const bucket = 'identity';
  const other = 'identity-other';
  const pairs: Pair[] = [];
  const contents = new Map<string, Buffer>();
  const read = async (p: Pair, which: 'a' | 'b') => {
    const [Bucket, Key] = p[which];
    return bodyBytes(await s3.send(new GetObjectCommand({ Bucket, Key, ...p.read } as never)));
  };
  const dataOf = (p: Pair, which: 'a' | 'b') => contents.get(`${p.name}/${which}`)!;
  const startOn = (dataDir?: string) =>
    startServer({ ...(dataDir ? { dataDir, accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey } : {}), args: ['--min-part-size', String(MIN_PART)] });

  before(async () => {
    server = await startOn();
    s3 = server.client();
    keyArn = (await kmsClient(server).send(new CreateKeyCommand({ Description: 'identity tests' }))).KeyMetadata!.Arn!;
    for (const b of [bucket, other]) {
      await s3.send(new CreateBucketCommand({ Bucket: b }));
      // SSE-C is blocked by default on new buckets (as in S3): allow it here.
      await s3.send(
        new PutBucketEncryptionCommand({
          Bucket: b,
          ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' }, BlockedEncryptionTypes: { EncryptionType: ['NONE'] } }] },
        }),
      );
    }
    const sseC = { SSECustomerAlgorithm: 'AES256', SSECustomerKey: CUSTOMER_KEY };
    const kms = { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: keyArn };
    const local = { code: 'InternalError', status: 500 };
    // Without a bucket key the KMS itself refuses: the object ARN is the data key's encryption context (as in S3).
    const byKms = { code: 'KMS.InvalidCiphertextException', status: 400 };
    const same = (name: string): Pick<Pair, 'a' | 'b'> => ({ a: [bucket, `${name}/a`], b: [bucket, `${name}/b`] });
    pairs.push(
      { name: 'sse_s3', ...same('sse_s3'), put: { ServerSideEncryption: 'AES256' }, read: {}, ...local, write: putSingle },
      { name: 'sse_s3_across_buckets', a: [bucket, 'across'], b: [other, 'across'], put: {}, read: {}, ...local, write: putSingle },
      { name: 'sse_kms_bucket_key', ...same('sse_kms_bucket_key'), put: { ...kms, BucketKeyEnabled: true }, read: {}, ...local, write: putSingle },
      { name: 'sse_kms', ...same('sse_kms'), put: kms, read: {}, ...byKms, write: putSingle },
      { name: 'dsse_kms', ...same('dsse_kms'), put: { ...kms, ServerSideEncryption: 'aws:kms:dsse' }, read: {}, ...byKms, write: putSingle },
      { name: 'sse_c', ...same('sse_c'), put: sseC, read: sseC, ...local, write: putSingle },
      { name: 'multipart_sse_s3', ...same('multipart_sse_s3'), put: {}, read: {}, ...local, write: putMultipart },
      { name: 'multipart_sse_kms_bucket_key', ...same('multipart_sse_kms_bucket_key'), put: { ...kms, BucketKeyEnabled: true }, read: {}, ...local, write: putMultipart },
      { name: 'multipart_sse_c', ...same('multipart_sse_c'), put: sseC, read: sseC, ...local, write: putMultipart },
    );
    let seed = 1;
    for (const p of pairs) {
      for (const which of ['a', 'b'] as const) {
        const data = randomBytesSeeded(seed++, SIZE);
        contents.set(`${p.name}/${which}`, data);
        await p.write(s3, p, which, data);
      }
    }
  });
  after(async () => {
    await server?.destroy();
    // The restarted server was given the data dir, so destroy() left it.
    rmSync(server.dataDir, { recursive: true, force: true });
  });

  /** Swaps the documents of two object rows in coffer.db, with the server stopped, and starts it again. */
  async function swapDocuments(rows: [[string, string], [string, string]][]): Promise<void> {
    const dataDir = server.dataDir;
    await server.stop();
    const db = new Database(join(dataDir, 'coffer.db'));
    try {
      const get = db.prepare('SELECT doc FROM objects WHERE bucket = ? AND key = ?');
      const set = db.prepare('UPDATE objects SET doc = ? WHERE bucket = ? AND key = ?');
      db.transaction(() => {
        for (const [[ba, ka], [bb, kb]] of rows) {
          const docA = (get.get(ba, Buffer.from(ka)) as { doc: string } | undefined)?.doc;
          const docB = (get.get(bb, Buffer.from(kb)) as { doc: string } | undefined)?.doc;
          assert.ok(docA !== undefined && docB !== undefined, `rows ${ba}/${ka} and ${bb}/${kb} exist`);
          assert.notEqual(docA, docB);
          assert.equal(set.run(docB, ba, Buffer.from(ka)).changes, 1);
          assert.equal(set.run(docA, bb, Buffer.from(kb)).changes, 1);
        }
      })();
    } finally {
      db.close();
    }
    const restarted = await startOn(dataDir);
    server = restarted;
    // No retries: an InternalError is what the test expects, once.
    s3 = server.client({ maxAttempts: 1 });
  }

  test('every_pair_reads_back_before_the_swap', async () => {
    for (const p of pairs) {
      assert.deepEqual(await read(p, 'a'), dataOf(p, 'a'), `${p.name} A`);
      assert.deepEqual(await read(p, 'b'), dataOf(p, 'b'), `${p.name} B`);
    }
  });

  test('CopyObject_and_UpdateObjectEncryption_keep_an_object_readable', async () => {
    // A copy is re-encrypted under its own identity, and UpdateObjectEncryption re-wraps
    // the data key without touching the data: both must still read back.
    const source = pairs.find((p) => p.name === 'sse_s3')!;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'copy-source', Body: dataOf(source, 'a') }));
    await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copied', CopySource: `${bucket}/copy-source` }));
    assert.deepEqual(await bodyBytes(await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'copied' }))), dataOf(source, 'a'));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'updated', Body: dataOf(source, 'b') }));
    await s3.send(new UpdateObjectEncryptionCommand({ Bucket: bucket, Key: 'updated', ObjectEncryption: { SSEKMS: { KMSKeyArn: keyArn, BucketKeyEnabled: true } } }));
    assert.deepEqual(await bodyBytes(await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'updated' }))), dataOf(source, 'b'));
  });

  test('swapped_documents_fail_the_GET_in_every_mode_never_answering_the_other_plaintext', async () => {
    // A control object, not swapped, proves the restarted server still reads.
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'control', Body: 'still here' }));
    const swaps: [[string, string], [string, string]][] = pairs.map((p) => [p.a, p.b]);
    // A copy and its source: the same plaintext, but each is bound to its own identity.
    swaps.push([[bucket, 'copied'], [bucket, 'copy-source']]);
    await swapDocuments(swaps);
    const logBefore = server.output().length;
    assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'control' }))).Body!.transformToString(), 'still here');
    // What each GET answered: an error code and status, or whose plaintext came back.
    const outcome = async (p: Pair, which: 'a' | 'b', range?: string): Promise<string> => {
      const [Bucket, Key] = p[which];
      try {
        const body = await bodyBytes(await s3.send(new GetObjectCommand({ Bucket, Key, ...(range ? { Range: range } : {}), ...p.read } as never)));
        const whose = (['a', 'b'] as const).find((w) => body.equals(range ? dataOf(p, w).subarray(MIN_PART + 10, MIN_PART + 21) : dataOf(p, w)));
        return `200 with ${whose === undefined ? 'unknown bytes' : whose === which ? 'its own plaintext' : "the other object's plaintext"}`;
      } catch (err) {
        const e = err as SdkError;
        return `${e.$metadata?.httpStatusCode} ${e.name}`;
      }
    };
    const got: Record<string, string> = {};
    const expected: Record<string, string> = {};
    for (const p of pairs) {
      for (const which of ['a', 'b'] as const) {
        got[`${p.name} ${which}`] = await outcome(p, which);
        // A range inside the second package (and the second part of a multipart object): never the other's bytes either.
        got[`${p.name} ${which} range`] = await outcome(p, which, `bytes=${MIN_PART + 10}-${MIN_PART + 20}`);
        expected[`${p.name} ${which}`] = expected[`${p.name} ${which} range`] = `${p.status} ${p.code}`;
      }
    }
    assert.deepEqual(got, expected);
    for (const Key of ['copied', 'copy-source']) await expectS3Error(s3.send(new GetObjectCommand({ Bucket: bucket, Key })), 'InternalError', 500);
    const integrityLines = server
      .output()
      .slice(logBefore)
      .split('\n')
      .filter((l) => l.includes('integrity failure'));
    for (const p of pairs.filter((x) => x.code === 'InternalError')) {
      for (const [b, k] of [p.a, p.b]) {
        const wanted = `"bucket":${JSON.stringify(b)},"key":${JSON.stringify(k)}`;
        assert.ok(integrityLines.some((l) => l.includes(wanted)), `an integrity failure logged for ${b}/${k}`);
      }
    }
    assert.deepEqual(await bodyBytes(await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'updated' }))), dataOf(pairs.find((p) => p.name === 'sse_s3')!, 'b'), 'an object not swapped still reads');
  });
});
