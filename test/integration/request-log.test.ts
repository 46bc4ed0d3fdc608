/**
 * One structured info line per request (issue 21, item 7): request id, who (access key id,
 * principal ARN), operation, bucket, key, status, bytes in and out, duration — and never a
 * secret: not the secret access key, not a signature (header or presigned), not SSE-C key
 * material.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { bodyBytes, expectS3Error } from '../helpers/s3.js';
import { startServer, type TestServer } from '../helpers/server.js';

interface RequestLine {
  msg: string;
  level: number;
  requestId: string;
  method: string;
  operation?: string;
  bucket?: string;
  key?: string;
  accessKeyId?: string;
  principal?: string;
  status: number;
  bytesIn: number;
  bytesOut: number;
  ms: number;
}

function requestLines(server: TestServer): RequestLine[] {
  const out: RequestLine[] = [];
  for (const line of server.output().split('\n')) {
    if (!line.startsWith('{')) continue;
    const parsed = JSON.parse(line) as RequestLine;
    if (parsed.msg === 'request') out.push(parsed);
  }
  return out;
}

describe('request log (issue 21 item 7)', () => {
  let server: TestServer;
  const body = randomBytes(3000);
  const customerKey = randomBytes(32);
  const signatures: string[] = [];

  before(async () => {
    server = await startServer({ args: ['--default-sse-c', 'allowed'], env: { COFFER_LOG_LEVEL: 'info' } });
    const s3 = server.client();
    // Every signature the client sends, to look for in the log afterwards.
    s3.middlewareStack.add(
      (next) => async (args) => {
        const auth = (args.request as { headers: Record<string, string> }).headers['authorization'];
        const m = auth && /Signature=([0-9a-f]{64})/.exec(auth);
        if (m) signatures.push(m[1]!);
        return next(args);
      },
      { step: 'finalizeRequest', name: 'collectSignatures', priority: 'low' },
    );
    await s3.send(new CreateBucketCommand({ Bucket: 'logged' }));
    await s3.send(new PutObjectCommand({ Bucket: 'logged', Key: 'dir/plain.bin', Body: body }));
    await bodyBytes(await s3.send(new GetObjectCommand({ Bucket: 'logged', Key: 'dir/plain.bin' })));
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: 'logged', Key: 'missing' })), 'NoSuchKey', 404);
    const sseC = {
      SSECustomerAlgorithm: 'AES256',
      SSECustomerKey: customerKey.toString('base64'),
      SSECustomerKeyMD5: createHash('md5').update(customerKey).digest('base64'),
    };
    await s3.send(new PutObjectCommand({ Bucket: 'logged', Key: 'secret.bin', Body: body, ...sseC }));
    await s3.send(new HeadObjectCommand({ Bucket: 'logged', Key: 'secret.bin', ...sseC }));
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'logged', Key: 'dir/plain.bin' }), { expiresIn: 300 });
    signatures.push(new URL(url).searchParams.get('X-Amz-Signature')!);
    const res = await fetch(url);
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    // The log line is written after the response: give the last one a moment to reach stdout.
    for (let i = 0; i < 50 && requestLines(server).filter((l) => l.operation === 'GetObject' && l.status === 200).length < 2; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  after(async () => {
    await server?.destroy();
  });

  test('PutObject and GetObject lines carry id, identity, operation, bucket, key, status, bytes and duration', () => {
    const lines = requestLines(server);
    const put = lines.find((l) => l.operation === 'PutObject' && l.key === 'dir/plain.bin');
    assert.ok(put, 'a PutObject line');
    assert.equal(put.level, 30, 'info');
    assert.match(put.requestId, /^[0-9A-F]{16}$/);
    assert.equal(put.method, 'PUT');
    assert.equal(put.bucket, 'logged');
    assert.equal(put.accessKeyId, server.accessKeyId);
    assert.match(put.principal ?? '', /^arn:aws:iam::\d{12}:root$/);
    assert.equal(put.status, 200);
    // The SDK sends the body aws-chunked with a checksum trailer: at least the object's bytes come in.
    assert.ok(put.bytesIn >= body.length, `bytesIn ${put.bytesIn}`);
    assert.equal(put.bytesOut, 0);
    assert.equal(typeof put.ms, 'number');
    assert.ok(put.ms >= 0);

    const gets = lines.filter((l) => l.operation === 'GetObject' && l.key === 'dir/plain.bin' && l.status === 200);
    assert.equal(gets.length, 2, 'the SDK GET and the presigned GET');
    for (const get of gets) {
      assert.equal(get.bytesOut, body.length);
      assert.equal(get.bytesIn, 0);
      assert.equal(get.accessKeyId, server.accessKeyId);
    }
    const ids = new Set(lines.map((l) => l.requestId));
    assert.equal(ids.size, lines.length, 'one line per request, each with its own id');
  });

  test('errors are logged with their status', () => {
    const missing = requestLines(server).find((l) => l.operation === 'GetObject' && l.key === 'missing');
    assert.ok(missing);
    assert.equal(missing.status, 404);
    assert.ok(missing.bytesOut > 0, 'the error document');
  });

  test('CreateBucket is logged with its bucket and no key; HeadObject of an SSE-C object too', () => {
    const lines = requestLines(server);
    const create = lines.find((l) => l.operation === 'CreateBucket');
    assert.equal(create?.bucket, 'logged');
    assert.equal(create?.key, undefined);
    const head = lines.find((l) => l.operation === 'HeadObject' && l.key === 'secret.bin');
    assert.equal(head?.status, 200);
  });

  test('the secret access key, signatures and SSE-C key material never appear in the output', () => {
    const output = server.output();
    assert.ok(signatures.length >= 6, `signatures collected: ${signatures.length}`);
    assert.ok(!output.includes(server.secretAccessKey), 'secret access key');
    for (const s of signatures) assert.ok(!output.includes(s), `signature ${s}`);
    assert.ok(!output.includes('Signature='), 'no Authorization header');
    assert.ok(!output.includes(customerKey.toString('base64')), 'SSE-C key (base64)');
    assert.ok(!output.includes(customerKey.toString('hex')), 'SSE-C key (hex)');
    assert.ok(!output.includes(createHash('md5').update(customerKey).digest('base64')), 'SSE-C key MD5');
  });
});
