/**
 * The HTTP front: one request goes router → SigV4 → handler → renderer.
 * Owns the node:http (or https) server, request ids, client-abort signals and
 * graceful shutdown; knows nothing of S3 semantics beyond that pipeline.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from 'pino';
import { decodePayload, verifySigV4, type Credential } from '../auth/sigv4/index.js';
import { withHoistedHeaders } from './hoisted-headers.js';
import type { Config } from '../config/config.js';
import { S3Error } from '../errors/s3-errors.js';
import { answerClientError } from './client-error.js';
import { withIdleTimeout } from './idle-timeout.js';
import { errorResponse, releaseBody, toS3Error, unsendableHeader, writeResponse } from './render.js';
import { parseEndpoint, type Endpoint } from './router.js';
import type { HeaderValue, Principal, S3Request, S3Response } from './types.js';

export interface AccountCredential extends Credential {
  principal: Principal;
}

export interface ServerDeps {
  config: Config;
  log: Logger;
  lookupCredential: (accessKeyId: string) => AccountCredential | undefined | Promise<AccountCredential | undefined>;
  /** Handles an authenticated request for an S3 endpoint. */
  dispatch: (req: S3Request) => Promise<S3Response>;
  /** Whether the service is ready (health check). */
  ready: () => boolean;
  /** Handles AWS KMS JSON API requests (kms/kms-api.ts); without it they are answered 501. */
  kms?: KmsHttpHandler;
  /** Handles IAM and STS query API requests (iam/iam-api.ts); without it they are answered 501. */
  iam?: IamHttpHandler;
  /** Bucket CORS (s3/cors.ts): answers preflights and adds CORS headers; without it every preflight is refused. */
  cors?: CorsHandler;
  /** POST Object form uploads (s3/post-object.ts); without it they are answered 501. */
  postObject?: PostObjectHttpHandler;
  /** Handles Coffer's own paths under /_coffer/ (operator/operator-api.ts): metrics, readiness, the console. */
  coffer?: CofferHttpHandler;
  /** Told of every answered request (metrics/metrics.ts). */
  observe?: (request: { endpoint: Endpoint | undefined; status: number; seconds: number; socket: Socket }) => void;
}

/** The CORS side of bucket and object requests; only those: KMS, IAM and /_coffer are never opened to browsers. */
export interface CorsHandler {
  /** Answers an `OPTIONS` preflight (unauthenticated: browsers send no credentials on it), or throws S3's 400/403. */
  preflight(input: { bucket: string; key?: string | undefined; headers: IncomingMessage['headers'] }): Promise<S3Response>;
  /** The CORS headers an actual request with an Origin gets (none when no rule allows it). */
  responseHeaders(input: { bucket: string; method: string; origin: string }): Promise<Record<string, HeaderValue>>;
}

/** A POST Object request, handed over before authentication: its credentials are fields of the form. */
export interface PostObjectHttpRequest {
  requestId: string;
  bucket: string;
  rawPath: string;
  headers: IncomingMessage['headers'];
  body: AsyncIterable<Buffer>;
  signal: AbortSignal;
  secure: boolean;
  remoteAddress: string;
}

export type PostObjectHttpHandler = (req: PostObjectHttpRequest) => Promise<S3Response>;

/** The bucket whose CORS rules speak for a request's response, if any. */
function corsBucket(endpoint: Endpoint | undefined): string | undefined {
  if (!endpoint) return undefined;
  if (endpoint.kind === 'bucket' || endpoint.kind === 'object' || endpoint.kind === 'post-object') return endpoint.bucket;
  if (endpoint.kind === 'unsupported') return endpoint.bucket;
  return undefined;
}

/** A request for one of Coffer's own paths (/_coffer/…), handed over before any authentication. */
export interface CofferHttpRequest extends Omit<KmsHttpRequest, 'operation'> {
  /** True when the request came over TLS. */
  secure: boolean;
  remoteAddress: string;
}

/** Always answers; never throws for a client's mistake. */
export type CofferHttpHandler = (req: CofferHttpRequest) => Promise<S3Response>;

