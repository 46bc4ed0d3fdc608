/**
 * A streaming multipart/form-data reader (RFC 7578) for POST Object: parts come
 * one at a time, each part's body as a stream, so a file part of any size flows
 * through with backpressure and is never held whole. Only the bytes that could
 * begin a boundary (fewer than its length) are kept back between chunks.
 *
 * Leaf-ish: knows S3's error for a malformed body and nothing else of ours.
 */
import { S3Error } from '../errors/s3-errors.js';

/** One part: its headers and a body to read (or skip) before asking for the next part. */
export interface FormPart {
  /** The Content-Disposition `name`, as sent. */
  name: string;
  /** The Content-Disposition `filename`, when the part is a file. */
  filename?: string;
  /** The part's Content-Type, when sent. */
  contentType?: string;
  body: AsyncIterable<Buffer>;
}

const MAX_PART_HEADERS = 16 * 1024;
const CRLF = Buffer.from('\r\n');
const HEADERS_END = Buffer.from('\r\n\r\n');

function malformed(): S3Error {
  return new S3Error('MalformedPOSTRequest');
}

/** The boundary of a `multipart/form-data` Content-Type, or undefined when the type is another. */
export function formBoundary(contentType: string | undefined): string | undefined {
  if (contentType === undefined) return undefined;
  const [type, ...params] = contentType.split(';');
  if (type!.trim().toLowerCase() !== 'multipart/form-data') return undefined;
  for (const p of params) {
    const m = /^\s*boundary\s*=\s*(?:"([^"]{1,70})"|([^\s;"]{1,70}))\s*$/i.exec(p);
    if (m) return m[1] ?? m[2];
  }
  return undefined;
}

/** A Content-Disposition parameter (`name="…"`, quoted-string with `\"` escapes, or a token). */
function dispositionParam(value: string, param: string): string | undefined {
  const re = new RegExp(`;\\s*${param}\\s*=\\s*(?:"((?:[^"\\\\]|\\\\.)*)"|([^;\\s]+))`, 'i');
  const m = re.exec(value);
  if (!m) return undefined;
  return m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2];
}

/**
 * Reads the parts of a multipart/form-data body. Each part's body must be read
 * to its end (or abandoned with `return()`) before `next()` is called again;
 * abandoning a part skips the rest of it. The epilogue after the closing
 * boundary is left unread in the source.
 */
export class FormDataReader {
  readonly #source: AsyncIterator<Buffer>;
  /** `\r\n--boundary`: every delimiter, the first included (a CRLF is put before the body). */
  readonly #delimiter: Buffer;
  #buf: Buffer = CRLF;
  #sourceDone = false;
  #finished = false;
  #inPart = false;
  #started = false;

  constructor(source: AsyncIterable<Buffer>, boundary: string) {
    this.#source = source[Symbol.asyncIterator]();
    this.#delimiter = Buffer.from(`\r\n--${boundary}`, 'latin1');
  }

  /** Pulls one more chunk into the buffer; false at the end of the source. */
  async #fill(): Promise<boolean> {
    if (this.#sourceDone) return false;
    const r = await this.#source.next();
    if (r.done) {
      this.#sourceDone = true;
      return false;
    }
    this.#buf = this.#buf.length === 0 ? r.value : Buffer.concat([this.#buf, r.value]);
    return true;
  }

  /** Ensures `n` bytes are buffered; false when the source ends first. */
  async #need(n: number): Promise<boolean> {
    while (this.#buf.length < n) if (!(await this.#fill())) return false;
    return true;
  }

  /** Yields a part's bytes up to the next delimiter and consumes that delimiter. */
  async *#partBody(): AsyncGenerator<Buffer> {
    const d = this.#delimiter;
    for (;;) {
      const at = this.#buf.indexOf(d);
      if (at >= 0) {
        const piece = this.#buf.subarray(0, at);
        this.#buf = this.#buf.subarray(at + d.length);
        this.#inPart = false;
        if (piece.length > 0) yield piece;
        return;
      }
      // Everything but a tail that might be the start of a delimiter can go out now.
      const keep = Math.min(this.#buf.length, d.length - 1);
      const piece = this.#buf.subarray(0, this.#buf.length - keep);
      this.#buf = this.#buf.subarray(this.#buf.length - keep);
      if (piece.length > 0) yield piece;
      if (!(await this.#fill())) throw malformed();
    }
  }

  /** Skips the rest of the current part, if its body was not read to its end. */
  async #skipPart(): Promise<void> {
    if (!this.#inPart) return;
    for await (const _ of this.#partBody()) {
      /* discard */
    }
  }

  /** The next part, or undefined after the closing boundary. */
  async next(): Promise<FormPart | undefined> {
    if (this.#finished) return undefined;
    if (!this.#started) {
      this.#started = true;
      // The preamble before the first delimiter is ignored (RFC 2046).
      this.#inPart = true;
      await this.#skipPart();
    } else {
      await this.#skipPart();
    }
    // After a delimiter: `--` closes the body; otherwise optional padding, then CRLF.
    if (!(await this.#need(2))) throw malformed();
    if (this.#buf[0] === 0x2d && this.#buf[1] === 0x2d) {
      this.#finished = true;
      return undefined;
    }
    for (;;) {
      const lineEnd = this.#buf.indexOf(CRLF);
      if (lineEnd >= 0) {
        if (!/^[ \t]*$/.test(this.#buf.subarray(0, lineEnd).toString('latin1'))) throw malformed();
        this.#buf = this.#buf.subarray(lineEnd);
        break;
      }
      if (this.#buf.length > 256 || !(await this.#fill())) throw malformed();
    }
    // The buffer now starts with the CRLF that ends the delimiter line; headers end at CRLF CRLF.
    let headerEnd: number;
    for (;;) {
      headerEnd = this.#buf.indexOf(HEADERS_END);
      if (headerEnd >= 0) break;
      if (this.#buf.length > MAX_PART_HEADERS || !(await this.#fill())) throw malformed();
    }
    const headerText = this.#buf.subarray(2, headerEnd).toString('utf8');
    this.#buf = this.#buf.subarray(headerEnd + 4);
    const headers = new Map<string, string>();
    for (const line of headerText.split('\r\n')) {
      if (line === '') continue;
      const colon = line.indexOf(':');
      if (colon <= 0) throw malformed();
      headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const disposition = headers.get('content-disposition');
    if (disposition === undefined || !/^form-data\s*(;|$)/i.test(disposition)) throw malformed();
    const name = dispositionParam(disposition, 'name');
    if (name === undefined) throw malformed();
    const filename = dispositionParam(disposition, 'filename');
    const contentType = headers.get('content-type');
    this.#inPart = true;
    return {
      name,
      ...(filename !== undefined ? { filename } : {}),
      ...(contentType !== undefined ? { contentType } : {}),
      body: this.#partBody(),
    };
  }

  /** Reads and drops what follows (further parts, the epilogue), up to `limit` bytes; false if more came. */
  async drain(limit: number): Promise<boolean> {
    let seen = this.#buf.length;
    this.#buf = Buffer.alloc(0);
    while (!this.#sourceDone) {
      const r = await this.#source.next();
      if (r.done) break;
      seen += r.value.length;
      if (seen > limit) {
        await this.#source.return?.();
        return false;
      }
    }
    return true;
  }
}

/** A small part's body as text, refusing more than `limit` bytes. */
export async function readPartText(part: FormPart, limit: number, tooLarge: () => Error): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const c of part.body) {
    total += c.length;
    if (total > limit) throw tooLarge();
    chunks.push(c);
  }
  return Buffer.concat(chunks, total).toString('utf8');
}
