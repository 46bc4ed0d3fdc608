/**
 * The fuzzer's starting points: one correctly formed request for every
 * operation Coffer routes (S3, KMS, IAM/STS), against the state that
 * `setupRequests` creates. Mutations (mutate.ts) start from these.
 */
import { createHash, randomBytes } from 'node:crypto';

export type Service = 's3' | 'kms' | 'iam' | 'sts';

/** A request before signing: the path is unencoded ("/bucket/key"), the query a list of pairs. */
export interface RequestSpec {
  operation: string;
  service: Service;
  method: string;
  path: string;
  query: [string, string][];
  headers: Record<string, string>;
  body: Buffer;
}

export const BUCKET = 'fz';
export const SSEC_KEY = Buffer.alloc(32, 7);
const md5 = (b: Buffer | string) => createHash('md5').update(b).digest('base64');
const xml = (s: string) => Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>${s}`);

function s3(operation: string, method: string, path: string, query: [string, string][] = [], headers: Record<string, string> = {}, body: Buffer = Buffer.alloc(0)): RequestSpec {
  return { operation, service: 's3', method, path, query, headers, body };
}
/** An S3 request whose body S3 wants a Content-MD5 for. */
function s3md5(operation: string, method: string, path: string, query: [string, string][], body: Buffer, headers: Record<string, string> = {}): RequestSpec {
  return s3(operation, method, path, query, { 'content-md5': md5(body), 'content-type': 'application/xml', ...headers }, body);
}
function kms(operation: string, input: unknown): RequestSpec {
  return {
    operation: `kms:${operation}`,
    service: 'kms',
    method: 'POST',
    path: '/',
    query: [],
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `TrentService.${operation}` },
    body: Buffer.from(JSON.stringify(input)),
  };
}
function iam(operation: string, params: Record<string, string>, service: 'iam' | 'sts' = 'iam'): RequestSpec {
  const body = new URLSearchParams({ Action: operation, Version: service === 'iam' ? '2010-05-08' : '2011-06-15', ...params }).toString();
  return { operation: `${service}:${operation}`, service, method: 'POST', path: '/', query: [], headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }, body: Buffer.from(body) };
}

const SSE_C = {
  'x-amz-server-side-encryption-customer-algorithm': 'AES256',
  'x-amz-server-side-encryption-customer-key': SSEC_KEY.toString('base64'),
  'x-amz-server-side-encryption-customer-key-md5': md5(SSEC_KEY),
};

/** Idempotent requests that (re)create the state the corpus refers to; run before and now and then during a run. */
export function setupRequests(): RequestSpec[] {
  return [
    s3('CreateBucket', 'PUT', `/${BUCKET}`),
    s3('DeleteBucketPolicy', 'DELETE', `/${BUCKET}`, [['policy', '']]),
    s3('DeleteBucketEncryption', 'DELETE', `/${BUCKET}`, [['encryption', '']]),
    s3md5('PutBucketEncryption', 'PUT', `/${BUCKET}`, [['encryption', '']], xml('<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>')),
    s3('PutObject', 'PUT', `/${BUCKET}/plain`, [], {}, Buffer.from('hello, fuzzer')),
    s3('PutObject', 'PUT', `/${BUCKET}/dir/a.txt`, [], { 'x-amz-tagging': 'a=b' }, randomBytes(70_000)),
    s3('PutObject', 'PUT', `/${BUCKET}/kms`, [], { 'x-amz-server-side-encryption': 'aws:kms', 'x-amz-server-side-encryption-bucket-key-enabled': 'true' }, Buffer.from('kms object')),
    s3('PutObject', 'PUT', `/${BUCKET}/ssec`, [], SSE_C, Buffer.from('customer key object')),
  ];
}

const CREATE_BUCKET_BODY = xml('<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>us-east-1</LocationConstraint></CreateBucketConfiguration>');
const POLICY = JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'A', Effect: 'Deny', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${BUCKET}/deny/*/*.tmp`, Condition: { StringLike: { 'aws:UserAgent': '*fuzz*' } } }] });

