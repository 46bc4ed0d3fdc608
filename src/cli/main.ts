#!/usr/bin/env node
/**
 * The `coffer` command: `coffer serve [options]`. Thin: parses, starts, prints.
 *
 * Only node built-ins are imported up front: the server (../main.js), the
 * configuration schema (zod) and the logger (pino) are imported where a command
 * needs them, so the primary of `serve --workers N`, which only forks and
 * watches the workers, never loads them (issue 7: RSS summed over processes).
 */
import { fork as forkProcess } from 'node:child_process';
import cluster from 'node:cluster';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import type { Config, ConfigInput } from '../config/config.js';
import type { PreparedDataDir } from '../main.js';
import { relayClusterMetrics } from '../metrics/cluster-relay.js';
import { SERVING_V8_FLAGS } from './v8-flags.js';

const USAGE = `Usage: coffer serve [options]

Options (each also from an environment variable, or from a configuration file):
  --config FILE         settings from a YAML or JSON file, named as in the configuration
                        (dataDir, port, tlsCert, …); flags > environment > file > defaults
                        COFFER_CONFIG
  --address ADDR        listen address            COFFER_ADDRESS   (127.0.0.1)
  --port N              listen port, 0 = any      COFFER_PORT      (9000)
  --data DIR            data directory            COFFER_DATA      (./data)
  --region NAME         S3 region                 COFFER_REGION    (us-east-1)
  --domain NAME         virtual-host domain, repeatable  COFFER_DOMAIN (localhost)
  --tls-cert FILE       serve HTTPS with this certificate  COFFER_TLS_CERT
  --tls-key FILE        ... and this private key            COFFER_TLS_KEY
  --min-part-size N     smallest non-final multipart part   COFFER_MIN_PART_SIZE (5 MiB)
  --log-level LEVEL     trace|debug|info|warn|error|silent  COFFER_LOG_LEVEL (info)
  --workers N           serving processes sharing the port   COFFER_WORKERS (one per core)
  --root-key-file FILE  the root key (base64)    COFFER_ROOT_KEY_FILE (DATA/root.key, made at first start)
  --kms-endpoint URL    use this AWS-KMS-compatible endpoint instead of the built-in KMS  COFFER_KMS_ENDPOINT
  --kms-region NAME     region the external KMS is signed for   COFFER_KMS_REGION (the S3 region)
  --metadata-url postgres://USER@HOST:PORT/DB  keep metadata and KMS keys in PostgreSQL
                        COFFER_METADATA_URL (SQLite in DATA/coffer.db); needs COFFER_ROOT_KEY or
                        --root-key-file and COFFER_ACCESS_KEY_ID/COFFER_SECRET_ACCESS_KEY
  --blob-url s3://BUCKET/PREFIX  keep blobs (ciphertext only) in a bucket of another S3 service
                        COFFER_BLOB_URL (blobs under DATA/blobs)
  --blob-endpoint URL   that service's endpoint   COFFER_BLOB_ENDPOINT (AWS S3)
  --blob-region NAME    region it is signed for   COFFER_BLOB_REGION (the S3 region)
  --default-sse-c blocked|allowed   SSE-C on buckets without an encryption configuration
                        COFFER_DEFAULT_SSE_C (blocked, as Amazon S3 for buckets made since April 2026)
  --allow-insecure-sse-c  accept SSE-C keys over plain HTTP from non-loopback clients
                        COFFER_ALLOW_INSECURE_SSE_C (false: S3 requires TLS for customer keys)
  --bucket-key-period MS  how long one S3 Bucket Key serves new SSE-KMS objects
                        COFFER_BUCKET_KEY_PERIOD_MS (3600000)
  --body-idle-timeout MS  a request body that sends nothing this long is answered 400 RequestTimeout
                        COFFER_BODY_IDLE_TIMEOUT_MS (20000, as S3)
  --headers-timeout MS  a client that has not sent its request headers in this time is disconnected
                        COFFER_HEADERS_TIMEOUT_MS (60000)
  --max-connections N   open connections per serving process; more are closed as they arrive
                        COFFER_MAX_CONNECTIONS (1024)
  --metrics-token TOKEN  GET /_coffer/metrics needs Authorization: Bearer TOKEN
                        COFFER_METRICS_TOKEN (unset: the metrics are open)
  --console enabled|disabled  the web console at /_coffer/console/   COFFER_CONSOLE (enabled)
Root credentials: COFFER_ACCESS_KEY_ID and COFFER_SECRET_ACCESS_KEY; when unset, generated
at first start into DATA/credentials.json (mode 0600) and printed once.
Root key: COFFER_ROOT_KEY (base64 of 32 bytes) wins over --root-key-file. External KMS
credentials: COFFER_KMS_ACCESS_KEY_ID and COFFER_KMS_SECRET_ACCESS_KEY. Blob backend credentials:
COFFER_BLOB_ACCESS_KEY_ID and COFFER_BLOB_SECRET_ACCESS_KEY (unset: the AWS SDK's default chain).

Administration (same --data / root key options):
  coffer admin rotate-root-key [--new-root-key-file FILE]
        re-wrap every KMS key under a new root key (crash-safe: re-run to finish)
  coffer admin kms audit [--key ID|ARN] [--since TIME|15m|2h|7d]
        print the KMS audit log (JSON lines)
  coffer admin user create|list|delete [NAME]        IAM users of the account (delete also removes keys and policies)
  coffer admin key create|list|delete USER [KEYID]   access keys of a user (a new secret is printed once)
  coffer admin policy attach USER NAME FILE          put an inline identity policy (JSON) on a user
  coffer admin account create NAME                   another account; prints its root access key once
        [--account ID] picks the account (default: the root credentials' account)
`;

