/**
 * Turns results into figures: medians of repetitions, ratios to the sinks
 * (computed per repetition, against the sink measured right before), the
 * targets of issue #7, a console table and the Markdown of bench/RESULTS.md.
 */
import { cpus } from 'node:os';
import type { PeerSetup } from './peer.js';
import type { Plan } from './plan.js';
import type { ProfiledWorkload } from './profiled.js';
import type { Group, Results, Row } from './results.js';
import { median } from './stats.js';
import { workersSpeedup } from './scaling.js';
import { dataKeyCalls, PEER_COUNTERPART, PEER_MODES, peerTargetId, type Measurement, type TargetId } from './targets.js';
import { memoryWorkloadName, multipartWorkloadName, rangeWorkloadName } from './workloads.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
/** Stored bytes of one 64 KiB package of the blob format (plaintext + GCM tag). */
const STORED_PACKAGE = 64 * 1024 + 16;
const cpuCount = cpus().length;

export interface Summary {
  row: Row;
  opsPerSec: number;
  mibPerSec: number;
  p50Ms: number;
  p99Ms: number;
  vsSink: number;
  vsCryptoSink: number;
  vsDiskSink: number;
  cpuSecondsPerGiB: number;
  cpuMsPerOp: number;
  /** Server CPU as a share of one core (100 = one core busy). */
  serverCpuPct: number;
  /** The kernel's share of the server's CPU. */
  serverSysShare: number;
  clientCpuPct: number;
  peakRssMiB: number;
  /** KMS data-key calls (GenerateDataKey, Encrypt, Decrypt) per operation, and their total. */
  kmsPerOp: number;
  kmsCalls: number;
  kmsByOperation: Record<string, number>;
  /** Server bytes read (rchar) per operation. */
  readPerOp: number;
  verified: number;
  ops: number;
}

function maxOf(values: ReadonlyArray<number | undefined>): number {
  const v = values.filter((x): x is number => x !== undefined && Number.isFinite(x));
  return v.length > 0 ? Math.max(...v) : Number.NaN;
}

function rate(m: Measurement): number {
  return m.bytes > 0 ? m.bytes / m.seconds : m.ops / m.seconds;
}

function ratioTo(row: Row, base: Row | undefined): number {
  if (!base || base === row) return Number.NaN;
  return median(row.reps.map((m, i) => (base.reps[i] ? rate(m) / rate(base.reps[i]!) : undefined)));
}

export function summarize(results: Results, row: Row): Summary {
  const per = (f: (m: Measurement) => number | undefined) => median(row.reps.map(f));
  const kmsByOperation: Record<string, number> = {};
  for (const m of row.reps) for (const [op, n] of Object.entries(m.kms ?? {})) kmsByOperation[op] = (kmsByOperation[op] ?? 0) + n;
  const hasKms = row.reps.some((m) => m.kms !== undefined);
  const ops = row.reps.reduce((n, m) => n + m.ops, 0);
  const kmsCalls = hasKms ? row.reps.reduce((n, m) => n + (dataKeyCalls(m.kms) ?? 0), 0) : Number.NaN;
  return {
    row,
    opsPerSec: per((m) => m.ops / m.seconds),
    mibPerSec: per((m) => (m.bytes > 0 ? m.bytes / MiB / m.seconds : undefined)),
    p50Ms: per((m) => m.p50Ms),
    p99Ms: per((m) => m.p99Ms),
    vsSink: ratioTo(row, results.get(row.workload, 'sink')),
    vsCryptoSink: ratioTo(row, results.get(row.workload, 'sink+crypto')),
    vsDiskSink: ratioTo(row, results.get(row.workload, 'sink+disk')),
    cpuSecondsPerGiB: per((m) => (m.serverCpuSeconds !== undefined && m.bytes > 0 ? m.serverCpuSeconds / (m.bytes / GiB) : undefined)),
    cpuMsPerOp: per((m) => (m.serverCpuSeconds !== undefined ? (m.serverCpuSeconds * 1000) / m.ops : undefined)),
    serverCpuPct: per((m) => (m.serverCpuSeconds !== undefined ? (m.serverCpuSeconds / m.seconds) * 100 : undefined)),
    serverSysShare: per((m) => (m.serverCpuSeconds && m.serverSysSeconds !== undefined ? m.serverSysSeconds / m.serverCpuSeconds : undefined)),
    clientCpuPct: per((m) => (m.clientCpuSeconds / m.seconds) * 100),
    peakRssMiB: maxOf(row.reps.map((m) => (m.peakRssBytes !== undefined ? m.peakRssBytes / MiB : undefined))),
    kmsPerOp: hasKms && ops > 0 ? kmsCalls / ops : Number.NaN,
    kmsCalls,
    kmsByOperation,
    readPerOp: per((m) => (m.serverReadBytes !== undefined ? m.serverReadBytes / m.ops : undefined)),
    verified: row.reps.reduce((n, m) => n + m.verified, 0),
    ops,
  };
}