/**
 * A request for the AWS KMS JSON API, handed over before authentication: the
 * KMS handler reads the small body first, because KMS clients sign its hash
 * without sending x-amz-content-sha256, then verifies SigV4 over it.
 */
export interface KmsHttpRequest {
  requestId: string;
  operation: string;
  method: string;
  rawPath: string;
  rawQuery: string;
  headers: IncomingMessage['headers'];
  rawHeaders: readonly string[];
  body: AsyncIterable<Buffer>;
  signal: AbortSignal;
}

/** Always answers (errors rendered as AWS JSON); never throws for a client's mistake. */
export type KmsHttpHandler = (req: KmsHttpRequest) => Promise<S3Response>;

/** An IAM or STS query API request, handed over before authentication like KMS ones (the form body is signed by hash). */
export interface IamHttpRequest extends Omit<KmsHttpRequest, 'operation'> {
  service: 'iam' | 'sts';
}

/** Always answers (errors rendered as IAM ErrorResponse XML). */
export type IamHttpHandler = (req: IamHttpRequest) => Promise<S3Response>;

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  /** Stops accepting, lets in-flight requests finish (up to the timeout), then closes. */
  shutdown(): Promise<void>;
}

function newRequestId(): string {
  return randomBytes(8).toString('hex').toUpperCase();
}

function expectsContinue(req: IncomingMessage): boolean {
  return (req.headers.expect ?? '').toLowerCase() === '100-continue';
}

