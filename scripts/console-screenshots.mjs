#!/usr/bin/env node
// Screenshots of the web console's main pages into docs/console/*.png (referenced from the
// README and docs/operations.md). Run after a build: `npm run build && node scripts/console-screenshots.mjs`.
// Starts a throwaway server with some buckets, objects, keys and a user, and drives headless
// Chromium through the console. Not part of the test suite.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, PutBucketEncryptionCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { CreateAliasCommand, CreateKeyCommand, EnableKeyRotationCommand, ScheduleKeyDeletionCommand } from '@aws-sdk/client-kms';
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient } from '@aws-sdk/client-iam';
import { KMSClient } from '@aws-sdk/client-kms';

const root = new URL('..', import.meta.url).pathname;
const { startServer } = await import(join(root, 'dist/test/helpers/server.js'));
const { consoleLogin, launchBrowser, waitForText } = await import(join(root, 'dist/test/helpers/browser.js'));

const out = join(root, 'docs', 'console');
mkdirSync(out, { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'coffer-shots-'));
const server = await startServer({ env: { COFFER_KMS_MIN_PENDING_WINDOW_DAYS: '7' } });
const browser = await launchBrowser();
try {
  const creds = { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey };
  const s3 = server.client();
  const kms = new KMSClient({ endpoint: server.url, region: server.region, credentials: creds });
  const iam = new IAMClient({ endpoint: server.url, region: server.region, credentials: creds });
  const key = (await kms.send(new CreateKeyCommand({ Description: 'photos of the team' }))).KeyMetadata.KeyId;
  await kms.send(new CreateAliasCommand({ AliasName: 'alias/photos', TargetKeyId: key }));
  await kms.send(new EnableKeyRotationCommand({ KeyId: key, RotationPeriodInDays: 365 }));
  const old = (await kms.send(new CreateKeyCommand({ Description: 'retired project' }))).KeyMetadata.KeyId;
  await kms.send(new ScheduleKeyDeletionCommand({ KeyId: old, PendingWindowInDays: 7 }));
  for (const b of ['photos', 'backups', 'public-site']) await s3.send(new CreateBucketCommand({ Bucket: b }));
  await s3.send(new PutBucketEncryptionCommand({ Bucket: 'photos', ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: 'alias/photos' }, BucketKeyEnabled: true }] } }));
  for (const [k, size] of [['2026/offsite.jpg', 183_211], ['2026/team.jpg', 94_310], ['README.txt', 812]]) await s3.send(new PutObjectCommand({ Bucket: 'photos', Key: k, Body: Buffer.alloc(size, 1) }));
  await s3.send(new PutObjectCommand({ Bucket: 'photos', Key: 'sse-s3.bin', Body: 'x', ServerSideEncryption: 'AES256' }));
  await s3.send(new PutObjectCommand({ Bucket: 'backups', Key: 'db.dump', Body: Buffer.alloc(50_000, 2) }));
  for (const u of ['alice', 'ci-deploy']) {
    await iam.send(new CreateUserCommand({ UserName: u }));
    await iam.send(new CreateAccessKeyCommand({ UserName: u }));
  }
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 760 });
  await page.goto(`${server.url}/_coffer/console/`);
  await page.waitForSelector('#login-form', { visible: true });
  await page.type('#login-key', server.accessKeyId);
  await page.screenshot({ path: join(out, 'login.png') });
  await page.goto('about:blank');
  await consoleLogin(page, server.url, server.accessKeyId, server.secretAccessKey);
  const shot = async (hash, ready, name) => {
    await page.evaluate((h) => (location.hash = h), hash);
    await page.waitForSelector(ready, { visible: true });
    await new Promise((r) => setTimeout(r, 300));
    await page.screenshot({ path: join(out, `${name}.png`), fullPage: true });
    console.log(`docs/console/${name}.png`);
  };
  await shot('#/buckets', 'tr[data-bucket="photos"]', 'buckets');
  await shot('#/bucket/photos', 'tr[data-key="README.txt"]', 'bucket');
  await shot('#/keys', `tr[data-key-id="${key}"]`, 'keys');
  await page.evaluate(() => (location.hash = '#/audit'));
  await waitForText(page, '#audit', 'CreateKey');
  await page.screenshot({ path: join(out, 'audit.png'), fullPage: true });
  console.log('docs/console/audit.png');
  await shot('#/users', 'tr[data-user="alice"]', 'users');
  writeFileSync(join(work, 'done'), '');
} finally {
  await browser.close();
  await server.destroy();
  rmSync(work, { recursive: true, force: true });
}
