/**
 * The IAM query API subset (users, access keys, inline user policies) and STS
 * GetCallerIdentity, on the S3 listener: POST / with a form body
 * (`Action=…&Version=…`), SigV4 service `iam` or `sts`. Responses and errors in
 * IAM's XML (`https://iam.amazonaws.com/doc/2010-05-08/`), so the AWS SDKs and
 * `aws iam --endpoint-url …` work unmodified.
 *
 * Who may call: an account's root, for its own account; an IAM user whose
 * identity policies allow `iam:<Action>` on the user concerned.
 */
import { createHash } from 'node:crypto';
import { hexDigestEqual } from '../crypto/compare.js';
import type { Logger } from 'pino';
import { authorize, conditionContext } from '../auth/access/index.js';
import { HEADERS_NOT_SIGNED, verifySigV4 } from '../auth/sigv4/index.js';
import { S3Error } from '../errors/s3-errors.js';
import type { IamHttpHandler, IamHttpRequest } from '../http/server.js';
import type { Principal, S3Response } from '../http/types.js';
import type { AccessKeyRecord, IamUserRecord } from '../metadata/metadata-store.js';
import { buildXml, type XmlNode } from '../xml/xml.js';
import { IdentityError, userArn, type Identities } from './identities.js';

export const IAM_XMLNS = 'https://iam.amazonaws.com/doc/2010-05-08/';
export const STS_XMLNS = 'https://sts.amazonaws.com/doc/2011-06-15/';
const MAX_BODY = 256 * 1024;

/** IAM error codes and their HTTP statuses (IAM API reference, "Common errors" and each action's errors). */
const STATUS: Record<string, number> = {
  AccessDenied: 403,
  DeleteConflict: 409,
  EntityAlreadyExists: 409,
  IncompleteSignature: 400,
  InvalidAction: 400,
  InvalidClientTokenId: 403,
  InvalidParameterValue: 400,
  LimitExceeded: 409,
  MalformedPolicyDocument: 400,
  MissingAction: 400,
  MissingAuthenticationToken: 403,
  MissingParameter: 400,
  NoSuchEntity: 404,
  RequestExpired: 400,
  ServiceFailure: 500,
  SignatureDoesNotMatch: 403,
  ValidationError: 400,
  InvalidParameterCombination: 400,
};

class IamError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

type Params = URLSearchParams;
interface Call {
  params: Params;
  principal: Principal;
  identities: Identities;
}
type Result = XmlNode[] | undefined;

function required(params: Params, name: string): string {
  const v = params.get(name);
  if (v === null || v === '') throw new IamError('ValidationError', `1 validation error detected: Value null at '${name.charAt(0).toLowerCase()}${name.slice(1)}' failed to satisfy constraint: Member must not be null`);
  return v;
}

