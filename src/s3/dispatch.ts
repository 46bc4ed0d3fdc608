/** Maps each routed S3 operation to its handler. */
import type { BucketOperation, ObjectOperation } from '../http/router.js';
import type { S3Request, S3Response } from '../http/types.js';
import { deleteBucketEncryption, getBucketEncryption, putBucketEncryption } from './bucket-encryption.js';
import { updateObjectEncryption } from './update-object-encryption.js';
import { authorizeRequest } from './access.js';
import { deleteBucketPolicy, getBucketPolicy, getBucketPolicyStatus, putBucketPolicy } from './bucket-policy.js';
import {
  deleteBucketOwnershipControls,
  getBucketAcl,
  getBucketOwnershipControls,
  getObjectAcl,
  putBucketAcl,
  putBucketOwnershipControls,
  putObjectAcl,
} from './ownership.js';
import { deleteBucketCors, getBucketCors, putBucketCors } from './cors.js';
import { deletePublicAccessBlock, getPublicAccessBlock, putPublicAccessBlock } from './public-access-block.js';
import { createBucket, deleteBucket, getBucketLocation, headBucket, listBuckets } from './bucket.js';
import { getBucketVersioning, listObjectVersions, putBucketVersioning } from './versioning.js';
import {
  getObjectLegalHold,
  getObjectLockConfiguration,
  getObjectRetention,
  putObjectLegalHold,
  putObjectLockConfiguration,
  putObjectRetention,
} from './object-lock.js';
import type { S3Context } from './context.js';
import { validateKey } from './headers.js';
import { requestScopedMetadata } from './request-metadata.js';
import { checkRequestHeaders } from './request-headers.js';
import { copyObject, uploadPartCopy } from './copy.js';
import { getObjectAttributes } from './object-attributes.js';
import { listObjectsV1, listObjectsV2 } from './list.js';
import {
  abortMultipartUpload,
  completeMultipartUpload,
  createMultipartUpload,
  listMultipartUploads,
  listParts,
  uploadPart,
} from './multipart.js';
import {
  deleteObject,
  deleteObjects,
  deleteObjectTagging,
  getObject,
  getObjectTagging,
  headObject,
  putObject,
  putObjectTagging,
} from './object.js';

type BucketHandler = (ctx: S3Context, req: S3Request<{ kind: 'bucket'; operation: BucketOperation; bucket: string }>) => Promise<S3Response>;
type ObjectHandler = (ctx: S3Context, req: S3Request<{ kind: 'object'; operation: ObjectOperation; bucket: string; key: string }>) => Promise<S3Response>;

const BUCKET_HANDLERS: Record<BucketOperation, BucketHandler> = {
  CreateBucket: createBucket,
  HeadBucket: headBucket,
  DeleteBucket: deleteBucket,
  GetBucketLocation: getBucketLocation,
  GetBucketVersioning: getBucketVersioning,
  PutBucketVersioning: putBucketVersioning,
  ListObjectVersions: listObjectVersions,
  PutObjectLockConfiguration: putObjectLockConfiguration,
  GetObjectLockConfiguration: getObjectLockConfiguration,
  ListObjects: listObjectsV1,
  ListObjectsV2: listObjectsV2,
  ListMultipartUploads: listMultipartUploads,
  DeleteObjects: deleteObjects,
  PutBucketEncryption: putBucketEncryption,
  GetBucketEncryption: getBucketEncryption,
  DeleteBucketEncryption: deleteBucketEncryption,
  PutBucketPolicy: putBucketPolicy,
  GetBucketPolicy: getBucketPolicy,
  DeleteBucketPolicy: deleteBucketPolicy,
  GetBucketPolicyStatus: getBucketPolicyStatus,
  PutPublicAccessBlock: putPublicAccessBlock,
  GetPublicAccessBlock: getPublicAccessBlock,
  DeletePublicAccessBlock: deletePublicAccessBlock,
  PutBucketOwnershipControls: putBucketOwnershipControls,
  GetBucketOwnershipControls: getBucketOwnershipControls,
  DeleteBucketOwnershipControls: deleteBucketOwnershipControls,
  GetBucketAcl: getBucketAcl,
  PutBucketAcl: putBucketAcl,
  PutBucketCors: putBucketCors,
  GetBucketCors: getBucketCors,
  DeleteBucketCors: deleteBucketCors,
};

const OBJECT_HANDLERS: Record<ObjectOperation, ObjectHandler> = {
  PutObject: putObject,
  CopyObject: copyObject,
  GetObject: getObject,
  HeadObject: headObject,
  DeleteObject: deleteObject,
  PutObjectTagging: putObjectTagging,
  GetObjectTagging: getObjectTagging,
  DeleteObjectTagging: deleteObjectTagging,
  CreateMultipartUpload: createMultipartUpload,
  UploadPart: uploadPart,
  UploadPartCopy: uploadPartCopy,
  CompleteMultipartUpload: completeMultipartUpload,
  AbortMultipartUpload: abortMultipartUpload,
  ListParts: listParts,
  UpdateObjectEncryption: updateObjectEncryption,
  GetObjectAcl: getObjectAcl,
  PutObjectAcl: putObjectAcl,
  GetObjectAttributes: getObjectAttributes,
  GetObjectRetention: getObjectRetention,
  PutObjectRetention: putObjectRetention,
  GetObjectLegalHold: getObjectLegalHold,
  PutObjectLegalHold: putObjectLegalHold,
};

export function createDispatcher(shared: S3Context): (req: S3Request) => Promise<S3Response> {
  return async (req) => {
    const e = req.endpoint;
    // Bucket records and documents are read once per request (see request-metadata.ts).
    const ctx: S3Context = { ...shared, metadata: requestScopedMetadata(shared.metadata) };
    // Every object operation names a key of at most 1,024 bytes, checked before the access
    // check: policy patterns are matched against the key, and that work must stay bounded.
    if (e.kind === 'object') validateKey(e.key);
    // The one access check, before any handler reads (let alone validates) the body.
    await authorizeRequest(ctx, req);
    // x-amz-* headers no handler reads: honoured or refused, never ignored.
    await checkRequestHeaders(ctx, req);
    switch (e.kind) {
      case 'service':
        return listBuckets(ctx, req);
      case 'bucket':
        return BUCKET_HANDLERS[e.operation](ctx, req as S3Request<typeof e>);
      case 'object':
        return OBJECT_HANDLERS[e.operation](ctx, req as S3Request<typeof e>);
      default:
        throw new Error(`no handler for ${e.kind}`);
    }
  };
}
