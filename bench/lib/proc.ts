/**
 * What a server costs, read from Linux's /proc for the process it was
 * started as and every descendant (a `coffer serve --workers N` primary and
 * its workers): CPU seconds (utime + stime of every thread, libuv's pool
 * included, plus children already reaped), peak resident set size (VmHWM,
 * reset between scenarios through clear_refs, summed over the processes; and,
 * sampled, the memory they occupy together, shared pages counted once), and
 * bytes read through read(2)-family calls (rchar: page-cache hits count too,
 * so it shows how much of a blob a range GET touched).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

function clockTicks(): number {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
}

const TICKS = clockTicks();

export interface ProcessSample {
  cpuSeconds: number;
  /** The kernel's share of cpuSeconds (stime): syscalls, page-cache copies, fsync, loopback TCP. */
  sysSeconds: number;
  readBytes: number | undefined;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Fields of /proc/<pid>/stat after the command name (which may hold spaces): [0] is field 3 (state). */
function statFields(pid: number): string[] | undefined {
  const stat = read(`/proc/${pid}/stat`);
  return stat === undefined ? undefined : stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

export class ProcessProbe {
  constructor(readonly pid: number) {}

  /** The process and its descendants that are alive now. */
  pids(): number[] {
    const children = new Map<number, number[]>();
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      const ppid = Number(statFields(Number(name))?.[1]);
      if (!Number.isFinite(ppid)) continue;
      const list = children.get(ppid) ?? [];
      list.push(Number(name));
      children.set(ppid, list);
    }
    const out: number[] = [];
    const queue = [this.pid];
    while (queue.length > 0) {
      const pid = queue.shift()!;
      out.push(pid);
      queue.push(...(children.get(pid) ?? []));
    }
    return out;
  }

  /** How many processes serve (the workers, or the one process). */
  processCount(): number {
    return this.pids().length;
  }

  /** CPU seconds, user + system, and system alone. */
  cpu(pids = this.pids()): { total: number; sys: number } {
    let user = 0;
    let sys = 0;
    for (const pid of pids) {
      const f = statFields(pid);
      if (!f) continue;
      // utime (14) and stime (15); for the root also cutime (16) and cstime (17): workers that have exited.
      const root = pid === this.pid;
      user += Number(f[11]) + (root ? Number(f[13]) : 0);
      sys += Number(f[12]) + (root ? Number(f[14]) : 0);
    }
    return { total: (user + sys) / TICKS, sys: sys / TICKS };
  }

  /** rchar summed over the processes, or undefined where /proc/<pid>/io is not readable. */
  readBytes(pids = this.pids()): number | undefined {
    let total = 0;
    for (const pid of pids) {
      const m = /^rchar:\s+(\d+)$/m.exec(read(`/proc/${pid}/io`) ?? '');
      if (!m) return undefined;
      total += Number(m[1]);
    }
    return total;
  }

  sample(): ProcessSample {
    const pids = this.pids();
    const cpu = this.cpu(pids);
    return { cpuSeconds: cpu.total, sysSeconds: cpu.sys, readBytes: this.readBytes(pids) };
  }

  /** Resets VmHWM to the current RSS in every process; false if the kernel refuses (peaks are then since start). */
  resetPeakRss(): boolean {
    let ok = true;
    for (const pid of this.pids()) {
      try {
        writeFileSync(`/proc/${pid}/clear_refs`, '5');
      } catch {
        ok = false;
      }
    }
    return ok;
  }

  /**
   * Memory resident now (/proc/<pid>/smaps_rollup). `rss` sums every process's
   * RSS, so pages the processes share — the node executable and libraries they
   * all map — count once per process. `resident` counts them once: every
   * process's private pages plus the largest shared set (the processes run the
   * same executable, so the others' shared pages are, to a few pages, within it).
   */
  memory(pids = this.pids()): { rss: number; resident: number } | undefined {
    let rss = 0;
    let priv = 0;
    let shared = 0;
    for (const pid of pids) {
      const text = read(`/proc/${pid}/smaps_rollup`);
      if (text === undefined) continue;
      const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(text)?.[1] ?? NaN);
      const [r, pc, pd, sc, sd] = ['Rss', 'Private_Clean', 'Private_Dirty', 'Shared_Clean', 'Shared_Dirty'].map(kb);
      if ([r, pc, pd, sc, sd].some((v) => !Number.isFinite(v))) return undefined;
      rss += r! * 1024;
      priv += (pc! + pd!) * 1024;
      shared = Math.max(shared, (sc! + sd!) * 1024);
    }
    return { rss, resident: priv + shared };
  }

  /** VmHWM summed over the processes (an upper bound of their peak together), and the largest one. */
  peakRss(): { totalBytes: number; largestBytes: number } {
    let totalBytes = 0;
    let largestBytes = 0;
    for (const pid of this.pids()) {
      const m = /^VmHWM:\s+(\d+) kB$/m.exec(read(`/proc/${pid}/status`) ?? '');
      if (!m) continue;
      const bytes = Number(m[1]) * 1024;
      totalBytes += bytes;
      largestBytes = Math.max(largestBytes, bytes);
    }
    return { totalBytes, largestBytes };
  }
}

/** CPU seconds the whole machine has been busy (all cores; /proc/stat, steal included). */
export function machineBusySeconds(): number {
  const line = read('/proc/stat')?.split('\n')[0] ?? '';
  // cpu user nice system idle iowait irq softirq steal …
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / TICKS;
}

/** CPU seconds this (client) process has used. */
export function selfCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}
