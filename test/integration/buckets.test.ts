/**
 * Bucket operations against the real server with the AWS SDK for JavaScript
 * v3: ListBuckets, CreateBucket (naming rules, re-creation, location
 * constraints), HeadBucket, DeleteBucket, GetBucketLocation,
 * GetBucketVersioning, the 501 for sub-resources Coffer does not implement,
 * virtual-hosted-style addressing, and a server in another region.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { LookupFunction } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetBucketWebsiteCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketLocationCommand,
  GetBucketTaggingCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type BucketLocationConstraint,
} from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { S3_ERRORS, type S3ErrorCode } from '../../src/errors/s3-errors.js';
import { bodyBytes, expectS3Error, type SdkError } from '../helpers/s3.js';
import { startServer, type TestServer } from '../helpers/server.js';

function expectCode(promise: Promise<unknown>, code: S3ErrorCode): Promise<SdkError> {
  return expectS3Error(promise, code, S3_ERRORS[code].status);
}

/** HEAD responses have no body, so no error code: the SDK calls a 404 `NotFound`. */
async function expectHeadNotFound(promise: Promise<unknown>): Promise<void> {
  let caught: SdkError | undefined;
  try {
    await promise;
  } catch (err) {
    caught = err as SdkError;
  }
  assert.ok(caught, 'expected 404, but the request succeeded');
  assert.equal(caught.$metadata.httpStatusCode, 404);
  assert.equal(caught.name, 'NotFound');
}

async function bucketNames(s3: S3Client): Promise<string[]> {
  return (await s3.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name!) ?? [];
}

/** Resolves every host name (e.g. `bucket.localhost`, which the system resolver does not know) to loopback. */
const loopbackLookup: LookupFunction = (_hostname, options, callback) => {
  if (options.all) (callback as (err: null, addresses: { address: string; family: number }[]) => void)(null, [{ address: '127.0.0.1', family: 4 }]);
  else callback(null, '127.0.0.1', 4);
};

