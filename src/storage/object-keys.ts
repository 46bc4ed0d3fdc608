/**
 * Data keys of encrypted objects: made when an object (or a multipart upload)
 * is created, recovered when it is read. One place knows every mode:
 *
 * - SSE-S3 (`AES256`): a random data key wrapped locally by a per-bucket
 *   intermediate key, itself a data key of Coffer's S3 service key (a
 *   ServiceKeyring: a Coffer-owned KMS key, rotatable like any other) issued
 *   once per bucket-key period — S3 Bucket Keys, always on, because SSE-S3 has
 *   no per-object KMS cost in S3 either. Objects written before this scheme
 *   (their data key wrapped directly by the service key) still open.
 * - SSE-KMS (`aws:kms`): a data key from KMS GenerateDataKey under the chosen
 *   key, with the encryption context S3 uses ({"aws:s3:arn": object ARN} plus
 *   the caller's own pairs); or, with BucketKeyEnabled, a random data key
 *   wrapped locally by a per-bucket intermediate key that the KMS issues once
 *   per period (so a burst of PUTs makes one KMS call, not one per object).
 * - DSSE-KMS (`aws:kms:dsse`): two independent KMS data keys, two layers.
 * - SSE-C: a random data key wrapped by the customer's key, which is never
 *   stored: only a random salt and HMAC-SHA256(salt, key) to recognise it.
 *
 * Key material never leaves this module except as the data keys handed to the
 * blob format; nothing here logs.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { bytesEqual } from '../crypto/compare.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { S3Error, S3_ERRORS, type S3ErrorCode } from '../errors/s3-errors.js';
import type { EncryptionContext, Kms, KmsCaller } from '../kms/kms.js';
import { isKmsError } from '../kms/kms-errors.js';
import type { MetadataStore, ObjectEncryption } from '../metadata/metadata-store.js';

/** Coffer's S3 service key: it issues SSE-S3 bucket keys, and unwrapped the data keys of SSE-S3 objects written before bucket keys. */
export interface ServiceKeyring {
  /** The service key's ARN: SSE-S3 bucket keys are data keys under it. */
  keyArn(caller: KmsCaller): Promise<string>;
  unwrap(wrapped: string, context: EncryptionContext, caller: KmsCaller): Promise<Buffer>;
}

/** What a request asks for, after the bucket default was applied. */
export type SseChoice =
  | { mode: 'AES256' }
  | { mode: 'aws:kms' | 'aws:kms:dsse'; kmsKeyId?: string; context?: EncryptionContext; bucketKeyEnabled: boolean }
  | { mode: 'SSE-C'; customerKey: Buffer };

/**
 * Refuses (throws) unless the requester may have its data key made under this KMS key: the
 * caller's permission check, run on every write once the key's ARN is known, whether or not a
 * cached bucket key spares the KMS call.
 */
export type KmsKeyPermit = (kmsKeyArn: string) => Promise<void>;

export interface ObjectTarget {
  bucket: string;
  key: string;
}

export interface NewKeys {
  /** One per layer of the blob format. */
  dataKeys: Buffer[];
  encryption: ObjectEncryption;
}

export interface ObjectKeysOptions {
  kms: Kms;
  serviceKeys: ServiceKeyring;
  metadata: MetadataStore;
  /** How long one bucket key serves new objects (AWS: "time-limited"). */
  bucketKeyPeriodMs: number;
  /** Clock, for tests. */
  now?: () => number;
}

const DEK_WRAP_AAD = Buffer.from('coffer/dek/v1', 'latin1');
const ETAG_INFO = Buffer.from('coffer/etag/v1', 'latin1');

export function objectArn(t: ObjectTarget): string {
  return `arn:aws:s3:::${t.bucket}/${t.key}`;
}

/** Maps a KMS failure to the error S3 reports for it (`KMS.<type>`), rethrows anything else. */
export function asS3KmsError(err: unknown): never {
  if (isKmsError(err)) {
    const code = `KMS.${err.type}`;
    if (code in S3_ERRORS) throw new S3Error(code as S3ErrorCode, err.message);
    if (err.status < 500) throw new S3Error('InvalidArgument', err.message);
  }
  throw err;
}

async function kmsCall<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    return asS3KmsError(err);
  }
}

/** AES-256-GCM wrap of a 32-byte data key under a local key: nonce ‖ ciphertext ‖ tag, base64. */
function wrapLocal(key: Buffer, dataKey: Buffer): string {
  const nonce = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, nonce);
  c.setAAD(DEK_WRAP_AAD);
  return Buffer.concat([nonce, c.update(dataKey), c.final(), c.getAuthTag()]).toString('base64');
}

