/**
 * The values that cross the boundary between the HTTP layer and the S3
 * handlers: handlers get an S3Request and return an S3Response; they never
 * see node:http.
 */
import type { CallerIdentity, Policy } from '../auth/access/index.js';
import type { Endpoint } from './router.js';

export type HeaderValue = string | number | undefined;

export interface S3Response {
  status: number;
  headers?: Record<string, HeaderValue>;
  /** A small document, or a stream of bytes (sent with backpressure). */
  body?: string | Buffer | AsyncIterable<Buffer>;
}

/** Who made the request: an account's root or one of its IAM users. */
export interface Principal {
  accessKeyId: string;
  /** Canonical user id of the account (64 hex): what buckets and objects record as owner. */
  accountId: string;
  /** The account's display name (S3 Owner/DisplayName). */
  displayName: string;
  /** 12-digit AWS account id. */
  awsAccountId: string;
  /** `arn:aws:iam::<account>:root` or `arn:aws:iam::<account>:user/<name>`. */
  arn: string;
  /** The IAM user's name; undefined for the account root. */
  userName?: string;
  /** The identity as policy evaluation sees it. */
  caller: CallerIdentity;
  /** The user's identity policies (none for an account root, which needs none). */
  policies: readonly Policy[];
}

export interface S3Request<E extends Endpoint = Endpoint> {
  readonly requestId: string;
  readonly endpoint: E;
  readonly method: string;
  readonly rawPath: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly query: URLSearchParams;
  readonly principal: Principal | undefined;
  /** True when the request came over TLS. */
  readonly secure: boolean;
  readonly remoteAddress: string;
  /** Aborted when the client goes away. */
  readonly signal: AbortSignal;
  /**
   * The request body with any aws-chunked framing removed and every signature
   * and payload hash verified as it streams. Call once.
   */
  body(): AsyncIterable<Buffer>;
  /** Trailing headers (lower-case) of an aws-chunked body; only after body() is consumed. */
  trailers(): Record<string, string>;
  /** The body's decoded length if the client declared it (Content-Length or x-amz-decoded-content-length). */
  readonly contentLength: number | undefined;
  /**
   * Set for POST Object's file part (s3/post-object.ts): its length is known only when it ends (the
   * form's Content-Length counts every field), so PutObject takes it without `contentLength`.
   */
  readonly bodyLengthUnknown?: boolean;
  /** `POST` for a browser form upload, whose credentials were form fields (the s3:authType condition key's value). */
  readonly authType?: 'POST';
  /** Reads a small body (an XML document) whole; larger than `limit` → MaxMessageLengthExceeded-like 400. */
  readBody(limit: number): Promise<Buffer>;
}

/** A header's single value (first of repeated ones), or undefined. */
export function header(req: Pick<S3Request, 'headers'>, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
