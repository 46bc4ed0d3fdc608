/**
 * `GET /_coffer/metrics`: Prometheus text, behind `--metrics-token` when one is
 * set; counters that move with S3 and KMS requests; per-bucket usage kept by
 * the metadata store; and with `--workers 2`, every scrape — whichever worker
 * answers it — shows the sum over both workers.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, describe, test } from 'node:test';
import { CreateKeyCommand, DisableKeyCommand, EncryptCommand } from '@aws-sdk/client-kms';
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, HeadBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { kmsClient, rejectsWithSdkError } from '../helpers/kms.js';
import { bodyBytes } from '../helpers/s3.js';
import { startServer, workerPids, type TestServer } from '../helpers/server.js';

const TOKEN = 'metrics-token-0123456789abcdef';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format (the subset prom-client writes). */
function parse(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** The value of the sample with exactly these labels; 0 when there is none (a counter not yet moved). */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels);
  const hit = samples.find((s) => s.name === name && Object.keys(s.labels).length === want.length && want.every(([k, v]) => s.labels[k] === v));
  return hit?.value ?? 0;
}

/** One GET on a connection of its own (so that, with several workers, scrapes land on either). */
function get(server: TestServer, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${server.url}${path}`, { headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
}

async function scrape(server: TestServer, token?: string): Promise<Sample[]> {
  const res = await get(server, '/_coffer/metrics', token !== undefined ? { authorization: `Bearer ${token}` } : {});
  assert.equal(res.status, 200, res.body);
  assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  return parse(res.body);
}

describe('metrics', () => {
  const servers: TestServer[] = [];
  after(async () => {
    for (const s of servers) await s.destroy();
  });

  test('metrics_need_the_bearer_token_when_one_is_set', async () => {
    const server = await startServer({ env: { COFFER_METRICS_TOKEN: TOKEN } });
    servers.push(server);
    const none = await get(server, '/_coffer/metrics');
    assert.equal(none.status, 401);
    assert.equal(none.headers['www-authenticate'], 'Bearer realm="coffer-metrics"');
    assert.ok(!none.body.includes(TOKEN));
    assert.equal((await get(server, '/_coffer/metrics', { authorization: `Bearer ${TOKEN}x` })).status, 401);
    assert.equal((await get(server, '/_coffer/metrics', { authorization: `Bearer ${TOKEN.slice(0, -1)}` })).status, 401);
    assert.equal((await get(server, '/_coffer/metrics', { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` })).status, 401);
    const samples = await scrape(server, TOKEN);
    assert.ok(value(samples, 'process_resident_memory_bytes') > 0, 'default process metrics are there');
    assert.ok(samples.some((s) => s.name === 'nodejs_eventloop_lag_seconds'), 'event-loop lag is there');
    // Refused scrapes are counted like any request.
    assert.equal(value(samples, 'coffer_http_requests_total', { api: 'coffer', operation: 'Metrics', status_class: '4xx' }), 4);
    assert.ok(!server.output().includes(TOKEN), 'the token is never logged');
  });

  test('counters_move_with_S3_and_KMS_requests_and_bucket_usage_is_kept', async () => {
    const server = await startServer();
    servers.push(server);
    const s3 = server.client();
    const kms = kmsClient(server);
    const before = await scrape(server);
    assert.equal(value(before, 'coffer_http_requests_total', { api: 's3', operation: 'PutObject', status_class: '2xx' }), 0);

    await s3.send(new CreateBucketCommand({ Bucket: 'metered' }));
    const body = Buffer.alloc(100_000, 7);
    await s3.send(new PutObjectCommand({ Bucket: 'metered', Key: 'a', Body: body }));
    await s3.send(new PutObjectCommand({ Bucket: 'metered', Key: 'b', Body: 'x'.repeat(1234) }));
    await s3.send(new PutObjectCommand({ Bucket: 'metered', Key: 'c', Body: 'gone soon' }));
    await s3.send(new DeleteObjectCommand({ Bucket: 'metered', Key: 'c' }));
    assert.equal((await bodyBytes(await s3.send(new GetObjectCommand({ Bucket: 'metered', Key: 'a' })))).length, body.length);
    await assert.rejects(s3.send(new GetObjectCommand({ Bucket: 'metered', Key: 'missing' })));

    const { KeyMetadata } = await kms.send(new CreateKeyCommand({ Description: 'metrics' }));
    await kms.send(new EncryptCommand({ KeyId: KeyMetadata!.KeyId!, Plaintext: Buffer.from('hi') }));
    await kms.send(new DisableKeyCommand({ KeyId: KeyMetadata!.KeyId! }));
    await rejectsWithSdkError(kms.send(new EncryptCommand({ KeyId: KeyMetadata!.KeyId!, Plaintext: Buffer.from('hi') })), 'DisabledException');

    const m = await scrape(server);
    assert.equal(value(m, 'coffer_http_requests_total', { api: 's3', operation: 'PutObject', status_class: '2xx' }), 3);
    assert.equal(value(m, 'coffer_http_requests_total', { api: 's3', operation: 'GetObject', status_class: '2xx' }), 1);
    assert.equal(value(m, 'coffer_http_requests_total', { api: 's3', operation: 'GetObject', status_class: '4xx' }), 1);
    assert.equal(value(m, 'coffer_http_requests_total', { api: 's3', operation: 'DeleteObject', status_class: '2xx' }), 1);
    assert.equal(value(m, 'coffer_http_request_duration_seconds_count', { api: 's3', operation: 'PutObject' }), 3);
    assert.ok(value(m, 'coffer_http_request_duration_seconds_sum', { api: 's3', operation: 'PutObject' }) > 0);
    assert.ok(value(m, 'coffer_http_received_bytes_total', { api: 's3' }) > body.length, 'the upload is counted in');
    assert.ok(value(m, 'coffer_http_sent_bytes_total', { api: 's3' }) > body.length, 'the download is counted out');
    // Usage as the metadata store keeps it: the deleted object is gone from it.
    assert.equal(value(m, 'coffer_bucket_objects', { bucket: 'metered' }), 2);
    assert.equal(value(m, 'coffer_bucket_bytes', { bucket: 'metered' }), body.length + 1234);
    // KMS: the API's calls and S3's own (SSE-S3 data keys come from Coffer's S3 service key).
    assert.equal(value(m, 'coffer_http_requests_total', { api: 'kms', operation: 'Encrypt', status_class: '2xx' }), 1);
    assert.equal(value(m, 'coffer_http_requests_total', { api: 'kms', operation: 'Encrypt', status_class: '4xx' }), 1);
    assert.equal(value(m, 'coffer_kms_operations_total', { operation: 'CreateKey', outcome: 'success', caller: 'api' }), 1);
    assert.equal(value(m, 'coffer_kms_operations_total', { operation: 'Encrypt', outcome: 'DisabledException', caller: 'api' }), 1);
    assert.equal(value(m, 'coffer_kms_key_usage_denials_total', { operation: 'Encrypt', reason: 'DisabledException' }), 1);
    assert.ok(value(m, 'coffer_kms_operations_total', { operation: 'GenerateDataKey', outcome: 'success', caller: 's3' }) >= 1, 'S3 asked the KMS for a data key');
    // Three PUTs and a GET under one bucket key: one miss to make it, hits afterwards.
    assert.ok(value(m, 'coffer_bucket_key_cache_total', { result: 'hit' }) >= 3, 'bucket-key cache hits');
    assert.ok(value(m, 'coffer_metadata_operation_duration_seconds_count', { driver: 'sqlite', operation: 'putObject' }) >= 3);
    assert.equal(value(m, 'coffer_metadata_errors_total', { driver: 'sqlite', operation: 'putObject' }), 0);
    assert.ok(value(m, 'coffer_blob_operation_duration_seconds_count', { backend: 'local', operation: 'write' }) >= 3);
    assert.ok(m.some((s) => s.name === 'coffer_blob_gc_queue_length'), 'the collector backlog is reported');
    assert.equal(value(m, 'coffer_metrics_workers_reporting'), 1);
    // A label never takes a value from the client: an unknown KMS target is "Other".
    const bogus = await fetch(`${server.url}/`, { method: 'POST', headers: { 'x-amz-target': 'TrentService.Bogus' + 'x'.repeat(40), 'content-type': 'application/x-amz-json-1.1' }, body: '{}' });
    assert.equal(bogus.status, 403, 'unsigned: MissingAuthenticationTokenException');
    const after = await scrape(server);
    assert.ok(!after.some((s) => Object.values(s.labels).some((v) => v.includes('Bogus'))));
    assert.equal(value(after, 'coffer_http_requests_total', { api: 'kms', operation: 'Other', status_class: '4xx' }), 1);
    s3.destroy();
    kms.destroy();
  });

  test('with_two_workers_every_scrape_sums_both', async () => {
    // Debug level: the request log lines say which worker served each request.
    const server = await startServer({ args: ['--workers', '2'], env: { COFFER_LOG_LEVEL: 'debug' } });
    servers.push(server);
    const s3 = server.client();
    await s3.send(new CreateBucketCommand({ Bucket: 'spread' }));
    s3.destroy();
    // Connections are dealt only to workers that listen: startServer returned at the first
    // "listening" line, and the second worker may still be starting.
    await workerPids(server, 2);
    // Fresh connections are dealt to the workers in turn: both serve some of these.
    const n = 20;
    for (let i = 0; i < n; i++) {
      const c = server.client({ requestHandler: { httpAgent: new http.Agent({ keepAlive: false }) } });
      await c.send(new HeadBucketCommand({ Bucket: 'spread' }));
      c.destroy();
    }
    for (let i = 0; i < 6; i++) {
      const m = await scrape(server);
      assert.equal(value(m, 'coffer_metrics_workers_reporting'), 2);
      assert.equal(value(m, 'coffer_http_requests_total', { api: 's3', operation: 'HeadBucket', status_class: '2xx' }), n, `scrape ${i}`);
      assert.equal(value(m, 'coffer_http_requests_total', { api: 's3', operation: 'CreateBucket', status_class: '2xx' }), 1);
      // Store-wide gauges are read once per scrape, not once per worker.
      assert.equal(value(m, 'coffer_bucket_objects', { bucket: 'spread' }), 0);
      assert.ok(m.some((s) => s.name === 'coffer_bucket_objects' && s.labels.bucket === 'spread'));
    }
    // Both workers did serve some of them, so the equal sums above are sums over both.
    const servedBy = new Set(
      server
        .output()
        .split('\n')
        .filter((l) => l.includes('"HeadBucket"'))
        .map((l) => (JSON.parse(l) as { worker?: number }).worker),
    );
    assert.equal(servedBy.size, 2, 'HeadBucket requests were served by both workers');
  });
});
