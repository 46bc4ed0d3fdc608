/**
 * BlobStore on a bucket of any S3-compatible service (AWS S3, Ceph RGW, MinIO,
 * another Coffer): blob `<id>` is the object `<prefix>blobs/<2 hex>/<id>`. The
 * bytes are what the blob format wrote — ciphertext only ever leaves the node.
 *
 * Staging without moving bytes. S3 has no rename, and a server-side copy costs
 * a full rewrite of the blob on the backend (and is capped at 5 GB for one
 * CopyObject), so a blob is written once, straight to its final key, and what
 * is staged is a marker: the empty object `<prefix>tmp/<id>`.
 *   - `write` PUTs the marker (in parallel with the first bytes arriving) and
 *     waits for it before the blob's object can exist: its PutObject, or its
 *     CompleteMultipartUpload. So there is never a blob without a marker until
 *     `publish`, and a crash at any point leaves either nothing or a marker.
 *   - `write` resolves once the backend acknowledged the blob, so when the
 *     caller commits its metadata the bytes are durable and at their final key;
 *     nothing afterwards moves or rewrites them. A crash after the commit loses
 *     at most the marker's deletion — never the blob an object points at.
 *   - `publish` deletes the marker; `discard` deletes the blob, then the marker.
 *   - `recover` lists the markers: a referenced one is deleted (published), an
 *     unreferenced one is a write whose metadata never committed: its blob and
 *     any multipart upload still open for it are removed, then the marker.
 * Reads look in one place only, so a read racing `publish` always finds the
 * blob, and a `delete` racing `publish` cannot bring a blob back.
 *
 * Large blobs stream: bytes are cut into parts of `partSize` and sent as a
 * multipart upload, one part in flight while the next fills, so a write holds
 * about two parts in memory whatever the blob's size. Reads are one ranged GET
 * for the bytes asked for, streamed.
 *
 * An unreachable backend, one that answers 5xx after the SDK's retries, rejects
 * our credentials or has lost the bucket is BackendUnavailableError (S3's 503 to
 * our clients); the next request simply tries again, so the node recovers by
 * itself when the backend comes back.
 *
 * Why @aws-sdk/client-s3 rather than a signer of our own: the SDK has met the
 * quirks of AWS, Ceph and MinIO (region and redirect handling, error XML, retry
 * classification with backoff, request checksums); RemoteKms already brings the
 * same smithy stack into the dependency tree, so it adds little. Requests go
 * through keep-alive agents so the data path does not pay a TCP (or TLS)
 * handshake per blob.
 *
 * Several nodes on one prefix. A marker is also a lease: while its write is in
 * flight (until publish or discard), the writing node PUTs the marker again every
 * `stagingHeartbeatMs`, so its LastModified stays recent. `recover` — run by every
 * node at start and then periodically — removes an unreferenced marker's blob only
 * once the marker is older than `stagingLeaseMs`: its node died (kill -9, lost
 * machine) or stalled longer than the lease. A running node's write in flight is
 * never taken for a crashed one, and a dead node's leftovers are removed by any
 * node, even one that never runs again. Referenced markers (the metadata committed)
 * are deleted at once: that is all publish does. The lease is judged by the
 * backend's LastModified against this node's clock, so it must exceed any clock
 * skew by far (default 15 minutes).
  */
import { randomUUID } from 'node:crypto';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import type { BlobStats, BlobStore, ByteRange, PendingBlob, ReadOptions } from '../blob-store.js';
import { BlobNotFoundError, SCRATCH_MIN_CHUNK } from '../blob-store.js';
import { BackendUnavailableError } from '../../errors/backend-unavailable.js';

