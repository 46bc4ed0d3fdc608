/**
 * The command line and the plan it selects: which workloads run, how big,
 * how many times, and the bounds (request counts and seconds) that make
 * every run stop by itself. Three sizes: the full run (~10 minutes on two
 * cores), `--quick` (~1 minute) and `--smoke` (seconds; for CI).
 */
import { parseArgs } from 'node:util';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

export interface ObjectSizePlan {
  label: string;
  bytes: number;
  concurrency: number;
  /** Bounds of one measurement. */
  maxOps: number;
  maxSeconds: number;
  warmupOps: number;
}

export interface Plan {
  name: 'full' | 'quick' | 'smoke';
  /** Measurements per (workload, target), interleaved across targets; tables show medians. */
  reps: number;
  objectSizes: ObjectSizePlan[];
  /** Seconds of 4 KiB PUT and GET against each server before anything is measured (JIT, caches). */
  warmupSeconds: number;
  /** Every n-th GET of a Coffer target is compared byte for byte (the first one always). */
  verifyEvery: number;
  range: { objectBytes: number; rangeBytes: number; concurrencies: number[]; maxOps: number; maxSeconds: number };
  /** `fillSeconds` bounds the fill; HEAD and List then run on however many keys it made. */
  keys: { count: number; smallCount: number; fillConcurrency: number; fillSeconds: number; concurrency: number; maxOps: number; maxSeconds: number };
  multipart: { objectBytes: number; partBytes: number; parallel: number; reps: number };
  memory: { objectBytes: number; concurrency: number };
  /** Seconds of 1 MiB PUT profiled with --cpu-prof on a separate Coffer; undefined: no profile. */
  profileSeconds: number | undefined;
}

const FULL: Plan = {
  name: 'full',
  reps: 3,
  objectSizes: [
    { label: '4 KiB', bytes: 4 * KiB, concurrency: 16, maxOps: 20_000, maxSeconds: 2, warmupOps: 2_000 },
    { label: '1 MiB', bytes: 1 * MiB, concurrency: 8, maxOps: 512, maxSeconds: 2, warmupOps: 16 },
    { label: '64 MiB', bytes: 64 * MiB, concurrency: 2, maxOps: 10, maxSeconds: 3, warmupOps: 2 },
  ],
  warmupSeconds: 3,
  verifyEvery: 8,
  range: { objectBytes: 1 * GiB, rangeBytes: 4 * KiB, concurrencies: [1, 16], maxOps: 20_000, maxSeconds: 2 },
  keys: { count: 100_000, smallCount: 2_000, fillConcurrency: 32, fillSeconds: 180, concurrency: 16, maxOps: 20_000, maxSeconds: 2 },
  multipart: { objectBytes: 1 * GiB, partBytes: 16 * MiB, parallel: 4, reps: 2 },
  memory: { objectBytes: 64 * MiB, concurrency: 16 },
  profileSeconds: 8,
};

const QUICK: Plan = {
  name: 'quick',
  reps: 1,
  objectSizes: [
    { label: '4 KiB', bytes: 4 * KiB, concurrency: 16, maxOps: 5_000, maxSeconds: 1, warmupOps: 1_000 },
    { label: '1 MiB', bytes: 1 * MiB, concurrency: 8, maxOps: 256, maxSeconds: 1, warmupOps: 8 },
    { label: '64 MiB', bytes: 64 * MiB, concurrency: 2, maxOps: 4, maxSeconds: 1.5, warmupOps: 2 },
  ],
  warmupSeconds: 1,
  verifyEvery: 4,
  range: { objectBytes: 128 * MiB, rangeBytes: 4 * KiB, concurrencies: [1, 16], maxOps: 5_000, maxSeconds: 1 },
  keys: { count: 5_000, smallCount: 1_500, fillConcurrency: 32, fillSeconds: 20, concurrency: 16, maxOps: 5_000, maxSeconds: 1 },
  multipart: { objectBytes: 128 * MiB, partBytes: 8 * MiB, parallel: 4, reps: 1 },
  memory: { objectBytes: 16 * MiB, concurrency: 16 },
  profileSeconds: undefined,
};

const SMOKE: Plan = {
  name: 'smoke',
  reps: 1,
  objectSizes: [
    { label: '4 KiB', bytes: 4 * KiB, concurrency: 4, maxOps: 40, maxSeconds: 0.3, warmupOps: 4 },
    { label: '1 MiB', bytes: 1 * MiB, concurrency: 2, maxOps: 8, maxSeconds: 0.3, warmupOps: 1 },
  ],
  warmupSeconds: 0.1,
  verifyEvery: 1,
  range: { objectBytes: 8 * MiB, rangeBytes: 4 * KiB, concurrencies: [1], maxOps: 40, maxSeconds: 0.3 },
  keys: { count: 200, smallCount: 0, fillConcurrency: 16, fillSeconds: 10, concurrency: 4, maxOps: 40, maxSeconds: 0.3 },
  multipart: { objectBytes: 12 * MiB, partBytes: 5 * MiB, parallel: 2, reps: 1 },
  memory: { objectBytes: 1 * MiB, concurrency: 4 },
  profileSeconds: undefined,
};

