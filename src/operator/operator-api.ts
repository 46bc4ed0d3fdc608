/**
 * Coffer's own paths under `/_coffer/` (besides the liveness check
 * `/_coffer/health`, which the HTTP server answers itself):
 *
 * - `GET /_coffer/metrics`: Prometheus text (metrics/metrics.ts), optionally
 *   behind a bearer token (`--metrics-token`), compared in constant time.
 * - `GET /_coffer/health/ready`: readiness. 200 while the node can serve: it has
 *   started, is not shutting down, and its metadata store and blob backend
 *   answer; 503 otherwise, so a load balancer sends requests elsewhere while the
 *   database or the blob backend is unreachable. Liveness (`/_coffer/health`)
 *   stays 200 then: restarting the process would not bring the database back.
 * - `/_coffer/console/…`: the web console (console/), when enabled.
 *
 * No path here needs a signature; none reveals data, keys or secrets.
 */
import type { Logger } from 'pino';
import { textEqual } from '../crypto/compare.js';
import type { CofferHttpHandler, CofferHttpRequest } from '../http/server.js';
import type { S3Response } from '../http/types.js';
import type { Metrics } from '../metrics/metrics.js';

export const METRICS_PATH = '/_coffer/metrics';
export const READY_PATH = '/_coffer/health/ready';
export const CONSOLE_PREFIX = '/_coffer/console';

/** One dependency readiness waits for: resolves when it answers. */
export interface ReadinessProbe {
  name: string;
  check(): Promise<void>;
}

export interface OperatorApiOptions {
  metrics: Metrics;
  /** When set, scrapes must send `Authorization: Bearer <token>`. */
  metricsToken?: string | undefined;
  /** Started and not shutting down. */
  ready: () => boolean;
  probes: readonly ReadinessProbe[];
  /** How long a probe may take before it counts as unreachable. */
  probeTimeoutMs?: number;
  /** The web console, if this node serves it. */
  console?: CofferHttpHandler;
  log: Logger;
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): S3Response {
  return { status, headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers }, body: JSON.stringify(body) };
}

function notFound(): S3Response {
  return json(404, { error: 'NotFound', message: 'No such Coffer path.' });
}

async function drain(req: CofferHttpRequest): Promise<void> {
  let total = 0;
  for await (const chunk of req.body) {
    total += chunk.length;
    // Nothing here takes a body: a large one is not read to the end (the server then closes the connection).
    if (total > 64 * 1024) return;
  }
}

function withTimeout(p: Promise<void>, ms: number, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** The bearer token of an Authorization header, if it has the `Bearer <token>` form. */
function bearerToken(header: string | string[] | undefined): string | undefined {
  const v = Array.isArray(header) ? header[0] : header;
  const m = v === undefined ? null : /^Bearer +(\S+) *$/i.exec(v);
  return m?.[1];
}

export function createOperatorApi(options: OperatorApiOptions): CofferHttpHandler {
  const { metrics, log } = options;
  const probeTimeoutMs = options.probeTimeoutMs ?? 2000;
  /** Last readiness failure logged per probe: logged when it starts failing and when it recovers, not on every poll. */
  const failing = new Set<string>();

  const ready = async (): Promise<S3Response> => {
    if (!options.ready()) return json(503, { status: 'unavailable', reason: 'starting or shutting down' });
    const checks: Record<string, 'ok' | 'unavailable'> = {};
    await Promise.all(
      options.probes.map(async (probe) => {
        try {
          await withTimeout(probe.check(), probeTimeoutMs, probe.name);
          checks[probe.name] = 'ok';
          if (failing.delete(probe.name)) log.info({ dependency: probe.name }, 'readiness: reachable again');
        } catch (err) {
          checks[probe.name] = 'unavailable';
          if (!failing.has(probe.name)) {
            failing.add(probe.name);
            log.warn({ err, dependency: probe.name }, 'readiness: unreachable; answering 503 on /_coffer/health/ready');
          }
        }
      }),
    );
    const ok = Object.values(checks).every((c) => c === 'ok');
    return json(ok ? 200 : 503, { status: ok ? 'ready' : 'unavailable', checks });
  };

  const scrape = async (req: CofferHttpRequest): Promise<S3Response> => {
    if (options.metricsToken !== undefined) {
      const given = bearerToken(req.headers.authorization);
      if (given === undefined || !textEqual(given, options.metricsToken)) {
        return json(401, { error: 'Unauthorized', message: 'The metrics need Authorization: Bearer <the --metrics-token>.' }, { 'www-authenticate': 'Bearer realm="coffer-metrics"' });
      }
    }
    const { contentType, body } = await metrics.scrape();
    return { status: 200, headers: { 'content-type': contentType, 'cache-control': 'no-store' }, body };
  };

  return async (req) => {
    const path = req.rawPath;
    if (path === CONSOLE_PREFIX || path.startsWith(`${CONSOLE_PREFIX}/`)) {
      if (options.console) return options.console(req);
      await drain(req);
      return notFound();
    }
    await drain(req);
    const get = req.method === 'GET' || req.method === 'HEAD';
    if (path === METRICS_PATH) return get ? scrape(req) : json(405, { error: 'MethodNotAllowed' }, { allow: 'GET, HEAD' });
    if (path === READY_PATH) return get ? ready() : json(405, { error: 'MethodNotAllowed' }, { allow: 'GET, HEAD' });
    return notFound();
  };
}