export interface S3BlobStoreOptions {
  /** The backend's URL, e.g. `https://s3.eu-west-1.amazonaws.com` or another Coffer's. Omitted: AWS S3 in `region`. */
  endpoint?: string;
  bucket: string;
  /** Key prefix of this store's objects; a trailing `/` is added if missing. */
  prefix?: string;
  region?: string;
  /** Omitted: the SDK's default credential chain (environment, profile, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Path-style requests (`endpoint/bucket/key`): what Coffer, MinIO and Ceph expect by default. Default: true with an `endpoint`, virtual-hosted for AWS. */
  forcePathStyle?: boolean;
  /** Bytes per multipart part, and the size from which a blob is sent as a multipart upload. At least 5 MiB (S3's minimum part). */
  partSize?: number;
  /** Idle socket timeout of a request, ms. */
  requestTimeoutMs?: number;
  /** TCP connect timeout, ms. */
  connectionTimeoutMs?: number;
  /** Sockets kept per backend host. */
  maxSockets?: number;
  /** An unreferenced staging marker younger than this belongs to a write in flight, which recover leaves alone. Default 15 min; 0: every unreferenced marker is a crashed write (one node alone on its prefix). */
  stagingLeaseMs?: number;
  /** How often a write in flight renews its marker. Default: a quarter of the lease. */
  stagingHeartbeatMs?: number;
}

const ID_RE = /^[0-9a-f]{32}$/;
const MIN_PART = 5 * 1024 * 1024;
const DEFAULT_PART = 8 * 1024 * 1024;
const DEFAULT_LEASE_MS = 15 * 60 * 1000;

/** Scratch reads (ReadOptions.scratch) are gathered into buffers of this size, at most SCRATCH_POOL of them kept idle. */
const SCRATCH_CHUNK = Math.max(256 * 1024, SCRATCH_MIN_CHUNK);
const SCRATCH_POOL = 16;

/** What a response body of the SDK is in Node: a readable stream. */
type Body = AsyncIterable<Uint8Array> & { destroy?: (err?: Error) => void };

export class S3BlobStore implements BlobStore {
  readonly #client: S3Client;
  readonly #agents: { http: HttpAgent; https: HttpsAgent };
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #partSize: number;
  readonly #where: string;
  readonly #leaseMs: number;
  readonly #heartbeatMs: number;
  /** Renewals of the markers of writes in flight, stopped by publish, discard, failure or close. */
  readonly #leases = new Set<StagingLease>();
  #bytesRead = 0;

