/**
 * The console's API without a browser, as an attacker would call it: no
 * session, a forged or expired cookie, no CSRF token, a login posted by another
 * site, a wrong secret; and what a logged-in session may and may not do.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startServer, type TestServer } from '../helpers/server.js';

describe('console API', () => {
  let server: TestServer;
  let base: string;
  before(async () => {
    server = await startServer();
    base = `${server.url}/_coffer/console`;
  });
  after(async () => server?.destroy());

  const login = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${base}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

  async function session(): Promise<{ cookie: string; csrf: string }> {
    const res = await login({ accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey });
    assert.equal(res.status, 200);
    const setCookie = res.headers.get('set-cookie')!;
    assert.match(setCookie, /^coffer_console=[^;]+; Path=\/_coffer\/console; Max-Age=28800; HttpOnly; SameSite=Strict$/);
    const body = (await res.json()) as { csrfToken: string; identity: { arn: string } };
    assert.ok(!JSON.stringify(body).includes(server.secretAccessKey), 'the secret is not sent back');
    return { cookie: setCookie.split(';')[0]!, csrf: body.csrfToken };
  }

  test('the_page_is_served_with_a_strict_content_security_policy', async () => {
    const res = await fetch(`${base}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /^text\/html/);
    assert.match(res.headers.get('content-security-policy')!, /default-src 'none'; script-src 'self'/);
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    assert.match(await res.text(), /<script src="\/_coffer\/console\/app\.js" defer><\/script>/);
    assert.equal((await fetch(`${base}/app.js`)).status, 200);
    assert.equal((await fetch(base, { redirect: 'manual' })).headers.get('location'), '/_coffer/console/');
  });

  test('login_refuses_wrong_secrets_unknown_keys_forms_and_other_origins', async () => {
    const wrong = await login({ accessKeyId: server.accessKeyId, secretAccessKey: 'not-the-secret-at-all' });
    assert.equal(wrong.status, 403);
    const unknown = await login({ accessKeyId: 'AKIDNOSUCHKEY', secretAccessKey: server.secretAccessKey });
    assert.equal(unknown.status, 403);
    assert.deepEqual(await wrong.json(), await unknown.json(), 'one answer: neither says which was wrong');
    assert.equal(wrong.headers.get('set-cookie'), null);
    const form = await fetch(`${base}/api/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `accessKeyId=${server.accessKeyId}&secretAccessKey=${server.secretAccessKey}` });
    assert.equal(form.status, 415, 'a cross-site form cannot log anyone in');
    const elsewhere = await login({ accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey }, { origin: 'https://evil.example' });
    assert.equal(elsewhere.status, 403);
    assert.equal((await login({ accessKeyId: 1, secretAccessKey: [] })).status, 400);
    const notJson = await fetch(`${base}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
    assert.equal(notJson.status, 400);
    assert.ok(!server.output().includes(server.secretAccessKey), 'no secret in the log');
  });

  test('calls_need_a_genuine_session_and_its_csrf_token', async () => {
    const { cookie, csrf } = await session();
    assert.equal((await fetch(`${base}/api/s3/`)).status, 401, 'no session');
    assert.equal((await fetch(`${base}/api/s3/`, { headers: { cookie } })).status, 403, 'no CSRF token');
    assert.equal((await fetch(`${base}/api/s3/`, { headers: { cookie, 'x-coffer-csrf': `${csrf}x` } })).status, 403, 'a wrong CSRF token');
    const [payload, mac] = cookie.slice('coffer_console='.length).split('.');
    const forged = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as { e: number };
    forged.e += 10 * 24 * 3600 * 1000;
    const longer = `coffer_console=${Buffer.from(JSON.stringify(forged)).toString('base64url')}.${mac}`;
    assert.equal((await fetch(`${base}/api/s3/`, { headers: { cookie: longer, 'x-coffer-csrf': csrf } })).status, 401, 'a payload changed under its MAC');
    const ok = await fetch(`${base}/api/s3/`, { headers: { cookie, 'x-coffer-csrf': csrf } });
    assert.equal(ok.status, 200);
    assert.match(await ok.text(), /<ListAllMyBucketsResult/);
    // The session's own identity answers, with S3's own errors.
    const missing = await fetch(`${base}/api/s3/no-such-bucket?encryption`, { headers: { cookie, 'x-coffer-csrf': csrf } });
    assert.equal(missing.status, 404);
    assert.match(await missing.text(), /<Code>NoSuchBucket<\/Code>/);
    const kms = await fetch(`${base}/api/kms`, { method: 'POST', headers: { cookie, 'x-coffer-csrf': csrf, 'x-coffer-kms-target': 'ListKeys' }, body: '{}' });
    assert.equal(kms.status, 200);
    assert.ok(Array.isArray(((await kms.json()) as { Keys: unknown[] }).Keys));
    const badTarget = await fetch(`${base}/api/kms`, { method: 'POST', headers: { cookie, 'x-coffer-csrf': csrf, 'x-coffer-kms-target': 'TrentService.X Y' }, body: '{}' });
    assert.equal(badTarget.status, 400);
    const audit = await fetch(`${base}/api/audit?since=bogus`, { headers: { cookie, 'x-coffer-csrf': csrf } });
    assert.equal(audit.status, 400, 'a bad time is a clear 400');
    // Logging out clears the cookie (a stateless session: deactivating the key is what ends it for good).
    const out = await fetch(`${base}/api/logout`, { method: 'POST', headers: { cookie, 'x-coffer-csrf': csrf } });
    assert.equal(out.status, 200);
    assert.match(out.headers.get('set-cookie')!, /^coffer_console=; .*Max-Age=0/);
  });

  test('a_customer_key_sent_over_plain_HTTP_is_refused', async () => {
    const { cookie, csrf } = await session();
    const h = { cookie, 'x-coffer-csrf': csrf };
    assert.equal((await fetch(`${base}/api/s3/ssec`, { method: 'PUT', headers: h })).status, 200);
    const key = Buffer.alloc(32, 1);
    const put = await fetch(`${base}/api/s3/ssec/o`, {
      method: 'PUT',
      headers: {
        ...h,
        'x-amz-server-side-encryption-customer-algorithm': 'AES256',
        'x-amz-server-side-encryption-customer-key': key.toString('base64'),
        'x-amz-server-side-encryption-customer-key-md5': '1B2M2Y8AsgTpgAmY7PhCfg==',
      },
      body: 'x',
    });
    // The loopback call would pass S3's TLS rule for customer keys; the console refuses instead.
    assert.equal(put.status, 400);
    assert.equal(((await put.json()) as { error: string }).error, 'InsecureCustomerKey');
    assert.equal((await fetch(`${base}/api/s3/ssec/o`, { method: 'HEAD', headers: h })).status, 404, 'nothing was stored');
  });
});
