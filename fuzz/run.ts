/**
 * `npm run fuzz`: a hostile-client campaign against a real Coffer started on
 * loopback with a temporary data directory. Correctly signed requests for
 * every routed operation (S3, KMS, IAM/STS) are mutated at the byte, header,
 * query, path and document level (lib/mutate.ts), and raw malformed HTTP is
 * mixed in (lib/raw.ts). Bounded in count and in time; loopback only.
 *
 * It fails (exit 1) on any 5xx other than 501 NotImplemented, any error
 * response whose body is not the service's error document, any request left
 * unanswered past the timeout, any server or worker crash, and memory growth
 * beyond a bound; each failure is printed with the seed and the mutation that
 * made it.
 *
 *   npm run fuzz -- [--requests N] [--seconds S] [--concurrency C] [--seed N]
 *                   [--workers W] [--max-rss-growth-mb M] [--out FILE] [--smoke]
 */
import http from 'node:http';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Signer } from '../bench/lib/sigv4.js';
import { startCoffer } from '../bench/lib/servers.js';
import { corpus, setupRequests, type RequestSpec } from './lib/corpus.js';
import { mutate, signed, type WireRequest } from './lib/mutate.js';
import { malformed, sendRaw, wireBytes } from './lib/raw.js';
import { Rng } from './lib/rng.js';

const { values } = parseArgs({
  options: {
    requests: { type: 'string' },
    seconds: { type: 'string' },
    concurrency: { type: 'string', default: '16' },
    seed: { type: 'string' },
    workers: { type: 'string', default: '2' },
    'max-rss-growth-mb': { type: 'string', default: '256' },
    'timeout-ms': { type: 'string', default: '15000' },
    out: { type: 'string' },
    smoke: { type: 'boolean', default: false },
  },
  strict: true,
});

const requestLimit = Number(values.requests ?? (values.smoke ? 1500 : 100_000));
const secondLimit = Number(values.seconds ?? (values.smoke ? 60 : 1800));
const concurrency = Number(values.concurrency);
const seed = Number(values.seed ?? Math.floor(Math.random() * 2 ** 31));
const timeoutMs = Number(values['timeout-ms']);
const maxGrowth = Number(values['max-rss-growth-mb']) * 1024 * 1024;

interface Failure {
  kind: '5xx' | 'error-body' | 'hang' | 'crash' | 'memory' | 'setup';
  description: string;
  status?: number;
  body?: string;
}

const credentials = { accessKeyId: 'FUZZROOTKEY000000001', secretAccessKey: 'fuzz-secret-0123456789abcdefghijklmnop' };
const region = 'us-east-1';

/** Resident memory of the server's processes, summed. */
function rssOf(pids: number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) total += Number(m[1]) * 1024;
    } catch {
      /* exited */
    }
  }
  return total;
}