function firstHeader(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Reads and drops a body no handler wanted, so the connection can serve the next request;
 * a client that stops sending it loses the connection after the idle limit.
 */
function drainIdleLimited(req: IncomingMessage, ms: number): void {
  void (async () => {
    for await (const _chunk of withIdleTimeout(req, ms)) {
      /* discard */
    }
  })().catch(() => req.socket.destroy());
}

/** Counts the bytes a body yields, passing each chunk and the consumer's return() through. */
function countingBody(body: AsyncIterable<Buffer>, wire: { bytesIn: number }): AsyncIterable<Buffer> {
  return {
    [Symbol.asyncIterator]() {
      const it = body[Symbol.asyncIterator]();
      return {
        next: async () => {
          const r = await it.next();
          if (!r.done) wire.bytesIn += r.value.length;
          return r;
        },
        return: async (value?: unknown) => (it.return ? it.return(value) : { done: true as const, value: undefined }),
      };
    },
  };
}

/**
 * The access key id a request claims (Authorization header or presigned X-Amz-Credential),
 * for the log of requests not authenticated here (KMS and IAM verify their own) or refused
 * before authentication. An access key id is not a secret; the signature is never logged.
 */
function claimedAccessKeyId(headers: IncomingMessage['headers'], rawQuery: string): string | undefined {
  const authorization = firstHeader(headers['authorization']);
  const fromHeader = authorization === undefined ? undefined : /Credential=([^/,\s]+)\//.exec(authorization)?.[1];
  if (fromHeader !== undefined) return fromHeader.slice(0, 128);
  if (!rawQuery.includes('X-Amz-Credential')) return undefined;
  const credential = new URLSearchParams(rawQuery).get('X-Amz-Credential');
  return credential?.split('/')[0]?.slice(0, 128);
}

/**
 * The one info line per request: who (access key id and principal ARN, never the secret or
 * the signature), what (operation, bucket, key), the outcome and its cost. The query string
 * is left out: a presigned URL carries its signature there, and SSE-C keys travel in headers,
 * which are never logged.
 */
function requestLogLine(r: {
  requestId: string;
  method: string;
  rawPath: string;
  rawQuery: string;
  endpoint: Endpoint | undefined;
  principal: Principal | undefined;
  headers: IncomingMessage['headers'];
  status: number;
  wire: { bytesIn: number; bytesOut: number };
  started: bigint;
}): Record<string, unknown> {
  const e = r.endpoint;
  const accessKeyId = r.principal?.accessKeyId ?? claimedAccessKeyId(r.headers, r.rawQuery);
  return {
    requestId: r.requestId,
    method: r.method,
    path: r.rawPath,
    operation: e === undefined ? undefined : 'operation' in e ? e.operation : e.kind === 'iam' ? e.service : e.kind,
    ...(e !== undefined && 'bucket' in e && e.bucket !== undefined ? { bucket: e.bucket } : {}),
    ...(e !== undefined && 'key' in e && e.key !== undefined ? { key: e.key } : {}),
    ...(accessKeyId !== undefined ? { accessKeyId } : {}),
    ...(r.principal ? { principal: r.principal.arn } : {}),
    status: r.status,
    bytesIn: r.wire.bytesIn,
    bytesOut: r.wire.bytesOut,
    ms: Math.round(Number(process.hrtime.bigint() - r.started) / 1e4) / 100,
  };
}

export async function startServer(deps: ServerDeps): Promise<RunningServer> {
  const { config, log } = deps;
  const secure = config.tlsCert !== undefined;
  let inFlight = 0;
  let draining = false;
  let drained: (() => void) | undefined;

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    inFlight++;
    void handle(req, res).finally(() => {
      inFlight--;
      if (draining && inFlight === 0) drained?.();
    });
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = newRequestId();
    const started = process.hrtime.bigint();
    res.setHeader('x-amz-request-id', requestId);
    res.setHeader('x-amz-id-2', requestId);
    res.setHeader('server', 'Coffer');
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort(new Error('client closed the connection'));
    });
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const rawPath = q < 0 ? rawUrl : rawUrl.slice(0, q);
    const rawQuery = q < 0 ? '' : rawUrl.slice(q + 1);
    const method = (req.method ?? 'GET').toUpperCase();
    // Bytes in as they arrive off the wire (aws-chunked framing included), for the request log.
    const wire = { bytesIn: 0, bytesOut: 0 };
    const body = countingBody(withIdleTimeout(req, config.bodyIdleTimeoutMs), wire);
    let endpoint: Endpoint | undefined;
    let principal: Principal | undefined;
    let response: S3Response;
    let bodyTaken = false;
    try {
      if (draining) res.setHeader('connection', 'close');
      const query = new URLSearchParams(rawQuery);
      // A presigned URL's hoisted x-amz-* parameters count as headers, for routing (x-amz-copy-source) and handlers alike.
      const headers = withHoistedHeaders(req.headers, query);
      endpoint = parseEndpoint({ method, host: req.headers.host, rawPath, query, headers }, config);
      if (endpoint.kind === 'health') {
        response = deps.ready()
          ? { status: 200, headers: { 'content-type': 'application/json' }, body: '{"status":"ok"}' }
          : { status: 503, headers: { 'content-type': 'application/json' }, body: '{"status":"starting"}' };
      } else if (endpoint.kind === 'kms') {
        if (!deps.kms) throw new S3Error('NotImplemented', 'This Coffer node serves no KMS API.');
        bodyTaken = true;
        if (expectsContinue(req)) res.writeContinue();
        const { rawHeaders, headers } = req;
        response = await deps.kms({ requestId, operation: endpoint.operation, method, rawPath, rawQuery, headers, rawHeaders, body, signal: abort.signal });
      } else if (endpoint.kind === 'coffer') {
        if (!deps.coffer) throw new S3Error('NoSuchKey');
        bodyTaken = true;
        if (expectsContinue(req)) res.writeContinue();
        const { rawHeaders, headers } = req;
        const remoteAddress = req.socket.remoteAddress ?? '';
        response = await deps.coffer({ requestId, method, rawPath, rawQuery, headers, rawHeaders, body, signal: abort.signal, secure, remoteAddress });
      } else if (endpoint.kind === 'iam') {
        if (!deps.iam) throw new S3Error('NotImplemented', 'This Coffer node serves no IAM API.');
        bodyTaken = true;
        if (expectsContinue(req)) res.writeContinue();
        const { rawHeaders, headers } = req;
        response = await deps.iam({ requestId, service: endpoint.service, method, rawPath, rawQuery, headers, rawHeaders, body, signal: abort.signal });
      } else if (endpoint.kind === 'preflight') {
        if (!deps.cors) throw new S3Error('AccessForbidden', 'CORSResponse: CORS is not enabled for this bucket.');
        response = await deps.cors.preflight({ bucket: endpoint.bucket, key: endpoint.key, headers: req.headers });
      } else if (endpoint.kind === 'post-object') {
        if (!deps.postObject) throw new S3Error('NotImplemented', 'This Coffer node serves no POST Object.');
        bodyTaken = true;
        // The form carries the credentials: nothing can be checked before the body arrives.
        if (expectsContinue(req)) res.writeContinue();
        response = await deps.postObject({
          requestId,
          bucket: endpoint.bucket,
          rawPath,
          headers: req.headers,
          body,
          signal: abort.signal,
          secure,
          remoteAddress: req.socket.remoteAddress ?? '',
        });
      } else {
        const auth = await verifySigV4(
          { method, rawPath, rawQuery, headers: req.headers, rawHeaders: req.rawHeaders },
          { region: config.region, services: ['s3'], lookup: deps.lookupCredential },
        );
        if (!auth.anonymous) principal = auth.credential.principal;
        // Anonymous requests go on: only a bucket policy granting `*` lets them in (s3/access.ts).
        if (endpoint.kind === 'unsupported') {
          if (auth.anonymous) throw new S3Error('AccessDenied');
          throw new S3Error('NotImplemented', `Coffer does not implement the ${endpoint.operation} operation.`);
        }
        const decodedLengthHeader = firstHeader(req.headers['x-amz-decoded-content-length']);
        const contentLengthHeader = firstHeader(req.headers['content-length']);
        const lengthText = decodedLengthHeader ?? contentLengthHeader;
        const contentLength = lengthText !== undefined && /^\d+$/.test(lengthText) ? Number(lengthText) : undefined;
        let decoded: ReturnType<typeof decodePayload> | undefined;
        const takeBody = () => {
          if (decoded) throw new Error('request body read twice');
          bodyTaken = true;
          // `Expect: 100-continue`: the client waits for a go-ahead before sending the body. S3
          // gives it only once the request passed authentication and authorization (done before
          // any handler runs) and the handler wants the body: a refused request gets its final
          // status at once and never uploads (see the checkContinue listener).
          if (expectsContinue(req)) res.writeContinue();
          decoded = decodePayload(body, auth.payload, decodedLengthHeader !== undefined ? { decodedContentLength: Number(decodedLengthHeader) } : {});
          return decoded;
        };
        const s3req: S3Request = {
          requestId,
          endpoint,
          method,
          rawPath,
          headers,
          query,
          principal: auth.anonymous ? undefined : auth.credential.principal,
          secure,
          remoteAddress: req.socket.remoteAddress ?? '',
          signal: abort.signal,
          contentLength,
          body: () => takeBody().body,
          trailers: () => decoded?.trailers() ?? {},
          readBody: async (limit: number) => {
            const chunks: Buffer[] = [];
            let total = 0;
            for await (const chunk of takeBody().body) {
              total += chunk.length;
              if (total > limit) throw new S3Error('InvalidRequest', 'Your request body is too large.');
              chunks.push(chunk);
            }
            return Buffer.concat(chunks, total);
          },
        };
        response = await deps.dispatch(s3req);
      }
    } catch (err) {
      const s3err = toS3Error(err);
      if (s3err.code === 'InternalError') log.error({ err, requestId }, 'request failed');
      // A full disk or an unavailable storage backend: the operator's to see, once per request.
      else if (!(err instanceof S3Error) && s3err.code === 'ServiceUnavailable') log.warn({ err, requestId }, 'storage unavailable: answered 503');
      response = errorResponse(s3err, { method, resource: rawPath, requestId });
      // A body we did not read to the end cannot be skipped safely: close after replying.
      if (!req.complete) res.setHeader('connection', 'close');
    }
    // CORS headers go on every answer to a request from an allowed origin, errors included (as S3
    // sends them), so that the page can read why it failed.
    const origin = firstHeader(req.headers.origin);
    const bucketForCors = corsBucket(endpoint);
    if (origin !== undefined && bucketForCors !== undefined && deps.cors) {
      try {
        const extra = await deps.cors.responseHeaders({ bucket: bucketForCors, method, origin });
        if (Object.keys(extra).length > 0) response = { ...response, headers: { ...response.headers, ...extra } };
      } catch (err) {
        log.warn({ err, requestId }, 'CORS rules could not be read: answered without CORS headers');
      }
    }
    const unsendable = unsendableHeader(response);
    if (unsendable !== undefined) {
      // Handlers refuse what clients control (response-* overrides: InvalidArgument); a header
      // that still cannot go out is our fault: answer InternalError rather than drop the connection.
      log.error({ requestId, header: unsendable }, 'a response header cannot be sent');
      await releaseBody(response.body).catch(() => {});
      response = errorResponse(new S3Error('InternalError'), { method, resource: rawPath, requestId });
    }
    // A handler that answered without reading its whole body (an idle client, a KMS body over
    // the limit) leaves bytes on the connection that no parser will skip: close after replying.
    if (bodyTaken && !req.complete) res.setHeader('connection', 'close');
    // A client that stops reading a streamed response holds its socket and the blob being read
    // for ever: S3 drops it after the same idle limit ("not read from or written to"). The
    // socket's inactivity timer counts every write the kernel accepts, so a reader that is
    // slow but keeps reading is not cut off. node replaces the timer with the keep-alive one
    // once the response ends.
    const socket = req.socket;
    const onIdle = () => res.destroy(new Error('the client stopped reading the response'));
    const streamed = response.body !== undefined && typeof response.body !== 'string' && !Buffer.isBuffer(response.body);
    if (streamed) {
      socket.setTimeout(config.bodyIdleTimeoutMs);
      socket.once('timeout', onIdle);
    }
    try {
      await writeResponse(req, res, response, wire);
      if (!bodyTaken && !req.complete) drainIdleLimited(req, config.bodyIdleTimeoutMs);
    } catch (err) {
      log.debug({ err, requestId }, 'response aborted');
      res.destroy();
    } finally {
      if (streamed) socket.off('timeout', onIdle);
    }
    deps.observe?.({ endpoint, status: response.status, seconds: Number(process.hrtime.bigint() - started) / 1e9, socket });
    log.info(requestLogLine({ requestId, method, rawPath, rawQuery, endpoint, principal, headers: req.headers, status: response.status, wire, started }), 'request');
  }

  // node checks the headers timeout on this period (30 s by default): a short limit needs a short period.
  const connectionsCheckingInterval = Math.min(30_000, Math.max(10, Math.floor(config.headersTimeoutMs / 4)));
  const server = secure
    ? https.createServer({ cert: readFileSync(config.tlsCert!), key: readFileSync(config.tlsKey!), connectionsCheckingInterval, requireHostHeader: false }, onRequest)
    : // A request without Host is ours to judge (path-style addressing needs none; a signature needs it signed), not node's bare 400.
      http.createServer({ connectionsCheckingInterval, requireHostHeader: false }, onRequest);
  // Without this listener node answers every `Expect: 100-continue` before we have looked at the request.
  server.on('checkContinue', onRequest);
  // An Expect other than 100-continue is ignored (RFC 9110 allows it) rather than node's bare 417.
  server.on('checkExpectation', onRequest);
  server.on('clientError', (err: Error & { code?: string }, socket) => answerClientError(err, socket, newRequestId()));
  // Large uploads over slow links must not be cut off by a whole-request timer: bodies have
  // an idle limit instead (withIdleTimeout), as S3 has.
  server.requestTimeout = 0;
  // Headers that trickle in (slowloris) get the connection closed (node answers 408 first).
  server.headersTimeout = config.headersTimeoutMs;
  server.keepAliveTimeout = 65_000;
  // Each connection costs a descriptor (two or three while it uploads or downloads); past the
  // bound new connections are closed as they are accepted, so a flood cannot exhaust the process.
  server.maxConnections = config.maxConnections;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.address, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const hostForUrl = config.address.includes(':') ? `[${config.address}]` : config.address;
  const url = `${secure ? 'https' : 'http'}://${hostForUrl}:${port}`;

  return {
    url,
    port,
    shutdown: async () => {
      draining = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (inFlight > 0) {
        await Promise.race([
          new Promise<void>((resolve) => (drained = resolve)),
          new Promise<void>((resolve) => setTimeout(resolve, config.shutdownTimeoutMs).unref()),
        ]);
      }
      server.closeAllConnections();
      await closed;
    },
  };
}
