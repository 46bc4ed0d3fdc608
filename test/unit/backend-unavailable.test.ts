/**
 * Which failures mean "the storage backend is unavailable" (src/errors/backend-unavailable.ts)
 * and what the renderer answers for them: S3's retryable 503 ServiceUnavailable, where any
 * other failure is a 500 InternalError and a full disk keeps its own 503 message.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BackendUnavailableError, isBackendUnavailable } from '../../src/errors/backend-unavailable.js';
import { isOutOfSpace, OutOfSpaceError } from '../../src/errors/out-of-space.js';
import { storageFullError } from '../../src/errors/s3-errors.js';
import { toS3Error } from '../../src/http/render.js';

const coded = (code: string): Error => Object.assign(new Error(code), { code });

describe('backend unavailable', () => {
  test('isBackendUnavailable_knows_filesystem_and_SQLite_failures_of_the_store', () => {
    for (const code of ['EROFS', 'EIO', 'SQLITE_READONLY', 'SQLITE_READONLY_DBMOVED', 'SQLITE_IOERR', 'SQLITE_IOERR_WRITE', 'SQLITE_IOERR_FSYNC', 'SQLITE_CANTOPEN', 'SQLITE_CANTOPEN_NOTEMPDIR']) {
      assert.equal(isBackendUnavailable(coded(code)), true, code);
    }
    assert.equal(isBackendUnavailable(new BackendUnavailableError('the blob store directory is missing')), true);
    assert.equal(isBackendUnavailable(new Error('KMS failed', { cause: new Error('audit', { cause: coded('EROFS') }) })), true, 'causes are followed');
  });

  test('isBackendUnavailable_knows_PostgreSQL_connection_failures_by_SQLSTATE', () => {
    // connection_failure, connection_does_not_exist, sqlclient_unable_to_establish_sqlconnection, protocol_violation,
    // admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections.
    for (const code of ['08006', '08003', '08001', '08P01', '57P01', '57P02', '57P03', '53300']) {
      assert.equal(isBackendUnavailable(coded(code)), true, code);
    }
    // serialization_failure, unique_violation, query_canceled, disk_full (out-of-space's, not ours).
    for (const code of ['40001', '23505', '57014', '53100']) assert.equal(isBackendUnavailable(coded(code)), false, code);
    assert.equal(isOutOfSpace(coded('53100')), true, "PostgreSQL's full disk is out of space");
  });

  test('isBackendUnavailable_leaves_other_failures_alone', () => {
    // A missing file is one missing blob or key, not a missing store; a full disk is its own condition.
    for (const code of ['ENOENT', 'EACCES', 'SQLITE_CONSTRAINT', 'SQLITE_CORRUPT', 'SQLITE_BUSY', 'ENOSPC', 'SQLITE_FULL', 'SQLITE_IOERR_SHMSIZE', 'SQLITE_IOERRX']) {
      assert.equal(isBackendUnavailable(coded(code)), false, code);
    }
    assert.equal(isBackendUnavailable(new Error('plain')), false);
    assert.equal(isBackendUnavailable(undefined), false);
  });

  test('toS3Error_answers_ServiceUnavailable_for_an_unavailable_backend', () => {
    for (const err of [coded('EROFS'), coded('SQLITE_IOERR_WRITE'), new BackendUnavailableError('gone')]) {
      const s3 = toS3Error(err);
      assert.equal(s3.code, 'ServiceUnavailable');
      assert.equal(s3.status, 503);
      assert.doesNotMatch(s3.message, /EROFS|SQLITE|gone/, 'internal messages stay in the log');
    }
    assert.equal(toS3Error(new OutOfSpaceError('full')).message, storageFullError().message, 'a full disk keeps its own message');
    assert.equal(toS3Error(coded('ENOENT')).code, 'InternalError');
  });
});
