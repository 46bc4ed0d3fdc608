/**
 * The workloads of issue #7. Each one runs every target in turn, `reps`
 * times, interleaved (sink, sink+crypto, SSE-S3, …, then again), so slow
 * drift of the machine hits every target alike and ratios stay fair.
 */
import { randomInt } from 'node:crypto';
import type { S3Client } from './client.js';
import { BodyVerifier, type PayloadPool } from './payload.js';
import type { ObjectSizePlan, Plan } from './plan.js';
import type { Group, Results } from './results.js';
import type { Credentials } from './sigv4.js';
import { measure, type Measurement, type MeasureSpec, type Target, type TargetId } from './targets.js';

export interface Bench {
  plan: Plan;
  credentials: Credentials;
  region: string;
  pool: PayloadPool;
  targets: ReadonlyMap<TargetId, Target>;
  results: Results;
  selected(workload: string): boolean;
  log(line: string): void;
}

const MiB = 1024 * 1024;

function fmt(m: Measurement): string {
  const mibs = m.bytes / MiB / m.seconds;
  const parts = [`${(m.ops / m.seconds).toFixed(0)} ops/s`];
  if (m.bytes > 0) parts.push(`${mibs.toFixed(1)} MiB/s`);
  parts.push(`p50 ${m.p50Ms.toFixed(2)} ms`, `p99 ${m.p99Ms.toFixed(2)} ms`);
  if (m.serverCpuSeconds !== undefined) parts.push(`server CPU ${((m.serverCpuSeconds / m.seconds) * 100).toFixed(0)}%`);
  return parts.join(', ');
}

export async function record(b: Bench, group: Group, workload: string, target: Target, spec: MeasureSpec): Promise<Measurement | undefined> {
  try {
    const m = await measure(target, b.credentials, b.region, spec);
    b.results.add(group, workload, target.id, spec.concurrency, m);
    b.log(`  ${workload.padEnd(34)} ${target.id.padEnd(12)} ${fmt(m)}`);
    return m;
  } catch (err) {
    const error = err instanceof Error ? err : new Error(String(err));
    b.results.add(group, workload, target.id, spec.concurrency, error);
    b.log(`  ${workload.padEnd(34)} ${target.id.padEnd(12)} FAILED: ${error.message}`);
    return undefined;
  }
}

function present(b: Bench, ids: readonly TargetId[]): Target[] {
  return ids.map((id) => b.targets.get(id)).filter((t): t is Target => t !== undefined);
}

async function checkedGet(client: S3Client, target: Target, path: string, expected: Buffer[] | undefined, length: number, headers: Record<string, string> = {}): Promise<number> {
  const verifier = expected ? new BodyVerifier(expected) : undefined;
  const reply = await client.ok({
    method: 'GET',
    path,
    headers: { ...target.readHeaders, ...headers },
    response: verifier ? { kind: 'verify', verifier } : { kind: 'count' },
  });
  if (reply.bytes !== length) throw new Error(`GET ${path}: ${reply.bytes} bytes, expected ${length}`);
  const problem = verifier?.problem();
  if (problem) throw new Error(`GET ${path}: ${problem}`);
  return reply.bytes;
}

// ---- warm-up ------------------------------------------------------------------------------

/**
 * Runs 4 KiB PUTs then GETs against each target, unmeasured: the first
 * seconds of a node process (JIT tiers, socket buffers, SQLite's page cache)
 * are much slower than the rest, and would otherwise land on whichever
 * target happens to be measured first.
 */
export async function warmUp(b: Bench, targetIds: readonly TargetId[]): Promise<void> {
  b.log(`Warming up (${b.plan.warmupSeconds} s per target)`);
  await warmUpTargets(b, present(b, targetIds));
}

export async function warmUpTargets(b: Bench, targets: readonly Target[]): Promise<void> {
  const seconds = b.plan.warmupSeconds / 2;
  for (const target of targets) {
    let n = 0;
    await measure(target, b.credentials, b.region, {
      concurrency: 16,
      maxOps: 1_000_000,
      maxSeconds: seconds,
      op: (client) => async () => {
        const i = n++;
        await client.ok({ method: 'PUT', path: `/${target.bucket}/warmup/${i}`, headers: target.writeHeaders, body: b.pool.slice(i, 0, 4096) });
        return 4096;
      },
    });
    const count = n;
    await measure(target, b.credentials, b.region, {
      concurrency: 16,
      maxOps: 1_000_000,
      maxSeconds: seconds,
      op: (client) => async () => {
        const i = randomInt(count);
        await checkedGet(client, target, `/${target.bucket}/warmup/${i}`, undefined, 4096);
        return 4096;
      },
    });
  }
}