// ---- formatting ---------------------------------------------------------------------------

function num(v: number, digits: number): string {
  return Number.isFinite(v) ? v.toFixed(digits) : '—';
}

function ops(v: number): string {
  if (!Number.isFinite(v)) return '—';
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

function pct(v: number): string {
  return Number.isFinite(v) ? `${(v * 100).toFixed(0)}%` : '—';
}

function ms(v: number): string {
  if (!Number.isFinite(v)) return '—';
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

function perOp(v: number): string {
  if (!Number.isFinite(v)) return '—';
  return v === 0 ? '0' : v >= 0.01 ? v.toFixed(2) : v.toExponential(1);
}

const COLUMNS = [
  'workload',
  'target',
  'conc.',
  'ops/s',
  'MiB/s',
  'p50 ms',
  'p99 ms',
  'vs sink',
  'vs sink+crypto',
  'vs sink+disk',
  'server CPU s/GiB',
  'server CPU ms/op',
  'server CPU',
  'of which kernel',
  'client CPU',
  'peak RSS MiB',
  'KMS calls/op',
  'verified',
] as const;

function cells(s: Summary): string[] {
  const failed = s.row.errors.length > 0 ? ` ⚠ ${s.row.errors.length} failed` : '';
  return [
    s.row.workload,
    s.row.target,
    String(s.row.concurrency),
    ops(s.opsPerSec) + failed,
    num(s.mibPerSec, 1),
    ms(s.p50Ms),
    ms(s.p99Ms),
    s.row.target === 'sink' ? '100%' : pct(s.vsSink),
    s.row.target === 'sink+crypto' ? '100%' : pct(s.vsCryptoSink),
    s.row.target === 'sink+disk' ? '100%' : pct(s.vsDiskSink),
    num(s.cpuSecondsPerGiB, 2),
    num(s.cpuMsPerOp, 3),
    Number.isFinite(s.serverCpuPct) ? `${s.serverCpuPct.toFixed(0)}%` : '—',
    pct(s.serverSysShare),
    Number.isFinite(s.clientCpuPct) ? `${s.clientCpuPct.toFixed(0)}%` : '—',
    num(s.peakRssMiB, 0),
    perOp(s.kmsPerOp),
    s.row.target.startsWith('sink') || ['PUT', 'Memory', 'Workers'].includes(s.row.group) || /^(PUT 0 B|HEAD)/.test(s.row.workload) ? '—' : String(s.verified),
  ];
}

export function markdownTable(header: readonly string[], rows: string[][]): string {
  const line = (c: readonly string[]) => `| ${c.map((x) => x.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

export function consoleTable(results: Results): string {
  return paddedTable([...COLUMNS], results.rows.map((r) => cells(summarize(results, r))));
}

function paddedTable(header: readonly string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (c: readonly string[]) => c.map((x, i) => (i < 2 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join('  ');
  return [fmt(header), ...rows.map(fmt)].join('\n');
}


// ---- Coffer / peer ------------------------------------------------------------------------

function times(v: number): string {
  return Number.isFinite(v) && v > 0 ? `${v >= 10 ? v.toFixed(1) : v.toFixed(2)}×` : '—';
}

function peerColumns(name: string): string[] {
  return ['workload', 'mode', 'Coffer ops/s', `${name} ops/s`, 'Coffer / peer ops/s', 'Coffer MiB/s', `${name} MiB/s`, 'Coffer / peer MiB/s', 'Coffer p50 ms', `${name} p50 ms`];
}

/**
 * One row per workload and peer mode that both measured: the medians of Coffer's mode
 * and of the peer's, and their ratio (> 1: Coffer faster). The peer's unencrypted
 * mode is set beside Coffer's SSE-S3, and says so.
 */
export function peerComparisonRows(results: Results): string[][] {
  const rows: string[][] = [];
  const workloads = [...new Set(results.rows.map((r) => r.workload))];
  for (const workload of workloads) {
    for (const mode of PEER_MODES) {
      const peerRow = results.get(workload, peerTargetId(mode));
      const cofferRow = results.get(workload, PEER_COUNTERPART[mode]);
      if (!peerRow || !cofferRow) continue;
      const label = mode === 'none' ? `${PEER_COUNTERPART[mode]} vs peer unencrypted` : mode;
      const failed = (r: Row) => (r.errors.length > 0 ? ` ⚠ ${r.errors.length} failed` : '');
      if (peerRow.reps.length === 0 || cofferRow.reps.length === 0) {
        rows.push([workload, label, `—${failed(cofferRow)}`, `—${failed(peerRow)}`, '—', '—', '—', '—', '—', '—']);
        continue;
      }
      const c = summarize(results, cofferRow);
      const p = summarize(results, peerRow);
      rows.push([
        workload,
        label,
        ops(c.opsPerSec) + failed(cofferRow),
        ops(p.opsPerSec) + failed(peerRow),
        times(c.opsPerSec / p.opsPerSec),
        num(c.mibPerSec, 1),
        num(p.mibPerSec, 1),
        times(c.mibPerSec / p.mibPerSec),
        ms(c.p50Ms),
        ms(p.p50Ms),
      ]);
    }
  }
  return rows;
}

function peerNotes(peer: PeerSetup): string[] {
  const notes = peer.probes.map((p) =>
    p.supported ? `peer ${p.mode}: honoured — ${p.detail}.` : `peer ${p.mode}: **not supported by the peer**, not measured — ${p.detail}.`,
  );
  notes.push(
    "Coffer's SSE-KMS+BK (S3 Bucket Keys) has no peer row: the peer is not asked for bucket keys.",
    "The probes see what the peer answers over HTTP (headers, bytes, refusals); what it writes to its disk is not inspected.",
  );
  return notes;
}

export function peerConsoleSection(results: Results, peer: PeerSetup): string {
  const name = peer.server.name;
  const rows = peerComparisonRows(results);
  return [
    `Coffer / ${name}: ratio of medians, measured interleaved in one sitting (> 1: Coffer faster). Peer: ${peer.server.description}`,
    rows.length > 0 ? paddedTable(peerColumns(name), rows) : '(no workload measured both)',
    ...peerNotes(peer).map((n) => `  ${n.replace(/\*\*/g, '')}`),
  ].join('\n');
}

function peerMarkdownSection(results: Results, peer: PeerSetup): string[] {
  const name = peer.server.name;
  const rows = peerComparisonRows(results);
  return [
    `## Coffer / peer (${name})`,
    '',
    `Peer: ${peer.server.description}.`,
    '',
    'It ran the same workloads in the same sitting, each peer mode right after the Coffer mode it is compared with in every repetition. ' +
      'Ratios are of the medians (> 1: Coffer faster); the peer\'s own rows, with every column, are in the figures above (targets `peer …`).',
    '',
    rows.length > 0 ? markdownTable(peerColumns(name), rows) : '(No workload was measured on both.)',
    '',
    ...peerNotes(peer).map((n) => `- ${n}`),
    '',
  ];
}

// ---- the targets of issue #7 --------------------------------------------------------------

export interface TargetCheck {
  target: string;
  measured: string;
  /** undefined: not measured in this run. */
  met: boolean | undefined;
}

/**
 * The targets of issue #18 (the same benchmark; medians of one sitting, ratios against the
 * sinks measured beside them). Memory is issue #7's memory target, checked above.
 */
export function checkIssue18Targets(results: Results, plan: Plan): TargetCheck[] {
  const s = (workload: string, target: Parameters<Results['get']>[1]) => {
    const row = results.get(workload, target);
    return row && row.reps.length > 0 ? summarize(results, row) : undefined;
  };
  const checks: TargetCheck[] = [];
  const measured = (v: number | undefined) => v !== undefined && Number.isFinite(v);
  const share = (target: string, v: number | undefined, min: number, what: string, extra = '') =>
    checks.push({ target, measured: measured(v) ? `${pct(v!)} ${what}${extra}` : 'not measured', met: measured(v) ? v! >= min : undefined });
  for (const size of plan.objectSizes.filter((z) => z.bytes >= MiB)) {
    const put = s(`PUT ${size.label}`, 'SSE-S3');
    const disk = s(`PUT ${size.label}`, 'sink+disk');
    const both = put && disk ? `; sink+disk itself reaches ${pct(disk.vsCryptoSink)} of sink+crypto` : '';
    share(`PUT ${size.label} SSE-S3 ≥ 85% of sink+disk`, put?.vsDiskSink, 0.85, 'of sink+disk');
    share(`PUT ${size.label} SSE-S3 ≥ 70% of sink+crypto`, put?.vsCryptoSink, 0.7, 'of sink+crypto', both);
  }
  const small = plan.objectSizes[0];
  const oneMiB = plan.objectSizes.find((z) => z.bytes === MiB);
  if (oneMiB) share(`GET ${oneMiB.label} SSE-S3 ≥ 70% of sink`, s(`GET ${oneMiB.label}`, 'SSE-S3')?.vsSink, 0.7, 'of sink');
  const multipart = multipartWorkloadName(plan);
  share(`${multipart.split(',')[0]} SSE-S3 ≥ 85% of sink+disk`, s(multipart, 'SSE-S3')?.vsDiskSink, 0.85, 'of sink+disk');
  const workers = Math.max(2, cpuCount);
  for (const verb of ['PUT', 'GET'] as const) {
    const v = workersSpeedup(results, verb, workers);
    checks.push({
      target: `${verb} ${small?.label ?? '4 KiB'} with \`--workers ${workers}\` ≥ 1.6× \`--workers 1\``,
      measured: v === undefined ? 'not measured' : `${v.toFixed(2)}×`,
      met: v === undefined ? undefined : v >= 1.6,
    });
  }
  if (small) share(`PUT ${small.label} SSE-S3 ≥ 85% of sink+disk`, s(`PUT ${small.label}`, 'SSE-S3')?.vsDiskSink, 0.85, 'of sink+disk');
  const big = plan.keys.count >= 1000 ? `${plan.keys.count / 1000}k` : String(plan.keys.count);
  const head = s(`HEAD (${big} keys)`, 'SSE-S3');
  share(`HEAD SSE-S3 ≥ 75% of sink (${big} keys)`, head?.vsSink, 0.75, 'of sink', head ? `; ${head.cpuMsPerOp.toFixed(3)} ms of server CPU per HEAD` : '');
  const list = s(`ListObjectsV2 1000 (${big} keys)`, 'SSE-S3');
  checks.push({
    target: `ListObjectsV2 of 1000 keys ≤ 5 ms of server CPU per page (${big} keys)`,
    measured: list ? `${list.cpuMsPerOp.toFixed(2)} ms per page; p50 ${ms(list.p50Ms)} ms` : 'not measured',
    met: list ? list.cpuMsPerOp <= 5 : undefined,
  });
  return checks;
}

export function checkTargets(results: Results, plan: Plan, kmsTotals: readonly KmsTotals[] = [], servingProcesses?: number): TargetCheck[] {
  const s = (workload: string, target: Parameters<Results['get']>[1]) => {
    const row = results.get(workload, target);
    return row && row.reps.length > 0 ? summarize(results, row) : undefined;
  };
  const checks: TargetCheck[] = [];
  const threshold = (target: string, v: number | undefined, min: number, what: string) =>
    checks.push({ target, measured: v === undefined || !Number.isFinite(v) ? 'not measured' : `${pct(v)} ${what}`, met: v === undefined || !Number.isFinite(v) ? undefined : v >= min });

  for (const size of plan.objectSizes.filter((z) => z.bytes >= MiB)) {
    const put = s(`PUT ${size.label}`, 'SSE-S3');
    const disk = s(`PUT ${size.label}`, 'sink+disk');
    const durable = put && disk ? `; ${pct(put.vsDiskSink)} of sink+disk, which itself reaches ${pct(disk.vsCryptoSink)} of sink+crypto` : '';
    threshold(`PUT ${size.label} SSE-S3 ≥ 70% of sink+crypto`, put?.vsCryptoSink, 0.7, `of sink+crypto${durable}`);
    threshold(`GET ${size.label} SSE-S3 ≥ 70% of sink`, s(`GET ${size.label}`, 'SSE-S3')?.vsSink, 0.7, 'of sink');
  }
  for (const size of plan.objectSizes) {
    for (const verb of ['PUT', 'GET']) {
      const bk = s(`${verb} ${size.label}`, 'SSE-KMS+BK');
      const s3 = s(`${verb} ${size.label}`, 'SSE-S3');
      const v = bk && s3 ? (size.bytes > 0 ? bk.mibPerSec / s3.mibPerSec : bk.opsPerSec / s3.opsPerSec) : undefined;
      threshold(`${verb} ${size.label} SSE-KMS with bucket keys within 10% of SSE-S3`, v, 0.9, 'of SSE-S3');
    }
  }
  const bk = kmsTotals.find((k) => k.target === 'SSE-KMS+BK');
  const noBk = kmsTotals.find((k) => k.target === 'SSE-KMS');
  if (bk) {
    const processes = servingProcesses ?? 1;
    const generated = bk.counts.GenerateDataKey ?? 0;
    const decrypts = bk.counts.Decrypt ?? 0;
    const requests = results.rows.filter((r) => r.target === 'SSE-KMS+BK').reduce((n, r) => n + r.reps.reduce((k, m) => k + m.ops, 0), 0);
    const other = noBk ? `; without bucket keys: ${dataKeyCalls(noBk.counts)} data-key calls` : '';
    checks.push({
      target: 'SSE-KMS with bucket keys: KMS called at most once per bucket key period, not per object',
      measured:
        `${generated} GenerateDataKey + ${decrypts} Decrypt over the whole run (bucket ${bk.bucket}, ${processes} serving process(es), ` +
        `${requests} measured PUT/GET plus warm-ups)${other}. Target read as: one GenerateDataKey per period, and at most one Decrypt per other process to load it.`,
      met: generated <= 1 && decrypts <= processes - 1,
    });
  } else {
    checks.push({ target: 'SSE-KMS with bucket keys: KMS called at most once per bucket key period', measured: 'not measured (no KMS audit log)', met: undefined });
  }
  const range1 = s(rangeWorkloadName(plan, 1), 'SSE-S3');
  checks.push({
    target: `Random ${plan.range.rangeBytes / 1024} KiB range GET: p50 ≤ 2 ms`,
    measured: range1 ? `p50 ${ms(range1.p50Ms)} ms (×1), sink ${ms(s(rangeWorkloadName(plan, 1), 'sink')?.p50Ms ?? Number.NaN)} ms` : 'not measured',
    met: range1 ? range1.p50Ms <= 2 : undefined,
  });
  const packages = range1 ? range1.readPerOp / STORED_PACKAGE : Number.NaN;
  checks.push({
    target: 'Range GET reads ≤ 3 packages',
    measured: Number.isFinite(packages) ? `${(range1!.readPerOp / 1024).toFixed(1)} KiB read per GET ≈ ${packages.toFixed(2)} packages (rchar, includes the request)` : 'not measured',
    met: Number.isFinite(packages) ? packages <= 3 : undefined,
  });
  const workers = Math.max(2, cpuCount);
  const speedup = workersSpeedup(results, 'PUT', workers);
  const getSpeedup = workersSpeedup(results, 'GET', workers);
  checks.push({
    target: `Both cores: PUT 4 KiB with \`--workers ${workers}\` ≥ 1.6× \`--workers 1\``,
    measured:
      speedup === undefined
        ? 'not measured (this build of coffer serve has no --workers, or the workload did not run)'
        : `${speedup.toFixed(2)}× (GET 4 KiB: ${getSpeedup?.toFixed(2) ?? '—'}×)`,
    met: speedup === undefined ? false : speedup >= 1.6,
  });
  const mem = s(memoryWorkloadName(plan), 'SSE-S3');
  // With several processes, summing their RSS counts the pages they share (the node executable and
  // libraries, ~45 MB resident in each) once per process. The target is judged on the memory they
  // occupy together, shared pages once (ProcessProbe.memory, sampled every 100 ms); the sums of RSS
  // are shown beside it.
  const resident = mem ? maxOf(mem.row.reps.map((m) => m.peakResidentBytes)) : Number.NaN;
  const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;
  checks.push({
    target: `Peak RSS < 300 MB with ${plan.memory.concurrency} concurrent ${plan.memory.objectBytes / MiB} MiB uploads`,
    measured: !mem
      ? 'not measured'
      : [
          Number.isFinite(resident) ? `${mb(resident)} resident, all server processes together with the pages they share counted once` : undefined,
          `sum of the processes' RSS at one moment ${mb(maxOf(mem.row.reps.map((m) => m.peakRssTogetherBytes)))}`,
          `sum of their separate peaks ${mb(mem.peakRssMiB * MiB)}`,
          `largest process ${mb(maxOf(mem.row.reps.map((m) => m.peakRssLargestBytes)))}`,
        ]
          .filter((x) => x !== undefined)
          .join('; '),
    met: Number.isFinite(resident) ? resident < 300e6 : mem && Number.isFinite(mem.peakRssMiB) ? mem.peakRssMiB * MiB < 300e6 : undefined,
  });
  const big = plan.keys.count >= 1000 ? `${plan.keys.count / 1000}k` : String(plan.keys.count);
  const small = plan.keys.smallCount >= 1000 ? `${plan.keys.smallCount / 1000}k` : String(plan.keys.smallCount);
  for (const [what, name] of [
    ['HEAD', 'HEAD'],
    ['ListObjectsV2', 'ListObjectsV2 1000'],
  ] as const) {
    const a = s(`${name} (${big} keys)`, 'SSE-S3');
    const b = s(`${name} (${small} keys)`, 'SSE-S3');
    checks.push({
      target: `No per-request work that grows with object count (${what}: p50 at ${big} keys ≤ 1.5× at ${small})`,
      measured: a && b ? `p50 ${ms(a.p50Ms)} ms at ${big} keys, ${ms(b.p50Ms)} ms at ${small}` : 'not measured',
      met: a && b ? a.p50Ms <= 1.5 * b.p50Ms : undefined,
    });
  }
  return checks;
}

// ---- Markdown -----------------------------------------------------------------------------

export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  node: string;
  commit: string;
  date: string;
}

