/**
 * Starts the real `coffer serve` process on a random loopback port with a
 * fresh temp data dir, for integration and compat tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { S3Client } from '@aws-sdk/client-s3';

export const ROOT = new URL('../../..', import.meta.url).pathname;
export const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');

export interface TestServer {
  url: string;
  port: number;
  dataDir: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  proc: ChildProcess;
  /** A client with default SDK settings (checksum trailers included), path-style. */
  client(overrides?: Partial<ConstructorParameters<typeof S3Client>[0]>): S3Client;
  /** Environment for CLI tools (aws, s3cmd, rclone) pointing at this server. */
  env(): NodeJS.ProcessEnv;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Stops and removes the data dir. */
  destroy(): Promise<void>;
  /** Peak resident set size of the server process, in bytes (VmHWM). */
  peakRss(): Promise<number>;
  output(): string;
}

export interface StartOptions {
  dataDir?: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  accessKeyId?: string;
  secretAccessKey?: string;
}

let counter = 0;

function withoutKeys(env: NodeJS.ProcessEnv, keys: string[]): NodeJS.ProcessEnv {
  const copy = { ...env };
  for (const k of keys) delete copy[k];
  return copy;
}

export async function startServer(options: StartOptions = {}): Promise<TestServer> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'coffer-test-'));
  const accessKeyId = options.accessKeyId ?? `TESTKEY${process.pid}X${counter++}`;
  const secretAccessKey = options.secretAccessKey ?? 'test-secret-key-0123456789abcdef';
  const region = 'us-east-1';
  const proc = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--data', dataDir, '--min-part-size', String(5 * 1024 * 1024), '--workers', '1', ...(options.args ?? [])], {
    env: {
      ...process.env,
      COFFER_ACCESS_KEY_ID: accessKeyId,
      COFFER_SECRET_ACCESS_KEY: secretAccessKey,
      COFFER_LOG_LEVEL: process.env.COFFER_TEST_LOG_LEVEL ?? 'info',
      // Tests that check replaced blobs are deleted should not wait the default two minutes.
      COFFER_GC_GRACE_MS: '200',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 20_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      for (const line of out.split('\n')) {
        if (!line.includes('"listening"')) continue;
        try {
          const parsed = JSON.parse(line) as { port: number };
          clearTimeout(timer);
          resolve(parsed.port);
          return;
        } catch {
          /* partial line */
        }
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${out}`));
    });
  });
  const url = `http://127.0.0.1:${port}`;
  const server: TestServer = {
    url,
    port,
    dataDir,
    accessKeyId,
    secretAccessKey,
    region,
    proc,
    client: (overrides = {}) =>
      new S3Client({
        endpoint: url,
        region,
        forcePathStyle: true,
        credentials: { accessKeyId, secretAccessKey },
        ...overrides,
      }),
    env: () => ({
      // A CA bundle from the surrounding environment makes rclone refuse to start
      // ("unsupported transport") and is useless against a plain-HTTP loopback server.
      ...withoutKeys(process.env, ['AWS_CA_BUNDLE']),
      AWS_ACCESS_KEY_ID: accessKeyId,
      AWS_SECRET_ACCESS_KEY: secretAccessKey,
      AWS_DEFAULT_REGION: region,
      AWS_REGION: region,
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      AWS_PAGER: '',
    }),
    stop: async (signal = 'SIGTERM') => {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill(signal);
      return exited;
    },
    destroy: async () => {
      await server.stop();
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
    peakRss: async () => {
      const { readFile } = await import('node:fs/promises');
      const status = await readFile(`/proc/${proc.pid}/status`, 'utf8');
      const m = /VmHWM:\s+(\d+) kB/.exec(status);
      return m ? Number(m[1]) * 1024 : 0;
    },
    output: () => out,
  };
  return server;
}

/**
 * The pids of the workers of `serve --workers N` that logged "listening", once there are at
 * least `n`. startServer returns at the first such line; a test that needs every worker
 * serving (connections are dealt only to workers that listen) waits here for the rest.
 */
export async function workerPids(server: TestServer, n: number): Promise<number[]> {
  for (let i = 0; i < 100; i++) {
    const pids = new Set<number>();
    for (const line of server.output().split('\n')) {
      if (!line.includes('"listening"')) continue;
      try {
        pids.add((JSON.parse(line) as { pid: number }).pid);
      } catch {
        /* partial line */
      }
    }
    if (pids.size >= n) return [...pids];
    await sleep(100);
  }
  throw new Error(`fewer than ${n} workers started:\n${server.output()}`);
}
