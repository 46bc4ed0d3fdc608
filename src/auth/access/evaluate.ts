/**
 * Policy evaluation as AWS does it: an explicit Deny anywhere wins; within one
 * account an Allow from the identity policies or from the resource side (the
 * resource policy, or an S3 ACL grant) is enough; across accounts both sides
 * must allow; anonymous callers get only what the resource side grants to
 * everyone. The owner account's root always has access to its own resources (a
 * Deny still binds it, except for managing the resource policy itself, so an
 * owner cannot lock itself out).
 * Pure: no I/O, no clock (aws:CurrentTime comes in with the context).
 */
import { BlockList, isIPv4 } from 'node:net';
import { globMatch, parseCidr, parseDate, unmapIPv4, type Condition, type Policy, type PrincipalSpec, type Statement } from './policy.js';

/** The identity a request acts as (undefined: anonymous). */
export interface CallerIdentity {
  /** 12-digit account id. */
  accountId: string;
  /** `arn:aws:iam::<account>:root` or `arn:aws:iam::<account>:user/<name>`. */
  arn: string;
  /** The account's root (not an IAM user). */
  isRoot: boolean;
  /** The account's canonical user id (CanonicalUser principals). */
  canonicalId: string;
  userName?: string;
  userId?: string;
}

/** Condition key values, by normalized key (see normalizeConditionKey). Absent key: not in the request. */
export type ConditionContext = ReadonlyMap<string, readonly string[]>;

export interface AccessRequest {
  caller: CallerIdentity | undefined;
  /** `s3:GetObject`, `kms:Encrypt`, `iam:CreateUser`… */
  action: string;
  /** The resource ARN. */
  resource: string;
  context: ConditionContext;
}

/** S3's predefined ACL groups. */
export const ALL_USERS_GROUP = 'http://acs.amazonaws.com/groups/global/AllUsers';
export const AUTHENTICATED_USERS_GROUP = 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers';
export const LOG_DELIVERY_GROUP = 'http://acs.amazonaws.com/groups/s3/LogDelivery';
/** The canonical user id S3 gives the sender of an unsigned request (the owner of what it writes). */
export const ANONYMOUS_CANONICAL_ID = '65a011a29cdf8ec533ec3d1ccaae921c';

export type AclPermission = 'FULL_CONTROL' | 'READ' | 'WRITE' | 'READ_ACP' | 'WRITE_ACP';
export type AclGrantee = { type: 'CanonicalUser'; id: string } | { type: 'Group'; uri: string };

/** An S3 ACL on the resource side: its grants, and the permission the request's action needs. */
export interface AclInput {
  grants: readonly { grantee: AclGrantee; permission: AclPermission }[];
  permission: AclPermission;
}

export interface AccessInput {
  request: AccessRequest;
  identityPolicies: readonly Policy[];
  resourcePolicy?: Policy | undefined;
  /** Policies whose Deny statements bind the request but whose Allows grant nothing here (a bucket policy, for another account's object). */
  denyOnlyPolicies?: readonly Policy[];
  /** The resource's ACL, a resource-side grant like the resource policy (S3 buckets and objects with ACLs enabled). */
  acl?: AclInput | undefined;
  /** The account owning the resource; undefined when there is none yet (CreateBucket) or it is the caller's own (IAM). */
  resourceAccount?: string | undefined;
  /** Actions the owner account's root may do even against an explicit Deny (managing the bucket policy). */
  ownerOverrides?: ReadonlySet<string>;
}

export type Decision = { effect: 'Allow' | 'Deny' | 'ImplicitDeny'; reason: string };

/** Condition keys are case-insensitive; the part after `/` (a tag key) is not. */
export function normalizeConditionKey(key: string): string {
  const slash = key.indexOf('/');
  return slash < 0 ? key.toLowerCase() : `${key.slice(0, slash).toLowerCase()}${key.slice(slash)}`;
}

/** Builds a ConditionContext from plain pairs (undefined values are left out). */
export function conditionContext(pairs: Record<string, string | readonly string[] | undefined>): Map<string, readonly string[]> {
  const m = new Map<string, readonly string[]>();
  for (const [k, v] of Object.entries(pairs)) if (v !== undefined) m.set(normalizeConditionKey(k), typeof v === 'string' ? [v] : v);
  return m;
}

/** Policy variables (`${aws:username}`…), policy version 2012-10-17 only. */
function substitute(text: string, policy: Policy, ctx: ConditionContext): string | undefined {
  if (policy.version !== '2012-10-17' || !text.includes('${')) return text;
  let missing = false;
  const out = text.replace(/\$\{([^}]+)\}/g, (_m, name: string) => {
    if (name === '*') return '*';
    if (name === '?') return '?';
    if (name === '$') return '$';
    const v = ctx.get(normalizeConditionKey(name));
    if (!v || v.length !== 1) {
      missing = true;
      return '';
    }
    return v[0]!;
  });
  return missing ? undefined : out;
}

