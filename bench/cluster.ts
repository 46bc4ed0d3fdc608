/**
 * `npm run bench -- --cluster`: the scale-out topology (issue 14) beside the embedded
 * default, in one sitting. Topologies, measured in turn within each repetition so that
 * drift on a shared machine hits all of them alike:
 *   - embedded: one `coffer serve --workers 1` on SQLite and local blob files;
 *   - cluster ×1: one such node with `--metadata-url` (PostgreSQL) and `--blob-url`
 *     (an S3 blob backend);
 *   - cluster ×2: two nodes on the same PostgreSQL and backend, each request sent to
 *     the next node in turn (what a round-robin load balancer does).
 * Without --metadata-url / --blob-url, a throwaway PostgreSQL (initdb + postgres on a
 * temp dir, as the tests start it) and a throwaway blob backend (another Coffer on a
 * temp dir) are started; with them, those engines are used (blob credentials from
 * COFFER_BLOB_ACCESS_KEY_ID / COFFER_BLOB_SECRET_ACCESS_KEY). The section it writes
 * into bench/RESULTS.md is kept by full runs of `npm run bench`.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { findPostgres, startPostgres, type TestPostgres } from '../test/helpers/postgres.js';
import { S3Client } from './lib/client.js';
import { createBucket } from './lib/setup.js';
import { runLoad } from './lib/load.js';
import { BodyVerifier, PayloadPool } from './lib/payload.js';
import { CLUSTER_END, CLUSTER_START, markdownTable } from './lib/report.js';
import { startCoffer, type CofferProcess } from './lib/servers.js';
import type { Credentials } from './lib/sigv4.js';
import { median, percentile } from './lib/stats.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const KiB = 1024;
const MiB = 1024 * KiB;

export const CLUSTER_USAGE = `Usage: npm run bench -- --cluster [options]

  --smoke               seconds, for CI: every workload once, tiny, no report unless --out
  --reps N              repetitions (default 3)
  --seconds S           longest measurement of one workload on one topology (default 6)
  --metadata-url URL    an existing PostgreSQL (default: a throwaway one started here)
  --blob-url s3://B/P   an existing S3 blob backend bucket (default: a throwaway Coffer)
  --blob-endpoint URL   that backend's endpoint
  --out FILE            the report it updates (default bench/RESULTS.md; --smoke: none)
`;

interface Workload {
  name: string;
  method: 'PUT' | 'GET';
  bytes: number;
  concurrency: number;
}

const WORKLOADS: Workload[] = [
  { name: 'PUT 4 KiB', method: 'PUT', bytes: 4 * KiB, concurrency: 16 },
  { name: 'GET 4 KiB', method: 'GET', bytes: 4 * KiB, concurrency: 16 },
  { name: 'PUT 1 MiB', method: 'PUT', bytes: MiB, concurrency: 8 },
  { name: 'GET 1 MiB', method: 'GET', bytes: MiB, concurrency: 8 },
];

type TopologyId = 'embedded' | 'cluster ×1' | 'cluster ×2';

interface Topology {
  id: TopologyId;
  nodes: CofferProcess[];
  clients: S3Client[];
}

interface Measurement {
  opsPerSecond: number;
  mibPerSecond: number;
  p50Ms: number;
}

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

export async function clusterBench(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv.filter((a) => a !== '--cluster'),
    options: {
      smoke: { type: 'boolean', default: false },
      reps: { type: 'string' },
      seconds: { type: 'string' },
      'metadata-url': { type: 'string' },
      'blob-url': { type: 'string' },
      'blob-endpoint': { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(CLUSTER_USAGE);
    return 0;
  }
  const smoke = values.smoke;
  const reps = Number(values.reps ?? (smoke ? 1 : 3));
  const seconds = Number(values.seconds ?? (smoke ? 0.5 : 6));
  const maxOps = smoke ? 20 : 1_000_000;
  const out = values.out ?? (smoke ? undefined : join(ROOT, 'bench', 'RESULTS.md'));
  if (!Number.isInteger(reps) || reps < 1 || !(seconds > 0)) throw new Error('--reps must be a positive integer and --seconds positive');
  if ((values['blob-url'] === undefined) !== (values['blob-endpoint'] === undefined)) throw new Error('--blob-url and --blob-endpoint go together');

  const credentials: Credentials = { accessKeyId: `BENCHCLUSTER${randomBytes(4).toString('hex').toUpperCase()}`, secretAccessKey: randomBytes(24).toString('base64url') };
  const region = 'us-east-1';
  const rootKey = randomBytes(32).toString('base64');
  const pool = new PayloadPool(2 * MiB + 4099);
  const stops: Array<() => Promise<void>> = [];
  const started = Date.now();
  const results = new Map<string, Measurement[]>();
  let engines = '';
  try {
    let metadataUrl = values['metadata-url'];
    let postgres: TestPostgres | undefined;
    if (metadataUrl === undefined) {
      const bins = findPostgres();
      if (!bins) throw new Error('no PostgreSQL (initdb, postgres) on this machine: give --metadata-url');
      postgres = await startPostgres(bins);
      stops.push(() => postgres!.stop());
      metadataUrl = postgres.url;
    }
    let blobUrl = values['blob-url'];
    let blobEndpoint = values['blob-endpoint'];
    const blobEnv: Record<string, string> = {};
    for (const k of ['COFFER_BLOB_ACCESS_KEY_ID', 'COFFER_BLOB_SECRET_ACCESS_KEY', 'COFFER_BLOB_REGION']) if (process.env[k]) blobEnv[k] = process.env[k]!;
    if (blobUrl === undefined) {
      const backend = await startCoffer({ ...credentials, region, workers: 1 });
      stops.push(() => backend.stop());
      const setup = new S3Client({ endpoint: backend.url, credentials, region, maxSockets: 1 });
      await createBucket(setup, 'cluster-blobs');
      setup.close();
      blobUrl = 's3://cluster-blobs/bench';
      blobEndpoint = backend.url.href;
      Object.assign(blobEnv, { COFFER_BLOB_ACCESS_KEY_ID: credentials.accessKeyId, COFFER_BLOB_SECRET_ACCESS_KEY: credentials.secretAccessKey });
    }
    engines = `${postgres ? `PostgreSQL started here (initdb on ${postgres.dir}, fsync on)` : 'PostgreSQL at --metadata-url'}; ${values['blob-url'] ? `blob backend ${blobUrl} at ${blobEndpoint}` : 'blob backend: another `coffer serve --workers 1` on a temp dir (it encrypts what it stores too)'}`;

    const clusterNode = () =>
      startCoffer({
        ...credentials,
        region,
        workers: 1,
        serveArgs: ['--metadata-url', metadataUrl!, '--blob-url', blobUrl!, '--blob-endpoint', blobEndpoint!],
        env: { COFFER_ROOT_KEY: rootKey, ...blobEnv },
      });
    const embedded = await startCoffer({ ...credentials, region, workers: 1 });
    stops.push(() => embedded.stop());
    const [n1, n2] = await Promise.all([clusterNode(), clusterNode()]);
    stops.push(() => n1.stop(), () => n2.stop());
    const clientFor = (node: CofferProcess) => new S3Client({ endpoint: node.url, credentials, region, maxSockets: 16 });
    const topologies: Topology[] = [
      { id: 'embedded', nodes: [embedded], clients: [clientFor(embedded)] },
      { id: 'cluster ×1', nodes: [n1], clients: [clientFor(n1)] },
      { id: 'cluster ×2', nodes: [n1, n2], clients: [clientFor(n1), clientFor(n2)] },
    ];
    stops.push(async () => topologies.forEach((t) => t.clients.forEach((c) => c.close())));
    // One bucket per topology (the two cluster topologies share the database, so their names differ).
    const bucketOf = (t: Topology) => `bench-${t.id.replace(/[^a-z0-9]+/g, '-').replace(/-$/, '')}`;
    for (const t of topologies) await createBucket(t.clients[0]!, bucketOf(t));
    log(`Cluster benchmark: ${reps} repetition(s), ≤ ${seconds} s per measurement; ${engines}`);

    for (let rep = 0; rep < reps; rep++) {
      for (const w of WORKLOADS) {
        for (const t of topologies) {
          const bucket = bucketOf(t);
          const keys = smoke ? 4 : 64;
          let turn = 0;
          const next = () => t.clients[turn++ % t.clients.length]!;
          if (w.method === 'GET') {
            for (let k = 0; k < keys; k++) await next().ok({ method: 'PUT', path: `/${bucket}/get-${w.bytes}-${k}`, body: pool.slice(k, 0, w.bytes) });
          }
          let seq = 0;
          const op = async (): Promise<number> => {
            const i = seq++;
            const client = next();
            if (w.method === 'PUT') {
              await client.ok({ method: 'PUT', path: `/${bucket}/put-${w.bytes}-${i % 4096}`, body: pool.slice(i, 0, w.bytes) });
            } else {
              // Every GET is compared byte for byte with what was PUT (through whichever node).
              const verifier = new BodyVerifier(pool.slice(i % keys, 0, w.bytes));
              await client.ok({ method: 'GET', path: `/${bucket}/get-${w.bytes}-${i % keys}`, response: { kind: 'verify', verifier } });
              const problem = verifier.problem();
              if (problem) throw new Error(`GET through ${t.id}: ${problem}`);
            }
            return w.bytes;
          };
          const r = await runLoad({ concurrency: w.concurrency, maxOps, maxSeconds: seconds, warmupOps: smoke ? 2 : w.concurrency * 4, warmupSeconds: 2, op });
          const m: Measurement = { opsPerSecond: r.ops / r.seconds, mibPerSecond: r.bytes / MiB / r.seconds, p50Ms: percentile(r.latencies, 50) };
          const key = `${w.name}\n${t.id}`;
          results.set(key, [...(results.get(key) ?? []), m]);
          log(`  rep ${rep + 1} ${w.name.padEnd(10)} ${t.id.padEnd(11)} ${m.opsPerSecond.toFixed(0).padStart(6)} req/s ${m.mibPerSecond.toFixed(1).padStart(7)} MiB/s  p50 ${m.p50Ms.toFixed(1)} ms`);
        }
      }
    }
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  }

  const rows: string[][] = [];
  for (const w of WORKLOADS) {
    const med = (t: TopologyId) => {
      const ms = results.get(`${w.name}\n${t}`) ?? [];
      return { ops: median(ms.map((m) => m.opsPerSecond)), mib: median(ms.map((m) => m.mibPerSecond)), p50: median(ms.map((m) => m.p50Ms)) };
    };
    const [e, c1, c2] = [med('embedded'), med('cluster ×1'), med('cluster ×2')];
    const cell = (x: { ops: number; mib: number; p50: number }) => (w.bytes >= MiB ? `${x.mib.toFixed(1)} MiB/s` : `${x.ops.toFixed(0)} req/s`) + ` (p50 ${x.p50.toFixed(1)} ms)`;
    rows.push([w.name, String(w.concurrency), cell(e), cell(c1), cell(c2), `${(c1.ops / e.ops).toFixed(2)}×`, `${(c2.ops / c1.ops).toFixed(2)}×`]);
  }
  const table = markdownTable(['workload (SSE-S3)', 'concurrency', 'embedded (SQLite + files)', 'cluster, 1 node', 'cluster, 2 nodes', '1 node / embedded', '2 nodes / 1 node'], rows);
  log('');
  log(table);
  log(`\nDone in ${((Date.now() - started) / 60_000).toFixed(1)} minutes.`);
  if (out) {
    const section = [
      CLUSTER_START,
      '## Scale-out topology (`npm run bench -- --cluster`)',
      '',
      `Measured ${new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')} on ${cpus().length} cores; medians of ${reps} repetition(s), each ≤ ${seconds} s per workload and topology, topologies interleaved. Every node is \`coffer serve --workers 1\`; ${engines}. Requests go to the nodes in turn.`,
      '',
      table,
      '',
      CLUSTER_END,
    ].join('\n');
    const previous = existsSync(out) ? readFileSync(out, 'utf8') : '';
    const a = previous.indexOf(CLUSTER_START);
    const b = previous.indexOf(CLUSTER_END);
    const next = a >= 0 && b > a ? previous.slice(0, a) + section + previous.slice(b + CLUSTER_END.length) : `${previous.trimEnd()}\n\n${section}\n`;
    writeFileSync(out, next);
    log(`Cluster section written to ${out}`);
  }
  return 0;
}
