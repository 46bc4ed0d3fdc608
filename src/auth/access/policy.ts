/**
 * The AWS access policy language: parsing and validation of a JSON policy
 * document (bucket policies, IAM identity policies) into a typed value the
 * evaluator (evaluate.ts) can apply. Pure: no I/O.
 *
 * What is checked follows IAM's and S3's validators closely enough that a
 * document Amazon would refuse is refused here too, with a message saying why
 * (S3 answers MalformedPolicy, IAM MalformedPolicyDocument).
 */

export type Effect = 'Allow' | 'Deny';

/** `*`, or a list of AWS principals (account ids, account root ARNs, user ARNs) and canonical user ids. */
export type PrincipalSpec = { any: true } | { any: false; aws: string[]; canonical: string[]; other: string[] };

/** The condition operators Coffer knows, without `IfExists` and set qualifiers. */
export const CONDITION_OPERATORS = [
  'StringEquals',
  'StringNotEquals',
  'StringEqualsIgnoreCase',
  'StringNotEqualsIgnoreCase',
  'StringLike',
  'StringNotLike',
  'NumericEquals',
  'NumericNotEquals',
  'NumericLessThan',
  'NumericLessThanEquals',
  'NumericGreaterThan',
  'NumericGreaterThanEquals',
  'DateEquals',
  'DateNotEquals',
  'DateLessThan',
  'DateLessThanEquals',
  'DateGreaterThan',
  'DateGreaterThanEquals',
  'Bool',
  'BinaryEquals',
  'IpAddress',
  'NotIpAddress',
  'ArnEquals',
  'ArnNotEquals',
  'ArnLike',
  'ArnNotLike',
  'Null',
] as const;
export type ConditionOperator = (typeof CONDITION_OPERATORS)[number];

export interface Condition {
  operator: ConditionOperator;
  ifExists: boolean;
  set?: 'ForAnyValue' | 'ForAllValues';
  /** The condition key as written (matched case-insensitively, see normalizeConditionKey). */
  key: string;
  values: string[];
}

export interface Statement {
  sid?: string;
  effect: Effect;
  principal?: PrincipalSpec;
  notPrincipal?: PrincipalSpec;
  action?: string[];
  notAction?: string[];
  resource?: string[];
  notResource?: string[];
  conditions: Condition[];
}

export interface Policy {
  version: '2008-10-17' | '2012-10-17';
  id?: string;
  statements: Statement[];
}

/** A document that is not a valid policy; the message is meant for the caller. */
export class PolicyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicyError';
  }
}

export type PolicyKind =
  /** A bucket policy: Principal required, actions s3:*, resources inside `bucket`. */
  | { kind: 'bucket'; bucket: string }
  /** An IAM identity policy: no Principal. */
  | { kind: 'identity' };

/** IAM's limits on policy size: 20 KiB for bucket policies, 2 KiB… 10 KiB for inline user policies (we allow the larger). */
export const MAX_BUCKET_POLICY_BYTES = 20 * 1024;
export const MAX_USER_POLICY_BYTES = 10 * 1024;

const ACTION_RE = /^(\*|[A-Za-z0-9-]+:[A-Za-z0-9*?]+)$/;
const ACCOUNT_RE = /^\d{12}$/;
const AWS_PRINCIPAL_ARN_RE = /^arn:aws:(iam|sts)::(\d{12}):(root|user\/[\w+=,.@\/-]+|role\/[\w+=,.@\/-]+|assumed-role\/[\w+=,.@\/-]+)$/;

type Json = unknown;

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringList(v: Json, what: string): string[] {
  const list = Array.isArray(v) ? v : [v];
  if (list.length === 0) throw new PolicyError(`${what} must not be empty`);
  return list.map((x) => {
    if (typeof x !== 'string') throw new PolicyError(`${what} must be a string or an array of strings`);
    return x;
  });
}

