/** AWS Signature Version 4: request verification and streaming payload decoding. */
export { decodePayload, type DecodedPayload, type DecodeOptions } from './payload.js';
export { verifySigV4, parseAmzDate, formatAmzDate, HEADERS_NOT_SIGNED, MAX_SKEW_MS, type AuthResult, type Credential, type PayloadMode, type SigV4Request, type VerifyOptions } from './verify.js';
export { SigningKeyCache } from './canonical.js';