function date(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function userNode(accountId: string, u: IamUserRecord): XmlNode {
  return ['User', [['Path', u.path], ['UserName', u.userName], ['UserId', u.userId], ['Arn', userArn(accountId, u)], ['CreateDate', date(u.createdAt)]]];
}

function keyMember(k: AccessKeyRecord): XmlNode {
  return ['member', [['UserName', k.userName], ['AccessKeyId', k.accessKeyId], ['Status', k.status], ['CreateDate', date(k.createdAt)]]];
}

/** The user an operation is about: UserName, else (as IAM does) the caller itself. */
function subject(c: Call): string | undefined {
  return c.params.get('UserName') ?? c.principal.userName;
}

const IAM_ACTIONS: Record<string, (c: Call) => Promise<Result>> = {
  CreateUser: async (c) => [userNode(c.principal.awsAccountId, await c.identities.createUser(c.principal.awsAccountId, required(c.params, 'UserName'), c.params.get('Path') ?? '/'))],
  GetUser: async (c) => {
    const name = subject(c);
    if (name === undefined) {
      // The account root asking about itself.
      return [['User', [['UserId', c.principal.awsAccountId], ['Arn', c.principal.arn], ['CreateDate', date(0)]]]];
    }
    return [userNode(c.principal.awsAccountId, await c.identities.getUser(c.principal.awsAccountId, name))];
  },
  ListUsers: async (c) => {
    const prefix = c.params.get('PathPrefix') ?? '/';
    const users = (await c.identities.listUsers(c.principal.awsAccountId)).filter((u) => u.path.startsWith(prefix));
    return [
      ['Users', users.map((u) => ['member', userNode(c.principal.awsAccountId, u)[1]])],
      ['IsTruncated', 'false'],
    ];
  },
  DeleteUser: async (c) => {
    await c.identities.deleteUser(c.principal.awsAccountId, required(c.params, 'UserName'), { cascade: false });
    return undefined;
  },
  CreateAccessKey: async (c) => {
    const name = subject(c);
    if (name === undefined) throw new IamError('ValidationError', 'Coffer keeps the first account root key in its configuration; give UserName.');
    const k = await c.identities.createAccessKey(c.principal.awsAccountId, name);
    return [['AccessKey', [['UserName', k.userName], ['AccessKeyId', k.accessKeyId], ['Status', k.status], ['SecretAccessKey', k.secretAccessKey], ['CreateDate', date(k.createdAt)]]]];
  },
  ListAccessKeys: async (c) => {
    const name = subject(c);
    const keys = await c.identities.listAccessKeys(c.principal.awsAccountId, name);
    return [['UserName', name], ['AccessKeyMetadata', keys.map(keyMember)], ['IsTruncated', 'false']];
  },
  UpdateAccessKey: async (c) => {
    const status = required(c.params, 'Status');
    if (status !== 'Active' && status !== 'Inactive') throw new IamError('ValidationError', `1 validation error detected: Value '${status}' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]`);
    await c.identities.updateAccessKey(c.principal.awsAccountId, subject(c), required(c.params, 'AccessKeyId'), status);
    return undefined;
  },
  DeleteAccessKey: async (c) => {
    await c.identities.deleteAccessKey(c.principal.awsAccountId, subject(c), required(c.params, 'AccessKeyId'));
    return undefined;
  },
  PutUserPolicy: async (c) => {
    await c.identities.putUserPolicy(c.principal.awsAccountId, required(c.params, 'UserName'), required(c.params, 'PolicyName'), required(c.params, 'PolicyDocument'));
    return undefined;
  },
  GetUserPolicy: async (c) => {
    const p = await c.identities.getUserPolicy(c.principal.awsAccountId, required(c.params, 'UserName'), required(c.params, 'PolicyName'));
    // IAM returns policy documents URL-encoded (RFC 3986); the AWS CLI decodes them.
    return [['UserName', p.userName], ['PolicyName', p.policyName], ['PolicyDocument', encodeURIComponent(p.document)]];
  },
  ListUserPolicies: async (c) => {
    const names = await c.identities.listUserPolicies(c.principal.awsAccountId, required(c.params, 'UserName'));
    return [['PolicyNames', names.map((n): XmlNode => ['member', n])], ['IsTruncated', 'false']];
  },
  DeleteUserPolicy: async (c) => {
    await c.identities.deleteUserPolicy(c.principal.awsAccountId, required(c.params, 'UserName'), required(c.params, 'PolicyName'));
    return undefined;
  },
};

async function readBody(req: IamHttpRequest): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req.body) {
    total += chunk.length;
    if (total > MAX_BODY) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}

function errorXml(service: 'iam' | 'sts', requestId: string, err: IamError): S3Response {
  const status = STATUS[err.code] ?? 400;
  return {
    status,
    headers: { 'content-type': 'text/xml' },
    body: buildXml([
      'ErrorResponse',
      [
        ['Error', [['Type', status >= 500 ? 'Receiver' : 'Sender'], ['Code', err.code], ['Message', err.message]]],
        ['RequestId', requestId],
      ],
      { xmlns: service === 'iam' ? IAM_XMLNS : STS_XMLNS },
    ]),
  };
}

function authError(err: S3Error): IamError {
  switch (err.code) {
    case 'InvalidAccessKeyId':
      return new IamError('InvalidClientTokenId', 'The security token included in the request is invalid.');
    case 'SignatureDoesNotMatch':
      return new IamError('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.');
    case 'AccessDenied':
      if (err.message === HEADERS_NOT_SIGNED) return new IamError('IncompleteSignature', `${err.message}: ${String(err.fields.HeadersNotSigned)}`);
      return new IamError('RequestExpired', 'Request has expired.');
    case 'RequestTimeTooSkewed':
      return new IamError('RequestExpired', 'Request has expired.');
    default:
      return new IamError('IncompleteSignature', err.message);
  }
}

/** The region a request's credential scope names (IAM is global: clients sign it for us-east-1). */
function scopeRegion(headers: IamHttpRequest['headers']): string | undefined {
  const v = headers.authorization;
  return typeof v === 'string' ? /Credential=[^/]+\/\d{8}\/([^/]+)\//.exec(v)?.[1] : undefined;
}