async function serve(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      address: { type: 'string' },
      port: { type: 'string' },
      data: { type: 'string' },
      region: { type: 'string' },
      domain: { type: 'string', multiple: true },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'min-part-size': { type: 'string' },
      'log-level': { type: 'string' },
      workers: { type: 'string' },
      'root-key-file': { type: 'string' },
      'kms-endpoint': { type: 'string' },
      'kms-region': { type: 'string' },
      'metadata-url': { type: 'string' },
      'blob-url': { type: 'string' },
      'blob-endpoint': { type: 'string' },
      'blob-region': { type: 'string' },
      'default-sse-c': { type: 'string' },
      'allow-insecure-sse-c': { type: 'boolean' },
      'bucket-key-period': { type: 'string' },
      'body-idle-timeout': { type: 'string' },
      'headers-timeout': { type: 'string' },
      'max-connections': { type: 'string' },
      'metrics-token': { type: 'string' },
      config: { type: 'string' },
      console: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const flags: Partial<ConfigInput> = {
    address: values.address,
    port: values.port,
    dataDir: values.data,
    region: values.region,
    domains: values.domain,
    tlsCert: values['tls-cert'],
    tlsKey: values['tls-key'],
    minPartSize: values['min-part-size'],
    logLevel: values['log-level'] as ConfigInput['logLevel'],
    workers: values.workers,
    rootKeyFile: values['root-key-file'],
    kmsEndpoint: values['kms-endpoint'],
    kmsRegion: values['kms-region'],
    metadataUrl: values['metadata-url'],
    blobUrl: values['blob-url'],
    blobEndpoint: values['blob-endpoint'],
    blobRegion: values['blob-region'],
    defaultSseC: values['default-sse-c'] as ConfigInput['defaultSseC'],
    allowInsecureSseC: values['allow-insecure-sse-c'],
    bucketKeyPeriodMs: values['bucket-key-period'],
    bodyIdleTimeoutMs: values['body-idle-timeout'],
    headersTimeoutMs: values['headers-timeout'],
    maxConnections: values['max-connections'],
    metricsToken: values['metrics-token'],
    console: values.console as ConfigInput['console'],
  } as Partial<ConfigInput>;
  const configFile = values.config ?? (process.env.COFFER_CONFIG !== '' ? process.env.COFFER_CONFIG : undefined);
  if (process.env[ROLE_ENV] === 'prepare' && process.send !== undefined && cluster.isPrimary) return prepareForPrimary(flags, configFile);
  if (cluster.isPrimary && ((await workersWanted(flags, configFile)) ?? 1) > 1) return servePrimary();
  const config = await loadServeConfig(flags, configFile);
  const log = await createLogger(config.logLevel, cluster.isWorker ? cluster.worker?.id : undefined);
  const { prepareDataDir, startCoffer } = await import('../main.js');
  // One process prepares its data dir itself; a worker's was prepared before the primary forked it.
  const prepared = cluster.isWorker ? undefined : await prepareDataDir(config, log);
  if (prepared) announceGenerated(config, prepared);
  const coffer = await startCoffer(config, log);
  // A promise rejected with nobody listening is a bug, but one request's bug must not end the
  // process (node's default) and with it every other request in flight: log it and serve on.
  // Every request's own errors are caught where it is handled and answered 500 InternalError.
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection (a bug); serving on'));
  // The same for an exception thrown outside any request's own error handling (an event
  // listener's bug). Node's advice is to exit, but every request's state is its own and every
  // store write is a transaction, so one such bug is not worth every upload in flight.
  process.on('uncaughtException', (err) => log.error({ err }, 'uncaught exception (a bug); serving on'));
  log.info({ url: coffer.url, port: coffer.port, dataDir: config.dataDir, region: config.region, pid: process.pid }, 'listening');
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: finishing in-flight requests');
    coffer
      .shutdown()
      .then(() => {
        log.info('stopped');
        process.exit(0);
      })
      .catch((err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // A worker whose primary is gone (even killed with SIGKILL) finishes its requests and exits.
  if (cluster.isWorker) process.on('disconnect', () => stop('primary gone'));
}

/** Coffer's log: JSON lines (pino) tagged with the service and, in a worker, the worker's id. */
async function createLogger(level: Config['logLevel'], worker?: number): Promise<Logger> {
  const { pino } = await import('pino');
  return pino({ level, base: { service: 'coffer', ...(worker !== undefined ? { worker } : {}) } });
}

/**
 * `--workers` as loadConfig will read it (flag, else COFFER_WORKERS, else one per
 * core), when it is a valid count; undefined otherwise, and then the full
 * configuration is loaded and reports the error. The primary decides with this
 * alone whether it forks, so that it need not load the configuration schema.
 */
async function workersWanted(flags: Partial<ConfigInput>, configFile: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<number | undefined> {
  let raw: unknown = flags.workers ?? (env.COFFER_WORKERS !== '' ? env.COFFER_WORKERS : undefined);
  if (raw === undefined && configFile !== undefined) {
    try {
      // Loaded only with --config: the primary otherwise reads no YAML.
      const { readConfigFile } = await import('../config/config-file.js');
      raw = readConfigFile(configFile).workers;
    } catch {
      return undefined; // loadConfig reports it
    }
  }
  const n = raw === undefined ? availableParallelism() : Number(raw);
  return Number.isInteger(n) && n >= 1 && n <= 256 ? n : undefined;
}

/** The serving configuration: flags > environment > the configuration file, if any > defaults. */
async function loadServeConfig(flags: Partial<ConfigInput>, configFile: string | undefined): Promise<Config> {
  const { loadConfig } = await import('../config/config.js');
  if (configFile === undefined) return loadConfig(flags);
  const { exposedSecretsWarning, readConfigFile } = await import('../config/config-file.js');
  const values = readConfigFile(configFile);
  const warning = exposedSecretsWarning(configFile, values);
  if (warning !== undefined && !cluster.isWorker) process.stderr.write(`coffer: warning: ${warning}\n`);
  return loadConfig(flags, process.env, { path: configFile, values });
}

/** Set (to `prepare`) in the environment of the process the primary forks to prepare the data dir. */
const ROLE_ENV = 'COFFER_CLUSTER_ROLE';

/** What the preparing process tells the primary before it exits. */
type PrepareReport = { ok: true; workers: number; logLevel: Config['logLevel'] } | { ok: false; message: string };

/**
 * The preparing process of `serve --workers N`: loads the configuration, prepares
 * the data dir (prepareDataDir), prints what it generated, tells the primary how
 * it went and exits.
 */
async function prepareForPrimary(flags: Partial<ConfigInput>, configFile: string | undefined): Promise<void> {
  let report: PrepareReport;
  try {
    const config = await loadServeConfig(flags, configFile);
    const log = await createLogger(config.logLevel);
    const { prepareDataDir } = await import('../main.js');
    announceGenerated(config, await prepareDataDir(config, log));
    report = { ok: true, workers: config.workers, logLevel: config.logLevel };
  } catch (err) {
    report = { ok: false, message: err instanceof Error ? err.message : String(err) };
  }
  await new Promise<void>((resolve) => {
    if (!process.connected) return resolve();
    process.send!(report, undefined, {}, () => resolve());
  });
  // Done: nothing of this process is needed any more (its log is flushed on exit).
  process.exit(report.ok ? 0 : 1);
}

/**
 * Runs prepareDataDir in a process of its own (this CLI, in the `prepare` role)
 * and waits until that process has exited: the primary never loads the server,
 * and nothing serves before the data dir is ready.
 */
function prepareInChild(): Promise<PrepareReport> {
  return new Promise((resolve) => {
    const child = forkProcess(process.argv[1]!, process.argv.slice(2), { env: { ...process.env, [ROLE_ENV]: 'prepare' }, stdio: 'inherit' });
    let report: PrepareReport | undefined;
    child.on('message', (m: PrepareReport) => (report = m));
    child.once('error', (err) => {
      resolve({ ok: false, message: `could not start the process that prepares the data dir: ${err.message}` });
      child.kill('SIGKILL');
    });
    // 'close', not 'exit': it comes after the IPC channel is drained, so after the report.
    child.once('close', (code, signal) => {
      if (report?.ok === false || (report?.ok && code === 0)) return resolve(report);
      resolve({ ok: false, message: `the process preparing the data dir ${signal !== null ? `was killed by ${signal}` : `exited with code ${code}`}` });
    });
  });
}

/** Prints what the first start generated: credentials once; a warning to back up the root key. */
function announceGenerated(config: Config, prepared: PreparedDataDir): void {
  if (prepared.generatedSecret !== undefined) {
    // Printed once, at the start that created them; they live in the data dir (0600) afterwards.
    process.stdout.write(
      `\nGenerated root credentials (stored in ${config.dataDir}/credentials.json, mode 0600):\n` +
        `  AWS_ACCESS_KEY_ID=${prepared.accessKeyId}\n  AWS_SECRET_ACCESS_KEY=${prepared.generatedSecret}\n\n`,
    );
  }
  if (prepared.generatedRootKeyFile !== undefined) {
    process.stderr.write(
      `\nGenerated a root key in ${prepared.generatedRootKeyFile} (mode 0600). Back it up now, apart from the data\n` +
        `directory: without it nothing Coffer encrypts can ever be decrypted. See docs/kms.md.\n\n`,
    );
  }
}

/**
 * `--workers N`: the data dir is prepared once, by a short-lived process of its own
 * (prepareInChild), then the primary forks N workers that share the listening port
 * (node:cluster) and the data dir (SQLite in WAL mode is safe across processes). A
 * worker that dies is replaced; SIGTERM drains them all. The primary itself loads
 * neither the server nor the configuration schema, and pino only when it logs.
 */
async function servePrimary(): Promise<void> {
  const prepared = await prepareInChild();
  if (!prepared.ok) throw new Error(prepared.message);
  let logger: Promise<Logger> | undefined;
  let logged: Promise<unknown> = Promise.resolve();
  const log = (write: (log: Logger) => void): void => {
    logged = logged
      .then(() => (logger ??= createLogger(prepared.logLevel)))
      .then(write)
      .catch((err: unknown) => process.stderr.write(`coffer: cannot log: ${String(err)}\n`));
  };
  let exiting = false;
  /** Exits once every line logged so far is written. */
  const exit = (code: number): void => {
    exiting = true;
    void logged.finally(() => process.exit(code));
  };
  let stopping = false;
  const started = Date.now();
  // Heap settings for streaming Buffers through (see v8-flags.ts). A single-process
  // `serve --workers 1` runs with whatever flags node was started with.
  cluster.setupPrimary({ execArgv: [...process.execArgv, ...SERVING_V8_FLAGS] });
  // Scrapes of /_coffer/metrics reach one worker, which gathers every worker's metrics through here.
  relayClusterMetrics();
  const fork = () => cluster.fork();
  for (let i = 0; i < prepared.workers; i++) fork();
  cluster.on('exit', (worker, code, signal) => {
    if (exiting) return;
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) exit(0);
      return;
    }
    log((l) => l.error({ worker: worker.id, code, signal }, 'a worker died; starting another'));
    // A worker that cannot even start (bad config, port taken) would loop: give up instead.
    if (Date.now() - started < 5000) {
      log((l) => l.fatal('workers are failing at start; stopping'));
      return exit(1);
    }
    fork();
  });
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log((l) => l.info({ signal }, 'shutting down workers'));
    // After the line is out (pino may be loading still), so that it comes before the workers' own.
    void logged.then(() => {
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** Options every admin command shares: where the data and the root key are. */
const ADMIN_OPTIONS = {
  data: { type: 'string' },
  'root-key-file': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

async function rotateRootKeyCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { ...ADMIN_OPTIONS, 'new-root-key-file': { type: 'string' } }, strict: true });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const { loadConfig } = await import('../config/config.js');
  const { adminRotateRootKey } = await import('../main.js');
  const config = loadConfig({ dataDir: values.data, rootKeyFile: values['root-key-file'] } as Partial<ConfigInput>);
  // Tests only: die like a power cut after N re-wrapped rows, to prove a re-run recovers.
  const crashAfter = process.env.COFFER_TEST_CRASH_AFTER_REWRAPS;
  const result = await adminRotateRootKey(config, {
    newRootKeyFile: values['new-root-key-file'],
    ...(crashAfter !== undefined ? { onRewrapped: (n: number) => n >= Number(crashAfter) && process.kill(process.pid, 'SIGKILL') } : {}),
  });
  process.stdout.write(
    `${result.resumed ? 'Finished the interrupted rotation' : 'Rotated the root key'}: ${result.rewrapped} key version(s) re-wrapped ` +
      `from root key ${result.oldRootKeyId} to ${result.newRootKeyId}.\n` +
      `The new root key is in ${result.keyFile} (mode 0600). Back it up apart from the data directory.\n` +
      (result.switchEnvironment
        ? `COFFER_ROOT_KEY still holds the old key: set it to the contents of ${result.keyFile} (or use --root-key-file ${result.keyFile}) before the next start.\n`
        : ''),
  );
}

async function kmsAuditCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { ...ADMIN_OPTIONS, key: { type: 'string' }, since: { type: 'string' } }, strict: true });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const { loadConfig } = await import('../config/config.js');
  const { AUDIT_LOG_FILE, parseSince, readAuditLog } = await import('../kms/kms-audit.js');
  const config = loadConfig({ dataDir: values.data } as Partial<ConfigInput>);
  const filter = { ...(values.key !== undefined ? { key: values.key } : {}), ...(values.since !== undefined ? { since: parseSince(values.since) } : {}) };
  // A torn line is a record whose write was cut short (a crash, a full disk): its operation failed.
  const onUnreadable = (line: number) => process.stderr.write(`coffer: kms-audit.log line ${line}: a torn record (skipped)\n`);
  for await (const event of readAuditLog(join(config.dataDir, AUDIT_LOG_FILE), filter, { onUnreadable })) {
    if (!process.stdout.write(`${JSON.stringify(event)}\n`)) await new Promise((r) => process.stdout.once('drain', r));
  }
}

