/**
 * The KMS audit log: one JSON line per KMS operation — from the JSON API or
 * from Coffer itself (SSE-KMS, automatic rotation, deletion) — in
 * `<data>/kms-audit.log` (mode 0600). Like CloudTrail's KMS events it records
 * who did what to which key (and key version) under which encryption context,
 * and how it ended; it never records plaintext, data keys or key material.
 * `coffer admin kms audit` reads it back. A record is written whole or the
 * operation it records fails: an audited operation never succeeds unrecorded.
 */
import { constants as fsConstants, createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Logger } from 'pino';
import { isOutOfSpace, OutOfSpaceError } from '../errors/out-of-space.js';
import { isBackendUnavailable } from '../errors/backend-unavailable.js';
import { GroupSync } from '../util/group-sync.js';
import { KmsError } from './kms-errors.js';
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
  /** Resolves once the record is written whole (and durable); rejects if it could not be. */
  record(event: Omit<KmsAuditEvent, 'time'>): Promise<void>;
}

/** A record that could not be written whole; the operation it records must then fail. */
export class AuditWriteError extends Error {
  constructor(message: string, options: { cause: unknown }) {
    super(message, options);
    this.name = 'AuditWriteError';
  }
}

/**
 * Records `event`, or fails the KMS operation it records with KMSInternalException
 * (the status AWS KMS gives its own internal failures): an operation whose audit
 * record is lost must not succeed. The cause is kept, so S3 can tell a full disk
 * (503) from other failures.
 */
export async function recordOrFail(audit: KmsAudit | undefined, event: Omit<KmsAuditEvent, 'time'>): Promise<void> {
  try {
    await audit?.record(event);
  } catch (err) {
    throw new KmsError('KMSInternalException', 'An internal error occurred.', { cause: err });
  }
}

export interface KmsAuditLogOptions {
  log?: Logger;
  /**
   * Frees emergency space on the log's filesystem (util/space-reserve.ts); true if
   * it freed some. A record that fails for want of space is tried once more after
   * it: reads of SSE-KMS objects need their Decrypt audited, also on a full disk.
   */
  reclaimSpace?: () => boolean;
}

/**
 * Appends to the audit file (O_APPEND, shared by every worker process). Each
 * record is one line written by one write(2) and checked whole: lines from
 * concurrent writers never interleave, and a short write — what a full disk
 * gives — fails the record (AuditWriteError) instead of passing for success.
 * The fragment a short write leaves is never completed by a second write (it
 * would land after other processes' lines); the next record from this process
 * starts on a new line instead, and readAuditLog recovers a record another
 * process glued onto a fragment. Records are fdatasync'ed (shared by the
 * records in flight) before `record` resolves.
 */
export class KmsAuditLog implements KmsAudit {
  #file: FileHandle;
  readonly #path: string;
  readonly #log: Logger | undefined;
  readonly #reclaimSpace: (() => boolean) | undefined;
  readonly #sync: GroupSync;
  #reopening: Promise<boolean> | undefined;
  /** This process's last write was short: the file may end inside a line. */
  #torn = false;

  private constructor(path: string, file: FileHandle, options: KmsAuditLogOptions) {
    this.#path = path;
    this.#file = file;
    this.#log = options.log;
    this.#reclaimSpace = options.reclaimSpace;
    this.#sync = new GroupSync(() => this.#file.datasync());
  }

  static async open(path: string, options: KmsAuditLogOptions = {}): Promise<KmsAuditLog> {
    const file = await open(path, 'a', 0o600);
    await file.chmod(0o600);
    return new KmsAuditLog(path, file, options);
  }

