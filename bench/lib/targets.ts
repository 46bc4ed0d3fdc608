/**
 * What a workload runs against: the sinks and Coffer in each encryption
 * mode (one bucket per mode), each with the headers its requests carry, and
 * `measure`, which wraps one bounded load run in the server-side readings
 * (CPU, peak RSS, bytes read, KMS calls) and the client's own CPU.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { S3Client } from './client.js';
import { runLoad, type LoadResult } from './load.js';
import { machineBusySeconds, ProcessProbe, selfCpuSeconds } from './proc.js';
import type { Credentials } from './sigv4.js';
import { percentile } from './stats.js';

export type CofferMode = 'SSE-S3' | 'SSE-KMS' | 'SSE-KMS+BK' | 'SSE-C';
/** The encryption modes a peer (`--peer-endpoint`, another S3 server) is probed for; `none` asks for no encryption. */
export type PeerMode = 'SSE-S3' | 'SSE-KMS' | 'SSE-C' | 'none';
export type PeerTargetId = `peer ${PeerMode}`;
export type TargetId = 'sink' | 'sink+crypto' | 'sink+disk' | CofferMode | PeerTargetId;

/** The sinks every workload is compared with; `sink+disk` (a durable write) joins PUT workloads only. */
export const SINKS: readonly TargetId[] = ['sink', 'sink+crypto'];
export const COFFER_MODES: readonly CofferMode[] = ['SSE-S3', 'SSE-KMS', 'SSE-KMS+BK', 'SSE-C'];
export const PEER_MODES: readonly PeerMode[] = ['SSE-S3', 'SSE-KMS', 'SSE-C', 'none'];

export function peerTargetId(mode: PeerMode): PeerTargetId {
  return `peer ${mode}`;
}

export function isPeerTarget(id: TargetId): id is PeerTargetId {
  return id.startsWith('peer ');
}

/**
 * The Coffer mode a peer mode is compared with. The peer's unencrypted mode is set
 * beside Coffer's SSE-S3 (Coffer always encrypts): what encryption at rest costs
 * Coffer against what storing plaintext costs the peer, labelled as such.
 */
export const PEER_COUNTERPART: Readonly<Record<PeerMode, CofferMode>> = { 'SSE-S3': 'SSE-S3', 'SSE-KMS': 'SSE-KMS', 'SSE-C': 'SSE-C', none: 'SSE-S3' };

export interface Target {
  id: TargetId;
  endpoint: URL;
  /** The server process, when its /proc entry can be read. */
  probe?: ProcessProbe;
  bucket: string;
  /** Headers of writes (PutObject, CreateMultipartUpload, UploadPart for SSE-C). */
  writeHeaders: Readonly<Record<string, string>>;
  /** Headers of reads (GetObject, HeadObject): SSE-C's key. */
  readHeaders: Readonly<Record<string, string>>;
  /** Counts KMS operations from Coffer's audit log. */
  kms?: KmsAuditCounter;
  /** Sinks return their own bytes; only real stores are verified. */
  verifiable: boolean;
  /** Its own credentials and region (a peer server); default: the run's. */
  credentials?: Credentials;
  region?: string;
}

/** SSE-C headers for a customer key (fixed for the run). */
export function sseCHeaders(customerKey: Buffer): Record<string, string> {
  return {
    'x-amz-server-side-encryption-customer-algorithm': 'AES256',
    'x-amz-server-side-encryption-customer-key': customerKey.toString('base64'),
    'x-amz-server-side-encryption-customer-key-md5': createHash('md5').update(customerKey).digest('base64'),
  };
}

/** SSE-KMS headers: this KMS key, with or without an S3 Bucket Key. */
export function sseKmsHeaders(kmsKeyId: string, options: { bucketKey: boolean }): Record<string, string> {
  return {
    'x-amz-server-side-encryption': 'aws:kms',
    'x-amz-server-side-encryption-aws-kms-key-id': kmsKeyId,
    'x-amz-server-side-encryption-bucket-key-enabled': String(options.bucketKey),
  };
}

/**
 * Coffer appends one JSON line per KMS operation to `<data>/kms-audit.log`;
 * counting the lines a measurement added tells how often the KMS was called.
 */
export class KmsAuditCounter {
  #offset = 0;

  constructor(readonly path: string) {}

  /** Starts counting from the current end of the log. */
  mark(): void {
    this.#offset = existsSync(this.path) ? statSync(this.path).size : 0;
  }

  /**
   * Every operation in the whole log whose encryption context names this bucket
   * (an S3 Bucket Key's context) or an object in it, by name.
   */
  totalsForBucket(bucket: string): Record<string, number> {
    const counts: Record<string, number> = {};
    if (!existsSync(this.path)) return counts;
    const arn = `"aws:s3:arn":"arn:aws:s3:::${bucket}`;
    for (const line of readFileSync(this.path, 'utf8').split('\n')) {
      const at = line.indexOf(arn);
      if (at < 0) continue;
      const next = line[at + arn.length];
      if (next !== '"' && next !== '/') continue;
      const op = /"operation":"([A-Za-z]+)"/.exec(line)?.[1];
      if (op) counts[op] = (counts[op] ?? 0) + 1;
    }
    return counts;
  }