export interface Options {
  plan: Plan;
  /** An S3 endpoint to measure instead of starting Coffer (loopback only). */
  endpoint?: URL;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** With --endpoint: the server's pid, to read its CPU and memory from /proc. */
  serverPid?: number;
  /** With --endpoint: a KMS key to use instead of creating one. */
  kmsKeyId?: string;
  /** Only workloads whose name matches. */
  only?: RegExp;
  /** Where the Markdown report goes; undefined: not written. */
  out?: string;
  /** Coffer's data directory (default: a temp dir, removed afterwards). */
  dataDir?: string;
  keepData: boolean;
  /** A second S3 server measured in the same sitting, interleaved with Coffer (see bench/README.md, "Against a peer"). */
  peer?: PeerOptions;
}

export interface PeerOptions {
  /** `--peer-endpoint URL`, or undefined with `start`. */
  endpoint?: URL;
  accessKeyId?: string;
  secretAccessKey?: string;
  region: string;
  /** How it is named in the tables (default: `radosgw` for --peer radosgw, else host:port). */
  name: string;
  /** Its process (and descendants), to read its CPU and memory from /proc. */
  pid?: number;
  /** The KMS key id for its SSE-KMS (default: CreateKey on its endpoint, as for Coffer). */
  kmsKeyId?: string;
  /** `--peer radosgw`: start a throwaway single-node Ceph (bench/peers/radosgw.sh) as the peer. */
  start?: 'radosgw';
}

export const USAGE = `Usage: npm run bench -- [options]

  --quick               a short run (~1 minute); prints the table, writes no report unless --out
  --smoke               a few seconds, for CI: every workload once, tiny
  --reps N              measurements per workload and target (default: 3 full, 1 quick)
  --only REGEX          only workloads whose name matches (e.g. 'PUT 1 MiB|GET 1 MiB'; 'profile' for the profiles)
  --out FILE            write the Markdown report here (default for a full run: bench/RESULTS.md)
  --no-profile          skip the --cpu-prof profile of the 1 MiB PUT
  --data DIR            Coffer's data directory (default: a temp dir, removed at the end)
  --keep-data           keep the data directory
  --endpoint URL        benchmark this S3 endpoint (loopback only) instead of starting Coffer
  --access-key ID       its credentials (default: COFFER_ACCESS_KEY_ID / AWS_ACCESS_KEY_ID)
  --secret-key SECRET   (default: COFFER_SECRET_ACCESS_KEY / AWS_SECRET_ACCESS_KEY)
  --region NAME         (default: us-east-1)
  --server-pid PID      with --endpoint: read that process's CPU and memory from /proc
  --kms-key-id ID       with --endpoint: the KMS key for SSE-KMS (default: CreateKey on the endpoint)
  --peer-endpoint URL   also measure this second S3 server (loopback), interleaved with Coffer,
                        and print Coffer / peer ratios per workload and encryption mode
  --peer-access-key ID  its credentials (required with --peer-endpoint)
  --peer-secret-key S
  --peer-name NAME      its name in the tables (default: host:port)
  --peer-pid PID        its process, to read its CPU and memory from /proc (descendants included)
  --peer-kms-key-id ID  the KMS key id for its SSE-KMS (default: CreateKey on its endpoint)
  --peer-region NAME    (default: --region)
  --peer radosgw        start a throwaway single-node Ceph RGW (bench/peers/radosgw.sh) as the peer
  --cluster             the scale-out topology instead (PostgreSQL + S3 blob backend, 1 and 2 nodes
                        beside the embedded default): npm run bench -- --cluster --help
`;

