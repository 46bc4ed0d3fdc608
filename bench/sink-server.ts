/**
 * The sink: the ceiling every Coffer figure is divided by. A bare node:http
 * server, run as its own process like Coffer, speaking just enough S3 for the
 * load generator (PUT, GET with Range, HEAD, ListObjectsV2, multipart, and
 * any POST) and storing nothing.
 *
 *   --mode plain   reads and discards request bodies; GET sends preallocated bytes.
 *   --mode crypto  also does what Coffer must do for every byte: MD5 + AES-256-GCM
 *                  in 64 KiB packages on PUT, AES-256-GCM decryption (with tag
 *                  check) of preallocated packages on GET — no disk, no metadata.
 *   --mode disk    crypto, and a PUT also writes the ciphertext to a new file in
 *                  --dir (1 MiB writes), fsyncs it and renames it over the file
 *                  of the previous PUT of the same key (or part) before answering:
 *                  the least a durable encrypted store costs on this disk. Data is
 *                  kept as a store keeps it, so the page cache grows as Coffer's
 *                  does (on a VM, fresh page-cache pages cost far more than reused
 *                  ones). GET is as in crypto mode.
 *
 * `--workers N` serves from N processes sharing the port (node:cluster), as
 * `coffer serve --workers N` does, so a CPU-bound sink uses every core too;
 * each worker prints `{"msg":"listening","port":N}` on stdout when ready. Stops
 * on SIGTERM.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, type CipherGCM, type Hash } from 'node:crypto';
import cluster from 'node:cluster';
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const PACKAGE = 64 * 1024;
/** Bytes GET serves from, cyclically: any object size and range works. */
const BUFFER_PACKAGES = 256;

type Mode = 'plain' | 'crypto' | 'disk';

const { values } = parseArgs({
  options: { mode: { type: 'string', default: 'plain' }, port: { type: 'string', default: '0' }, dir: { type: 'string' }, workers: { type: 'string', default: '1' } },
  strict: true,
});
if (values.mode !== 'plain' && values.mode !== 'crypto' && values.mode !== 'disk') throw new Error('--mode is plain, crypto or disk');
const mode: Mode = values.mode;
if (mode === 'disk' && values.dir === undefined) throw new Error('--mode disk needs --dir');
const dir = values.dir ?? '';
const encrypts = mode !== 'plain';
let fileCounter = 0;

const key = randomBytes(32);
const aad = Buffer.alloc(57);
const plaintext = randomBytes(BUFFER_PACKAGES * PACKAGE);

function nonce(index: number): Buffer {
  const n = Buffer.alloc(12);
  n.writeUInt32BE(index, 8);
  return n;
}

/** Ciphertext ‖ tag of each package of `plaintext`, for the crypto sink's GET to decrypt. */
const sealed: Buffer[] =
  encrypts
    ? Array.from({ length: BUFFER_PACKAGES }, (_, i) => {
        const c = createCipheriv('aes-256-gcm', key, nonce(i));
        c.setAAD(aad);
        return Buffer.concat([c.update(plaintext.subarray(i * PACKAGE, (i + 1) * PACKAGE)), c.final(), c.getAuthTag()]);
      })
    : [];

/**
 * Object sizes seen on PUT, so GET and HEAD answer with the right length.
 * With several workers, each PUT's size is relayed through the primary to the others.
 */
const sizes = new Map<string, number>();

interface SizeMessage {
  path: string;
  size: number;
}

function recordSize(path: string, size: number): void {
  sizes.set(path, size);
  if (cluster.isWorker) process.send?.({ path, size } satisfies SizeMessage);
}

/** The crypto and disk sinks' write path: MD5 of the body, AES-256-GCM of each 64 KiB package (the ciphertext is written only by the disk sink). */
class PutHasher {
  readonly #md5: Hash = createHash('md5');
  #cipher: CipherGCM | undefined;
  #index = 0;
  #left = PACKAGE;