// ---- principals

type PrincipalMatch = 'none' | 'direct' | 'account';

function matchPrincipal(spec: PrincipalSpec, caller: CallerIdentity | undefined): PrincipalMatch {
  if (spec.any) return 'direct';
  if (!caller) return 'none';
  let best: PrincipalMatch = 'none';
  for (const p of spec.aws) {
    const account = /^\d{12}$/.test(p) ? p : /^arn:aws:iam::(\d{12}):root$/.exec(p)?.[1];
    if (account !== undefined) {
      // Naming an account grants to the account: its root directly, its users only as the account delegates (identity policies).
      if (account === caller.accountId) {
        if (caller.isRoot) return 'direct';
        best = 'account';
      }
    } else if (p.toLowerCase() === caller.arn.toLowerCase()) {
      return 'direct';
    }
  }
  for (const c of spec.canonical) if (c === caller.canonicalId && caller.isRoot) return 'direct';
  return best;
}

/**
 * Whom an ACL grantee names. A canonical user id is an account: its root directly, its users
 * only as the account delegates (identity policies), as for an account named in a policy.
 * AllUsers is everyone, anonymous callers too; AuthenticatedUsers every signed request.
 */
function matchGrantee(grantee: AclGrantee, caller: CallerIdentity | undefined): PrincipalMatch {
  if (grantee.type === 'Group') {
    if (grantee.uri === ALL_USERS_GROUP) return 'direct';
    return grantee.uri === AUTHENTICATED_USERS_GROUP && caller ? 'direct' : 'none';
  }
  if (!caller) return grantee.id === ANONYMOUS_CANONICAL_ID ? 'direct' : 'none';
  if (grantee.id !== caller.canonicalId) return 'none';
  return caller.isRoot ? 'direct' : 'account';
}

/** The strongest grant an ACL makes the caller for the permission (FULL_CONTROL holds every permission). */
export function evaluateAcl(acl: AclInput, caller: CallerIdentity | undefined): PrincipalMatch {
  let best: PrincipalMatch = 'none';
  for (const g of acl.grants) {
    if (g.permission !== acl.permission && g.permission !== 'FULL_CONTROL') continue;
    const m = matchGrantee(g.grantee, caller);
    if (m === 'direct') return m;
    if (m === 'account') best = m;
  }
  return best;
}

// ---- actions and resources

function matchAny(patterns: readonly string[], value: string, options: { caseInsensitive: boolean; policy?: Policy; ctx?: ConditionContext }): boolean {
  return patterns.some((p) => {
    const pattern = options.policy && options.ctx ? substitute(p, options.policy, options.ctx) : p;
    return pattern !== undefined && globMatch(pattern, value, { caseInsensitive: options.caseInsensitive });
  });
}

// ---- conditions

const NEGATED = new Set(['StringNotEquals', 'StringNotEqualsIgnoreCase', 'StringNotLike', 'NumericNotEquals', 'DateNotEquals', 'NotIpAddress', 'ArnNotEquals', 'ArnNotLike']);

function ipMatches(cidr: string, value: string): boolean {
  const net = parseCidr(cidr);
  const address = unmapIPv4(value);
  if (!net) return false;
  const family = isIPv4(address) ? 'ipv4' : 'ipv6';
  if (family !== net.family) return false;
  const list = new BlockList();
  try {
    list.addSubnet(net.address, net.prefix, net.family);
    return list.check(address, family);
  } catch {
    return false;
  }
}

function arnMatches(pattern: string, value: string): boolean {
  // ARNs compare per component (arn:partition:service:region:account:resource); the resource may contain ':'.
  const split = (s: string) => {
    const parts = s.split(':');
    return parts.length < 6 ? undefined : [...parts.slice(0, 5), parts.slice(5).join(':')];
  };
  const p = split(pattern);
  const v = split(value);
  if (!p || !v) return false;
  return p.every((part, i) => globMatch(part, v[i]!, { caseInsensitive: false }));
}

