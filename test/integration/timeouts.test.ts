/**
 * Idle limits and the connection bound (issue #22, item 6), against the real
 * server over raw sockets: a body that stops arriving is answered 400
 * RequestTimeout as S3 answers it and leaves no staged file and no descriptor
 * behind; a slow body that keeps moving is not cut off; headers that trickle in
 * (slowloris) lose the connection; connections past --max-connections are closed.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { randomBytesSeeded } from '../helpers/data.js';
import { expectXmlError, s3Signer, type RawResponse } from '../helpers/raw-s3.js';
import { bodyBytes } from '../helpers/s3.js';
import { startServer, type TestServer } from '../helpers/server.js';

const IDLE_MS = 500;
const HEADERS_MS = 1000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every 50 ms until it holds or `ms` pass; returns whether it held. */
async function eventually(ms: number, check: () => boolean): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
}

interface OpenUpload {
  req: http.ClientRequest;
  /** The server's answer, whenever it comes (the body need not be complete). */
  response: Promise<RawResponse & { closed: Promise<void> }>;
}

/** Starts a signed PutObject (UNSIGNED-PAYLOAD) declaring `contentLength` bytes and sends none yet. */
async function openUpload(server: TestServer, path: string, contentLength: number): Promise<OpenUpload> {
  const host = `127.0.0.1:${server.port}`;
  const signed = await s3Signer(server).sign({
    method: 'PUT',
    protocol: 'http:',
    hostname: '127.0.0.1',
    port: server.port,
    path,
    query: {},
    headers: { host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-length': String(contentLength) },
  });
  const req = http.request({ host: '127.0.0.1', port: server.port, method: 'PUT', path, headers: signed.headers, agent: false });
  const response = new Promise<RawResponse & { closed: Promise<void> }>((resolve, reject) => {
    req.on('response', (res) => {
      const closed = new Promise<void>((done) => res.socket.once('close', () => done()));
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks), continued: false, closed }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
  req.flushHeaders();
  return { req, response };
}

function fdCount(server: TestServer): number {
  return readdirSync(`/proc/${server.proc.pid}/fd`).length;
}

function stagedFiles(server: TestServer): string[] {
  return readdirSync(join(server.dataDir, 'tmp'));
}

describe('timeouts', () => {
  let server: TestServer;
  let s3: S3Client;
  const bucket = 'timeouts';

  before(async () => {
    server = await startServer({ args: ['--body-idle-timeout', String(IDLE_MS), '--headers-timeout', String(HEADERS_MS)] });
    s3 = server.client();
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    // Warm up what opens lazily (databases, the blob directories) before counting descriptors.
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'warm-up', Body: randomBytesSeeded(1, 64 * 1024) }));
  });
  after(async () => {
    s3?.destroy();
    await server?.destroy();
  });

  test('PutObject_body_stalled_after_20KB_is_RequestTimeout_and_leaves_no_staged_file_or_descriptor', { timeout: 20_000 }, async () => {
    // The report: 200 uploads stalling after 20 KB held 400 descriptors and 200 staged files for ever.
    const stalled = 20;
    const fdsBefore = fdCount(server);
    assert.deepEqual(stagedFiles(server), [], 'no staged file before');
    const uploads = await Promise.all(Array.from({ length: stalled }, (_, i) => openUpload(server, `/${bucket}/stalled-${i}.bin`, 1024 * 1024)));
    const started = Date.now();
    for (const u of uploads) u.req.write(randomBytesSeeded(2, 20 * 1024));
    // While they stall, each holds a staged file (and a socket): what the limit must release.
    assert.ok(await eventually(IDLE_MS * 4, () => stagedFiles(server).length === stalled), `${stalled} staged files while stalled (${stagedFiles(server).length})`);
    assert.ok(fdCount(server) >= fdsBefore + 2 * stalled, 'a socket and a staged file open per stalled upload');

    const answers = await Promise.all(uploads.map((u) => u.response));
    const elapsed = Date.now() - started;
    for (const res of answers) {
      expectXmlError(res, 'RequestTimeout');
      assert.equal(res.headers.connection, 'close', 'the connection is closed after the answer');
    }
    assert.ok(elapsed >= IDLE_MS * 0.8, `answered after the idle limit, not before (${elapsed} ms)`);
    await Promise.all(answers.map((a) => a.closed));
    for (const u of uploads) u.req.destroy();
    assert.ok(await eventually(2000, () => stagedFiles(server).length === 0), `staged files removed (${stagedFiles(server).join(', ')})`);
    assert.ok(await eventually(2000, () => fdCount(server) <= fdsBefore), `descriptors released (${fdCount(server)} > ${fdsBefore})`);
    for (let i = 0; i < stalled; i++) {
      await assert.rejects(s3.send(new GetObjectCommand({ Bucket: bucket, Key: `stalled-${i}.bin` })), { name: 'NoSuchKey' });
    }
  });

  test('PutObject_slow_body_that_keeps_moving_is_not_cut_off', { timeout: 20_000 }, async () => {
    // The limit is on silence, not on the whole request: six pauses just under the idle limit
    // add up to several times it, and the upload still completes (a 5 GiB PUT over a slow link).
    const body = randomBytesSeeded(3, 96 * 1024);
    const pieces = 6;
    const upload = await openUpload(server, `/${bucket}/slow.bin`, body.length);
    const started = Date.now();
    for (let i = 0; i < pieces; i++) {
      await sleep(IDLE_MS * 0.6);
      const size = body.length / pieces;
      upload.req.write(body.subarray(i * size, (i + 1) * size));
    }
    upload.req.end();
    const res = await upload.response;
    assert.equal(res.status, 200, res.body.toString());
    assert.ok(Date.now() - started > IDLE_MS * 3, 'the upload lasted several idle limits');
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'slow.bin' }));
    assert.ok((await bodyBytes(got)).equals(body));
  });

  describe('a client that stops reading', () => {
    const size = 32 * 1024 * 1024; // far more than loopback socket buffers hold
    const key = 'large.bin';
    const large = randomBytesSeeded(4, size);

    before(async () => {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: large }));
    });

    /** Sends a signed GetObject on a raw socket; the caller decides how (whether) to read. */
    async function rawGet(): Promise<net.Socket> {
      const host = `127.0.0.1:${server.port}`;
      const path = `/${bucket}/${key}`;
      const signed = await s3Signer(server).sign({ method: 'GET', protocol: 'http:', hostname: '127.0.0.1', port: server.port, path, query: {}, headers: { host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
      const socket = net.connect(server.port, '127.0.0.1');
      socket.on('error', () => {});
      await new Promise((resolve) => socket.once('connect', resolve));
      const head = Object.entries(signed.headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
      socket.write(`GET ${path} HTTP/1.1\r\n${head}\r\n`);
      return socket;
    }

    test('GetObject_client_that_stops_reading_is_dropped_after_the_idle_limit_and_its_descriptors_released', { timeout: 20_000 }, async () => {
      const fdsBefore = fdCount(server);
      const socket = await rawGet();
      const chunks: Buffer[] = [];
      let closed = false;
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.once('close', () => (closed = true));
      // Read the status line and a little of the body, then stop reading altogether.
      await new Promise((resolve) => socket.once('data', resolve));
      socket.pause();
      await sleep(IDLE_MS * 0.4);
      assert.ok(fdCount(server) > fdsBefore, 'within the limit the response still holds its socket (and the blob being read)');
      // A paused client sees nothing; the server's descriptors show the drop.
      assert.ok(await eventually(IDLE_MS * 8, () => fdCount(server) <= fdsBefore), `descriptors released (${fdCount(server)} > ${fdsBefore})`);
      socket.resume();
      assert.ok(await eventually(5000, () => closed), 'the connection was closed by the server');
      const received = chunks.reduce((n, c) => n + c.length, 0);
      assert.ok(received < size, `the body was cut off (${received} of ${size} bytes)`);
    });

    test('GetObject_client_that_reads_slowly_with_pauses_under_the_limit_gets_every_byte', { timeout: 30_000 }, async () => {
      const socket = await rawGet();
      const chunks: Buffer[] = [];
      let ended = false;
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.once('end', () => (ended = true));
      socket.once('close', () => (ended = true));
      const started = Date.now();
      let received = 0;
      // Read in short bursts with pauses just under the idle limit until the body is in.
      while (!ended && Date.now() - started < 25_000) {
        socket.pause();
        await sleep(IDLE_MS * 0.6);
        socket.resume();
        await sleep(20);
        received = chunks.reduce((n, c) => n + c.length, 0);
        const all = Buffer.concat(chunks);
        const headEnd = all.indexOf('\r\n\r\n');
        if (headEnd >= 0 && all.length - headEnd - 4 >= size) break;
      }
      const all = Buffer.concat(chunks);
      const headEnd = all.indexOf('\r\n\r\n');
      assert.match(all.subarray(0, headEnd).toString('latin1'), /^HTTP\/1\.1 200 OK/);
      assert.ok(all.subarray(headEnd + 4).equals(large), `the whole body arrived (${received} bytes read)`);
      assert.ok(Date.now() - started > IDLE_MS, 'the read spanned more than one idle limit');
      socket.destroy();
    });
  });

  test('Request_headers_trickling_in_slowloris_lose_the_connection', { timeout: 20_000 }, async () => {
    const socket = net.connect(server.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    let closed = false;
    socket.on('close', () => (closed = true));
    socket.on('error', () => {});
    socket.resume();
    const started = Date.now();
    socket.write(`GET /${bucket}/warm-up HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: `);
    // One more header byte every 100 ms, well within any idle limit, for at most 5 s.
    while (!closed && Date.now() - started < 5000) {
      socket.write('a');
      await sleep(100);
    }
    const elapsed = Date.now() - started;
    socket.destroy();
    assert.ok(closed, 'the server closed a connection whose headers never ended');
    assert.ok(elapsed >= HEADERS_MS * 0.9, `not before the headers timeout (${elapsed} ms)`);
  });
});

describe('connection bound', () => {
  let server: TestServer;
  const max = 3;

  before(async () => {
    server = await startServer({ args: ['--max-connections', String(max)] });
  });
  after(async () => {
    await server?.destroy();
  });

  /** One keep-alive health check on `socket`; resolves with the status line, or undefined if the server closed it. */
  function healthOn(socket: net.Socket): Promise<string | undefined> {
    return new Promise((resolve) => {
      let data = '';
      const onData = (c: Buffer) => {
        data += c.toString('latin1');
        if (data.includes('\r\n\r\n') && data.includes('{"status"')) done(data.split('\r\n')[0]);
      };
      const onClose = () => done(undefined);
      const done = (v: string | undefined) => {
        socket.off('data', onData);
        socket.off('close', onClose);
        resolve(v);
      };
      socket.on('data', onData);
      socket.once('close', onClose);
      socket.on('error', () => {});
      socket.write('GET /_coffer/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    });
  }

  async function connect(): Promise<net.Socket> {
    const socket = net.connect(server.port, '127.0.0.1');
    socket.on('error', () => {});
    await new Promise((resolve) => socket.once('connect', resolve));
    return socket;
  }

  test('Connections_past_max_connections_are_closed_and_a_freed_slot_serves_again', { timeout: 20_000 }, async () => {
    const held = [];
    for (let i = 0; i < max; i++) {
      const socket = await connect();
      assert.equal(await healthOn(socket), 'HTTP/1.1 200 OK', `connection ${i + 1} of ${max} is served`);
      held.push(socket);
    }
    const extra = await connect();
    assert.equal(await healthOn(extra), undefined, 'one connection too many is closed without an answer');
    held.pop()!.destroy();
    // The server notices the freed slot once the close reaches it: a few tries, 100 ms apart.
    let served: string | undefined;
    for (let attempt = 0; attempt < 20 && served === undefined; attempt++) {
      const socket = await connect();
      served = await healthOn(socket);
      socket.destroy();
      if (served === undefined) await sleep(100);
    }
    assert.equal(served, 'HTTP/1.1 200 OK', 'a new connection is served once one is freed');
    for (const s of held) s.destroy();
  });
});
