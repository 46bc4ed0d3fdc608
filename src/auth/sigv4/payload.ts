/**
 * Verifies a request body as it streams, according to how it was signed:
 * a SHA-256 of the whole payload, or the aws-chunked encodings
 * (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]` with a signature per chunk
 * chained from the seed signature, `STREAMING-UNSIGNED-PAYLOAD-TRAILER` with
 * only a checksum trailer). Bytes are yielded as they arrive, without copies;
 * a failed check throws at the end of the chunk (or body) it concerns, before
 * the consumer can commit anything, so an unverified body is never stored.
 *
 * Reference: "Signature Calculations for the Authorization Header:
 * Transferring Payload in Multiple Chunks" and "… Including Trailing Headers"
 * in the Amazon S3 API reference.
 */
import { createHash } from 'node:crypto';
import { S3Error } from '../../errors/s3-errors.js';
import { EMPTY_SHA256, sha256Hex, signatureHex, signaturesEqual } from './canonical.js';
import type { PayloadMode } from './verify.js';

export interface DecodedPayload {
  /** The payload without framing; iterate once. */
  body: AsyncIterable<Buffer>;
  /** Trailing headers (lower-case names, without x-amz-trailer-signature); complete once `body` has ended. */
  trailers(): Record<string, string>;
}

export interface DecodeOptions {
  /** x-amz-decoded-content-length: the payload's size without framing. */
  decodedContentLength?: number;
}

/** Longest chunk header or trailer line accepted (a signed header is ~90 bytes). */
const MAX_LINE = 4096;
const EMPTY = Buffer.alloc(0);

/** A client that vanished mid-body is an incomplete body, not a server fault. */
function asS3Error(err: unknown): unknown {
  return err instanceof S3Error ? err : new S3Error('IncompleteBody');
}

async function* verbatim(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of source) yield chunk;
  } catch (err) {
    throw asS3Error(err);
  }
}

async function* sha256Checked(source: AsyncIterable<Buffer>, expectedHex: string): AsyncGenerator<Buffer> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of source) {
      hash.update(chunk);
      yield chunk;
    }
  } catch (err) {
    throw asS3Error(err);
  }
  const computed = hash.digest('hex');
  if (computed !== expectedHex) {
    throw new S3Error('XAmzContentSHA256Mismatch', undefined, {
      fields: { ClientComputedContentSHA256: expectedHex, S3ComputedContentSHA256: computed },
    });
  }
}

function malformedChunk(detail: string): S3Error {
  return new S3Error('InvalidRequest', `The aws-chunked body is malformed: ${detail}.`);
}