/** The operator without negation, for one request value and one policy value. */
function positiveMatch(op: string, actual: string, expected: string): boolean {
  switch (op) {
    case 'StringEquals':
    case 'StringNotEquals':
      return actual === expected;
    case 'StringEqualsIgnoreCase':
    case 'StringNotEqualsIgnoreCase':
      return actual.toLowerCase() === expected.toLowerCase();
    case 'StringLike':
    case 'StringNotLike':
      return globMatch(expected, actual, { caseInsensitive: false });
    case 'NumericEquals':
    case 'NumericNotEquals':
    case 'NumericLessThan':
    case 'NumericLessThanEquals':
    case 'NumericGreaterThan':
    case 'NumericGreaterThanEquals': {
      if (!/^-?\d+(\.\d+)?$/.test(actual.trim())) return false;
      return compare(op.slice('Numeric'.length), Number(actual), Number(expected));
    }
    case 'DateEquals':
    case 'DateNotEquals':
    case 'DateLessThan':
    case 'DateLessThanEquals':
    case 'DateGreaterThan':
    case 'DateGreaterThanEquals': {
      const a = parseDate(actual);
      const e = parseDate(expected);
      if (a === undefined || e === undefined) return false;
      return compare(op.slice('Date'.length), a, e);
    }
    case 'Bool':
      return actual.toLowerCase() === expected.toLowerCase();
    case 'BinaryEquals':
      return Buffer.from(actual, 'base64').equals(Buffer.from(expected, 'base64'));
    case 'IpAddress':
    case 'NotIpAddress':
      return ipMatches(expected, actual);
    case 'ArnEquals':
    case 'ArnNotEquals':
    case 'ArnLike':
    case 'ArnNotLike':
      return arnMatches(expected, actual);
    default:
      return false;
  }
}

function compare(relation: string, a: number, b: number): boolean {
  switch (relation) {
    case 'Equals':
    case 'NotEquals':
      return a === b;
    case 'LessThan':
      return a < b;
    case 'LessThanEquals':
      return a <= b;
    case 'GreaterThan':
      return a > b;
    case 'GreaterThanEquals':
      return a >= b;
    default:
      return false;
  }
}

/** One condition (operator + key + values) against the request context. */
export function evaluateCondition(c: Condition, ctx: ConditionContext, policy?: Policy): boolean {
  const actual = ctx.get(normalizeConditionKey(c.key));
  const present = actual !== undefined && actual.length > 0;
  if (c.operator === 'Null') {
    // Null: true means "the key is absent".
    const wantAbsent = c.values.some((v) => v.toLowerCase() === 'true');
    const wantPresent = c.values.some((v) => v.toLowerCase() === 'false');
    return (wantAbsent && !present) || (wantPresent && present);
  }
  const expected = policy ? c.values.map((v) => substitute(v, policy, ctx)).filter((v): v is string => v !== undefined) : c.values;
  const negated = NEGATED.has(c.operator);
  const one = (value: string): boolean => {
    const hit = expected.some((e) => positiveMatch(c.operator, value, e));
    return negated ? !hit : hit;
  };
  if (c.set === 'ForAllValues') {
    // Vacuously true when the request has no values for the key.
    return !present || actual.every(one);
  }
  if (!present) return c.ifExists || (c.set === undefined && negated);
  if (c.set === 'ForAnyValue') return actual.some(one);
  // A single-valued use: any request value against the policy values; a negated operator means none matched.
  const hit = actual.some((value) => expected.some((e) => positiveMatch(c.operator, value, e)));
  return negated ? !hit : hit;
}

function statementApplies(st: Statement, policy: Policy, req: AccessRequest): PrincipalMatch {
  let who: PrincipalMatch = 'direct';
  if (st.principal) who = matchPrincipal(st.principal, req.caller);
  else if (st.notPrincipal) who = matchPrincipal(st.notPrincipal, req.caller) === 'none' ? 'direct' : 'none';
  if (who === 'none') return 'none';
  if (st.action && !matchAny(st.action, req.action, { caseInsensitive: true })) return 'none';
  if (st.notAction && matchAny(st.notAction, req.action, { caseInsensitive: true })) return 'none';
  if (st.resource && !matchAny(st.resource, req.resource, { caseInsensitive: false, policy, ctx: req.context })) return 'none';
  if (st.notResource && matchAny(st.notResource, req.resource, { caseInsensitive: false, policy, ctx: req.context })) return 'none';
  for (const c of st.conditions) if (!evaluateCondition(c, req.context, policy)) return 'none';
  return who;
}

/** What one policy says about a request: an explicit deny, and the strongest allow. */
export function evaluatePolicy(policy: Policy, req: AccessRequest): { deny?: string; allow: PrincipalMatch; allowSid?: string } {
  let allow: PrincipalMatch = 'none';
  let allowSid: string | undefined;
  for (const st of policy.statements) {
    const m = statementApplies(st, policy, req);
    if (m === 'none') continue;
    if (st.effect === 'Deny') return { deny: st.sid ?? '', allow };
    if (m === 'direct' || allow === 'none') {
      allow = m;
      allowSid = st.sid;
    }
  }
  return { allow, ...(allowSid !== undefined ? { allowSid } : {}) };
}