  /**
   * After a record failed because the filesystem failed (EROFS, EIO): the file is
   * opened again by path, since a volume that failed and was mounted again leaves
   * this descriptor on the dead mount for good. True if a new descriptor replaced it.
   * Never creates the file: an unmounted volume's empty mount point gets no new log.
   */
  async #reopen(failed: FileHandle): Promise<boolean> {
    // Records failing together reopen once: a record whose descriptor was replaced meanwhile
    // just tries the new one.
    if (this.#file !== failed) return true;
    this.#reopening ??= (async () => {
      let file: FileHandle;
      try {
        file = await open(this.#path, fsConstants.O_WRONLY | fsConstants.O_APPEND);
      } catch {
        return false;
      }
      this.#file = file;
      await this.#sync.running();
      // close() waits for the writes still pending on it.
      await failed.close().catch(() => {});
      return true;
    })().finally(() => (this.#reopening = undefined));
    return this.#reopening;
  }

  async record(event: Omit<KmsAuditEvent, 'time'>): Promise<void> {
    const line = `${JSON.stringify({ time: new Date().toISOString(), ...event })}\n`;
    const file = this.#file;
    try {
      await this.#append(line);
      return;
    } catch (err) {
      const retry = isOutOfSpace(err) ? this.#reclaimSpace?.() === true : isBackendUnavailable(err) && (await this.#reopen(file));
      if (!retry) throw this.#failed(err, event);
    }
    try {
      await this.#append(line);
    } catch (err) {
      throw this.#failed(err, event);
    }
  }

  async #append(line: string): Promise<void> {
    const bytes = Buffer.from(this.#torn ? `\n${line}` : line, 'utf8');
    const { bytesWritten } = await this.#file.write(bytes);
    if (bytesWritten !== bytes.length) {
      if (bytesWritten > 0) this.#torn = true;
      throw new OutOfSpaceError(`short write to the KMS audit log (${bytesWritten} of ${bytes.length} bytes)`);
    }
    this.#torn = false;
    await this.#sync.sync();
  }

  #failed(err: unknown, event: Omit<KmsAuditEvent, 'time'>): AuditWriteError {
    this.#log?.error({ err, operation: event.operation, requestId: event.requestId }, 'could not write the KMS audit log: the operation fails');
    return new AuditWriteError('could not write the KMS audit record', { cause: err });
  }

  async close(): Promise<void> {
    await this.#file.close();
  }
}

/**
 * Cuts a torn last line (a record whose write was cut short: it has no newline)
 * off the audit file, so that the next record is not glued onto it. Truncating
 * needs no free space. Only while no process writes the file (at start, before
 * any node serves). Returns the bytes cut.
 */
export async function repairAuditLog(path: string): Promise<number> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r+');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  try {
    const size = (await fh.stat()).size;
    const buf = Buffer.allocUnsafe(64 * 1024);
    let end = size;
    while (end > 0) {
      const start = Math.max(0, end - buf.length);
      const { bytesRead } = await fh.read(buf, 0, end - start, start);
      const nl = buf.subarray(0, bytesRead).lastIndexOf(0x0a);
      if (nl >= 0) {
        end = start + nl + 1;
        break;
      }
      end = start;
    }
    if (end === size) return 0;
    await fh.truncate(end);
    await fh.datasync();
    return size - end;
  } finally {
    await fh.close();
  }
}

export interface AuditFilter {
  /** A key id or key ARN: events about that key (as the key or ReEncrypt's source). */
  key?: string;
  /** Only events at or after this time (ms epoch). */
  since?: number;
}

export interface ReadAuditOptions {
  /** Told of each line (1-based) that holds no whole record, or a torn fragment before one. */
  onUnreadable?: (line: number) => void;
}

const UUID_TAIL = /([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;
/** How every record starts (JSON.stringify puts `time` first; quotes inside strings are escaped). */
const RECORD_START = '{"time":"';

function asEvent(text: string): KmsAuditEvent | undefined {
  try {
    const o = JSON.parse(text) as unknown;
    if (typeof o !== 'object' || o === null) return undefined;
    const e = o as KmsAuditEvent;
    return typeof e.time === 'string' && typeof e.operation === 'string' ? e : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The record of one line, if any. A line that does not parse is a torn fragment,
 * alone (the last line after a crash or a full disk) or with another process's
 * whole record glued after it: that record is the longest tail of the line that
 * starts like a record and parses.
 */
function parseLine(line: string): { event?: KmsAuditEvent; torn: boolean } {
  const whole = asEvent(line);
  if (whole) return { event: whole, torn: false };
  for (let at = line.indexOf(RECORD_START, 1); at > 0; at = line.indexOf(RECORD_START, at + 1)) {
    const event = asEvent(line.slice(at));
    if (event) return { event, torn: true };
  }
  return { torn: true };
}

/** Reads matching events in file order; torn lines are skipped (and reported), records glued onto one kept. */
export async function* readAuditLog(path: string, filter: AuditFilter = {}, options: ReadAuditOptions = {}): AsyncGenerator<KmsAuditEvent> {
  const keyId = filter.key === undefined ? undefined : (UUID_TAIL.exec(filter.key)?.[1] ?? filter.key);
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let n = 0;
  for await (const line of lines) {
    n++;
    if (line.trim() === '') continue;
    const { event, torn } = parseLine(line);
    if (torn) options.onUnreadable?.(n);
    if (!event) continue;
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