function parsePrincipal(v: Json, what: string): PrincipalSpec {
  if (v === '*') return { any: true };
  if (!isObject(v)) throw new PolicyError(`Invalid principal in policy: ${what} must be "*" or an object such as {"AWS": "arn:aws:iam::111122223333:root"}`);
  const spec = { any: false as const, aws: [] as string[], canonical: [] as string[], other: [] as string[] };
  for (const [type, value] of Object.entries(v)) {
    const list = stringList(value, `${what}.${type}`);
    if (type === 'AWS') {
      for (const p of list) {
        if (p === '*') return { any: true };
        if (!ACCOUNT_RE.test(p) && !AWS_PRINCIPAL_ARN_RE.test(p)) throw new PolicyError(`Invalid principal in policy: "AWS" : "${p}"`);
        spec.aws.push(p);
      }
    } else if (type === 'CanonicalUser') {
      for (const p of list) {
        if (!/^[0-9a-f]{64}$/.test(p)) throw new PolicyError(`Invalid principal in policy: "CanonicalUser" : "${p}"`);
        spec.canonical.push(p);
      }
    } else if (type === 'Service' || type === 'Federated') {
      // Valid in AWS; no such principal ever calls Coffer, so these never match.
      spec.other.push(...list);
    } else {
      throw new PolicyError(`Invalid principal in policy: unknown principal type "${type}"`);
    }
  }
  return spec;
}

function parseConditions(v: Json): Condition[] {
  if (!isObject(v)) throw new PolicyError('Condition must be an object of operators');
  const out: Condition[] = [];
  for (const [rawOperator, block] of Object.entries(v)) {
    let name = rawOperator;
    let set: Condition['set'];
    const colon = name.indexOf(':');
    if (colon >= 0) {
      const qualifier = name.slice(0, colon);
      if (qualifier !== 'ForAnyValue' && qualifier !== 'ForAllValues') throw new PolicyError(`Invalid Condition type : ${rawOperator}`);
      set = qualifier;
      name = name.slice(colon + 1);
    }
    let ifExists = false;
    if (name.endsWith('IfExists')) {
      ifExists = true;
      name = name.slice(0, -'IfExists'.length);
    }
    if (!(CONDITION_OPERATORS as readonly string[]).includes(name) || (ifExists && name === 'Null')) {
      throw new PolicyError(`Invalid Condition type : ${rawOperator}`);
    }
    if (!isObject(block)) throw new PolicyError(`Condition ${rawOperator} must be an object of condition keys`);
    for (const [key, raw] of Object.entries(block)) {
      if (!/^[A-Za-z0-9-]+:\S+$/.test(key)) throw new PolicyError(`Invalid Condition key : ${key}`);
      const list = Array.isArray(raw) ? raw : [raw];
      if (list.length === 0) throw new PolicyError(`Condition ${rawOperator} ${key} has no values`);
      const values = list.map((x) => {
        if (typeof x === 'string') return x;
        if (typeof x === 'number' || typeof x === 'boolean') return String(x);
        throw new PolicyError(`Condition ${rawOperator} ${key}: values must be strings, numbers or booleans`);
      });
      for (const value of values) validateConditionValue(name as ConditionOperator, key, value);
      out.push({ operator: name as ConditionOperator, ifExists, ...(set ? { set } : {}), key, values });
    }
  }
  return out;
}

function validateConditionValue(op: ConditionOperator, key: string, value: string): void {
  const bad = (why: string): never => {
    throw new PolicyError(`Invalid Condition value for ${op} ${key}: "${value}" ${why}`);
  };
  if (op.startsWith('Numeric') && !/^-?\d+(\.\d+)?$/.test(value)) bad('is not a number');
  if (op.startsWith('Date') && parseDate(value) === undefined) bad('is not a date (ISO 8601 or epoch seconds)');
  if ((op === 'Bool' || op === 'Null') && !/^(true|false)$/i.test(value)) bad('must be true or false');
  if ((op === 'IpAddress' || op === 'NotIpAddress') && parseCidr(value) === undefined) bad('is not an IP address or CIDR block');
}

/** ISO 8601 or epoch seconds → ms, or undefined. */
export function parseDate(v: string): number | undefined {
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  if (!/^\d{4}-\d{2}-\d{2}/.test(v)) return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

/** An IP address or CIDR block: `{ address, prefix, family }`, IPv4-mapped IPv6 turned into IPv4. */
export function parseCidr(v: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const [addressRaw, prefixText] = v.split('/');
  const address = unmapIPv4(addressRaw ?? '');
  const family = /^\d{1,3}(\.\d{1,3}){3}$/.test(address) ? 'ipv4' : address.includes(':') ? 'ipv6' : undefined;
  if (!family) return undefined;
  const max = family === 'ipv4' ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) return undefined;
  return { address, prefix, family };
}