/**
 * The decision for a request.
 * @example authorize({ request: { caller, action: 's3:GetObject', resource: 'arn:aws:s3:::b/k', context }, identityPolicies: [], resourcePolicy, resourceAccount: '111122223333' })
 */
export function authorize(input: AccessInput): Decision {
  const { request, resourcePolicy, resourceAccount } = input;
  const caller = request.caller;
  const fromPolicy = resourcePolicy ? evaluatePolicy(resourcePolicy, request) : { allow: 'none' as const };
  const fromAcl = input.acl ? evaluateAcl(input.acl, caller) : 'none';
  // The resource side allows as strongly as its stronger half: the resource policy or the ACL.
  const resourceAllow: PrincipalMatch = fromPolicy.allow === 'direct' || fromAcl === 'direct' ? 'direct' : fromPolicy.allow === 'none' ? fromAcl : fromPolicy.allow;
  const fromIdentity = caller && !caller.isRoot ? input.identityPolicies.map((p) => evaluatePolicy(p, request)) : [];
  const ownerRoot = caller !== undefined && caller.isRoot && (resourceAccount === undefined || resourceAccount === caller.accountId);
  const deny =
    fromPolicy.deny ??
    (input.denyOnlyPolicies ?? []).map((p) => evaluatePolicy(p, request)).find((r) => r.deny !== undefined)?.deny ??
    fromIdentity.find((r) => r.deny !== undefined)?.deny;
  if (deny !== undefined) {
    if (ownerRoot && input.ownerOverrides?.has(request.action)) return { effect: 'Allow', reason: 'the owner account may always manage the resource policy' };
    return { effect: 'Deny', reason: `explicit deny${deny ? ` (${deny})` : ''}` };
  }
  if (!caller) {
    return resourceAllow === 'direct'
      ? { effect: 'Allow', reason: fromAcl === 'direct' ? 'the ACL grants anonymous access' : 'resource policy allows anonymous access' }
      : { effect: 'ImplicitDeny', reason: 'anonymous access is not allowed' };
  }
  if (ownerRoot) return { effect: 'Allow', reason: 'account root of the owner' };
  // An account's root has every permission its account has, as far as identity policies go.
  const identityAllows = caller.isRoot || fromIdentity.some((r) => r.allow !== 'none');
  const sameAccount = resourceAccount === undefined || resourceAccount === caller.accountId;
  if (sameAccount) {
    if (identityAllows) return { effect: 'Allow', reason: 'identity policy allows' };
    if (resourceAllow === 'direct') return { effect: 'Allow', reason: fromPolicy.allow === 'direct' ? 'resource policy allows' : 'the ACL allows' };
    return { effect: 'ImplicitDeny', reason: 'no policy allows' };
  }
  if (resourceAllow === 'none') return { effect: 'ImplicitDeny', reason: 'cross-account access needs the resource policy or ACL to allow it' };
  if (!identityAllows) return { effect: 'ImplicitDeny', reason: 'cross-account access needs an identity policy to allow it' };
  return { effect: 'Allow', reason: 'resource and identity policies allow' };
}

/**
 * Whether a bucket policy makes a bucket public, as S3's GetBucketPolicyStatus
 * decides: some Allow statement grants to `*` without a condition pinning the
 * caller to fixed values (source IPs, accounts, ARNs, VPCs).
 */
export function isPublicPolicy(policy: Policy): boolean {
  const fixing = new Set(['aws:sourceip', 'aws:sourcevpc', 'aws:sourcevpce', 'aws:sourceaccount', 'aws:sourcearn', 'aws:sourceowner', 'aws:principalaccount', 'aws:principalarn', 'aws:principalorgid', 'aws:userid', 'aws:username', 's3:dataaccesspointarn', 's3:dataaccesspointaccount']);
  return policy.statements.some((st) => {
    if (st.effect !== 'Allow') return false;
    const wildcard = st.principal?.any === true || st.notPrincipal !== undefined;
    if (!wildcard) return false;
    return !st.conditions.some((c) => {
      if (!fixing.has(normalizeConditionKey(c.key))) return false;
      if (c.operator === 'IpAddress') return c.values.every((v) => (parseCidr(v)?.prefix ?? 0) >= 8);
      return !c.operator.startsWith('StringNot') && !c.operator.startsWith('ArnNot') && c.values.every((v) => !/[*?]/.test(v));
    });
  });
}
