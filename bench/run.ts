/**
 * `npm run bench`: Coffer's benchmark (issue #7). Starts the sinks and,
 * unless `--endpoint` names another S3 server, Coffer itself with a fresh
 * temporary data directory; runs every workload against every target with
 * bounded request counts and time; prints the table; writes bench/RESULTS.md
 * (full runs). All traffic stays on 127.0.0.1. See bench/README.md.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdtempSync, openSync, readFileSync, rmSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { S3Client } from './lib/client.js';
import { PayloadPool } from './lib/payload.js';
import { parseOptions, USAGE, UsageError, type Options } from './lib/plan.js';
import { peerTargets, startPeer, withPeers, type PeerServer, type PeerSetup } from './lib/peer.js';
import { profileWorkloads, type ProfiledWorkload } from './lib/profiled.js';
import { ProcessProbe } from './lib/proc.js';
import { consoleTable, keptAnalysis, keptCluster, markdownReport, peerConsoleSection, type KmsTotals, type Machine } from './lib/report.js';
import { Results } from './lib/results.js';
import { scalingWorkloads } from './lib/scaling.js';
import { cofferHasWorkersOption, startCoffer, startSink, type ServerProcess } from './lib/servers.js';
import { createBucket, createKmsKey } from './lib/setup.js';
import type { Credentials } from './lib/sigv4.js';
import { percentile } from './lib/stats.js';
import { COFFER_MODES, KmsAuditCounter, SINKS, sseCHeaders, sseKmsHeaders, type Target, type TargetId } from './lib/targets.js';
import { memoryWorkloads, metadataWorkloads, multipartWorkloads, objectWorkloads, rangeWorkloads, warmUp, type Bench } from './lib/workloads.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MiB = 1024 * 1024;

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

function machine(): Machine {
  const git = (args: string[]) => {
    try {
      return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return '';
    }
  };
  const commit = git(['rev-parse', '--short', 'HEAD']) || 'unknown';
  const dirty = git(['status', '--porcelain', '--untracked-files=no']) !== '';
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: totalmem() / 1024 ** 3,
    kernel: release(),
    node: process.version,
    commit: `${commit}${dirty ? ' (with uncommitted changes)' : ''}`,
    date: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
  };
}

interface StoreUnderTest {
  url: URL;
  probe?: ProcessProbe;
  /** Coffer's KMS audit log, to count KMS calls. */
  auditLog?: string;
}

/** Sets up one bucket per Coffer encryption mode; modes that cannot be set up are reported, not fatal. */
async function cofferTargets(store: StoreUnderTest, options: Options, credentials: Credentials, results: Results): Promise<Target[]> {
  const setup = new S3Client({ endpoint: store.url, credentials, region: options.region, maxSockets: 2 });
  const suffix = options.endpoint ? `-${randomBytes(3).toString('hex')}` : '';
  const targets: Target[] = [];
  try {
    let kmsKey: string | undefined = options.kmsKeyId;
    let kmsError: Error | undefined;
    if (kmsKey === undefined) {
      try {
        kmsKey = await createKmsKey(setup);
      } catch (err) {
        kmsError = err instanceof Error ? err : new Error(String(err));
      }
    }
    const customerKey = randomBytes(32);
    const modes: Record<string, { bucket: string; write: Record<string, string>; read: Record<string, string> } | Error> = {
      'SSE-S3': { bucket: `bench-sse-s3${suffix}`, write: {}, read: {} },
      'SSE-KMS': kmsKey ? { bucket: `bench-sse-kms${suffix}`, write: sseKmsHeaders(kmsKey, { bucketKey: false }), read: {} } : kmsError!,
      'SSE-KMS+BK': kmsKey ? { bucket: `bench-sse-kms-bk${suffix}`, write: sseKmsHeaders(kmsKey, { bucketKey: true }), read: {} } : kmsError!,
      'SSE-C': { bucket: `bench-sse-c${suffix}`, write: sseCHeaders(customerKey), read: sseCHeaders(customerKey) },
    };
    for (const id of COFFER_MODES) {
      const mode = modes[id]!;
      try {
        if (mode instanceof Error) throw mode;
        for (const b of [mode.bucket, `${mode.bucket}-keys`, `${mode.bucket}-few`]) await createBucket(setup, b);
        targets.push({
          id,
          endpoint: store.url,
          ...(store.probe ? { probe: store.probe } : {}),
          bucket: mode.bucket,
          writeHeaders: mode.write,
          readHeaders: mode.read,
          ...(store.auditLog ? { kms: new KmsAuditCounter(store.auditLog) } : {}),
          verifiable: true,
        });
      } catch (err) {
        results.add('PUT', 'setup', id, 0, err instanceof Error ? err : new Error(String(err)));
        log(`  ${id}: cannot set up (${err instanceof Error ? err.message : String(err)}); its workloads are skipped`);
      }
    }
  } finally {
    setup.close();
  }
  return targets;
}

