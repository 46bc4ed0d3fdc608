/**
 * What a durable 1 MiB write costs in CPU on this machine, kept or not:
 *
 *   node dist/bench/page-cache-probe.js [--dir DIR] [--files N]
 *
 * Writes N files of 1 MiB (writev of 16 × 64 KiB, fdatasync, close) twice:
 * deleting each file right after it is durable ("delete", what a sink that
 * stores nothing pays), then keeping them all ("keep", what a store pays, its
 * page cache growing). Prints the process's CPU per MiB (user + system, thread
 * pool included) for each. On a VM whose host backs guest memory lazily, pages
 * the kernel takes fresh for the page cache cost far more than reused ones
 * (bench/RESULTS.md, "Where the targets stand").
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { dir: { type: 'string' }, files: { type: 'string', default: '500' } }, strict: true });
const files = Number(values.files);
if (!Number.isInteger(files) || files < 1) throw new Error('--files must be a positive integer');
const root = mkdtempSync(join(values.dir ?? tmpdir(), 'coffer-page-cache-probe-'));
const chunks = Array.from({ length: 16 }, () => randomBytes(64 * 1024));

async function run(keep: boolean): Promise<{ cpuMs: number; sysMs: number; wallMs: number }> {
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  for (let i = 0; i < files; i++) {
    const path = join(root, `${keep ? 'keep' : 'delete'}-${i}`);
    const fh = await open(path, 'wx', 0o600);
    await fh.writev(chunks);
    await fh.datasync();
    await fh.close();
    if (!keep) await unlink(path);
  }
  const cpu = process.cpuUsage(cpu0);
  return { cpuMs: (cpu.user + cpu.system) / 1000 / files, sysMs: cpu.system / 1000 / files, wallMs: (performance.now() - wall0) / files };
}

try {
  for (const keep of [false, true]) {
    const r = await run(keep);
    console.log(`${keep ? 'keep  ' : 'delete'}  CPU ${r.cpuMs.toFixed(2)} ms/MiB (system ${r.sysMs.toFixed(2)}), wall ${r.wallMs.toFixed(2)} ms/MiB`);
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