export interface KmsTotals {
  target: TargetId;
  bucket: string;
  counts: Record<string, number>;
}

export interface ReportInput {
  machine: Machine;
  plan: Plan;
  command: string;
  endpoint: string;
  /** How the sinks ran (processes). */
  sinks: string;
  durationSeconds: number;
  results: Results;
  profiles: ProfiledWorkload[];
  profileError?: string;
  /** fsync latency of the data disk, before and after. */
  disk: string[];
  /** KMS operations over the whole run, per SSE-KMS bucket. */
  kmsTotals: KmsTotals[];
  /** Coffer's serving processes (workers). */
  servingProcesses?: number;
  /** Hand-written analysis kept from the previous report. */
  analysis?: string;
  /** The scale-out section kept from the previous report (markers included). */
  cluster?: string;
  /** `--peer-endpoint` / `--peer radosgw`: the peer and what its probes found. */
  peer?: PeerSetup;
}

export const ANALYSIS_START = '<!-- analysis: kept across runs; edit by hand -->';
export const ANALYSIS_END = '<!-- /analysis -->';
/** The section `npm run bench -- --cluster` writes (bench/cluster.ts); full runs keep it. */
export const CLUSTER_START = '<!-- cluster: written by npm run bench -- --cluster; kept by full runs -->';
export const CLUSTER_END = '<!-- /cluster -->';

