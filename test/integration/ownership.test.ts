/**
 * S3 Object Ownership with @aws-sdk/client-s3: new buckets have ACLs disabled
 * (BucketOwnerEnforced), every ACL write but the owner's full control is
 * AccessControlListNotSupported, ACLs read back as the owner's FULL_CONTROL,
 * Put/Get/DeleteBucketOwnershipControls, and what enabling ACLs (another
 * setting, or none after DeleteBucketOwnershipControls) changes. ACLs
 * themselves are acl.test.ts's.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketOwnershipControlsCommand,
  DeletePublicAccessBlockCommand,
  GetBucketAclCommand,
  GetBucketOwnershipControlsCommand,
  GetObjectAclCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  PutBucketAclCommand,
  PutBucketOwnershipControlsCommand,
  PutObjectAclCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { expectS3Error } from '../helpers/s3.js';
import { startServer, type TestServer } from '../helpers/server.js';

describe('object ownership and ACLs', () => {
  let server: TestServer;
  let s3: S3Client;
  let ownerId = '';
  const ALL_USERS = 'uri="http://acs.amazonaws.com/groups/global/AllUsers"';

  before(async () => {
    server = await startServer();
    s3 = server.client();
    ownerId = (await s3.send(new ListBucketsCommand({}))).Owner!.ID!;
    await s3.send(new CreateBucketCommand({ Bucket: 'owned' }));
    await s3.send(new PutObjectCommand({ Bucket: 'owned', Key: 'obj', Body: 'x' }));
  });
  after(async () => {
    await server?.destroy();
  });

  test('GetBucketOwnershipControls_new_bucket_is_BucketOwnerEnforced', async () => {
    const out = await s3.send(new GetBucketOwnershipControlsCommand({ Bucket: 'owned' }));
    assert.deepEqual(out.OwnershipControls?.Rules, [{ ObjectOwnership: 'BucketOwnerEnforced' }]);
  });

  test('PutObject_CopyObject_CreateMultipartUpload_with_an_ACL_are_AccessControlListNotSupported', async () => {
    const Bucket = 'owned';
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket, Key: 'a', Body: 'x', ACL: 'public-read' })), 'AccessControlListNotSupported', 400);
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket, Key: 'a', Body: 'x', ACL: 'authenticated-read' })), 'AccessControlListNotSupported', 400);
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket, Key: 'a', Body: 'x', GrantFullControl: `id="${'0'.repeat(64)}"` })), 'AccessControlListNotSupported', 400);
    await expectS3Error(s3.send(new CopyObjectCommand({ Bucket, Key: 'a', CopySource: 'owned/obj', ACL: 'public-read' })), 'AccessControlListNotSupported', 400);
    await expectS3Error(s3.send(new CopyObjectCommand({ Bucket, Key: 'a', CopySource: 'owned/obj', GrantRead: ALL_USERS })), 'AccessControlListNotSupported', 400);
    await expectS3Error(s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'a', ACL: 'public-read-write' })), 'AccessControlListNotSupported', 400);
    await expectS3Error(s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'a', GrantRead: ALL_USERS })), 'AccessControlListNotSupported', 400);
    await expectS3Error(s3.send(new HeadObjectCommand({ Bucket, Key: 'a' })), 'NotFound', 404);
    // bucket-owner-full-control, and the same said as a grant to the owner, change nothing: accepted.
    await s3.send(new PutObjectCommand({ Bucket, Key: 'b', Body: 'x', ACL: 'bucket-owner-full-control' }));
    await s3.send(new PutObjectCommand({ Bucket, Key: 'c', Body: 'x', GrantFullControl: `id="${ownerId}"` }));
    await s3.send(new CopyObjectCommand({ Bucket, Key: 'd', CopySource: 'owned/obj', ACL: 'bucket-owner-full-control' }));
    await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'e', ACL: 'bucket-owner-full-control' }));
  });

  test('CreateBucket_with_a_public_ACL_is_InvalidBucketAclWithObjectOwnership', async () => {
    await expectS3Error(s3.send(new CreateBucketCommand({ Bucket: 'acl-public', ACL: 'public-read' })), 'InvalidBucketAclWithObjectOwnership', 400);
    await expectS3Error(s3.send(new CreateBucketCommand({ Bucket: 'acl-public', GrantRead: ALL_USERS })), 'InvalidBucketAclWithObjectOwnership', 400);
    await expectS3Error(s3.send(new CreateBucketCommand({ Bucket: 'acl-public', ACL: 'public-read', ObjectOwnership: 'BucketOwnerEnforced' })), 'InvalidBucketAclWithObjectOwnership', 400);
    await expectS3Error(s3.send(new GetBucketAclCommand({ Bucket: 'acl-public' })), 'NoSuchBucket', 404);
    await s3.send(new CreateBucketCommand({ Bucket: 'acl-private', ACL: 'private', ObjectOwnership: 'BucketOwnerEnforced' }));
  });

  test('CreateBucket_and_PutBucketOwnershipControls_enable_ACLs_with_BucketOwnerPreferred_or_ObjectWriter', async () => {
    for (const ObjectOwnership of ['ObjectWriter', 'BucketOwnerPreferred'] as const) {
      const Bucket = `acl-${ObjectOwnership.toLowerCase()}`;
      await s3.send(new CreateBucketCommand({ Bucket, ObjectOwnership }));
      assert.deepEqual((await s3.send(new GetBucketOwnershipControlsCommand({ Bucket }))).OwnershipControls?.Rules, [{ ObjectOwnership }]);
      // ACLs are enabled: `private` is an ACL like any other now, no longer refused.
      await s3.send(new PutBucketAclCommand({ Bucket, ACL: 'private' }));
    }
    await expectS3Error(s3.send(new CreateBucketCommand({ Bucket: 'acl-bad-ownership', ObjectOwnership: 'Everyone' as never })), 'InvalidArgument', 400);
    const Bucket = 'ownership-round-trip';
    await s3.send(new CreateBucketCommand({ Bucket }));
    for (const ObjectOwnership of ['ObjectWriter', 'BucketOwnerPreferred', 'BucketOwnerEnforced'] as const) {
      await s3.send(new PutBucketOwnershipControlsCommand({ Bucket, OwnershipControls: { Rules: [{ ObjectOwnership }] } }));
      assert.deepEqual((await s3.send(new GetBucketOwnershipControlsCommand({ Bucket }))).OwnershipControls?.Rules, [{ ObjectOwnership }]);
    }
  });

  test('GetBucketAcl_and_GetObjectAcl_show_the_owner_full_control', async () => {
    for (const out of [await s3.send(new GetBucketAclCommand({ Bucket: 'owned' })), await s3.send(new GetObjectAclCommand({ Bucket: 'owned', Key: 'obj' }))]) {
      assert.equal(out.Owner?.ID, ownerId);
      assert.equal(out.Grants?.length, 1);
      assert.equal(out.Grants?.[0]?.Permission, 'FULL_CONTROL');
      assert.equal(out.Grants?.[0]?.Grantee?.Type, 'CanonicalUser');
      assert.equal(out.Grants?.[0]?.Grantee?.ID, ownerId);
    }
    await expectS3Error(s3.send(new GetObjectAclCommand({ Bucket: 'owned', Key: 'missing' })), 'NoSuchKey', 404);
    await expectS3Error(s3.send(new GetBucketAclCommand({ Bucket: 'no-such-bucket-acl' })), 'NoSuchBucket', 404);
  });

  test('PutBucketAcl_and_PutObjectAcl_accept_only_the_owner_full_control', async () => {
    const ownerOnly = { Owner: { ID: ownerId }, Grants: [{ Grantee: { Type: 'CanonicalUser' as const, ID: ownerId }, Permission: 'FULL_CONTROL' as const }] };
    await s3.send(new PutBucketAclCommand({ Bucket: 'owned', AccessControlPolicy: ownerOnly }));
    await s3.send(new PutObjectAclCommand({ Bucket: 'owned', Key: 'obj', AccessControlPolicy: ownerOnly }));
    await s3.send(new PutObjectAclCommand({ Bucket: 'owned', Key: 'obj', ACL: 'bucket-owner-full-control' }));
    const shared = { ...ownerOnly, Grants: [...ownerOnly.Grants, { Grantee: { Type: 'Group' as const, URI: 'http://acs.amazonaws.com/groups/global/AllUsers' }, Permission: 'READ' as const }] };
    await expectS3Error(s3.send(new PutBucketAclCommand({ Bucket: 'owned', AccessControlPolicy: shared })), 'AccessControlListNotSupported', 400);
    await expectS3Error(s3.send(new PutBucketAclCommand({ Bucket: 'owned', ACL: 'private' })), 'AccessControlListNotSupported', 400);
    await expectS3Error(s3.send(new PutBucketAclCommand({ Bucket: 'owned', ACL: 'public-read' })), 'AccessControlListNotSupported', 400);
    await expectS3Error(s3.send(new PutObjectAclCommand({ Bucket: 'owned', Key: 'obj', AccessControlPolicy: shared })), 'AccessControlListNotSupported', 400);
    await expectS3Error(s3.send(new PutObjectAclCommand({ Bucket: 'owned', Key: 'obj', ACL: 'public-read' })), 'AccessControlListNotSupported', 400);
    await expectS3Error(s3.send(new PutObjectAclCommand({ Bucket: 'owned', Key: 'missing', ACL: 'bucket-owner-full-control' })), 'NoSuchKey', 404);
    const out = await s3.send(new GetObjectAclCommand({ Bucket: 'owned', Key: 'obj' }));
    assert.equal(out.Grants?.length, 1, 'nothing was shared');
  });

  test('DeleteBucketOwnershipControls_enables_ACLs_as_ObjectWriter_and_BucketOwnerEnforced_disables_them_again', async () => {
    const Bucket = 'acls-enabled';
    await s3.send(new CreateBucketCommand({ Bucket }));
    await s3.send(new PutObjectCommand({ Bucket, Key: 'obj', Body: 'x' }));
    await s3.send(new DeleteBucketOwnershipControlsCommand({ Bucket }));
    await expectS3Error(s3.send(new GetBucketOwnershipControlsCommand({ Bucket })), 'OwnershipControlsNotFoundError', 404);
    // ACLs are enabled now (as S3 has it); a public ACL meets BlockPublicAcls of the new bucket's block.
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket, Key: 'p', Body: 'x', ACL: 'public-read' })), 'AccessDenied', 403);
    await expectS3Error(s3.send(new PutObjectAclCommand({ Bucket, Key: 'obj', ACL: 'public-read' })), 'AccessDenied', 403);
    await expectS3Error(s3.send(new PutBucketAclCommand({ Bucket, GrantRead: ALL_USERS })), 'AccessDenied', 403);
    // Without the block, ACLs are stored and read back.
    await s3.send(new DeletePublicAccessBlockCommand({ Bucket }));
    await s3.send(new PutObjectCommand({ Bucket, Key: 'p', Body: 'x', ACL: 'public-read' }));
    assert.equal((await s3.send(new GetObjectAclCommand({ Bucket, Key: 'p' }))).Grants?.length, 2);
    await s3.send(new PutBucketAclCommand({ Bucket, ACL: 'public-read' }));
    assert.equal((await s3.send(new GetBucketAclCommand({ Bucket }))).Grants?.length, 2);
    // S3 will not disable ACLs while the bucket's own ACL grants others…
    const enforced = { Bucket, OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' as const }] } };
    await expectS3Error(s3.send(new PutBucketOwnershipControlsCommand(enforced)), 'InvalidBucketAclWithObjectOwnership', 400);
    await expectS3Error(s3.send(new GetBucketOwnershipControlsCommand({ Bucket })), 'OwnershipControlsNotFoundError', 404);
    // …but does once it is private again; the objects' ACLs then read back as the owner's alone.
    await s3.send(new PutBucketAclCommand({ Bucket, ACL: 'private' }));
    await s3.send(new PutBucketOwnershipControlsCommand(enforced));
    const acl = await s3.send(new GetObjectAclCommand({ Bucket, Key: 'p' }));
    assert.deepEqual(acl.Grants?.map((g) => [g.Grantee?.ID, g.Permission]), [[ownerId, 'FULL_CONTROL']]);
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket, Key: 'p', Body: 'x', ACL: 'public-read' })), 'AccessControlListNotSupported', 400);
  });
});
