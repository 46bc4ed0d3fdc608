/**
 * Does Coffer use every core? PUT and GET 4 KiB (SSE-S3) against two fresh
 * Coffers side by side, one started with `--workers 1` and one with
 * `--workers <cores>`, measured in turn like every other workload.
 */
import { randomInt } from 'node:crypto';
import { rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { S3Client } from './client.js';
import type { Results } from './results.js';
import { startCoffer, type CofferProcess } from './servers.js';
import type { Target } from './targets.js';
import { record, warmUpTargets, type Bench } from './workloads.js';

export function scalingWorkloadName(verb: 'PUT' | 'GET', workers: number): string {
  return `${verb} 4 KiB, --workers ${workers}`;
}

/** PUT 4 KiB with the most workers over PUT 4 KiB with one, median of the paired measurements. */
export function workersSpeedup(results: Results, verb: 'PUT' | 'GET', workers: number): number | undefined {
  const one = results.get(scalingWorkloadName(verb, 1), 'SSE-S3');
  const many = results.get(scalingWorkloadName(verb, workers), 'SSE-S3');
  if (!one || !many || one.reps.length === 0 || many.reps.length === 0) return undefined;
  const ratios = many.reps.map((m, i) => (one.reps[i] ? m.ops / m.seconds / (one.reps[i]!.ops / one.reps[i]!.seconds) : Number.NaN)).filter(Number.isFinite).sort((a, b) => a - b);
  return ratios.length > 0 ? ratios[Math.floor((ratios.length - 1) / 2)] : undefined;
}

export async function scalingWorkloads(b: Bench): Promise<void> {
  const counts = [1, Math.max(2, cpus().length)];
  const names = counts.flatMap((w) => [scalingWorkloadName('PUT', w), scalingWorkloadName('GET', w)]);
  if (!names.some((n) => b.selected(n))) return;
  const size = b.plan.objectSizes[0]!;
  b.log(`Scaling: PUT and GET ${size.label} against Coffer with --workers ${counts.join(' and --workers ')}`);
  const servers: CofferProcess[] = [];
  try {
    const targets: Target[] = [];
    for (const workers of counts) {
      const coffer = await startCoffer({ ...b.credentials, region: b.region, workers });
      servers.push(coffer);
      const setup = new S3Client({ endpoint: coffer.url, credentials: b.credentials, region: b.region, maxSockets: 1 });
      await setup.ok({ method: 'PUT', path: '/bench-scaling', body: [] });
      setup.close();
      targets.push({ id: 'SSE-S3', endpoint: coffer.url, probe: coffer.probe, bucket: 'bench-scaling', writeHeaders: {}, readHeaders: {}, verifiable: true });
    }
    await warmUpTargets(b, targets);
    const written = targets.map(() => 0);
    for (const verb of ['PUT', 'GET'] as const) {
      for (let rep = 0; rep < b.plan.reps; rep++) {
        for (const [i, target] of targets.entries()) {
          const name = scalingWorkloadName(verb, counts[i]!);
          if (!b.selected(name)) continue;
          if (verb === 'GET' && written[i] === 0) {
            b.log(`  ${name}: skipped, it reads what PUT ${size.label} wrote`);
            continue;
          }
          await record(b, 'Workers', name, target, {
            concurrency: size.concurrency,
            maxOps: size.maxOps,
            maxSeconds: size.maxSeconds,
            warmupOps: size.warmupOps,
            op: (client) => async () => {
              if (verb === 'PUT') {
                const n = written[i]!++;
                await client.ok({ method: 'PUT', path: `/${target.bucket}/s/${n}`, body: b.pool.slice(n, 0, size.bytes) });
              } else {
                const reply = await client.ok({ method: 'GET', path: `/${target.bucket}/s/${randomInt(written[i]!)}` });
                if (reply.bytes !== size.bytes) throw new Error(`GET: ${reply.bytes} bytes, expected ${size.bytes}`);
              }
              return size.bytes;
            },
          });
        }
      }
    }
  } finally {
    for (const s of servers) {
      await s.stop();
      rmSync(s.dataDir, { recursive: true, force: true });
    }
  }
}