function unwrapLocal(key: Buffer, wrapped: string): Buffer | undefined {
  const raw = Buffer.from(wrapped, 'base64');
  if (raw.length !== 12 + 32 + 16) return undefined;
  const d = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
  d.setAAD(DEK_WRAP_AAD);
  d.setAuthTag(raw.subarray(44));
  try {
    return Buffer.concat([d.update(raw.subarray(12, 44)), d.final()]);
  } catch {
    return undefined;
  }
}

function customerKeyMac(salt: Buffer, customerKey: Buffer): Buffer {
  return createHmac('sha256', salt).update(customerKey).digest();
}

/**
 * The ETag of an object whose data key is secret: S3 does not return the MD5
 * of the plaintext for SSE-KMS/DSSE/SSE-C objects (it would confirm guesses of
 * the content), so Coffer returns a keyed digest of it instead — stable for the
 * object, meaningless without its key.
 */
export function keyedEtag(dataKey: Buffer, md5Hex: string): string {
  return createHmac('sha256', dataKey).update(ETAG_INFO).update(Buffer.from(md5Hex, 'hex')).digest().subarray(0, 16).toString('hex');
}

/** The ETag S3 shows for an object's (or part's) bytes in a given mode. */
export function etagFor(encryption: ObjectEncryption, dataKeys: readonly Buffer[], md5Hex: string): string {
  return encryption.mode === 'AES256' ? md5Hex : keyedEtag(dataKeys[0]!, md5Hex);
}

/** How often a process waiting for another's bucket key looks, and how long before it takes the claim over. */
const CLAIM_POLL_MS = 5;
const CLAIM_WAIT_MS = 10_000;

/** How long a bucket-key PUT trusts an earlier check that its KMS key is usable. */
const RESOLVED_TTL_MS = 1000;

interface CachedBucketKey {
  id: string;
  key: Buffer;
  createdAt: number;
}

export class ObjectKeys {
  readonly #o: ObjectKeysOptions;
  /** bucket + KMS key ARN → the bucket key serving new objects. */
  readonly #current = new Map<string, CachedBucketKey>();
  /** bucket key id → plaintext, its KMS key, and when that key was last seen usable; for reads. Bounded. */
  readonly #byId = new Map<string, { key: Buffer; kmsKeyArn: string; checkedAt: number }>();
  /** Number of KMS data-key calls made for bucket keys (the benchmark reports it). */
  bucketKeyKmsCalls = 0;
  /** Bucket-key lookups (new objects' and reads') this process answered from its cache, and those it did not (metrics). */
  bucketKeyCacheHits = 0;
  bucketKeyCacheMisses = 0;

  constructor(options: ObjectKeysOptions) {
    this.#o = options;
  }

  #now(): number {
    return (this.#o.now ?? Date.now)();
  }