async function main(): Promise<void> {
  const coffer = await startCoffer({ ...credentials, region, workers: Number(values.workers) });
  const host = coffer.url.host;
  const port = Number(coffer.url.port);
  const signer = new Signer(credentials, region);
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const failures: Failure[] = [];
  const statusCounts = new Map<string, number>();
  /** Time spent per operation and mutation mode: where a run's wall time goes. */
  const timings = new Map<string, { count: number; totalMs: number; maxMs: number }>();
  let sent = 0;
  let answered = 0;
  let closedWithoutAnswer = 0;
  const started = Date.now();

  const send = (wire: WireRequest): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer } | 'timeout' | 'closed'> =>
    new Promise((resolve) => {
      const headers: Record<string, string | string[]> = {};
      for (const [n, v] of wire.headers) {
        const prev = headers[n];
        headers[n] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
      }
      if (!('content-length' in headers) && !('transfer-encoding' in headers)) headers['content-length'] = String(wire.body.length);
      let req: http.ClientRequest;
      try {
        req = http.request({ host: '127.0.0.1', port, method: wire.method, path: wire.target, headers: { host, ...headers }, agent, setHost: false });
      } catch {
        resolve('closed'); // a request node's client itself refuses to send never reached the server
        return;
      }
      const timer = setTimeout(() => {
        req.destroy();
        resolve('timeout');
      }, timeoutMs);
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) });
        });
        res.on('error', () => {
          clearTimeout(timer);
          resolve('closed');
        });
      });
      req.on('error', () => {
        clearTimeout(timer);
        resolve('closed');
      });
      req.end(wire.body);
    });

  const fail = (f: Failure) => {
    failures.push(f);
    if (failures.length <= 20) process.stderr.write(`FAIL ${f.kind} ${f.status ?? ''} ${f.description}${f.body ? `\n  ${f.body.slice(0, 300)}` : ''}\n`);
  };

  /** Whether an error response carries its service's error document. */
  const errorBodyOk = (method: string, status: number, contentType: string | undefined, body: Buffer): boolean => {
    if (method === 'HEAD' || status < 300 || status === 304) return true;
    const text = body.toString('utf8');
    if (contentType?.startsWith('application/x-amz-json')) {
      try {
        return typeof (JSON.parse(text) as { __type?: unknown }).__type === 'string';
      } catch {
        return false;
      }
    }
    if (contentType?.includes('xml')) return /<Error>[\s\S]*<Code>[^<]+<\/Code>/.test(text);
    // Coffer's own paths (/_coffer/: metrics, readiness, the console's API) answer errors as {"error": "...", "message": "..."}.
    if (contentType?.startsWith('application/json')) {
      try {
        return typeof (JSON.parse(text) as { error?: unknown }).error === 'string';
      } catch {
        return false;
      }
    }
    // A 3xx redirect without a body is fine; anything else must be a document.
    return status < 400 && body.length === 0;
  };

  const judge = (description: string, method: string, reply: Awaited<ReturnType<typeof send>>) => {
    if (reply === 'timeout') return fail({ kind: 'hang', description });
    if (reply === 'closed') {
      closedWithoutAnswer++;
      return;
    }
    answered++;
    const cls = `${Math.floor(reply.status / 100)}xx`;
    statusCounts.set(cls, (statusCounts.get(cls) ?? 0) + 1);
    if (reply.status >= 500 && reply.status !== 501) return fail({ kind: '5xx', status: reply.status, description, body: reply.body.toString('utf8') });
    if (!errorBodyOk(method, reply.status, reply.headers['content-type'], reply.body)) fail({ kind: 'error-body', status: reply.status, description, body: reply.body.toString('utf8') });
  };

  // The state the corpus refers to: a KMS key, an open multipart upload, the base bucket and objects.
  const setup = async (specs: RequestSpec[]): Promise<void> => {
    for (const spec of specs) {
      const reply = await send(signed(spec, signer, host));
      if (typeof reply !== 'object' || reply.status >= 500) fail({ kind: 'setup', description: `setup ${spec.operation}`, ...(typeof reply === 'object' ? { status: reply.status, body: reply.body.toString() } : {}) });
    }
  };
  await setup(setupRequests());
  const createKey = corpus({ uploadId: 'x', keyId: 'x', spareKeyId: 'x' }).find((s) => s.operation === 'kms:CreateKey')!;
  const newKey = async () => {
    const reply = await send(signed(createKey, signer, host));
    return typeof reply === 'object' ? ((JSON.parse(reply.body.toString()) as { KeyMetadata?: { KeyId?: string } }).KeyMetadata?.KeyId ?? 'missing') : 'missing';
  };
  const keyId = await newKey();
  const spareKeyId = await newKey();
  const uploadReply = await send(signed({ operation: 'CreateMultipartUpload', service: 's3', method: 'POST', path: '/fz/mp-open', query: [['uploads', '']], headers: {}, body: Buffer.alloc(0) }, signer, host));
  const uploadId = typeof uploadReply === 'object' ? (/<UploadId>([^<]+)<\/UploadId>/.exec(uploadReply.body.toString())?.[1] ?? 'missing') : 'missing';
  const bases = corpus({ uploadId, keyId, spareKeyId });
  const rssStart = rssOf(coffer.probe.pids());
  let rssPeak = rssStart;

  let stop = false;
  const deadline = started + secondLimit * 1000;
  /** [seconds, requests sent, MiB resident] every 30 s: growth that levels off is caches, growth that does not is a leak. */
  const rssTimeline: [number, number, number][] = [];
  let lastTimeline = Date.now();
  const sampler = setInterval(() => {
    const rss = rssOf(coffer.probe.pids());
    rssPeak = Math.max(rssPeak, rss);
    if (Date.now() - lastTimeline >= 30_000) {
      lastTimeline = Date.now();
      rssTimeline.push([Math.round((Date.now() - started) / 1000), sent, Math.round(rss / 2 ** 20)]);
    }
  }, 1000);
  const resetter = setInterval(() => {
    void setup(setupRequests());
  }, 5000);

  const worker = async (index: number) => {
    const rng = new Rng(seed + index * 7919);
    while (!stop) {
      if (sent >= requestLimit || Date.now() > deadline) break;
      sent++;
      const n = sent;
      if (rng.chance(0.03)) {
        const { bytes, description } = malformed(rng, host);
        const reply = await sendRaw(port, bytes, timeoutMs);
        const label = `#${n} raw: ${description}`;
        if (reply.timedOut) fail({ kind: 'hang', description: label });
        else if (reply.status === undefined) closedWithoutAnswer++;
        else judge(label, 'GET', { status: reply.status, headers: { 'content-type': reply.headers['content-type'] }, body: reply.body });
        continue;
      }
      const base = rng.pick(bases);
      const wire = mutate(base, rng, signer, host);
      const t0 = performance.now();
      const label = `#${n} seed=${seed} worker=${index} ${wire.method} ${wire.target.slice(0, 200)} [${wire.description.join(' ')}]`;
      if (wire.raw) {
        const reply = await sendRaw(port, wireBytes(wire, host), timeoutMs);
        if (reply.timedOut) fail({ kind: 'hang', description: label });
        else if (reply.status === undefined) closedWithoutAnswer++;
        else judge(label, wire.method, { status: reply.status, headers: { 'content-type': reply.headers['content-type'] }, body: reply.body });
      } else {
        judge(label, wire.method, await send(wire));
      }
      const ms = performance.now() - t0;
      const kind = `${base.operation} ${wire.description[1] ?? ''}`;
      const t = timings.get(kind) ?? { count: 0, totalMs: 0, maxMs: 0 };
      t.count++;
      t.totalMs += ms;
      t.maxMs = Math.max(t.maxMs, ms);
      timings.set(kind, t);
      if (coffer.output().includes('a worker died')) {
        fail({ kind: 'crash', description: `a worker died (after request #${n})` });
        stop = true;
      }
    }
  };
  const exited = new Promise<void>((resolve) => {
    const check = setInterval(() => {
      if (coffer.probe.pids().length === 0 || !existsSync(`/proc/${coffer.probe.pid}`)) {
        clearInterval(check);
        fail({ kind: 'crash', description: 'the server exited' });
        stop = true;
        resolve();
      }
      if (stop) {
        clearInterval(check);
        resolve();
      }
    }, 500);
  });
  await Promise.all(Array.from({ length: concurrency }, (_, i) => worker(i)));
  stop = true;
  await exited;
  clearInterval(sampler);
  clearInterval(resetter);
  // A last look: every request answered and the server still healthy.
  const health = await send({ method: 'GET', target: '/_coffer/health', headers: [], body: Buffer.alloc(0), raw: false, description: [] });
  if (typeof health !== 'object' || health.status !== 200) fail({ kind: 'crash', description: 'health check failed after the run' });
  const rssEnd = rssOf(coffer.probe.pids());
  if (rssEnd - rssStart > maxGrowth) fail({ kind: 'memory', description: `resident memory grew ${((rssEnd - rssStart) / 2 ** 20).toFixed(0)} MiB (start ${(rssStart / 2 ** 20).toFixed(0)} MiB, end ${(rssEnd / 2 ** 20).toFixed(0)} MiB)` });
  const internalErrors = (coffer.output().match(/"request failed"/g) ?? []).length;
  agent.destroy();
  await coffer.stop();
  rmSync(coffer.dataDir, { recursive: true, force: true });

  const seconds = (Date.now() - started) / 1000;
  const count = (kind: Failure['kind']) => failures.filter((f) => f.kind === kind).length;
  const summary = {
    seed,
    requests: sent,
    answered,
    closedWithoutAnswer,
    statusClasses: Object.fromEntries([...statusCounts.entries()].sort()),
    fiveXx: count('5xx'),
    errorBodies: count('error-body'),
    hangs: count('hang'),
    crashes: count('crash'),
    memory: count('memory'),
    setupFailures: count('setup'),
    internalErrorsLogged: internalErrors,
    wallSeconds: Number(seconds.toFixed(1)),
    requestsPerSecond: Math.round(sent / seconds),
    rssStartMiB: Math.round(rssStart / 2 ** 20),
    rssPeakMiB: Math.round(rssPeak / 2 ** 20),
    rssEndMiB: Math.round(rssEnd / 2 ** 20),
    workers: Number(values.workers),
    concurrency,
    rssTimeline,
  };
  const text = JSON.stringify(summary);
  const costly = [...timings.entries()].sort((a, b) => b[1].totalMs - a[1].totalMs).slice(0, 8);
  process.stdout.write(`most time: ${costly.map(([k, t]) => `${k} ${t.count}x mean ${(t.totalMs / t.count).toFixed(0)} ms max ${t.maxMs.toFixed(0)} ms`).join('; ')}\n`);
  process.stdout.write(`fuzz summary: ${text}\n`);
  if (values.out) writeFileSync(values.out, `${JSON.stringify({ ...summary, failures: failures.slice(0, 200) }, null, 2)}\n`);
  process.stdout.write(`${sent - failures.length} passed, ${failures.length} failed\n`);
  process.exit(failures.length === 0 ? 0 : 1);
}

main().catch((err: unknown) => {
  process.stderr.write(`fuzz: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(2);
});