/** `coffer admin user|key|policy|account …`: identities, on the data dir directly. */
async function identityCommand(command: string, sub: string | undefined, args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, options: { ...ADMIN_OPTIONS, account: { type: 'string' } }, strict: true, allowPositionals: true });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const { loadConfig } = await import('../config/config.js');
  const { openAdminIdentities } = await import('../main.js');
  const config = loadConfig({ dataDir: values.data, rootKeyFile: values['root-key-file'] } as Partial<ConfigInput>);
  const { identities, close } = await openAdminIdentities(config);
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const need = (i: number, what: string): string => {
    const v = positionals[i];
    if (v === undefined) throw new Error(`missing ${what}`);
    return v;
  };
  try {
    const account = values.account ?? identities.firstAccount.accountId;
    const key = `${command} ${sub ?? ''}`;
    switch (key) {
      case 'user create': {
        const u = await identities.createUser(account, need(0, 'NAME'));
        out(`arn:aws:iam::${account}:user${u.path}${u.userName}`);
        return;
      }
      case 'user list':
        for (const u of await identities.listUsers(account)) out(`${u.userName}\t${u.userId}\t${new Date(u.createdAt).toISOString()}`);
        return;
      case 'user delete':
        await identities.deleteUser(account, need(0, 'NAME'), { cascade: true });
        return;
      case 'key create': {
        const k = await identities.createAccessKey(account, need(0, 'USER'));
        // Printed once: only a wrapped copy of the secret is kept.
        out(`AWS_ACCESS_KEY_ID=${k.accessKeyId}`);
        out(`AWS_SECRET_ACCESS_KEY=${k.secretAccessKey}`);
        return;
      }
      case 'key list':
        for (const k of await identities.listAccessKeys(account, need(0, 'USER'))) out(`${k.accessKeyId}\t${k.status}\t${new Date(k.createdAt).toISOString()}`);
        return;
      case 'key delete':
        await identities.deleteAccessKey(account, need(0, 'USER'), need(1, 'KEYID'));
        return;
      case 'policy attach':
        await identities.putUserPolicy(account, need(0, 'USER'), need(1, 'NAME'), await readFile(need(2, 'FILE'), 'utf8'));
        return;
      case 'account create': {
        const { account: a, key: k } = await identities.createAccount(need(0, 'NAME'));
        out(`ACCOUNT_ID=${a.accountId}`);
        out(`CANONICAL_ID=${a.canonicalId}`);
        out(`AWS_ACCESS_KEY_ID=${k.accessKeyId}`);
        out(`AWS_SECRET_ACCESS_KEY=${k.secretAccessKey}`);
        return;
      }
      default:
        throw new Error(`unknown admin command '${key.trim()}'`);
    }
  } finally {
    await close();
  }
}

async function admin(args: string[]): Promise<void> {
  const [command, sub, ...rest] = args;
  if (command === 'user' || command === 'key' || command === 'policy' || command === 'account') return identityCommand(command, sub, rest);
  if (command === 'rotate-root-key') return rotateRootKeyCommand(sub === undefined ? [] : [sub, ...rest]);
  if (command === 'kms' && sub === 'audit') return kmsAuditCommand(rest);
  process.stderr.write(`coffer: unknown admin command '${[command, sub].filter(Boolean).join(' ')}'\n\n${USAGE}`);
  process.exitCode = 2;
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(rest);
    case 'admin':
      // A reader that stopped reading (`coffer admin kms audit | head`) has all it wanted:
      // end quietly, as a filter should, instead of dying on EPIPE with a stack trace.
      process.stdout.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EPIPE') process.exit(0);
        throw err;
      });
      return admin(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return;
    default:
      process.stderr.write(`coffer: unknown command '${command}'\n\n${USAGE}`);
      process.exitCode = 2;
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`coffer: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