export function createIamApiHandler(options: { identities: Identities; region: string; log?: Logger }): IamHttpHandler {
  const { identities, log } = options;
  return async (req) => {
    try {
      const body = await readBody(req);
      if (body === undefined) throw new IamError('ValidationError', `The request body is larger than ${MAX_BODY} bytes.`);
      const signedRegion = scopeRegion(req.headers);
      const region = req.service === 'iam' && signedRegion === 'us-east-1' ? 'us-east-1' : options.region;
      let auth;
      try {
        auth = await verifySigV4(
          { method: req.method, rawPath: req.rawPath, rawQuery: req.rawQuery, headers: req.headers, rawHeaders: req.rawHeaders },
          { region, services: [req.service], lookup: (id) => identities.lookup(id), body },
        );
      } catch (err) {
        if (err instanceof S3Error) throw authError(err);
        throw err;
      }
      if (auth.anonymous) throw new IamError('MissingAuthenticationToken', 'Request is missing Authentication Token');
      if (auth.payload.kind === 'sha256' && !hexDigestEqual(createHash('sha256').update(body).digest(), auth.payload.hex)) {
        throw new IamError('SignatureDoesNotMatch', 'The provided x-amz-content-sha256 does not match the request body.');
      }
      if (auth.payload.kind !== 'sha256' && auth.payload.kind !== 'unsigned') throw new IamError('IncompleteSignature', 'IAM requests cannot use aws-chunked payloads.');
      const params = new URLSearchParams(body.toString('utf8'));
      for (const [k, v] of new URLSearchParams(req.rawQuery)) if (!params.has(k)) params.set(k, v);
      const action = params.get('Action');
      if (action === null) throw new IamError('MissingAction', 'Missing Action');
      const principal = auth.credential.principal;
      const xmlns = req.service === 'iam' ? IAM_XMLNS : STS_XMLNS;
      let result: Result;
      if (req.service === 'sts') {
        if (action !== 'GetCallerIdentity') throw new IamError('InvalidAction', `Could not find operation ${action} for version ${params.get('Version') ?? 'NO_VERSION_SPECIFIED'}`);
        // Needs no permission, as in AWS.
        result = [['Arn', principal.arn], ['UserId', principal.caller.userId ?? principal.awsAccountId], ['Account', principal.awsAccountId]];
      } else {
        const op = Object.hasOwn(IAM_ACTIONS, action) ? IAM_ACTIONS[action] : undefined;
        if (!op) throw new IamError('InvalidAction', `Could not find operation ${action} for version ${params.get('Version') ?? 'NO_VERSION_SPECIFIED'}`);
        const target = params.get('UserName') ?? principal.userName;
        const resource = target !== undefined ? `arn:aws:iam::${principal.awsAccountId}:user/${target}` : `arn:aws:iam::${principal.awsAccountId}:root`;
        const decision = authorize({
          request: {
            caller: principal.caller,
            action: `iam:${action}`,
            resource,
            context: conditionContext({ 'aws:username': principal.userName, 'aws:PrincipalAccount': principal.awsAccountId, 'aws:PrincipalArn': principal.arn, 'aws:CurrentTime': new Date().toISOString() }),
          },
          identityPolicies: principal.policies,
        });
        if (decision.effect !== 'Allow') {
          throw new IamError('AccessDenied', `User: ${principal.arn} is not authorized to perform: iam:${action} on resource: ${resource} because no identity-based policy allows the iam:${action} action`);
        }
        result = await op({ params, principal, identities });
      }
      const children: XmlNode[] = [];
      if (result) children.push([`${action}Result`, result]);
      children.push(['ResponseMetadata', [['RequestId', req.requestId]]]);
      return { status: 200, headers: { 'content-type': 'text/xml' }, body: buildXml([`${action}Response`, children, { xmlns }]) };
    } catch (err) {
      if (err instanceof IamError) return errorXml(req.service, req.requestId, err);
      if (err instanceof IdentityError) return errorXml(req.service, req.requestId, new IamError(err.code, err.message));
      log?.error({ err, requestId: req.requestId }, 'IAM request failed');
      return errorXml(req.service, req.requestId, new IamError('ServiceFailure', 'The request processing has failed because of an unknown error, exception or failure.'));
    }
  };
}
