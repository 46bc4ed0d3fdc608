/**
 * The load generator's HTTP client: node:http with a keep-alive agent, a
 * SigV4 signature per request (UNSIGNED-PAYLOAD, so the body is never
 * hashed by the client), bodies written straight from preallocated buffers,
 * and response bodies counted, verified or collected as they stream.
 */
import http from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { once } from 'node:events';
import { BodyVerifier } from './payload.js';
import { canonicalQuery, Signer, UNSIGNED_PAYLOAD, uriEncode, type Credentials } from './sigv4.js';

export interface ClientOptions {
  endpoint: URL;
  credentials: Credentials;
  region: string;
  /** Connections kept open: the scenario's concurrency. */
  maxSockets: number;
  /** A request that takes longer fails the run (the benchmark must stop by itself). */
  timeoutMs?: number;
}

/** What to do with a response body: count its bytes, compare it, or keep it (small XML/JSON). */
export type ResponseHandling = { kind: 'count' } | { kind: 'verify'; verifier: BodyVerifier } | { kind: 'collect' };

export interface RequestSpec {
  method: 'GET' | 'PUT' | 'HEAD' | 'POST' | 'DELETE';
  /** `/bucket` or `/bucket/key`, unencoded. */
  path: string;
  query?: Readonly<Record<string, string>>;
  /** Signed headers, lower-case names. */
  headers?: Readonly<Record<string, string>>;
  /** Slices written in order (see PayloadPool). */
  body?: readonly Buffer[];
  service?: 's3' | 'kms';
  /** Hex SHA-256 of the body when it is signed (KMS); default UNSIGNED-PAYLOAD. */
  payloadHash?: string;
  response?: ResponseHandling;
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  /** Response body bytes received. */
  bytes: number;
  /** Collected body: with `collect`, and always for error statuses. */
  body?: Buffer;
}

export class RequestFailed extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'RequestFailed';
  }
}

export class S3Client {
  readonly #endpoint: URL;
  readonly #host: string;
  readonly #agent: http.Agent;
  readonly #signer: Signer;
  readonly #timeoutMs: number;

  constructor(options: ClientOptions) {
    if (options.endpoint.protocol !== 'http:') throw new Error('the load generator speaks plain HTTP only (loopback benchmarks)');
    this.#endpoint = options.endpoint;
    this.#host = options.endpoint.host;
    this.#agent = new http.Agent({ keepAlive: true, maxSockets: options.maxSockets, maxFreeSockets: options.maxSockets });
    this.#signer = new Signer(options.credentials, options.region);
    this.#timeoutMs = options.timeoutMs ?? 300_000;
  }

  /** Sends one request; resolves once the whole response has arrived. Never throws for an HTTP status. */
  async send(spec: RequestSpec): Promise<Reply> {
    const path = uriEncode(spec.path, { keepSlash: true });
    const query = spec.query ? canonicalQuery(spec.query) : '';
    const bodyLength = spec.body?.reduce((n, b) => n + b.length, 0) ?? 0;
    const headers: Record<string, string> = this.#signer.sign({
      method: spec.method,
      host: this.#host,
      path,
      query,
      headers: spec.headers ?? {},
      payloadHash: spec.payloadHash ?? UNSIGNED_PAYLOAD,
      service: spec.service ?? 's3',
    });
    if (spec.body !== undefined || spec.method === 'PUT' || spec.method === 'POST') headers['content-length'] = String(bodyLength);
    const handling = spec.response ?? { kind: 'count' };

    const req = http.request({
      agent: this.#agent,
      host: this.#endpoint.hostname,
      port: this.#endpoint.port,
      method: spec.method,
      path: query === '' ? path : `${path}?${query}`,
      headers,
    });
    const done = new Promise<Reply>((resolve, reject) => {
      req.setTimeout(this.#timeoutMs, () => req.destroy(new RequestFailed(`${spec.method} ${spec.path}: no answer within ${this.#timeoutMs} ms`)));
      req.once('error', reject);
      // A second error after the first (a write to a socket the server closed) must not crash the run.
      req.on('error', () => {});
      req.once('response', (res) => {
        const status = res.statusCode ?? 0;
        const keep = handling.kind === 'collect' || status >= 300;
        const chunks: Buffer[] = [];
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (keep) chunks.push(chunk);
          else if (handling.kind === 'verify') handling.verifier.feed(chunk);
        });
        res.once('error', reject);
        res.once('end', () => resolve({ status, headers: res.headers, bytes, ...(keep ? { body: Buffer.concat(chunks) } : {}) }));
      });
    });
    // Write with backpressure: a 1 GiB body is many slices of the pool, never a copy.
    try {
      for (const piece of spec.body ?? []) {
        if (!req.write(piece)) await Promise.race([once(req, 'drain'), done]);
      }
      req.end();
    } catch {
      /* the request failed while writing; `done` carries the error */
    }
    return done;
  }

  /** Sends and requires a 2xx status; the error carries S3's error code. */
  async ok(spec: RequestSpec, what = `${spec.method} ${spec.path}`): Promise<Reply> {
    const reply = await this.send(spec);
    if (reply.status < 200 || reply.status >= 300) {
      const text = reply.body?.toString('utf8') ?? '';
      const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? /"__type"\s*:\s*"([^"]*)"/.exec(text)?.[1] ?? '';
      const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? /"message"\s*:\s*"([^"]*)"/i.exec(text)?.[1] ?? text.slice(0, 200);
      throw new RequestFailed(`${what}: HTTP ${reply.status} ${code} ${message}`.trim(), reply.status);
    }
    return reply;
  }

  close(): void {
    this.#agent.destroy();
  }
}
