/**
 * "Where the time goes": the server's CPU profile during chosen workloads.
 * Each profile comes from a separate Coffer process started with
 * `node --cpu-prof`, so profiling never slows the measured run; the summary
 * keeps only the samples taken while the workload was measured.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from './client.js';
import type { PayloadPool } from './payload.js';
import { summarizeProfile, type CpuProfile, type ProfileSummary } from './profile.js';
import { startCoffer } from './servers.js';
import type { Credentials } from './sigv4.js';
import { measure, type Measurement, type Target } from './targets.js';

const KiB = 1024;
const MiB = 1024 * KiB;

export interface ProfiledWorkload {
  /** e.g. "PUT 1 MiB (SSE-S3, concurrency 8)". */
  name: string;
  seconds: number;
  throughput: string;
  summary: ProfileSummary;
  /** The .cpuprofile, for Chrome DevTools or speedscope. */
  file: string;
}

interface Step {
  name: string;
  run: (target: Target) => Promise<Measurement>;
  throughput: (m: Measurement) => string;
}

/** Runs `steps` in order against one Coffer started with --cpu-prof, then cuts its profile into one summary per step. */
async function profileSession(options: { credentials: Credentials; region: string; outDir: string; file: string; steps: Step[]; oneWorker: boolean }): Promise<ProfiledWorkload[]> {
  const profDir = mkdtempSync(join(tmpdir(), 'coffer-bench-prof-'));
  // One serving process, so one profile holds all the work.
  const coffer = await startCoffer({
    ...options.credentials,
    region: options.region,
    nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`],
    ...(options.oneWorker ? { workers: 1 } : {}),
  });
  const measured: Measurement[] = [];
  try {
    const setup = new S3Client({ endpoint: coffer.url, credentials: options.credentials, region: options.region, maxSockets: 1 });
    await setup.ok({ method: 'PUT', path: '/bench-profile', body: [] });
    setup.close();
    const target: Target = { id: 'SSE-S3', endpoint: coffer.url, probe: coffer.probe, bucket: 'bench-profile', writeHeaders: {}, readHeaders: {}, verifiable: true };
    for (const step of options.steps) measured.push(await step.run(target));
  } finally {
    // SIGTERM: Coffer exits through process.exit, which is when node writes the profile.
    await coffer.stop();
    rmSync(coffer.dataDir, { recursive: true, force: true });
  }
  const name = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  if (!name) throw new Error(`node wrote no .cpuprofile into ${profDir}`);
  const profile = JSON.parse(readFileSync(join(profDir, name), 'utf8')) as CpuProfile;
  rmSync(profDir, { recursive: true, force: true });
  mkdirSync(options.outDir, { recursive: true });
  const file = join(options.outDir, options.file);
  writeFileSync(file, JSON.stringify(profile));
  return options.steps.map((step, i) => {
    const m = measured[i]!;
    return { name: step.name, seconds: m.seconds, throughput: step.throughput(m), summary: summarizeProfile(profile, { window: m.window }), file };
  });
}

export async function profileWorkloads(options: {
  credentials: Credentials;
  region: string;
  pool: PayloadPool;
  seconds: number;
  outDir: string;
  /** Pass `--workers 1` (when this Coffer has the option). */
  oneWorker: boolean;
}): Promise<ProfiledWorkload[]> {
  const { credentials, region, pool, seconds, oneWorker } = options;
  const m = (target: Target, spec: Parameters<typeof measure>[3]) => measure(target, credentials, region, spec);
  const mibps = (x: Measurement) => `${(x.bytes / MiB / x.seconds).toFixed(0)} MiB/s`;
  const opsps = (x: Measurement) => `${(x.ops / x.seconds).toFixed(0)} ops/s`;
  let big = 0;
  let small = 0;
  const large = await profileSession({
    credentials,
    region,
    outDir: options.outDir,
    file: 'put-get-1mib.cpuprofile',
    oneWorker,
    steps: [
      {
        name: 'PUT 1 MiB (SSE-S3, concurrency 8)',
        throughput: mibps,
        run: (target) =>
          m(target, {
            concurrency: 8,
            maxOps: 1_000_000,
            maxSeconds: seconds,
            warmupOps: 64,
            warmupSeconds: 1,
            op: (client) => async () => {
              // 256 keys overwritten in turn: stored data stays bounded (see keyWindow in workloads.ts).
              const i = big++ % 256;
              await client.ok({ method: 'PUT', path: `/${target.bucket}/p/${i}`, body: pool.slice(i, 0, MiB) });
              return MiB;
            },
          }),
      },
      {
        name: 'GET 1 MiB (SSE-S3, concurrency 8)',
        throughput: mibps,
        run: (target) =>
          m(target, {
            concurrency: 8,
            maxOps: 1_000_000,
            maxSeconds: seconds / 2,
            warmupOps: 64,
            warmupSeconds: 1,
            op: (client) => async () => {
              const reply = await client.ok({ method: 'GET', path: `/${target.bucket}/p/${randomInt(Math.min(big, 256))}` });
              if (reply.bytes !== MiB) throw new Error(`GET: ${reply.bytes} bytes, expected ${MiB}`);
              return MiB;
            },
          }),
      },
    ],
  });
  const smallObjects = await profileSession({
    credentials,
    region,
    outDir: options.outDir,
    file: 'put-get-4kib.cpuprofile',
    oneWorker,
    steps: [
      {
        name: 'PUT 4 KiB (SSE-S3, concurrency 16)',
        throughput: opsps,
        run: (target) =>
          m(target, {
            concurrency: 16,
            maxOps: 1_000_000,
            maxSeconds: seconds / 2,
            warmupOps: 2000,
            warmupSeconds: 1,
            op: (client) => async () => {
              const i = small++;
              await client.ok({ method: 'PUT', path: `/${target.bucket}/s/${i}`, body: pool.slice(i, 0, 4 * KiB) });
              return 4 * KiB;
            },
          }),
      },
      {
        name: 'GET 4 KiB (SSE-S3, concurrency 16)',
        throughput: opsps,
        run: (target) =>
          m(target, {
            concurrency: 16,
            maxOps: 1_000_000,
            maxSeconds: seconds / 2,
            warmupOps: 2000,
            warmupSeconds: 1,
            op: (client) => async () => {
              const reply = await client.ok({ method: 'GET', path: `/${target.bucket}/s/${randomInt(small)}` });
              return reply.bytes;
            },
          }),
      },
    ],
  });
  return [...large, ...smallObjects];
}
