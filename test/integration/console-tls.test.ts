/**
 * The console under TLS: the session cookie is `__Host-` prefixed and Secure,
 * the console's own calls to Coffer go over TLS too, and customer keys
 * (SSE-C), refused over plain HTTP, go through.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startServer, type TestServer } from '../helpers/server.js';

describe('console over TLS', () => {
  let work: string;
  let server: TestServer;
  let ca: Buffer;
  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'coffer-console-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(work, 'key.pem'), '-out', join(work, 'cert.pem')], { stdio: 'ignore' });
    ca = readFileSync(join(work, 'cert.pem'));
    // SSE-C allowed on buckets without a configuration (blocked by default, as S3 does since April 2026).
    server = await startServer({ args: ['--tls-cert', join(work, 'cert.pem'), '--tls-key', join(work, 'key.pem'), '--default-sse-c', 'allowed'] });
  });
  after(async () => {
    await server?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  function request(method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
    return new Promise((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port: server.port, method, path, headers, ca }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  test('secure_host_cookie_and_SSE_C_through_the_console', async () => {
    const login = await request('POST', '/_coffer/console/api/login', { 'content-type': 'application/json', origin: `https://127.0.0.1:${server.port}` }, JSON.stringify({ accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey }));
    assert.equal(login.status, 200, login.body);
    const setCookie = String(login.headers['set-cookie']);
    assert.match(setCookie, /^__Host-coffer_console=[^;]+; Path=\/; Max-Age=28800; HttpOnly; Secure; SameSite=Strict$/);
    const h = { cookie: setCookie.split(';')[0]!, 'x-coffer-csrf': (JSON.parse(login.body) as { csrfToken: string }).csrfToken };
    // The plain-HTTP cookie name is not accepted over TLS.
    assert.equal((await request('GET', '/_coffer/console/api/s3/', { ...h, cookie: h.cookie.replace('__Host-', '') })).status, 401);
    assert.equal((await request('PUT', '/_coffer/console/api/s3/tls-console', h)).status, 200);
    const key = Buffer.alloc(32, 7);
    const put = await request('PUT', '/_coffer/console/api/s3/tls-console/secret.txt', {
      ...h,
      'content-length': '6',
      'x-amz-server-side-encryption-customer-algorithm': 'AES256',
      'x-amz-server-side-encryption-customer-key': key.toString('base64'),
      'x-amz-server-side-encryption-customer-key-md5': createHash('md5').update(key).digest('base64'),
    }, 'secret');
    assert.equal(put.status, 200, put.body);
    assert.equal(put.headers['x-amz-server-side-encryption-customer-algorithm'], 'AES256');
    const get = await request('GET', '/_coffer/console/api/s3/tls-console/secret.txt', {
      ...h,
      'x-amz-server-side-encryption-customer-algorithm': 'AES256',
      'x-amz-server-side-encryption-customer-key': key.toString('base64'),
      'x-amz-server-side-encryption-customer-key-md5': createHash('md5').update(key).digest('base64'),
    });
    assert.equal(get.status, 200);
    assert.equal(get.body, 'secret');
  });
});
