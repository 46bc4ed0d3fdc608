/**
 * Coffer's built-in KMS: symmetric keys (SYMMETRIC_DEFAULT, AES-256-GCM)
 * whose material lives in the metadata store wrapped under the root key, so
 * every node sharing the store shares the keys. Implements the Kms contract
 * SSE uses and the rest of the AWS KMS operation set the JSON API serves
 * (kms-api.ts): keys, aliases, rotation, deletion, tags.
 *
 * Semantics follow the AWS KMS API reference: key references by id, ARN,
 * alias and alias ARN; key states enforced on every operation (Disabled →
 * DisabledException, PendingDeletion → KMSInvalidStateException, gone →
 * NotFoundException); rotation adds a version and old versions keep
 * decrypting; when a deletion window ends the material is destroyed and its
 * ciphertexts are undecryptable forever. Every call is audited (kms-audit.ts).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { KmsAliasRecord, KmsKeyRecord, KmsKeyVersionRecord, KmsRotationType, MetadataStore } from '../metadata/metadata-store.js';
import { recordOrFail, type AuditDetails, type KmsAudit } from './kms-audit.js';
import {
  MATERIAL_SIZE,
  isKeyId,
  keyMaterialId,
  openCiphertext,
  parseCiphertextHeader,
  sealCiphertext,
  unwrapMaterial,
  wrapMaterial,
} from './kms-crypto.js';
import { KmsError, isKmsError } from './kms-errors.js';
import type {
  DecryptRequest,
  DecryptResult,
  EncryptionContext,
  EncryptRequest,
  EncryptResult,
  GenerateDataKeyRequest,
  GenerateDataKeyResult,
  KeyMetadata,
  Kms,
  KmsCaller,
} from './kms.js';
import { RootKeyring, type RootKey } from './root-key.js';

/** The alias of Coffer's managed key for SSE-KMS without a key id. */
export const MANAGED_S3_ALIAS = 'alias/aws/s3';
/** Coffer's S3 service key: wraps SSE-S3 data keys (AWS keeps its equivalent out of sight; Coffer lists it). */
export const S3_SERVICE_ALIAS = 'alias/aws/coffer-s3-service';
/** Name of the kms_settings row naming the root key new material is wrapped under. */
export const ACTIVE_ROOT_KEY_SETTING = 'active_root_key';
/** Coffer's own principal for events no caller made (automatic rotation, deletion at the end of the window). */
export const KMS_SERVICE_PRINCIPAL = 'coffer:kms';

const MAX_PLAINTEXT = 4096;
const MAX_CIPHERTEXT = 6144;
const MAX_DESCRIPTION = 8192;
const MAX_TAGS = 50;
/** AWS allows ten on-demand rotations per key. */
const MAX_ON_DEMAND_ROTATIONS = 10;
const DEFAULT_ROTATION_PERIOD_DAYS = 365;
const MAX_ROTATION_PERIOD_DAYS = 2560;
const MAX_PENDING_WINDOW_DAYS = 30;
const ALIAS_PATTERN = /^[a-zA-Z0-9/_-]+$/;
/** Coffer-managed keys, created on first use: alias → description. */
const MANAGED_KEYS: Record<string, string> = {
  [MANAGED_S3_ALIAS]: 'Default key that protects my S3 objects when no other key is defined',
  [S3_SERVICE_ALIAS]: 'Coffer S3 service key: protects the data keys of SSE-S3 (AES256) objects',
};

export interface Tag {
  tagKey: string;
  tagValue: string;
}

export interface CreateKeyRequest {
  description?: string;
  keyUsage?: string;
  keySpec?: string;
  origin?: string;
  multiRegion?: boolean;
  tags?: Tag[];
}

export interface Page<T> {
  items: T[];
  nextMarker?: string;
  truncated: boolean;
}

export interface PageRequest {
  limit?: number;
  marker?: string;
}

export interface KeyListEntry {
  keyId: string;
  keyArn: string;
}

export interface AliasListEntry {
  aliasName: string;
  aliasArn: string;
  targetKeyId: string;
  creationDate: Date;
  lastUpdatedDate: Date;
}

export interface ScheduleKeyDeletionResult {
  keyId: string;
  deletionDate: Date;
  keyState: 'PendingDeletion';
  pendingWindowInDays: number;
}

export interface KeyRotationStatus {
  keyRotationEnabled: boolean;
  keyId: string;
  rotationPeriodInDays?: number;
  nextRotationDate?: Date;
}

export interface RotationListEntry {
  keyId: string;
  keyMaterialId: string;
  rotationDate: Date;
  rotationType: 'AUTOMATIC' | 'ON_DEMAND';
}

export interface ReEncryptRequest {
  ciphertextBlob: Buffer;
  sourceEncryptionContext?: EncryptionContext;
  sourceKeyId?: string;
  destinationKeyId: string;
  destinationEncryptionContext?: EncryptionContext;
}

export interface ReEncryptResult {
  ciphertextBlob: Buffer;
  sourceKeyId: string;
  keyId: string;
}

export interface BuiltinKmsOptions {
  store: MetadataStore;
  /** For ARNs: `arn:aws:kms:<region>:<accountId>:key/<id>`. */
  region: string;
  accountId: string;
  /** Loads the root keys (again, when another process has moved to a new one). */
  loadRootKeys: () => Promise<RootKey[]>;
  audit?: KmsAudit;
  log?: Logger;
  /** Shortest PendingWindowInDays accepted (AWS: 7). */
  minPendingWindowDays?: number;
  /** Shortest RotationPeriodInDays accepted (AWS: 90). */
  minRotationPeriodDays?: number;
  /** Milliseconds in a KMS day (tests shorten it). */
  dayMs?: number;
  now?: () => number;
}

type KeyRef = { keyId: string } | { alias: string };

function validation(message: string): KmsError {
  return new KmsError('ValidationException', message);
}

function checkLimit(limit: number | undefined, max: number, fallback: number): number {
  if (limit === undefined) return fallback;
  if (!Number.isInteger(limit) || limit < 1 || limit > max) {
    throw validation(`1 validation error detected: Value '${limit}' at 'limit' failed to satisfy constraint: Member must have value between 1 and ${max}`);
  }
  return limit;
}

function encodeMarker(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64url');
}

