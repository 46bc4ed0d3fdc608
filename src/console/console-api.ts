/**
 * The web console at `/_coffer/console/`: a static page (console-assets.ts)
 * and a few endpoints under `/_coffer/console/api/`:
 *
 * - `POST login` {accessKeyId, secretAccessKey}: checks them against the
 *   identities Coffer verifies signatures with and sets the session cookie
 *   (HttpOnly, SameSite=Strict, Secure under TLS; console-session.ts). The
 *   secret is never stored, logged, or sent back.
 * - `GET session`: who is logged in and the session's CSRF token.
 * - `POST logout`: clears the cookie.
 * - `… s3/<path>`, `POST kms` (header `x-coffer-kms-target: <Operation>`),
 *   `POST iam` (a form): the same request to Coffer's own S3, KMS or IAM API,
 *   signed as the session's identity (console-signer.ts), answered as it came.
 * - `GET audit?key=&since=&until=&limit=`: the KMS audit log, for identities
 *   allowed `cloudtrail:LookupEvents` (AWS keeps KMS events in CloudTrail;
 *   an account root of the KMS's account always is).
 *
 * Every API call but login needs the session cookie and its CSRF token in
 * `x-coffer-csrf`; login needs a JSON body and, when the browser sends one, an
 * Origin of this host. Nothing answers CORS preflights, so no other site can
 * send either.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { authorize, conditionContext } from '../auth/access/index.js';
import { textEqual } from '../crypto/compare.js';
import type { CofferHttpHandler, CofferHttpRequest } from '../http/server.js';
import type { HeaderValue, Principal, S3Response } from '../http/types.js';
import type { AccountCredential } from '../http/server.js';
import { parseSince, readAuditLog, type KmsAuditEvent } from '../kms/kms-audit.js';
import { CONSOLE_CSS, CONSOLE_HTML, CONSOLE_JS } from './console-assets.js';
import { ConsoleSessions, cookieValue, SESSION_COOKIE, SESSION_MS } from './console-session.js';
import { sendSigned, type SelfTarget } from './console-signer.js';

export const CONSOLE_BASE = '/_coffer/console';

export interface ConsoleOptions {
  sessions: ConsoleSessions;
  lookupCredential: (accessKeyId: string) => Promise<AccountCredential | undefined>;
  /** Where this node reaches itself; known once it listens. */
  self: () => SelfTarget | undefined;
  region: string;
  /** The KMS's account (12 digits): whose root may read the audit log without a policy. */
  kmsAccountId: string;
  /** `<data>/kms-audit.log`. */
  auditLogPath: string;
  log: Logger;
}

/** Headers every console response carries: no framing, no sniffing, no referrer, scripts and styles only from here. */
const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

function respond(status: number, headers: Record<string, HeaderValue>, body?: S3Response['body']): S3Response {
  return { status, headers: { ...SECURITY_HEADERS, ...headers }, ...(body !== undefined ? { body } : {}) };
}

function json(status: number, body: unknown, headers: Record<string, HeaderValue> = {}): S3Response {
  return respond(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers }, JSON.stringify(body));
}

function problem(status: number, error: string, message: string): S3Response {
  return json(status, { error, message });
}

async function readLimited(req: CofferHttpRequest, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req.body) {
    total += chunk.length;
    if (total > limit) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}

