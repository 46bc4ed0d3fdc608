/**
 * retryingLostBlob (src/s3/object.ts): how GET, HEAD, CopyObject and UploadPartCopy
 * answer when the blob they opened is gone. A race with the blob collector (another blob
 * each time) is resolved again, or SlowDown when lost three times running; the same blob missing
 * twice is lost data: InternalError's cause, logged with the blob id, never retried for ever.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BlobNotFoundError } from '../../src/blob/blob-store.js';
import { S3Error } from '../../src/errors/s3-errors.js';
import type { ObjectEndpoint } from '../../src/http/router.js';
import type { S3Request } from '../../src/http/types.js';
import type { S3Context } from '../../src/s3/context.js';
import { retryingLostBlob } from '../../src/s3/object.js';

function setup(): { ctx: S3Context; req: S3Request<ObjectEndpoint>; logged: unknown[] } {
  const logged: unknown[] = [];
  const ctx = { log: { error: (fields: unknown) => logged.push(fields) } } as unknown as S3Context;
  const req = { requestId: 'R1', endpoint: { kind: 'object', bucket: 'b', key: 'k' } } as unknown as S3Request<ObjectEndpoint>;
  return { ctx, req, logged };
}

/** An attempt that fails with the given missing blobs in turn, then answers. */
function attempts(...missing: string[]): { run: () => Promise<string>; calls: () => number } {
  let n = 0;
  return {
    run: async () => {
      const blob = missing[n++];
      if (blob !== undefined) throw new BlobNotFoundError(blob);
      return 'answer';
    },
    calls: () => n,
  };
}

test('lost_blob_race_once_is_resolved_again_and_answers', async () => {
  const { ctx, req, logged } = setup();
  const a = attempts('b1');
  assert.equal(await retryingLostBlob(ctx, req, a.run), 'answer');
  assert.equal(a.calls(), 2);
  assert.deepEqual(logged, [], 'a race is not an error');
});

test('lost_blob_race_twice_is_resolved_a_third_time', async () => {
  const { ctx, req } = setup();
  const a = attempts('b1', 'b2');
  assert.equal(await retryingLostBlob(ctx, req, a.run), 'answer');
  assert.equal(a.calls(), 3);
});

test('lost_blob_race_three_times_with_different_blobs_is_SlowDown', async () => {
  const { ctx, req } = setup();
  const a = attempts('b1', 'b2', 'b3', 'b4');
  await assert.rejects(retryingLostBlob(ctx, req, a.run), (err: unknown) => err instanceof S3Error && err.code === 'SlowDown');
  assert.equal(a.calls(), 3, 'tried three times, no more');
});

test('the_same_blob_missing_twice_is_lost_data_logged_and_not_retried_again', async () => {
  const { ctx, req, logged } = setup();
  const a = attempts('b1', 'b1');
  await assert.rejects(retryingLostBlob(ctx, req, a.run), (err: unknown) => err instanceof BlobNotFoundError && err.blobId === 'b1');
  assert.equal(a.calls(), 2);
  assert.deepEqual(logged, [{ requestId: 'R1', bucket: 'b', key: 'k', blobId: 'b1' }]);
});

test('other_errors_are_not_retried', async () => {
  const { ctx, req } = setup();
  let calls = 0;
  await assert.rejects(
    retryingLostBlob(ctx, req, async () => {
      calls++;
      throw new S3Error('NoSuchKey');
    }),
    (err: unknown) => err instanceof S3Error && err.code === 'NoSuchKey',
  );
  assert.equal(calls, 1);
});
