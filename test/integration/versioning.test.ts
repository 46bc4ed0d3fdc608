/**
 * S3 versioning against the real server with the AWS SDK for JavaScript v3, as the S3 User
 * Guide describes it ("Using versioning in S3 buckets", "Working with delete markers",
 * "Deleting object versions", "Working with objects in a versioning-suspended bucket") and
 * the API reference words each operation: PutBucketVersioning / GetBucketVersioning, version
 * ids on PutObject, CopyObject and CompleteMultipartUpload, GET / HEAD / DELETE / tagging /
 * ACL with versionId, delete markers (404 with x-amz-delete-marker; 405 with Allow: DELETE
 * when named), ListObjectVersions with markers, DeleteObjects with versions, the null version.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketVersioningCommand,
  GetObjectAclCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { bodyBytes, expectS3Error, md5Base64, storedBlobIds } from '../helpers/s3.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServer, type TestServer } from '../helpers/server.js';
import { signedRequest } from '../helpers/raw-s3.js';

const VERSION_ID = /^[0-9a-f]{32}$/;

describe('versioning', () => {
  let server: TestServer;
  let s3: S3Client;
  let n = 0;
  const text = async (out: Parameters<typeof bodyBytes>[0]) => (await bodyBytes(out)).toString('utf8');
  const bucket = async (state?: 'Enabled' | 'Suspended'): Promise<string> => {
    const name = `ver-${n++}`;
    await s3.send(new CreateBucketCommand({ Bucket: name }));
    if (state) await s3.send(new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: state } }));
    return name;
  };
  const put = async (Bucket: string, Key: string, Body: string): Promise<string | undefined> => (await s3.send(new PutObjectCommand({ Bucket, Key, Body }))).VersionId;
  /** ListObjectVersions as `key:versionId-or-DM[*]`, S3's order. */
  const versions = async (Bucket: string, extra: { Prefix?: string } = {}) => {
    const out = await s3.send(new ListObjectVersionsCommand({ Bucket, ...extra }));
    return {
      versions: (out.Versions ?? []).map((v) => ({ key: v.Key!, id: v.VersionId!, latest: v.IsLatest!, etag: v.ETag!, size: v.Size! })),
      markers: (out.DeleteMarkers ?? []).map((m) => ({ key: m.Key!, id: m.VersionId!, latest: m.IsLatest! })),
    };
  };

  before(async () => {
    server = await startServer();
    s3 = server.client();
  });
  after(async () => {
    s3?.destroy();
    await server?.destroy();
  });

  test('GetBucketVersioning_is_empty_until_enabled_then_Enabled_then_Suspended_never_unversioned_again', async () => {
    const b = await bucket();
    assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: b }))).Status, undefined);
    await s3.send(new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Enabled' } }));
    assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: b }))).Status, 'Enabled');
    await s3.send(new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Suspended' } }));
    assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: b }))).Status, 'Suspended');
    // MFA delete needs an MFA device: not implemented (501), and the state is left alone.
    await expectS3Error(s3.send(new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Enabled', MFADelete: 'Enabled' } })), 'NotImplemented', 501);
    assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: b }))).Status, 'Suspended');
    // A status that is not Enabled or Suspended is malformed.
    const body = Buffer.from('<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Disabled</Status></VersioningConfiguration>');
    const bad = await signedRequest(server, { method: 'PUT', path: `/${b}`, query: { versioning: '' }, body, headers: { 'content-md5': md5Base64(body) } });
    assert.equal(bad.status, 400);
    assert.match(bad.body.toString(), /<Code>MalformedXML<\/Code>/);
  });

  test('PutObject_in_an_enabled_bucket_returns_a_version_id_and_every_version_stays_readable', async () => {
    const b = await bucket('Enabled');
    const v1 = await put(b, 'k', 'one');
    const v2 = await put(b, 'k', 'two');
    assert.match(v1!, VERSION_ID);
    assert.match(v2!, VERSION_ID);
    assert.notEqual(v1, v2);
    assert.equal(await text(await s3.send(new GetObjectCommand({ Bucket: b, Key: 'k' }))), 'two');
    const old = await s3.send(new GetObjectCommand({ Bucket: b, Key: 'k', VersionId: v1 }));
    assert.equal(old.VersionId, v1);
    assert.equal(await text(old), 'one');
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'k', VersionId: v1 }))).ContentLength, 3);
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'k' }))).VersionId, v2);
    const listed = await versions(b);
    assert.deepEqual(listed.versions.map((v) => [v.id, v.latest, v.size]), [[v2, true, 3], [v1, false, 3]]);
    // ListObjectsV2 shows only the current object.
    assert.deepEqual((await s3.send(new ListObjectsV2Command({ Bucket: b }))).Contents?.map((o) => o.Key), ['k']);
  });

  test('invalid_version_id_is_400_InvalidArgument_and_a_missing_one_404_NoSuchVersion', async () => {
    const b = await bucket('Enabled');
    await put(b, 'k', 'x');
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: b, Key: 'k', VersionId: 'not-a-version' })), 'InvalidArgument', 400);
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: b, Key: 'k', VersionId: '0123456789abcdef0123456789abcdef' })), 'NoSuchVersion', 404);
    await expectS3Error(s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k', VersionId: 'not-a-version' })), 'InvalidArgument', 400);
    await expectS3Error(s3.send(new GetObjectTaggingCommand({ Bucket: b, Key: 'k', VersionId: '0123456789abcdef0123456789abcdef' })), 'NoSuchVersion', 404);
  });

  test('delete_adds_a_marker_GET_is_404_with_x_amz_delete_marker_and_naming_the_marker_is_405_Allow_DELETE', async () => {
    const b = await bucket('Enabled');
    const v1 = await put(b, 'k', 'data');
    const del = await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k' }));
    assert.equal(del.DeleteMarker, true);
    assert.match(del.VersionId!, VERSION_ID);
    const get = await signedRequest(server, { method: 'GET', path: `/${b}/k` });
    assert.equal(get.status, 404);
    assert.match(get.body.toString(), /<Code>NoSuchKey<\/Code>/);
    assert.equal(get.headers['x-amz-delete-marker'], 'true');
    assert.equal(get.headers['x-amz-version-id'], del.VersionId);
    const named = await signedRequest(server, { method: 'GET', path: `/${b}/k`, query: { versionId: del.VersionId! } });
    assert.equal(named.status, 405);
    assert.match(named.body.toString(), /<Code>MethodNotAllowed<\/Code>/);
    assert.equal(named.headers['allow'], 'DELETE');
    assert.equal(named.headers['x-amz-delete-marker'], 'true');
    assert.ok(named.headers['last-modified'], 'Last-Modified of the delete marker');
    const head = await signedRequest(server, { method: 'HEAD', path: `/${b}/k`, query: { versionId: del.VersionId! } });
    assert.equal(head.status, 405);
    // The old version is still there; the listing shows the marker as latest.
    assert.equal(await text(await s3.send(new GetObjectCommand({ Bucket: b, Key: 'k', VersionId: v1 }))), 'data');
    const listed = await versions(b);
    assert.deepEqual(listed.markers, [{ key: 'k', id: del.VersionId, latest: true }]);
    assert.deepEqual(listed.versions.map((v) => [v.id, v.latest]), [[v1, false]]);
    assert.equal((await s3.send(new ListObjectsV2Command({ Bucket: b }))).KeyCount, 0);
    // Deleting the marker brings the object back.
    const undo = await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k', VersionId: del.VersionId }));
    assert.equal(undo.DeleteMarker, true);
    assert.equal(undo.VersionId, del.VersionId);
    assert.equal(await text(await s3.send(new GetObjectCommand({ Bucket: b, Key: 'k' }))), 'data');
  });

  test('deleting_the_latest_version_by_id_makes_the_previous_one_latest', async () => {
    const b = await bucket('Enabled');
    const v1 = await put(b, 'k', 'first');
    const v2 = await put(b, 'k', 'second');
    const del = await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k', VersionId: v2 }));
    assert.equal(del.VersionId, v2);
    assert.equal(del.DeleteMarker, undefined);
    const cur = await s3.send(new GetObjectCommand({ Bucket: b, Key: 'k' }));
    assert.equal(cur.VersionId, v1);
    assert.equal(await text(cur), 'first');
    assert.deepEqual((await versions(b)).versions.map((v) => [v.id, v.latest]), [[v1, true]]);
    // Deleting a version that no longer exists still answers 204 (S3 does).
    assert.equal((await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k', VersionId: v2 }))).$metadata.httpStatusCode, 204);
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k', VersionId: v1 }));
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: b, Key: 'k' })), 'NoSuchKey', 404);
    // No versions left: the bucket is empty and can go.
    await s3.send(new DeleteBucketCommand({ Bucket: b }));
  });

  test('a_bucket_with_only_delete_markers_left_is_not_empty', async () => {
    const b = await bucket('Enabled');
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'never-written' }));
    await expectS3Error(s3.send(new DeleteBucketCommand({ Bucket: b })), 'BucketNotEmpty', 409);
  });

  test('objects_written_before_versioning_are_version_null_and_suspend_re_enable_sequences_keep_S3s_rules', async () => {
    const b = await bucket();
    assert.equal(await put(b, 'k', 'pre'), undefined, 'no version id before versioning');
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'k' }))).VersionId, undefined);
    await s3.send(new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Enabled' } }));
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'k' }))).VersionId, 'null');
    const v1 = await put(b, 'k', 'enabled-1');
    assert.equal(await text(await s3.send(new GetObjectCommand({ Bucket: b, Key: 'k', VersionId: 'null' }))), 'pre');
    // Suspended: a PUT writes the null version, replacing the old null one; v1 is kept.
    await s3.send(new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Suspended' } }));
    assert.equal(await put(b, 'k', 'suspended-1'), 'null');
    assert.equal(await put(b, 'k', 'suspended-2'), 'null');
    let listed = await versions(b);
    assert.deepEqual(listed.versions.map((v) => [v.id, v.latest]), [['null', true], [v1, false]]);
    assert.equal(await text(await s3.send(new GetObjectCommand({ Bucket: b, Key: 'k', VersionId: 'null' }))), 'suspended-2');
    // Suspended DELETE: the null version goes and a null delete marker takes its place.
    const del = await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k' }));
    assert.equal(del.DeleteMarker, true);
    assert.equal(del.VersionId, 'null');
    listed = await versions(b);
    assert.deepEqual(listed.markers, [{ key: 'k', id: 'null', latest: true }]);
    assert.deepEqual(listed.versions.map((v) => v.id), [v1]);
    // Re-enabled: new versions get ids again; the null marker stays among them.
    await s3.send(new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Enabled' } }));
    const v2 = await put(b, 'k', 'enabled-2');
    assert.match(v2!, VERSION_ID);
    listed = await versions(b);
    assert.deepEqual(listed.versions.map((v) => [v.id, v.latest]), [[v2, true], [v1, false]]);
    assert.deepEqual(listed.markers, [{ key: 'k', id: 'null', latest: false }]);
    assert.equal(await text(await s3.send(new GetObjectCommand({ Bucket: b, Key: 'k', VersionId: v1 }))), 'enabled-1');
  });

  test('ListObjectVersions_orders_keys_ascending_newest_first_and_pages_with_key_and_version_id_markers', async () => {
    const b = await bucket('Enabled');
    const ids: Record<string, string[]> = { a: [], b: [], 'dir/x': [], 'dir/y': [] };
    for (let i = 0; i < 3; i++) for (const k of Object.keys(ids)) ids[k]!.unshift((await put(b, k, `${k}${i}`))!);
    const marker = (await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'b' }))).VersionId!;
    const expected = [
      ...ids.a!.map((id) => `a:${id}`),
      `b:${marker}`,
      ...ids.b!.map((id) => `b:${id}`),
      ...ids['dir/x']!.map((id) => `dir/x:${id}`),
      ...ids['dir/y']!.map((id) => `dir/y:${id}`),
    ];
    const seen: string[] = [];
    let KeyMarker: string | undefined;
    let VersionIdMarker: string | undefined;
    for (let page = 0; page < 20; page++) {
      const out = await s3.send(new ListObjectVersionsCommand({ Bucket: b, MaxKeys: 2, KeyMarker, VersionIdMarker }));
      // The SDK splits Version and DeleteMarker; S3 orders them as one list, which a page of two never breaks.
      const entries = [...(out.Versions ?? []).map((v) => ({ k: v.Key!, id: v.VersionId! })), ...(out.DeleteMarkers ?? []).map((m) => ({ k: m.Key!, id: m.VersionId! }))];
      entries.sort((x, y) => expected.indexOf(`${x.k}:${x.id}`) - expected.indexOf(`${y.k}:${y.id}`));
      seen.push(...entries.map((e) => `${e.k}:${e.id}`));
      if (!out.IsTruncated) break;
      assert.ok(out.NextKeyMarker && out.NextVersionIdMarker, 'a truncated page names where the next starts');
      KeyMarker = out.NextKeyMarker;
      VersionIdMarker = out.NextVersionIdMarker;
    }
    assert.deepEqual(seen, expected);
    // Delimiter: dir/ rolls up into one CommonPrefix.
    const rolled = await s3.send(new ListObjectVersionsCommand({ Bucket: b, Delimiter: '/' }));
    assert.deepEqual(rolled.CommonPrefixes?.map((p) => p.Prefix), ['dir/']);
    assert.deepEqual([...new Set(rolled.Versions?.map((v) => v.Key))], ['a', 'b']);
    // Prefix, and IsLatest per key.
    const dir = await versions(b, { Prefix: 'dir/' });
    assert.deepEqual(dir.versions.filter((v) => v.latest).map((v) => v.key), ['dir/x', 'dir/y']);
    // A version-id-marker without a key-marker is refused; so is one that is no version id.
    const raw = await signedRequest(server, { method: 'GET', path: `/${b}`, query: { versions: '', 'version-id-marker': ids.a![0]! } });
    assert.equal(raw.status, 400);
    const rawBad = await signedRequest(server, { method: 'GET', path: `/${b}`, query: { versions: '', 'key-marker': 'a', 'version-id-marker': 'zzz' } });
    assert.equal(rawBad.status, 400);
    assert.match(rawBad.body.toString(), /<Code>InvalidArgument<\/Code>/);
  });

  test('ListObjectVersions_encoding_type_url_percent_encodes_keys', async () => {
    const b = await bucket('Enabled');
    await put(b, 'a b+c', 'x');
    const raw = await signedRequest(server, { method: 'GET', path: `/${b}`, query: { versions: '', 'encoding-type': 'url' } });
    assert.equal(raw.status, 200);
    assert.match(raw.body.toString(), /<Key>a%20b%2Bc<\/Key>/);
    assert.match(raw.body.toString(), /<EncodingType>url<\/EncodingType>/);
    // A key XML 1.0 cannot carry (U+0001): the page goes out url-encoded, saying so, as ListObjects does.
    const c = await bucket('Enabled');
    await put(c, 'ctl\u0001key', 'x');
    const auto = await signedRequest(server, { method: 'GET', path: `/${c}`, query: { versions: '' } });
    assert.match(auto.body.toString(), /<Key>ctl%01key<\/Key>/);
    assert.match(auto.body.toString(), /<EncodingType>url<\/EncodingType>/);
    assert.match(raw.body.toString(), /<Version><Key>a%20b%2Bc<\/Key><VersionId>[0-9a-f]{32}<\/VersionId><IsLatest>true<\/IsLatest><LastModified>/);
  });

  test('CopyObject_reads_a_named_source_version_and_the_copy_gets_its_own_version_id', async () => {
    const b = await bucket('Enabled');
    const v1 = await put(b, 'src', 'old');
    await put(b, 'src', 'new');
    const copy = await s3.send(new CopyObjectCommand({ Bucket: b, Key: 'dst', CopySource: `${b}/src?versionId=${v1}` }));
    assert.equal(copy.CopySourceVersionId, v1);
    assert.match(copy.VersionId!, VERSION_ID);
    assert.equal(await text(await s3.send(new GetObjectCommand({ Bucket: b, Key: 'dst' }))), 'old');
    // Restoring an older version by copying it onto its own key (S3's documented way).
    const restored = await s3.send(new CopyObjectCommand({ Bucket: b, Key: 'src', CopySource: `${b}/src?versionId=${v1}` }));
    assert.equal(await text(await s3.send(new GetObjectCommand({ Bucket: b, Key: 'src' }))), 'old');
    assert.equal((await versions(b, { Prefix: 'src' })).versions.length, 3);
    assert.match(restored.VersionId!, VERSION_ID);
    await expectS3Error(s3.send(new CopyObjectCommand({ Bucket: b, Key: 'dst', CopySource: `${b}/src?versionId=0123456789abcdef0123456789abcdef` })), 'NoSuchVersion', 404);
    const marker = (await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'src' }))).VersionId!;
    await expectS3Error(s3.send(new CopyObjectCommand({ Bucket: b, Key: 'dst', CopySource: `${b}/src?versionId=${marker}` })), 'InvalidRequest', 400);
    await expectS3Error(s3.send(new CopyObjectCommand({ Bucket: b, Key: 'dst', CopySource: `${b}/src` })), 'NoSuchKey', 404);
  });

  test('CompleteMultipartUpload_in_an_enabled_bucket_returns_a_version_id', async () => {
    const b = await bucket('Enabled');
    const v1 = await put(b, 'mp', 'single');
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: b, Key: 'mp' }));
    const part = await s3.send(new UploadPartCommand({ Bucket: b, Key: 'mp', UploadId, PartNumber: 1, Body: 'multi' }));
    const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: b, Key: 'mp', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }));
    assert.match(done.VersionId!, VERSION_ID);
    assert.equal(await text(await s3.send(new GetObjectCommand({ Bucket: b, Key: 'mp' }))), 'multi');
    assert.equal(await text(await s3.send(new GetObjectCommand({ Bucket: b, Key: 'mp', VersionId: v1 }))), 'single');
  });

  test('tagging_and_ACL_of_a_named_version', async () => {
    const b = await bucket('Enabled');
    const v1 = await put(b, 'k', 'one');
    const v2 = await put(b, 'k', 'two');
    const tagged = await s3.send(new PutObjectTaggingCommand({ Bucket: b, Key: 'k', VersionId: v1, Tagging: { TagSet: [{ Key: 'era', Value: 'old' }] } }));
    assert.equal(tagged.VersionId, v1);
    assert.deepEqual((await s3.send(new GetObjectTaggingCommand({ Bucket: b, Key: 'k', VersionId: v1 }))).TagSet, [{ Key: 'era', Value: 'old' }]);
    const current = await s3.send(new GetObjectTaggingCommand({ Bucket: b, Key: 'k' }));
    assert.deepEqual(current.TagSet, []);
    assert.equal(current.VersionId, v2);
    const acl = await s3.send(new GetObjectAclCommand({ Bucket: b, Key: 'k', VersionId: v1 }));
    assert.equal(acl.Grants?.[0]?.Permission, 'FULL_CONTROL');
    await expectS3Error(s3.send(new GetObjectAclCommand({ Bucket: b, Key: 'k', VersionId: '0123456789abcdef0123456789abcdef' })), 'NoSuchVersion', 404);
  });

  test('DeleteObjects_with_and_without_version_ids_reports_DeleteMarker_and_DeleteMarkerVersionId', async () => {
    const b = await bucket('Enabled');
    const v1 = await put(b, 'a', 'a1');
    await put(b, 'b', 'b1');
    const out = await s3.send(new DeleteObjectsCommand({ Bucket: b, Delete: { Objects: [{ Key: 'a', VersionId: v1 }, { Key: 'b' }, { Key: 'c', VersionId: 'bogus' }] } }));
    const byKey = new Map(out.Deleted?.map((d) => [d.Key, d]));
    assert.equal(byKey.get('a')?.VersionId, v1);
    assert.equal(byKey.get('a')?.DeleteMarker, undefined);
    assert.equal(byKey.get('b')?.DeleteMarker, true);
    assert.match(byKey.get('b')!.DeleteMarkerVersionId!, VERSION_ID);
    assert.deepEqual(out.Errors?.map((e) => [e.Key, e.Code]), [['c', 'NoSuchVersion']]);
    // Deleting the marker by id through DeleteObjects: DeleteMarker true, and b is back.
    const undo = await s3.send(new DeleteObjectsCommand({ Bucket: b, Delete: { Objects: [{ Key: 'b', VersionId: byKey.get('b')!.DeleteMarkerVersionId }] } }));
    assert.equal(undo.Deleted?.[0]?.DeleteMarker, true);
    assert.equal(await text(await s3.send(new GetObjectCommand({ Bucket: b, Key: 'b' }))), 'b1');
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: b, Key: 'a' })), 'NoSuchKey', 404);
  });

  test('a_named_version_needs_the_Version_actions_s3_GetObjectVersion_and_s3_DeleteObjectVersion', async () => {
    const b = await bucket('Enabled');
    const v1 = await put(b, 'k', 'one');
    await put(b, 'k', 'two');
    const iam = new IAMClient({ endpoint: server.url, region: 'us-east-1', credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey } });
    await iam.send(new CreateUserCommand({ UserName: 'ver-plain' }));
    await iam.send(
      new PutUserPolicyCommand({
        UserName: 'ver-plain',
        PolicyName: 'p',
        PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:GetObject', 's3:DeleteObject'], Resource: `arn:aws:s3:::${b}/*` }] }),
      }),
    );
    const k = (await iam.send(new CreateAccessKeyCommand({ UserName: 'ver-plain' }))).AccessKey!;
    const user = server.client({ credentials: { accessKeyId: k.AccessKeyId!, secretAccessKey: k.SecretAccessKey! } });
    try {
      assert.equal(await text(await user.send(new GetObjectCommand({ Bucket: b, Key: 'k' }))), 'two');
      await expectS3Error(user.send(new GetObjectCommand({ Bucket: b, Key: 'k', VersionId: v1 })), 'AccessDenied', 403);
      await expectS3Error(user.send(new DeleteObjectCommand({ Bucket: b, Key: 'k', VersionId: v1 })), 'AccessDenied', 403);
      await expectS3Error(user.send(new ListObjectVersionsCommand({ Bucket: b })), 'AccessDenied', 403);
      const multi = await user.send(new DeleteObjectsCommand({ Bucket: b, Delete: { Objects: [{ Key: 'k', VersionId: v1 }] } }));
      assert.deepEqual(multi.Errors?.map((e) => e.Code), ['AccessDenied']);
      // A plain DELETE (s3:DeleteObject) only adds a delete marker.
      assert.equal((await user.send(new DeleteObjectCommand({ Bucket: b, Key: 'k' }))).DeleteMarker, true);
      assert.equal(await text(await s3.send(new GetObjectCommand({ Bucket: b, Key: 'k', VersionId: v1 }))), 'one');
    } finally {
      user.destroy();
      iam.destroy();
    }
  });

  test('unversioned_bucket_behaves_as_before_no_version_headers_and_versionId_null_reads_the_object', async () => {
    const b = await bucket();
    const put1 = await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'x' }));
    assert.equal(put1.VersionId, undefined);
    assert.equal(await text(await s3.send(new GetObjectCommand({ Bucket: b, Key: 'k', VersionId: 'null' }))), 'x');
    const del = await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k' }));
    assert.equal(del.DeleteMarker, undefined);
    assert.equal(del.VersionId, undefined);
    assert.deepEqual(await versions(b), { versions: [], markers: [] });
    await s3.send(new DeleteBucketCommand({ Bucket: b }));
  });
});

