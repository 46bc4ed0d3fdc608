/**
 * The web console in a real browser (headless Chromium, puppeteer-core): log
 * in, create a bucket, create a KMS key and make it the bucket's SSE-KMS
 * default, upload a file and see its encryption, download it, disable the key
 * and see the read fail with the KMS error; a user whose policy lacks
 * s3:PutEncryptionConfiguration sees that action refused. The console calls
 * Coffer's own APIs as the logged-in identity, so the SDK checks below see
 * exactly what the browser did.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { GetBucketEncryptionCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import type { Browser, Page } from 'puppeteer-core';
import { consoleLogin, launchBrowser, noBrowser, waitForText } from '../helpers/browser.js';
import { startServer, type TestServer } from '../helpers/server.js';

describe('web console in a browser', { skip: noBrowser() }, () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  const dir = mkdtempSync(join(tmpdir(), 'coffer-console-'));
  const downloads = join(dir, 'downloads');

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
    page = await browser.newPage();
    const cdp = await page.createCDPSession();
    await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads });
  });
  after(async () => {
    await browser?.close();
    await server?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const go = async (hash: string, ready: string) => {
    await page.evaluate((h: string) => ((globalThis as any).location.hash = h), hash);
    await page.waitForSelector(ready, { visible: true });
  };
  const errorBanner = () => waitForText(page, '#error', '');

  test('login_bucket_SSE_KMS_upload_download_and_a_disabled_key', async () => {
    await consoleLogin(page, server.url, server.accessKeyId, server.secretAccessKey);
    assert.match(await waitForText(page, '#whoami', ':root'), /^arn:aws:iam::\d{12}:root$/);
    // The session is an HttpOnly, SameSite=Strict cookie; the secret is nowhere in the page or its storage.
    const cookies = await browser.cookies();
    const session = cookies.find((c) => c.name === 'coffer_console');
    assert.ok(session, 'a session cookie');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');
    assert.equal(await page.evaluate(() => String((globalThis as any).document.cookie)), '', 'scripts cannot read it');
    const stored = await page.evaluate(() => JSON.stringify([(globalThis as any).sessionStorage, (globalThis as any).localStorage]));
    assert.ok(!stored.includes(server.secretAccessKey));
    assert.ok(!(await page.content()).includes(server.secretAccessKey), 'the secret is not rendered back');

    // A bucket.
    await page.waitForSelector('#new-bucket', { visible: true });
    await page.type('#new-bucket', 'browser-bucket');
    await page.click('#create-bucket-submit');
    await waitForText(page, '#bucket-name', 'browser-bucket');
    // New buckets report SSE-S3 as their default, as S3's have since 2023.
    assert.equal(await waitForText(page, '#enc-algorithm', 'AES256'), 'AES256');

    // A KMS key with an alias.
    await go('#/keys', '#create-key');
    await page.type('#key-description', 'made in the browser');
    await page.type('#key-alias', 'alias/browser');
    await page.click('#create-key-submit');
    const created = await waitForText(page, '#notice', 'Created key');
    const keyId = /Created key ([0-9a-f-]{36})/.exec(created)![1]!;
    const row = `tr[data-key-id="${keyId}"]`;
    await waitForText(page, `${row} .key-aliases`, 'alias/browser');
    assert.equal(await waitForText(page, `${row} .key-state`, 'Enabled'), 'Enabled');

    // SSE-KMS by default with it (no S3 Bucket Key: every read asks the KMS, so a disabled key shows at once).
    await go('#/bucket/browser-bucket', '#encryption-form');
    await page.select('#enc-mode', 'aws:kms');
    await page.type('#enc-key', 'alias/browser');
    await page.$eval('#enc-bucketkey', (e) => ((e as any).checked = false));
    await page.click('#enc-save');
    await waitForText(page, '#notice', 'Default encryption set');
    assert.equal(await waitForText(page, '#enc-algorithm', 'aws:kms'), 'aws:kms');
    assert.equal(await waitForText(page, '#enc-bucket-key', 'false'), 'false');
    const s3 = server.client();
    const enc = await s3.send(new GetBucketEncryptionCommand({ Bucket: 'browser-bucket' }));
    assert.equal(enc.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm, 'aws:kms');

    // Upload through the browser; the listing shows the object's encryption and key.
    const content = `hello from the browser ${Date.now()}\n`;
    const file = join(dir, 'hello.txt');
    writeFileSync(file, content);
    const input = await page.waitForSelector('#upload-file');
    await input!.uploadFile(file);
    await page.click('#upload-submit');
    await waitForText(page, '#notice', 'Uploaded hello.txt');
    const obj = 'tr[data-key="hello.txt"]';
    assert.equal(await waitForText(page, `${obj} .obj-enc`, 'aws:kms'), 'aws:kms');
    assert.match(await waitForText(page, `${obj} .obj-kms`, keyId), new RegExp(`^arn:aws:kms:us-east-1:\\d{12}:key/${keyId}$`));
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'browser-bucket', Key: 'hello.txt' }));
    assert.equal(head.ServerSideEncryption, 'aws:kms');
    assert.ok(head.SSEKMSKeyId?.endsWith(keyId));
    assert.equal(head.ContentLength, Buffer.byteLength(content));

    // Download through the browser: the same bytes.
    await page.click(`${obj} .download`);
    await waitForText(page, '#notice', 'Downloaded hello.txt');
    let saved: string[] = [];
    for (let i = 0; i < 50 && !(saved = readdirSync(downloads, { withFileTypes: true }).filter((d) => d.name === 'hello.txt').map((d) => d.name)).length; i++) await sleep(100);
    assert.deepEqual(saved, ['hello.txt']);
    assert.equal(readFileSync(join(downloads, 'hello.txt'), 'utf8'), content);

    // Disable the key in the console; the read then fails with S3's KMS error.
    await go('#/keys', row);
    await page.click(`${row} .key-disable`);
    assert.equal(await waitForText(page, `${row} .key-state`, 'Disabled'), 'Disabled');
    await go('#/bucket/browser-bucket', obj);
    await page.click(`${obj} .download`);
    assert.match(await errorBanner(), /^KMS\.DisabledException: /);

    // The audit log shows the key's story, filtered by the key.
    await go('#/audit', '#audit-form');
    await page.type('#audit-key', keyId);
    await page.click('#audit-submit');
    await waitForText(page, '#audit', 'DisableKey');
    const ops = await page.$$eval('#audit tbody tr td:nth-child(4)', (tds) => tds.map((td) => td.textContent ?? ''));
    for (const op of ['CreateKey', 'GenerateDataKey', 'Decrypt', 'DisableKey']) assert.ok(ops.includes(op), `${op} in ${ops.join(', ')}`);
    const outcomes = await page.$$eval('#audit tbody tr td:nth-child(6)', (tds) => tds.map((td) => td.textContent ?? ''));
    assert.ok(outcomes.includes('DisabledException'), 'the refused Decrypt is there');
    s3.destroy();
  });

  test('a_user_without_s3_PutEncryptionConfiguration_is_refused_in_the_console', async () => {
    const iam = new IAMClient({ endpoint: server.url, region: server.region, credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey } });
    await iam.send(new CreateUserCommand({ UserName: 'viewer' }));
    const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: 'viewer' }));
    await iam.send(
      new PutUserPolicyCommand({
        UserName: 'viewer',
        PolicyName: 'look-but-do-not-configure',
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: ['s3:ListAllMyBuckets', 's3:ListBucket', 's3:GetEncryptionConfiguration', 's3:GetBucketPolicy', 's3:GetBucketPublicAccessBlock', 's3:GetObject', 'kms:ListKeys', 'kms:ListAliases', 'kms:DescribeKey'], Resource: '*' }],
        }),
      }),
    );
    iam.destroy();
    // The root's console lists the user and its key (never a secret).
    await go('#/users', '#users');
    assert.equal(await waitForText(page, 'tr[data-user="viewer"] .user-keys', AccessKey!.AccessKeyId!), `${AccessKey!.AccessKeyId} (Active)`);
    assert.ok(!(await page.content()).includes(AccessKey!.SecretAccessKey!));

    await page.click('#logout');
    await page.waitForSelector('#login-form', { visible: true });
    await consoleLogin(page, server.url, AccessKey!.AccessKeyId!, AccessKey!.SecretAccessKey!);
    assert.match(await waitForText(page, '#whoami', 'user/viewer'), /:user\/viewer$/);
    await page.waitForSelector('tr[data-bucket="browser-bucket"]', { visible: true });
    await go('#/bucket/browser-bucket', '#encryption-form');
    assert.equal(await waitForText(page, '#enc-algorithm', 'aws:kms'), 'aws:kms', 'it may read the setting');
    await page.select('#enc-mode', 'AES256');
    await page.click('#enc-save');
    assert.match(await errorBanner(), /^AccessDenied: /);
    const s3 = server.client();
    const enc = await s3.send(new GetBucketEncryptionCommand({ Bucket: 'browser-bucket' }));
    assert.equal(enc.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm, 'aws:kms', 'unchanged');
    s3.destroy();
    // Nor may it read the KMS audit log (cloudtrail:LookupEvents).
    await go('#/audit', '#audit-form');
    assert.match(await errorBanner(), /^AccessDenied: .*cloudtrail:LookupEvents/);
  });
});