/** A mistake on the command line: reported with the usage text, without a stack trace. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

const OPTIONS = {
  quick: { type: 'boolean', default: false },
  smoke: { type: 'boolean', default: false },
  reps: { type: 'string' },
  only: { type: 'string' },
  out: { type: 'string' },
  'no-profile': { type: 'boolean', default: false },
  data: { type: 'string' },
  'keep-data': { type: 'boolean', default: false },
  endpoint: { type: 'string' },
  'access-key': { type: 'string' },
  'secret-key': { type: 'string' },
  region: { type: 'string', default: 'us-east-1' },
  'server-pid': { type: 'string' },
  'kms-key-id': { type: 'string' },
  peer: { type: 'string' },
  'peer-endpoint': { type: 'string' },
  'peer-access-key': { type: 'string' },
  'peer-secret-key': { type: 'string' },
  'peer-name': { type: 'string' },
  'peer-pid': { type: 'string' },
  'peer-kms-key-id': { type: 'string' },
  'peer-region': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

export function parseOptions(argv: string[], defaultOut: string): Options | 'help' {
  const values = parse(argv);
  if (values.help) return 'help';
  if (values.quick && values.smoke) throw new UsageError('--quick and --smoke exclude each other');
  const base = values.smoke ? SMOKE : values.quick ? QUICK : FULL;
  const reps = values.reps !== undefined ? Number(values.reps) : base.reps;
  if (!Number.isInteger(reps) || reps < 1 || reps > 20) throw new UsageError('--reps must be an integer from 1 to 20');
  const plan: Plan = { ...base, reps, profileSeconds: values['no-profile'] ? undefined : base.profileSeconds };

  const loopbackUrl = (option: string, value: string): URL => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new UsageError(`${option}: not a URL: ${value}`);
    }
    if (url.protocol !== 'http:') throw new UsageError(`${option} must be http:// (the load generator speaks plain HTTP)`);
    // The benchmark sends traffic to this machine only.
    if (!isLoopback(url.hostname)) throw new UsageError(`${option} must be a loopback address (127.0.0.1, localhost), not ${url.hostname}`);
    return url;
  };
  const endpoint = values.endpoint !== undefined ? loopbackUrl('--endpoint', values.endpoint) : undefined;
  const peer = peerOptions(values, loopbackUrl);
  const accessKeyId = values['access-key'] ?? process.env.COFFER_ACCESS_KEY_ID ?? process.env.AWS_ACCESS_KEY_ID ?? 'BENCHROOTKEY0000000';
  const secretAccessKey = values['secret-key'] ?? process.env.COFFER_SECRET_ACCESS_KEY ?? process.env.AWS_SECRET_ACCESS_KEY ?? 'bench-secret-key-0123456789abcdef';
  if (endpoint && (values['access-key'] ?? process.env.COFFER_ACCESS_KEY_ID ?? process.env.AWS_ACCESS_KEY_ID) === undefined) {
    throw new UsageError('--endpoint needs credentials: --access-key/--secret-key or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY');
  }
  const serverPid = values['server-pid'] !== undefined ? Number(values['server-pid']) : undefined;
  if (serverPid !== undefined && (!Number.isInteger(serverPid) || serverPid <= 0)) throw new UsageError('--server-pid must be a process id');
  if (serverPid !== undefined && !endpoint) throw new UsageError('--server-pid goes with --endpoint');
  const out = values.out ?? (plan.name === 'full' && !values.only ? defaultOut : undefined);
  return {
    plan,
    ...(endpoint ? { endpoint } : {}),
    accessKeyId,
    secretAccessKey,
    region: values.region,
    ...(serverPid !== undefined ? { serverPid } : {}),
    ...(values['kms-key-id'] !== undefined ? { kmsKeyId: values['kms-key-id'] } : {}),
    ...(values.only !== undefined ? { only: new RegExp(values.only, 'i') } : {}),
    ...(out !== undefined ? { out } : {}),
    ...(values.data !== undefined ? { dataDir: values.data } : {}),
    keepData: values['keep-data'],
    ...(peer ? { peer } : {}),
  };
}

function peerOptions(values: ReturnType<typeof parse>, loopbackUrl: (option: string, value: string) => URL): PeerOptions | undefined {
  const given = (['peer-endpoint', 'peer-access-key', 'peer-secret-key', 'peer-name', 'peer-pid', 'peer-kms-key-id', 'peer-region'] as const).filter((k) => values[k] !== undefined);
  if (values.peer === undefined && values['peer-endpoint'] === undefined) {
    if (given.length > 0) throw new UsageError(`--${given[0]} goes with --peer-endpoint (or --peer radosgw)`);
    return undefined;
  }
  if (values.peer !== undefined && values.peer !== 'radosgw') throw new UsageError(`--peer: only 'radosgw' can be started by the benchmark; for any other server give --peer-endpoint`);
  if (values.peer !== undefined && values['peer-endpoint'] !== undefined) throw new UsageError('--peer radosgw starts its own peer: it excludes --peer-endpoint');
  const pid = values['peer-pid'] !== undefined ? Number(values['peer-pid']) : undefined;
  if (pid !== undefined && (!Number.isInteger(pid) || pid <= 0)) throw new UsageError('--peer-pid must be a process id');
  const region = values['peer-region'] ?? values.region;
  if (values.peer === 'radosgw') {
    for (const k of ['peer-access-key', 'peer-secret-key', 'peer-pid'] as const) {
      if (values[k] !== undefined) throw new UsageError(`--${k}: --peer radosgw makes its own user and knows its processes`);
    }
    return { region, name: values['peer-name'] ?? 'radosgw', start: 'radosgw', ...(values['peer-kms-key-id'] !== undefined ? { kmsKeyId: values['peer-kms-key-id'] } : {}) };
  }
  const endpoint = loopbackUrl('--peer-endpoint', values['peer-endpoint']!);
  if (values['peer-access-key'] === undefined || values['peer-secret-key'] === undefined) throw new UsageError('--peer-endpoint needs --peer-access-key and --peer-secret-key');
  return {
    endpoint,
    accessKeyId: values['peer-access-key'],
    secretAccessKey: values['peer-secret-key'],
    region,
    name: values['peer-name'] ?? endpoint.host,
    ...(pid !== undefined ? { pid } : {}),
    ...(values['peer-kms-key-id'] !== undefined ? { kmsKeyId: values['peer-kms-key-id'] } : {}),
  };
}
