/**
 * PutBucketEncryption, GetBucketEncryption, DeleteBucketEncryption — a bucket's
 * default encryption — and the effective configuration every write consults.
 *
 * Matches the S3 API reference: the body is a ServerSideEncryptionConfiguration
 * with exactly one Rule, validated strictly (MalformedXML), Content-MD5 or an
 * x-amz-checksum-* header is required, a KMSMasterKeyID must name a usable key
 * (KMS.NotFoundException / KMS.DisabledException), success is 200 with an empty
 * body; Delete is 204 and only resets the default. A bucket without a
 * configuration reports S3's default since 2023: SSE-S3, BucketKeyEnabled
 * false — and SSE-C blocked, as S3 does for buckets made since April 2026
 * (a server setting, `--default-sse-c`).
 */
import { S3Error } from '../errors/s3-errors.js';
import type { BucketEndpoint } from '../http/router.js';
import type { S3Request, S3Response } from '../http/types.js';
import { buildS3Xml, childList, childText, onlyChildren, parseXml, type XmlElement, type XmlNode } from '../xml/xml.js';
import { requireBucket } from './access.js';
import type { S3Context } from './context.js';
import { verifyBodyIntegrity } from './headers.js';
import { kmsCaller } from './kms-permissions.js';
import { SSE_ALGORITHMS, type BucketEncryptionConfig, type SseAlgorithm } from './sse.js';

const CONFIG_NAME = 'encryption';

export function defaultBucketEncryption(ctx: S3Context): BucketEncryptionConfig {
  return {
    sseAlgorithm: 'AES256',
    bucketKeyEnabled: false,
    ...(ctx.config.defaultSseC === 'blocked' ? { blockedEncryptionTypes: ['SSE-C'] } : {}),
  };
}

/** The configuration writes to this bucket follow: the stored one, else the default. */
export async function bucketEncryption(ctx: S3Context, bucket: string): Promise<BucketEncryptionConfig> {
  const doc = await ctx.metadata.getBucketConfig(bucket, CONFIG_NAME);
  return doc === undefined ? defaultBucketEncryption(ctx) : (JSON.parse(doc) as BucketEncryptionConfig);
}

function onlyOne(el: XmlElement, name: string): XmlElement | undefined {
  const list = childList(el, name);
  if (list.length > 1) throw new S3Error('MalformedXML');
  return list[0];
}

/** Parses and validates the document; KMS key existence is checked by the caller. */
export function parseEncryptionConfiguration(body: string): BucketEncryptionConfig {
  const root = parseXml(body, 'ServerSideEncryptionConfiguration');
  onlyChildren(root, ['Rule']);
  const rules = childList(root, 'Rule');
  if (rules.length !== 1) throw new S3Error('MalformedXML', 'The configuration must contain exactly one Rule.');
  const rule = rules[0]!;
  onlyChildren(rule, ['ApplyServerSideEncryptionByDefault', 'BucketKeyEnabled', 'BlockedEncryptionTypes']);

  const config: BucketEncryptionConfig = { bucketKeyEnabled: false };
  const byDefault = onlyOne(rule, 'ApplyServerSideEncryptionByDefault');
  if (byDefault) {
    onlyChildren(byDefault, ['SSEAlgorithm', 'KMSMasterKeyID']);
    const algorithm = childText(byDefault, 'SSEAlgorithm')?.trim();
    if (algorithm === undefined || !(SSE_ALGORITHMS as readonly string[]).includes(algorithm)) throw new S3Error('MalformedXML');
    config.sseAlgorithm = algorithm as SseAlgorithm;
    const keyId = childText(byDefault, 'KMSMasterKeyID')?.trim();
    if (keyId !== undefined) {
      if (algorithm === 'AES256') {
        throw new S3Error('InvalidArgument', 'a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse', {
          fields: { ArgumentName: 'ApplyServerSideEncryptionByDefault' },
        });
      }
      if (keyId === '') throw new S3Error('InvalidArgument', 'KMSMasterKeyID must not be empty.', { fields: { ArgumentName: 'KMSMasterKeyID' } });
      config.kmsMasterKeyId = keyId;
    }
  }
  const bucketKey = childText(rule, 'BucketKeyEnabled')?.trim();
  if (bucketKey !== undefined) {
    if (bucketKey !== 'true' && bucketKey !== 'false') throw new S3Error('MalformedXML');
    config.bucketKeyEnabled = bucketKey === 'true';
  }
  const blocked = onlyOne(rule, 'BlockedEncryptionTypes');
  if (blocked) {
    onlyChildren(blocked, ['EncryptionType']);
    const types = childList(blocked, 'EncryptionType').map((e) => e.text.trim());
    if (types.length === 0 || types.some((t) => t !== 'SSE-C' && t !== 'NONE')) throw new S3Error('MalformedXML');
    if (types.includes('NONE') && types.length > 1) {
      throw new S3Error('InvalidArgument', 'NONE cannot be combined with other encryption types.', { fields: { ArgumentName: 'BlockedEncryptionTypes' } });
    }
    config.blockedEncryptionTypes = [...new Set(types)];
  }
  return config;
}

export function encryptionConfigurationXml(config: BucketEncryptionConfig): string {
  const rule: XmlNode[] = [];
  if (config.sseAlgorithm) {
    rule.push([
      'ApplyServerSideEncryptionByDefault',
      [
        ['SSEAlgorithm', config.sseAlgorithm],
        ['KMSMasterKeyID', config.kmsMasterKeyId],
      ],
    ]);
  }
  rule.push(['BucketKeyEnabled', config.bucketKeyEnabled]);
  if (config.blockedEncryptionTypes) rule.push(['BlockedEncryptionTypes', config.blockedEncryptionTypes.map((t): XmlNode => ['EncryptionType', t])]);
  return buildS3Xml('ServerSideEncryptionConfiguration', [['Rule', rule]]);
}

export async function putBucketEncryption(ctx: S3Context, req: S3Request<BucketEndpoint>): Promise<S3Response> {
  const bucket = await requireBucket(ctx, req, req.endpoint.bucket);
  const body = await req.readBody(64 * 1024);
  await verifyBodyIntegrity(req, body, { required: true });
  const config = parseEncryptionConfiguration(body.toString('utf8'));
  if (config.kmsMasterKeyId !== undefined) {
    // The key must exist and be usable now (S3 answers KMS.NotFoundException / KMS.DisabledException).
    // Whether the bucket's writers may use it is asked of each write, as S3 does: not here.
    await ctx.keys.resolveKmsKeyArn(config.kmsMasterKeyId, kmsCaller(req));
  }
  if (!(await ctx.metadata.putBucketConfig(bucket.name, CONFIG_NAME, JSON.stringify(config)))) {
    throw new S3Error('NoSuchBucket', undefined, { fields: { BucketName: bucket.name } });
  }
  return { status: 200 };
}

export async function getBucketEncryption(ctx: S3Context, req: S3Request<BucketEndpoint>): Promise<S3Response> {
  const bucket = await requireBucket(ctx, req, req.endpoint.bucket);
  return { status: 200, headers: { 'content-type': 'application/xml' }, body: encryptionConfigurationXml(await bucketEncryption(ctx, bucket.name)) };
}

export async function deleteBucketEncryption(ctx: S3Context, req: S3Request<BucketEndpoint>): Promise<S3Response> {
  const bucket = await requireBucket(ctx, req, req.endpoint.bucket);
  await ctx.metadata.deleteBucketConfig(bucket.name, CONFIG_NAME);
  return { status: 204 };
}
