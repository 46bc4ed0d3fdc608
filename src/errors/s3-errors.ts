/**
 * The one S3 error table, shared by the server (which renders these) and the
 * tests (which assert on them). Codes, statuses and default messages follow
 * the Amazon S3 API reference "Error responses" list.
 */

export const S3_ERRORS = {
  AccessDenied: { status: 403, message: 'Access Denied' },
  // A CORS preflight no rule allows (its message starts "CORSResponse: "; s3/cors.ts).
  AccessForbidden: { status: 403, message: 'CORSResponse: This CORS request is not allowed.' },
  AccessControlListNotSupported: { status: 400, message: 'The bucket does not allow ACLs' },
  AuthorizationHeaderMalformed: { status: 400, message: 'The authorization header is malformed.' },
  AuthorizationQueryParametersError: { status: 400, message: 'Error parsing the X-Amz-Credential parameter.' },
  BadRequest: { status: 400, message: 'Bad Request' },
  BadDigest: { status: 400, message: 'The Content-MD5 you specified did not match what we received.' },
  BucketAlreadyExists: { status: 409, message: 'The requested bucket name is not available.' },
  BucketAlreadyOwnedByYou: {
    status: 409,
    message: 'Your previous request to create the named bucket succeeded and you already own it.',
  },
  BucketNotEmpty: { status: 409, message: 'The bucket you tried to delete is not empty' },
  EntityTooLarge: { status: 400, message: 'Your proposed upload exceeds the maximum allowed object size.' },
  EntityTooSmall: { status: 400, message: 'Your proposed upload is smaller than the minimum allowed object size.' },
  ExpiredToken: { status: 400, message: 'The provided token has expired.' },
  IllegalLocationConstraintException: {
    status: 400,
    message: 'The unspecified location constraint is incompatible for the region specific endpoint this request was sent to.',
  },
  IncorrectNumberOfFilesInPostRequest: { status: 400, message: 'POST requires exactly one file upload per request.' },
  IncompleteBody: { status: 400, message: 'You did not provide the number of bytes specified by the Content-Length HTTP header.' },
  InternalError: { status: 500, message: 'We encountered an internal error. Please try again.' },
  InvalidAccessKeyId: {
    status: 403,
    message: 'The AWS Access Key Id you provided does not exist in our records.',
  },
  InvalidArgument: { status: 400, message: 'Invalid Argument' },
  InvalidBucketAclWithBlockPublicAccessError: { status: 400, message: 'Bucket cannot have public ACLs set with BlockPublicAccess enabled' },
  InvalidBucketAclWithObjectOwnership: { status: 400, message: "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting" },
  InvalidBucketName: { status: 400, message: 'The specified bucket is not valid.' },
  InvalidBucketOwnerAWSAccountID: { status: 400, message: 'The value of the expected bucket owner parameter must be an AWS Account ID.' },
  InvalidBucketState: { status: 409, message: 'The request is not valid with the current state of the bucket.' },
  InvalidEncryptionAlgorithmError: {
    status: 400,
    message: 'The encryption request you specified is not valid. The valid value is AES256.',
  },
  InvalidDigest: { status: 400, message: 'The Content-MD5 you specified is not valid.' },
  InvalidLocationConstraint: { status: 400, message: 'The specified location constraint is not valid.' },
  InvalidPolicyDocument: { status: 400, message: 'The content of the form does not meet the conditions specified in the policy document.' },
  InvalidPart: {
    status: 400,
    message:
      "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
  },
  InvalidPartNumber: { status: 416, message: 'The requested partnumber is not satisfiable' },
  InvalidPartOrder: { status: 400, message: 'The list of parts was not in ascending order. Parts must be ordered by part number.' },
  InvalidRange: { status: 416, message: 'The requested range is not satisfiable' },
  InvalidRedirectLocation: { status: 400, message: "The website redirect location must have a prefix of 'http://' or 'https://' or '/'." },
  InvalidRequest: { status: 400, message: 'Invalid Request' },
  InvalidStorageClass: { status: 400, message: 'The storage class you specified is not valid' },
  InvalidTag: { status: 400, message: 'The TagSet you have provided is invalid.' },
  InvalidURI: { status: 400, message: "Couldn't parse the specified URI." },
  RequestHeaderSectionTooLarge: { status: 400, message: 'Your request header section exceeds the maximum allowed size.' },
  KeyTooLongError: { status: 400, message: 'Your key is too long' },
  // KMS failures during SSE-KMS, as S3 reports them: the KMS error type behind a `KMS.` prefix.
  'KMS.AccessDeniedException': { status: 403, message: 'The ciphertext refers to a customer master key that does not exist, does not exist in this region, or you are not allowed to access.' },
  'KMS.DisabledException': { status: 400, message: 'The KMS key is disabled.' },
  'KMS.InvalidCiphertextException': { status: 400, message: 'The ciphertext could not be decrypted.' },
  'KMS.KMSInvalidStateException': { status: 400, message: 'The KMS key is not in a valid state for this request.' },
  'KMS.NotFoundException': { status: 400, message: 'Invalid keyId' },
  MalformedPOSTRequest: { status: 400, message: 'The body of your POST request is not well-formed multipart/form-data.' },
  MaxPostPreDataLengthExceededError: { status: 400, message: 'Your POST request fields preceding the upload file were too large.' },
  MalformedACLError: { status: 400, message: 'The XML you provided was not well-formed or did not validate against our published schema.' },
  MalformedXML: {
    status: 400,
    message: 'The XML you provided was not well-formed or did not validate against our published schema',
  },
  MalformedPolicy: { status: 400, message: 'Policies must be valid JSON and the first byte must be \'{\'' },
  MetadataTooLarge: { status: 400, message: 'Your metadata headers exceed the maximum allowed metadata size' },
  MethodNotAllowed: { status: 405, message: 'The specified method is not allowed against this resource.' },
  MissingContentLength: { status: 411, message: 'You must provide the Content-Length HTTP header.' },
  MissingRequestBodyError: { status: 400, message: 'Request Body is empty' },
  MissingSecurityHeader: { status: 400, message: 'Your request is missing a required header.' },
  NoSuchBucket: { status: 404, message: 'The specified bucket does not exist' },
  NoSuchBucketPolicy: { status: 404, message: 'The bucket policy does not exist' },
  NoSuchCORSConfiguration: { status: 404, message: 'The CORS configuration does not exist' },
  NoSuchKey: { status: 404, message: 'The specified key does not exist.' },
  NoSuchObjectLockConfiguration: { status: 404, message: 'The specified object does not have a ObjectLock configuration' },
  NoSuchPublicAccessBlockConfiguration: { status: 404, message: 'The public access block configuration was not found' },
  NoSuchUpload: {
    status: 404,
    message: 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
  },
  NoSuchVersion: { status: 404, message: 'The specified version does not exist.' },
  NotImplemented: { status: 501, message: 'A header you provided implies functionality that is not implemented.' },
  NotModified: { status: 304, message: 'Not Modified' },
  ObjectLockConfigurationNotFoundError: { status: 404, message: 'Object Lock configuration does not exist for this bucket' },
  OperationAborted: { status: 409, message: 'A conflicting conditional operation is currently in progress against this resource. Try again.' },
  OwnershipControlsNotFoundError: { status: 404, message: 'The bucket ownership controls were not found' },
  PolicyTooLarge: { status: 400, message: 'Policy exceeds the maximum allowed document size.' },
  PreconditionFailed: { status: 412, message: 'At least one of the pre-conditions you specified did not hold' },
  RequestTimeout: {
    status: 400,
    message: 'Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed.',
  },
  RequestTimeTooSkewed: {
    status: 403,
    message: "The difference between the request time and the server's time is too large.",
  },
  ServerSideEncryptionConfigurationNotFoundError: { status: 404, message: 'The server side encryption configuration was not found' },
  // Also what a request that needs space gets while the data filesystem is full (storageFullError),
  // and any request while the storage backend is unavailable (storageUnavailableError).
  ServiceUnavailable: { status: 503, message: 'Please reduce your request rate.' },
  SignatureDoesNotMatch: {
    status: 403,
    message: 'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
  },
  SlowDown: { status: 503, message: 'Please reduce your request rate.' },
  TooManyParts: { status: 400, message: 'You have attempted to upload more than the maximum number of parts.' },
  UnexpectedContent: { status: 400, message: 'This request does not support content' },
  UnresolvableGrantByEmailAddress: { status: 400, message: 'The email address you provided does not match any account on record.' },
  XAmzContentSHA256Mismatch: {
    status: 400,
    message: "The provided 'x-amz-content-sha256' header does not match what was computed.",
  },
} as const satisfies Record<string, { status: number; message: string }>;