const GROUP_TITLES: Record<Group, string> = {
  PUT: 'PUT (whole objects)',
  GET: 'GET (whole objects)',
  'Range GET': 'Random range GETs',
  Metadata: 'HEAD and ListObjectsV2',
  Multipart: 'Multipart upload',
  Memory: 'Memory under concurrent large uploads',
  Workers: 'Scaling over cores (separate Coffers, fresh data directories)',
};

export function markdownReport(r: ReportInput): string {
  const out: string[] = [];
  const { machine, plan, results } = r;
  out.push('# Coffer benchmark results', '');
  out.push(
    `Written by \`${r.command}\` (bench/README.md explains every column). ` +
      (plan.reps > 1 ? `Each figure is the median of ${plan.reps} measurements taken in turn with the sinks, in one sitting; ` : 'One measurement per figure, taken in turn with the sinks; ') +
      `ratios compare each measurement with the sink measured just before it.`,
    '',
  );
  out.push('## Machine and run', '');
  out.push(
    markdownTable(
      ['', ''],
      [
        ['CPU', `${machine.cpuModel}, ${machine.cpus} cores`],
        ['memory', `${machine.memoryGiB.toFixed(1)} GiB`],
        ['kernel', machine.kernel],
        ['node', machine.node],
        ['commit', machine.commit],
        ['date', machine.date],
        ['server', r.endpoint],
        ['sinks', r.sinks],
        ...(r.peer ? [['peer', r.peer.server.description]] : []),
        ...r.disk.map((d) => ['data disk', d]),
        ['other load', otherLoad(results)],
        ['plan', `${plan.name}, ${plan.reps} repetitions, ${(r.durationSeconds / 60).toFixed(1)} minutes`],
      ],
    ),
    '',
  );
  out.push('## Targets of issue #7', '');
  out.push(
    markdownTable(
      ['target', 'measured', 'met'],
      checkTargets(results, plan, r.kmsTotals, r.servingProcesses).map((c) => [c.target, c.measured, c.met === undefined ? '—' : c.met ? 'yes' : '**no**']),
    ),
    '',
  );
  out.push('## Targets of issue #18', '');
  out.push(
    markdownTable(
      ['target', 'measured', 'met'],
      checkIssue18Targets(results, plan).map((c) => [c.target, c.measured, c.met === undefined ? '—' : c.met ? 'yes' : '**no**']),
    ),
    '',
  );
  out.push('## Figures', '');
  for (const group of Object.keys(GROUP_TITLES) as Group[]) {
    const rows = results.rows.filter((x) => x.group === group);
    if (rows.length === 0) continue;
    out.push(`### ${GROUP_TITLES[group]}`, '');
    out.push(markdownTable(COLUMNS, rows.map((x) => cells(summarize(results, x)))), '');
    if (group === 'Range GET') {
      const lines = rows
        .filter((x) => x.target !== 'sink' && x.target !== 'sink+crypto')
        .map((x) => summarize(results, x))
        .filter((x) => Number.isFinite(x.readPerOp))
        .map((x) => `${x.row.workload} ${x.row.target}: ${(x.readPerOp / 1024).toFixed(1)} KiB read by the server per GET (≈ ${(x.readPerOp / STORED_PACKAGE).toFixed(2)} stored 64 KiB packages; rchar, so the request itself is included).`);
      if (lines.length > 0) out.push(...lines.map((l) => `- ${l}`), '');
    }
    if (group === 'Multipart') out.push(`One operation is a whole upload: CreateMultipartUpload, ${multipartWorkloadName(plan).split(', ')[1]}, CompleteMultipartUpload.`, '');
    const errors = rows.flatMap((x) => x.errors.map((e) => `${x.workload} ${x.target}: ${e}`));
    if (errors.length > 0) out.push('Failures:', '', ...errors.map((e) => `- ${e}`), '');
  }
  const kmsRows = results.rows.filter((x) => x.reps.some((m) => m.kms && Object.keys(m.kms).length > 0));
  if (kmsRows.length > 0) {
    out.push('### KMS calls (from `<data>/kms-audit.log`, totals over all repetitions)', '');
    const ops = [...new Set(kmsRows.flatMap((x) => x.reps.flatMap((m) => Object.keys(m.kms ?? {}))))].sort();
    out.push(
      markdownTable(
        ['workload', 'target', 'requests', ...ops, 'data-key calls/request'],
        kmsRows.map((x) => {
          const sm = summarize(results, x);
          return [x.workload, x.target, String(sm.ops), ...ops.map((o) => String(sm.kmsByOperation[o] ?? 0)), perOp(sm.kmsPerOp)];
        }),
      ),
      '',
    );
  }
  if (r.peer) out.push(...peerMarkdownSection(results, r.peer));
  out.push('## Where the time goes', '');
  if (r.profiles.length > 0) {
    out.push(
      'Each profile is `node --cpu-prof` of a separate Coffer process (SSE-S3, a fresh data directory), cut to the seconds the workload was measured. ' +
        "Percentages are of the main thread's busy time; idle time is waiting — for libuv's thread pool (fsync, file writes), the client or the network. " +
        'The profiles are kept in dist/bench/profiles/ (open them in Chrome DevTools or speedscope).',
      '',
    );
  }
  for (const [i, p] of r.profiles.entries()) {
    const s = p.summary;
    const busy = s.totalMs - s.idleMs;
    const top = i === 0 ? 15 : 10;
    out.push(`### ${p.name}`, '');
    out.push(`${p.seconds.toFixed(1)} s profiled at ${p.throughput}; main thread busy ${((busy / s.totalMs) * 100).toFixed(0)}% of the time.`, '');
    out.push(markdownTable(['self time: function', 'where', 'ms', '% busy'], s.topSelf.slice(0, top).map((f) => [f.name, f.location || f.area, f.ms.toFixed(0), `${((f.ms / busy) * 100).toFixed(1)}%`])), '');
    out.push(markdownTable(['self time by area', 'ms', '% busy'], s.areas.filter((a) => a.area !== '(idle)').slice(0, top).map((a) => [a.area, a.ms.toFixed(0), `${((a.ms / busy) * 100).toFixed(1)}%`])), '');
    out.push(markdownTable(["Coffer's functions, inclusive", 'where', 'ms', '% busy'], s.topInclusive.slice(0, top).map((f) => [f.name, f.location, f.ms.toFixed(0), `${((f.ms / busy) * 100).toFixed(1)}%`])), '');
  }
  if (r.profiles.length === 0) {
    out.push(r.profileError ? `Profiling failed: ${r.profileError}` : 'No profile in this run (`--no-profile`, `--quick`, `--smoke`, or an external endpoint).', '');
  }
  out.push(ANALYSIS_START, r.analysis?.trim() || '## Findings and what to change first\n\n(Not written yet.)', ANALYSIS_END, '');
  if (r.cluster) out.push(r.cluster, '');
  return out.join('\n');
}

/** How busy the rest of the machine was while measuring (other sessions, background work): the noise floor. */
function otherLoad(results: Results): string {
  const shares = results.rows.flatMap((r) => r.reps.map((m) => (m.otherCpuSeconds !== undefined ? (m.otherCpuSeconds / m.seconds) * 100 : undefined)));
  const known = shares.filter((x): x is number => x !== undefined);
  if (known.length === 0) return 'unknown';
  return `CPU used by other processes during measurements: median ${median(known).toFixed(0)}%, max ${Math.max(...known).toFixed(0)}% of one core`;
}

/** The hand-written section of an existing report, if any. */
export function keptCluster(previous: string | undefined): string | undefined {
  if (!previous) return undefined;
  const a = previous.indexOf(CLUSTER_START);
  const b = previous.indexOf(CLUSTER_END);
  return a >= 0 && b > a ? previous.slice(a, b + CLUSTER_END.length) : undefined;
}

export function keptAnalysis(previous: string | undefined): string | undefined {
  if (!previous) return undefined;
  const a = previous.indexOf(ANALYSIS_START);
  const b = previous.indexOf(ANALYSIS_END);
  return a >= 0 && b > a ? previous.slice(a + ANALYSIS_START.length, b) : undefined;
}
