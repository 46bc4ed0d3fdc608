/**
 * Requests an anonymous attacker can send, against a running server: none may
 * answer 5xx, and none may stall the worker for everyone else. While they are
 * sent, a second client polls /_coffer/health and every answer must come
 * within 100 ms.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { GetUserCommand, IAMClient } from '@aws-sdk/client-iam';
import { ListKeysCommand } from '@aws-sdk/client-kms';
import { CreateBucketCommand, GetObjectCommand, ListBucketsCommand, PutBucketPolicyCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { rejectsWithSdkError, kmsClient } from '../helpers/kms.js';
import { expectXmlError, queryString, rawRequest, s3Signer, xmlField } from '../helpers/raw-s3.js';
import { expectS3Error, filesUnder } from '../helpers/s3.js';
import { startServer, type TestServer } from '../helpers/server.js';

/** Polls the health endpoint on its own connection until stopped; reports the slowest answer. */
function healthMonitor(server: TestServer): { stop(): Promise<{ count: number; slowestMs: number; failures: number }> } {
  let running = true;
  let count = 0;
  let failures = 0;
  let slowestMs = 0;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const once = () =>
    new Promise<void>((resolve) => {
      const started = performance.now();
      const req = http.get({ host: '127.0.0.1', port: server.port, path: '/_coffer/health', agent }, (res) => {
        res.resume();
        res.on('end', () => {
          slowestMs = Math.max(slowestMs, performance.now() - started);
          count++;
          if (res.statusCode !== 200) failures++;
          resolve();
        });
      });
      req.on('error', () => {
        failures++;
        resolve();
      });
    });
  const loop = (async () => {
    while (running) {
      await once();
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      agent.destroy();
      return { count, slowestMs, failures };
    },
  };
}

describe('hostile clients (issue: denial of service open to anonymous clients)', () => {
  let server: TestServer;
  /** The root access key id with its last character replaced by `é`: same length, one byte longer in UTF-8. */
  let forgedKeyId = '';

  before(async () => {
    server = await startServer();
    forgedKeyId = `${server.accessKeyId.slice(0, -1)}é`;
    assert.equal(forgedKeyId.length, server.accessKeyId.length);
  });
  after(async () => {
    await server.destroy();
  });

  test('S3_non_ASCII_access_key_id_in_Authorization_is_InvalidAccessKeyId', async () => {
    // As S3: an unknown access key id is 403 InvalidAccessKeyId, whatever its characters.
    const forged = server.client({ credentials: { accessKeyId: forgedKeyId, secretAccessKey: server.secretAccessKey }, maxAttempts: 1 });
    await expectS3Error(forged.send(new ListBucketsCommand({})), 'InvalidAccessKeyId', 403);
    // The same by hand, so the exact bytes on the wire are known: é sent as one Latin-1 byte.
    const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    const res = await rawRequest(server, {
      method: 'GET',
      path: '/',
      headers: {
        'x-amz-date': amzDate,
        'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
        authorization: `AWS4-HMAC-SHA256 Credential=${forgedKeyId}/${amzDate.slice(0, 8)}/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=${'0'.repeat(64)}`,
      },
    });
    expectXmlError(res, 'InvalidAccessKeyId');
  });

  test('S3_non_ASCII_access_key_id_in_presigned_URL_is_InvalidAccessKeyId', async () => {
    const signed = await s3Signer(server, server.secretAccessKey, forgedKeyId).presign(
      { method: 'GET', protocol: 'http:', hostname: '127.0.0.1', port: server.port, path: '/', query: {}, headers: { host: `127.0.0.1:${server.port}` } },
      { expiresIn: 300 },
    );
    const res = await rawRequest(server, { method: 'GET', path: `/?${queryString(signed.query ?? {})}` });
    expectXmlError(res, 'InvalidAccessKeyId');
  });

  test('KMS_non_ASCII_access_key_id_is_UnrecognizedClientException', async () => {
    // AWS KMS answers an unknown access key with UnrecognizedClientException (400).
    const kms = kmsClient(server, { credentials: { accessKeyId: forgedKeyId, secretAccessKey: server.secretAccessKey } });
    await rejectsWithSdkError(kms.send(new ListKeysCommand({})), 'UnrecognizedClientException');
  });

  test('IAM_non_ASCII_access_key_id_is_InvalidClientTokenId', async () => {
    // AWS IAM answers an unknown access key with 403 InvalidClientTokenId.
    const iam = new IAMClient({ endpoint: server.url, region: 'us-east-1', credentials: { accessKeyId: forgedKeyId, secretAccessKey: server.secretAccessKey }, maxAttempts: 1 });
    await assert.rejects(iam.send(new GetUserCommand({})), (err: { name?: string; $metadata?: { httpStatusCode?: number } }) => {
      assert.equal(err.name, 'InvalidClientTokenId');
      assert.equal(err.$metadata?.httpStatusCode, 403);
      return true;
    });
  });

  test('bucket_policy_wildcards_against_keys_of_thousands_of_slashes_do_not_block_the_worker', async () => {
    const root = server.client();
    await root.send(new CreateBucketCommand({ Bucket: 'wild' }));
    await root.send(new PutObjectCommand({ Bucket: 'wild', Key: 'ok', Body: 'x' }));
    // Ten `*` separated by `/`: as a regular expression this backtracks exponentially on a key of many `/`.
    const resource = `arn:aws:s3:::wild/${Array(10).fill('*').join('/')}.tmp`;
    await root.send(
      new PutBucketPolicyCommand({
        Bucket: 'wild',
        Policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'NoTmp', Effect: 'Deny', Principal: '*', Action: 's3:GetObject', Resource: resource }] }),
      }),
    );

    const statuses: number[] = [];
    const hostileRound = async () => {
      // Within S3's key limit (1,024 bytes): evaluated, and denied (anonymous, nothing allows it).
      for (const n of [200, 1000, 1020]) {
        const res = await rawRequest(server, { method: 'GET', path: `/wild/${'/'.repeat(n)}` });
        statuses.push(res.status);
        expectXmlError(res, 'AccessDenied');
      }
      // Over the limit: S3's 400 KeyTooLongError, with the size and the limit, before any policy is read.
      const long = await rawRequest(server, { method: 'GET', path: `/wild/${'/'.repeat(5000)}` });
      statuses.push(long.status);
      expectXmlError(long, 'KeyTooLongError');
      assert.equal(xmlField(long.body, 'Size'), '5000');
      assert.equal(xmlField(long.body, 'MaxSizeAllowed'), '1024');
      // More of the same, with the forged access key ids in between.
      const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
      for (let i = 0; i < 20; i++) {
        const res = await rawRequest(server, { method: 'GET', path: `/wild/${'/'.repeat(1000)}x.tmp` });
        statuses.push(res.status);
        const forged = await rawRequest(server, {
          method: 'GET',
          path: '/wild',
          headers: {
            'x-amz-date': amzDate,
            'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
            authorization: `AWS4-HMAC-SHA256 Credential=${forgedKeyId}/${amzDate.slice(0, 8)}/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=${'0'.repeat(64)}`,
          },
        });
        statuses.push(forged.status);
      }
    };
    // A blocked event loop (the backtracking this guards against) stalls every round the same
    // way; a health check slowed by another test hogging this 2-core machine does not repeat.
    // So a round whose slowest check passes 100 ms is run once more, and that one must pass.
    let slowest = Infinity;
    for (let attempt = 0; attempt < 2 && slowest >= 100; attempt++) {
      const monitor = healthMonitor(server);
      await new Promise((r) => setTimeout(r, 50));
      try {
        await hostileRound();
      } finally {
        const health = await monitor.stop();
        assert.equal(health.failures, 0, 'every health check answered 200');
        assert.ok(health.count >= 3, `the monitor ran (${health.count} checks)`);
        slowest = health.slowestMs;
      }
    }
    assert.ok(slowest < 100, `slowest health check ${slowest.toFixed(1)} ms`);
    assert.deepEqual(
      statuses.filter((s) => s >= 500),
      [],
      'no 5xx',
    );
  });

  test('malformed_HTTP_gets_an_S3_XML_error_not_nodes_bare_400', async () => {
    const send = (bytes: string) =>
      new Promise<string>((resolve) => {
        const socket = net.connect({ host: '127.0.0.1', port: server.port });
        let data = '';
        socket.on('connect', () => socket.end(Buffer.from(bytes, 'latin1')));
        socket.on('data', (d: Buffer) => (data += d.toString('latin1')));
        socket.on('close', () => resolve(data));
        socket.on('error', () => resolve(data));
      });
    const cases: [string, string][] = [
      // S3: "RequestHeaderSectionTooLarge: Your request header section exceeds the maximum allowed size."
      [`GET / HTTP/1.1\r\nHost: x\r\nx-amz-meta-a: ${'a'.repeat(100_000)}\r\n\r\n`, 'RequestHeaderSectionTooLarge'],
      ['GET /b?a=\u00ff HTTP/1.1\r\nHost: x\r\n\r\n', 'InvalidURI'],
      ['PUT /b/k HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 5\r\n\r\nabcde', 'InvalidRequest'],
    ];
    for (const [bytes, code] of cases) {
      const reply = await send(bytes);
      assert.match(reply, /^HTTP\/1\.1 400 /, reply.slice(0, 200));
      assert.match(reply, /content-type: application\/xml/);
      assert.match(reply, new RegExp(`<Code>${code}</Code>`), reply);
    }
    // No Host header: path-style addressing needs none, so an anonymous request is judged like any other.
    const noHost = await send('GET /nobucket-here HTTP/1.1\r\n\r\n');
    assert.match(noHost, /<Code>(NoSuchBucket|AccessDenied)<\/Code>/, noHost.slice(0, 400));
    // An unknown expectation is ignored (RFC 9110 permits it), not answered with a bare 417.
    const expect = await rawRequest(server, { method: 'GET', path: '/_coffer/health', headers: { expect: 'x-unknown' } });
    assert.equal(expect.status, 200);
  });

  test('an_unexpected_failure_is_500_InternalError_in_S3_XML_with_no_stack_path_or_secret_and_the_request_id_logged', async () => {
    const root = server.client();
    await root.send(new CreateBucketCommand({ Bucket: 'broken' }));
    const body = randomBytes(100_000);
    await root.send(new PutObjectCommand({ Bucket: 'broken', Key: 'lost', Body: body }));
    // The object's blob file vanishes behind the server's back: not a client mistake, a lost file.
    const files = filesUnder(`${server.dataDir}/blobs`);
    assert.equal(files.length, 1, `one blob file (${files.join(', ')})`);
    rmSync(files[0]!);
    const signed = await s3Signer(server).sign({ method: 'GET', protocol: 'http:', hostname: '127.0.0.1', port: server.port, path: '/broken/lost', query: {}, headers: { host: `127.0.0.1:${server.port}`, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
    const got = await rawRequest(server, { method: 'GET', path: '/broken/lost', headers: signed.headers as Record<string, string> });
    expectXmlError(got, 'InternalError');
    const text = got.body.toString();
    assert.equal(xmlField(got.body, 'Message'), 'We encountered an internal error. Please try again.');
    for (const leak of [server.dataDir, 'blobs/', ' at ', 'Error:', 'ENOENT', server.secretAccessKey]) assert.ok(!text.includes(leak), `the response leaks ${JSON.stringify(leak)}: ${text}`);
    const requestId = String(got.headers['x-amz-request-id']);
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(server.output().includes(requestId), 'the server log names the request id');
    // And the worker serves on.
    await root.send(new PutObjectCommand({ Bucket: 'broken', Key: 'fine', Body: 'ok' }));
    const fine = await root.send(new GetObjectCommand({ Bucket: 'broken', Key: 'fine' }));
    assert.equal(await fine.Body!.transformToString(), 'ok');
  });
});
