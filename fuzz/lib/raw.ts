/**
 * Malformed HTTP, sent over a raw socket: broken framing, huge or absurd
 * headers, contradictory lengths, bad chunked encoding, header injection. The
 * server may answer (never 5xx, errors in XML when there is a body) or close
 * the connection; it must not hang, crash or leak.
 */
import net from 'node:net';
import type { Rng } from './rng.js';
import type { WireRequest } from './mutate.js';

export interface RawReply {
  /** undefined when the server closed without answering. */
  status?: number;
  headers: Record<string, string>;
  body: Buffer;
  timedOut: boolean;
}

/** Malformed request bytes for `host`. */
export function malformed(rng: Rng, host: string): { bytes: Buffer; description: string } {
  const cases: [string, () => string | Buffer][] = [
    ['bad request line', () => `GET\r\nHost: ${host}\r\n\r\n`],
    ['HTTP/0.9', () => 'GET /\r\n\r\n'],
    ['HTTP/2 text', () => `GET / HTTP/2.0\r\nHost: ${host}\r\n\r\n`],
    ['unknown method', () => `BREW /fz HTTP/1.1\r\nHost: ${host}\r\n\r\n`],
    ['huge URL', () => `GET /fz/${'a'.repeat(70_000 + rng.int(50_000))} HTTP/1.1\r\nHost: ${host}\r\n\r\n`],
    ['huge header', () => `GET / HTTP/1.1\r\nHost: ${host}\r\nx-amz-meta-a: ${'a'.repeat(20_000 + rng.int(80_000))}\r\n\r\n`],
    ['many headers', () => `GET / HTTP/1.1\r\nHost: ${host}\r\n${Array.from({ length: 3000 }, (_, i) => `x-h${i}: v`).join('\r\n')}\r\n\r\n`],
    ['header without colon', () => `GET / HTTP/1.1\r\nHost: ${host}\r\nnocolon\r\n\r\n`],
    ['obs-fold', () => `GET / HTTP/1.1\r\nHost: ${host}\r\nx-amz-date: 1\r\n folded\r\n\r\n`],
    ['two Content-Lengths', () => `PUT /fz/x HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 1\r\nContent-Length: 5\r\n\r\nabcde`],
    ['Content-Length and chunked', () => `PUT /fz/x HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`],
    ['negative Content-Length', () => `PUT /fz/x HTTP/1.1\r\nHost: ${host}\r\nContent-Length: -5\r\n\r\n`],
    ['absurd Content-Length', () => `PUT /fz/x HTTP/1.1\r\nHost: ${host}\r\nContent-Length: ${rng.pick(['99999999999999999999', '18446744073709551616', '1e9', '0x10', ' 12'])}\r\n\r\nab`],
    ['body shorter than Content-Length', () => `PUT /fz/x HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 1000\r\n\r\nabc`],
    ['bad chunk size', () => `PUT /fz/x HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\n\r\n${rng.pick(['zz', '-1', 'fffffffffffffffff', '1;', ''])}\r\nabc\r\n0\r\n\r\n`],
    ['chunked without end', () => `PUT /fz/x HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n`],
    ['unknown transfer-coding', () => `PUT /fz/x HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: gzip\r\n\r\nabc`],
    ['NUL in header', () => `GET / HTTP/1.1\r\nHost: ${host}\r\nx-amz-date: a\u0000b\r\n\r\n`],
    ['CR in header value', () => `GET / HTTP/1.1\r\nHost: ${host}\r\nx-amz-date: a\rb\r\n\r\n`],
    ['LF-only line ends', () => `GET /fz HTTP/1.1\nHost: ${host}\n\n`],
    ['no Host', () => 'GET /fz HTTP/1.1\r\n\r\n'],
    ['garbage Host', () => `GET /fz HTTP/1.1\r\nHost: ${rng.pick(['', ':', '[', 'a'.repeat(300), 'fz.localhost:99999', 'é'])}\r\n\r\n`],
    ['absurd Range', () => `GET /fz/plain HTTP/1.1\r\nHost: ${host}\r\nRange: ${rng.pick(['bytes=99999999999999999999-', 'bytes=-', 'bytes=1-0', 'bytes=' + '0-1,'.repeat(2000), 'items=0-1', 'bytes=--1'])}\r\n\r\n`],
    ['Expect oddities', () => `PUT /fz/x HTTP/1.1\r\nHost: ${host}\r\nExpect: ${rng.pick(['100-continue', '200-ok', 'x'])}\r\nContent-Length: 3\r\n\r\nabc`],
    ['pipelined garbage', () => `GET /_coffer/health HTTP/1.1\r\nHost: ${host}\r\n\r\n${Buffer.from(rng.bytes(200)).toString('latin1')}`],
    ['random bytes', () => rng.bytes(1 + rng.int(2000))],
    ['Authorization garbage', () => `GET /fz HTTP/1.1\r\nHost: ${host}\r\nAuthorization: AWS4-HMAC-SHA256 ${rng.pick(['', ',,,', 'Credential=', 'Credential=a/b/c/d/e, SignedHeaders=, Signature=', '='.repeat(5000)])}\r\nx-amz-date: 20200101T000000Z\r\n\r\n`],
  ];
  const [description, make] = rng.pick(cases);
  const made = make();
  return { bytes: typeof made === 'string' ? Buffer.from(made, 'latin1') : made, description };
}

/** A WireRequest (one whose headers hold characters node's client refuses) as bytes. */
export function wireBytes(request: WireRequest, host: string): Buffer {
  const lines = [`${request.method} ${request.target} HTTP/1.1`, `host: ${host}`, ...request.headers.map(([n, v]) => `${n}: ${v}`), `content-length: ${request.body.length}`, 'connection: close'];
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), request.body]);
}

/** Sends bytes on a fresh connection, half-closes, and reads until the server closes (or the timeout). */
export function sendRaw(port: number, bytes: Buffer, timeoutMs: number): Promise<RawReply> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (timedOut: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ...parseReply(Buffer.concat(chunks)), timedOut });
    };
    const timer = setTimeout(() => finish(true), timeoutMs);
    socket.on('connect', () => {
      socket.write(bytes);
      socket.end();
    });
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => finish(false));
    socket.on('close', () => finish(false));
    socket.on('error', () => finish(false));
  });
}

/** The first response in `data`: status, headers, and its body (de-chunked, or up to Content-Length). */
function parseReply(data: Buffer): Omit<RawReply, 'timedOut'> {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return { headers: {}, body: Buffer.alloc(0) };
  const head = data.subarray(0, end).toString('latin1').split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '')?.[1];
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  let body = data.subarray(end + 4);
  if (headers['transfer-encoding'] === 'chunked') {
    const out: Buffer[] = [];
    let rest = body;
    for (;;) {
      const nl = rest.indexOf('\r\n');
      if (nl < 0) break;
      const size = parseInt(rest.subarray(0, nl).toString('latin1'), 16);
      if (!Number.isFinite(size) || size === 0) break;
      out.push(rest.subarray(nl + 2, nl + 2 + size));
      rest = rest.subarray(nl + 2 + size + 2);
    }
    body = Buffer.concat(out);
  } else if (headers['content-length'] !== undefined) {
    body = body.subarray(0, Number(headers['content-length']));
  }
  return { ...(status !== undefined ? { status: Number(status) } : {}), headers, body };
}
