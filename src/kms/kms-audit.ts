/**
 * The KMS audit log: one JSON line per KMS operation — from the JSON API or
 * from Coffer itself (SSE-KMS, automatic rotation, deletion) — in
 * `<data>/kms-audit.log` (mode 0600). Like CloudTrail's KMS events it records
 * who did what to which key (and key version) under which encryption context,
 * and how it ended; it never records plaintext, data keys or key material.
 * `coffer admin kms audit` reads it back.
 */
import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Logger } from 'pino';
import type { EncryptionContext } from './kms.js';

export const AUDIT_LOG_FILE = 'kms-audit.log';

export interface KmsAuditEvent {
  /** ISO 8601. */
  time: string;
  requestId: string;
  /** A principal ARN, or `coffer:<component>` for Coffer's own use. */
  principal: string;
  /** The service that called for the principal (`s3.amazonaws.com` for SSE-KMS), as CloudTrail's `invokedBy`. */
  invokedBy?: string;
  /** The KMS operation (API name), or CloudTrail's name for internal events (RotateKey, DeleteKey). */
  operation: string;
  /** The key's id (UUID), when one is involved. */
  keyId?: string;
  keyVersion?: number;
  /** ReEncrypt: the key the ciphertext came from. */
  sourceKeyId?: string;
  sourceKeyVersion?: number;
  aliasName?: string;
  encryptionContext?: EncryptionContext;
  outcome: 'success' | 'failure';
  /** On failure: the KMS error type. */
  errorType?: string;
}

/** The fields an operation fills in as it learns them. */
export type AuditDetails = Partial<Pick<KmsAuditEvent, 'keyId' | 'keyVersion' | 'sourceKeyId' | 'sourceKeyVersion' | 'aliasName' | 'encryptionContext'>>;

export interface KmsAudit {
  record(event: Omit<KmsAuditEvent, 'time'>): Promise<void>;
}

/** Appends to the audit file; a failed write is logged and never fails the operation it records. */
export class KmsAuditLog implements KmsAudit {
  readonly #file: FileHandle;
  readonly #log: Logger | undefined;

  private constructor(file: FileHandle, log: Logger | undefined) {
    this.#file = file;
    this.#log = log;
  }

  static async open(path: string, log?: Logger): Promise<KmsAuditLog> {
    const file = await open(path, 'a', 0o600);
    await file.chmod(0o600);
    return new KmsAuditLog(file, log);
  }

  async record(event: Omit<KmsAuditEvent, 'time'>): Promise<void> {
    const line = `${JSON.stringify({ time: new Date().toISOString(), ...event })}\n`;
    try {
      // One write(2) per line on an O_APPEND descriptor: lines from concurrent requests never interleave.
      await this.#file.write(line);
    } catch (err) {
      this.#log?.error({ err, operation: event.operation, requestId: event.requestId }, 'could not write the KMS audit log');
    }
  }

  async close(): Promise<void> {
    await this.#file.close();
  }
}

export interface AuditFilter {
  /** A key id or key ARN: events about that key (as the key or ReEncrypt's source). */
  key?: string;
  /** Only events at or after this time (ms epoch). */
  since?: number;
}

const UUID_TAIL = /([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

/** Reads matching events in file order; lines that are not JSON (a torn last line after a crash) are skipped. */
export async function* readAuditLog(path: string, filter: AuditFilter = {}): AsyncGenerator<KmsAuditEvent> {
  const keyId = filter.key === undefined ? undefined : (UUID_TAIL.exec(filter.key)?.[1] ?? filter.key);
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.trim() === '') continue;
    let event: KmsAuditEvent;
    try {
      event = JSON.parse(line) as KmsAuditEvent;
    } catch {
      continue;
    }
    if (keyId !== undefined && event.keyId !== keyId && event.sourceKeyId !== keyId) continue;
    if (filter.since !== undefined && Date.parse(event.time) < filter.since) continue;
    yield event;
  }
}

/** `--since` values: an ISO 8601 time, ms since the epoch, or a duration back from now (`90s`, `15m`, `2h`, `7d`). */
export function parseSince(value: string, now = Date.now()): number {
  const rel = /^(\d+)([smhd])$/.exec(value);
  if (rel) return now - Number(rel[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[rel[2] as 's' | 'm' | 'h' | 'd'];
  if (/^\d+$/.test(value)) return Number(value);
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new Error(`--since: '${value}' is not a time (ISO 8601, epoch ms, or 15m / 2h / 7d)`);
  return t;
}
