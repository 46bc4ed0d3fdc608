/**
 * The cluster primary's half of `GET /_coffer/metrics` under `--workers N`: the
 * worker that got the scrape asks the primary, the primary asks every worker
 * for its own metrics (as prom-client JSON) and hands the answers back to the
 * asking worker, which aggregates them (metrics.ts, prom-client's
 * AggregatorRegistry.aggregate). The primary only relays messages: it loads
 * neither prom-client nor the server (issue 7: its memory is counted too).
 *
 * Leaf module: node built-ins only.
 */
import cluster, { type Worker } from 'node:cluster';

/** Messages between workers and the primary; `coffer` names the step. */
export type MetricsMessage =
  /** worker → primary: a scrape arrived; gather every worker's metrics. */
  | { coffer: 'metrics-gather'; id: number }
  /** primary → every worker: report your metrics for gathering `id`. */
  | { coffer: 'metrics-report'; id: string }
  /** worker → primary: this worker's metrics (prom-client's getMetricsAsJSON). */
  | { coffer: 'metrics-reported'; id: string; metrics: unknown }
  /** primary → the asking worker: what came back in time, of how many workers asked. */
  | { coffer: 'metrics-gathered'; id: number; reports: unknown[]; asked: number };

export function isMetricsMessage(m: unknown): m is MetricsMessage {
  return typeof m === 'object' && m !== null && typeof (m as { coffer?: unknown }).coffer === 'string' && (m as { coffer: string }).coffer.startsWith('metrics-');
}

interface Gathering {
  requester: Worker;
  requestId: number;
  waiting: Set<number>;
  reports: unknown[];
  asked: number;
  timer: NodeJS.Timeout;
}

/**
 * Installs the relay in the cluster primary. A worker that does not answer within
 * `timeoutMs` (busy, dying) is left out of that scrape rather than holding it up;
 * the asking worker reports how many answered (coffer_metrics_workers_reporting).
 */
export function relayClusterMetrics(timeoutMs = 2000): void {
  const gatherings = new Map<string, Gathering>();
  let next = 0;
  const finish = (key: string): void => {
    const g = gatherings.get(key);
    if (!g) return;
    gatherings.delete(key);
    clearTimeout(g.timer);
    if (!g.requester.isConnected()) return;
    const reply: MetricsMessage = { coffer: 'metrics-gathered', id: g.requestId, reports: g.reports, asked: g.asked };
    // A requester that died meanwhile: nobody is waiting for the answer.
    g.requester.send(reply, undefined, () => {});
  };
  cluster.on('message', (worker: Worker, message: unknown) => {
    if (!isMetricsMessage(message)) return;
    if (message.coffer === 'metrics-gather') {
      const key = `g${next++}`;
      const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w.isConnected());
      const g: Gathering = {
        requester: worker,
        requestId: message.id,
        waiting: new Set(workers.map((w) => w.id)),
        reports: [],
        asked: workers.length,
        timer: setTimeout(() => finish(key), timeoutMs),
      };
      g.timer.unref();
      gatherings.set(key, g);
      const ask: MetricsMessage = { coffer: 'metrics-report', id: key };
      for (const w of workers) {
        w.send(ask, undefined, (err) => {
          if (err && g.waiting.delete(w.id) && g.waiting.size === 0) finish(key);
        });
      }
      if (workers.length === 0) finish(key);
    } else if (message.coffer === 'metrics-reported') {
      const g = gatherings.get(message.id);
      if (!g || !g.waiting.delete(worker.id)) return;
      g.reports.push(message.metrics);
      if (g.waiting.size === 0) finish(message.id);
    }
  });
}
