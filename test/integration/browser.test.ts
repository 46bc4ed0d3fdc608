/**
 * Coffer from a real browser: headless Chromium (puppeteer-core, Debian's
 * /usr/bin/chromium) loads a page served by a second small HTTP server on
 * another loopback port — another origin — and from it:
 *  1. calls GetBucketEncryption and PutObject through `fetch`, signed with SigV4
 *     in the test process (the page gets the signed headers), so the browser's
 *     own preflight must pass the bucket's CORS rules;
 *  2. uploads a file through a real HTML form POST with an SSE-KMS field, its
 *     fields made by @aws-sdk/s3-presigned-post (success_action_redirect back to
 *     the page's origin), and once more through fetch + FormData, reading the
 *     response's encryption header;
 *  3. downloads a presigned GET and uploads with a presigned PUT (@aws-sdk/s3-request-presigner);
 * each checked byte-exact and for its encryption headers, which the page can
 * read only because the rule lists them in ExposeHeader. And (4) a page from an
 * origin no rule allows is refused by the browser itself: fetch rejects with a
 * TypeError.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutBucketCorsCommand, PutBucketEncryptionCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { CreateKeyCommand } from '@aws-sdk/client-kms';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { kmsClient } from '../helpers/kms.js';
import { s3Signer, sha256Hex } from '../helpers/raw-s3.js';
import { bodyBytes } from '../helpers/s3.js';
import { startServer, type TestServer } from '../helpers/server.js';

const CHROMIUM = '/usr/bin/chromium';
const BUCKET = 'browser';

interface PageServer {
  origin: string;
  /** Query strings of the requests made to /done (where the form's success_action_redirect points). */
  redirects: URLSearchParams[];
  close(): Promise<void>;
}

/** The page's script: builds an upload form (hidden fields, then the file input, as S3 wants the file last). */
const PAGE_SCRIPT = `
function buildForm(action, fields) {
  const form = document.createElement('form');
  form.method = 'post';
  form.enctype = 'multipart/form-data';
  form.action = action;
  for (const [name, value] of Object.entries(fields)) {
    const input = document.createElement('input');
    input.type = 'hidden';
    input.name = name;
    input.value = value;
    form.appendChild(input);
  }
  const file = document.createElement('input');
  file.type = 'file';
  file.name = 'file';
  form.appendChild(file);
  document.body.appendChild(form);
}`;