async function* awsChunked(
  source: AsyncIterable<Buffer>,
  mode: Extract<PayloadMode, { kind: 'chunked-signed' | 'chunked-unsigned-trailer' }>,
  options: DecodeOptions,
  trailers: Record<string, string>,
): AsyncGenerator<Buffer> {
  const it = source[Symbol.asyncIterator]();
  const signed = mode.kind === 'chunked-signed' ? mode : undefined;
  let previous = signed?.seedSignature ?? '';
  let buf: Buffer = EMPTY;
  let pos = 0;

  /** Appends the next network chunk to what is left unread; false at end of body. */
  const fill = async (): Promise<boolean> => {
    const r = await it.next();
    if (r.done) return false;
    buf = pos < buf.length ? Buffer.concat([buf.subarray(pos), r.value]) : r.value;
    pos = 0;
    return true;
  };

  /** The next CRLF-terminated line, or undefined at a clean end of body. */
  const readLine = async (): Promise<string | undefined> => {
    for (;;) {
      const crlf = buf.indexOf('\r\n', pos, 'latin1');
      if (crlf >= 0) {
        const line = buf.toString('latin1', pos, crlf);
        pos = crlf + 2;
        return line;
      }
      if (buf.length - pos > MAX_LINE) throw malformedChunk('a chunk header is too long');
      if (!(await fill())) {
        if (pos >= buf.length) return undefined;
        // The last line of a body may come without its CRLF.
        const line = buf.toString('latin1', pos);
        pos = buf.length;
        return line;
      }
    }
  };

  let total = 0;
  try {
    for (;;) {
      const header = await readLine();
      if (header === undefined) throw new S3Error('IncompleteBody');
      const semi = header.indexOf(';');
      const sizeText = (semi < 0 ? header : header.slice(0, semi)).trim();
      if (!/^[0-9a-fA-F]{1,13}$/.test(sizeText)) throw malformedChunk('a chunk size is not hexadecimal');
      const size = parseInt(sizeText, 16);
      let chunkSignature: string | undefined;
      if (signed) {
        const m = /(?:^|;)\s*chunk-signature=([0-9a-fA-F]{64})\s*$/.exec(header.slice(semi + 1));
        if (semi < 0 || !m) throw new S3Error('SignatureDoesNotMatch', 'A chunk of a signed aws-chunked body has no chunk-signature.');
        chunkSignature = m[1]!;
      }
      const hash = signed ? createHash('sha256') : undefined;
      let left = size;
      while (left > 0) {
        if (pos >= buf.length && !(await fill())) throw new S3Error('IncompleteBody');
        const n = Math.min(left, buf.length - pos);
        const piece = buf.subarray(pos, pos + n);
        pos += n;
        left -= n;
        total += n;
        if (options.decodedContentLength !== undefined && total > options.decodedContentLength) {
          throw new S3Error('IncompleteBody', 'The body is longer than x-amz-decoded-content-length.');
        }
        hash?.update(piece);
        yield piece;
      }
      if (signed && hash) {
        const toSign = `AWS4-HMAC-SHA256-PAYLOAD\n${signed.timestamp}\n${signed.scope}\n${previous}\n${EMPTY_SHA256}\n${hash.digest('hex')}`;
        const expected = signatureHex(signed.signingKey, toSign);
        if (!signaturesEqual(expected, chunkSignature!)) throw new S3Error('SignatureDoesNotMatch', 'The signature of a chunk does not match.');
        previous = expected;
      }
      if (size === 0) break;
      const end = await readLine();
      if (end !== '') throw end === undefined ? new S3Error('IncompleteBody') : malformedChunk('a chunk is longer than its size');
    }

    // After the zero-length chunk: trailing headers (if any), then an empty line.
    let canonicalTrailers = '';
    let trailerSignature: string | undefined;
    for (;;) {
      const line = await readLine();
      if (line === undefined || line === '') break;
      const colon = line.indexOf(':');
      if (colon <= 0) throw malformedChunk('a trailing header has no name');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'x-amz-trailer-signature') {
        trailerSignature = value;
        continue;
      }
      trailers[name] = value;
      canonicalTrailers += `${name}:${value}\n`;
    }
    if (signed?.trailer && canonicalTrailers !== '') {
      if (trailerSignature === undefined) throw new S3Error('SignatureDoesNotMatch', 'The trailing headers are not signed.');
      const toSign = `AWS4-HMAC-SHA256-TRAILER\n${signed.timestamp}\n${signed.scope}\n${previous}\n${sha256Hex(canonicalTrailers)}`;
      if (!signaturesEqual(signatureHex(signed.signingKey, toSign), trailerSignature)) {
        throw new S3Error('SignatureDoesNotMatch', 'The signature of the trailing headers does not match.');
      }
    }
    if (options.decodedContentLength !== undefined && total !== options.decodedContentLength) {
      throw new S3Error('IncompleteBody');
    }
    // Drain anything after the final line so the request counts as read.
    while (!(await it.next()).done) {
      /* discard */
    }
  } catch (err) {
    throw asS3Error(err);
  }
}

/** Wraps a request body in the verifier its PayloadMode calls for. */
export function decodePayload(source: AsyncIterable<Buffer>, mode: PayloadMode, options: DecodeOptions = {}): DecodedPayload {
  const trailers: Record<string, string> = {};
  let body: AsyncIterable<Buffer>;
  switch (mode.kind) {
    case 'unsigned':
      body = verbatim(source);
      break;
    case 'sha256':
      body = sha256Checked(source, mode.hex);
      break;
    case 'chunked-signed':
    case 'chunked-unsigned-trailer':
      body = awsChunked(source, mode, options, trailers);
      break;
  }
  return { body, trailers: () => trailers };
}