/** The operations, each well formed. `uploadId` names a multipart upload the run keeps open. */
export function corpus(state: { uploadId: string; keyId: string; spareKeyId: string }): RequestSpec[] {
  const b = `/${BUCKET}`;
  const up: [string, string] = ['uploadId', state.uploadId];
  return [
    s3('ListBuckets', 'GET', '/'),
    s3('CreateBucket', 'PUT', `/fz-${'x'}`, [], { 'content-type': 'application/xml' }, CREATE_BUCKET_BODY),
    s3('HeadBucket', 'HEAD', b),
    s3('DeleteBucket', 'DELETE', '/fz-gone'),
    s3('GetBucketLocation', 'GET', b, [['location', '']]),
    s3('GetBucketVersioning', 'GET', b, [['versioning', '']]),
    s3md5('PutBucketVersioning', 'PUT', b, [['versioning', '']], xml('<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>')),
    s3('ListObjectVersions', 'GET', b, [['versions', ''], ['prefix', ''], ['delimiter', '/'], ['key-marker', 'dir/a.txt'], ['version-id-marker', 'null'], ['max-keys', '10'], ['encoding-type', 'url']]),
    s3md5('PutObjectLockConfiguration', 'PUT', b, [['object-lock', '']], xml('<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>1</Days></DefaultRetention></Rule></ObjectLockConfiguration>')),
    s3('GetObjectLockConfiguration', 'GET', b, [['object-lock', '']]),
    s3('ListObjects', 'GET', b, [['prefix', 'dir/'], ['delimiter', '/'], ['max-keys', '10'], ['marker', '']]),
    s3('ListObjectsV2', 'GET', b, [['list-type', '2'], ['prefix', ''], ['delimiter', '/'], ['max-keys', '100'], ['encoding-type', 'url'], ['fetch-owner', 'true'], ['start-after', 'a']]),
    s3('ListMultipartUploads', 'GET', b, [['uploads', ''], ['prefix', ''], ['max-uploads', '10']]),
    s3md5('DeleteObjects', 'POST', b, [['delete', '']], xml('<Delete><Quiet>false</Quiet><Object><Key>gone-1</Key></Object><Object><Key>gone-2</Key></Object></Delete>')),
    s3md5('PutBucketEncryption', 'PUT', b, [['encryption', '']], xml(`<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>${state.keyId}</KMSMasterKeyID></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>`)),
    s3('GetBucketEncryption', 'GET', b, [['encryption', '']]),
    s3('DeleteBucketEncryption', 'DELETE', b, [['encryption', '']]),
    s3('PutBucketPolicy', 'PUT', b, [['policy', '']], { 'content-type': 'application/json' }, Buffer.from(POLICY)),
    s3('GetBucketPolicy', 'GET', b, [['policy', '']]),
    s3('DeleteBucketPolicy', 'DELETE', b, [['policy', '']]),
    s3('GetBucketPolicyStatus', 'GET', b, [['policyStatus', '']]),
    s3md5('PutPublicAccessBlock', 'PUT', b, [['publicAccessBlock', '']], xml('<PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPublicAcls><IgnorePublicAcls>true</IgnorePublicAcls><BlockPublicPolicy>true</BlockPublicPolicy><RestrictPublicBuckets>true</RestrictPublicBuckets></PublicAccessBlockConfiguration>')),
    s3('GetPublicAccessBlock', 'GET', b, [['publicAccessBlock', '']]),
    s3('DeletePublicAccessBlock', 'DELETE', b, [['publicAccessBlock', '']]),
    s3md5('PutBucketOwnershipControls', 'PUT', b, [['ownershipControls', '']], xml('<OwnershipControls><Rule><ObjectOwnership>BucketOwnerEnforced</ObjectOwnership></Rule></OwnershipControls>')),
    s3('GetBucketOwnershipControls', 'GET', b, [['ownershipControls', '']]),
    s3('DeleteBucketOwnershipControls', 'DELETE', b, [['ownershipControls', '']]),
    s3('GetBucketAcl', 'GET', b, [['acl', '']]),
    s3('PutBucketAcl', 'PUT', b, [['acl', '']], { 'x-amz-acl': 'private' }),
    s3('GetBucketCors', 'GET', b, [['cors', '']]),
    s3('PutObject', 'PUT', `${b}/k`, [], { 'content-type': 'text/plain', 'x-amz-meta-a': 'b', 'x-amz-tagging': 'x=y', 'content-md5': md5('put body') }, Buffer.from('put body')),
    s3('PutObject', 'PUT', `${b}/k-kms`, [], { 'x-amz-server-side-encryption': 'aws:kms', 'x-amz-server-side-encryption-aws-kms-key-id': state.keyId, 'x-amz-server-side-encryption-context': Buffer.from('{"a":"b"}').toString('base64') }, Buffer.from('kms body')),
    s3('PutObject', 'PUT', `${b}/k-ssec`, [], SSE_C, Buffer.from('ssec body')),
    s3('PutObject', 'PUT', `${b}/k-crc`, [], { 'x-amz-checksum-crc32': 'NSRBwg==', 'x-amz-sdk-checksum-algorithm': 'CRC32' }, Buffer.from('abc')),
    s3('CopyObject', 'PUT', `${b}/copy`, [], { 'x-amz-copy-source': `/${BUCKET}/plain`, 'x-amz-metadata-directive': 'REPLACE', 'x-amz-tagging-directive': 'COPY', 'x-amz-copy-source-if-match': '"x"' }),
    s3('CopyObject', 'PUT', `${b}/copy-ssec`, [], { 'x-amz-copy-source': `/${BUCKET}/ssec`, ...Object.fromEntries(Object.entries(SSE_C).map(([k, v]) => [k.replace('x-amz-server-side', 'x-amz-copy-source-server-side'), v])) }),
    s3('GetObject', 'GET', `${b}/dir/a.txt`, [], { range: 'bytes=100-65636' }),
    s3('GetObject', 'GET', `${b}/plain`, [['response-content-type', 'text/x'], ['response-content-disposition', 'attachment; filename="a"'], ['response-cache-control', 'no-cache']], { 'if-none-match': '"abc"' }),
    s3('GetObject', 'GET', `${b}/ssec`, [], SSE_C),
    s3('GetObject', 'GET', `${b}/kms`, [['partNumber', '1']]),
    s3('HeadObject', 'HEAD', `${b}/plain`, [], { 'if-modified-since': 'Sat, 01 Jan 2000 00:00:00 GMT' }),
    s3('DeleteObject', 'DELETE', `${b}/gone`),
    s3md5('PutObjectTagging', 'PUT', `${b}/plain`, [['tagging', '']], xml('<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>')),
    s3('GetObjectTagging', 'GET', `${b}/plain`, [['tagging', '']]),
    s3('DeleteObjectTagging', 'DELETE', `${b}/k`, [['tagging', '']]),
    s3('CreateMultipartUpload', 'POST', `${b}/mp`, [['uploads', '']], { 'x-amz-server-side-encryption': 'AES256', 'x-amz-checksum-algorithm': 'SHA256' }),
    s3('UploadPart', 'PUT', `${b}/mp-open`, [['partNumber', '1'], up], {}, Buffer.from('part one')),
    s3('UploadPartCopy', 'PUT', `${b}/mp-open`, [['partNumber', '2'], up], { 'x-amz-copy-source': `/${BUCKET}/dir/a.txt`, 'x-amz-copy-source-range': 'bytes=0-99' }),
    s3('ListParts', 'GET', `${b}/mp-open`, [up, ['max-parts', '5'], ['part-number-marker', '0']]),
    s3('CompleteMultipartUpload', 'POST', `${b}/mp-other`, [['uploadId', 'not-an-upload']], { 'content-type': 'application/xml' }, xml('<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"e"</ETag></Part></CompleteMultipartUpload>')),
    s3('AbortMultipartUpload', 'DELETE', `${b}/mp-other`, [['uploadId', 'not-an-upload']]),
    s3md5('UpdateObjectEncryption', 'PUT', `${b}/plain`, [['encryption', '']], xml(`<ObjectEncryption><SSEKMS><KMSKeyArn>${state.keyId}</KMSKeyArn><BucketKeyEnabled>false</BucketKeyEnabled></SSEKMS></ObjectEncryption>`)),
    s3('GetObjectAcl', 'GET', `${b}/plain`, [['acl', '']]),
    s3('GetObject', 'GET', `${b}/plain`, [['versionId', 'null']]),
    s3('DeleteObject', 'DELETE', `${b}/gone`, [['versionId', '0123456789abcdef0123456789abcdef']], { 'x-amz-bypass-governance-retention': 'true' }),
    s3md5('PutObjectRetention', 'PUT', `${b}/plain`, [['retention', ''], ['versionId', 'null']], xml('<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>2030-01-01T00:00:00Z</RetainUntilDate></Retention>')),
    s3('GetObjectRetention', 'GET', `${b}/plain`, [['retention', '']]),
    s3md5('PutObjectLegalHold', 'PUT', `${b}/plain`, [['legal-hold', '']], xml('<LegalHold><Status>OFF</Status></LegalHold>')),
    s3('GetObjectLegalHold', 'GET', `${b}/plain`, [['legal-hold', '']]),
    s3('PutObjectAcl', 'PUT', `${b}/plain`, [['acl', '']], { 'x-amz-acl': 'private' }),
    s3('GetObjectAttributes', 'GET', `${b}/plain`, [['attributes', '']], { 'x-amz-object-attributes': 'ETag' }),
    s3('PostObject', 'POST', b, [], { 'content-type': 'multipart/form-data; boundary=x' }, Buffer.from('--x\r\nContent-Disposition: form-data; name="key"\r\n\r\nk\r\n--x--\r\n')),
    kms('CreateKey', { Description: 'fuzz', KeyUsage: 'ENCRYPT_DECRYPT' }),
    kms('DescribeKey', { KeyId: state.keyId }),
    kms('ListKeys', { Limit: 5 }),
    kms('ListAliases', {}),
    kms('CreateAlias', { AliasName: 'alias/fuzz', TargetKeyId: state.keyId }),
    kms('Encrypt', { KeyId: state.keyId, Plaintext: Buffer.from('secret').toString('base64'), EncryptionContext: { a: 'b' } }),
    kms('Decrypt', { CiphertextBlob: Buffer.alloc(64, 1).toString('base64') }),
    kms('GenerateDataKey', { KeyId: state.keyId, KeySpec: 'AES_256' }),
    kms('GenerateRandom', { NumberOfBytes: 32 }),
    kms('GetKeyRotationStatus', { KeyId: state.keyId }),
    kms('ListResourceTags', { KeyId: state.keyId }),
    kms('TagResource', { KeyId: state.keyId, Tags: [{ TagKey: 'a', TagValue: 'b' }] }),
    kms('ReEncrypt', { CiphertextBlob: Buffer.alloc(64, 2).toString('base64'), DestinationKeyId: state.keyId }),
    kms('GenerateDataKeyWithoutPlaintext', { KeyId: state.keyId, NumberOfBytes: 32 }),
    kms('UntagResource', { KeyId: state.keyId, TagKeys: ['a'] }),
    kms('ListKeyRotations', { KeyId: state.keyId }),
    // Operations that change a key's state act on a spare key, so the rest of the corpus keeps a usable one.
    kms('DisableKey', { KeyId: state.spareKeyId }),
    kms('EnableKey', { KeyId: state.spareKeyId }),
    kms('EnableKeyRotation', { KeyId: state.spareKeyId, RotationPeriodInDays: 90 }),
    kms('DisableKeyRotation', { KeyId: state.spareKeyId }),
    kms('RotateKeyOnDemand', { KeyId: state.spareKeyId }),
    kms('ScheduleKeyDeletion', { KeyId: state.spareKeyId, PendingWindowInDays: 7 }),
    kms('CancelKeyDeletion', { KeyId: state.spareKeyId }),
    kms('UpdateAlias', { AliasName: 'alias/fuzz', TargetKeyId: state.spareKeyId }),
    kms('DeleteAlias', { AliasName: 'alias/fuzz' }),
    iam('GetUser', {}),
    iam('ListUsers', { MaxItems: '10' }),
    iam('CreateUser', { UserName: 'fuzz-user' }),
    iam('PutUserPolicy', { UserName: 'fuzz-user', PolicyName: 'p', PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:Get*', Resource: `arn:aws:s3:::${BUCKET}/*` }] }) }),
    iam('ListAccessKeys', { UserName: 'fuzz-user' }),
    iam('CreateAccessKey', { UserName: 'fuzz-user' }),
    iam('UpdateAccessKey', { UserName: 'fuzz-user', AccessKeyId: 'CFAKEACCESSKEY000000', Status: 'Inactive' }),
    iam('DeleteAccessKey', { UserName: 'fuzz-user', AccessKeyId: 'CFAKEACCESSKEY000000' }),
    iam('GetUserPolicy', { UserName: 'fuzz-user', PolicyName: 'p' }),
    iam('ListUserPolicies', { UserName: 'fuzz-user' }),
    iam('DeleteUserPolicy', { UserName: 'fuzz-user', PolicyName: 'p' }),
    iam('DeleteUser', { UserName: 'fuzz-user' }),
    iam('GetCallerIdentity', {}, 'sts'),
  ];
}