async function drain(req: CofferHttpRequest): Promise<void> {
  await readLimited(req, 64 * 1024);
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** Request headers a console call may pass on to S3 (the rest are the signer's or the browser's own). */
function forwardableS3Header(name: string, secure: boolean): boolean {
  if (['content-type', 'content-md5', 'content-length', 'range', 'if-match', 'if-none-match', 'cache-control', 'content-disposition', 'content-encoding', 'content-language', 'expires'].includes(name)) return true;
  if (!name.startsWith('x-amz-')) return false;
  if (['x-amz-date', 'x-amz-content-sha256', 'x-amz-security-token', 'x-amz-decoded-content-length'].includes(name)) return false;
  return secure || !isCustomerKeyHeader(name);
}

function isCustomerKeyHeader(name: string): boolean {
  return name.startsWith('x-amz-server-side-encryption-customer-') || name.startsWith('x-amz-copy-source-server-side-encryption-customer-');
}

/** Response headers passed back to the browser. */
function returnedHeader(name: string): boolean {
  return ['content-type', 'content-length', 'content-range', 'etag', 'last-modified', 'accept-ranges', 'content-disposition', 'content-language', 'expires'].includes(name) || name.startsWith('x-amz-');
}

function fromUpstream(res: IncomingMessage): S3Response {
  const headers: Record<string, HeaderValue> = { 'cache-control': 'no-store' };
  for (const [name, v] of Object.entries(res.headers)) if (returnedHeader(name) && v !== undefined) headers[name] = Array.isArray(v) ? v.join(', ') : v;
  return respond(res.statusCode ?? 502, headers, res as AsyncIterable<Buffer>);
}

/** The identity a console user sees for themselves. */
function identityOf(p: Principal): { arn: string; accountId: string; userName?: string; accessKeyId: string } {
  return { arn: p.arn, accountId: p.awsAccountId, ...(p.userName !== undefined ? { userName: p.userName } : {}), accessKeyId: p.accessKeyId };
}

export function createConsoleApi(o: ConsoleOptions): CofferHttpHandler {
  const cookieName = (secure: boolean) => (secure ? `__Host-${SESSION_COOKIE}` : SESSION_COOKIE);
  const setCookie = (secure: boolean, value: string, maxAgeSeconds: number): string =>
    // __Host- under TLS: the cookie is then bound to this host and Path=/ by the browser itself.
    secure
      ? `${cookieName(true)}=${value}; Path=/; Max-Age=${maxAgeSeconds}; HttpOnly; Secure; SameSite=Strict`
      : `${cookieName(false)}=${value}; Path=${CONSOLE_BASE}; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Strict`;

  /** The session's credential, or the response refusing the call. */
  const session = async (req: CofferHttpRequest, options: { csrf: boolean }): Promise<{ cookie: string; credential: AccountCredential } | S3Response> => {
    const cookie = cookieValue(req.headers.cookie, cookieName(req.secure));
    const accessKeyId = o.sessions.verify(cookie);
    const credential = accessKeyId === undefined ? undefined : await o.lookupCredential(accessKeyId);
    if (cookie === undefined || credential === undefined) return problem(401, 'NotLoggedIn', 'Log in to the console first (the session may have ended, or its access key been deactivated).');
    if (options.csrf && !o.sessions.csrfValid(cookie, first(req.headers['x-coffer-csrf']))) return problem(403, 'BadCsrfToken', 'The request lacks the session\'s x-coffer-csrf token.');
    return { cookie, credential };
  };

  const login = async (req: CofferHttpRequest): Promise<S3Response> => {
    if (req.method !== 'POST') return problem(405, 'MethodNotAllowed', 'Log in with POST.');
    // A form another site posts cannot be JSON without a CORS preflight, which is never granted.
    if (!/^application\/json\b/i.test(first(req.headers['content-type']) ?? '')) return problem(415, 'UnsupportedMediaType', 'Send the credentials as JSON.');
    const origin = first(req.headers.origin);
    const host = first(req.headers.host);
    if (origin !== undefined && (host === undefined || !textEqual(origin, `${req.secure ? 'https' : 'http'}://${host}`))) return problem(403, 'BadOrigin', 'Log in from the console page itself.');
    const body = await readLimited(req, 4096);
    if (body === undefined) return problem(413, 'TooLarge', 'The login request is too large.');
    let parsed: { accessKeyId?: unknown; secretAccessKey?: unknown };
    try {
      parsed = JSON.parse(body.toString('utf8')) as typeof parsed;
    } catch {
      return problem(400, 'BadRequest', 'The login request is not JSON.');
    }
    const { accessKeyId, secretAccessKey } = parsed ?? {};
    if (typeof accessKeyId !== 'string' || typeof secretAccessKey !== 'string' || accessKeyId === '' || accessKeyId.length > 128 || secretAccessKey.length > 256) {
      return problem(400, 'BadRequest', 'Give accessKeyId and secretAccessKey.');
    }
    const credential = await o.lookupCredential(accessKeyId);
    // One answer for an unknown key and a wrong secret: neither tells which.
    if (credential === undefined || !textEqual(secretAccessKey, credential.secretAccessKey)) {
      o.log.info({ accessKeyId, remoteAddress: req.remoteAddress }, 'console: login refused');
      return problem(403, 'InvalidCredentials', 'The access key id or the secret access key is not valid.');
    }
    const cookie = o.sessions.open(credential.accessKeyId);
    o.log.info({ arn: credential.principal.arn, accessKeyId, remoteAddress: req.remoteAddress }, 'console: logged in');
    return json(200, { identity: identityOf(credential.principal), csrfToken: o.sessions.csrfToken(cookie) }, { 'set-cookie': setCookie(req.secure, cookie, Math.floor(SESSION_MS / 1000)) });
  };

  const proxy = async (req: CofferHttpRequest, service: 's3' | 'kms' | 'iam', credential: AccountCredential): Promise<S3Response> => {
    const self = o.self();
    if (!self) return problem(503, 'Starting', 'The server is starting.');
    let call: Parameters<typeof sendSigned>[3];
    if (service === 's3') {
      // The signed call arrives over loopback, which S3's TLS rule for customer keys lets through:
      // a customer key that came from the browser over plain HTTP is refused here instead.
      if (!req.secure && Object.keys(req.headers).some(isCustomerKeyHeader)) {
        await drain(req);
        return problem(400, 'InsecureCustomerKey', 'Requests with a customer-provided key (SSE-C) must be made over HTTPS.');
      }
      const rest = req.rawPath.slice(`${CONSOLE_BASE}/api/s3`.length) || '/';
      const headers: Record<string, string> = {};
      for (const [name, v] of Object.entries(req.headers)) if (v !== undefined && forwardableS3Header(name, req.secure)) headers[name] = Array.isArray(v) ? v.join(',') : v;
      const hasBody = req.method === 'PUT' || req.method === 'POST';
      // Object data streams through; documents (a query names the sub-resource) are read whole, so that their hash is signed.
      const document = hasBody && req.rawQuery !== '' && !/(^|&)(partNumber|uploadId)=/.test(req.rawQuery);
      let body: Buffer | AsyncIterable<Buffer> | undefined;
      if (document) {
        const b = await readLimited(req, 1024 * 1024);
        if (b === undefined) return problem(413, 'TooLarge', 'The document is larger than 1 MiB.');
        body = b;
        delete headers['content-length'];
        // S3 wants an integrity header on documents (PutBucketEncryption, DeleteObjects…), which the browser cannot make (no MD5 in WebCrypto).
        if (headers['content-md5'] === undefined && !Object.keys(headers).some((h) => h.startsWith('x-amz-checksum-'))) headers['content-md5'] = createHash('md5').update(b).digest('base64');
      } else if (hasBody) body = req.body;
      else await drain(req);
      call = { service, method: req.method, path: rest, query: req.rawQuery, headers, ...(body !== undefined ? { body } : {}), signal: req.signal };
    } else {
      if (req.method !== 'POST') return problem(405, 'MethodNotAllowed', 'Use POST.');
      const body = await readLimited(req, 256 * 1024);
      if (body === undefined) return problem(413, 'TooLarge', 'The request body is too large.');
      const headers: Record<string, string> = {};
      if (service === 'kms') {
        const target = first(req.headers['x-coffer-kms-target']) ?? '';
        if (!/^[A-Za-z]{1,64}$/.test(target)) return problem(400, 'BadRequest', 'Name the KMS operation in x-coffer-kms-target.');
        headers['x-amz-target'] = `TrentService.${target}`;
        headers['content-type'] = 'application/x-amz-json-1.1';
      } else {
        headers['content-type'] = 'application/x-www-form-urlencoded; charset=utf-8';
      }
      call = { service, method: 'POST', path: '/', query: '', headers, body, signal: req.signal };
    }
    try {
      return fromUpstream(await sendSigned(self, credential, o.region, call));
    } catch (err) {
      if (req.signal.aborted) return problem(499, 'ClientClosed', 'The browser went away.');
      o.log.warn({ err }, 'console: a call to this node failed');
      return problem(502, 'BadGateway', 'The call to Coffer failed; see the server log.');
    }
  };

  const audit = async (req: CofferHttpRequest, credential: AccountCredential): Promise<S3Response> => {
    const p = credential.principal;
    const decision = authorize({
      request: { caller: p.caller, action: 'cloudtrail:LookupEvents', resource: '*', context: conditionContext({ 'aws:SecureTransport': String(req.secure) }) },
      identityPolicies: p.policies,
      resourceAccount: o.kmsAccountId,
    });
    if (decision.effect !== 'Allow') return problem(403, 'AccessDenied', `${p.arn} is not authorized to perform cloudtrail:LookupEvents (the KMS audit log).`);
    const q = new URLSearchParams(req.rawQuery);
    let since: number | undefined;
    let until: number | undefined;
    try {
      since = q.get('since') ? parseSince(q.get('since')!) : undefined;
      until = q.get('until') ? parseSince(q.get('until')!) : undefined;
    } catch (err) {
      return problem(400, 'BadRequest', (err as Error).message.replace(/^--since: /, ''));
    }
    const limit = Math.min(Math.max(Number(q.get('limit') ?? 200) || 200, 1), 1000);
    const key = q.get('key') || undefined;
    // The newest `limit` events that match, newest first (the log is read through once).
    const kept: KmsAuditEvent[] = [];
    try {
      for await (const e of readAuditLog(o.auditLogPath, { ...(key !== undefined ? { key } : {}), ...(since !== undefined ? { since } : {}) })) {
        if (until !== undefined && Date.parse(e.time) > until) continue;
        kept.push(e);
        if (kept.length > limit) kept.shift();
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    return json(200, { events: kept.reverse() });
  };

  return async (req) => {
    const path = req.rawPath.slice(CONSOLE_BASE.length);
    const get = req.method === 'GET' || req.method === 'HEAD';
    if (path === '') {
      await drain(req);
      return respond(302, { location: `${CONSOLE_BASE}/` });
    }
    if (get && (path === '/' || path === '/index.html')) {
      await drain(req);
      return respond(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' }, CONSOLE_HTML);
    }
    if (get && path === '/app.js') return respond(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' }, CONSOLE_JS);
    if (get && path === '/app.css') return respond(200, { 'content-type': 'text/css; charset=utf-8', 'cache-control': 'no-cache' }, CONSOLE_CSS);
    if (!path.startsWith('/api/')) {
      await drain(req);
      return problem(404, 'NotFound', 'No such console path.');
    }
    const api = path.slice('/api/'.length);
    if (api === 'login') return login(req);
    if (api === 'session' && get) {
      await drain(req);
      const s = await session(req, { csrf: false });
      if ('status' in s) return s;
      return json(200, { identity: identityOf(s.credential.principal), csrfToken: o.sessions.csrfToken(s.cookie) });
    }
    if (api === 'logout' && req.method === 'POST') {
      await drain(req);
      const s = await session(req, { csrf: true });
      if ('status' in s && s.status === 403) return s;
      return json(200, { loggedOut: true }, { 'set-cookie': setCookie(req.secure, '', 0) });
    }
    const s = await session(req, { csrf: true });
    if ('status' in s) {
      await drain(req);
      return s;
    }
    if (api === 's3' || api.startsWith('s3/')) return proxy(req, 's3', s.credential);
    if (api === 'kms') return proxy(req, 'kms', s.credential);
    if (api === 'iam') return proxy(req, 'iam', s.credential);
    if (api === 'audit' && get) {
      await drain(req);
      return audit(req, s.credential);
    }
    await drain(req);
    return problem(404, 'NotFound', 'No such console API.');
  };
}
