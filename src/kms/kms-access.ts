/**
 * Who may use a KMS key: the one evaluation behind a caller's direct `kms:*`
 * request on the AWS KMS JSON API and S3's use of a key on a requester's behalf
 * (SSE-KMS: kms:GenerateDataKey to write, kms:Decrypt to read), so that going
 * through S3 never reaches a key its caller could not use directly.
 *
 * As in AWS, a customer managed key answers to the account that owns it (every
 * key of Coffer's KMS belongs to the node's first account): that account's root
 * may always use it — the default key policy's "Enable IAM User Permissions" —
 * its IAM users as far as their identity policies allow, and other accounts
 * never, since Coffer's keys have no key policies or grants that could let them
 * in (AWS: cross-account use needs the key policy to allow it, and then the
 * caller's own identity policy too). The AWS managed key alias/aws/s3 stands in
 * for each account's own: its key policy lets any principal of the calling
 * account use it through S3, so only an explicit Deny keeps one from it.
 */
import { authorize, conditionContext, type CallerIdentity, type Decision, type Policy } from '../auth/access/index.js';

/** The requester, as policy evaluation sees it (an S3 or KMS request's authenticated principal). */
export interface KmsPrincipal {
  caller: CallerIdentity;
  /** Its identity policies (none for an account root). */
  policies: readonly Policy[];
  arn: string;
  awsAccountId: string;
  userName?: string | undefined;
}

export interface KmsAccessRequest {
  /** `kms:Decrypt`, `kms:GenerateDataKey`, … */
  action: string;
  /** The key ARN (AWS evaluates cryptographic operations on the key, not the alias), an alias ARN, or `*`. */
  resource: string;
  /**
   * Set when a service calls the KMS on the principal's behalf (`s3`): the request then carries
   * `kms:ViaService` = `s3.<region>.amazonaws.com`, which policies use to allow a key through S3 only.
   */
  viaService?: 's3';
  /** The key is the AWS managed key for S3 (alias/aws/s3), whose key policy admits every principal of the calling account through S3. */
  managedS3Key?: boolean;
}

export interface KmsKeyAccessOptions {
  region: string;
  /** The account owning the KMS's keys (the built-in KMS's; for an external KMS, the account this node uses it for). */
  accountId: string;
}

/** AWS's key policy of an AWS managed key for S3, reduced to what Coffer evaluates (the account pinning is resourceAccount). */
function managedS3KeyPolicy(region: string): Policy {
  return {
    version: '2012-10-17',
    statements: [
      {
        sid: 'Allow access through S3 for all principals in the account that are authorized to use S3',
        effect: 'Allow',
        principal: { any: true },
        action: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:DescribeKey'],
        resource: ['*'],
        conditions: [{ operator: 'StringEquals', ifExists: false, key: 'kms:ViaService', values: [`s3.${region}.amazonaws.com`] }],
      },
    ],
  };
}

export class KmsKeyAccess {
  readonly #region: string;
  readonly #accountId: string;
  readonly #managedPolicy: Policy;

  constructor(options: KmsKeyAccessOptions) {
    this.#region = options.region;
    this.#accountId = options.accountId;
    this.#managedPolicy = managedS3KeyPolicy(options.region);
  }

  /** The resource a request naming `keyRef` (key id, key ARN, alias name or alias ARN) is evaluated on; `*` when it names none. */
  resourceOf(keyRef: string | undefined): string {
    if (keyRef === undefined) return '*';
    if (keyRef.startsWith('arn:')) return keyRef;
    return `arn:aws:kms:${this.#region}:${this.#accountId}:${keyRef.startsWith('alias/') ? keyRef : `key/${keyRef}`}`;
  }

  /** May `principal` do `request.action` on the key? */
  decide(principal: KmsPrincipal, request: KmsAccessRequest): Decision {
    const now = new Date();
    return authorize({
      request: {
        caller: principal.caller,
        action: request.action,
        resource: request.resource,
        context: conditionContext({
          'aws:CurrentTime': now.toISOString(),
          'aws:EpochTime': String(Math.floor(now.getTime() / 1000)),
          'aws:username': principal.userName,
          'aws:PrincipalAccount': principal.awsAccountId,
          'aws:PrincipalArn': principal.arn,
          'kms:CallerAccount': principal.awsAccountId,
          'kms:ViaService': request.viaService !== undefined ? `${request.viaService}.${this.#region}.amazonaws.com` : undefined,
        }),
      },
      identityPolicies: principal.policies,
      ...(request.managedS3Key ? { resourcePolicy: this.#managedPolicy } : {}),
      // Each account has its own aws/s3 key in AWS: Coffer's one managed key is the caller's account's.
      resourceAccount: request.managedS3Key ? principal.awsAccountId : this.#accountId,
    });
  }

  /**
   * AWS KMS's AccessDeniedException message for a refusal, e.g. "User: arn:aws:iam::111122223333:user/alice
   * is not authorized to perform: kms:Decrypt on resource: arn:aws:kms:…:key/… because no identity-based
   * policy allows the kms:Decrypt action".
   */
  deniedMessage(principal: KmsPrincipal | undefined, request: KmsAccessRequest, decision: Decision): string {
    const who = principal?.arn ?? 'anonymous';
    const why =
      decision.effect === 'Deny'
        ? 'with an explicit deny in an identity-based policy'
        : principal !== undefined && principal.awsAccountId !== this.#accountId && !request.managedS3Key
          ? `because no resource-based policy allows the ${request.action} action`
          : `because no identity-based policy allows the ${request.action} action`;
    return `User: ${who} is not authorized to perform: ${request.action} on resource: ${request.resource} ${why}`;
  }
}

/**
 * The KMS JSON API's `authorize` callback: `kms:<Operation>` on the key the request's KeyId
 * names (its key or alias ARN), or on `*` for operations that name none.
 */
export function kmsApiAuthorizer(access: KmsKeyAccess) {
  return (credential: { principal: KmsPrincipal }, request: { operation: string; keyId?: string }): string | undefined => {
    const p = credential.principal;
    const d = access.decide(p, { action: `kms:${request.operation}`, resource: access.resourceOf(request.keyId) });
    return d.effect === 'Allow' ? p.arn : undefined;
  };
}
