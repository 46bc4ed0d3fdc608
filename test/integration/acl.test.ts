/**
 * S3 ACLs on buckets with ACLs enabled, end to end with @aws-sdk/client-s3:
 * canned ACLs, x-amz-grant-* headers and AccessControlPolicy bodies read back
 * as S3 gives them; what the grants let other accounts and anonymous callers
 * do, under Block Public Access and policies' denies; who owns an object under
 * ObjectWriter and BucketOwnerPreferred; and BucketOwnerEnforced switching
 * ACLs off again.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketPolicyCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  DeletePublicAccessBlockCommand,
  GetBucketAclCommand,
  GetObjectAclCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  PutBucketAclCommand,
  PutBucketOwnershipControlsCommand,
  PutBucketPolicyCommand,
  PutObjectAclCommand,
  PutObjectCommand,
  PutPublicAccessBlockCommand,
  UploadPartCommand,
  type BucketCannedACL,
  type Grant,
  type ObjectCannedACL,
  type ObjectOwnership,
  type S3Client,
} from '@aws-sdk/client-s3';
import { expectXmlError, signedRequest } from '../helpers/raw-s3.js';
import { expectS3Error } from '../helpers/s3.js';
import { CLI, startServer, type TestServer } from '../helpers/server.js';

const run = promisify(execFile);

const ALL_USERS = 'http://acs.amazonaws.com/groups/global/AllUsers';
const AUTHENTICATED_USERS = 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers';
const LOG_DELIVERY = 'http://acs.amazonaws.com/groups/s3/LogDelivery';
/** Amazon EC2's account, which `aws-exec-read` grants READ. */
const EC2_READER = '6aa5a366c34c1cbe25dc49211496e913e0351eb0e8c37aa3477e40942ec6b97c';

type GrantRow = [type: string | undefined, who: string | undefined, permission: string | undefined];

/** An ACL's grants as [type, canonical id or group URI, permission], in S3's order. */
function rows(grants: Grant[] | undefined): GrantRow[] {
  return (grants ?? []).map((g) => [g.Grantee?.Type, g.Grantee?.ID ?? g.Grantee?.URI, g.Permission]);
}