function decodeMarker(marker: string | undefined, valid: (s: string) => boolean): string | undefined {
  if (marker === undefined) return undefined;
  const s = /^[A-Za-z0-9_-]+$/.test(marker) ? Buffer.from(marker, 'base64url').toString('utf8') : '';
  if (!valid(s)) throw new KmsError('InvalidMarkerException', 'Invalid marker.');
  return s;
}

function checkTags(tags: Tag[]): void {
  const seen = new Set<string>();
  for (const t of tags) {
    if (typeof t.tagKey !== 'string' || t.tagKey.length < 1 || t.tagKey.length > 128) throw new KmsError('TagException', 'A tag key must be 1 to 128 characters.');
    if (typeof t.tagValue !== 'string' || t.tagValue.length > 256) throw new KmsError('TagException', 'A tag value must be 0 to 256 characters.');
    if (t.tagKey.startsWith('aws:')) throw new KmsError('TagException', "Tag keys beginning with 'aws:' are reserved.");
    if (seen.has(t.tagKey)) throw new KmsError('TagException', `Duplicate tag key '${t.tagKey}'.`);
    seen.add(t.tagKey);
  }
}

export class BuiltinKms implements Kms {
  readonly #store: MetadataStore;
  readonly #region: string;
  readonly #accountId: string;
  readonly #loadRootKeys: () => Promise<RootKey[]>;
  readonly #audit: KmsAudit | undefined;
  readonly #log: Logger | undefined;
  readonly #minPendingWindowDays: number;
  readonly #minRotationPeriodDays: number;
  readonly #dayMs: number;
  readonly #now: () => number;
  #keyring: RootKeyring;
  #sweeping = false;

  private constructor(options: BuiltinKmsOptions, keyring: RootKeyring) {
    this.#store = options.store;
    this.#region = options.region;
    this.#accountId = options.accountId;
    this.#loadRootKeys = options.loadRootKeys;
    this.#audit = options.audit;
    this.#log = options.log;
    this.#minPendingWindowDays = options.minPendingWindowDays ?? 7;
    this.#minRotationPeriodDays = options.minRotationPeriodDays ?? 90;
    this.#dayMs = options.dayMs ?? 86_400_000;
    this.#now = options.now ?? Date.now;
    this.#keyring = keyring;
  }

  /**
   * Opens the KMS over a migrated store. Refuses to start when key material is
   * wrapped under a root key that is not loaded: better than failing every
   * decrypt later (the operator restored data without its root key, or
   * finished a root key rotation without switching COFFER_ROOT_KEY).
   */
  static async open(options: BuiltinKmsOptions): Promise<BuiltinKms> {
    const keys = await options.loadRootKeys();
    if (keys.length === 0) throw new Error('the built-in KMS needs a root key');
    const keyring = new RootKeyring(keys);
    const missing = (await options.store.kmsRootKeyIds()).filter((id) => !keyring.get(id));
    if (missing.length > 0) {
      throw new Error(
        `KMS key material is wrapped under root key ${missing.join(', ')}, which is not loaded (loaded: ${keyring.ids().join(', ')}). ` +
          'Start Coffer with the root key that was in use (COFFER_ROOT_KEY or --root-key-file); without it nothing encrypted can be decrypted.',
      );
    }
    // New material goes under the root key the store names; when that key is not loaded and wraps
    // nothing (say root.key was generated, then COFFER_ROOT_KEY set before any key existed), under ours.
    const active = await options.store.getKmsSetting(ACTIVE_ROOT_KEY_SETTING);
    if (active === undefined || !keyring.get(active)) await options.store.putKmsSetting(ACTIVE_ROOT_KEY_SETTING, keys[0]!.id);
    return new BuiltinKms(options, keyring);
  }

  get accountId(): string {
    return this.#accountId;
  }

  get region(): string {
    return this.#region;
  }

  keyArn(keyId: string): string {
    return `arn:aws:kms:${this.#region}:${this.#accountId}:key/${keyId}`;
  }

  aliasArn(aliasName: string): string {
    return `arn:aws:kms:${this.#region}:${this.#accountId}:${aliasName}`;
  }

  // ---- plumbing: audit, references, states, material

