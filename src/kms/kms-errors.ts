/**
 * The one KMS error table, shared by the built-in KMS, its JSON API (which
 * renders `{"__type": …, "message": …}` with the status) and the tests.
 * Types and statuses follow the AWS KMS API reference's "Errors" sections.
 */

export const KMS_ERRORS = {
  AccessDeniedException: 400,
  AlreadyExistsException: 400,
  DependencyTimeoutException: 500,
  DisabledException: 400,
  IncorrectKeyException: 400,
  InvalidAliasNameException: 400,
  InvalidArnException: 400,
  InvalidCiphertextException: 400,
  InvalidGrantTokenException: 400,
  InvalidKeyUsageException: 400,
  InvalidMarkerException: 400,
  KMSInternalException: 500,
  KMSInvalidStateException: 400,
  KeyUnavailableException: 500,
  LimitExceededException: 400,
  MalformedPolicyDocumentException: 400,
  NotFoundException: 400,
  TagException: 400,
  UnsupportedOperationException: 400,
  ValidationException: 400,
  /** The protocol-level errors every AWS JSON service shares. */
  UnknownOperationException: 400,
  SerializationException: 400,
  MissingAuthenticationTokenException: 403,
  IncompleteSignatureException: 403,
  InvalidSignatureException: 403,
  UnrecognizedClientException: 400,
} as const satisfies Record<string, number>;

export type KmsErrorType = keyof typeof KMS_ERRORS;

export class KmsError extends Error {
  readonly type: KmsErrorType;
  readonly status: number;

  constructor(type: KmsErrorType, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KmsError';
    this.type = type;
    this.status = KMS_ERRORS[type];
  }
}

export function isKmsError(err: unknown): err is KmsError {
  return err instanceof KmsError;
}