// ---- PUT and GET of whole objects ---------------------------------------------------------

/** PUTs issued per (target, size) in this run: GET reads back what they wrote. */
const written = new Map<string, number>();

function objectKey(size: ObjectSizePlan, n: number): string {
  return `obj/${size.label.replace(' ', '')}/${n}`;
}

function objectSeed(sizeIndex: number, n: number): number {
  return sizeIndex * 10_000_000 + n;
}

/**
 * How many keys PUT cycles through per target and size: at most 256 MiB of
 * live objects, so what stays stored is bounded. On a VM whose memory is
 * backed lazily by the host, a page cache that keeps growing into memory the
 * guest never touched makes every write up to twice as slow (the kernel's
 * copy into new page-cache pages dominates), which would penalize whichever
 * target happens to write last. Overwritten blobs are deleted by Coffer's
 * collector, as the sink+disk deletes its files.
 */
function keyWindow(size: ObjectSizePlan): number {
  return Math.max(size.concurrency * 4, Math.floor((256 * MiB) / size.bytes));
}

/** PutObject of the next key of this target and size (cycling through the window); GET reads them back. */
function putNextObject(b: Bench, target: Target, size: ObjectSizePlan, sizeIndex: number): MeasureSpec['op'] {
  const slot = `${target.id}/${size.label}`;
  const window = keyWindow(size);
  return (client) => async () => {
    const issued = written.get(slot) ?? 0;
    written.set(slot, issued + 1);
    // A key's content depends only on the key, so any version of it verifies.
    const n = issued % window;
    await client.ok({ method: 'PUT', path: `/${target.bucket}/${objectKey(size, n)}`, headers: target.writeHeaders, body: b.pool.slice(objectSeed(sizeIndex, n), 0, size.bytes) });
    return size.bytes;
  };
}

export async function objectWorkloads(b: Bench, targetIds: readonly TargetId[]): Promise<void> {
  const targets = present(b, targetIds);
  for (const [sizeIndex, size] of b.plan.objectSizes.entries()) {
    const putName = `PUT ${size.label}`;
    const getName = `GET ${size.label}`;
    const limits = { concurrency: size.concurrency, maxOps: size.maxOps, maxSeconds: size.maxSeconds, warmupOps: size.warmupOps };
    if (b.selected(putName)) {
      b.log(`${putName} (concurrency ${size.concurrency})`);
      for (let rep = 0; rep < b.plan.reps; rep++) {
        for (const target of targets) await record(b, 'PUT', putName, target, { ...limits, op: putNextObject(b, target, size, sizeIndex) });
      }
    }
    if (!b.selected(getName)) continue;
    b.log(`${getName} (concurrency ${size.concurrency})`);
    // sink+disk is a reference for durable writes only; its GET is sink+crypto's.
    const readers = targets.filter((t) => t.id !== 'sink+disk');
    for (const target of readers) {
      // GET alone (--only): write a few objects first, unmeasured.
      if ((written.get(`${target.id}/${size.label}`) ?? 0) > 0) continue;
      await measure(target, b.credentials, b.region, { concurrency: size.concurrency, maxOps: size.concurrency * 2, maxSeconds: 60, op: putNextObject(b, target, size, sizeIndex) }).catch(
        () => undefined,
      );
    }
    for (let rep = 0; rep < b.plan.reps; rep++) {
      for (const target of readers) {
        const count = Math.min(written.get(`${target.id}/${size.label}`) ?? 0, keyWindow(size));
        if (count === 0) continue;
        let i = 0;
        await record(b, 'GET', getName, target, {
          ...limits,
          op: (client, verified) => async () => {
            const n = randomInt(count);
            const check = target.verifiable && i++ % b.plan.verifyEvery === 0;
            const bytes = await checkedGet(client, target, `/${target.bucket}/${objectKey(size, n)}`, check ? b.pool.slice(objectSeed(sizeIndex, n), 0, size.bytes) : undefined, size.bytes);
            if (check) verified();
            return bytes;
          },
        });
      }
    }
  }
}

// ---- random range GETs on one large object ------------------------------------------------

const RANGE_SEED = 900_000_000;