  constructor(options: S3BlobStoreOptions) {
    const prefix = options.prefix ?? '';
    this.#prefix = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
    this.#bucket = options.bucket;
    this.#partSize = Math.max(MIN_PART, options.partSize ?? DEFAULT_PART);
    this.#where = `s3://${options.bucket}/${this.#prefix} at ${options.endpoint ?? `AWS S3 (${options.region ?? 'us-east-1'})`}`;
    this.#leaseMs = options.stagingLeaseMs ?? DEFAULT_LEASE_MS;
    this.#heartbeatMs = Math.max(10, options.stagingHeartbeatMs ?? (this.#leaseMs > 0 ? this.#leaseMs / 4 : DEFAULT_LEASE_MS / 4));
    const maxSockets = options.maxSockets ?? 64;
    this.#agents = { http: new HttpAgent({ keepAlive: true, maxSockets }), https: new HttpsAgent({ keepAlive: true, maxSockets }) };
    this.#client = new S3Client({
      ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
      region: options.region ?? 'us-east-1',
      forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
      ...(options.credentials ? { credentials: options.credentials } : {}),
      maxAttempts: 3,
      requestHandler: {
        httpAgent: this.#agents.http,
        httpsAgent: this.#agents.https,
        requestTimeout: options.requestTimeoutMs ?? 60_000,
        connectionTimeout: options.connectionTimeoutMs ?? 5_000,
      },
    });
  }

  #blobKey(id: string): string {
    return `${this.#prefix}blobs/${id.slice(0, 2)}/${id}`;
  }

  #markerKey(id: string): string {
    return `${this.#prefix}tmp/${id}`;
  }

  /** Sends a command; failures that mean "the backend is not usable now" become BackendUnavailableError. */
  async #send<T>(what: string, run: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (signal?.aborted) throw signal.reason ?? err;
      throw this.#unavailable(what, err) ?? err;
    }
  }

  #unavailable(what: string, err: unknown): BackendUnavailableError | undefined {
    if (err instanceof S3ServiceException) {
      const status = err.$metadata?.httpStatusCode ?? 0;
      if (err.name === 'NoSuchBucket') return new BackendUnavailableError(`${what}: the blob bucket of ${this.#where} does not exist`, { cause: err });
      if (status === 401 || status === 403) return new BackendUnavailableError(`${what}: the blob backend ${this.#where} refused our credentials (${err.name})`, { cause: err });
      if (status >= 500 || status === 429) return new BackendUnavailableError(`${what}: the blob backend ${this.#where} answered ${status} ${err.name}`, { cause: err });
      return undefined;
    }
    // Not an answer from the backend: the network, a timeout, a connection cut mid-response.
    const detail = (err as { code?: unknown })?.code ?? (err as Error)?.name ?? 'error';
    return new BackendUnavailableError(`${what}: the blob backend ${this.#where} could not be reached (${String(detail)}: ${(err as Error)?.message ?? String(err)})`, { cause: err });
  }

  #deleteKey(key: string, what: string): Promise<unknown> {
    return this.#send(what, () => this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: key })));
  }

  async write(source: AsyncIterable<Buffer>, options: { signal?: AbortSignal } = {}): Promise<PendingBlob> {
    const { signal } = options;
    const blobId = randomUUID().replaceAll('-', '');
    const Key = this.#blobKey(blobId);
    const Bucket = this.#bucket;
    const send = <T>(what: string, run: () => Promise<T>): Promise<T> => this.#send(what, run, signal);
    const sendOpts = signal ? { abortSignal: signal } : {};
    const putMarker = (opts: { abortSignal?: AbortSignal } = {}) => this.#client.send(new PutObjectCommand({ Bucket, Key: this.#markerKey(blobId), Body: Buffer.alloc(0) }), opts);
    const marker = send('staging a blob', () => putMarker(sendOpts));
    // Awaited before the blob can exist; until then a failure is only noted here.
    marker.catch(() => {});
    const lease = new StagingLease(() => putMarker(), this.#heartbeatMs, this.#leases);
    let size = 0;
    let uploadId: string | undefined;
    let blobPut = false;
    try {
      let held: Buffer[] = [];
      let heldBytes = 0;
      const parts: CompletedPart[] = [];
      let inFlight: Promise<void> | undefined;
      const uploadPart = async (body: Buffer): Promise<void> => {
        const PartNumber = parts.length + 1;
        const part: CompletedPart = { PartNumber };
        parts.push(part);
        const r = await send('writing a blob part', () =>
          this.#client.send(new UploadPartCommand({ Bucket, Key, UploadId: uploadId, PartNumber, Body: body, ContentLength: body.length }), sendOpts),
        );
        part.ETag = r.ETag;
        if (r.ChecksumCRC32 !== undefined) part.ChecksumCRC32 = r.ChecksumCRC32;
      };
      for await (const chunk of source) {
        signal?.throwIfAborted();
        if (chunk.length === 0) continue;
        held.push(chunk);
        heldBytes += chunk.length;
        size += chunk.length;
        if (heldBytes < this.#partSize) continue;
        if (uploadId === undefined) {
          await marker;
          const created = await send('starting a blob upload', () => this.#client.send(new CreateMultipartUploadCommand({ Bucket, Key, ChecksumAlgorithm: 'CRC32' }), sendOpts));
          if (!created.UploadId) throw new Error('the blob backend started a multipart upload without an UploadId');
          uploadId = created.UploadId;
        }
        // One part on the wire while the next fills: backpressure on the source beyond that.
        await inFlight;
        const body = held.length === 1 ? held[0]! : Buffer.concat(held, heldBytes);
        held = [];
        heldBytes = 0;
        inFlight = uploadPart(body);
        inFlight.catch(() => {});
      }
      signal?.throwIfAborted();
      await marker;
      if (uploadId === undefined) {
        const body = held.length === 1 ? held[0]! : Buffer.concat(held, heldBytes);
        blobPut = true;
        await send('writing a blob', () => this.#client.send(new PutObjectCommand({ Bucket, Key, Body: body, ContentLength: body.length }), sendOpts));
      } else {
        await inFlight;
        if (heldBytes > 0) await uploadPart(Buffer.concat(held, heldBytes));
        held = [];
        await send('completing a blob upload', () =>
          this.#client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId: uploadId, MultipartUpload: { Parts: parts } }), sendOpts),
        );
      }
    } catch (err) {
      // Leave nothing behind (best effort: what is left keeps its marker, and recover removes it).
      await lease.stop();
      await marker.catch(() => {});
      const id = uploadId;
      if (id !== undefined) await this.#client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId: id })).catch(() => {});
      if (blobPut || id !== undefined) await this.#deleteKey(Key, 'removing a failed blob').catch(() => {});
      await this.#deleteKey(this.#markerKey(blobId), 'removing a failed blob').catch(() => {});
      throw err;
    }
    return {
      blobId,
      size,
      // Deleting an absent marker succeeds: a blob collected before its publish stays collected.
      publish: async () => {
        await lease.stop();
        await this.#deleteKey(this.#markerKey(blobId), 'publishing a blob');
      },
      discard: async () => {
        await lease.stop();
        await this.#deleteKey(Key, 'discarding a blob').catch(() => {});
        await this.#deleteKey(this.#markerKey(blobId), 'discarding a blob').catch(() => {});
      },
    };
  }

  async read(blobId: string, range?: ByteRange, options: ReadOptions = {}): Promise<AsyncIterable<Buffer>> {
    if (!ID_RE.test(blobId)) throw new BlobNotFoundError(blobId);
    let body: Body;
    let expected: number | undefined;
    try {
      const r = await this.#client.send(
        new GetObjectCommand({ Bucket: this.#bucket, Key: this.#blobKey(blobId), ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}) }),
      );
      body = r.Body as Body;
      if (range) expected = range.end - range.start + 1;
      if (range && r.ContentLength !== undefined && r.ContentLength !== expected) {
        body.destroy?.();
        throw new Error(`blob ${blobId} is shorter than expected`);
      }
    } catch (err) {
      if (err instanceof S3ServiceException && (err.name === 'NoSuchKey' || (err.name !== 'NoSuchBucket' && err.$metadata?.httpStatusCode === 404))) {
        throw new BlobNotFoundError(blobId);
      }
      throw this.#unavailable('reading a blob', err) ?? err;
    }
    const self = this;
    const scratch = options.scratch === true;
    async function* chunks(): AsyncGenerator<Buffer> {
      // Scratch reads take turns between two buffers from the pool (see ReadOptions.scratch).
      const buffers: Buffer[] = [];
      let turn = 0;
      let current: Buffer | undefined;
      let filled = 0;
      let got = 0;
      let ended = false;
      try {
        for await (const c of body) {
          const chunk = Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
          self.#bytesRead += chunk.length;
          got += chunk.length;
          if (!scratch) {
            yield chunk;
            continue;
          }
          for (let off = 0; off < chunk.length; ) {
            if (current === undefined) {
              buffers[turn] ??= self.#takeScratch();
              current = buffers[turn]!;
              turn ^= 1;
              filled = 0;
            }
            const n = Math.min(current.length - filled, chunk.length - off);
            chunk.copy(current, filled, off, off + n);
            filled += n;
            off += n;
            if (filled === current.length) {
              const full = current;
              current = undefined;
              yield full;
            }
          }
        }
        ended = true;
        if (current !== undefined && filled > 0) yield current.subarray(0, filled);
        if (expected !== undefined && got !== expected) throw new Error(`blob ${blobId} is shorter than expected`);
      } catch (err) {
        if (ended) throw err;
        // The body stopped mid-stream: the connection to the backend went away.
        throw self.#unavailable('reading a blob', err) ?? err;
      } finally {
        if (!ended) body.destroy?.();
        for (const b of buffers) self.#returnScratch(b);
      }
    }
    return chunks();
  }

  /** Scratch read buffers no reader holds, for the next reader. */
  readonly #scratchPool: Buffer[] = [];

  #takeScratch(): Buffer {
    return this.#scratchPool.pop() ?? Buffer.allocUnsafeSlow(SCRATCH_CHUNK);
  }

  #returnScratch(buf: Buffer): void {
    if (this.#scratchPool.length < SCRATCH_POOL) this.#scratchPool.push(buf);
  }

  /**
   * The blob, then its marker: a crash in between leaves a marker without a blob,
   * which recover removes; the other order could leave a blob nothing points at
   * and nothing would ever find. S3 answers a DELETE of an absent key with
   * success, so absent blobs are fine — and a missing bucket is unavailable.
   */
  async delete(blobId: string): Promise<void> {
    if (!ID_RE.test(blobId)) return;
    await this.#deleteKey(this.#blobKey(blobId), 'deleting a blob');
    await this.#deleteKey(this.#markerKey(blobId), 'deleting a blob');
  }

  async recover(referenced: (blobIds: string[]) => Promise<Set<string>>): Promise<{ published: number; removed: number }> {
    const markerPrefix = `${this.#prefix}tmp/`;
    let published = 0;
    let removed = 0;
    let token: string | undefined;
    do {
      const page = await this.#send('listing staged blobs', () =>
        this.#client.send(new ListObjectsV2Command({ Bucket: this.#bucket, Prefix: markerPrefix, ...(token ? { ContinuationToken: token } : {}) })),
      );
      const listed = (page.Contents ?? []).map((o) => ({ name: (o.Key ?? '').slice(markerPrefix.length), modified: o.LastModified?.getTime() ?? 0 }));
      const names = listed.map((o) => o.name);
      const staged = names.filter((n) => ID_RE.test(n));
      const keep = staged.length > 0 ? await referenced(staged) : new Set<string>();
      const now = Date.now();
      const leased = new Set(listed.filter((o) => now - o.modified < this.#leaseMs).map((o) => o.name));
      for (const id of staged) {
        // A write in flight on some node (its lease is fresh): not ours to judge yet.
        if (!keep.has(id) && leased.has(id)) continue;
        if (keep.has(id)) {
          await this.#deleteKey(this.#markerKey(id), 'publishing a staged blob');
          published++;
        } else {
          await this.#abortUploads(this.#blobKey(id));
          await this.#deleteKey(this.#blobKey(id), 'removing a staged blob');
          await this.#deleteKey(this.#markerKey(id), 'removing a staged blob');
          removed++;
        }
      }
      for (const name of names.filter((n) => n !== '' && !ID_RE.test(n) && !leased.has(n))) {
        await this.#deleteKey(markerPrefix + name, 'removing a stray staging object');
        removed++;
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return { published, removed };
  }

  /** Multipart uploads a crashed write left open for `key`: they hold space on the backend until aborted. */
  async #abortUploads(key: string): Promise<void> {
    const r = await this.#send('listing open blob uploads', () => this.#client.send(new ListMultipartUploadsCommand({ Bucket: this.#bucket, Prefix: key })));
    for (const u of r.Uploads ?? []) {
      if (u.Key !== key || !u.UploadId) continue;
      await this.#send('aborting a blob upload', () => this.#client.send(new AbortMultipartUploadCommand({ Bucket: this.#bucket, Key: key, UploadId: u.UploadId })));
    }
  }

  async probe(): Promise<void> {
    // The cheapest call that needs the bucket, the credentials and the network: one key listed.
    await this.#send('probing the blob backend', () => this.#client.send(new ListObjectsV2Command({ Bucket: this.#bucket, Prefix: this.#prefix, MaxKeys: 1 })));
  }

  stats(): BlobStats {
    return { bytesRead: this.#bytesRead };
  }

  /** Stops renewing the markers of writes in flight (as a crash would) and closes the kept-alive connections. */
  close(): void {
    for (const lease of this.#leases) void lease.stop();
    this.#client.destroy();
    this.#agents.http.destroy();
    this.#agents.https.destroy();
  }
}

/**
 * A staging marker's renewal: `renew` every `everyMs` until stop(), which also
 * waits for a renewal in flight, so a marker publish deletes is not put back
 * after it. A failed renewal is only retried at the next beat: the lease is
 * long against the beat, and a write whose backend is away fails by itself.
 */
class StagingLease {
  readonly #timer: NodeJS.Timeout;
  #inFlight: Promise<unknown> | undefined;
  #stopped = false;

  constructor(renew: () => Promise<unknown>, everyMs: number, readonly registry: Set<StagingLease>) {
    registry.add(this);
    this.#timer = setInterval(() => {
      if (this.#stopped || this.#inFlight) return;
      this.#inFlight = renew()
        .catch(() => {})
        .finally(() => (this.#inFlight = undefined));
    }, everyMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.registry.delete(this);
    await this.#inFlight;
  }
}