export function unmapIPv4(address: string): string {
  const m = /^::ffff:(\d{1,3}(\.\d{1,3}){3})$/i.exec(address);
  return m ? m[1]! : address;
}

function parseStatement(v: Json, index: number, kind: PolicyKind): Statement {
  if (!isObject(v)) throw new PolicyError(`Statement ${index + 1} must be an object`);
  const allowed = new Set(['Sid', 'Effect', 'Principal', 'NotPrincipal', 'Action', 'NotAction', 'Resource', 'NotResource', 'Condition']);
  for (const k of Object.keys(v)) if (!allowed.has(k)) throw new PolicyError(`Unknown field ${k} in statement ${index + 1}`);
  const where = v.Sid !== undefined ? `statement "${String(v.Sid)}"` : `statement ${index + 1}`;
  if (v.Sid !== undefined && (typeof v.Sid !== 'string' || !/^[A-Za-z0-9 ]*$/.test(v.Sid))) throw new PolicyError(`Sid of ${where} must be alphanumeric`);
  if (v.Effect !== 'Allow' && v.Effect !== 'Deny') throw new PolicyError(`Invalid effect in ${where}: Effect must be "Allow" or "Deny"`);
  const st: Statement = { effect: v.Effect, conditions: [] };
  if (typeof v.Sid === 'string') st.sid = v.Sid;

  if (v.Principal !== undefined && v.NotPrincipal !== undefined) throw new PolicyError(`${where} has both Principal and NotPrincipal`);
  if (kind.kind === 'identity') {
    if (v.Principal !== undefined || v.NotPrincipal !== undefined) throw new PolicyError(`Policy document should not specify a principal (${where})`);
  } else {
    if (v.Principal === undefined && v.NotPrincipal === undefined) throw new PolicyError(`Missing required field Principal in ${where}`);
    if (v.Principal !== undefined) st.principal = parsePrincipal(v.Principal, 'Principal');
    if (v.NotPrincipal !== undefined) {
      if (v.Effect === 'Allow') throw new PolicyError(`NotPrincipal is only supported with "Effect": "Deny" (${where})`);
      st.notPrincipal = parsePrincipal(v.NotPrincipal, 'NotPrincipal');
    }
  }

  if ((v.Action === undefined) === (v.NotAction === undefined)) throw new PolicyError(`${where} must have exactly one of Action or NotAction`);
  const actions = stringList(v.Action ?? v.NotAction, v.Action !== undefined ? 'Action' : 'NotAction');
  for (const a of actions) {
    if (!ACTION_RE.test(a)) throw new PolicyError(`Policy has invalid action: "${a}" in ${where}`);
    if (kind.kind === 'bucket' && a !== '*' && !a.toLowerCase().startsWith('s3:')) throw new PolicyError(`Policy has invalid action: "${a}" in ${where} (a bucket policy can only grant s3 actions)`);
  }
  if (v.Action !== undefined) st.action = actions;
  else st.notAction = actions;

  if ((v.Resource === undefined) === (v.NotResource === undefined)) throw new PolicyError(`${where} must have exactly one of Resource or NotResource`);
  const resources = stringList(v.Resource ?? v.NotResource, v.Resource !== undefined ? 'Resource' : 'NotResource');
  for (const r of resources) {
    if (r === '*') continue;
    if (!/^arn:[^:]*:[^:]*:[^:]*:[^:]*:.+$/.test(r) && !/^arn:[^:]*:s3:::.+$/.test(r)) throw new PolicyError(`Policy has invalid resource: "${r}" in ${where}`);
    if (kind.kind === 'bucket') {
      // S3 refuses statements about other buckets or other services.
      const own = `arn:aws:s3:::${kind.bucket}`;
      const wild = r.startsWith('arn:aws:s3:::') && /[*?]/.test(r) && (globMatch(r, own, { caseInsensitive: false }) || globMatch(r, `${own}/x`, { caseInsensitive: false }));
      if (r !== own && !r.startsWith(`${own}/`) && !wild) {
        throw new PolicyError(`Policy has invalid resource: "${r}" is not bucket ${kind.bucket} or an object in it (${where})`);
      }
    }
  }
  if (v.Resource !== undefined) st.resource = resources;
  else st.notResource = resources;

  if (v.Condition !== undefined) st.conditions = parseConditions(v.Condition);
  return st;
}