/** Uploads one object of `bytes` with a single PUT (setup, unmeasured). */
async function putLarge(b: Bench, target: Target, key: string, seed: number, bytes: number): Promise<void> {
  await measure(target, b.credentials, b.region, {
    concurrency: 1,
    maxOps: 1,
    maxSeconds: 600,
    op: (client) => async () => {
      await client.ok({ method: 'PUT', path: `/${target.bucket}/${key}`, headers: target.writeHeaders, body: b.pool.slice(seed, 0, bytes) });
      return bytes;
    },
  });
}

export function rangeWorkloadName(plan: Plan, concurrency: number): string {
  const size = plan.range.objectBytes >= 1024 * MiB ? `${plan.range.objectBytes / (1024 * MiB)} GiB` : `${plan.range.objectBytes / MiB} MiB`;
  return `Range GET ${plan.range.rangeBytes / 1024} KiB of ${size}, ×${concurrency}`;
}

export async function rangeWorkloads(b: Bench, targetIds: readonly TargetId[]): Promise<void> {
  const names = b.plan.range.concurrencies.map((c) => rangeWorkloadName(b.plan, c));
  if (!names.some((n) => b.selected(n))) return;
  const { objectBytes, rangeBytes } = b.plan.range;
  const targets: Target[] = [];
  b.log(`Range GET: uploading a ${objectBytes / MiB} MiB object to each target`);
  for (const target of present(b, targetIds)) {
    try {
      await putLarge(b, target, 'range/object', RANGE_SEED, objectBytes);
      targets.push(target);
    } catch (err) {
      for (const [i, c] of b.plan.range.concurrencies.entries()) b.results.add('Range GET', names[i]!, target.id, c, err instanceof Error ? err : new Error(String(err)));
    }
  }
  for (const [ci, concurrency] of b.plan.range.concurrencies.entries()) {
    const name = names[ci]!;
    if (!b.selected(name)) continue;
    b.log(name);
    for (let rep = 0; rep < b.plan.reps; rep++) {
      for (const target of targets) {
        let i = 0;
        await record(b, 'Range GET', name, target, {
          concurrency,
          maxOps: b.plan.range.maxOps,
          maxSeconds: b.plan.range.maxSeconds,
          warmupOps: concurrency * 8,
          op: (client, verified) => async () => {
            // Any byte offset: about one range in sixteen straddles two 64 KiB packages.
            const start = randomInt(objectBytes - rangeBytes + 1);
            const check = target.verifiable && i++ % b.plan.verifyEvery === 0;
            const path = `/${target.bucket}/range/object`;
            const bytes = await checkedGet(client, target, path, check ? b.pool.slice(RANGE_SEED, start, rangeBytes) : undefined, rangeBytes, {
              range: `bytes=${start}-${start + rangeBytes - 1}`,
            });
            if (check) verified();
            return bytes;
          },
        });
      }
    }
  }
}

// ---- HEAD and ListObjectsV2 on a bucket of many keys --------------------------------------

function manyKey(n: number): string {
  return `k/${String(n).padStart(8, '0')}`;
}

/** Fills `target`'s bucket with `count` empty objects; measured, since the fill rate is a figure too. */
async function fill(b: Bench, target: Target, count: number, workload: string): Promise<number> {
  let next = 0;
  const m = await record(b, 'Metadata', workload, target, {
    concurrency: b.plan.keys.fillConcurrency,
    maxOps: count,
    maxSeconds: b.plan.keys.fillSeconds,
    op: (client) => async () => {
      const n = next++;
      await client.ok({ method: 'PUT', path: `/${target.bucket}/${manyKey(n)}`, headers: target.writeHeaders, body: [] });
      return 0;
    },
  });
  return m?.ops ?? 0;
}