/**
 * The blob collector and versions: an overwrite or a delete marker in a versioned bucket frees
 * nothing (every version keeps its data across collector rounds and a restart's crash recovery);
 * only a permanent delete of a version frees its blob, and exactly that one.
 */
describe('versioning and the blob collector', () => {
  let server: TestServer;
  let s3: S3Client;
  const env = { COFFER_GC_GRACE_MS: '0', COFFER_GC_INTERVAL_MS: '100' };

  before(async () => {
    server = await startServer({ env });
    s3 = server.client();
  });
  after(async () => {
    s3?.destroy();
    await server?.destroy();
  });

  test('noncurrent_versions_keep_their_blobs_across_collection_and_restart_and_a_permanent_delete_frees_exactly_one', async () => {
    const b = 'ver-gc';
    await s3.send(new CreateBucketCommand({ Bucket: b }));
    await s3.send(new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Enabled' } }));
    const ids: string[] = [];
    for (const body of ['one', 'two', 'three']) ids.push((await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: body }))).VersionId!);
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k' }));
    const blobsBefore = storedBlobIds(server.dataDir);
    assert.equal(blobsBefore.length, 3, 'three versions, three blobs');
    // Several collector rounds (100 ms, no grace period), then a restart (crash recovery runs at start).
    await sleep(500);
    assert.deepEqual(storedBlobIds(server.dataDir), blobsBefore, 'the collector freed nothing');
    await server.stop();
    server = await startServer({ dataDir: server.dataDir, accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey, env });
    s3.destroy();
    s3 = server.client();
    for (const [i, body] of ['one', 'two', 'three'].entries()) {
      assert.equal((await bodyBytes(await s3.send(new GetObjectCommand({ Bucket: b, Key: 'k', VersionId: ids[i] })))).toString(), body);
    }
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k', VersionId: ids[1] }));
    let after = storedBlobIds(server.dataDir);
    for (let i = 0; i < 100 && after.length !== 2; i++) {
      await sleep(100);
      after = storedBlobIds(server.dataDir);
    }
    assert.equal(after.length, 2, 'the permanently deleted version’s blob is collected');
    assert.ok(after.every((id) => blobsBefore.includes(id)));
    assert.equal((await bodyBytes(await s3.send(new GetObjectCommand({ Bucket: b, Key: 'k', VersionId: ids[0] })))).toString(), 'one');
    assert.equal((await bodyBytes(await s3.send(new GetObjectCommand({ Bucket: b, Key: 'k', VersionId: ids[2] })))).toString(), 'three');
  });
});