/**
 * Parses and validates a policy document.
 * @example parsePolicy('{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}', { kind: 'identity' })
 */
export function parsePolicy(text: string, kind: PolicyKind): Policy {
  let doc: Json;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new PolicyError(`Policies must be valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(doc)) throw new PolicyError('Policies must be valid JSON and the first byte must be \'{\'');
  for (const k of Object.keys(doc)) if (k !== 'Version' && k !== 'Id' && k !== 'Statement') throw new PolicyError(`Unknown field ${k}`);
  const version = doc.Version ?? '2008-10-17';
  if (version !== '2008-10-17' && version !== '2012-10-17') throw new PolicyError(`The policy must contain a valid version string (2012-10-17 or 2008-10-17), not ${JSON.stringify(version)}`);
  if (doc.Statement === undefined) throw new PolicyError('Missing required field Statement');
  const list = Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement];
  if (list.length === 0) throw new PolicyError('Statement must not be empty');
  const statements = list.map((s, i) => parseStatement(s, i, kind));
  const sids = statements.map((s) => s.sid).filter((s): s is string => s !== undefined && s !== '');
  if (new Set(sids).size !== sids.length) throw new PolicyError('Statement IDs (SID) in a single policy must be unique');
  return { version, ...(typeof doc.Id === 'string' ? { id: doc.Id } : {}), statements };
}

/**
 * `*` matches any run of characters (none included), `?` exactly one; every
 * other character matches itself.
 *
 * No pattern may reach a backtracking engine: a regular expression built from
 * the pattern (what this used to be) backtracks exponentially in the number of
 * `*`, so a Deny on `arn:aws:s3:::b/` + ten `*` separated by `/` + `.tmp`,
 * against an anonymous GET of a key of thousands of `/`, blocked the event
 * loop, and any owner may write such a policy. Instead the pattern is cut at
 * its `*`s: the first piece must match at the start, the last at the end, and
 * each piece between is placed at its leftmost fit after the one before (the
 * leftmost fit leaves the most room for the rest, so no other placement needs
 * trying). Work is at most pattern length × value length, and in practice the
 * value's length: literal pieces are found with String#indexOf.
 */
export function globMatch(pattern: string, value: string, options: { caseInsensitive: boolean }): boolean {
  const p = options.caseInsensitive ? pattern.toLowerCase() : pattern;
  const v = options.caseInsensitive ? value.toLowerCase() : value;
  const pieces = p.split('*');
  const head = pieces[0]!;
  if (pieces.length === 1) return head.length === v.length && matchesAt(head, v, 0);
  const tail = pieces[pieces.length - 1]!;
  const end = v.length - tail.length;
  if (head.length > end || !matchesAt(head, v, 0) || !matchesAt(tail, v, end)) return false;
  let from = head.length;
  for (let i = 1; i < pieces.length - 1; i++) {
    const piece = pieces[i]!;
    if (piece === '') continue;
    const at = leftmostFit(piece, v, from, end);
    if (at < 0) return false;
    from = at + piece.length;
  }
  return true;
}

/** Whether `piece` (literal but for `?`) matches `value` at `at`. */
function matchesAt(piece: string, value: string, at: number): boolean {
  for (let i = 0; i < piece.length; i++) {
    const c = piece.charCodeAt(i);
    if (c !== 0x3f /* ? */ && c !== value.charCodeAt(at + i)) return false;
  }
  return true;
}

/** The first position ≥ from where `piece` matches and ends by `end`, or -1. */
function leftmostFit(piece: string, value: string, from: number, end: number): number {
  const last = end - piece.length;
  if (!piece.includes('?')) {
    const at = value.indexOf(piece, from);
    return at >= 0 && at <= last ? at : -1;
  }
  for (let at = from; at <= last; at++) if (matchesAt(piece, value, at)) return at;
  return -1;
}