async function headAndList(b: Bench, targets: Target[], count: number, label: string): Promise<void> {
  const headName = `HEAD (${label} keys)`;
  const listName = `ListObjectsV2 1000 (${label} keys)`;
  const { concurrency, maxOps, maxSeconds } = b.plan.keys;
  if (b.selected(headName)) {
    b.log(headName);
    for (let rep = 0; rep < b.plan.reps; rep++) {
      for (const target of targets) {
        await record(b, 'Metadata', headName, target, {
          concurrency,
          maxOps,
          maxSeconds,
          warmupOps: concurrency * 8,
          op: (client) => async () => {
            await client.ok({ method: 'HEAD', path: `/${target.bucket}/${manyKey(randomInt(count))}`, headers: target.readHeaders });
            return 0;
          },
        });
      }
    }
  }
  if (b.selected(listName)) {
    b.log(listName);
    const listConcurrency = Math.max(1, concurrency >> 2);
    for (let rep = 0; rep < b.plan.reps; rep++) {
      for (const target of targets) {
        let i = 0;
        await record(b, 'Metadata', listName, target, {
          concurrency: listConcurrency,
          maxOps: Math.max(1, maxOps >> 4),
          maxSeconds,
          warmupOps: listConcurrency * 2,
          op: (client, verified) => async () => {
            // Full pages only (when the bucket has more than a page), so buckets of different sizes compare.
            const after = count > 1001 ? randomInt(count - 1001) : randomInt(count);
            const reply = await client.ok({
              method: 'GET',
              path: `/${target.bucket}`,
              query: { 'list-type': '2', 'max-keys': '1000', 'start-after': manyKey(after) },
              response: { kind: 'collect' },
            });
            if (target.verifiable && i++ % b.plan.verifyEvery === 0) {
              // The page must start right after `start-after` and hold min(1000, what is left) keys.
              const text = reply.body!.toString('utf8');
              const keys = text.match(/<Key>/g)?.length ?? 0;
              const want = Math.min(1000, count - after - 1);
              const first = /<Key>([^<]*)<\/Key>/.exec(text)?.[1];
              if (keys !== want || (want > 0 && first !== manyKey(after + 1))) {
                throw new Error(`ListObjectsV2 after ${manyKey(after)}: ${keys} keys starting at ${first}, expected ${want} from ${manyKey(after + 1)}`);
              }
              verified();
            }
            return reply.bytes;
          },
        });
      }
    }
  }
}

/**
 * Fills Coffer's bucket (and, with `peerId`, the peer's), then HEAD and List on as many
 * keys as every filled bucket holds, interleaved: sink, Coffer, peer in each repetition.
 */
export async function metadataWorkloads(b: Bench, sinkId: TargetId, cofferId: TargetId, peerId?: TargetId): Promise<void> {
  const { count, smallCount } = b.plan.keys;
  const big = count >= 1000 ? `${count / 1000}k` : String(count);
  const small = smallCount >= 1000 ? `${smallCount / 1000}k` : String(smallCount);
  const anyBig = [`HEAD (${big} keys)`, `ListObjectsV2 1000 (${big} keys)`].some((n) => b.selected(n));
  const anySmall = smallCount > 0 && [`HEAD (${small} keys)`, `ListObjectsV2 1000 (${small} keys)`].some((n) => b.selected(n));
  const sink = b.targets.get(sinkId);
  const stores = [cofferId, ...(peerId ? [peerId] : [])].map((id) => b.targets.get(id)).filter((t): t is Target => t !== undefined);
  if (stores[0]?.id !== cofferId) return;
  const fillAll = async (suffix: string, n: number, label: string): Promise<{ targets: Target[]; filled: number }> => {
    const targets: Target[] = [];
    let filled = n;
    for (const store of stores) {
      const keysTarget: Target = { ...store, bucket: `${store.bucket}${suffix}` };
      const made = await fill(b, keysTarget, n, `PUT 0 B (fill ${label} keys)`);
      if (made < n) b.log(`  ${store.id}: the fill stopped after ${b.plan.keys.fillSeconds} s with ${made} keys; HEAD and List use ${made < filled ? made : filled}`);
      if (made === 0) continue;
      filled = Math.min(filled, made);
      targets.push(keysTarget);
    }
    return { targets, filled };
  };
  if (anyBig) {
    b.log(`Filling a bucket with ${count} empty objects (concurrency ${b.plan.keys.fillConcurrency})`);
    const { targets, filled } = await fillAll('-keys', count, big);
    if (targets.length > 0) await headAndList(b, [...(sink ? [sink] : []), ...targets], filled, big);
  }
  if (anySmall) {
    const { targets, filled } = await fillAll('-few', smallCount, small);
    if (targets.length > 0) await headAndList(b, targets, filled, small);
  }
}

// ---- multipart upload ---------------------------------------------------------------------

const MULTIPART_SEED = 800_000_000;

export function multipartWorkloadName(plan: Plan): string {
  const { objectBytes, partBytes, parallel } = plan.multipart;
  const size = objectBytes >= 1024 * MiB ? `${objectBytes / (1024 * MiB)} GiB` : `${objectBytes / MiB} MiB`;
  return `Multipart ${size}, ${partBytes / MiB} MiB parts ×${parallel}`;
}