describe('buckets', () => {
  let server: TestServer;
  let s3: S3Client;

  before(async () => {
    server = await startServer();
    s3 = server.client();
  });
  after(async () => {
    s3?.destroy();
    await server?.destroy();
  });

  describe('ListBuckets', () => {
    const NAMES = ['list-c', 'list-a', 'list-b', 'other-list'];
    before(async () => {
      for (const Bucket of NAMES) await s3.send(new CreateBucketCommand({ Bucket }));
    });

    test('ListBuckets_lists_own_buckets_in_name_order_with_owner', async () => {
      const started = Date.now();
      const out = await s3.send(new ListBucketsCommand({}));
      const names = out.Buckets?.map((b) => b.Name!) ?? [];
      assert.deepEqual(names.filter((n) => NAMES.includes(n)), [...NAMES].sort());
      assert.deepEqual(names, [...names].sort(), 'buckets come in name order');
      assert.match(out.Owner?.ID ?? '', /^\S+$/, 'Owner.ID is present');
      for (const b of out.Buckets ?? []) {
        assert.ok(b.CreationDate instanceof Date && Math.abs(b.CreationDate.getTime() - started) < 600_000);
        assert.equal(b.BucketRegion, 'us-east-1');
      }
    });

    test('ListBuckets_prefix_filters_names', async () => {
      const out = await s3.send(new ListBucketsCommand({ Prefix: 'list-' }));
      assert.deepEqual(out.Buckets?.map((b) => b.Name), ['list-a', 'list-b', 'list-c']);
      assert.equal(out.Prefix, 'list-');
    });

    test('ListBuckets_max_buckets_pages_with_continuation_token', async () => {
      const all = await bucketNames(s3);
      const seen: string[] = [];
      let token: string | undefined;
      for (let i = 0; i < 50; i++) {
        const page = await s3.send(new ListBucketsCommand({ MaxBuckets: 2, ...(token ? { ContinuationToken: token } : {}) }));
        const names = page.Buckets?.map((b) => b.Name!) ?? [];
        assert.ok(names.length <= 2);
        seen.push(...names);
        token = page.ContinuationToken;
        if (!token) break;
        assert.equal(names.length, 2, 'only the last page is short');
      }
      assert.deepEqual(seen, all);
      assert.ok(all.length >= 4);
    });

    test('ListBuckets_bucket_region_filters', async () => {
      assert.deepEqual((await s3.send(new ListBucketsCommand({ BucketRegion: 'us-east-1', Prefix: 'list-' }))).Buckets?.length, 3);
      assert.deepEqual((await s3.send(new ListBucketsCommand({ BucketRegion: 'eu-west-1' }))).Buckets ?? [], []);
    });

    test('ListBuckets_bad_max_buckets_is_InvalidArgument', async () => {
      await expectCode(s3.send(new ListBucketsCommand({ MaxBuckets: 0 })), 'InvalidArgument');
      await expectCode(s3.send(new ListBucketsCommand({ MaxBuckets: 10_001 })), 'InvalidArgument');
    });
  });

  describe('CreateBucket', () => {
    const INVALID: [string, string][] = [
      ['too_short', 'ab'],
      ['too_long', 'a'.repeat(64)],
      ['upper_case', 'UpperCase'],
      ['underscore', 'under_score'],
      ['space', 'spa ce'],
      ['leading_hyphen', '-leading-hyphen'],
      ['trailing_hyphen', 'trailing-hyphen-'],
      ['leading_dot', '.leading-dot'],
      ['trailing_dot', 'trailing-dot.'],
      ['adjacent_dots', 'two..dots'],
      ['ip_address', '192.168.5.4'],
      ['xn_prefix', 'xn--punycode'],
      ['sthree_prefix', 'sthree-reserved'],
      ['amzn_s3_demo_prefix', 'amzn-s3-demo-bucket'],
      ['s3alias_suffix', 'alias-s3alias'],
      ['ol_s3_suffix', 'access--ol-s3'],
    ];
    for (const [label, name] of INVALID) {
      test(`CreateBucket_${label}_name_is_InvalidBucketName`, async () => {
        const err = await expectCode(s3.send(new CreateBucketCommand({ Bucket: name })), 'InvalidBucketName');
        assert.equal((err as unknown as { BucketName?: string }).BucketName, name);
        assert.ok(!(await bucketNames(s3)).includes(name));
      });
    }

    test('CreateBucket_names_at_the_limits_are_valid', async () => {
      for (const Bucket of ['abc', 'a'.repeat(63), 'with.dots.ok', '1-2-3', '123']) {
        const out = await s3.send(new CreateBucketCommand({ Bucket }));
        assert.equal(out.Location, `/${Bucket}`);
        await s3.send(new HeadBucketCommand({ Bucket }));
        await s3.send(new DeleteBucketCommand({ Bucket }));
      }
    });

    test('CreateBucket_existing_own_bucket_is_BucketAlreadyOwnedByYou', async () => {
      // Amazon S3 answers 200 to this in us-east-1 only, for legacy compatibility; everywhere
      // else, and in Coffer, it is 409 BucketAlreadyOwnedByYou.
      await s3.send(new CreateBucketCommand({ Bucket: 'twice' }));
      await s3.send(new PutObjectCommand({ Bucket: 'twice', Key: 'keep', Body: 'kept' }));
      await expectCode(s3.send(new CreateBucketCommand({ Bucket: 'twice' })), 'BucketAlreadyOwnedByYou');
      const got = await s3.send(new GetObjectCommand({ Bucket: 'twice', Key: 'keep' }));
      assert.equal((await bodyBytes(got)).toString(), 'kept', 'the existing bucket is untouched');
    });

    test('CreateBucket_location_constraint_of_the_server_region_is_accepted', async () => {
      // Amazon S3 refuses an explicit us-east-1 (InvalidLocationConstraint); Coffer accepts the
      // region it serves, because some clients (boto3 and rclone configured with a region) send it.
      await s3.send(new CreateBucketCommand({ Bucket: 'explicit-region', CreateBucketConfiguration: { LocationConstraint: 'us-east-1' as BucketLocationConstraint } }));
      const out = await s3.send(new GetBucketLocationCommand({ Bucket: 'explicit-region' }));
      assert.equal(out.LocationConstraint ?? '', '');
    });

    test('CreateBucket_other_region_location_constraint_is_IllegalLocationConstraintException', async () => {
      // What a regional S3 endpoint answers when asked for a bucket in another region.
      await expectCode(
        s3.send(new CreateBucketCommand({ Bucket: 'elsewhere', CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } })),
        'IllegalLocationConstraintException',
      );
      assert.ok(!(await bucketNames(s3)).includes('elsewhere'));
    });
  });

  describe('HeadBucket, GetBucketLocation, GetBucketVersioning', () => {
    before(async () => {
      await s3.send(new CreateBucketCommand({ Bucket: 'head-me' }));
    });

    test('HeadBucket_existing_bucket_is_200_with_region', async () => {
      const out = await s3.send(new HeadBucketCommand({ Bucket: 'head-me' }));
      assert.equal(out.$metadata.httpStatusCode, 200);
      assert.equal(out.BucketRegion, 'us-east-1');
    });

    test('HeadBucket_missing_bucket_is_404', async () => {
      await expectHeadNotFound(s3.send(new HeadBucketCommand({ Bucket: 'no-such-bucket-head' })));
    });

    test('GetBucketLocation_us_east_1_is_empty', async () => {
      // S3 answers an empty LocationConstraint for us-east-1.
      const out = await s3.send(new GetBucketLocationCommand({ Bucket: 'head-me' }));
      assert.equal(out.$metadata.httpStatusCode, 200);
      assert.equal(out.LocationConstraint ?? '', '');
    });

    test('GetBucketLocation_missing_bucket_is_NoSuchBucket', async () => {
      await expectCode(s3.send(new GetBucketLocationCommand({ Bucket: 'no-such-bucket-loc' })), 'NoSuchBucket');
    });

    test('GetBucketVersioning_never_enabled_has_no_status', async () => {
      const out = await s3.send(new GetBucketVersioningCommand({ Bucket: 'head-me' }));
      assert.equal(out.$metadata.httpStatusCode, 200);
      assert.equal(out.Status, undefined);
      assert.equal(out.MFADelete, undefined);
    });
  });

  describe('DeleteBucket', () => {
    test('DeleteBucket_empty_bucket_is_204', async () => {
      await s3.send(new CreateBucketCommand({ Bucket: 'delete-me' }));
      const out = await s3.send(new DeleteBucketCommand({ Bucket: 'delete-me' }));
      assert.equal(out.$metadata.httpStatusCode, 204);
      await expectHeadNotFound(s3.send(new HeadBucketCommand({ Bucket: 'delete-me' })));
      assert.ok(!(await bucketNames(s3)).includes('delete-me'));
      // The name is free again.
      await s3.send(new CreateBucketCommand({ Bucket: 'delete-me' }));
      await s3.send(new DeleteBucketCommand({ Bucket: 'delete-me' }));
    });

    test('DeleteBucket_not_empty_is_BucketNotEmpty', async () => {
      await s3.send(new CreateBucketCommand({ Bucket: 'not-empty' }));
      await s3.send(new PutObjectCommand({ Bucket: 'not-empty', Key: 'x', Body: 'x' }));
      await expectCode(s3.send(new DeleteBucketCommand({ Bucket: 'not-empty' })), 'BucketNotEmpty');
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'not-empty' }));
      assert.equal(listed.KeyCount, 1, 'the bucket and its object are still there');
      await s3.send(new DeleteObjectCommand({ Bucket: 'not-empty', Key: 'x' }));
      await s3.send(new DeleteBucketCommand({ Bucket: 'not-empty' }));
    });

    test('DeleteBucket_missing_bucket_is_NoSuchBucket', async () => {
      const err = await expectCode(s3.send(new DeleteBucketCommand({ Bucket: 'no-such-bucket-del' })), 'NoSuchBucket');
      assert.equal((err as unknown as { BucketName?: string }).BucketName, 'no-such-bucket-del');
    });
  });

  describe('sub-resources Coffer does not implement', () => {
    before(async () => {
      await s3.send(new CreateBucketCommand({ Bucket: 'subresources' }));
      await s3.send(new PutObjectCommand({ Bucket: 'subresources', Key: 'obj', Body: 'x' }));
    });
    const Bucket = 'subresources';
    const CASES: [string, () => Promise<unknown>][] = [
      ['GetBucketLifecycleConfiguration', () => s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket }))],
      ['GetBucketTagging', () => s3.send(new GetBucketTaggingCommand({ Bucket }))],
      ['GetBucketWebsite', () => s3.send(new GetBucketWebsiteCommand({ Bucket }))],
    ];
    for (const [operation, send] of CASES) {
      test(`${operation}_is_NotImplemented`, async () => {
        const err = await expectCode(send(), 'NotImplemented');
        assert.match(err.message, new RegExp(operation), 'the message names the operation');
      });
    }
  });

  describe('virtual-hosted-style addressing', () => {
    let vhost: S3Client;
    const sentHosts: string[] = [];
    before(() => {
      // The SDK puts the bucket in the host name when forcePathStyle is off: bucket.localhost:<port>.
      vhost = server.client({
        endpoint: `http://localhost:${server.port}`,
        forcePathStyle: false,
        requestHandler: new NodeHttpHandler({ httpAgent: new http.Agent({ lookup: loopbackLookup }) }),
      });
      vhost.middlewareStack.add(
        (next) => async (args) => {
          sentHosts.push((args.request as { headers: Record<string, string> }).headers.host ?? '');
          return next(args);
        },
        { step: 'finalizeRequest', priority: 'low', name: 'recordHostForTest' },
      );
    });
    after(() => vhost?.destroy());

    test('VirtualHostedStyle_bucket_and_object_operations', async () => {
      const Bucket = 'vhost-bucket';
      await vhost.send(new CreateBucketCommand({ Bucket }));
      assert.equal(sentHosts.at(-1), `${Bucket}.localhost:${server.port}`, 'the request went to the bucket host');
      await vhost.send(new HeadBucketCommand({ Bucket }));
      await vhost.send(new PutObjectCommand({ Bucket, Key: 'dir/key with space+plus', Body: 'virtual' }));
      assert.equal(sentHosts.at(-1), `${Bucket}.localhost:${server.port}`);
      const got = await vhost.send(new GetObjectCommand({ Bucket, Key: 'dir/key with space+plus' }));
      assert.equal((await bodyBytes(got)).toString(), 'virtual');
      const listed = await vhost.send(new ListObjectsV2Command({ Bucket, Prefix: 'dir/' }));
      assert.deepEqual(listed.Contents?.map((c) => c.Key), ['dir/key with space+plus']);
      // Path-style sees the same bucket and object.
      const viaPath = await s3.send(new GetObjectCommand({ Bucket, Key: 'dir/key with space+plus' }));
      assert.equal((await bodyBytes(viaPath)).toString(), 'virtual');
      const location = await vhost.send(new GetBucketLocationCommand({ Bucket }));
      assert.equal(location.LocationConstraint ?? '', '');
      await vhost.send(new DeleteObjectCommand({ Bucket, Key: 'dir/key with space+plus' }));
      await vhost.send(new DeleteBucketCommand({ Bucket }));
      assert.ok(!(await bucketNames(s3)).includes(Bucket));
    });

    test('VirtualHostedStyle_missing_bucket_is_NoSuchBucket', async () => {
      await expectCode(vhost.send(new GetObjectCommand({ Bucket: 'vhost-missing', Key: 'k' })), 'NoSuchBucket');
      assert.equal(sentHosts.at(-1), `vhost-missing.localhost:${server.port}`);
    });

    test('VirtualHostedStyle_ListBuckets_on_the_bare_domain', async () => {
      const out = await vhost.send(new ListBucketsCommand({}));
      assert.equal(sentHosts.at(-1), `localhost:${server.port}`);
      assert.ok(out.Buckets?.some((b) => b.Name === 'head-me'));
    });
  });
});

