/**
 * Reads a V8 CPU profile (`node --cpu-prof`) and says where the main
 * thread's time went: self time per function, self time per area (Coffer
 * module, dependency, node internals, GC, idle), and inclusive time of
 * Coffer's own functions. Work on libuv's thread pool (fsync, file writes)
 * does not appear here; it shows as idle main-thread time.
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface FunctionTime {
  name: string;
  /** `file:line`, shortened. */
  location: string;
  area: string;
  ms: number;
}

export interface ProfileSummary {
  totalMs: number;
  idleMs: number;
  /** Self time, highest first (idle left out). */
  topSelf: FunctionTime[];
  /** Self time summed per area, highest first. */
  areas: { area: string; ms: number }[];
  /** Inclusive time of Coffer's own functions (each sample counted once per function on its stack), highest first. */
  topInclusive: FunctionTime[];
}

const SPECIAL = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

function shortLocation(url: string): string {
  if (url === '') return '';
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return url.slice(dist + '/dist/'.length).replace(/\.js$/, '.ts');
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + '/node_modules/'.length);
  return url.replace(/^file:\/\//, '');
}

export function areaOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (SPECIAL.has(functionName) && url === '') return functionName;
  if (url === '') return 'native (V8 builtins, C++ bindings)';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return `dependency ${rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  const src = url.indexOf('/dist/src/');
  if (src >= 0) return `coffer src/${url.slice(src + '/dist/src/'.length).replace(/\.js$/, '.ts')}`;
  if (url.startsWith('node:')) {
    const path = url.slice('node:'.length).replace(/^internal\//, '');
    return `node ${path.split('/')[0]}`;
  }
  return shortLocation(url);
}

function keyOf(frame: CallFrame): string {
  return `${frame.functionName}\u0000${frame.url}\u0000${frame.lineNumber}`;
}

/**
 * Summarizes the samples of a profile, or only those taken within `window`
 * (µs on the monotonic clock, which V8's profile timestamps and
 * `process.hrtime` share on Linux), to leave out start-up and set-up.
 */
export function summarizeProfile(profile: CpuProfile, options: { top?: number; window?: readonly [number, number] } = {}): ProfileSummary {
  const top = options.top ?? 15;
  const [from, to] = options.window ?? [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY];
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const self = new Map<string, { frame: CallFrame; us: number }>();
  const inclusive = new Map<string, { frame: CallFrame; us: number }>();
  const areas = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const us = profile.timeDeltas[i] ?? 0;
    at += us;
    if (at < from || at > to) continue;
    const node = byId.get(profile.samples[i]!);
    if (!node || us <= 0) continue;
    totalUs += us;
    const frame = node.callFrame;
    if (frame.functionName === '(idle)') idleUs += us;
    const k = keyOf(frame);
    const s = self.get(k) ?? { frame, us: 0 };
    s.us += us;
    self.set(k, s);
    const area = areaOf(frame);
    areas.set(area, (areas.get(area) ?? 0) + us);
    // Inclusive time of Coffer functions: walk the stack, count each function once.
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const f = byId.get(id)!.callFrame;
      if (!f.url.includes('/dist/src/')) continue;
      const fk = keyOf(f);
      if (seen.has(fk)) continue;
      seen.add(fk);
      const e = inclusive.get(fk) ?? { frame: f, us: 0 };
      e.us += us;
      inclusive.set(fk, e);
    }
  }
  const toTime = ({ frame, us }: { frame: CallFrame; us: number }): FunctionTime => ({
    name: frame.functionName || '(anonymous)',
    location: frame.url === '' ? '' : `${shortLocation(frame.url)}:${frame.lineNumber + 1}`,
    area: areaOf(frame),
    ms: us / 1000,
  });
  return {
    totalMs: totalUs / 1000,
    idleMs: idleUs / 1000,
    topSelf: [...self.values()]
      .filter((e) => e.frame.functionName !== '(idle)')
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map(toTime),
    areas: [...areas.entries()].map(([area, us]) => ({ area, ms: us / 1000 })).sort((a, b) => b.ms - a.ms),
    topInclusive: [...inclusive.values()].sort((a, b) => b.us - a.us).slice(0, top).map(toTime),
  };
}