/** The page's own origin: a page with PAGE_SCRIPT at /, and /done for the form's redirect. */
async function startPageServer(): Promise<PageServer> {
  const redirects: URLSearchParams[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://page');
    if (url.pathname === '/done') redirects.push(url.searchParams);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><html><head><title>${url.pathname}</title></head><body><p id="where">${url.pathname}</p><script>${PAGE_SCRIPT}</script></body></html>`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    redirects,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let coffer: TestServer;
let s3: S3Client;
let page1: PageServer;
let page2: PageServer;
let browser: Browser;
let keyArn: string;
let workDir: string;

const available = existsSync(CHROMIUM);

before(async () => {
  if (!available) return;
  workDir = mkdtempSync(join(tmpdir(), 'coffer-browser-'));
  coffer = await startServer();
  s3 = coffer.client();
  [page1, page2] = await Promise.all([startPageServer(), startPageServer()]);
  const kms = kmsClient(coffer);
  keyArn = (await kms.send(new CreateKeyCommand({ Description: 'browser tests' }))).KeyMetadata!.Arn!;
  kms.destroy();
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await s3.send(
    new PutBucketEncryptionCommand({ Bucket: BUCKET, ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: keyArn }, BucketKeyEnabled: true }] } }),
  );
  await s3.send(
    new PutBucketCorsCommand({
      Bucket: BUCKET,
      CORSConfiguration: {
        CORSRules: [
          {
            AllowedOrigins: [page1.origin],
            AllowedMethods: ['GET', 'PUT', 'POST', 'HEAD'],
            AllowedHeaders: ['*'],
            ExposeHeaders: ['ETag', 'x-amz-server-side-encryption', 'x-amz-server-side-encryption-aws-kms-key-id', 'x-amz-request-id'],
            MaxAgeSeconds: 0,
          },
        ],
      },
    }),
  );
  browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
});

after(async () => {
  await browser?.close();
  await page1?.close();
  await page2?.close();
  s3?.destroy();
  await coffer?.destroy();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

async function openPage(origin: string): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(`${origin}/`);
  return page;
}

/** SigV4 headers for a request, signed in the test process; the page cannot send Host, the browser does (the same value). */
async function signedHeaders(method: string, path: string, query: Record<string, string>, body: Buffer, extra: Record<string, string> = {}): Promise<Record<string, string>> {
  const signed = await s3Signer(coffer).sign({
    method,
    protocol: 'http:',
    hostname: '127.0.0.1',
    port: coffer.port,
    path,
    query,
    headers: { host: `127.0.0.1:${coffer.port}`, 'x-amz-content-sha256': sha256Hex(body), ...extra },
  });
  const { host: _host, ...rest } = signed.headers;
  return rest;
}

interface FetchResult {
  ok: boolean;
  status?: number;
  headers?: Record<string, string | null>;
  bodyBase64?: string;
  error?: string;
}

/** fetch in the page; returns what the page could see (status, the named response headers, the body) or the error's name. */
function pageFetch(page: Page, url: string, init: { method: string; headers?: Record<string, string>; bodyBase64?: string }, read: string[]): Promise<FetchResult> {
  return page.evaluate(
    async (url, init, read) => {
      try {
        const body = init.bodyBase64 !== undefined ? Uint8Array.from(atob(init.bodyBase64), (c) => c.charCodeAt(0)) : undefined;
        const res = await fetch(url, { method: init.method, headers: init.headers ?? {}, ...(body ? { body } : {}) });
        const bytes = new Uint8Array(await res.arrayBuffer());
        let bin = '';
        for (const b of bytes) bin += String.fromCharCode(b);
        const headers: Record<string, string | null> = {};
        for (const name of read) headers[name] = res.headers.get(name);
        return { ok: true, status: res.status, headers, bodyBase64: btoa(bin) };
      } catch (err) {
        return { ok: false, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
      }
    },
    url,
    init,
    read,
  );
}

describe('browser', { skip: available ? false : `no ${CHROMIUM}` }, () => {
  test('fetch_GetBucketEncryption_and_PutObject_signed_with_SigV4_pass_the_preflight', async () => {
    const page = await openPage(page1.origin);
    try {
      const enc = await pageFetch(page, `${coffer.url}/${BUCKET}?encryption=`, { method: 'GET', headers: await signedHeaders('GET', `/${BUCKET}`, { encryption: '' }, Buffer.alloc(0)) }, ['x-amz-request-id']);
      assert.ok(enc.ok, enc.error);
      assert.equal(enc.status, 200);
      const xml = Buffer.from(enc.bodyBase64!, 'base64').toString('utf8');
      assert.match(xml, /<SSEAlgorithm>aws:kms<\/SSEAlgorithm>/);
      assert.ok(xml.includes(`<KMSMasterKeyID>${keyArn}</KMSMasterKeyID>`));
      assert.match(enc.headers!['x-amz-request-id'] ?? '', /^[0-9A-F]{16}$/);

      const data = randomBytes(150_000);
      const sse = { 'x-amz-server-side-encryption': 'aws:kms', 'x-amz-server-side-encryption-aws-kms-key-id': keyArn };
      const put = await pageFetch(page, `${coffer.url}/${BUCKET}/fetch/put.bin`, { method: 'PUT', headers: await signedHeaders('PUT', `/${BUCKET}/fetch/put.bin`, {}, data, sse), bodyBase64: data.toString('base64') }, [
        'etag',
        'x-amz-server-side-encryption',
        'x-amz-server-side-encryption-aws-kms-key-id',
      ]);
      assert.ok(put.ok, put.error);
      assert.equal(put.status, 200, Buffer.from(put.bodyBase64 ?? '', 'base64').toString());
      assert.equal(put.headers!['x-amz-server-side-encryption'], 'aws:kms');
      assert.equal(put.headers!['x-amz-server-side-encryption-aws-kms-key-id'], keyArn);
      assert.match(put.headers!['etag'] ?? '', /^"[0-9a-f]{32}"$/);
      assert.deepEqual(await bodyBytes(await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'fetch/put.bin' }))), data);
    } finally {
      await page.close();
    }
  });

  test('an_HTML_form_POST_with_presigned_post_fields_and_SSE_KMS_uploads_the_chosen_file', async () => {
    const data = randomBytes(70_000);
    const path = join(workDir, 'chosen file.bin');
    writeFileSync(path, data);
    const redirect = `${page1.origin}/done`;
    const { url, fields } = await createPresignedPost(s3 as never, {
      Bucket: BUCKET,
      Key: 'form/${filename}',
      Fields: { 'x-amz-server-side-encryption': 'aws:kms', 'x-amz-server-side-encryption-aws-kms-key-id': keyArn, success_action_redirect: redirect },
      Conditions: [['content-length-range', 1, 1_000_000]],
      Expires: 300,
    });
    const page = await openPage(page1.origin);
    try {
      // The form is built by the page's own script (PAGE_SCRIPT): a plain HTML form, as a site would serve it.
      await page.evaluate(`buildForm(${JSON.stringify(url)}, ${JSON.stringify(fields)})`);
      const input = await page.$('input[type=file]');
      await input!.uploadFile(path);
      await Promise.all([page.waitForNavigation(), page.evaluate('document.forms[0].submit()')]);
      assert.equal(new URL(page.url()).pathname, '/done');
    } finally {
      await page.close();
    }
    assert.equal(page1.redirects.length, 1);
    const q = page1.redirects[0]!;
    assert.equal(q.get('bucket'), BUCKET);
    assert.equal(q.get('key'), 'form/chosen file.bin');
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'form/chosen file.bin' }));
    assert.equal(q.get('etag'), head.ETag);
    assert.equal(head.ServerSideEncryption, 'aws:kms');
    assert.equal(head.SSEKMSKeyId, keyArn);
    assert.deepEqual(await bodyBytes(await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'form/chosen file.bin' }))), data);
  });

  test('fetch_with_FormData_from_presigned_post_reads_the_encryption_header', async () => {
    const data = randomBytes(20_000);
    const { url, fields } = await createPresignedPost(s3 as never, {
      Bucket: BUCKET,
      Key: 'formdata/upload.bin',
      Fields: { 'x-amz-server-side-encryption': 'aws:kms', 'x-amz-server-side-encryption-aws-kms-key-id': keyArn, success_action_status: '201' },
    });
    const page = await openPage(page1.origin);
    try {
      const res = await page.evaluate(
        async (url, fields, b64) => {
          const form = new FormData();
          for (const [k, v] of Object.entries(fields)) form.append(k, v);
          form.append('file', new Blob([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))]), 'upload.bin');
          const r = await fetch(url, { method: 'POST', body: form });
          return { status: r.status, sse: r.headers.get('x-amz-server-side-encryption'), key: r.headers.get('x-amz-server-side-encryption-aws-kms-key-id'), body: await r.text() };
        },
        url,
        fields,
        data.toString('base64'),
      );
      assert.equal(res.status, 201, res.body);
      assert.equal(res.sse, 'aws:kms');
      assert.equal(res.key, keyArn);
      assert.match(res.body, /<Key>formdata\/upload\.bin<\/Key>/);
    } finally {
      await page.close();
    }
    assert.deepEqual(await bodyBytes(await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'formdata/upload.bin' }))), data);
  });

  test('a_presigned_GET_downloads_byte_exact_with_its_encryption_header', async () => {
    const data = randomBytes(300_000);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'presigned/get.bin', Body: data }));
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: BUCKET, Key: 'presigned/get.bin' }), { expiresIn: 300 });
    const page = await openPage(page1.origin);
    try {
      const got = await pageFetch(page, url, { method: 'GET' }, ['x-amz-server-side-encryption', 'x-amz-server-side-encryption-aws-kms-key-id', 'content-length']);
      assert.ok(got.ok, got.error);
      assert.equal(got.status, 200);
      assert.deepEqual(Buffer.from(got.bodyBase64!, 'base64'), data);
      assert.equal(got.headers!['x-amz-server-side-encryption'], 'aws:kms');
      assert.equal(got.headers!['x-amz-server-side-encryption-aws-kms-key-id'], keyArn);
      // Content-Length is CORS-safelisted; a header the rule does not expose stays hidden from the page.
      assert.equal(got.headers!['content-length'], String(data.length));
      const ranged = await pageFetch(page, url, { method: 'GET', headers: { range: 'bytes=1000-1999' } }, ['x-amz-server-side-encryption']);
      assert.ok(ranged.ok, ranged.error);
      assert.equal(ranged.status, 206);
      assert.deepEqual(Buffer.from(ranged.bodyBase64!, 'base64'), data.subarray(1000, 2000));
    } finally {
      await page.close();
    }
  });

  test('a_presigned_PUT_uploads_from_the_page_after_its_preflight', async () => {
    const data = randomBytes(100_000);
    const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket: BUCKET, Key: 'presigned/put.bin' }), { expiresIn: 300 });
    const page = await openPage(page1.origin);
    try {
      const put = await pageFetch(page, url, { method: 'PUT', bodyBase64: data.toString('base64') }, ['x-amz-server-side-encryption', 'etag']);
      assert.ok(put.ok, put.error);
      assert.equal(put.status, 200, Buffer.from(put.bodyBase64 ?? '', 'base64').toString());
      // The bucket's default (SSE-KMS) applied, and the page may read it.
      assert.equal(put.headers!['x-amz-server-side-encryption'], 'aws:kms');
    } finally {
      await page.close();
    }
    assert.deepEqual(await bodyBytes(await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'presigned/put.bin' }))), data);
  });

  test('a_page_from_an_origin_no_rule_allows_is_refused_by_the_browser', async () => {
    const page = await openPage(page2.origin);
    try {
      const signed = await pageFetch(page, `${coffer.url}/${BUCKET}?encryption=`, { method: 'GET', headers: await signedHeaders('GET', `/${BUCKET}`, { encryption: '' }, Buffer.alloc(0)) }, []);
      assert.equal(signed.ok, false);
      assert.match(signed.error ?? '', /^TypeError/);
      const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: BUCKET, Key: 'presigned/get.bin' }), { expiresIn: 300 });
      const presigned = await pageFetch(page, url, { method: 'GET' }, []);
      assert.equal(presigned.ok, false);
      assert.match(presigned.error ?? '', /^TypeError/);
    } finally {
      await page.close();
    }
  });
});