function sorted(list: GrantRow[]): GrantRow[] {
  return [...list].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

describe('ACLs', () => {
  let server: TestServer;
  let root: S3Client;
  let partner: S3Client;
  let anonymous: S3Client;
  let iam: IAMClient;
  let partnerIam: IAMClient;
  let ownerId = '';
  let partnerId = '';
  const creds = (accessKeyId: string, secretAccessKey: string) => ({ accessKeyId, secretAccessKey });
  const policy = (statements: unknown[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements });
  const owner = (): GrantRow => ['CanonicalUser', ownerId, 'FULL_CONTROL'];

  /** A bucket with ACLs enabled and, unless `block` is kept, no public access block. */
  const aclBucket = async (Bucket: string, options: { ownership?: ObjectOwnership; block?: boolean } = {}) => {
    await root.send(new CreateBucketCommand({ Bucket, ObjectOwnership: options.ownership ?? 'ObjectWriter' }));
    if (!options.block) await root.send(new DeletePublicAccessBlockCommand({ Bucket }));
  };
  const text = async (client: S3Client, Bucket: string, Key: string) => (await client.send(new GetObjectCommand({ Bucket, Key }))).Body!.transformToString();

  before(async () => {
    server = await startServer();
    root = server.client();
    anonymous = server.client({ signer: { sign: async (request) => request } });
    iam = new IAMClient({ endpoint: server.url, region: 'us-east-1', credentials: creds(server.accessKeyId, server.secretAccessKey) });
    ownerId = (await root.send(new ListBucketsCommand({}))).Owner!.ID!;
    const { stdout } = await run(process.execPath, [CLI, 'admin', 'account', 'create', 'partner', '--data', server.dataDir], {
      env: { ...process.env, COFFER_ACCESS_KEY_ID: server.accessKeyId, COFFER_SECRET_ACCESS_KEY: server.secretAccessKey },
    });
    const field = (name: string) => new RegExp(`^${name}=(.+)$`, 'm').exec(stdout)![1]!;
    const partnerCreds = creds(field('AWS_ACCESS_KEY_ID'), field('AWS_SECRET_ACCESS_KEY'));
    partner = server.client({ credentials: partnerCreds });
    partnerIam = new IAMClient({ endpoint: server.url, region: 'us-east-1', credentials: partnerCreds });
    partnerId = (await partner.send(new ListBucketsCommand({}))).Owner!.ID!;
    assert.notEqual(partnerId, ownerId);
  });
  after(async () => {
    anonymous?.destroy();
    await server?.destroy();
  });

  test('GetBucketAcl_reads_back_every_canned_ACL_with_the_grants_S3_gives', async () => {
    const Bucket = 'canned-bucket';
    await aclBucket(Bucket);
    const expected: Record<string, GrantRow[]> = {
      private: [owner()],
      'public-read': [owner(), ['Group', ALL_USERS, 'READ']],
      'public-read-write': [owner(), ['Group', ALL_USERS, 'READ'], ['Group', ALL_USERS, 'WRITE']],
      'authenticated-read': [owner(), ['Group', AUTHENTICATED_USERS, 'READ']],
      'aws-exec-read': [owner(), ['CanonicalUser', EC2_READER, 'READ']],
      'log-delivery-write': [owner(), ['Group', LOG_DELIVERY, 'WRITE'], ['Group', LOG_DELIVERY, 'READ_ACP']],
      // The bucket owner's ACLs mean nothing on a bucket: S3 accepts them and leaves it private.
      'bucket-owner-read': [owner()],
      'bucket-owner-full-control': [owner()],
    };
    for (const [acl, grants] of Object.entries(expected)) {
      await root.send(new PutBucketAclCommand({ Bucket, ACL: acl as BucketCannedACL }));
      const out = await root.send(new GetBucketAclCommand({ Bucket }));
      assert.deepEqual(rows(out.Grants), grants, acl);
      assert.deepEqual(out.Owner, { ID: ownerId, DisplayName: 'coffer-root' });
    }
    const exec = await (async () => {
      await root.send(new PutBucketAclCommand({ Bucket, ACL: 'aws-exec-read' as BucketCannedACL }));
      return root.send(new GetBucketAclCommand({ Bucket }));
    })();
    assert.equal(exec.Grants?.[0]?.Grantee?.DisplayName, 'coffer-root');
    assert.equal(exec.Grants?.[1]?.Grantee?.DisplayName, 'za-team');
    await expectS3Error(root.send(new PutBucketAclCommand({ Bucket, ACL: 'everyone' as BucketCannedACL })), 'InvalidArgument', 400);
  });

  test('GetObjectAcl_reads_back_every_canned_ACL_and_the_bucket_owner_ACLs_name_the_bucket_owner', async () => {
    const Bucket = 'canned-object';
    await aclBucket(Bucket);
    await root.send(new PutBucketAclCommand({ Bucket, GrantFullControl: `id="${ownerId}"`, GrantWrite: `id="${partnerId}"` }));
    const expected: Record<string, GrantRow[]> = {
      private: [owner()],
      'public-read': [owner(), ['Group', ALL_USERS, 'READ']],
      'public-read-write': [owner(), ['Group', ALL_USERS, 'READ'], ['Group', ALL_USERS, 'WRITE']],
      'authenticated-read': [owner(), ['Group', AUTHENTICATED_USERS, 'READ']],
      'aws-exec-read': [owner(), ['CanonicalUser', EC2_READER, 'READ']],
      // Written by the bucket owner, the object owner is the bucket owner: one grant.
      'bucket-owner-read': [owner()],
      'bucket-owner-full-control': [owner()],
    };
    await root.send(new PutObjectCommand({ Bucket, Key: 'changed', Body: 'x' }));
    for (const [acl, grants] of Object.entries(expected)) {
      await root.send(new PutObjectCommand({ Bucket, Key: `put-${acl}`, Body: 'x', ACL: acl as ObjectCannedACL }));
      assert.deepEqual(rows((await root.send(new GetObjectAclCommand({ Bucket, Key: `put-${acl}` }))).Grants), grants, `PutObject ${acl}`);
      await root.send(new PutObjectAclCommand({ Bucket, Key: 'changed', ACL: acl as ObjectCannedACL }));
      assert.deepEqual(rows((await root.send(new GetObjectAclCommand({ Bucket, Key: 'changed' }))).Grants), grants, `PutObjectAcl ${acl}`);
    }
    // Written by another account (which owns it under ObjectWriter), they grant the bucket owner.
    await partner.send(new PutObjectCommand({ Bucket, Key: 'theirs-read', Body: 'x', ACL: 'bucket-owner-read' }));
    const read = await partner.send(new GetObjectAclCommand({ Bucket, Key: 'theirs-read' }));
    assert.equal(read.Owner?.ID, partnerId);
    assert.equal(read.Owner?.DisplayName, 'partner');
    assert.deepEqual(rows(read.Grants), [['CanonicalUser', partnerId, 'FULL_CONTROL'], ['CanonicalUser', ownerId, 'READ']]);
    await partner.send(new PutObjectCommand({ Bucket, Key: 'theirs-full', Body: 'x', ACL: 'bucket-owner-full-control' }));
    const full = await partner.send(new GetObjectAclCommand({ Bucket, Key: 'theirs-full' }));
    assert.deepEqual(rows(full.Grants), [['CanonicalUser', partnerId, 'FULL_CONTROL'], ['CanonicalUser', ownerId, 'FULL_CONTROL']]);
    // S3's ObjectCannedACL has no log-delivery-write, and no name it does not know.
    await expectS3Error(root.send(new PutObjectCommand({ Bucket, Key: 'logs', Body: 'x', ACL: 'log-delivery-write' as ObjectCannedACL })), 'InvalidArgument', 400);
    await expectS3Error(root.send(new PutObjectAclCommand({ Bucket, Key: 'changed', ACL: 'nobody' as ObjectCannedACL })), 'InvalidArgument', 400);
    await expectS3Error(root.send(new HeadObjectCommand({ Bucket, Key: 'logs' })), 'NotFound', 404);
    // The document itself, as S3 writes it.
    const raw = await signedRequest(server, { method: 'GET', path: `/${Bucket}/put-public-read`, query: { acl: '' } });
    assert.equal(raw.status, 200);
    assert.equal(raw.headers['content-type'], 'application/xml');
    const xml = raw.body.toString();
    assert.match(xml, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<AccessControlPolicy xmlns="http:\/\/s3.amazonaws.com\/doc\/2006-03-01\/"><Owner><ID>[0-9a-f]{64}<\/ID><DisplayName>coffer-root<\/DisplayName><\/Owner><AccessControlList>/);
    assert.ok(
      xml.includes(
        `<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>${ownerId}</ID><DisplayName>coffer-root</DisplayName></Grantee><Permission>FULL_CONTROL</Permission></Grant>` +
          `<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><URI>${ALL_USERS}</URI></Grantee><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>`,
      ),
      xml,
    );
  });

  test('grant_headers_name_accounts_by_id_and_groups_by_uri_and_refuse_what_S3_refuses', async () => {
    const Bucket = 'grant-headers';
    await aclBucket(Bucket);
    await root.send(
      new PutObjectCommand({
        Bucket,
        Key: 'k',
        Body: 'x',
        GrantFullControl: `id="${ownerId}"`,
        GrantRead: `id="${partnerId}", uri="${AUTHENTICATED_USERS}"`,
        GrantReadACP: `id=${partnerId}`,
        GrantWriteACP: `uri="${LOG_DELIVERY}"`,
      }),
    );
    assert.deepEqual(
      sorted(rows((await root.send(new GetObjectAclCommand({ Bucket, Key: 'k' }))).Grants)),
      sorted([owner(), ['CanonicalUser', partnerId, 'READ'], ['Group', AUTHENTICATED_USERS, 'READ'], ['CanonicalUser', partnerId, 'READ_ACP'], ['Group', LOG_DELIVERY, 'WRITE_ACP']]),
    );
    // Grants say exactly who gets what: without a grant to itself the owner has none listed.
    await root.send(new PutBucketAclCommand({ Bucket, GrantWrite: `uri="${LOG_DELIVERY}"`, GrantReadACP: `uri="${LOG_DELIVERY}"` }));
    assert.deepEqual(sorted(rows((await root.send(new GetBucketAclCommand({ Bucket }))).Grants)), sorted([['Group', LOG_DELIVERY, 'WRITE'], ['Group', LOG_DELIVERY, 'READ_ACP']]));
    // …yet the owner still manages the ACL.
    await root.send(new PutBucketAclCommand({ Bucket, ACL: 'private' }));
    assert.deepEqual(rows((await root.send(new GetBucketAclCommand({ Bucket }))).Grants), [owner()]);

    const unknownId = 'a'.repeat(64);
    await expectS3Error(root.send(new PutObjectCommand({ Bucket, Key: 'bad', Body: 'x', GrantRead: `id="${unknownId}"` })), 'InvalidArgument', 400);
    await expectS3Error(root.send(new PutObjectCommand({ Bucket, Key: 'bad', Body: 'x', GrantRead: 'uri="http://acs.amazonaws.com/groups/global/Everybody"' })), 'InvalidArgument', 400);
    await expectS3Error(root.send(new PutObjectCommand({ Bucket, Key: 'bad', Body: 'x', GrantRead: 'emailAddress="someone@example.com"' })), 'UnresolvableGrantByEmailAddress', 400);
    await expectS3Error(root.send(new PutObjectCommand({ Bucket, Key: 'bad', Body: 'x', GrantRead: 'everyone' })), 'InvalidArgument', 400);
    await expectS3Error(root.send(new PutObjectCommand({ Bucket, Key: 'bad', Body: 'x', ACL: 'private', GrantRead: `id="${partnerId}"` })), 'InvalidRequest', 400);
    await expectS3Error(root.send(new CreateMultipartUploadCommand({ Bucket, Key: 'bad', GrantRead: `id="${unknownId}"` })), 'InvalidArgument', 400);
    await expectS3Error(root.send(new CopyObjectCommand({ Bucket, Key: 'bad', CopySource: `${Bucket}/k`, GrantRead: 'emailAddress="a@b.example"' })), 'UnresolvableGrantByEmailAddress', 400);
    await expectS3Error(root.send(new PutBucketAclCommand({ Bucket, GrantRead: `id="${unknownId}"` })), 'InvalidArgument', 400);
    await expectS3Error(root.send(new PutObjectAclCommand({ Bucket, Key: 'k', ACL: 'private', GrantRead: `id="${partnerId}"` })), 'InvalidRequest', 400);
    await expectS3Error(root.send(new HeadObjectCommand({ Bucket, Key: 'bad' })), 'NotFound', 404);
    assert.equal(rows((await root.send(new GetObjectAclCommand({ Bucket, Key: 'k' }))).Grants).length, 5, 'refused requests changed nothing');
  });

  test('PutObjectAcl_and_PutBucketAcl_take_an_AccessControlPolicy_body_naming_the_owner', async () => {
    const Bucket = 'acl-bodies';
    await aclBucket(Bucket);
    await root.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'x' }));
    const Owner = { ID: ownerId };
    const Grants: Grant[] = [
      { Grantee: { Type: 'CanonicalUser', ID: ownerId }, Permission: 'FULL_CONTROL' },
      { Grantee: { Type: 'Group', URI: ALL_USERS }, Permission: 'READ' },
      { Grantee: { Type: 'CanonicalUser', ID: partnerId }, Permission: 'READ_ACP' },
    ];
    await root.send(new PutObjectAclCommand({ Bucket, Key: 'k', AccessControlPolicy: { Owner, Grants } }));
    const got = await root.send(new GetObjectAclCommand({ Bucket, Key: 'k' }));
    assert.deepEqual(rows(got.Grants), [owner(), ['Group', ALL_USERS, 'READ'], ['CanonicalUser', partnerId, 'READ_ACP']]);
    assert.equal(got.Grants?.[2]?.Grantee?.DisplayName, 'partner');
    await root.send(new PutBucketAclCommand({ Bucket, AccessControlPolicy: { Owner, Grants: [Grants[0]!, { Grantee: { Type: 'CanonicalUser', ID: partnerId }, Permission: 'READ' }] } }));
    assert.deepEqual(rows((await root.send(new GetBucketAclCommand({ Bucket }))).Grants), [owner(), ['CanonicalUser', partnerId, 'READ']]);

    // An ACL cannot give the resource away: S3 answers 403 to another Owner.
    await expectS3Error(root.send(new PutObjectAclCommand({ Bucket, Key: 'k', AccessControlPolicy: { Owner: { ID: partnerId }, Grants } })), 'AccessDenied', 403);
    await expectS3Error(root.send(new PutBucketAclCommand({ Bucket, AccessControlPolicy: { Owner: { ID: partnerId }, Grants } })), 'AccessDenied', 403);
    const byEmail: Grant = { Grantee: { Type: 'AmazonCustomerByEmail', EmailAddress: 'someone@example.com' }, Permission: 'READ' };
    await expectS3Error(root.send(new PutObjectAclCommand({ Bucket, Key: 'k', AccessControlPolicy: { Owner, Grants: [byEmail] } })), 'UnresolvableGrantByEmailAddress', 400);
    const stranger: Grant = { Grantee: { Type: 'CanonicalUser', ID: 'b'.repeat(64) }, Permission: 'READ' };
    await expectS3Error(root.send(new PutObjectAclCommand({ Bucket, Key: 'k', AccessControlPolicy: { Owner, Grants: [stranger] } })), 'InvalidArgument', 400);
    await expectS3Error(root.send(new PutObjectAclCommand({ Bucket, Key: 'missing', AccessControlPolicy: { Owner, Grants } })), 'NoSuchKey', 404);

    // What SDKs do not send: documents that are not an AccessControlPolicy, and a body with a header.
    const put = (body: string, headers: Record<string, string> = {}) => signedRequest(server, { method: 'PUT', path: `/${Bucket}/k`, query: { acl: '' }, body: Buffer.from(body), headers });
    const grant = `<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>${ownerId}</ID></Grantee><Permission>FULL_CONTROL</Permission></Grant>`;
    const doc = (inner: string) => `<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${inner}</AccessControlPolicy>`;
    for (const bad of [
      '<AccessControlPolicy><Owner>',
      doc(`<AccessControlList>${grant}</AccessControlList>`), // no Owner
      doc(`<Owner><ID>${ownerId}</ID></Owner>`), // no AccessControlList
      doc(`<Owner><ID>${ownerId}</ID></Owner><AccessControlList>${grant.replace('FULL_CONTROL', 'EVERYTHING')}</AccessControlList>`),
      doc(`<Owner><ID>${ownerId}</ID></Owner><AccessControlList>${grant.replace(' xsi:type="CanonicalUser"', ' xsi:type="Group"')}</AccessControlList>`),
      doc(`<Owner><ID>${ownerId}</ID></Owner><AccessControlList>${grant}<Extra/></AccessControlList>`),
    ]) {
      const res = await put(bad);
      expectXmlError(res, 'MalformedACLError');
    }
    const ok = await put(doc(`<Owner><ID>${ownerId}</ID></Owner><AccessControlList>${grant}</AccessControlList>`));
    assert.equal(ok.status, 200, ok.body.toString());
    assert.deepEqual(rows((await root.send(new GetObjectAclCommand({ Bucket, Key: 'k' }))).Grants), [owner()]);
    expectXmlError(await put(doc(`<Owner><ID>${ownerId}</ID></Owner><AccessControlList>${grant}</AccessControlList>`), { 'x-amz-acl': 'private' }), 'UnexpectedContent');
    expectXmlError(await signedRequest(server, { method: 'PUT', path: `/${Bucket}/k`, query: { acl: '' } }), 'MissingSecurityHeader');
  });

  test('public_read_object_is_readable_anonymously_only_as_the_public_access_block_allows', async () => {
    const Bucket = 'public-acls';
    await aclBucket(Bucket, { block: true });
    const anonymousGet = (Key: string) => anonymous.send(new GetObjectCommand({ Bucket, Key }));
    const block = (flags: { BlockPublicAcls: boolean; IgnorePublicAcls: boolean }) =>
      root.send(new PutPublicAccessBlockCommand({ Bucket, PublicAccessBlockConfiguration: { ...flags, BlockPublicPolicy: true, RestrictPublicBuckets: true } }));
    // BlockPublicAcls (a new bucket's default): a public ACL cannot be set at all.
    await expectS3Error(root.send(new PutObjectCommand({ Bucket, Key: 'hello', Body: 'hello', ACL: 'public-read' })), 'AccessDenied', 403);
    await expectS3Error(root.send(new HeadObjectCommand({ Bucket, Key: 'hello' })), 'NotFound', 404);
    await root.send(new PutObjectCommand({ Bucket, Key: 'hello', Body: 'hello' }));
    await expectS3Error(root.send(new PutObjectAclCommand({ Bucket, Key: 'hello', GrantRead: `uri="${ALL_USERS}"` })), 'AccessDenied', 403);
    await expectS3Error(root.send(new PutObjectAclCommand({ Bucket, Key: 'hello', ACL: 'authenticated-read' })), 'AccessDenied', 403);
    await expectS3Error(root.send(new PutBucketAclCommand({ Bucket, ACL: 'public-read' })), 'AccessDenied', 403);
    // The log delivery group is not the public.
    await root.send(new PutBucketAclCommand({ Bucket, ACL: 'log-delivery-write' as BucketCannedACL }));
    await expectS3Error(anonymousGet('hello'), 'AccessDenied', 403);

    // IgnorePublicAcls alone: the public ACL can be set, but grants nothing.
    await block({ BlockPublicAcls: false, IgnorePublicAcls: true });
    await root.send(new PutObjectAclCommand({ Bucket, Key: 'hello', ACL: 'public-read' }));
    await expectS3Error(anonymousGet('hello'), 'AccessDenied', 403);
    // Neither: the grant opens the object to anonymous callers, and to nothing else.
    await block({ BlockPublicAcls: false, IgnorePublicAcls: false });
    assert.equal(await (await anonymousGet('hello')).Body!.transformToString(), 'hello');
    assert.equal((await anonymous.send(new HeadObjectCommand({ Bucket, Key: 'hello' }))).ContentLength, 5);
    await expectS3Error(anonymous.send(new ListObjectsV2Command({ Bucket })), 'AccessDenied', 403);
    await expectS3Error(anonymous.send(new GetObjectAclCommand({ Bucket, Key: 'hello' })), 'AccessDenied', 403);
    await expectS3Error(anonymous.send(new PutObjectCommand({ Bucket, Key: 'new', Body: 'x' })), 'AccessDenied', 403);
    await root.send(new PutObjectCommand({ Bucket, Key: 'private', Body: 'p' }));
    await expectS3Error(anonymousGet('private'), 'AccessDenied', 403);
    // A bucket's READ lists it and its WRITE writes in it; neither reads an object.
    await root.send(new PutBucketAclCommand({ Bucket, ACL: 'public-read-write' }));
    assert.ok((await anonymous.send(new ListObjectsV2Command({ Bucket }))).Contents?.some((o) => o.Key === 'hello'));
    await anonymous.send(new PutObjectCommand({ Bucket, Key: 'dropped', Body: 'anon' }));
    await expectS3Error(anonymousGet('private'), 'AccessDenied', 403);
    await anonymous.send(new DeleteObjectCommand({ Bucket, Key: 'dropped' }));
    // authenticated-read: any signed request, not an anonymous one.
    await root.send(new PutObjectCommand({ Bucket, Key: 'members', Body: 'm', ACL: 'authenticated-read' }));
    assert.equal(await text(partner, Bucket, 'members'), 'm');
    await expectS3Error(anonymousGet('members'), 'AccessDenied', 403);
    // Turning IgnorePublicAcls on takes effect at once, for the bucket's ACL too.
    await block({ BlockPublicAcls: false, IgnorePublicAcls: true });
    await expectS3Error(anonymousGet('hello'), 'AccessDenied', 403);
    await expectS3Error(anonymous.send(new ListObjectsV2Command({ Bucket })), 'AccessDenied', 403);
    await expectS3Error(partner.send(new GetObjectCommand({ Bucket, Key: 'members' })), 'AccessDenied', 403);
    // Without any block, nothing is blocked.
    await root.send(new DeletePublicAccessBlockCommand({ Bucket }));
    assert.equal(await (await anonymousGet('hello')).Body!.transformToString(), 'hello');
  });

  test('another_account_granted_READ_by_canonical_id_reads_the_object_its_users_as_their_policies_allow', async () => {
    const Bucket = 'shared-by-acl';
    // Grants to accounts are not public: the public access block stays on.
    await aclBucket(Bucket, { block: true });
    await root.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'shared' }));
    await expectS3Error(partner.send(new GetObjectCommand({ Bucket, Key: 'k' })), 'AccessDenied', 403);
    await root.send(new PutObjectAclCommand({ Bucket, Key: 'k', GrantFullControl: `id="${ownerId}"`, GrantRead: `id="${partnerId}"` }));
    assert.equal(await text(partner, Bucket, 'k'), 'shared');
    // READ is the data only: not the ACL, not the listing, not a write.
    await expectS3Error(partner.send(new GetObjectAclCommand({ Bucket, Key: 'k' })), 'AccessDenied', 403);
    await expectS3Error(partner.send(new ListObjectsV2Command({ Bucket })), 'AccessDenied', 403);
    await expectS3Error(partner.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'mine' })), 'AccessDenied', 403);
    await root.send(new PutObjectAclCommand({ Bucket, Key: 'k', GrantFullControl: `id="${ownerId}"`, GrantRead: `id="${partnerId}"`, GrantReadACP: `id="${partnerId}"` }));
    assert.equal((await partner.send(new GetObjectAclCommand({ Bucket, Key: 'k' }))).Owner?.ID, ownerId);

    // The grant is to the account: its users still need their own account's permission.
    await partnerIam.send(new CreateUserCommand({ UserName: 'reader' }));
    const key = (await partnerIam.send(new CreateAccessKeyCommand({ UserName: 'reader' }))).AccessKey!;
    const reader = server.client({ credentials: creds(key.AccessKeyId!, key.SecretAccessKey!) });
    await expectS3Error(reader.send(new GetObjectCommand({ Bucket, Key: 'k' })), 'AccessDenied', 403);
    await partnerIam.send(new PutUserPolicyCommand({ UserName: 'reader', PolicyName: 'read', PolicyDocument: policy([{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }]) }));
    assert.equal(await text(reader, Bucket, 'k'), 'shared');
    // The owner's own FULL_CONTROL grant is its account's too: its users get only what their policies give.
    await iam.send(new CreateUserCommand({ UserName: 'acl-nobody' }));
    const nobodyKey = (await iam.send(new CreateAccessKeyCommand({ UserName: 'acl-nobody' }))).AccessKey!;
    const nobody = server.client({ credentials: creds(nobodyKey.AccessKeyId!, nobodyKey.SecretAccessKey!) });
    await expectS3Error(nobody.send(new GetObjectCommand({ Bucket, Key: 'k' })), 'AccessDenied', 403);

    // An explicit Deny in the bucket policy wins over the grant.
    await root.send(
      new PutBucketPolicyCommand({ Bucket, Policy: policy([{ Effect: 'Deny', Principal: { CanonicalUser: partnerId }, Action: 's3:GetObject', Resource: `arn:aws:s3:::${Bucket}/*` }]) }),
    );
    await expectS3Error(partner.send(new GetObjectCommand({ Bucket, Key: 'k' })), 'AccessDenied', 403);
    await root.send(new DeleteBucketPolicyCommand({ Bucket }));
    assert.equal(await text(partner, Bucket, 'k'), 'shared');
    reader.destroy();
    nobody.destroy();
  });

  test('WRITE_on_a_bucket_lets_another_account_upload_and_ObjectWriter_makes_it_the_owner', async () => {
    const Bucket = 'drop-box';
    await aclBucket(Bucket, { block: true });
    await expectS3Error(partner.send(new PutObjectCommand({ Bucket, Key: 'w', Body: 'theirs' })), 'AccessDenied', 403);
    await root.send(new PutBucketAclCommand({ Bucket, GrantFullControl: `id="${ownerId}"`, GrantWrite: `id="${partnerId}"` }));
    await partner.send(new PutObjectCommand({ Bucket, Key: 'w', Body: 'theirs' }));
    await expectS3Error(partner.send(new ListObjectsV2Command({ Bucket })), 'AccessDenied', 403);
    // The writer owns it: the bucket owner sees it listed with the writer as Owner, but cannot read it…
    const listed = await root.send(new ListObjectsV2Command({ Bucket, FetchOwner: true }));
    assert.deepEqual(listed.Contents?.map((o) => [o.Key, o.Owner?.ID, o.Owner?.DisplayName]), [['w', partnerId, 'partner']]);
    assert.equal((await root.send(new ListObjectsCommand({ Bucket }))).Contents?.[0]?.Owner?.ID, partnerId);
    await expectS3Error(root.send(new GetObjectCommand({ Bucket, Key: 'w' })), 'AccessDenied', 403);
    await expectS3Error(root.send(new GetObjectAclCommand({ Bucket, Key: 'w' })), 'AccessDenied', 403);
    await expectS3Error(root.send(new PutObjectAclCommand({ Bucket, Key: 'w', ACL: 'bucket-owner-full-control' })), 'AccessDenied', 403);
    // …which the writer reads, and shares as it likes.
    assert.equal(await text(partner, Bucket, 'w'), 'theirs');
    const acl = await partner.send(new GetObjectAclCommand({ Bucket, Key: 'w' }));
    assert.deepEqual([acl.Owner?.ID, rows(acl.Grants)], [partnerId, [['CanonicalUser', partnerId, 'FULL_CONTROL']]]);
    await partner.send(new PutObjectAclCommand({ Bucket, Key: 'w', ACL: 'bucket-owner-read' }));
    assert.equal(await text(root, Bucket, 'w'), 'theirs');
    // But the bucket is the owner's: it deletes what others wrote.
    await root.send(new DeleteObjectCommand({ Bucket, Key: 'w' }));
    assert.equal((await root.send(new ListObjectsV2Command({ Bucket }))).KeyCount, 0);

    // CreateMultipartUpload's ACL is the object's at Complete; CopyObject's is the copy's.
    const up = await partner.send(new CreateMultipartUploadCommand({ Bucket, Key: 'mp', ACL: 'bucket-owner-read' }));
    const part = await partner.send(new UploadPartCommand({ Bucket, Key: 'mp', UploadId: up.UploadId!, PartNumber: 1, Body: 'multi' }));
    await partner.send(new CompleteMultipartUploadCommand({ Bucket, Key: 'mp', UploadId: up.UploadId!, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag! }] } }));
    const mpAcl = await partner.send(new GetObjectAclCommand({ Bucket, Key: 'mp' }));
    assert.deepEqual([mpAcl.Owner?.ID, rows(mpAcl.Grants)], [partnerId, [['CanonicalUser', partnerId, 'FULL_CONTROL'], ['CanonicalUser', ownerId, 'READ']]]);
    assert.equal(await text(root, Bucket, 'mp'), 'multi');
    await partner.send(new CopyObjectCommand({ Bucket, Key: 'copy', CopySource: `${Bucket}/mp`, ACL: 'bucket-owner-full-control' }));
    const copyAcl = await root.send(new GetObjectAclCommand({ Bucket, Key: 'copy' }));
    assert.deepEqual([copyAcl.Owner?.ID, rows(copyAcl.Grants)], [partnerId, [['CanonicalUser', partnerId, 'FULL_CONTROL'], owner()]]);
    // A copy takes nothing of its source's ACL: the owner's copy of 'mp' is private and its own.
    await root.send(new CopyObjectCommand({ Bucket, Key: 'mine', CopySource: `${Bucket}/mp` }));
    const mine = await root.send(new GetObjectAclCommand({ Bucket, Key: 'mine' }));
    assert.deepEqual([mine.Owner?.ID, rows(mine.Grants)], [ownerId, [owner()]]);
    await expectS3Error(partner.send(new GetObjectCommand({ Bucket, Key: 'mine' })), 'AccessDenied', 403);
    // WRITE deletes too, one key at a time or many.
    await partner.send(new DeleteObjectCommand({ Bucket, Key: 'mine' }));
    const deleted = await partner.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: [{ Key: 'mp' }, { Key: 'copy' }] } }));
    assert.deepEqual(deleted.Deleted?.map((d) => d.Key).sort(), ['copy', 'mp']);
  });

  test('BucketOwnerPreferred_gives_the_bucket_owner_what_is_written_with_bucket_owner_full_control', async () => {
    const Bucket = 'preferred';
    await aclBucket(Bucket, { ownership: 'BucketOwnerPreferred', block: true });
    await root.send(new PutBucketAclCommand({ Bucket, GrantFullControl: `id="${ownerId}"`, GrantWrite: `id="${partnerId}"` }));
    const ownerOf = async (Key: string) => (await root.send(new ListObjectsV2Command({ Bucket, Prefix: Key, FetchOwner: true }))).Contents?.[0]?.Owner?.ID;
    await partner.send(new PutObjectCommand({ Bucket, Key: 'plain', Body: 'x' }));
    assert.equal(await ownerOf('plain'), partnerId);
    await partner.send(new PutObjectCommand({ Bucket, Key: 'given', Body: 'x', ACL: 'bucket-owner-full-control' }));
    assert.equal(await ownerOf('given'), ownerId);
    const acl = await root.send(new GetObjectAclCommand({ Bucket, Key: 'given' }));
    assert.deepEqual([acl.Owner?.ID, rows(acl.Grants)], [ownerId, [owner()]]);
    assert.equal(await text(root, Bucket, 'given'), 'x');
    // Only the canned ACL hands the object over; the same grant spelled out does not.
    await partner.send(new PutObjectCommand({ Bucket, Key: 'granted', Body: 'x', GrantFullControl: `id="${ownerId}"` }));
    assert.equal(await ownerOf('granted'), partnerId);
    const up = await partner.send(new CreateMultipartUploadCommand({ Bucket, Key: 'mp', ACL: 'bucket-owner-full-control' }));
    const part = await partner.send(new UploadPartCommand({ Bucket, Key: 'mp', UploadId: up.UploadId!, PartNumber: 1, Body: 'm' }));
    await partner.send(new CompleteMultipartUploadCommand({ Bucket, Key: 'mp', UploadId: up.UploadId!, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag! }] } }));
    assert.equal(await ownerOf('mp'), ownerId);
  });

  test('BucketOwnerEnforced_again_makes_the_bucket_owner_own_everything_and_ACLs_stop_granting', async () => {
    const Bucket = 'switch-off';
    await aclBucket(Bucket);
    await root.send(new PutBucketAclCommand({ Bucket, GrantFullControl: `id="${ownerId}"`, GrantWrite: `id="${partnerId}"` }));
    await partner.send(new PutObjectCommand({ Bucket, Key: 'theirs', Body: 'theirs' }));
    await root.send(new PutObjectCommand({ Bucket, Key: 'public', Body: 'public', ACL: 'public-read' }));
    await root.send(new PutObjectCommand({ Bucket, Key: 'for-partner', Body: 'fp', GrantFullControl: `id="${ownerId}"`, GrantRead: `id="${partnerId}"` }));
    assert.equal(await text(anonymous, Bucket, 'public'), 'public');
    assert.equal(await text(partner, Bucket, 'for-partner'), 'fp');
    await expectS3Error(root.send(new GetObjectCommand({ Bucket, Key: 'theirs' })), 'AccessDenied', 403);

    const enforce = () => root.send(new PutBucketOwnershipControlsCommand({ Bucket, OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] } }));
    // Not while the bucket's ACL grants another account.
    await expectS3Error(enforce(), 'InvalidBucketAclWithObjectOwnership', 400);
    await root.send(new PutBucketAclCommand({ Bucket, ACL: 'private' }));
    await enforce();
    // The bucket owner owns and reads everything; object ACLs grant nothing and read back as the owner's.
    assert.equal(await text(root, Bucket, 'theirs'), 'theirs');
    const acl = await root.send(new GetObjectAclCommand({ Bucket, Key: 'theirs' }));
    assert.deepEqual([acl.Owner?.ID, rows(acl.Grants)], [ownerId, [owner()]]);
    const listed = await root.send(new ListObjectsV2Command({ Bucket, FetchOwner: true }));
    assert.ok(listed.Contents?.every((o) => o.Owner?.ID === ownerId));
    await expectS3Error(anonymous.send(new GetObjectCommand({ Bucket, Key: 'public' })), 'AccessDenied', 403);
    await expectS3Error(partner.send(new GetObjectCommand({ Bucket, Key: 'for-partner' })), 'AccessDenied', 403);
    await expectS3Error(partner.send(new GetObjectCommand({ Bucket, Key: 'theirs' })), 'AccessDenied', 403);
    // And ACLs cannot be set: AccessControlListNotSupported, as on any bucket with ACLs disabled.
    await expectS3Error(root.send(new PutObjectAclCommand({ Bucket, Key: 'public', ACL: 'public-read' })), 'AccessControlListNotSupported', 400);
    await expectS3Error(root.send(new PutObjectCommand({ Bucket, Key: 'new', Body: 'x', GrantRead: `id="${partnerId}"` })), 'AccessControlListNotSupported', 400);
    await expectS3Error(root.send(new PutBucketAclCommand({ Bucket, GrantRead: `id="${partnerId}"` })), 'AccessControlListNotSupported', 400);
    await expectS3Error(root.send(new CreateMultipartUploadCommand({ Bucket, Key: 'new', ACL: 'public-read' })), 'AccessControlListNotSupported', 400);

    // Enabled again, the objects' ACLs (kept all along) count again.
    await root.send(new PutBucketOwnershipControlsCommand({ Bucket, OwnershipControls: { Rules: [{ ObjectOwnership: 'ObjectWriter' }] } }));
    assert.equal(await text(anonymous, Bucket, 'public'), 'public');
    assert.equal(await text(partner, Bucket, 'for-partner'), 'fp');
  });

  test('CreateBucket_with_an_ACL_stores_it_with_ACLs_enabled_and_refuses_a_public_one', async () => {
    await expectS3Error(root.send(new CreateBucketCommand({ Bucket: 'acl-at-create', ObjectOwnership: 'ObjectWriter', ACL: 'public-read' })), 'InvalidBucketAclWithBlockPublicAccessError', 400);
    await expectS3Error(
      root.send(new CreateBucketCommand({ Bucket: 'acl-at-create', ObjectOwnership: 'BucketOwnerPreferred', GrantRead: `uri="${AUTHENTICATED_USERS}"` })),
      'InvalidBucketAclWithBlockPublicAccessError',
      400,
    );
    await expectS3Error(root.send(new CreateBucketCommand({ Bucket: 'acl-at-create', ACL: 'public-read' })), 'InvalidBucketAclWithObjectOwnership', 400);
    await expectS3Error(root.send(new CreateBucketCommand({ Bucket: 'acl-at-create', ObjectOwnership: 'ObjectWriter', GrantRead: `id="${'c'.repeat(64)}"` })), 'InvalidArgument', 400);
    await expectS3Error(root.send(new GetBucketAclCommand({ Bucket: 'acl-at-create' })), 'NoSuchBucket', 404);
    await root.send(new CreateBucketCommand({ Bucket: 'acl-at-create', ObjectOwnership: 'ObjectWriter', GrantFullControl: `id="${ownerId}"`, GrantRead: `id="${partnerId}"` }));
    assert.deepEqual(rows((await root.send(new GetBucketAclCommand({ Bucket: 'acl-at-create' }))).Grants), [owner(), ['CanonicalUser', partnerId, 'READ']]);
    await root.send(new PutObjectCommand({ Bucket: 'acl-at-create', Key: 'k', Body: 'x' }));
    assert.equal((await partner.send(new ListObjectsV2Command({ Bucket: 'acl-at-create' }))).KeyCount, 1);
  });
});
