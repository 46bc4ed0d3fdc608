/**
 * SQLite's busy handler sleeps in the calling thread — in Node, the event loop:
 * with several worker processes sharing a database, a write that meets another
 * process's write lock would freeze every request of its process for a
 * millisecond or more. Connections here run with busy_timeout = 0 instead, and
 * an operation that fails with SQLITE_BUSY is retried after yielding to the
 * event loop, with growing pauses, for as long as busy_timeout allowed before.
 * Only whole operations are retried: a transaction that failed with SQLITE_BUSY
 * was rolled back and changed nothing.
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** How long an operation keeps retrying before SQLITE_BUSY reaches its caller. */
export const BUSY_LIMIT_MS = 10_000;

export function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_BUSY_SNAPSHOT' || code === 'SQLITE_BUSY_RECOVERY' || code === 'SQLITE_LOCKED';
}

/** Runs `op`; on SQLITE_BUSY, runs it again after a pause (not blocking the event loop). */
export async function retryBusy<T>(op: () => T | Promise<T>): Promise<T> {
  const deadline = Date.now() + BUSY_LIMIT_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      if (!isBusy(err) || Date.now() > deadline) throw err;
    }
    // 0, 0, 1, 2, 4 … 16 ms: the lock is usually held for microseconds.
    const pause = attempt < 2 ? 0 : Math.min(16, 2 ** (attempt - 2));
    if (pause === 0) await new Promise((r) => setImmediate(r));
    else await sleep(pause);
  }
}