  /** Resolves the KMS key of an SSE-KMS choice (the request's, or `alias/aws/s3`) to its ARN; the key must be usable. */
  async resolveKmsKeyArn(kmsKeyId: string | undefined, caller: KmsCaller): Promise<string> {
    const meta = await kmsCall(() => (kmsKeyId === undefined ? this.#o.kms.managedS3Key(caller) : this.#o.kms.describeKey(kmsKeyId, caller)));
    if (meta.keyState === 'Disabled') throw new S3Error('KMS.DisabledException', `${meta.arn} is disabled.`);
    if (meta.keyState !== 'Enabled') throw new S3Error('KMS.KMSInvalidStateException', `${meta.arn} is ${meta.keyState}.`);
    return meta.arn;
  }

  /** Makes a new object's data keys; `permit` is asked about an SSE-KMS/DSSE-KMS key before any data key is made under it. */
  async create(choice: SseChoice, target: ObjectTarget, caller: KmsCaller, permit: KmsKeyPermit): Promise<NewKeys> {
    const arnContext: EncryptionContext = { 'aws:s3:arn': objectArn(target) };
    switch (choice.mode) {
      case 'AES256': {
        const serviceKeyArn = await kmsCall(() => this.#o.serviceKeys.keyArn(caller));
        const bucketKey = await this.#bucketKey(target.bucket, serviceKeyArn, caller);
        const dataKey = randomBytes(32);
        return { dataKeys: [dataKey], encryption: { mode: 'AES256', bucketKeyId: bucketKey.id, wrappedKeys: [wrapLocal(bucketKey.key, dataKey)] } };
      }
      case 'aws:kms':
      case 'aws:kms:dsse': {
        const arn = choice.mode === 'aws:kms' && choice.bucketKeyEnabled ? await this.#resolveForBucketKey(target.bucket, choice.kmsKeyId, caller) : await this.resolveKmsKeyArn(choice.kmsKeyId, caller);
        await permit(arn);
        const context: EncryptionContext = { ...choice.context, ...arnContext };
        // S3 Bucket Keys do not apply to DSSE-KMS (AWS documents this).
        if (choice.mode === 'aws:kms' && choice.bucketKeyEnabled) {
          const bucketKey = await this.#bucketKey(target.bucket, arn, caller);
          const dataKey = randomBytes(32);
          return {
            dataKeys: [dataKey],
            encryption: { mode: 'aws:kms', kmsKeyArn: arn, bucketKeyEnabled: true, bucketKeyId: bucketKey.id, wrappedKeys: [wrapLocal(bucketKey.key, dataKey)], ...(choice.context ? { context: choice.context } : {}) },
          };
        }
        const layers = choice.mode === 'aws:kms:dsse' ? 2 : 1;
        const dataKeys: Buffer[] = [];
        const wrappedKeys: string[] = [];
        for (let i = 0; i < layers; i++) {
          const r = await kmsCall(() => this.#o.kms.generateDataKey({ keyId: arn, keySpec: 'AES_256', encryptionContext: context }, caller));
          dataKeys.push(r.plaintext);
          wrappedKeys.push(r.ciphertextBlob.toString('base64'));
        }
        return { dataKeys, encryption: { mode: choice.mode, kmsKeyArn: arn, bucketKeyEnabled: false, wrappedKeys, ...(choice.context ? { context: choice.context } : {}) } };
      }
      case 'SSE-C': {
        const dataKey = randomBytes(32);
        const salt = randomBytes(16);
        return {
          dataKeys: [dataKey],
          encryption: {
            mode: 'SSE-C',
            wrappedKeys: [wrapLocal(choice.customerKey, dataKey)],
            customerKeyCheck: { salt: salt.toString('base64'), mac: customerKeyMac(salt, choice.customerKey).toString('base64') },
          },
        };
      }
    }
  }

  /**
   * Recovers an object's data keys. SSE-C objects need the customer key:
   * missing → InvalidRequest (400), wrong → AccessDenied (403), as S3 answers.
   */
  async open(encryption: ObjectEncryption, target: ObjectTarget, caller: KmsCaller, customerKey?: Buffer): Promise<Buffer[]> {
    const arnContext: EncryptionContext = { 'aws:s3:arn': objectArn(target) };
    switch (encryption.mode) {
      case 'AES256':
        if (encryption.bucketKeyId !== undefined) return [await this.#openUnderBucketKey(encryption.bucketKeyId, encryption.wrappedKeys[0]!, caller, false)];
        return [await kmsCall(() => this.#o.serviceKeys.unwrap(encryption.wrappedKeys[0]!, arnContext, caller))];
      case 'aws:kms':
      case 'aws:kms:dsse': {
        if (encryption.bucketKeyId !== undefined) return [await this.#openUnderBucketKey(encryption.bucketKeyId, encryption.wrappedKeys[0]!, caller, true)];
        const context: EncryptionContext = { ...encryption.context, ...arnContext };
        const keys: Buffer[] = [];
        for (const w of encryption.wrappedKeys) {
          const r = await kmsCall(() => this.#o.kms.decrypt({ ciphertextBlob: Buffer.from(w, 'base64'), encryptionContext: context }, caller));
          keys.push(r.plaintext);
        }
        return keys;
      }
      case 'SSE-C': {
        if (!customerKey) {
          throw new S3Error('InvalidRequest', 'The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.');
        }
        const check = encryption.customerKeyCheck!;
        const expected = Buffer.from(check.mac, 'base64');
        const actual = customerKeyMac(Buffer.from(check.salt, 'base64'), customerKey);
        if (!bytesEqual(expected, actual)) {
          throw new S3Error('AccessDenied', 'The provided customer key does not match the key the object was stored with.');
        }
        const dataKey = unwrapLocal(customerKey, encryption.wrappedKeys[0]!);
        if (!dataKey) throw new S3Error('AccessDenied', 'The provided customer key does not match the key the object was stored with.');
        return [dataKey];
      }
    }
  }

  /**
   * Wraps an object's existing data key for SSE-KMS under another KMS key (or a bucket key):
   * UpdateObjectEncryption re-wraps, it never re-encrypts the data.
   */
  async rewrapForKms(dataKey: Buffer, choice: { kmsKeyId: string; bucketKeyEnabled: boolean }, target: ObjectTarget, caller: KmsCaller, permit: KmsKeyPermit): Promise<ObjectEncryption> {
    const arn = await this.resolveKmsKeyArn(choice.kmsKeyId, caller);
    await permit(arn);
    if (choice.bucketKeyEnabled) {
      const bucketKey = await this.#bucketKey(target.bucket, arn, caller);
      return { mode: 'aws:kms', kmsKeyArn: arn, bucketKeyEnabled: true, bucketKeyId: bucketKey.id, wrappedKeys: [wrapLocal(bucketKey.key, dataKey)] };
    }
    const r = await kmsCall(() => this.#o.kms.encrypt({ keyId: arn, plaintext: dataKey, encryptionContext: { 'aws:s3:arn': objectArn(target) } }, caller));
    return { mode: 'aws:kms', kmsKeyArn: arn, bucketKeyEnabled: false, wrappedKeys: [r.ciphertextBlob.toString('base64')] };
  }

  /** Whether `customerKey` is the one an SSE-C object or upload was made with (each UploadPart must send it). */
  matchesCustomerKey(encryption: ObjectEncryption, customerKey: Buffer): boolean {
    const check = encryption.customerKeyCheck;
    if (!check) return false;
    const expected = Buffer.from(check.mac, 'base64');
    const actual = customerKeyMac(Buffer.from(check.salt, 'base64'), customerKey);
    return bytesEqual(expected, actual);
  }

  /** `recheck`: whether the bucket key's KMS key may have been disabled (a customer's key: yes; Coffer's own S3 service key of SSE-S3: no). */
  async #openUnderBucketKey(bucketKeyId: string, wrapped: string, caller: KmsCaller, recheck: boolean): Promise<Buffer> {
    const bucketKey = await this.#bucketKeyById(bucketKeyId, caller, recheck);
    const dataKey = unwrapLocal(bucketKey, wrapped);
    if (!dataKey) throw new Error('a data key does not unwrap under its bucket key');
    return dataKey;
  }

  /** Requested KMS key id (or the default key) → its ARN, checked usable at `checkedAt`. */
  readonly #resolved = new Map<string, { arn: string; checkedAt: number }>();

  /**
   * The KMS key ARN of a bucket-key PUT. While this process holds a fresh bucket key for it
   * and resolved the key id less than a second ago, no KMS call is made — S3 too makes none
   * for PUTs a bucket key covers. So a key disabled or an alias re-pointed meets such PUTs
   * within a second, like the KMS's own one-second key cache on other processes.
   */
  async #resolveForBucketKey(bucket: string, kmsKeyId: string | undefined, caller: KmsCaller): Promise<string> {
    const id = kmsKeyId ?? '';
    const hit = this.#resolved.get(id);
    const now = this.#now();
    if (hit && now - hit.checkedAt < RESOLVED_TTL_MS) {
      const current = this.#current.get(`${bucket}\n${hit.arn}`);
      if (current && now - current.createdAt < this.#o.bucketKeyPeriodMs) return hit.arn;
    }
    const arn = await this.resolveKmsKeyArn(kmsKeyId, caller);
    if (this.#resolved.size >= 1024) this.#resolved.clear();
    this.#resolved.set(id, { arn, checkedAt: now });
    return arn;
  }

  /** Bucket keys being fetched or made, by slot: a burst of PUTs shares one KMS call (single flight). */
  readonly #making = new Map<string, Promise<CachedBucketKey>>();

  async #bucketKey(bucket: string, kmsKeyArn: string, caller: KmsCaller): Promise<CachedBucketKey> {
    const slot = `${bucket}\n${kmsKeyArn}`;
    const cached = this.#current.get(slot);
    if (cached && this.#now() - cached.createdAt < this.#o.bucketKeyPeriodMs) {
      this.bucketKeyCacheHits++;
      return cached;
    }
    this.bucketKeyCacheMisses++;
    const inFlight = this.#making.get(slot);
    if (inFlight) return inFlight;
    const making = this.#makeBucketKey(slot, bucket, kmsKeyArn, caller).finally(() => this.#making.delete(slot));
    this.#making.set(slot, making);
    return making;
  }

  /**
   * The bucket key of the current period, made by exactly one process: every process derives
   * the same id from (bucket, KMS key, period start); the first to claim it asks the KMS for it,
   * the others wait for the claim to be filled and Decrypt it. So all workers (and nodes) share
   * one GenerateDataKey per bucket, KMS key and period.
   */
  async #makeBucketKey(slot: string, bucket: string, kmsKeyArn: string, caller: KmsCaller): Promise<CachedBucketKey> {
    const now = this.#now();
    const periodStart = now - (now % this.#o.bucketKeyPeriodMs);
    const id = `bk-${createHash('sha256').update(`${bucket}\n${kmsKeyArn}\n${periodStart}`).digest('hex').slice(0, 32)}`;
    const entry = async (key: Buffer): Promise<CachedBucketKey> => {
      const e = { id, key, createdAt: periodStart };
      this.#current.set(slot, e);
      return e;
    };
    const waitUntil = Date.now() + CLAIM_WAIT_MS;
    for (;;) {
      const record = await this.#o.metadata.getBucketKey(id);
      // The PUT resolved its KMS key (usable) within the last second: no second check.
      if (record && record.wrapped !== '') return entry(await this.#bucketKeyById(id, caller, false));
      if (!record) {
        if (await this.#o.metadata.claimBucketKey({ id, bucket, kmsKeyArn, createdAt: periodStart })) {
          let r: { plaintext: Buffer; ciphertextBlob: Buffer };
          try {
            this.bucketKeyKmsCalls++;
            r = await kmsCall(() =>
              this.#o.kms.generateDataKey({ keyId: kmsKeyArn, keySpec: 'AES_256', encryptionContext: { 'aws:s3:arn': `arn:aws:s3:::${bucket}` } }, caller),
            );
          } catch (err) {
            await this.#o.metadata.releaseBucketKey(id).catch(() => {});
            throw err;
          }
          if (await this.#o.metadata.fillBucketKey(id, r.ciphertextBlob.toString('base64'))) {
            this.#remember(id, r.plaintext, kmsKeyArn);
            return entry(r.plaintext);
          }
          // So slow that another process took the claim over and filled it: use that one.
          continue;
        }
        continue; // another process claimed it first: read it again
      }
      // Claimed by another process, not filled yet. A claimer that died is taken over after a while.
      if (Date.now() > waitUntil) {
        await this.#o.metadata.releaseBucketKey(id);
        continue;
      }
      await sleep(CLAIM_POLL_MS);
    }
  }

  /**
   * A bucket key's plaintext, for reads (and for PUTs of a period another process opened).
   * A cached one is trusted for RESOLVED_TTL_MS after its KMS key was last seen usable, then
   * the key's state is looked up again (no decrypt): a KMS key disabled or scheduled for
   * deletion — on any node — stops reads under its bucket keys within that second, as it
   * stops bucket-key PUTs.
   */
  async #bucketKeyById(id: string, caller: KmsCaller, recheck: boolean): Promise<Buffer> {
    const hit = this.#byId.get(id);
    if (hit) {
      this.bucketKeyCacheHits++;
      const now = this.#now();
      // Not for SSE-S3's service key: nobody can disable it, and the check is an audited KMS
      // call, which a read that needs no write must not depend on (a read-only volume).
      if (recheck && now - hit.checkedAt >= RESOLVED_TTL_MS) {
        await this.resolveKmsKeyArn(hit.kmsKeyArn, caller);
        hit.checkedAt = now;
      }
      return hit.key;
    }
    this.bucketKeyCacheMisses++;
    const record = await this.#o.metadata.getBucketKey(id);
    if (!record) throw new Error(`bucket key ${id} is missing from the metadata store`);
    this.bucketKeyKmsCalls++;
    const r = await kmsCall(() =>
      this.#o.kms.decrypt({ ciphertextBlob: Buffer.from(record.wrapped, 'base64'), encryptionContext: { 'aws:s3:arn': `arn:aws:s3:::${record.bucket}` } }, caller),
    );
    this.#remember(id, r.plaintext, record.kmsKeyArn);
    return r.plaintext;
  }

  #remember(id: string, key: Buffer, kmsKeyArn: string): void {
    if (this.#byId.size >= 1024) this.#byId.clear();
    this.#byId.set(id, { key, kmsKeyArn, checkedAt: this.#now() });
  }
}

/** A ServiceKeyring on a KMS key (Coffer's S3 service key, for SSE-S3). */
export class KmsServiceKeyring implements ServiceKeyring {
  #arn: string | undefined;

  constructor(
    private readonly kms: Kms,
    private readonly keyId: (caller: KmsCaller) => Promise<string>,
  ) {}

  async keyArn(caller: KmsCaller): Promise<string> {
    // The service key's ARN never changes (rotation adds versions under the same key): resolve it once.
    this.#arn ??= await this.keyId(caller);
    return this.#arn;
  }

  async unwrap(wrapped: string, context: EncryptionContext, caller: KmsCaller): Promise<Buffer> {
    const r = await this.kms.decrypt({ ciphertextBlob: Buffer.from(wrapped, 'base64'), encryptionContext: context }, caller);
    return r.plaintext;
  }
}