async function multipartUpload(client: S3Client, b: Bench, target: Target, key: string): Promise<void> {
  const { objectBytes, partBytes, parallel } = b.plan.multipart;
  const path = `/${target.bucket}/${key}`;
  const created = await client.ok({ method: 'POST', path, query: { uploads: '' }, headers: target.writeHeaders, response: { kind: 'collect' } });
  const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(created.body!.toString('utf8'))?.[1];
  if (!uploadId) throw new Error(`CreateMultipartUpload ${path}: no UploadId`);
  const partCount = Math.ceil(objectBytes / partBytes);
  const etags: string[] = [];
  let nextPart = 1;
  // SSE-C parts carry the customer key (the read headers: only SSE-C has any); the other modes take the upload's keys.
  const partHeaders = target.readHeaders;
  const worker = async () => {
    while (nextPart <= partCount) {
      const part = nextPart++;
      const start = (part - 1) * partBytes;
      const length = Math.min(partBytes, objectBytes - start);
      const reply = await client.ok({
        method: 'PUT',
        path,
        query: { partNumber: String(part), uploadId },
        headers: partHeaders,
        body: b.pool.slice(MULTIPART_SEED, start, length),
      });
      const etag = reply.headers.etag;
      if (typeof etag !== 'string') throw new Error(`UploadPart ${part}: no ETag`);
      etags[part - 1] = etag;
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  const xml = `<CompleteMultipartUpload>${etags.map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${e}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
  const done = await client.ok({ method: 'POST', path, query: { uploadId }, headers: partHeaders, body: [Buffer.from(xml)], response: { kind: 'collect' } });
  // CompleteMultipartUpload can fail with 200 and an <Error> body.
  if (!done.body!.toString('utf8').includes('CompleteMultipartUploadResult')) throw new Error(`CompleteMultipartUpload ${path}: ${done.body!.toString('utf8').slice(0, 300)}`);
}

export async function multipartWorkloads(b: Bench, targetIds: readonly TargetId[]): Promise<void> {
  const name = multipartWorkloadName(b.plan);
  if (!b.selected(name)) return;
  b.log(name);
  const { objectBytes, parallel, reps } = b.plan.multipart;
  for (let rep = 0; rep < reps; rep++) {
    for (const target of present(b, targetIds)) {
      // The same key every repetition: the previous upload's blobs are collected, stored data stays bounded.
      const key = 'mpu/object';
      const m = await record(b, 'Multipart', name, target, {
        concurrency: 1,
        maxOps: 1,
        maxSeconds: 900,
        sockets: parallel,
        op: (client) => async () => {
          await multipartUpload(client, b, target, key);
          return objectBytes;
        },
      });
      if (!m || !target.verifiable) continue;
      // Read back a few ranges, one across the first part boundary, byte for byte.
      const { partBytes } = b.plan.multipart;
      const span = Math.min(MiB, objectBytes);
      const starts = [0, Math.max(0, partBytes - span / 2), randomInt(objectBytes - span + 1), objectBytes - span];
      try {
        await measure(target, b.credentials, b.region, {
          concurrency: 1,
          maxOps: starts.length,
          maxSeconds: 60,
          op: (client, verified) => async () => {
            const start = starts.shift()!;
            await checkedGet(client, target, `/${target.bucket}/${key}`, b.pool.slice(MULTIPART_SEED, start, span), span, { range: `bytes=${start}-${start + span - 1}` });
            verified();
            m.verified++;
            return span;
          },
        });
      } catch (err) {
        b.results.add('Multipart', name, target.id, 1, err instanceof Error ? err : new Error(String(err)));
      }
    }
  }
}

// ---- memory under many large uploads ------------------------------------------------------

export function memoryWorkloadName(plan: Plan): string {
  return `PUT ${plan.memory.objectBytes / MiB} MiB ×${plan.memory.concurrency} at once`;
}

export async function memoryWorkloads(b: Bench, targetIds: readonly TargetId[]): Promise<void> {
  const name = memoryWorkloadName(b.plan);
  if (!b.selected(name)) return;
  b.log(name);
  const { objectBytes, concurrency } = b.plan.memory;
  for (const target of present(b, targetIds)) {
    let n = 0;
    await record(b, 'Memory', name, target, {
      concurrency,
      maxOps: concurrency,
      maxSeconds: 900,
      sampleMemory: true,
      op: (client) => async () => {
        const i = n++;
        await client.ok({ method: 'PUT', path: `/${target.bucket}/mem/${i}`, headers: target.writeHeaders, body: b.pool.slice(700_000_000 + i, 0, objectBytes) });
        return objectBytes;
      },
    });
  }
}
