/**
 * The policy language and its evaluation, as tables: every operator (both
 * outcomes, IfExists, set qualifiers), wildcards, principals, condition keys,
 * and the cross-account / anonymous / owner rules.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ALL_USERS_GROUP,
  ANONYMOUS_CANONICAL_ID,
  AUTHENTICATED_USERS_GROUP,
  authorize,
  conditionContext,
  type AclInput,
  evaluateCondition,
  isPublicPolicy,
  parsePolicy,
  PolicyError,
  type CallerIdentity,
  type Condition,
} from '../../src/auth/access/index.js';

const A = '111122223333';
const B = '444455556666';
const rootA: CallerIdentity = { accountId: A, arn: `arn:aws:iam::${A}:root`, isRoot: true, canonicalId: 'a'.repeat(64) };
const aliceA: CallerIdentity = { accountId: A, arn: `arn:aws:iam::${A}:user/alice`, isRoot: false, canonicalId: 'a'.repeat(64), userName: 'alice', userId: 'AIDAALICE' };
const rootB: CallerIdentity = { accountId: B, arn: `arn:aws:iam::${B}:root`, isRoot: true, canonicalId: 'b'.repeat(64) };
const bobB: CallerIdentity = { accountId: B, arn: `arn:aws:iam::${B}:user/bob`, isRoot: false, canonicalId: 'b'.repeat(64), userName: 'bob', userId: 'AIDABOB' };

function cond(operator: string, key: string, values: string[]): Condition {
  // Parse through the real parser, so the table also covers operator syntax.
  const doc = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*', Condition: { [operator]: { [key]: values } } }] };
  return parsePolicy(JSON.stringify(doc), { kind: 'identity' }).statements[0]!.conditions[0]!;
}

describe('condition operators', () => {
  const rows: [string, string, string[], Record<string, string | string[] | undefined>, boolean][] = [
    ['StringEquals', 's3:x-amz-server-side-encryption', ['aws:kms'], { 's3:x-amz-server-side-encryption': 'aws:kms' }, true],
    ['StringEquals', 's3:x-amz-server-side-encryption', ['aws:kms'], { 's3:x-amz-server-side-encryption': 'AES256' }, false],
    ['StringEquals', 's3:x-amz-server-side-encryption', ['aws:kms'], {}, false],
    ['StringNotEquals', 's3:x-amz-server-side-encryption', ['aws:kms'], { 's3:x-amz-server-side-encryption': 'AES256' }, true],
    ['StringNotEquals', 's3:x-amz-server-side-encryption', ['aws:kms'], { 's3:x-amz-server-side-encryption': 'aws:kms' }, false],
    ['StringNotEquals', 's3:x-amz-server-side-encryption', ['aws:kms'], {}, true],
    ['StringNotEqualsIfExists', 's3:x-amz-server-side-encryption', ['aws:kms'], {}, true],
    ['StringEqualsIfExists', 's3:x-amz-server-side-encryption', ['aws:kms'], {}, true],
    ['StringEqualsIfExists', 's3:x-amz-server-side-encryption', ['aws:kms'], { 's3:x-amz-server-side-encryption': 'AES256' }, false],
    ['StringEqualsIgnoreCase', 'aws:username', ['ALICE'], { 'aws:username': 'alice' }, true],
    ['StringEqualsIgnoreCase', 'aws:username', ['ALICE'], { 'aws:username': 'bob' }, false],
    ['StringNotEqualsIgnoreCase', 'aws:username', ['ALICE'], { 'aws:username': 'alice' }, false],
    ['StringNotEqualsIgnoreCase', 'aws:username', ['ALICE'], { 'aws:username': 'bob' }, true],
    ['StringLike', 's3:prefix', ['home/*'], { 's3:prefix': 'home/alice/' }, true],
    ['StringLike', 's3:prefix', ['home/?'], { 's3:prefix': 'home/ab' }, false],
    ['StringLike', 's3:prefix', ['home/??'], { 's3:prefix': 'home/ab' }, true],
    ['StringNotLike', 's3:prefix', ['home/*'], { 's3:prefix': 'etc/' }, true],
    ['StringNotLike', 's3:prefix', ['home/*'], { 's3:prefix': 'home/x' }, false],
    ['StringEquals', 's3:delimiter', ['/'], { 's3:delimiter': '/' }, true],
    ['StringEquals', 's3:x-amz-acl', ['bucket-owner-full-control'], { 's3:x-amz-acl': 'public-read' }, false],
    ['StringEquals', 's3:x-amz-server-side-encryption-aws-kms-key-id', ['arn:aws:kms:us-east-1:111122223333:key/k1'], { 's3:x-amz-server-side-encryption-aws-kms-key-id': 'arn:aws:kms:us-east-1:111122223333:key/k1' }, true],
    ['StringEquals', 's3:x-amz-server-side-encryption-customer-algorithm', ['AES256'], { 's3:x-amz-server-side-encryption-customer-algorithm': 'AES256' }, true],
    ['StringEquals', 's3:ExistingObjectTag/class', ['public'], { 's3:ExistingObjectTag/class': 'public' }, true],
    ['StringEquals', 's3:ExistingObjectTag/class', ['public'], { 's3:ExistingObjectTag/Class': 'public' }, false],
    ['StringEquals', 's3:RequestObjectTag/team', ['blue'], { 's3:RequestObjectTag/team': 'red' }, false],
    ['StringEquals', 'AWS:PrincipalAccount', [A], { 'aws:PrincipalAccount': A }, true],
    ['StringEquals', 'aws:PrincipalAccount', [A], { 'aws:PrincipalAccount': B }, false],
    ['NumericEquals', 's3:max-keys', ['10'], { 's3:max-keys': '10' }, true],
    ['NumericEquals', 's3:max-keys', ['10'], { 's3:max-keys': '11' }, false],
    ['NumericNotEquals', 's3:max-keys', ['10'], { 's3:max-keys': '11' }, true],
    ['NumericNotEquals', 's3:max-keys', ['10'], { 's3:max-keys': '10' }, false],
    ['NumericLessThan', 's3:max-keys', ['10'], { 's3:max-keys': '9' }, true],
    ['NumericLessThan', 's3:max-keys', ['10'], { 's3:max-keys': '10' }, false],
    ['NumericLessThanEquals', 's3:max-keys', ['10'], { 's3:max-keys': '10' }, true],
    ['NumericLessThanEquals', 's3:max-keys', ['10'], { 's3:max-keys': '11' }, false],
    ['NumericGreaterThan', 's3:max-keys', ['10'], { 's3:max-keys': '11' }, true],
    ['NumericGreaterThan', 's3:max-keys', ['10'], { 's3:max-keys': 'ten' }, false],
    ['NumericGreaterThanEquals', 's3:max-keys', ['10'], { 's3:max-keys': '10' }, true],
    ['NumericGreaterThanEquals', 's3:max-keys', ['10'], { 's3:max-keys': '9' }, false],
    ['DateEquals', 'aws:CurrentTime', ['2026-01-01T00:00:00Z'], { 'aws:CurrentTime': '2026-01-01T00:00:00.000Z' }, true],
    ['DateEquals', 'aws:CurrentTime', ['2026-01-01T00:00:00Z'], { 'aws:CurrentTime': '2026-01-02T00:00:00Z' }, false],
    ['DateNotEquals', 'aws:CurrentTime', ['2026-01-01T00:00:00Z'], { 'aws:CurrentTime': '2026-01-02T00:00:00Z' }, true],
    ['DateNotEquals', 'aws:CurrentTime', ['2026-01-01T00:00:00Z'], { 'aws:CurrentTime': '2026-01-01T00:00:00Z' }, false],
    ['DateLessThan', 'aws:CurrentTime', ['2026-01-01T00:00:00Z'], { 'aws:CurrentTime': '2025-12-31T23:59:59Z' }, true],
    ['DateLessThan', 'aws:CurrentTime', ['2026-01-01T00:00:00Z'], { 'aws:CurrentTime': '2026-01-01T00:00:00Z' }, false],
    ['DateLessThanEquals', 'aws:CurrentTime', ['2026-01-01T00:00:00Z'], { 'aws:CurrentTime': '2026-01-01T00:00:00Z' }, true],
    ['DateLessThanEquals', 'aws:CurrentTime', ['2026-01-01T00:00:00Z'], { 'aws:CurrentTime': '2026-01-01T00:00:01Z' }, false],
    ['DateGreaterThan', 'aws:CurrentTime', ['1767225600'], { 'aws:CurrentTime': '2026-01-01T00:00:01Z' }, true],
    ['DateGreaterThan', 'aws:CurrentTime', ['1767225600'], { 'aws:CurrentTime': '2025-01-01T00:00:00Z' }, false],
    ['DateGreaterThanEquals', 'aws:CurrentTime', ['2026-01-01'], { 'aws:CurrentTime': '2026-01-01T00:00:00Z' }, true],
    ['DateGreaterThanEquals', 'aws:CurrentTime', ['2026-01-01'], { 'aws:CurrentTime': '2025-12-31T00:00:00Z' }, false],
    ['Bool', 'aws:SecureTransport', ['true'], { 'aws:SecureTransport': 'true' }, true],
    ['Bool', 'aws:SecureTransport', ['false'], { 'aws:SecureTransport': 'true' }, false],
    ['BoolIfExists', 'aws:SecureTransport', ['false'], {}, true],
    ['IpAddress', 'aws:SourceIp', ['10.0.0.0/8'], { 'aws:SourceIp': '10.1.2.3' }, true],
    ['IpAddress', 'aws:SourceIp', ['10.0.0.0/8'], { 'aws:SourceIp': '11.1.2.3' }, false],
    ['IpAddress', 'aws:SourceIp', ['127.0.0.1'], { 'aws:SourceIp': '127.0.0.1' }, true],
    ['IpAddress', 'aws:SourceIp', ['2001:db8::/32'], { 'aws:SourceIp': '2001:db8::1' }, true],
    ['IpAddress', 'aws:SourceIp', ['2001:db8::/32'], { 'aws:SourceIp': '10.0.0.1' }, false],
    ['NotIpAddress', 'aws:SourceIp', ['10.0.0.0/8'], { 'aws:SourceIp': '11.1.2.3' }, true],
    ['NotIpAddress', 'aws:SourceIp', ['10.0.0.0/8'], { 'aws:SourceIp': '10.1.2.3' }, false],
    ['ArnLike', 'aws:PrincipalArn', [`arn:aws:iam::${A}:user/*`], { 'aws:PrincipalArn': aliceA.arn }, true],
    ['ArnLike', 'aws:PrincipalArn', [`arn:aws:iam::${A}:user/*`], { 'aws:PrincipalArn': bobB.arn }, false],
    ['ArnEquals', 'aws:PrincipalArn', [aliceA.arn], { 'aws:PrincipalArn': aliceA.arn }, true],
    ['ArnEquals', 'aws:PrincipalArn', [aliceA.arn], { 'aws:PrincipalArn': bobB.arn }, false],
    ['ArnNotLike', 'aws:PrincipalArn', [`arn:aws:iam::${A}:*`], { 'aws:PrincipalArn': bobB.arn }, true],
    ['ArnNotEquals', 'aws:PrincipalArn', [aliceA.arn], { 'aws:PrincipalArn': aliceA.arn }, false],
    ['Null', 's3:x-amz-server-side-encryption', ['true'], {}, true],
    ['Null', 's3:x-amz-server-side-encryption', ['true'], { 's3:x-amz-server-side-encryption': 'AES256' }, false],
    ['Null', 's3:x-amz-server-side-encryption', ['false'], { 's3:x-amz-server-side-encryption': 'AES256' }, true],
    ['ForAnyValue:StringEquals', 's3:RequestObjectTagKeys', ['a', 'b'], { 's3:RequestObjectTagKeys': ['c', 'b'] }, true],
    ['ForAnyValue:StringEquals', 's3:RequestObjectTagKeys', ['a', 'b'], { 's3:RequestObjectTagKeys': ['c'] }, false],
    ['ForAnyValue:StringEquals', 's3:RequestObjectTagKeys', ['a'], {}, false],
    ['ForAllValues:StringEquals', 's3:RequestObjectTagKeys', ['a', 'b'], { 's3:RequestObjectTagKeys': ['a', 'b'] }, true],
    ['ForAllValues:StringEquals', 's3:RequestObjectTagKeys', ['a', 'b'], { 's3:RequestObjectTagKeys': ['a', 'c'] }, false],
    ['ForAllValues:StringEquals', 's3:RequestObjectTagKeys', ['a'], {}, true],
    ['ForAllValues:StringLike', 's3:RequestObjectTagKeys', ['team-*'], { 's3:RequestObjectTagKeys': ['team-a', 'team-b'] }, true],
    ['ForAnyValue:StringNotEquals', 's3:RequestObjectTagKeys', ['a'], { 's3:RequestObjectTagKeys': ['a', 'z'] }, true],
  ];
  for (const [op, key, values, ctx, expected] of rows) {
    test(`${op}_${key}_${JSON.stringify(ctx)}_is_${expected}`, () => {
      assert.equal(evaluateCondition(cond(op, key, values), conditionContext(ctx)), expected);
    });
  }

  test('policy_variables_in_condition_values', () => {
    const policy = parsePolicy(
      JSON.stringify({ Version: '2012-10-17', Statement: { Effect: 'Allow', Action: 's3:ListBucket', Resource: '*', Condition: { StringLike: { 's3:prefix': 'home/${aws:username}/*' } } } }),
      { kind: 'identity' },
    );
    const c = policy.statements[0]!.conditions[0]!;
    assert.equal(evaluateCondition(c, conditionContext({ 'aws:username': 'alice', 's3:prefix': 'home/alice/x' }), policy), true);
    assert.equal(evaluateCondition(c, conditionContext({ 'aws:username': 'alice', 's3:prefix': 'home/bob/x' }), policy), false);
  });
});

describe('policy parsing', () => {
  const bad: [string, unknown, 'bucket' | 'identity', RegExp][] = [
    ['not_json', '{nope', 'identity', /valid JSON/],
    ['not_an_object', [], 'identity', /first byte/],
    ['bad_version', { Version: '2020-01-01', Statement: [] }, 'identity', /version/],
    ['no_statement', { Version: '2012-10-17' }, 'identity', /Statement/],
    ['bad_effect', { Statement: { Effect: 'Maybe', Action: '*', Resource: '*' } }, 'identity', /effect/i],
    ['action_and_notaction', { Statement: { Effect: 'Allow', Action: '*', NotAction: 's3:*', Resource: '*' } }, 'identity', /Action or NotAction/],
    ['no_resource', { Statement: { Effect: 'Allow', Action: '*' } }, 'identity', /Resource/],
    ['bad_action', { Statement: { Effect: 'Allow', Action: 'GetObject', Resource: '*' } }, 'identity', /invalid action/],
    ['principal_in_identity_policy', { Statement: { Effect: 'Allow', Principal: '*', Action: '*', Resource: '*' } }, 'identity', /principal/],
    ['bucket_policy_without_principal', { Statement: { Effect: 'Allow', Action: 's3:*', Resource: 'arn:aws:s3:::b/*' } }, 'bucket', /Principal/],
    ['bucket_policy_with_kms_action', { Statement: { Effect: 'Allow', Principal: '*', Action: 'kms:Encrypt', Resource: 'arn:aws:s3:::b/*' } }, 'bucket', /invalid action/],
    ['bucket_policy_other_bucket', { Statement: { Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::other/*' } }, 'bucket', /invalid resource/],
    ['bad_principal', { Statement: { Effect: 'Allow', Principal: { AWS: 'alice' }, Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*' } }, 'bucket', /Invalid principal/],
    ['unknown_operator', { Statement: { Effect: 'Allow', Action: '*', Resource: '*', Condition: { StringSorta: { 'aws:username': 'x' } } } }, 'identity', /Invalid Condition type/],
    ['bad_ip', { Statement: { Effect: 'Allow', Action: '*', Resource: '*', Condition: { IpAddress: { 'aws:SourceIp': 'nowhere' } } } }, 'identity', /IP address/],
    ['bad_number', { Statement: { Effect: 'Allow', Action: '*', Resource: '*', Condition: { NumericLessThan: { 's3:max-keys': 'ten' } } } }, 'identity', /not a number/],
    ['duplicate_sid', { Statement: [{ Sid: 'a', Effect: 'Allow', Action: '*', Resource: '*' }, { Sid: 'a', Effect: 'Deny', Action: '*', Resource: '*' }] }, 'identity', /unique/],
    ['unknown_field', { Statement: { Effect: 'Allow', Action: '*', Resource: '*', Whatever: 1 } }, 'identity', /Unknown field/],
  ];
  for (const [name, doc, kind, message] of bad) {
    test(`parse_rejects_${name}`, () => {
      const text = typeof doc === 'string' ? doc : JSON.stringify(doc);
      assert.throws(() => parsePolicy(text, kind === 'bucket' ? { kind, bucket: 'b' } : { kind }), (err: unknown) => err instanceof PolicyError && message.test(err.message));
    });
  }

  test('parse_accepts_single_statement_and_string_lists', () => {
    const p = parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: { Sid: 'One', Effect: 'Deny', NotPrincipal: { AWS: [A, aliceA.arn] }, NotAction: 's3:Get*', NotResource: 'arn:aws:s3:::b/public/*' } }), {
      kind: 'bucket',
      bucket: 'b',
    });
    assert.equal(p.statements.length, 1);
    assert.deepEqual(p.statements[0]!.notAction, ['s3:Get*']);
  });
});

function bucketPolicy(statements: unknown[]) {
  return parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: statements }), { kind: 'bucket', bucket: 'b' });
}
function identityPolicy(statements: unknown[]) {
  return parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: statements }), { kind: 'identity' });
}
const ctx = conditionContext({});

describe('authorize', () => {
  const putEncryption = { action: 's3:PutEncryptionConfiguration', resource: 'arn:aws:s3:::b', context: ctx };
  const grantAlice = bucketPolicy([{ Effect: 'Allow', Principal: { AWS: aliceA.arn }, Action: 's3:PutEncryptionConfiguration', Resource: 'arn:aws:s3:::b' }]);
  const rows: [string, Parameters<typeof authorize>[0], 'Allow' | 'Deny' | 'ImplicitDeny'][] = [
    ['owner_root_without_policies', { request: { caller: rootA, ...putEncryption }, identityPolicies: [], resourceAccount: A }, 'Allow'],
    ['same_account_user_without_policies', { request: { caller: aliceA, ...putEncryption }, identityPolicies: [], resourceAccount: A }, 'ImplicitDeny'],
    ['same_account_user_granted_by_bucket_policy', { request: { caller: aliceA, ...putEncryption }, identityPolicies: [], resourcePolicy: grantAlice, resourceAccount: A }, 'Allow'],
    [
      'same_account_user_granted_by_identity_policy',
      { request: { caller: aliceA, ...putEncryption }, identityPolicies: [identityPolicy([{ Effect: 'Allow', Action: 's3:Put*', Resource: 'arn:aws:s3:::b' }])], resourceAccount: A },
      'Allow',
    ],
    [
      'identity_policy_for_another_resource',
      { request: { caller: aliceA, ...putEncryption }, identityPolicies: [identityPolicy([{ Effect: 'Allow', Action: 's3:*', Resource: 'arn:aws:s3:::other' }])], resourceAccount: A },
      'ImplicitDeny',
    ],
    [
      'account_principal_does_not_grant_same_account_users_alone',
      { request: { caller: aliceA, ...putEncryption }, identityPolicies: [], resourcePolicy: bucketPolicy([{ Effect: 'Allow', Principal: { AWS: A }, Action: 's3:*', Resource: 'arn:aws:s3:::b' }]), resourceAccount: A },
      'ImplicitDeny',
    ],
    [
      'explicit_deny_blocks_owner_root',
      { request: { caller: rootA, ...putEncryption }, identityPolicies: [], resourcePolicy: bucketPolicy([{ Effect: 'Deny', Principal: '*', Action: 's3:PutEncryptionConfiguration', Resource: 'arn:aws:s3:::b' }]), resourceAccount: A },
      'Deny',
    ],
    [
      'owner_root_may_always_delete_the_bucket_policy',
      {
        request: { caller: rootA, action: 's3:DeleteBucketPolicy', resource: 'arn:aws:s3:::b', context: ctx },
        identityPolicies: [],
        resourcePolicy: bucketPolicy([{ Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: 'arn:aws:s3:::b' }]),
        resourceAccount: A,
        ownerOverrides: new Set(['s3:DeleteBucketPolicy']),
      },
      'Allow',
    ],
    [
      'identity_deny_beats_bucket_allow',
      { request: { caller: aliceA, ...putEncryption }, identityPolicies: [identityPolicy([{ Effect: 'Deny', Action: '*', Resource: '*' }])], resourcePolicy: grantAlice, resourceAccount: A },
      'Deny',
    ],
    ['cross_account_root_without_bucket_policy', { request: { caller: rootB, ...putEncryption }, identityPolicies: [], resourceAccount: A }, 'ImplicitDeny'],
    [
      'cross_account_root_with_bucket_policy_naming_its_account',
      { request: { caller: rootB, ...putEncryption }, identityPolicies: [], resourcePolicy: bucketPolicy([{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${B}:root` }, Action: 's3:*', Resource: 'arn:aws:s3:::b' }]), resourceAccount: A },
      'Allow',
    ],
    [
      'cross_account_user_with_bucket_policy_only',
      { request: { caller: bobB, ...putEncryption }, identityPolicies: [], resourcePolicy: bucketPolicy([{ Effect: 'Allow', Principal: { AWS: B }, Action: 's3:*', Resource: 'arn:aws:s3:::b' }]), resourceAccount: A },
      'ImplicitDeny',
    ],
    [
      'cross_account_user_with_identity_policy_only',
      { request: { caller: bobB, ...putEncryption }, identityPolicies: [identityPolicy([{ Effect: 'Allow', Action: 's3:*', Resource: '*' }])], resourceAccount: A },
      'ImplicitDeny',
    ],
    [
      'cross_account_user_with_both',
      {
        request: { caller: bobB, ...putEncryption },
        identityPolicies: [identityPolicy([{ Effect: 'Allow', Action: 's3:*', Resource: '*' }])],
        resourcePolicy: bucketPolicy([{ Effect: 'Allow', Principal: { AWS: B }, Action: 's3:*', Resource: 'arn:aws:s3:::b' }]),
        resourceAccount: A,
      },
      'Allow',
    ],
    ['anonymous_without_policy', { request: { caller: undefined, action: 's3:GetObject', resource: 'arn:aws:s3:::b/k', context: ctx }, identityPolicies: [], resourceAccount: A }, 'ImplicitDeny'],
    [
      'anonymous_with_public_read',
      { request: { caller: undefined, action: 's3:GetObject', resource: 'arn:aws:s3:::b/k', context: ctx }, identityPolicies: [], resourcePolicy: bucketPolicy([{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*' }]), resourceAccount: A },
      'Allow',
    ],
    [
      'anonymous_not_granted_by_account_principal',
      { request: { caller: undefined, action: 's3:GetObject', resource: 'arn:aws:s3:::b/k', context: ctx }, identityPolicies: [], resourcePolicy: bucketPolicy([{ Effect: 'Allow', Principal: { AWS: A }, Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*' }]), resourceAccount: A },
      'ImplicitDeny',
    ],
    [
      'wildcard_question_mark_in_resource',
      { request: { caller: aliceA, action: 's3:GetObject', resource: 'arn:aws:s3:::b/a1', context: ctx }, identityPolicies: [identityPolicy([{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/a?' }])], resourceAccount: A },
      'Allow',
    ],
    [
      'wildcard_question_mark_needs_one_character',
      { request: { caller: aliceA, action: 's3:GetObject', resource: 'arn:aws:s3:::b/a12', context: ctx }, identityPolicies: [identityPolicy([{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/a?' }])], resourceAccount: A },
      'ImplicitDeny',
    ],
    [
      'action_match_is_case_insensitive',
      { request: { caller: aliceA, action: 's3:GetObject', resource: 'arn:aws:s3:::b/k', context: ctx }, identityPolicies: [identityPolicy([{ Effect: 'Allow', Action: 'S3:getobject', Resource: '*' }])], resourceAccount: A },
      'Allow',
    ],
    [
      'not_action_allows_everything_else',
      { request: { caller: aliceA, action: 's3:GetObject', resource: 'arn:aws:s3:::b/k', context: ctx }, identityPolicies: [identityPolicy([{ Effect: 'Allow', NotAction: 's3:Delete*', Resource: '*' }])], resourceAccount: A },
      'Allow',
    ],
    [
      'not_resource_excludes',
      { request: { caller: aliceA, action: 's3:GetObject', resource: 'arn:aws:s3:::b/secret/k', context: ctx }, identityPolicies: [identityPolicy([{ Effect: 'Allow', Action: '*', NotResource: 'arn:aws:s3:::b/secret/*' }])], resourceAccount: A },
      'ImplicitDeny',
    ],
    [
      'not_principal_deny_spares_the_listed',
      { request: { caller: aliceA, ...putEncryption }, identityPolicies: [], resourcePolicy: bucketPolicy([{ Effect: 'Deny', NotPrincipal: { AWS: aliceA.arn }, Action: 's3:*', Resource: 'arn:aws:s3:::b' }, { Effect: 'Allow', Principal: '*', Action: 's3:*', Resource: 'arn:aws:s3:::b' }]), resourceAccount: A },
      'Allow',
    ],
    [
      'not_principal_deny_hits_others',
      { request: { caller: bobB, ...putEncryption }, identityPolicies: [identityPolicy([{ Effect: 'Allow', Action: '*', Resource: '*' }])], resourcePolicy: bucketPolicy([{ Effect: 'Deny', NotPrincipal: { AWS: aliceA.arn }, Action: 's3:*', Resource: 'arn:aws:s3:::b' }, { Effect: 'Allow', Principal: '*', Action: 's3:*', Resource: 'arn:aws:s3:::b' }]), resourceAccount: A },
      'Deny',
    ],
    [
      'resource_policy_variable_username',
      { request: { caller: aliceA, action: 's3:GetObject', resource: 'arn:aws:s3:::b/home/alice/x', context: conditionContext({ 'aws:username': 'alice' }) }, identityPolicies: [identityPolicy([{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/home/${aws:username}/*' }])], resourceAccount: A },
      'Allow',
    ],
    ['iam_root_of_own_account', { request: { caller: rootA, action: 'iam:CreateUser', resource: `arn:aws:iam::${A}:user/x`, context: ctx }, identityPolicies: [] }, 'Allow'],
    ['iam_user_without_policy', { request: { caller: aliceA, action: 'iam:CreateUser', resource: `arn:aws:iam::${A}:user/x`, context: ctx }, identityPolicies: [] }, 'ImplicitDeny'],
    ['iam_user_with_iam_star', { request: { caller: aliceA, action: 'iam:CreateUser', resource: `arn:aws:iam::${A}:user/x`, context: ctx }, identityPolicies: [identityPolicy([{ Effect: 'Allow', Action: 'iam:*', Resource: '*' }])] }, 'Allow'],
  ];
  for (const [name, input, expected] of rows) {
    test(`authorize_${name}`, () => {
      assert.equal(authorize(input).effect, expected);
    });
  }

  test('deny_unencrypted_uploads_policy', () => {
    const policy = bucketPolicy([
      { Sid: 'DenyNotKms', Effect: 'Deny', Principal: '*', Action: 's3:PutObject', Resource: 'arn:aws:s3:::b/*', Condition: { StringNotEquals: { 's3:x-amz-server-side-encryption': 'aws:kms' } } },
    ]);
    const put = (headers: Record<string, string>) =>
      authorize({ request: { caller: rootA, action: 's3:PutObject', resource: 'arn:aws:s3:::b/k', context: conditionContext(headers) }, identityPolicies: [], resourcePolicy: policy, resourceAccount: A }).effect;
    assert.equal(put({}), 'Deny');
    assert.equal(put({ 's3:x-amz-server-side-encryption': 'AES256' }), 'Deny');
    assert.equal(put({ 's3:x-amz-server-side-encryption': 'aws:kms' }), 'Allow');
  });

  test('is_public_policy', () => {
    assert.equal(isPublicPolicy(bucketPolicy([{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*' }])), true);
    assert.equal(isPublicPolicy(bucketPolicy([{ Effect: 'Allow', Principal: { AWS: A }, Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*' }])), false);
    assert.equal(
      isPublicPolicy(bucketPolicy([{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*', Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } }])),
      false,
    );
    assert.equal(isPublicPolicy(bucketPolicy([{ Effect: 'Deny', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*' }])), false);
  });
});

describe('authorize with S3 ACLs', () => {
  const get = { action: 's3:GetObject', resource: 'arn:aws:s3:::b/k', context: conditionContext({}) };
  const read = (...grantees: AclInput['grants'][number]['grantee'][]): AclInput => ({ grants: grantees.map((grantee) => ({ grantee, permission: 'READ' })), permission: 'READ' });
  const toB = read({ type: 'CanonicalUser', id: rootB.canonicalId });
  const allow = identityPolicy([{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }]);
  const rows: [string, Parameters<typeof authorize>[0], 'Allow' | 'Deny' | 'ImplicitDeny'][] = [
    ['grant_to_an_account_lets_its_root_in', { request: { caller: rootB, ...get }, identityPolicies: [], acl: toB, resourceAccount: A }, 'Allow'],
    ['grant_to_an_account_lets_its_users_in_only_with_their_own_policy', { request: { caller: bobB, ...get }, identityPolicies: [], acl: toB, resourceAccount: A }, 'ImplicitDeny'],
    ['grant_to_an_account_and_the_users_policy', { request: { caller: bobB, ...get }, identityPolicies: [allow], acl: toB, resourceAccount: A }, 'Allow'],
    ['grant_of_another_permission_grants_nothing', { request: { caller: rootB, ...get }, identityPolicies: [], acl: { ...toB, permission: 'READ_ACP' }, resourceAccount: A }, 'ImplicitDeny'],
    [
      'full_control_holds_every_permission',
      { request: { caller: rootB, ...get }, identityPolicies: [], acl: { grants: [{ grantee: { type: 'CanonicalUser', id: rootB.canonicalId }, permission: 'FULL_CONTROL' }], permission: 'READ' }, resourceAccount: A },
      'Allow',
    ],
    ['the_owner_grant_does_not_let_the_owner_accounts_users_in', { request: { caller: aliceA, ...get }, identityPolicies: [], acl: read({ type: 'CanonicalUser', id: rootA.canonicalId }), resourceAccount: A }, 'ImplicitDeny'],
    ['all_users_includes_anonymous', { request: { caller: undefined, ...get }, identityPolicies: [], acl: read({ type: 'Group', uri: ALL_USERS_GROUP }), resourceAccount: A }, 'Allow'],
    ['all_users_lets_a_same_account_user_in', { request: { caller: aliceA, ...get }, identityPolicies: [], acl: read({ type: 'Group', uri: ALL_USERS_GROUP }), resourceAccount: A }, 'Allow'],
    ['authenticated_users_excludes_anonymous', { request: { caller: undefined, ...get }, identityPolicies: [], acl: read({ type: 'Group', uri: AUTHENTICATED_USERS_GROUP }), resourceAccount: A }, 'ImplicitDeny'],
    ['authenticated_users_includes_another_accounts_root', { request: { caller: rootB, ...get }, identityPolicies: [], acl: read({ type: 'Group', uri: AUTHENTICATED_USERS_GROUP }), resourceAccount: A }, 'Allow'],
    ['anonymous_canonical_user_is_the_unsigned_caller', { request: { caller: undefined, ...get }, identityPolicies: [], acl: read({ type: 'CanonicalUser', id: ANONYMOUS_CANONICAL_ID }), resourceAccount: A }, 'Allow'],
    [
      'a_deny_only_policy_denies_what_the_acl_grants',
      {
        request: { caller: rootB, ...get },
        identityPolicies: [],
        acl: toB,
        denyOnlyPolicies: [bucketPolicy([{ Effect: 'Deny', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*' }])],
        resourceAccount: A,
      },
      'Deny',
    ],
    [
      'a_deny_only_policy_grants_nothing',
      {
        request: { caller: rootB, ...get },
        identityPolicies: [],
        denyOnlyPolicies: [bucketPolicy([{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*' }])],
        resourceAccount: A,
      },
      'ImplicitDeny',
    ],
  ];
  for (const [name, input, expected] of rows) {
    test(name, () => assert.equal(authorize(input).effect, expected));
  }
});