describe('buckets in another region', () => {
  let server: TestServer;
  let s3: S3Client;
  before(async () => {
    server = await startServer({ args: ['--region', 'eu-west-1'] });
    s3 = server.client({ region: 'eu-west-1' });
  });
  after(async () => {
    s3?.destroy();
    await server?.destroy();
  });

  test('CreateBucket_in_the_server_region_reports_that_region', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'in-ireland', CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } }));
    const location = await s3.send(new GetBucketLocationCommand({ Bucket: 'in-ireland' }));
    assert.equal(location.LocationConstraint, 'eu-west-1');
    const head = await s3.send(new HeadBucketCommand({ Bucket: 'in-ireland' }));
    assert.equal(head.BucketRegion, 'eu-west-1');
    const listed = await s3.send(new ListBucketsCommand({}));
    assert.deepEqual(listed.Buckets?.map((b) => [b.Name, b.BucketRegion]), [['in-ireland', 'eu-west-1']]);
  });

  test('CreateBucket_other_region_is_IllegalLocationConstraintException', async () => {
    await expectCode(
      s3.send(new CreateBucketCommand({ Bucket: 'not-here', CreateBucketConfiguration: { LocationConstraint: 'us-west-2' } })),
      'IllegalLocationConstraintException',
    );
  });

  test('Request_signed_for_another_region_is_AuthorizationHeaderMalformed', async () => {
    const wrongRegion = server.client({ region: 'us-east-1' });
    try {
      const err = await expectCode(wrongRegion.send(new ListBucketsCommand({})), 'AuthorizationHeaderMalformed');
      // S3 names the region the request should have been signed for.
      assert.equal((err as unknown as { Region?: string }).Region, 'eu-west-1');
    } finally {
      wrongRegion.destroy();
    }
  });
});
