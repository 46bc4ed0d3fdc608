/**
 * A throwaway PostgreSQL for tests: initdb into a temporary directory, a postmaster on
 * 127.0.0.1 and a random port (its socket in the same directory), one database, all
 * removed by stop(). PostgreSQL refuses to run as root, so under root the server runs
 * as `nobody`, which owns the directory. Binaries come from PATH or from Debian's
 * /usr/lib/postgresql/<version>/bin; findPostgres() says when there are none (the
 * tests then skip, saying so).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

export interface PostgresBinaries {
  initdb: string;
  postgres: string;
}

export interface TestPostgres {
  /** Connection string of the test database. */
  url: string;
  /** The server's port. */
  port: number;
  /** The server's directory (its data files and WAL under `data/`), for tests that search what it wrote. */
  dir: string;
  /** Creates another empty database on the same server; its connection string. */
  newDatabase(): Promise<string>;
  /** Stops the server and removes its directory. */
  stop(): Promise<void>;
}

/** initdb and postgres, or undefined when this machine has no PostgreSQL. */
export function findPostgres(): PostgresBinaries | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  try {
    const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
    dirs.push(...versions.map((v) => join('/usr/lib/postgresql', v, 'bin')));
  } catch {
    // no Debian-style installation
  }
  for (const dir of dirs) {
    const initdb = join(dir, 'initdb');
    const postgres = join(dir, 'postgres');
    if (existsSync(initdb) && existsSync(postgres)) return { initdb, postgres };
  }
  return undefined;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Under root: the uid/gid of `nobody`, whom PostgreSQL agrees to run as. */
function unprivileged(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string): number => Number(spawnSync('id', [flag, 'nobody'], { encoding: 'utf8' }).stdout.trim());
  return { uid: id('-u'), gid: id('-g') };
}

/** Starts a fresh PostgreSQL with one empty database. */
export async function startPostgres(bins: PostgresBinaries): Promise<TestPostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'coffer-pg-'));
  const user = unprivileged();
  if (user) chownSync(dir, user.uid, user.gid);
  const data = join(dir, 'data');
  const init = spawnSync(bins.initdb, ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'], {
    encoding: 'utf8',
    ...(user ?? {}),
  });
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed (${init.status}): ${init.stderr}`);
  }
  let lastError: unknown;
  for (let tries = 0; tries < 5; tries++) {
    const port = await freePort();
    // fsync off: a test database need not survive a power cut, and the machine is shared.
    const child = spawn(
      bins.postgres,
      ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'full_page_writes=off', '-c', 'max_connections=200'],
      { stdio: ['ignore', 'ignore', 'pipe'], ...(user ?? {}) },
    );
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    try {
      await waitReady(child, port, () => stderr);
      let databases = 0;
      const newDatabase = async (): Promise<string> => {
        const name = `coffer_test_${databases++}`;
        const admin = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` });
        await admin.connect();
        try {
          await admin.query(`CREATE DATABASE ${name}`);
        } finally {
          await admin.end();
        }
        return `postgres://postgres@127.0.0.1:${port}/${name}`;
      };
      return {
        url: await newDatabase(),
        port,
        dir,
        newDatabase,
        stop: async () => {
          await stopChild(child);
          rmSync(dir, { recursive: true, force: true });
        },
      };
    } catch (err) {
      lastError = err;
      await stopChild(child);
    }
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastError;
}

async function waitReady(child: ChildProcess, port: number, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`postgres exited (${child.exitCode ?? child.signalCode}): ${stderr()}`);
    const client = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres`, connectionTimeoutMillis: 1000 });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.end();
      return;
    } catch {
      await client.end().catch(() => {});
      await sleep(100);
    }
  }
  throw new Error(`postgres did not accept connections within 30 s: ${stderr()}`);
}

/** SIGINT is PostgreSQL's fast shutdown: it ends sessions and exits cleanly. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
