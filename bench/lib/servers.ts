/**
 * The processes under test: Coffer (`coffer serve` on a random loopback port
 * with a temporary data directory) and the sinks. Each is a child
 * process that prints a JSON line containing "listening" and its port.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVING_V8_FLAGS } from '../../src/cli/v8-flags.js';
import { ProcessProbe } from './proc.js';

/** dist/bench/lib → dist/src/cli/main.js and dist/bench/sink-server.js */
const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const SINK = fileURLToPath(new URL('../sink-server.js', import.meta.url));

export interface ServerProcess {
  readonly url: URL;
  readonly probe: ProcessProbe;
  /** SIGTERM, then SIGKILL if it has not exited within the grace period. Resolves when it has exited. */
  stop(): Promise<void>;
  /** Everything it printed (stdout and stderr), for error messages. */
  output(): string;
}

/** Spawns a server and waits until `listeners` processes have logged a JSON line containing "listening" and their port. */
async function spawnListening(args: string[], env: NodeJS.ProcessEnv, what: string, listeners = 1): Promise<ServerProcess> {
  const proc: ChildProcess = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer) => {
    // Keep the head and a bounded tail: the pipes must be drained for the whole run, or the server would block on a full pipe.
    out = out.length < 64 * 1024 ? out + d.toString() : out.slice(0, 32 * 1024) + out.slice(-16 * 1024) + d.toString();
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start within 30 s:\n${out}`)), 30_000);
    const look = () => {
      let port: number | undefined;
      let seen = 0;
      for (const line of out.split('\n')) {
        if (!line.includes('"listening"')) continue;
        try {
          const parsed = JSON.parse(line) as { port?: unknown };
          if (typeof parsed.port === 'number') {
            port = parsed.port;
            seen++;
          }
        } catch {
          /* a line still being written */
        }
      }
      if (port !== undefined && seen >= listeners) {
        clearTimeout(timer);
        proc.stdout!.off('data', look);
        resolve(port);
      }
    };
    proc.stdout!.on('data', look);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${what} exited before listening:\n${out}`));
    });
  });
  return {
    url: new URL(`http://127.0.0.1:${port}`),
    probe: new ProcessProbe(proc.pid!),
    output: () => out,
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 40_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface CofferOptions {
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** Default: a new directory under the system temp dir. */
  dataDir?: string;
  /** Extra node flags, e.g. `--cpu-prof`. */
  nodeArgs?: readonly string[];
  /** `--workers N`, for a Coffer that has the option (see cofferHasWorkersOption). */
  workers?: number;
  /** More `serve` options (the fault campaign's small multipart parts). */
  serveArgs?: readonly string[];
  /** More COFFER_* settings. */
  env?: Readonly<Record<string, string>>;
}

export interface CofferProcess extends ServerProcess {
  readonly dataDir: string;
  /** Serving processes. */
  readonly workers: number;
}

export async function startCoffer(options: CofferOptions): Promise<CofferProcess> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'coffer-bench-'));
  const env: NodeJS.ProcessEnv = {
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('COFFER_'))),
    COFFER_ACCESS_KEY_ID: options.accessKeyId,
    COFFER_SECRET_ACCESS_KEY: options.secretAccessKey,
    COFFER_REGION: options.region,
    // The "listening" line is logged at info, as is one line per request (the default, so its cost is measured).
    COFFER_LOG_LEVEL: 'info',
    // Buckets without an encryption configuration block SSE-C by default (as S3 does); the SSE-C scenarios need it.
    COFFER_DEFAULT_SSE_C: 'allowed',
    ...options.env,
  };
  const workers = options.workers !== undefined ? ['--workers', String(options.workers)] : [];
  // `serve --workers N>1` gives its workers SERVING_V8_FLAGS itself; one process serving
  // in-process gets them here, so one worker and N workers compare with the same heap settings.
  const heap = (options.workers ?? 1) > 1 ? [] : SERVING_V8_FLAGS;
  const server = await spawnListening(
    [...heap, ...(options.nodeArgs ?? []), CLI, 'serve', '--address', '127.0.0.1', '--port', '0', '--data', dataDir, ...workers, ...(options.serveArgs ?? [])],
    env,
    'coffer serve',
    options.workers ?? 1,
  );
  return { ...server, dataDir, workers: options.workers ?? 1 };
}

/** Whether this build of `coffer serve` has `--workers` (serving processes sharing the port). */
export function cofferHasWorkersOption(): boolean {
  try {
    return execFileSync(process.execPath, [CLI, 'serve', '--help'], { encoding: 'utf8', env: {}, timeout: 20_000 }).includes('--workers');
  } catch {
    return false;
  }
}

export type SinkMode = 'plain' | 'crypto' | 'disk';

/**
 * A sink serving from `workers` processes (as many as Coffer has); `disk`
 * writes each PUT's ciphertext under `dir` (on the data disk) and fsyncs it.
 */
export function startSink(mode: SinkMode, options: { workers: number; dir?: string }): Promise<ServerProcess> {
  // The sinks run with Coffer's heap settings (their workers inherit them), so a ratio compares code, not GC tuning.
  return spawnListening(
    [...SERVING_V8_FLAGS, SINK, '--mode', mode, '--workers', String(options.workers), ...(options.dir !== undefined ? ['--dir', options.dir] : [])],
    process.env,
    `sink (${mode})`,
    options.workers,
  );
}
