/**
 * Identity and access end to end: users and keys through the IAM API
 * (@aws-sdk/client-iam), STS GetCallerIdentity, bucket policies, the classic
 * encryption policies, cross-account and anonymous access, disabled keys.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  DeleteAccessKeyCommand,
  DeleteUserCommand,
  DeleteUserPolicyCommand,
  GetUserCommand,
  GetUserPolicyCommand,
  IAMClient,
  ListAccessKeysCommand,
  ListUserPoliciesCommand,
  ListUsersCommand,
  PutUserPolicyCommand,
  UpdateAccessKeyCommand,
} from '@aws-sdk/client-iam';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketPolicyCommand,
  DeletePublicAccessBlockCommand,
  GetBucketEncryptionCommand,
  GetBucketPolicyCommand,
  GetBucketPolicyStatusCommand,
  GetPublicAccessBlockCommand,
  GetObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  PutBucketEncryptionCommand,
  PutBucketPolicyCommand,
  PutObjectCommand,
  PutPublicAccessBlockCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { KMSClient, ListKeysCommand } from '@aws-sdk/client-kms';
import { expectXmlError, queryString, s3Signer, signedRequest } from '../helpers/raw-s3.js';
import { expectS3Error } from '../helpers/s3.js';
import { CLI, startServer, type TestServer } from '../helpers/server.js';

const run = promisify(execFile);

describe('identity and access', () => {
  let server: TestServer;
  let root: S3Client;
  let iam: IAMClient;
  let account = '';
  const creds = (accessKeyId: string, secretAccessKey: string) => ({ accessKeyId, secretAccessKey });
  const s3As = (c: { accessKeyId: string; secretAccessKey: string }) => server.client({ credentials: c });
  const iamAs = (c: { accessKeyId: string; secretAccessKey: string }) => new IAMClient({ endpoint: server.url, region: 'us-east-1', credentials: c });
  const newUser = async (name: string) => {
    await iam.send(new CreateUserCommand({ UserName: name }));
    const k = (await iam.send(new CreateAccessKeyCommand({ UserName: name }))).AccessKey!;
    return creds(k.AccessKeyId!, k.SecretAccessKey!);
  };
  const policy = (statements: unknown[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements });

  before(async () => {
    server = await startServer();
    root = server.client();
    iam = iamAs(creds(server.accessKeyId, server.secretAccessKey));
    const sts = new STSClient({ endpoint: server.url, region: 'us-east-1', credentials: creds(server.accessKeyId, server.secretAccessKey) });
    account = (await sts.send(new GetCallerIdentityCommand({}))).Account!;
  });
  after(async () => {
    await server?.destroy();
  });

  test('GetCallerIdentity_root_and_user', async () => {
    assert.match(account, /^\d{12}$/);
    const alice = await newUser('caller-alice');
    const sts = new STSClient({ endpoint: server.url, region: 'us-east-1', credentials: alice });
    const id = await sts.send(new GetCallerIdentityCommand({}));
    assert.equal(id.Arn, `arn:aws:iam::${account}:user/caller-alice`);
    assert.equal(id.Account, account);
    assert.match(id.UserId!, /^AIDA/);
  });

  test('IAM_users_keys_policies_round_trip_and_errors', async () => {
    const created = await iam.send(new CreateUserCommand({ UserName: 'iam-bob' }));
    assert.equal(created.User?.Arn, `arn:aws:iam::${account}:user/iam-bob`);
    await expectS3Error(iam.send(new CreateUserCommand({ UserName: 'IAM-BOB' })), 'EntityAlreadyExistsException', 409);
    await expectS3Error(iam.send(new GetUserCommand({ UserName: 'nobody' })), 'NoSuchEntityException', 404);
    assert.equal((await iam.send(new GetUserCommand({ UserName: 'iam-bob' }))).User?.UserName, 'iam-bob');
    assert.ok((await iam.send(new ListUsersCommand({}))).Users?.some((u) => u.UserName === 'iam-bob'));
    const k1 = (await iam.send(new CreateAccessKeyCommand({ UserName: 'iam-bob' }))).AccessKey!;
    await iam.send(new CreateAccessKeyCommand({ UserName: 'iam-bob' }));
    await expectS3Error(iam.send(new CreateAccessKeyCommand({ UserName: 'iam-bob' })), 'LimitExceededException', 409);
    const listed = await iam.send(new ListAccessKeysCommand({ UserName: 'iam-bob' }));
    assert.equal(listed.AccessKeyMetadata?.length, 2);
    assert.ok(listed.AccessKeyMetadata?.every((k) => !('SecretAccessKey' in k)));
    const doc = policy([{ Effect: 'Allow', Action: 's3:ListBucket', Resource: '*' }]);
    await iam.send(new PutUserPolicyCommand({ UserName: 'iam-bob', PolicyName: 'list', PolicyDocument: doc }));
    await expectS3Error(iam.send(new PutUserPolicyCommand({ UserName: 'iam-bob', PolicyName: 'bad', PolicyDocument: '{"Statement":[{"Effect":"Maybe"}]}' })), 'MalformedPolicyDocumentException', 400);
    assert.deepEqual((await iam.send(new ListUserPoliciesCommand({ UserName: 'iam-bob' }))).PolicyNames, ['list']);
    const got = await iam.send(new GetUserPolicyCommand({ UserName: 'iam-bob', PolicyName: 'list' }));
    assert.equal(decodeURIComponent(got.PolicyDocument!), doc);
    await expectS3Error(iam.send(new DeleteUserCommand({ UserName: 'iam-bob' })), 'DeleteConflictException', 409);
    // A user without IAM permissions may not manage users.
    await expectS3Error(iamAs(creds(k1.AccessKeyId!, k1.SecretAccessKey!)).send(new CreateUserCommand({ UserName: 'x' })), 'AccessDenied', 403);
    await iam.send(new DeleteUserPolicyCommand({ UserName: 'iam-bob', PolicyName: 'list' }));
    for (const k of listed.AccessKeyMetadata!) await iam.send(new DeleteAccessKeyCommand({ UserName: 'iam-bob', AccessKeyId: k.AccessKeyId! }));
    await iam.send(new DeleteUserCommand({ UserName: 'iam-bob' }));
    await expectS3Error(iam.send(new GetUserCommand({ UserName: 'iam-bob' })), 'NoSuchEntityException', 404);
  });

  test('PutBucketEncryption_denied_until_a_bucket_policy_grants_it', async () => {
    await root.send(new CreateBucketCommand({ Bucket: 'enc-grant' }));
    const carol = s3As(await newUser('enc-carol'));
    const config = { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' as const } }] };
    await expectS3Error(carol.send(new PutBucketEncryptionCommand({ Bucket: 'enc-grant', ServerSideEncryptionConfiguration: config })), 'AccessDenied', 403);
    await expectS3Error(carol.send(new GetBucketEncryptionCommand({ Bucket: 'enc-grant' })), 'AccessDenied', 403);
    // Denied before the body is looked at: a malformed configuration still gets AccessDenied.
    await expectS3Error(carol.send(new PutBucketEncryptionCommand({ Bucket: 'enc-grant', ServerSideEncryptionConfiguration: { Rules: [] } })), 'AccessDenied', 403);
    await root.send(
      new PutBucketPolicyCommand({
        Bucket: 'enc-grant',
        Policy: policy([{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${account}:user/enc-carol` }, Action: ['s3:PutEncryptionConfiguration', 's3:GetEncryptionConfiguration'], Resource: 'arn:aws:s3:::enc-grant' }]),
      }),
    );
    await carol.send(new PutBucketEncryptionCommand({ Bucket: 'enc-grant', ServerSideEncryptionConfiguration: config }));
    const got = await carol.send(new GetBucketEncryptionCommand({ Bucket: 'enc-grant' }));
    assert.equal(got.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm, 'AES256');
    await expectS3Error(carol.send(new PutBucketEncryptionCommand({ Bucket: 'enc-grant', ServerSideEncryptionConfiguration: { Rules: [] } })), 'MalformedXML', 400);
    // Still nothing else: objects are not hers.
    await expectS3Error(carol.send(new PutObjectCommand({ Bucket: 'enc-grant', Key: 'k', Body: 'x' })), 'AccessDenied', 403);
  });

  test('PutObject_expect_100_continue_denied_by_policy_is_refused_before_the_body', async () => {
    // S3 sends 100 Continue only to requests it will accept: a correctly signed but
    // unauthorized upload gets its 403 at once and never sends the body.
    await root.send(new CreateBucketCommand({ Bucket: 'continue-denied' }));
    const dave = await newUser('continue-dave');
    const body = Buffer.alloc(100_000, 1);
    const denied = await signedRequest(server, {
      method: 'PUT',
      path: '/continue-denied/k',
      headers: { expect: '100-continue', 'content-length': String(body.length) },
      body,
      payloadHash: 'UNSIGNED-PAYLOAD',
      waitForContinue: true,
      sign: s3Signer(server, dave.secretAccessKey, dave.accessKeyId),
    });
    expectXmlError(denied, 'AccessDenied');
    assert.equal(denied.continued, false, 'no 100 Continue for a refused request');
    // The owner gets the go-ahead, and the upload lands.
    const ok = await signedRequest(server, {
      method: 'PUT',
      path: '/continue-denied/k',
      headers: { expect: '100-continue', 'content-length': String(body.length) },
      body,
      payloadHash: 'UNSIGNED-PAYLOAD',
      waitForContinue: true,
    });
    assert.equal(ok.status, 200, ok.body.toString());
    assert.equal(ok.continued, true);
  });

  test('explicit_deny_blocks_the_owner_who_can_still_delete_the_policy', async () => {
    await root.send(new CreateBucketCommand({ Bucket: 'owner-deny' }));
    await root.send(
      new PutBucketPolicyCommand({ Bucket: 'owner-deny', Policy: policy([{ Effect: 'Deny', Principal: '*', Action: 's3:PutEncryptionConfiguration', Resource: 'arn:aws:s3:::owner-deny' }]) }),
    );
    await expectS3Error(
      root.send(new PutBucketEncryptionCommand({ Bucket: 'owner-deny', ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] } })),
      'AccessDenied',
      403,
    );
    const status = await root.send(new GetBucketPolicyStatusCommand({ Bucket: 'owner-deny' }));
    assert.equal(status.PolicyStatus?.IsPublic, false);
    await root.send(new DeleteBucketPolicyCommand({ Bucket: 'owner-deny' }));
    await expectS3Error(root.send(new GetBucketPolicyCommand({ Bucket: 'owner-deny' })), 'NoSuchBucketPolicy', 404);
    await root.send(new PutBucketEncryptionCommand({ Bucket: 'owner-deny', ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] } }));
  });

  test('PutBucketPolicy_malformed_and_GetBucketPolicy_round_trip', async () => {
    await root.send(new CreateBucketCommand({ Bucket: 'policy-shapes' }));
    await expectS3Error(root.send(new PutBucketPolicyCommand({ Bucket: 'policy-shapes', Policy: '{"Statement":' })), 'MalformedPolicy', 400);
    await expectS3Error(
      root.send(new PutBucketPolicyCommand({ Bucket: 'policy-shapes', Policy: policy([{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::elsewhere/*' }]) })),
      'MalformedPolicy',
      400,
    );
    await expectS3Error(root.send(new GetBucketPolicyCommand({ Bucket: 'policy-shapes' })), 'NoSuchBucketPolicy', 404);
    const doc = policy([{ Sid: 'Read', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::policy-shapes/*' }]);
    // A public policy: the new bucket's BlockPublicPolicy must be lifted first.
    await root.send(new DeletePublicAccessBlockCommand({ Bucket: 'policy-shapes' }));
    await root.send(new PutBucketPolicyCommand({ Bucket: 'policy-shapes', Policy: doc }));
    assert.equal((await root.send(new GetBucketPolicyCommand({ Bucket: 'policy-shapes' }))).Policy, doc);
    assert.equal((await root.send(new GetBucketPolicyStatusCommand({ Bucket: 'policy-shapes' }))).PolicyStatus?.IsPublic, true);
    await expectS3Error(root.send(new GetBucketPolicyCommand({ Bucket: 'no-such-bucket-here' })), 'NoSuchBucket', 404);
  });

  test('deny_uploads_without_aws_kms_single_multipart_and_copy', async () => {
    await root.send(new CreateBucketCommand({ Bucket: 'kms-only' }));
    await root.send(new PutObjectCommand({ Bucket: 'kms-only', Key: 'before', Body: 'plain' }));
    await root.send(
      new PutBucketPolicyCommand({
        Bucket: 'kms-only',
        Policy: policy([
          { Sid: 'DenyIncorrectEncryptionHeader', Effect: 'Deny', Principal: '*', Action: 's3:PutObject', Resource: 'arn:aws:s3:::kms-only/*', Condition: { StringNotEquals: { 's3:x-amz-server-side-encryption': 'aws:kms' } } },
        ]),
      }),
    );
    await expectS3Error(root.send(new PutObjectCommand({ Bucket: 'kms-only', Key: 'plain', Body: 'x' })), 'AccessDenied', 403);
    await expectS3Error(root.send(new PutObjectCommand({ Bucket: 'kms-only', Key: 'aes', Body: 'x', ServerSideEncryption: 'AES256' })), 'AccessDenied', 403);
    await root.send(new PutObjectCommand({ Bucket: 'kms-only', Key: 'kms', Body: 'x', ServerSideEncryption: 'aws:kms' }));
    await expectS3Error(root.send(new CreateMultipartUploadCommand({ Bucket: 'kms-only', Key: 'mp-plain' })), 'AccessDenied', 403);
    const up = await root.send(new CreateMultipartUploadCommand({ Bucket: 'kms-only', Key: 'mp-kms', ServerSideEncryption: 'aws:kms' }));
    const part = await root.send(new UploadPartCommand({ Bucket: 'kms-only', Key: 'mp-kms', UploadId: up.UploadId!, PartNumber: 1, Body: 'part' }));
    await root.send(new CompleteMultipartUploadCommand({ Bucket: 'kms-only', Key: 'mp-kms', UploadId: up.UploadId!, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag! }] } }));
    await expectS3Error(root.send(new CopyObjectCommand({ Bucket: 'kms-only', Key: 'copy-plain', CopySource: 'kms-only/before' })), 'AccessDenied', 403);
    await root.send(new CopyObjectCommand({ Bucket: 'kms-only', Key: 'copy-kms', CopySource: 'kms-only/before', ServerSideEncryption: 'aws:kms' }));
  });

  test('anonymous_GetObject_through_a_public_read_policy', async () => {
    await root.send(new CreateBucketCommand({ Bucket: 'public-read' }));
    await root.send(new PutObjectCommand({ Bucket: 'public-read', Key: 'hello.txt', Body: 'hello' }));
    const before = await fetch(`${server.url}/public-read/hello.txt`);
    assert.equal(before.status, 403);
    assert.match(await before.text(), /<Code>AccessDenied<\/Code>/);
    // New buckets block public policies (as S3's do since April 2023): lift the block first.
    await root.send(new DeletePublicAccessBlockCommand({ Bucket: 'public-read' }));
    await root.send(new PutBucketPolicyCommand({ Bucket: 'public-read', Policy: policy([{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::public-read/*' }]) }));
    const after = await fetch(`${server.url}/public-read/hello.txt`);
    assert.equal(after.status, 200);
    assert.equal(await after.text(), 'hello');
    const list = await fetch(`${server.url}/public-read?list-type=2`);
    assert.equal(list.status, 403, 'listing was not granted');
    const put = await fetch(`${server.url}/public-read/x`, { method: 'PUT', body: 'x' });
    assert.equal(put.status, 403);
  });

  test('anonymous_GetObject_through_a_Principal_star_policy_works_only_when_the_public_access_block_allows_it', async () => {
    const Bucket = 'pab-read';
    await root.send(new CreateBucketCommand({ Bucket }));
    await root.send(new PutObjectCommand({ Bucket, Key: 'hello.txt', Body: 'hello' }));
    // An unsigned @aws-sdk/client-s3 client: requests go out anonymous.
    const anonymous = server.client({ signer: { sign: async (request) => request } });
    const anonymousGet = () => anonymous.send(new GetObjectCommand({ Bucket, Key: 'hello.txt' }));
    const block = async (flags: { BlockPublicPolicy: boolean; RestrictPublicBuckets: boolean }) =>
      root.send(new PutPublicAccessBlockCommand({ Bucket, PublicAccessBlockConfiguration: { BlockPublicAcls: true, IgnorePublicAcls: true, ...flags } }));
    const publicRead = policy([{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${Bucket}/*` }]);

    // A new bucket blocks everything public.
    const initial = await root.send(new GetPublicAccessBlockCommand({ Bucket }));
    assert.deepEqual(initial.PublicAccessBlockConfiguration, { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true });
    // BlockPublicPolicy: the public policy cannot even be set — not by the owner's root either.
    const refused = await expectS3Error(root.send(new PutBucketPolicyCommand({ Bucket, Policy: publicRead })), 'AccessDenied', 403);
    assert.match(refused.message, /BlockPublicPolicy/);
    await expectS3Error(root.send(new GetBucketPolicyCommand({ Bucket })), 'NoSuchBucketPolicy', 404);
    // A policy pinned to a source address is not public: the block lets it through, and it works.
    const pinned = policy([{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${Bucket}/*`, Condition: { IpAddress: { 'aws:SourceIp': '127.0.0.1/32' } } }]);
    await root.send(new PutBucketPolicyCommand({ Bucket, Policy: pinned }));
    assert.equal(await (await anonymousGet()).Body?.transformToString(), 'hello');
    await root.send(new DeleteBucketPolicyCommand({ Bucket }));

    // RestrictPublicBuckets: the public policy can be set, but grants nothing to anonymous callers.
    await block({ BlockPublicPolicy: false, RestrictPublicBuckets: true });
    await root.send(new PutBucketPolicyCommand({ Bucket, Policy: publicRead }));
    assert.equal((await root.send(new GetBucketPolicyStatusCommand({ Bucket }))).PolicyStatus?.IsPublic, true);
    await expectS3Error(anonymousGet(), 'AccessDenied', 403);
    // The owner account's own users still get what the policy grants them.
    const ivy = s3As(await newUser('pab-ivy'));
    assert.equal(await (await ivy.send(new GetObjectCommand({ Bucket, Key: 'hello.txt' }))).Body?.transformToString(), 'hello');

    // Both flags off: the same policy now lets anonymous callers read.
    await block({ BlockPublicPolicy: false, RestrictPublicBuckets: false });
    assert.equal(await (await anonymousGet()).Body?.transformToString(), 'hello');
    // Turning the block back on takes effect at once for the policy already there.
    await block({ BlockPublicPolicy: true, RestrictPublicBuckets: true });
    await expectS3Error(anonymousGet(), 'AccessDenied', 403);

    // Without a block at all, as after DeletePublicAccessBlock, nothing is blocked.
    await root.send(new DeletePublicAccessBlockCommand({ Bucket }));
    await expectS3Error(root.send(new GetPublicAccessBlockCommand({ Bucket })), 'NoSuchPublicAccessBlockConfiguration', 404);
    assert.equal(await (await anonymousGet()).Body?.transformToString(), 'hello');
    await root.send(new DeletePublicAccessBlockCommand({ Bucket })); // deleting again is fine
    anonymous.destroy();
  });

  test('PutPublicAccessBlock_needs_s3_PutBucketPublicAccessBlock_and_validates_its_body', async () => {
    const Bucket = 'pab-perm';
    await root.send(new CreateBucketCommand({ Bucket }));
    const jack = s3As(await newUser('pab-jack'));
    const config = { BlockPublicAcls: false, IgnorePublicAcls: false, BlockPublicPolicy: false, RestrictPublicBuckets: false };
    await expectS3Error(jack.send(new PutPublicAccessBlockCommand({ Bucket, PublicAccessBlockConfiguration: config })), 'AccessDenied', 403);
    await expectS3Error(jack.send(new GetPublicAccessBlockCommand({ Bucket })), 'AccessDenied', 403);
    await expectS3Error(jack.send(new DeletePublicAccessBlockCommand({ Bucket })), 'AccessDenied', 403);
    await iam.send(
      new PutUserPolicyCommand({
        UserName: 'pab-jack',
        PolicyName: 'pab',
        PolicyDocument: policy([{ Effect: 'Allow', Action: ['s3:PutBucketPublicAccessBlock', 's3:GetBucketPublicAccessBlock'], Resource: `arn:aws:s3:::${Bucket}` }]),
      }),
    );
    // An element left out is false.
    await jack.send(new PutPublicAccessBlockCommand({ Bucket, PublicAccessBlockConfiguration: { BlockPublicPolicy: true } }));
    assert.deepEqual((await jack.send(new GetPublicAccessBlockCommand({ Bucket }))).PublicAccessBlockConfiguration, { ...config, BlockPublicPolicy: true });
    await jack.send(new DeletePublicAccessBlockCommand({ Bucket }));
    await expectS3Error(jack.send(new GetPublicAccessBlockCommand({ Bucket })), 'NoSuchPublicAccessBlockConfiguration', 404);
    // Raw requests: a document that is not a PublicAccessBlockConfiguration, and a missing Content-MD5.
    const signer = s3Signer(server);
    const bad = Buffer.from('<PublicAccessBlockConfiguration><BlockPublicAcls>maybe</BlockPublicAcls></PublicAccessBlockConfiguration>');
    const badRes = await signedRequest(server, { sign: signer, method: 'PUT', path: `/${Bucket}`, query: { publicAccessBlock: '' }, body: bad, headers: { 'content-md5': createHash('md5').update(bad).digest('base64') } });
    assert.equal(badRes.status, 400);
    expectXmlError(badRes, 'MalformedXML');
    const good = Buffer.from('<PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPublicAcls></PublicAccessBlockConfiguration>');
    const noMd5 = await signedRequest(server, { sign: signer, method: 'PUT', path: `/${Bucket}`, query: { publicAccessBlock: '' }, body: good });
    assert.equal(noMd5.status, 400);
    expectXmlError(noMd5, 'InvalidRequest');
  });

  test('disabled_key_and_deleted_user_get_InvalidAccessKeyId_at_once', async () => {
    await root.send(new CreateBucketCommand({ Bucket: 'key-state' }));
    const dave = await newUser('key-dave');
    await iam.send(new PutUserPolicyCommand({ UserName: 'key-dave', PolicyName: 'all', PolicyDocument: policy([{ Effect: 'Allow', Action: 's3:*', Resource: '*' }]) }));
    const s3 = s3As(dave);
    await s3.send(new PutObjectCommand({ Bucket: 'key-state', Key: 'k', Body: 'x' }));
    const signed = await s3Signer(server, dave.secretAccessKey, dave.accessKeyId).presign(
      { method: 'GET', protocol: 'http:', hostname: '127.0.0.1', port: server.port, path: '/key-state/k', query: {}, headers: { host: `127.0.0.1:${server.port}`, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } },
      { expiresIn: 300, unsignableHeaders: new Set(['x-amz-content-sha256']), unhoistableHeaders: new Set(['x-amz-content-sha256']) },
    );
    const presigned = `${server.url}/key-state/k?${queryString(signed.query ?? {})}`;
    const viaUrl = await fetch(presigned);
    assert.equal(viaUrl.status, 200, `a presigned URL carries the user permissions: ${await viaUrl.text()}`);
    await iam.send(new UpdateAccessKeyCommand({ UserName: 'key-dave', AccessKeyId: dave.accessKeyId, Status: 'Inactive' }));
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: 'key-state', Key: 'k' })), 'InvalidAccessKeyId', 403);
    assert.equal((await fetch(presigned)).status, 403);
    await iam.send(new UpdateAccessKeyCommand({ UserName: 'key-dave', AccessKeyId: dave.accessKeyId, Status: 'Active' }));
    await s3.send(new GetObjectCommand({ Bucket: 'key-state', Key: 'k' }));
    await iam.send(new DeleteUserPolicyCommand({ UserName: 'key-dave', PolicyName: 'all' }));
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: 'key-state', Key: 'k' })), 'AccessDenied', 403);
    await iam.send(new DeleteAccessKeyCommand({ UserName: 'key-dave', AccessKeyId: dave.accessKeyId }));
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: 'key-state', Key: 'k' })), 'InvalidAccessKeyId', 403);
  });

  test('identity_policy_grants_within_the_account_and_ListBuckets_owner', async () => {
    await root.send(new CreateBucketCommand({ Bucket: 'home-dirs' }));
    const erin = await newUser('erin');
    await iam.send(
      new PutUserPolicyCommand({
        UserName: 'erin',
        PolicyName: 'home',
        PolicyDocument: policy([
          { Effect: 'Allow', Action: ['s3:PutObject', 's3:GetObject'], Resource: 'arn:aws:s3:::home-dirs/home/${aws:username}/*' },
          { Effect: 'Allow', Action: 's3:ListBucket', Resource: 'arn:aws:s3:::home-dirs', Condition: { StringLike: { 's3:prefix': 'home/${aws:username}/*' } } },
          { Effect: 'Allow', Action: 's3:ListAllMyBuckets', Resource: '*' },
        ]),
      }),
    );
    const s3 = s3As(erin);
    await s3.send(new PutObjectCommand({ Bucket: 'home-dirs', Key: 'home/erin/a', Body: 'a' }));
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket: 'home-dirs', Key: 'home/frank/a', Body: 'a' })), 'AccessDenied', 403);
    assert.equal((await s3.send(new ListObjectsV2Command({ Bucket: 'home-dirs', Prefix: 'home/erin/' }))).KeyCount, 1);
    await expectS3Error(s3.send(new ListObjectsV2Command({ Bucket: 'home-dirs', Prefix: 'home/' })), 'AccessDenied', 403);
    const buckets = await s3.send(new ListBucketsCommand({}));
    assert.ok(buckets.Buckets?.some((b) => b.Name === 'home-dirs'));
    assert.equal(buckets.Owner?.DisplayName, 'coffer-root');
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'home-dirs', Prefix: 'home/erin/', FetchOwner: true }));
    assert.equal(listed.Contents?.[0]?.Owner?.ID, buckets.Owner?.ID, 'objects are owned by the bucket owner account');
  });

  test('cross_account_access_needs_both_sides', async () => {
    await root.send(new CreateBucketCommand({ Bucket: 'shared-x' }));
    await root.send(new PutObjectCommand({ Bucket: 'shared-x', Key: 'k', Body: 'shared' }));
    const { stdout } = await run(process.execPath, [CLI, 'admin', 'account', 'create', 'partner', '--data', server.dataDir], { env: { ...process.env, COFFER_ACCESS_KEY_ID: server.accessKeyId, COFFER_SECRET_ACCESS_KEY: server.secretAccessKey } });
    const field = (name: string) => new RegExp(`^${name}=(.+)$`, 'm').exec(stdout)![1]!;
    const partnerAccount = field('ACCOUNT_ID');
    const partnerRoot = creds(field('AWS_ACCESS_KEY_ID'), field('AWS_SECRET_ACCESS_KEY'));
    const partnerS3 = s3As(partnerRoot);
    const partnerIam = iamAs(partnerRoot);
    await partnerIam.send(new CreateUserCommand({ UserName: 'gus' }));
    const gusKey = (await partnerIam.send(new CreateAccessKeyCommand({ UserName: 'gus' }))).AccessKey!;
    const gus = s3As(creds(gusKey.AccessKeyId!, gusKey.SecretAccessKey!));

    await expectS3Error(partnerS3.send(new GetObjectCommand({ Bucket: 'shared-x', Key: 'k' })), 'AccessDenied', 403);
    await root.send(new PutBucketPolicyCommand({ Bucket: 'shared-x', Policy: policy([{ Effect: 'Allow', Principal: { AWS: partnerAccount }, Action: 's3:GetObject', Resource: 'arn:aws:s3:::shared-x/*' }]) }));
    await partnerS3.send(new GetObjectCommand({ Bucket: 'shared-x', Key: 'k' }));
    // The partner's user needs its own account's identity policy as well.
    await expectS3Error(gus.send(new GetObjectCommand({ Bucket: 'shared-x', Key: 'k' })), 'AccessDenied', 403);
    await partnerIam.send(new PutUserPolicyCommand({ UserName: 'gus', PolicyName: 'read', PolicyDocument: policy([{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::shared-x/*' }]) }));
    await gus.send(new GetObjectCommand({ Bucket: 'shared-x', Key: 'k' }));
    // Buckets belong to the account that created them.
    await partnerS3.send(new CreateBucketCommand({ Bucket: 'partner-own' }));
    const partnerBuckets = await partnerS3.send(new ListBucketsCommand({}));
    assert.deepEqual(partnerBuckets.Buckets?.map((b) => b.Name), ['partner-own']);
    assert.equal(partnerBuckets.Owner?.DisplayName, 'partner');
    await expectS3Error(root.send(new ListObjectsV2Command({ Bucket: 'partner-own' })), 'AccessDenied', 403);
    await expectS3Error(partnerIam.send(new GetUserCommand({ UserName: 'erin' })), 'NoSuchEntityException', 404);
  });

  test('KMS_operations_need_kms_actions_in_identity_policies', async () => {
    const hana = await newUser('kms-hana');
    const kms = new KMSClient({ endpoint: server.url, region: 'us-east-1', credentials: hana });
    await expectS3Error(kms.send(new ListKeysCommand({})), 'AccessDeniedException', 400);
    await iam.send(new PutUserPolicyCommand({ UserName: 'kms-hana', PolicyName: 'kms', PolicyDocument: policy([{ Effect: 'Allow', Action: 'kms:List*', Resource: '*' }]) }));
    assert.ok(Array.isArray((await kms.send(new ListKeysCommand({}))).Keys));
    kms.destroy();
  });
});
