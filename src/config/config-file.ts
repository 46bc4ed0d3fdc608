/**
 * `coffer serve --config FILE`: settings from a YAML or JSON file (JSON is
 * YAML too), keyed by the configuration's own names (`dataDir`, `port`,
 * `tlsCert`, `metricsToken`, … as in config.ts). They sit between the
 * environment and the defaults: flags > environment > file > defaults. The
 * values are validated by the same schema as flags and environment variables
 * (loadConfig); this module only reads the file.
 *
 * Kept apart from config.ts (and zod): the cluster primary reads `workers`
 * from the file with this alone.
 */
import { readFileSync, statSync } from 'node:fs';
import { parse } from 'yaml';

/** Reads and parses a configuration file; a clear Error (never the file's contents) when it cannot. */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the configuration file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let parsed: unknown;
  try {
    parsed = parse(text, { uniqueKeys: true });
  } catch (err) {
    // Only the first line: the parser quotes the offending line after it, which may hold a secret.
    const first = String((err as Error).message ?? err).split('\n')[0];
    throw new Error(`the configuration file ${path} is not valid YAML or JSON: ${first}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error(`the configuration file ${path} must hold a mapping of settings (key: value)`);
  return parsed as Record<string, unknown>;
}

/** Settings that are secrets: a file holding one should be readable by its owner alone. */
const SECRET_SETTINGS = ['secretAccessKey', 'rootKey', 'metricsToken', 'kmsSecretAccessKey', 'blobSecretAccessKey'];

/** A warning when the file holds a secret and others may read it; undefined otherwise. */
export function exposedSecretsWarning(path: string, values: Record<string, unknown>): string | undefined {
  const secrets = SECRET_SETTINGS.filter((k) => values[k] !== undefined && values[k] !== null);
  if (secrets.length === 0) return undefined;
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch {
    return undefined;
  }
  if ((mode & 0o077) === 0) return undefined;
  return `the configuration file ${path} holds ${secrets.join(', ')} and is readable by other users (mode ${(mode & 0o777).toString(8).padStart(4, '0')}): chmod 600 it, or pass secrets by environment variable`;
}
