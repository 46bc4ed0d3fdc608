/** Finding and running the real S3 command-line clients for compat tests. */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

/** The AWS CLI v2 from Debian (a different v1 `aws` may be first on PATH). */
export const AWS_CLI = '/usr/bin/aws';

export function findTool(name: string): string | undefined {
  if (name === 'aws') return existsSync(AWS_CLI) ? AWS_CLI : undefined;
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = `${dir}/${name}`;
    if (existsSync(p)) return p;
  }
  return undefined;
}

/**
 * Skip reason for a missing tool, or undefined if present. In CI a missing
 * client is a failure, not a skip: `.ci/run` installs them.
 */
export function missingTool(name: string): string | undefined {
  if (findTool(name)) return undefined;
  if (process.env.CI) throw new Error(`${name} is not installed; .ci/run should have installed it via ../shared/clients/install.sh`);
  return `${name} is not installed (run ../shared/clients/install.sh)`;
}

export async function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, options: { cwd?: string } = {}): Promise<{ stdout: string; stderr: string }> {
  try {
    return await execFileP(cmd, args, { env, maxBuffer: 64 * 1024 * 1024, timeout: 300_000, ...options });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.message}\nstdout: ${e.stdout}\nstderr: ${e.stderr}`);
  }
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}