  /** Operations logged since `mark`, by name. */
  count(): Record<string, number> {
    const counts: Record<string, number> = {};
    if (!existsSync(this.path)) return counts;
    const size = statSync(this.path).size;
    if (size <= this.#offset) return counts;
    const buf = Buffer.allocUnsafe(size - this.#offset);
    const fd = openSync(this.path, 'r');
    try {
      readSync(fd, buf, 0, buf.length, this.#offset);
    } finally {
      closeSync(fd);
    }
    for (const m of buf.toString('utf8').matchAll(/"operation":"([A-Za-z]+)"/g)) counts[m[1]!] = (counts[m[1]!] ?? 0) + 1;
    return counts;
  }
}

/** The KMS operations that use key material (the ones S3 Bucket Keys exist to cut). */
export const KMS_DATA_KEY_OPERATIONS = ['GenerateDataKey', 'Decrypt', 'Encrypt'] as const;

export function dataKeyCalls(counts: Record<string, number> | undefined): number | undefined {
  if (!counts) return undefined;
  return KMS_DATA_KEY_OPERATIONS.reduce((n, op) => n + (counts[op] ?? 0), 0);
}

export interface Measurement {
  ops: number;
  bytes: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
  clientCpuSeconds: number;
  serverCpuSeconds?: number;
  /** Of which in the kernel. */
  serverSysSeconds?: number;
  /** VmHWM summed over the server's processes, and of the largest one. */
  peakRssBytes?: number;
  peakRssLargestBytes?: number;
  /** With `sampleMemory`: the largest memory the processes occupied together, shared pages once (ProcessProbe.memory). */
  peakResidentBytes?: number;
  /** With `sampleMemory`: the largest sum of their RSS at one moment. */
  peakRssTogetherBytes?: number;
  serverReadBytes?: number;
  /** KMS operations by name, from the audit log. */
  kms?: Record<string, number>;
  /** Responses compared byte for byte. */
  verified: number;
  /** CPU seconds the rest of the machine used meanwhile (busy time minus server and client): noise from other work. */
  otherCpuSeconds?: number;
  /** When measuring began and ended, µs on the monotonic clock (to cut a server's CPU profile to this window). */
  window: [number, number];
}

export interface MeasureSpec {
  concurrency: number;
  /** Connections to keep (default: `concurrency`); an operation may make several requests at once. */
  sockets?: number;
  maxOps: number;
  maxSeconds: number;
  warmupOps?: number;
  warmupSeconds?: number;
  /** Sample the server's memory every 100 ms while measuring (see Measurement.peakResidentBytes). */
  sampleMemory?: boolean;
  /** Builds the operation on a client made for this run; `verified` is called after each byte-for-byte check. */
  op: (client: S3Client, verified: () => void) => () => Promise<number>;
}

function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** One bounded load run against a target, with the server's CPU, memory, reads and KMS calls around it. */
export async function measure(target: Target, credentials: Credentials, region: string, spec: MeasureSpec): Promise<Measurement> {
  const client = new S3Client({ endpoint: target.endpoint, credentials: target.credentials ?? credentials, region: target.region ?? region, maxSockets: spec.sockets ?? spec.concurrency });
  let verified = 0;
  const op = spec.op(client, () => verified++);
  let before: { client: number; machine: number; started: number; server?: ReturnType<ProcessProbe['sample']> } | undefined;
  let result: LoadResult;
  const memory = { resident: 0, rss: 0, sampled: false };
  let sampler: NodeJS.Timeout | undefined;
  const sampleMemory = () => {
    const now = target.probe?.memory();
    if (!now) return;
    memory.sampled = true;
    memory.resident = Math.max(memory.resident, now.resident);
    memory.rss = Math.max(memory.rss, now.rss);
  };
  try {
    result = await runLoad({
      concurrency: spec.concurrency,
      maxOps: spec.maxOps,
      maxSeconds: spec.maxSeconds,
      ...(spec.warmupOps ? { warmupOps: spec.warmupOps, warmupSeconds: spec.warmupSeconds ?? Math.min(0.5, spec.maxSeconds / 4) } : {}),
      op,
      beforeMeasuring: () => {
        verified = 0;
        target.kms?.mark();
        target.probe?.resetPeakRss();
        before = { client: selfCpuSeconds(), machine: machineBusySeconds(), started: monotonicUs(), ...(target.probe ? { server: target.probe.sample() } : {}) };
        if (spec.sampleMemory && target.probe) {
          sampleMemory();
          sampler = setInterval(sampleMemory, 100);
        }
      },
    });
  } finally {
    clearInterval(sampler);
    client.close();
  }
  const ended = monotonicUs();
  const clientCpu = selfCpuSeconds() - before!.client;
  const machineCpu = machineBusySeconds() - before!.machine;
  const after = target.probe?.sample();
  const m: Measurement = {
    ops: result.ops,
    bytes: result.bytes,
    seconds: result.seconds,
    p50Ms: percentile(result.latencies, 50),
    p99Ms: percentile(result.latencies, 99),
    clientCpuSeconds: clientCpu,
    verified,
    window: [before!.started, ended],
  };
  if (target.probe && after && before?.server) {
    m.serverCpuSeconds = after.cpuSeconds - before.server.cpuSeconds;
    m.serverSysSeconds = after.sysSeconds - before.server.sysSeconds;
    m.otherCpuSeconds = Math.max(0, machineCpu - clientCpu - m.serverCpuSeconds);
    const rss = target.probe.peakRss();
    m.peakRssBytes = rss.totalBytes;
    m.peakRssLargestBytes = rss.largestBytes;
    if (memory.sampled) {
      m.peakResidentBytes = memory.resident;
      m.peakRssTogetherBytes = memory.rss;
    }
    if (after.readBytes !== undefined && before.server.readBytes !== undefined) m.serverReadBytes = after.readBytes - before.server.readBytes;
  }
  if (target.kms) {
    // The audit line is written before the response goes out; a short pause covers a lagging write(2).
    await new Promise((r) => setTimeout(r, 20));
    m.kms = target.kms.count();
  }
  return m;
}