export type S3ErrorCode = keyof typeof S3_ERRORS;

/** Extra XML elements some errors carry (e.g. `RequestTime`/`ServerTime` for RequestTimeTooSkewed). */
export type S3ErrorFields = Record<string, string | number>;

/**
 * An error that is sent to the client as S3 XML. Anything thrown that is not
 * an S3Error is rendered as `InternalError` and its message is never sent.
 */
export class S3Error extends Error {
  readonly code: S3ErrorCode;
  readonly status: number;
  readonly fields: S3ErrorFields;
  /** Response headers that go with this error (e.g. `Allow`). */
  readonly headers: Record<string, string>;

  constructor(code: S3ErrorCode, message?: string, options: { fields?: S3ErrorFields; headers?: Record<string, string> } = {}) {
    super(message ?? S3_ERRORS[code].message);
    this.name = 'S3Error';
    this.code = code;
    this.status = S3_ERRORS[code].status;
    this.fields = options.fields ?? {};
    this.headers = options.headers ?? {};
  }
}

/**
 * The answer to a request that needs space while the data filesystem is full.
 * Amazon S3 never runs out of space, so it has no error for it; MinIO invents
 * `507 XMinioStorageFull`, which S3 clients do not know. `503 ServiceUnavailable`
 * is a code S3 documents and every S3 client handles: a server-side, temporary
 * condition, retried with backoff — and deleting objects (which works on a full
 * disk, see util/space-reserve.ts) makes it pass.
 */
export function storageFullError(): S3Error {
  return new S3Error('ServiceUnavailable', 'The server has no storage space left for this request. Delete objects to free space, then retry.');
}

/**
 * The answer to a request that met the storage backend unavailable: the data
 * filesystem read-only or failing, or gone (an unmounted volume), or SQLite
 * unable to read or write its database. S3 answers its own backend failures
 * with `503 ServiceUnavailable` ("Reduce your request rate"; retryable), never
 * a 500 for a condition that passes: clients retry with backoff, and Coffer
 * reconnects to the store once it is back (no restart needed).
 */
export function storageUnavailableError(): S3Error {
  return new S3Error('ServiceUnavailable', 'The storage backend is unavailable. Please retry.');
}

export function isS3Error(err: unknown): err is S3Error {
  return err instanceof S3Error;
}