  /** Hashes and encrypts a chunk; returns the ciphertext (and tags) it completed. */
  update(chunk: Buffer): Buffer[] {
    this.#md5.update(chunk);
    const out: Buffer[] = [];
    let pos = 0;
    while (pos < chunk.length) {
      this.#cipher ??= this.#start();
      const n = Math.min(this.#left, chunk.length - pos);
      out.push(this.#cipher.update(n === chunk.length ? chunk : chunk.subarray(pos, pos + n)));
      pos += n;
      this.#left -= n;
      if (this.#left === 0) out.push(...this.#seal());
    }
    return out;
  }

  #start(): CipherGCM {
    const c = createCipheriv('aes-256-gcm', key, nonce(this.#index));
    c.setAAD(aad);
    return c;
  }

  #seal(): Buffer[] {
    const out = [this.#cipher!.final(), this.#cipher!.getAuthTag()];
    this.#cipher = undefined;
    this.#index++;
    this.#left = PACKAGE;
    return out;
  }

  /** The MD5 (hex) and the last package's ciphertext and tag. */
  finish(): { md5: string; tail: Buffer[] } {
    const tail = this.#cipher ? this.#seal() : [];
    return { md5: this.#md5.digest('hex'), tail };
  }
}

/** Reads a request body: discards it, or hashes and encrypts it, and in disk mode writes and fsyncs the ciphertext. */
async function consume(req: IncomingMessage): Promise<{ size: number; etag: string; file?: string }> {
  const hasher = encrypts ? new PutHasher() : undefined;
  const file = mode === 'disk' ? join(dir, `sink-${process.pid}-${fileCounter++}`) : undefined;
  const fh = file ? await open(file, 'wx', 0o600) : undefined;
  let size = 0;
  let batch: Buffer[] = [];
  let batchBytes = 0;
  const flush = async () => {
    if (fh && batchBytes > 0) await fh.writev(batch);
    batch = [];
    batchBytes = 0;
  };
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      const out = hasher?.update(chunk) ?? [];
      if (!fh) continue;
      for (const b of out) {
        batch.push(b);
        batchBytes += b.length;
      }
      if (batchBytes >= 1024 * 1024) await flush();
    }
    const done = hasher?.finish();
    if (fh) {
      for (const b of done?.tail ?? []) {
        batch.push(b);
        batchBytes += b.length;
      }
      await flush();
      await fh.sync();
    }
    return { size, etag: done?.md5 ?? 'd41d8cd98f00b204e9800998ecf8427e', ...(file ? { file } : {}) };
  } finally {
    await fh?.close();
  }
}

/** Plaintext bytes [start, end] of a sink object, package by package. */
function* objectBytes(start: number, end: number): Generator<Buffer> {
  let pos = start;
  while (pos <= end) {
    const index = Math.floor(pos / PACKAGE);
    const slot = index % BUFFER_PACKAGES;
    const from = pos - index * PACKAGE;
    const to = Math.min(PACKAGE, end - index * PACKAGE + 1);
    if (encrypts) {
      const d = createDecipheriv('aes-256-gcm', key, nonce(slot));
      d.setAAD(aad);
      const stored = sealed[slot]!;
      d.setAuthTag(stored.subarray(PACKAGE));
      const plain = d.update(stored.subarray(0, PACKAGE));
      d.final();
      yield plain.subarray(from, to);
    } else {
      yield plaintext.subarray(slot * PACKAGE + from, slot * PACKAGE + to);
    }
    pos = index * PACKAGE + to;
  }
}

const LIST_PAGE = Buffer.from(
  `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>sink</Name><Prefix></Prefix>` +
    `<KeyCount>1000</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated><NextContinuationToken>sink</NextContinuationToken>` +
    Array.from(
      { length: 1000 },
      (_, i) =>
        `<Contents><Key>keys/${String(i).padStart(8, '0')}</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified>` +
        `<ETag>&quot;d41d8cd98f00b204e9800998ecf8427e&quot;</ETag><Size>0</Size><StorageClass>STANDARD</StorageClass></Contents>`,
    ).join('') +
    `</ListBucketResult>`,
);

function xml(res: ServerResponse, body: string): void {
  res.writeHead(200, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://sink');
  const path = url.pathname;
  switch (req.method) {
    case 'PUT': {
      const { size, etag, file } = await consume(req);
      // Kept under its key, replacing the previous PUT of that key: the benchmark's keys
      // cycle through a bounded set, so the disk holds at most what Coffer holds.
      if (file) await rename(file, join(dir, `obj-${createHash('sha256').update(`${path}\n${url.searchParams.get('partNumber') ?? ''}`).digest('hex')}`));
      if (!url.searchParams.has('partNumber')) recordSize(path, size);
      res.writeHead(200, { etag: `"${etag}"`, 'content-length': 0 });
      res.end();
      return;
    }
    case 'POST': {
      await consume(req);
      if (url.searchParams.has('uploads')) return xml(res, '<InitiateMultipartUploadResult><UploadId>sink</UploadId></InitiateMultipartUploadResult>');
      if (url.searchParams.has('uploadId')) return xml(res, '<CompleteMultipartUploadResult><ETag>"sink-1"</ETag></CompleteMultipartUploadResult>');
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1', 'content-length': 2 });
      res.end('{}');
      return;
    }
    case 'HEAD':
      res.writeHead(200, { 'content-length': sizes.get(path) ?? 0, etag: '"sink"' });
      res.end();
      return;
    case 'GET': {
      if (url.searchParams.has('list-type')) {
        res.writeHead(200, { 'content-type': 'application/xml', 'content-length': LIST_PAGE.length });
        res.end(LIST_PAGE);
        return;
      }
      const size = sizes.get(path) ?? 0;
      const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
      const start = range ? Number(range[1]) : 0;
      const end = range ? Math.min(Number(range[2]), size - 1) : size - 1;
      res.writeHead(range ? 206 : 200, { 'content-length': Math.max(0, end - start + 1), ...(range ? { 'content-range': `bytes ${start}-${end}/${size}` } : {}) });
      for (const piece of objectBytes(start, end)) {
        if (!res.write(piece)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
        if (res.destroyed) return;
      }
      res.end();
      return;
    }
    default:
      req.resume();
      res.writeHead(204);
      res.end();
  }
}

function serve(): void {
  const server = http.createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  server.keepAliveTimeout = 65_000;
  server.requestTimeout = 0;
  server.listen(Number(values.port), '127.0.0.1', () => {
    process.stdout.write(`${JSON.stringify({ msg: 'listening', mode, pid: process.pid, port: (server.address() as AddressInfo).port })}\n`);
  });
  process.on('message', (m: SizeMessage) => sizes.set(m.path, m.size));
  process.on('SIGTERM', () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}

const workers = Number(values.workers);
if (!Number.isInteger(workers) || workers < 1) throw new Error('--workers must be a positive integer');
if (cluster.isPrimary && workers > 1) {
  for (let i = 0; i < workers; i++) cluster.fork();
  // Relay each worker's object sizes to the others.
  cluster.on('message', (from, m: SizeMessage) => {
    for (const w of Object.values(cluster.workers ?? {})) if (w && w !== from) w.send(m);
  });
  let stopping = false;
  cluster.on('exit', () => {
    if (stopping && Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
  });
  process.on('SIGTERM', () => {
    stopping = true;
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
  });
} else {
  serve();
}
