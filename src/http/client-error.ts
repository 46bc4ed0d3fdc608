/**
 * What a client gets for a request node's HTTP parser cannot read (bad
 * framing, a header section too large, a request target that is not a URL):
 * an S3 XML error, as for every other refused request, instead of node's bare
 * `400 Bad Request` with no body. The connection is closed afterwards: after a
 * framing error nothing further on it can be trusted.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { S3Error, type S3ErrorCode } from '../errors/s3-errors.js';
import { errorXml } from './render.js';

/** node's parser error codes → the S3 error S3 gives for such a request. */
function codeFor(parserCode: string | undefined): S3ErrorCode {
  switch (parserCode) {
    case 'HPE_HEADER_OVERFLOW':
      return 'RequestHeaderSectionTooLarge';
    case 'HPE_INVALID_URL':
      return 'InvalidURI';
    // Headers that trickled in past the headers timeout (slowloris): S3's idle-connection answer.
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return 'RequestTimeout';
    default:
      return 'InvalidRequest';
  }
}

/** Answers a request the parser refused, on its raw socket, and closes it. */
export function answerClientError(err: Error & { code?: string }, socket: Duplex, requestId: string): void {
  // A reset or a socket already gone: nobody to answer.
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const code = codeFor(err.code);
  const s3err = new S3Error(code, code === 'InvalidRequest' ? 'The request could not be parsed as HTTP/1.1.' : undefined);
  const body = Buffer.from(errorXml(s3err, '', requestId), 'utf8');
  const head = [
    `HTTP/1.1 ${s3err.status} ${STATUS_CODES[s3err.status] ?? ''}`,
    'content-type: application/xml',
    `content-length: ${body.length}`,
    `x-amz-request-id: ${requestId}`,
    `x-amz-id-2: ${requestId}`,
    'server: Coffer',
    'connection: close',
  ].join('\r\n');
  socket.end(Buffer.concat([Buffer.from(`${head}\r\n\r\n`, 'latin1'), body]));
}