/** The filesystem type mounted at (or above) `dir`, from /proc/self/mounts. */
function filesystemOf(dir: string): string {
  let best = { point: '', type: 'unknown' };
  for (const line of readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
    const [, point, type] = line.split(' ');
    if (point && type && (dir === point || dir.startsWith(point.endsWith('/') ? point : `${point}/`)) && point.length >= best.point.length) best = { point, type };
  }
  return best.type;
}

/**
 * The data disk's fsync latency (4 KiB write + fsync, 200 times): PUTs wait
 * for it, and on a shared virtual disk it drifts, so the report records it.
 */
function fsyncProbe(dir: string): string {
  const path = join(dir, `fsync-probe-${process.pid}`);
  const block = Buffer.alloc(4096, 1);
  const times: number[] = [];
  const fd = openSync(path, 'w');
  try {
    for (let i = 0; i < 200; i++) {
      const t0 = process.hrtime.bigint();
      writeSync(fd, block, 0, block.length, i * block.length);
      fsyncSync(fd);
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  } finally {
    closeSync(fd);
    unlinkSync(path);
  }
  times.sort((a, b) => a - b);
  return `4 KiB write + fsync p50 ${percentile(times, 50).toFixed(2)} ms, p99 ${percentile(times, 99).toFixed(2)} ms`;
}

async function main(): Promise<number> {
  if (process.argv.includes('--cluster')) return (await import('./cluster.js')).clusterBench(process.argv.slice(2));
  const parsed = parseOptions(process.argv.slice(2), join(ROOT, 'bench', 'RESULTS.md'));
  if (parsed === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const options = parsed;
  const { plan } = options;
  const started = Date.now();
  const credentials: Credentials = { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey };
  const results = new Results();
  const servers: ServerProcess[] = [];
  let cofferDataDir: string | undefined;
  const largest = Math.max(...plan.objectSizes.map((s) => s.bytes), plan.memory.objectBytes, plan.multipart.partBytes);
  const pool = new PayloadPool(largest + 16 * MiB);
  log(`Coffer benchmark, ${plan.name} plan, ${plan.reps} repetition(s)`);

  let profiles: ProfiledWorkload[] = [];
  const kmsTotals: KmsTotals[] = [];
  const hasWorkers = !options.endpoint && cofferHasWorkersOption();
  let servingProcesses: number | undefined;
  let profileError: string | undefined;
  const disk: string[] = [];
  let endpointLabel: string;
  let sinkLabel = '';
  let sinkDir: string | undefined;
  let peerServer: PeerServer | undefined;
  let peer: PeerSetup | undefined;
  const removeData = () => {
    if (cofferDataDir && !options.keepData && !options.dataDir) rmSync(cofferDataDir, { recursive: true, force: true });
    if (sinkDir) rmSync(sinkDir, { recursive: true, force: true });
  };
  // Ctrl-C: the servers get the SIGINT too and stop; leave no temporary data behind.
  process.once('SIGINT', () => {
    void Promise.all([...servers.map((s) => s.stop()), peerServer?.stop()]).finally(() => {
      removeData();
      process.exit(130);
    });
  });
  try {
    sinkDir = mkdtempSync(join(options.dataDir ? dirname(resolve(options.dataDir)) : tmpdir(), 'coffer-bench-sink-'));
    // The sinks serve from as many processes as Coffer does, so both can use every core.
    const sinkWorkers = options.endpoint || hasWorkers ? cpus().length : 1;
    const [sink, cryptoSink, diskSink] = await Promise.all([
      startSink('plain', { workers: sinkWorkers }),
      startSink('crypto', { workers: sinkWorkers }),
      startSink('disk', { workers: sinkWorkers, dir: sinkDir }),
    ]);
    sinkLabel = `${sinkWorkers} process${sinkWorkers > 1 ? 'es' : ''} each (node:cluster)`;
    servers.push(sink, cryptoSink, diskSink);
    let store: StoreUnderTest;
    if (options.endpoint) {
      store = { url: options.endpoint, ...(options.serverPid ? { probe: new ProcessProbe(options.serverPid) } : {}) };
      endpointLabel = `${options.endpoint.href} (external)`;
    } else {
      // Coffer's default: one serving process per core (when this build has --workers).
      const coffer = await startCoffer({
        ...credentials,
        region: options.region,
        ...(options.dataDir ? { dataDir: options.dataDir } : {}),
        ...(hasWorkers ? { workers: cpus().length } : {}),
      });
      servers.push(coffer);
      cofferDataDir = coffer.dataDir;
      servingProcesses = coffer.workers;
      store = { url: coffer.url, probe: coffer.probe, auditLog: join(coffer.dataDir, 'kms-audit.log') };
      endpointLabel =
        `coffer serve ${hasWorkers ? `--workers ${coffer.workers}` : '(one process; this build has no --workers)'}, ` +
        `data in ${coffer.dataDir.startsWith(tmpdir()) ? `${tmpdir()} (${filesystemOf(tmpdir())})` : coffer.dataDir}`;
      log(`Coffer on ${coffer.url.href}, data in ${coffer.dataDir}`);
      disk.push(`before: ${fsyncProbe(coffer.dataDir)}`);
    }
    const sinkTarget = (id: TargetId, s: ServerProcess): Target => ({ id, endpoint: s.url, probe: s.probe, bucket: 'sink', writeHeaders: {}, readHeaders: {}, verifiable: false });
    const targets = new Map<TargetId, Target>([
      ['sink', sinkTarget('sink', sink)],
      ['sink+crypto', sinkTarget('sink+crypto', cryptoSink)],
      ['sink+disk', sinkTarget('sink+disk', diskSink)],
    ]);
    for (const t of await cofferTargets(store, options, credentials, results)) targets.set(t.id, t);
    if (options.peer) {
      peerServer = await startPeer(options.peer, log);
      log(`Peer ${peerServer.name} on ${peerServer.url.href}; probing its encryption modes`);
      peer = await peerTargets(peerServer, log);
      for (const t of peer.targets) targets.set(t.id, t);
    }
    // Each peer mode runs right after the Coffer mode it is compared with (no-op without a peer).
    const P = (ids: readonly TargetId[]) => withPeers(ids, new Set(targets.keys()));
    const peerMetadata: TargetId | undefined = targets.has('peer SSE-S3') ? 'peer SSE-S3' : targets.has('peer none') ? 'peer none' : undefined;

    const bench: Bench = {
      plan,
      credentials,
      region: options.region,
      pool,
      targets,
      results,
      selected: (workload) => !options.only || options.only.test(workload),
      log,
    };
    // First, while the disk holds nothing else: the workers comparison is the one most sensitive to fsync latency.
    if (hasWorkers) await scalingWorkloads(bench);
    await warmUp(bench, P([...SINKS, 'sink+disk', 'SSE-S3']));
    await objectWorkloads(bench, P([...SINKS, 'sink+disk', ...COFFER_MODES]));
    await rangeWorkloads(bench, P([...SINKS, 'SSE-S3']));
    await metadataWorkloads(bench, 'sink', 'SSE-S3', peerMetadata);
    await multipartWorkloads(bench, P([...SINKS, 'sink+disk', 'SSE-S3']));
    await memoryWorkloads(bench, P(['sink', 'SSE-S3']));
    if (cofferDataDir) disk.push(`after: ${fsyncProbe(cofferDataDir)}`);
    for (const id of ['SSE-KMS', 'SSE-KMS+BK'] as const) {
      const t = targets.get(id);
      if (t?.kms) kmsTotals.push({ target: id, bucket: t.bucket, counts: t.kms.totalsForBucket(t.bucket) });
    }
  } finally {
    await Promise.all([...servers.map((s) => s.stop()), peerServer?.stop()]);
    removeData();
  }

  if (plan.profileSeconds !== undefined && !options.endpoint && (!options.only || options.only.test('profile'))) {
    log(`Profiling PUT and GET of 1 MiB and 4 KiB (node --cpu-prof, separate Coffer processes)`);
    try {
      profiles = await profileWorkloads({ credentials, region: options.region, pool, seconds: plan.profileSeconds, outDir: join(ROOT, 'dist', 'bench', 'profiles'), oneWorker: hasWorkers });
      for (const p of profiles) log(`  ${p.name}: ${p.throughput}, main thread busy ${(((p.summary.totalMs - p.summary.idleMs) / p.summary.totalMs) * 100).toFixed(0)}%; ${p.file}`);
    } catch (err) {
      profileError = err instanceof Error ? err.message : String(err);
      log(`  profile failed: ${profileError}`);
    }
  }

  const durationSeconds = (Date.now() - started) / 1000;
  log('');
  log(consoleTable(results));
  log('');
  if (peer) {
    log(peerConsoleSection(results, peer));
    log('');
  }
  log(`Done in ${(durationSeconds / 60).toFixed(1)} minutes.`);
  if (options.out) {
    const previous = existsSync(options.out) ? readFileSync(options.out, 'utf8') : undefined;
    const analysis = keptAnalysis(previous);
    const cluster = keptCluster(previous);
    const report = markdownReport({
      machine: machine(),
      plan,
      command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
      endpoint: endpointLabel,
      sinks: sinkLabel,
      durationSeconds,
      results,
      profiles,
      disk,
      kmsTotals,
      ...(peer ? { peer } : {}),
      ...(servingProcesses !== undefined ? { servingProcesses } : {}),
      ...(profileError ? { profileError } : {}),
      ...(analysis !== undefined ? { analysis } : {}),
      ...(cluster !== undefined ? { cluster } : {}),
    });
    writeFileSync(options.out, report);
    log(`Report written to ${options.out}`);
  }
  return results.failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) process.stderr.write(`bench: ${err.message}\n\n${USAGE}`);
    else process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(2);
  },
);
