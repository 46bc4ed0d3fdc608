/**
 * A closed-loop load generator: `concurrency` workers each issue one
 * operation at a time, back to back, until a request count or a time limit
 * is reached — whichever comes first, so every run is bounded.
 */
import { performance } from 'node:perf_hooks';

export interface LoadSpec {
  concurrency: number;
  /** No operation is started once this many have been started. */
  maxOps: number;
  /** No operation is started after this many seconds. */
  maxSeconds: number;
  /** Operations run first and not measured (JIT, connection setup, caches), for at most `warmupSeconds`. */
  warmupOps?: number;
  warmupSeconds?: number;
  /** One operation; resolves with the payload bytes it moved. Throwing stops the run. */
  op: () => Promise<number>;
  /** Called between warm-up and measurement (to take "before" readings). */
  beforeMeasuring?: () => void;
}

export interface LoadResult {
  ops: number;
  bytes: number;
  /** From the first start to the last completion. */
  seconds: number;
  /** Per-operation latency in ms, ascending. */
  latencies: Float64Array;
}

async function drive(concurrency: number, maxOps: number, deadline: number, op: () => Promise<number>, record?: (ms: number, bytes: number) => void): Promise<void> {
  let started = 0;
  let failure: unknown;
  const worker = async (): Promise<void> => {
    while (failure === undefined && started < maxOps && performance.now() < deadline) {
      started++;
      const t0 = performance.now();
      try {
        const bytes = await op();
        record?.(performance.now() - t0, bytes);
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, maxOps) }, worker));
  if (failure !== undefined) throw failure;
}

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  if (spec.warmupOps) await drive(spec.concurrency, spec.warmupOps, performance.now() + (spec.warmupSeconds ?? spec.maxSeconds) * 1000, spec.op);
  spec.beforeMeasuring?.();
  const latencies: number[] = [];
  let bytes = 0;
  const t0 = performance.now();
  await drive(spec.concurrency, spec.maxOps, t0 + spec.maxSeconds * 1000, spec.op, (ms, b) => {
    latencies.push(ms);
    bytes += b;
  });
  const seconds = (performance.now() - t0) / 1000;
  return { ops: latencies.length, bytes, seconds, latencies: Float64Array.from(latencies).sort() };
}