  /**
   * Runs an operation and records how it ended. If the record cannot be written the
   * operation fails (KMSInternalException), whatever it returned: nothing the KMS
   * does goes unaudited. An operation that changed state has then changed it
   * (the record comes after), and says it failed — as AWS KMS may report an
   * internal error for a request it carried out.
   */
  async #audited<T>(operation: string, caller: KmsCaller, details: AuditDetails, fn: () => Promise<T>): Promise<T> {
    const who = { requestId: caller.requestId, principal: caller.principal, ...(caller.invokedBy !== undefined ? { invokedBy: caller.invokedBy } : {}) };
    let result: T;
    try {
      result = await fn();
    } catch (err) {
      const kmsErr = isKmsError(err) ? err : new KmsError('KMSInternalException', 'An internal error occurred.', { cause: err });
      if (!isKmsError(err)) this.#log?.error({ err, operation, requestId: caller.requestId }, 'KMS operation failed');
      await recordOrFail(this.#audit, {
        ...who,
        operation,
        ...details,
        outcome: 'failure',
        errorType: kmsErr.type,
      });
      throw kmsErr;
    }
    await recordOrFail(this.#audit, { ...who, operation, ...details, outcome: 'success' });
    return result;
  }

  #parseRef(ref: string | undefined, options: { allowAlias: boolean }): KeyRef {
    if (ref === undefined || ref === '') throw validation("1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null");
    if (ref.length > 2048) throw validation("Value at 'keyId' failed to satisfy constraint: Member must have length less than or equal to 2048");
    if (isKeyId(ref)) return { keyId: ref };
    const arn = /^arn:aws:kms:([a-z0-9-]+):(\d{12}):(key\/.+|alias\/.+)$/.exec(ref);
    if (arn) {
      // A key in another region or account is not one of ours.
      if (arn[1] !== this.#region || arn[2] !== this.#accountId) throw new KmsError('NotFoundException', `Key '${ref}' does not exist`);
      const resource = arn[3]!;
      if (resource.startsWith('key/')) {
        const id = resource.slice(4);
        if (!isKeyId(id)) throw new KmsError('NotFoundException', `Invalid keyId '${ref}'`);
        return { keyId: id };
      }
      if (!options.allowAlias) throw new KmsError('NotFoundException', `Invalid keyId '${ref}': use a key id or key ARN`);
      return { alias: resource };
    }
    if (ref.startsWith('alias/')) {
      if (!options.allowAlias) throw new KmsError('NotFoundException', `Invalid keyId '${ref}': use a key id or key ARN`);
      return { alias: ref };
    }
    throw new KmsError('NotFoundException', `Invalid keyId '${ref}'`);
  }

  /** Resolves a reference to a key record, applying an ended deletion window or a due rotation first. */
  async #loadKey(ref: string | undefined, options: { allowAlias: boolean }, details?: AuditDetails): Promise<KmsKeyRecord> {
    const parsed = this.#parseRef(ref, options);
    let keyId: string;
    if ('alias' in parsed) {
      if (details) details.aliasName = parsed.alias;
      const alias = await this.#store.getKmsAlias(parsed.alias);
      if (alias) keyId = alias.keyId;
      else if (parsed.alias in MANAGED_KEYS) keyId = (await this.#managedKeyRecord(parsed.alias)).keyId;
      else throw new KmsError('NotFoundException', `Alias '${this.aliasArn(parsed.alias)}' is not found.`);
    } else {
      keyId = parsed.keyId;
    }
    if (details) details.keyId = keyId;
    const key = await this.#fresh(keyId);
    if (!key) throw new KmsError('NotFoundException', `Key '${this.keyArn(keyId)}' does not exist`);
    return key;
  }

  /** A key as it is now: destroyed if its window ended, rotated if automatic rotation is due. */
  async #fresh(keyId: string): Promise<KmsKeyRecord | undefined> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const key = await this.#store.getKmsKey(keyId);
      if (!key) return undefined;
      const now = this.#now();
      if (key.keyState === 'PendingDeletion' && key.deletionDate !== undefined && key.deletionDate <= now) {
        await this.#destroy(keyId);
        return undefined;
      }
      if (key.keyState === 'Enabled' && key.rotationEnabled && key.nextRotationDate !== undefined && key.nextRotationDate <= now) {
        await this.#rotate(key, 'AUTOMATIC', { principal: KMS_SERVICE_PRINCIPAL, requestId: 'automatic-rotation' });
        continue;
      }
      return key;
    }
    return this.#store.getKmsKey(keyId);
  }

  async #destroy(keyId: string): Promise<void> {
    if (await this.#store.destroyKmsKey(keyId)) {
      await recordOrFail(this.#audit, { requestId: 'key-deletion', principal: KMS_SERVICE_PRINCIPAL, operation: 'DeleteKey', keyId, outcome: 'success' });
      this.#log?.info({ keyId }, 'KMS key deleted at the end of its waiting period: its key material is destroyed');
    }
  }

  #requireUsable(key: KmsKeyRecord): void {
    if (key.keyState === 'Disabled') throw new KmsError('DisabledException', `${this.keyArn(key.keyId)} is disabled.`);
    if (key.keyState === 'PendingDeletion') throw new KmsError('KMSInvalidStateException', `${this.keyArn(key.keyId)} is pending deletion.`);
  }

  #requireNotPendingDeletion(key: KmsKeyRecord): void {
    if (key.keyState === 'PendingDeletion') throw new KmsError('KMSInvalidStateException', `${this.keyArn(key.keyId)} is pending deletion.`);
  }

  #requireCustomerManaged(key: KmsKeyRecord, what: string): void {
    if (key.keyManager === 'AWS') {
      throw new KmsError('UnsupportedOperationException', `${this.keyArn(key.keyId)} is a Coffer-managed key: ${what} is not supported on it.`);
    }
  }

  /** The root key new material is wrapped under: the one the store names, reloading keys if another process moved on. */
  async #wrappingKey(): Promise<RootKey> {
    const active = await this.#store.getKmsSetting(ACTIVE_ROOT_KEY_SETTING);
    if (active !== undefined && !this.#keyring.get(active)) this.#keyring = new RootKeyring(await this.#loadRootKeys());
    const key = active !== undefined ? this.#keyring.get(active) : this.#keyring.get(this.#keyring.ids()[0]!);
    if (!key) throw new Error(`root key ${active} (named by the metadata store) is not loaded`);
    return key;
  }

  async #unwrapKey(rootKeyId: string): Promise<RootKey> {
    let key = this.#keyring.get(rootKeyId);
    if (!key) {
      this.#keyring = new RootKeyring(await this.#loadRootKeys());
      key = this.#keyring.get(rootKeyId);
    }
    if (!key) throw new Error(`root key ${rootKeyId} is not loaded`);
    return key;
  }

  async #newVersion(keyId: string, version: number, rotationType: KmsRotationType): Promise<KmsKeyVersionRecord> {
    const root = await this.#wrappingKey();
    const material = randomBytes(MATERIAL_SIZE);
    try {
      return { keyId, version, createdAt: this.#now(), rotationType, rootKeyId: root.id, wrappedMaterial: wrapMaterial(root.key, keyId, version, material) };
    } finally {
      material.fill(0);
    }
  }

  /** Runs `fn` with one version's material, wiping it afterwards. undefined when that version does not exist. */
  async #withMaterial<T>(keyId: string, version: number, fn: (material: Buffer) => T): Promise<T | undefined> {
    const row = await this.#store.getKmsKeyVersion(keyId, version);
    if (!row) return undefined;
    const root = await this.#unwrapKey(row.rootKeyId);
    const material = unwrapMaterial(root.key, keyId, version, row.wrappedMaterial);
    try {
      return fn(material);
    } finally {
      material.fill(0);
    }
  }

  /** Applies `change` to the freshest record, retrying when another writer got there first. */
  async #update(key: KmsKeyRecord, change: (k: KmsKeyRecord) => KmsKeyRecord | undefined): Promise<KmsKeyRecord> {
    let current: KmsKeyRecord | undefined = key;
    for (let attempt = 0; attempt < 10 && current; attempt++) {
      const next = change(current);
      if (!next) return current;
      if (await this.#store.updateKmsKey(next)) return { ...next, revision: next.revision + 1 };
      current = await this.#store.getKmsKey(key.keyId);
    }
    if (!current) throw new KmsError('NotFoundException', `Key '${this.keyArn(key.keyId)}' does not exist`);
    throw new KmsError('KMSInternalException', 'The key was changed concurrently too often; retry.');
  }

  async #rotate(key: KmsKeyRecord, type: 'AUTOMATIC' | 'ON_DEMAND', caller: KmsCaller): Promise<KmsKeyRecord> {
    const details: AuditDetails = { keyId: key.keyId };
    const run = async (): Promise<KmsKeyRecord> => {
      let current: KmsKeyRecord | undefined = key;
      for (let attempt = 0; attempt < 10 && current; attempt++) {
        const now = this.#now();
        const version = await this.#newVersion(current.keyId, current.currentVersion + 1, type);
        const next: KmsKeyRecord = {
          ...current,
          currentVersion: version.version,
          ...(type === 'ON_DEMAND'
            ? { onDemandRotations: current.onDemandRotations + 1 }
            : { nextRotationDate: now + (current.rotationPeriodDays ?? DEFAULT_ROTATION_PERIOD_DAYS) * this.#dayMs }),
        };
        if (await this.#store.updateKmsKey(next, version)) {
          details.keyVersion = version.version;
          return { ...next, revision: next.revision + 1 };
        }
        current = await this.#store.getKmsKey(key.keyId);
        // Another node rotated it (or disabled it) meanwhile: an automatic rotation is then moot.
        if (current && type === 'AUTOMATIC' && (current.keyState !== 'Enabled' || !current.rotationEnabled || (current.nextRotationDate ?? Infinity) > now)) {
          return current;
        }
      }
      throw new KmsError('KMSInternalException', 'The key was changed concurrently too often; retry.');
    };
    // Automatic rotation is CloudTrail's RotateKey event; on-demand is audited as RotateKeyOnDemand by its caller.
    return type === 'AUTOMATIC' ? this.#audited('RotateKey', caller, details, run) : run();
  }

  #metadata(key: KmsKeyRecord): KeyMetadata {
    return {
      keyId: key.keyId,
      arn: this.keyArn(key.keyId),
      awsAccountId: this.#accountId,
      creationDate: new Date(key.createdAt),
      enabled: key.keyState === 'Enabled',
      description: key.description,
      keyUsage: 'ENCRYPT_DECRYPT',
      keySpec: 'SYMMETRIC_DEFAULT',
      keyState: key.keyState,
      ...(key.keyState === 'PendingDeletion' && key.deletionDate !== undefined
        ? { deletionDate: new Date(key.deletionDate), pendingDeletionWindowInDays: key.pendingWindowInDays! }
        : {}),
      origin: 'AWS_KMS',
      keyManager: key.keyManager,
      encryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
    };
  }

  async #managedKeyRecord(aliasName: string): Promise<KmsKeyRecord> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const alias = await this.#store.getKmsAlias(aliasName);
      if (alias) {
        const key = await this.#store.getKmsKey(alias.keyId);
        if (key) return key;
      }
      const now = this.#now();
      const keyId = randomUUID();
      const key: KmsKeyRecord = {
        keyId,
        revision: 0,
        createdAt: now,
        description: MANAGED_KEYS[aliasName]!,
        keyManager: 'AWS',
        keyState: 'Enabled',
        // AWS rotates its managed keys every year, and so does Coffer.
        rotationEnabled: true,
        rotationPeriodDays: DEFAULT_ROTATION_PERIOD_DAYS,
        nextRotationDate: now + DEFAULT_ROTATION_PERIOD_DAYS * this.#dayMs,
        currentVersion: 1,
        onDemandRotations: 0,
        tags: [],
      };
      const created = await this.#store.createKmsKey(key, await this.#newVersion(keyId, 1, 'INITIAL'), {
        aliasName,
        keyId,
        createdAt: now,
        updatedAt: now,
      });
      if (created) {
        await recordOrFail(this.#audit, {
          requestId: 'managed-key',
          principal: KMS_SERVICE_PRINCIPAL,
          operation: 'CreateKey',
          keyId,
          keyVersion: 1,
          aliasName,
          outcome: 'success',
        });
        return key;
      }
      // Another node created it first; read theirs.
    }
    throw new KmsError('KMSInternalException', 'Could not create the managed key.');
  }

  /**
   * The ARN of the key a request acts on, for authorization: the key a key id, key ARN, alias
   * name or alias ARN names (AWS evaluates policies on the key, never the alias), or the key a
   * ciphertext blob was made under (Decrypt needs no KeyId). Undefined when there is none to
   * find; no audit, no side effects (the operation itself then reports what is wrong).
   */
  async authorizationArn(request: { keyId?: string; ciphertextBlob?: Buffer }): Promise<string | undefined> {
    if (request.keyId !== undefined) {
      let parsed: KeyRef;
      try {
        parsed = this.#parseRef(request.keyId, { allowAlias: true });
      } catch {
        return undefined;
      }
      if (!('alias' in parsed)) return this.keyArn(parsed.keyId);
      const alias = await this.#store.getKmsAlias(parsed.alias);
      return alias ? this.keyArn(alias.keyId) : undefined;
    }
    const header = request.ciphertextBlob ? parseCiphertextHeader(request.ciphertextBlob) : undefined;
    return header ? this.keyArn(header.keyId) : undefined;
  }

  // ---- the Kms contract (what SSE uses)

  async describeKey(keyId: string, caller: KmsCaller): Promise<KeyMetadata> {
    const details: AuditDetails = {};
    return this.#audited('DescribeKey', caller, details, async () => this.#metadata(await this.#loadKey(keyId, { allowAlias: true }, details)));
  }

  async managedS3Key(caller: KmsCaller): Promise<KeyMetadata> {
    return this.describeKey(MANAGED_S3_ALIAS, caller);
  }

  async s3ServiceKey(caller: KmsCaller): Promise<KeyMetadata> {
    return this.describeKey(S3_SERVICE_ALIAS, caller);
  }

  async #encryptWith(key: KmsKeyRecord, plaintext: Buffer, context: EncryptionContext | undefined, details: AuditDetails): Promise<Buffer> {
    this.#requireUsable(key);
    details.keyVersion = key.currentVersion;
    const blob = await this.#withMaterial(key.keyId, key.currentVersion, (material) =>
      sealCiphertext({ keyId: key.keyId, version: key.currentVersion, material, plaintext, context }),
    );
    if (!blob) throw new Error(`key ${key.keyId} has no version ${key.currentVersion}`);
    return blob;
  }

  async encrypt(request: EncryptRequest, caller: KmsCaller): Promise<EncryptResult> {
    const details: AuditDetails = { ...(request.encryptionContext ? { encryptionContext: request.encryptionContext } : {}) };
    return this.#audited('Encrypt', caller, details, async () => {
      const key = await this.#loadKey(request.keyId, { allowAlias: true }, details);
      const plaintext = request.plaintext;
      if (!Buffer.isBuffer(plaintext) || plaintext.length < 1 || plaintext.length > MAX_PLAINTEXT) {
        throw validation(`1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length between 1 and ${MAX_PLAINTEXT}`);
      }
      const ciphertextBlob = await this.#encryptWith(key, plaintext, request.encryptionContext, details);
      return { keyId: this.keyArn(key.keyId), ciphertextBlob, encryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
    });
  }

  #dataKeySize(request: GenerateDataKeyRequest): number {
    if (request.keySpec !== undefined && request.numberOfBytes !== undefined) throw validation('Please specify either number of bytes or key spec, not both.');
    if (request.keySpec !== undefined) {
      if (request.keySpec === 'AES_256') return 32;
      if (request.keySpec === 'AES_128') return 16;
      throw validation(`1 validation error detected: Value '${String(request.keySpec)}' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]`);
    }
    if (request.numberOfBytes === undefined) throw validation('Please specify either number of bytes or key spec.');
    const n = request.numberOfBytes;
    if (!Number.isInteger(n) || n < 1 || n > 1024) {
      throw validation(`1 validation error detected: Value '${n}' at 'numberOfBytes' failed to satisfy constraint: Member must have value between 1 and 1024`);
    }
    return n;
  }

  async #generateDataKey(operation: string, request: GenerateDataKeyRequest, caller: KmsCaller): Promise<GenerateDataKeyResult> {
    const details: AuditDetails = { ...(request.encryptionContext ? { encryptionContext: request.encryptionContext } : {}) };
    return this.#audited(operation, caller, details, async () => {
      const key = await this.#loadKey(request.keyId, { allowAlias: true }, details);
      const size = this.#dataKeySize(request);
      const plaintext = randomBytes(size);
      const ciphertextBlob = await this.#encryptWith(key, plaintext, request.encryptionContext, details);
      return { keyId: this.keyArn(key.keyId), plaintext, ciphertextBlob };
    });
  }

  async generateDataKey(request: GenerateDataKeyRequest, caller: KmsCaller): Promise<GenerateDataKeyResult> {
    return this.#generateDataKey('GenerateDataKey', request, caller);
  }

  async generateDataKeyWithoutPlaintext(request: GenerateDataKeyRequest, caller: KmsCaller): Promise<Omit<GenerateDataKeyResult, 'plaintext'>> {
    const result = await this.#generateDataKey('GenerateDataKeyWithoutPlaintext', request, caller);
    result.plaintext.fill(0);
    return { keyId: result.keyId, ciphertextBlob: result.ciphertextBlob };
  }

  /** Decrypts a Coffer ciphertext blob; the key it names must exist, be usable, and (if given) be `expectedKeyRef`. */
  async #decryptBlob(
    blob: Buffer,
    context: EncryptionContext | undefined,
    expectedKeyRef: string | undefined,
    details: { keyId?: string; keyVersion?: number },
  ): Promise<{ key: KmsKeyRecord; plaintext: Buffer }> {
    if (!Buffer.isBuffer(blob) || blob.length < 1 || blob.length > MAX_CIPHERTEXT) {
      throw validation(`1 validation error detected: Value at 'ciphertextBlob' failed to satisfy constraint: Member must have length between 1 and ${MAX_CIPHERTEXT}`);
    }
    const header = parseCiphertextHeader(blob);
    if (!header) throw new KmsError('InvalidCiphertextException', 'The ciphertext is not a KMS ciphertext blob.');
    details.keyId = header.keyId;
    details.keyVersion = header.version;
    if (expectedKeyRef !== undefined) {
      const expected = await this.#loadKey(expectedKeyRef, { allowAlias: true });
      if (expected.keyId !== header.keyId) {
        throw new KmsError('IncorrectKeyException', 'The key ID in the request does not identify a CMK that can perform this operation.');
      }
    }
    const key = await this.#fresh(header.keyId);
    // A deleted key's material is gone: its ciphertexts can never be decrypted again.
    if (!key) throw new KmsError('NotFoundException', `Key '${this.keyArn(header.keyId)}' does not exist`);
    this.#requireUsable(key);
    const plaintext = await this.#withMaterial(key.keyId, header.version, (material) => openCiphertext(blob, material, context));
    if (!plaintext) throw new KmsError('InvalidCiphertextException', 'The ciphertext or its encryption context is not valid for this key.');
    return { key, plaintext };
  }

  async decrypt(request: DecryptRequest, caller: KmsCaller): Promise<DecryptResult> {
    const details: AuditDetails = { ...(request.encryptionContext ? { encryptionContext: request.encryptionContext } : {}) };
    return this.#audited('Decrypt', caller, details, async () => {
      const { key, plaintext } = await this.#decryptBlob(request.ciphertextBlob, request.encryptionContext, request.keyId, details);
      return { keyId: this.keyArn(key.keyId), plaintext, encryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
    });
  }

  async reEncrypt(request: ReEncryptRequest, caller: KmsCaller): Promise<ReEncryptResult> {
    const details: AuditDetails = {
      ...(request.destinationEncryptionContext ? { encryptionContext: request.destinationEncryptionContext } : {}),
    };
    return this.#audited('ReEncrypt', caller, details, async () => {
      const destination = await this.#loadKey(request.destinationKeyId, { allowAlias: true });
      const source: { keyId?: string; keyVersion?: number } = {};
      const { key, plaintext } = await this.#decryptBlob(request.ciphertextBlob, request.sourceEncryptionContext, request.sourceKeyId, source);
      if (source.keyId !== undefined) details.sourceKeyId = source.keyId;
      if (source.keyVersion !== undefined) details.sourceKeyVersion = source.keyVersion;
      details.keyId = destination.keyId;
      try {
        const ciphertextBlob = await this.#encryptWith(destination, plaintext, request.destinationEncryptionContext, details);
        return { ciphertextBlob, sourceKeyId: this.keyArn(key.keyId), keyId: this.keyArn(destination.keyId) };
      } finally {
        plaintext.fill(0);
      }
    });
  }

  async generateRandom(numberOfBytes: number | undefined, caller: KmsCaller): Promise<Buffer> {
    return this.#audited('GenerateRandom', caller, {}, async () => {
      if (numberOfBytes === undefined || !Number.isInteger(numberOfBytes) || numberOfBytes < 1 || numberOfBytes > 1024) {
        throw validation(`1 validation error detected: Value '${String(numberOfBytes)}' at 'numberOfBytes' failed to satisfy constraint: Member must have value between 1 and 1024`);
      }
      return randomBytes(numberOfBytes);
    });
  }

  // ---- key management

  async createKey(request: CreateKeyRequest, caller: KmsCaller): Promise<KeyMetadata> {
    const details: AuditDetails = {};
    return this.#audited('CreateKey', caller, details, async () => {
      const description = request.description ?? '';
      if (description.length > MAX_DESCRIPTION) throw validation(`Description must be at most ${MAX_DESCRIPTION} characters.`);
      if (request.keySpec !== undefined && request.keySpec !== 'SYMMETRIC_DEFAULT') {
        throw new KmsError('UnsupportedOperationException', `Coffer's KMS supports only SYMMETRIC_DEFAULT keys, not ${request.keySpec}.`);
      }
      if (request.keyUsage !== undefined && request.keyUsage !== 'ENCRYPT_DECRYPT') {
        throw validation(`KeyUsage ${request.keyUsage} is not compatible with KeySpec SYMMETRIC_DEFAULT.`);
      }
      if (request.origin !== undefined && request.origin !== 'AWS_KMS') {
        throw new KmsError('UnsupportedOperationException', `Coffer's KMS supports only Origin AWS_KMS, not ${request.origin}.`);
      }
      if (request.multiRegion) throw new KmsError('UnsupportedOperationException', "Coffer's KMS does not support multi-Region keys.");
      const tags = request.tags ?? [];
      checkTags(tags);
      if (tags.length > MAX_TAGS) throw new KmsError('TagException', `A key can have at most ${MAX_TAGS} tags.`);
      const keyId = randomUUID();
      details.keyId = keyId;
      details.keyVersion = 1;
      const key: KmsKeyRecord = {
        keyId,
        revision: 0,
        createdAt: this.#now(),
        description,
        keyManager: 'CUSTOMER',
        keyState: 'Enabled',
        rotationEnabled: false,
        currentVersion: 1,
        onDemandRotations: 0,
        tags: tags.map((t) => [t.tagKey, t.tagValue]),
      };
      await this.#store.createKmsKey(key, await this.#newVersion(keyId, 1, 'INITIAL'));
      return this.#metadata(key);
    });
  }

  async listKeys(request: PageRequest, caller: KmsCaller): Promise<Page<KeyListEntry>> {
    return this.#audited('ListKeys', caller, {}, async () => {
      const limit = checkLimit(request.limit, 1000, 100);
      const after = decodeMarker(request.marker, isKeyId);
      const keys = await this.#store.listKmsKeys(after, limit + 1);
      const page = keys.slice(0, limit);
      const truncated = keys.length > limit;
      return {
        items: page.map((k) => ({ keyId: k.keyId, keyArn: this.keyArn(k.keyId) })),
        truncated,
        ...(truncated ? { nextMarker: encodeMarker(page[page.length - 1]!.keyId) } : {}),
      };
    });
  }

  async enableKey(keyId: string, caller: KmsCaller): Promise<void> {
    const details: AuditDetails = {};
    await this.#audited('EnableKey', caller, details, async () => {
      const key = await this.#loadKey(keyId, { allowAlias: false }, details);
      this.#requireCustomerManaged(key, 'EnableKey');
      await this.#update(key, (k) => {
        this.#requireNotPendingDeletion(k);
        return k.keyState === 'Enabled' ? undefined : { ...k, keyState: 'Enabled' };
      });
    });
  }

  async disableKey(keyId: string, caller: KmsCaller): Promise<void> {
    const details: AuditDetails = {};
    await this.#audited('DisableKey', caller, details, async () => {
      const key = await this.#loadKey(keyId, { allowAlias: false }, details);
      this.#requireCustomerManaged(key, 'DisableKey');
      await this.#update(key, (k) => {
        this.#requireNotPendingDeletion(k);
        return k.keyState === 'Disabled' ? undefined : { ...k, keyState: 'Disabled' };
      });
    });
  }

  async scheduleKeyDeletion(request: { keyId: string; pendingWindowInDays?: number }, caller: KmsCaller): Promise<ScheduleKeyDeletionResult> {
    const details: AuditDetails = {};
    return this.#audited('ScheduleKeyDeletion', caller, details, async () => {
      const key = await this.#loadKey(request.keyId, { allowAlias: false }, details);
      this.#requireCustomerManaged(key, 'ScheduleKeyDeletion');
      const days = request.pendingWindowInDays ?? MAX_PENDING_WINDOW_DAYS;
      if (!Number.isInteger(days) || days < this.#minPendingWindowDays || days > MAX_PENDING_WINDOW_DAYS) {
        throw validation(
          `1 validation error detected: Value '${days}' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value between ${this.#minPendingWindowDays} and ${MAX_PENDING_WINDOW_DAYS}`,
        );
      }
      const deletionDate = this.#now() + days * this.#dayMs;
      await this.#update(key, (k) => {
        this.#requireNotPendingDeletion(k);
        return { ...k, keyState: 'PendingDeletion', deletionDate, pendingWindowInDays: days };
      });
      return { keyId: this.keyArn(key.keyId), deletionDate: new Date(deletionDate), keyState: 'PendingDeletion', pendingWindowInDays: days };
    });
  }

  async cancelKeyDeletion(keyId: string, caller: KmsCaller): Promise<{ keyId: string }> {
    const details: AuditDetails = {};
    return this.#audited('CancelKeyDeletion', caller, details, async () => {
      const key = await this.#loadKey(keyId, { allowAlias: false }, details);
      await this.#update(key, (k) => {
        if (k.keyState !== 'PendingDeletion') throw new KmsError('KMSInvalidStateException', `${this.keyArn(k.keyId)} is not pending deletion.`);
        const { deletionDate: _d, pendingWindowInDays: _p, ...rest } = k;
        // AWS: a key whose deletion is canceled comes back Disabled.
        return { ...rest, keyState: 'Disabled' };
      });
      return { keyId: this.keyArn(key.keyId) };
    });
  }

  // ---- aliases

  #checkAliasName(name: string | undefined, options: { forCreate: boolean }): string {
    if (name === undefined || name === '') throw validation("1 validation error detected: Value null at 'aliasName' failed to satisfy constraint: Member must not be null");
    if (name.length > 256 || !ALIAS_PATTERN.test(name)) {
      throw validation(`1 validation error detected: Value '${name}' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9/_-]+$`);
    }
    if (!name.startsWith('alias/') || name === 'alias/') throw new KmsError('InvalidAliasNameException', 'Alias must start with the prefix "alias/".');
    if (options.forCreate && name.startsWith('alias/aws/')) {
      throw new KmsError('InvalidAliasNameException', 'Alias names starting with "alias/aws/" are reserved for Coffer-managed keys.');
    }
    return name;
  }

  async #aliasTarget(targetKeyId: string | undefined, details: AuditDetails): Promise<KmsKeyRecord> {
    const key = await this.#loadKey(targetKeyId, { allowAlias: false }, details);
    this.#requireCustomerManaged(key, 'an alias');
    this.#requireNotPendingDeletion(key);
    return key;
  }

  async createAlias(request: { aliasName: string; targetKeyId: string }, caller: KmsCaller): Promise<void> {
    const details: AuditDetails = { aliasName: request.aliasName };
    await this.#audited('CreateAlias', caller, details, async () => {
      const name = this.#checkAliasName(request.aliasName, { forCreate: true });
      const key = await this.#aliasTarget(request.targetKeyId, details);
      const now = this.#now();
      const result = await this.#store.createKmsAlias({ aliasName: name, keyId: key.keyId, createdAt: now, updatedAt: now });
      if (result === 'exists') throw new KmsError('AlreadyExistsException', `An alias with the name ${this.aliasArn(name)} already exists`);
      if (result === 'no-key') throw new KmsError('NotFoundException', `Key '${this.keyArn(key.keyId)}' does not exist`);
    });
  }

  async updateAlias(request: { aliasName: string; targetKeyId: string }, caller: KmsCaller): Promise<void> {
    const details: AuditDetails = { aliasName: request.aliasName };
    await this.#audited('UpdateAlias', caller, details, async () => {
      const name = this.#checkAliasName(request.aliasName, { forCreate: false });
      if (name.startsWith('alias/aws/')) throw new KmsError('InvalidAliasNameException', 'Aliases of Coffer-managed keys cannot be changed.');
      const key = await this.#aliasTarget(request.targetKeyId, details);
      const result = await this.#store.updateKmsAlias(name, key.keyId, this.#now());
      if (result === 'missing') throw new KmsError('NotFoundException', `Alias '${this.aliasArn(name)}' is not found.`);
      if (result === 'no-key') throw new KmsError('NotFoundException', `Key '${this.keyArn(key.keyId)}' does not exist`);
    });
  }

  async deleteAlias(aliasName: string, caller: KmsCaller): Promise<void> {
    const details: AuditDetails = { aliasName };
    await this.#audited('DeleteAlias', caller, details, async () => {
      const name = this.#checkAliasName(aliasName, { forCreate: false });
      if (name.startsWith('alias/aws/')) throw new KmsError('InvalidAliasNameException', 'Aliases of Coffer-managed keys cannot be deleted.');
      const alias = await this.#store.getKmsAlias(name);
      if (alias) details.keyId = alias.keyId;
      if (!alias || !(await this.#store.deleteKmsAlias(name))) throw new KmsError('NotFoundException', `Alias '${this.aliasArn(name)}' is not found.`);
    });
  }

  async listAliases(request: PageRequest & { keyId?: string }, caller: KmsCaller): Promise<Page<AliasListEntry>> {
    const details: AuditDetails = {};
    return this.#audited('ListAliases', caller, details, async () => {
      const limit = checkLimit(request.limit, 100, 50);
      const after = decodeMarker(request.marker, (s) => s.startsWith('alias/'));
      const keyId = request.keyId !== undefined ? (await this.#loadKey(request.keyId, { allowAlias: false }, details)).keyId : undefined;
      const aliases = await this.#store.listKmsAliases({ ...(keyId !== undefined ? { keyId } : {}), ...(after !== undefined ? { after } : {}), limit: limit + 1 });
      const page = aliases.slice(0, limit);
      const truncated = aliases.length > limit;
      return {
        items: page.map((a: KmsAliasRecord) => ({
          aliasName: a.aliasName,
          aliasArn: this.aliasArn(a.aliasName),
          targetKeyId: a.keyId,
          creationDate: new Date(a.createdAt),
          lastUpdatedDate: new Date(a.updatedAt),
        })),
        truncated,
        ...(truncated ? { nextMarker: encodeMarker(page[page.length - 1]!.aliasName) } : {}),
      };
    });
  }

  // ---- rotation

  async enableKeyRotation(request: { keyId: string; rotationPeriodInDays?: number }, caller: KmsCaller): Promise<void> {
    const details: AuditDetails = {};
    await this.#audited('EnableKeyRotation', caller, details, async () => {
      const key = await this.#loadKey(request.keyId, { allowAlias: false }, details);
      this.#requireCustomerManaged(key, 'EnableKeyRotation');
      const period = request.rotationPeriodInDays ?? DEFAULT_ROTATION_PERIOD_DAYS;
      if (!Number.isInteger(period) || period < this.#minRotationPeriodDays || period > MAX_ROTATION_PERIOD_DAYS) {
        throw validation(
          `1 validation error detected: Value '${period}' at 'rotationPeriodInDays' failed to satisfy constraint: Member must have value between ${this.#minRotationPeriodDays} and ${MAX_ROTATION_PERIOD_DAYS}`,
        );
      }
      await this.#update(key, (k) => {
        this.#requireUsable(k);
        return { ...k, rotationEnabled: true, rotationPeriodDays: period, nextRotationDate: this.#now() + period * this.#dayMs };
      });
    });
  }

  async disableKeyRotation(keyId: string, caller: KmsCaller): Promise<void> {
    const details: AuditDetails = {};
    await this.#audited('DisableKeyRotation', caller, details, async () => {
      const key = await this.#loadKey(keyId, { allowAlias: false }, details);
      this.#requireCustomerManaged(key, 'DisableKeyRotation');
      await this.#update(key, (k) => {
        this.#requireUsable(k);
        const { rotationPeriodDays: _p, nextRotationDate: _n, ...rest } = k;
        return { ...rest, rotationEnabled: false };
      });
    });
  }

  async getKeyRotationStatus(keyId: string, caller: KmsCaller): Promise<KeyRotationStatus> {
    const details: AuditDetails = {};
    return this.#audited('GetKeyRotationStatus', caller, details, async () => {
      const key = await this.#loadKey(keyId, { allowAlias: false }, details);
      return {
        keyRotationEnabled: key.rotationEnabled,
        keyId: this.keyArn(key.keyId),
        ...(key.rotationEnabled && key.rotationPeriodDays !== undefined ? { rotationPeriodInDays: key.rotationPeriodDays } : {}),
        ...(key.rotationEnabled && key.nextRotationDate !== undefined ? { nextRotationDate: new Date(key.nextRotationDate) } : {}),
      };
    });
  }

  async rotateKeyOnDemand(keyId: string, caller: KmsCaller): Promise<{ keyId: string }> {
    const details: AuditDetails = {};
    return this.#audited('RotateKeyOnDemand', caller, details, async () => {
      const key = await this.#loadKey(keyId, { allowAlias: false }, details);
      this.#requireCustomerManaged(key, 'RotateKeyOnDemand');
      this.#requireUsable(key);
      if (key.onDemandRotations >= MAX_ON_DEMAND_ROTATIONS) {
        throw new KmsError('LimitExceededException', `${this.keyArn(key.keyId)} has reached the limit of ${MAX_ON_DEMAND_ROTATIONS} on-demand rotations.`);
      }
      const rotated = await this.#rotate(key, 'ON_DEMAND', caller);
      details.keyVersion = rotated.currentVersion;
      return { keyId: key.keyId };
    });
  }

  async listKeyRotations(request: PageRequest & { keyId: string }, caller: KmsCaller): Promise<Page<RotationListEntry>> {
    const details: AuditDetails = {};
    return this.#audited('ListKeyRotations', caller, details, async () => {
      const key = await this.#loadKey(request.keyId, { allowAlias: false }, details);
      const limit = checkLimit(request.limit, 1000, 100);
      const after = decodeMarker(request.marker, (s) => /^\d{1,9}$/.test(s));
      const rotations = (await this.#store.listKmsKeyVersions(key.keyId)).filter(
        (v) => v.rotationType !== 'INITIAL' && (after === undefined || v.version > Number(after)),
      );
      const page = rotations.slice(0, limit);
      const truncated = rotations.length > limit;
      return {
        items: page.map((v) => ({
          keyId: key.keyId,
          keyMaterialId: keyMaterialId(key.keyId, v.version),
          rotationDate: new Date(v.createdAt),
          rotationType: v.rotationType as 'AUTOMATIC' | 'ON_DEMAND',
        })),
        truncated,
        ...(truncated ? { nextMarker: encodeMarker(String(page[page.length - 1]!.version)) } : {}),
      };
    });
  }

  // ---- tags

  async tagResource(request: { keyId: string; tags: Tag[] }, caller: KmsCaller): Promise<void> {
    const details: AuditDetails = {};
    await this.#audited('TagResource', caller, details, async () => {
      const key = await this.#loadKey(request.keyId, { allowAlias: false }, details);
      this.#requireCustomerManaged(key, 'TagResource');
      if (!Array.isArray(request.tags)) throw validation("1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null");
      checkTags(request.tags);
      await this.#update(key, (k) => {
        this.#requireNotPendingDeletion(k);
        const tags = new Map(k.tags);
        for (const t of request.tags) tags.set(t.tagKey, t.tagValue);
        if (tags.size > MAX_TAGS) throw new KmsError('LimitExceededException', `A key can have at most ${MAX_TAGS} tags.`);
        return { ...k, tags: [...tags] };
      });
    });
  }

  async untagResource(request: { keyId: string; tagKeys: string[] }, caller: KmsCaller): Promise<void> {
    const details: AuditDetails = {};
    await this.#audited('UntagResource', caller, details, async () => {
      const key = await this.#loadKey(request.keyId, { allowAlias: false }, details);
      this.#requireCustomerManaged(key, 'UntagResource');
      if (!Array.isArray(request.tagKeys)) throw validation("1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null");
      const drop = new Set(request.tagKeys);
      await this.#update(key, (k) => {
        this.#requireNotPendingDeletion(k);
        return { ...k, tags: k.tags.filter(([name]) => !drop.has(name)) };
      });
    });
  }

  async listResourceTags(request: PageRequest & { keyId: string }, caller: KmsCaller): Promise<Page<Tag>> {
    const details: AuditDetails = {};
    return this.#audited('ListResourceTags', caller, details, async () => {
      const key = await this.#loadKey(request.keyId, { allowAlias: false }, details);
      const limit = checkLimit(request.limit, 50, 50);
      const sorted = [...key.tags].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      const after = decodeMarker(request.marker, (s) => sorted.some(([name]) => name === s));
      const rest = after === undefined ? sorted : sorted.filter(([name]) => name > after);
      const page = rest.slice(0, limit);
      const truncated = rest.length > limit;
      return {
        items: page.map(([tagKey, tagValue]) => ({ tagKey, tagValue })),
        truncated,
        ...(truncated ? { nextMarker: encodeMarker(page[page.length - 1]![0]) } : {}),
      };
    });
  }

  // ---- background work

  /**
   * Destroys keys whose deletion window has ended and rotates keys whose
   * automatic rotation is due. Runs on a timer (startSweeper) and is safe to
   * run on several nodes at once: destruction is idempotent and rotations are
   * compare-and-set on the key's revision.
   */
  async sweep(): Promise<{ destroyed: number; rotated: number }> {
    if (this.#sweeping) return { destroyed: 0, rotated: 0 };
    this.#sweeping = true;
    try {
      let destroyed = 0;
      let rotated = 0;
      const now = this.#now();
      for (const keyId of await this.#store.kmsKeysDueForDeletion(now, 100)) {
        await this.#destroy(keyId);
        destroyed++;
      }
      for (const keyId of await this.#store.kmsKeysDueForRotation(now, 100)) {
        const before = await this.#store.getKmsKey(keyId);
        const after = await this.#fresh(keyId);
        if (before && after && after.currentVersion > before.currentVersion) rotated++;
      }
      return { destroyed, rotated };
    } finally {
      this.#sweeping = false;
    }
  }

  /** Runs sweep() every `intervalMs`; returns a function that stops it. */
  startSweeper(intervalMs: number): () => void {
    const timer = setInterval(() => {
      this.sweep()
        .then((r) => (r.destroyed > 0 || r.rotated > 0) && this.#log?.info(r, 'KMS sweep'))
        .catch((err: unknown) => this.#log?.error({ err }, 'KMS sweep failed'));
    }, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }
}
