/**
 * `npm run faults`: kill -9 at random moments under concurrent PutObject,
 * multipart uploads (CreateMultipartUpload → UploadPart → Complete),
 * CopyObject and DeleteObject, in every encryption mode, against a real
 * Coffer (`--workers 2`) on loopback; then restart on the same data directory
 * and check every key. Repeated for `--cycles` cycles on one data directory.
 *
 * The promise checked: a write that was acknowledged (2xx received) is there,
 * byte for byte, after the crash, unless a later write to the key was in
 * flight, in which case the key holds exactly the old or the new object; an
 * unacknowledged write leaves the old object or the new one, never a mix, a
 * truncation or an error. Each key has at most one operation in flight (a
 * copy locks its source too), so the allowed outcomes are known exactly.
 *
 *   npm run faults -- [--cycles N] [--seed N] [--keys K] [--concurrency C] [--out FILE]
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Signer, UNSIGNED_PAYLOAD, canonicalQuery, uriEncode } from '../bench/lib/sigv4.js';
import { startCoffer, type CofferProcess } from '../bench/lib/servers.js';
import { Rng } from './lib/rng.js';

const { values } = parseArgs({
  options: {
    cycles: { type: 'string', default: '100' },
    seed: { type: 'string' },
    keys: { type: 'string', default: '40' },
    concurrency: { type: 'string', default: '8' },
    out: { type: 'string' },
  },
  strict: true,
});
const cycles = Number(values.cycles);
const seed = Number(values.seed ?? Math.floor(Math.random() * 2 ** 31));
const keyCount = Number(values.keys);
const concurrency = Number(values.concurrency);

const credentials = { accessKeyId: 'FAULTROOTKEY00000001', secretAccessKey: 'fault-secret-0123456789abcdefghijklmn' };
const region = 'us-east-1';
const BUCKET = 'faults';
const PART = 64 * 1024;
const SSEC_KEY = Buffer.alloc(32, 9);
const SSE_C: Record<string, string> = {
  'x-amz-server-side-encryption-customer-algorithm': 'AES256',
  'x-amz-server-side-encryption-customer-key': SSEC_KEY.toString('base64'),
  'x-amz-server-side-encryption-customer-key-md5': createHash('md5').update(SSEC_KEY).digest('base64'),
};
type Mode = 'sse-s3' | 'sse-kms-bucket-key' | 'sse-kms' | 'sse-c';
const MODES: Mode[] = ['sse-s3', 'sse-kms-bucket-key', 'sse-kms', 'sse-c'];
function modeHeaders(mode: Mode): Record<string, string> {
  if (mode === 'sse-kms-bucket-key') return { 'x-amz-server-side-encryption': 'aws:kms', 'x-amz-server-side-encryption-bucket-key-enabled': 'true' };
  if (mode === 'sse-kms') return { 'x-amz-server-side-encryption': 'aws:kms', 'x-amz-server-side-encryption-bucket-key-enabled': 'false' };
  if (mode === 'sse-c') return { ...SSE_C };
  return { 'x-amz-server-side-encryption': 'AES256' };
}

/** What a key holds: its content's SHA-256 (and whether it needs the customer key), or nothing. */
type State = { sha256: string; size: number; ssec: boolean } | null;
const sameState = (a: State, b: State) => (a === null || b === null ? a === b : a.sha256 === b.sha256 && a.size === b.size);

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'coffer-faults-'));
  const signer = new Signer(credentials, region);
  const rng = new Rng(seed);
  let coffer: CofferProcess | undefined;
  let agent = new http.Agent({ keepAlive: true, maxSockets: concurrency + 2 });
  const start = () => startCoffer({ ...credentials, region, dataDir, workers: 2, serveArgs: ['--min-part-size', String(PART)] });

  const request = (method: string, key: string, query: Record<string, string>, headers: Record<string, string>, body: Buffer = Buffer.alloc(0)): Promise<Reply> => {
    const host = coffer!.url.host;
    const path = `/${BUCKET}${key === '' ? '' : `/${uriEncode(key, { keepSlash: true })}`}`;
    const q = canonicalQuery(query);
    const signed = signer.sign({ method, host, path, query: q, headers, payloadHash: UNSIGNED_PAYLOAD, service: 's3' });
    return new Promise((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: Number(coffer!.url.port), method, path: q ? `${path}?${q}` : path, headers: { ...signed, 'content-length': String(body.length) }, agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => (res.complete ? resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }) : reject(new Error('response cut off'))));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
      req.end(body);
    });
  };

  // The model: what each key is known to hold, and what an operation in flight may leave.
  const keys = Array.from({ length: keyCount }, (_, i) => `k/${i}`);
  const known = new Map<string, State>(keys.map((k) => [k, null]));
  const inFlight = new Map<string, State>();
  const busy = new Set<string>();
  const violations: string[] = [];
  let acknowledged = 0;
  let unacknowledged = 0;
  let checked = 0;
  let killed = false;
  const byOp = new Map<string, number>();

  const content = (size: number): Buffer => rng.bytes(size);
  const pickSize = () => rng.pick([0, 1, 100, 4096, 65_536, 200_000, 700_000]);

  /** One operation on a free key; updates the model on acknowledgement. */
  const operate = async (): Promise<void> => {
    const free = keys.filter((k) => !busy.has(k));
    if (free.length === 0) return sleep(5).then(() => undefined);
    const key = rng.pick(free);
    const op = rng.pick(['put', 'put', 'multipart', 'copy', 'delete'] as const);
    const mode = rng.pick(MODES);
    byOp.set(op, (byOp.get(op) ?? 0) + 1);
    let source: string | undefined;
    let next: State;
    let run: () => Promise<boolean>;
    if (op === 'put') {
      const body = content(pickSize());
      next = { sha256: sha256(body), size: body.length, ssec: mode === 'sse-c' };
      run = async () => (await request('PUT', key, {}, modeHeaders(mode), body)).status === 200;
    } else if (op === 'multipart') {
      const parts = [content(PART), content(PART), content(rng.int(PART))].slice(0, 2 + rng.int(2));
      const whole = Buffer.concat(parts);
      next = { sha256: sha256(whole), size: whole.length, ssec: mode === 'sse-c' };
      run = async () => {
        const created = await request('POST', key, { uploads: '' }, modeHeaders(mode));
        if (created.status !== 200) throw new Error(`CreateMultipartUpload ${created.status}: ${created.body.toString()}`);
        const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(created.body.toString())![1]!;
        const etags: string[] = [];
        for (const [i, part] of parts.entries()) {
          const r = await request('PUT', key, { partNumber: String(i + 1), uploadId }, mode === 'sse-c' ? { ...SSE_C } : {}, part);
          if (r.status !== 200) throw new Error(`UploadPart ${r.status}: ${r.body.toString()}`);
          // Not the part's MD5 under SSE-KMS and SSE-C (as in S3): the ETag UploadPart answered.
          etags.push(String(r.headers.etag));
        }
        const xml = `<CompleteMultipartUpload>${etags.map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${e}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
        const done = await request('POST', key, { uploadId }, { 'content-type': 'application/xml' }, Buffer.from(xml));
        return done.status === 200 && !done.body.includes('<Error>');
      };
    } else if (op === 'copy') {
      const sources = keys.filter((k) => !busy.has(k) && k !== key && known.get(k) !== null);
      if (sources.length === 0) return;
      source = rng.pick(sources);
      const from = known.get(source)!;
      next = from === null ? null : { ...from, ssec: mode === 'sse-c' };
      const copySsec = from?.ssec ? Object.fromEntries(Object.entries(SSE_C).map(([k, v]) => [k.replace('x-amz-server-side-', 'x-amz-copy-source-server-side-'), v])) : {};
      run = async () => {
        const r = await request('PUT', key, {}, { 'x-amz-copy-source': `/${BUCKET}/${uriEncode(source!, { keepSlash: true })}`, ...copySsec, ...modeHeaders(mode) });
        return r.status === 200 && !r.body.includes('<Error>');
      };
    } else {
      next = null;
      run = async () => (await request('DELETE', key, {}, {})).status === 204;
    }
    busy.add(key);
    if (source) busy.add(source);
    inFlight.set(key, next);
    try {
      const ok = await run();
      if (!ok && !killed) violations.push(`${op} ${key} (${mode}) refused while the server was up`);
      if (ok) {
        acknowledged++;
        known.set(key, next);
        inFlight.delete(key);
      }
    } catch (err) {
      if (!killed) violations.push(`${op} ${key} (${mode}) failed while the server was up: ${(err as Error).message}`);
      unacknowledged++;
      return; // stays in flight: the crash decides
    } finally {
      if (!inFlight.has(key)) busy.delete(key);
      if (source) busy.delete(source);
    }
  };

  /** GET every key and compare with what the model allows. */
  const verify = async (cycle: number): Promise<void> => {
    for (const key of keys) {
      const allowed: State[] = [known.get(key) ?? null];
      if (inFlight.has(key)) allowed.push(inFlight.get(key)!);
      let r = await request('GET', key, {}, {});
      if (r.status === 400 && r.body.includes('Server Side Encryption')) r = await request('GET', key, {}, { ...SSE_C });
      let observed: State;
      if (r.status === 404) observed = null;
      else if (r.status === 200) observed = { sha256: sha256(r.body), size: r.body.length, ssec: false };
      else {
        violations.push(`cycle ${cycle}: GET ${key} answered ${r.status}: ${r.body.toString().slice(0, 200)}`);
        continue;
      }
      checked++;
      const match = allowed.find((a) => sameState(a, observed));
      if (match === undefined) {
        violations.push(`cycle ${cycle}: ${key} holds ${observed ? `${observed.size} bytes ${observed.sha256.slice(0, 12)}` : 'nothing'}; allowed: ${allowed.map((a) => (a ? `${a.size} bytes ${a.sha256.slice(0, 12)}` : 'nothing')).join(' or ')}`);
        continue;
      }
      known.set(key, match);
      inFlight.delete(key);
    }
    busy.clear();
  };

  const started = Date.now();
  coffer = await start();
  const created = await request('PUT', '', {}, {});
  if (created.status !== 200) throw new Error(`CreateBucket: ${created.status} ${created.body.toString()}`);
  for (let cycle = 1; cycle <= cycles; cycle++) {
    killed = false;
    const loadFor = 200 + rng.int(1500);
    const until = Date.now() + loadFor;
    const loops = Array.from({ length: concurrency }, async () => {
      while (!killed && Date.now() < until + 5000) await operate();
    });
    await sleep(loadFor);
    // kill -9 every process of the server at once: no drain, no shutdown hook.
    const pids = coffer.probe.pids();
    for (const pid of pids.reverse()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    killed = true;
    await Promise.all(loops);
    await coffer.stop();
    agent.destroy();
    agent = new http.Agent({ keepAlive: true, maxSockets: concurrency + 2 });
    coffer = await start();
    await verify(cycle);
    if (cycle % 10 === 0 || violations.length > 0) process.stdout.write(`cycle ${cycle}/${cycles}: ${acknowledged} acknowledged, ${unacknowledged} cut by the kill, ${checked} keys checked, ${violations.length} violations\n`);
    if (violations.length > 0) break;
  }
  await coffer.stop();
  agent.destroy();
  rmSync(dataDir, { recursive: true, force: true });
  const summary = {
    seed,
    cycles,
    acknowledgedWrites: acknowledged,
    writesCutByKill: unacknowledged,
    keysChecked: checked,
    operations: Object.fromEntries(byOp),
    violations: violations.length,
    wallSeconds: Math.round((Date.now() - started) / 1000),
  };
  process.stdout.write(`faults summary: ${JSON.stringify(summary)}\n`);
  for (const v of violations.slice(0, 20)) process.stderr.write(`VIOLATION ${v}\n`);
  if (values.out) writeFileSync(values.out, `${JSON.stringify({ ...summary, violationList: violations.slice(0, 200) }, null, 2)}\n`);
  process.stdout.write(`${checked - violations.length} passed, ${violations.length} failed\n`);
  process.exit(violations.length === 0 ? 0 : 1);
}

main().catch((err: unknown) => {
  process.stderr.write(`faults: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(2);
});
