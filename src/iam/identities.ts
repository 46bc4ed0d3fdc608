/**
 * Identities: accounts, IAM users, access keys and inline user policies, kept
 * in the MetadataStore (secrets wrapped, see secret-box.ts), and the lookup
 * SigV4 verification uses to turn an access key id into a credential.
 *
 * The root credentials (credentials.json / COFFER_ACCESS_KEY_ID) are the root
 * of the first account, its administrator; they are never stored in the store.
 * Lookups are cached for a second: a key disabled or deleted through this
 * process is dropped at once; through another process (the admin CLI, another
 * worker) within that second.
 */
import { randomBytes } from 'node:crypto';
import { textEqual } from '../crypto/compare.js';
import { parsePolicy, PolicyError, MAX_USER_POLICY_BYTES, type CallerIdentity, type Policy } from '../auth/access/index.js';
import type { Credential } from '../auth/sigv4/index.js';
import { awsAccountId, canonicalUserId } from '../credentials.js';
import type { Principal } from '../http/types.js';
import type { AccessKeyRecord, AccessKeyStatus, AccountRecord, IamUserRecord, MetadataStore, UserPolicyRecord } from '../metadata/metadata-store.js';
import type { SecretBox } from './secret-box.js';

export interface ResolvedCredential extends Credential {
  principal: Principal;
}

/** Why an identity operation failed, in IAM's words (iam-api.ts renders them). */
export class IdentityError extends Error {
  constructor(
    readonly code: 'NoSuchEntity' | 'EntityAlreadyExists' | 'DeleteConflict' | 'LimitExceeded' | 'MalformedPolicyDocument' | 'ValidationError',
    message: string,
  ) {
    super(message);
    this.name = 'IdentityError';
  }
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
function randomId(prefix: string, n: number): string {
  let s = prefix;
  for (const b of randomBytes(n)) s += BASE32[b % 32];
  return s;
}

/** IAM's limit of access keys per user. */
export const MAX_KEYS_PER_USER = 2;
export const FIRST_ACCOUNT_NAME = 'coffer-root';
const USER_NAME_RE = /^[\w+=,.@-]{1,64}$/;
const POLICY_NAME_RE = /^[\w+=,.@-]{1,128}$/;

export interface NewAccessKey {
  accessKeyId: string;
  secretAccessKey: string;
  status: AccessKeyStatus;
  createdAt: number;
  userName?: string;
}

export class Identities {
  readonly #store: MetadataStore;
  readonly #box: SecretBox;
  readonly #root: Credential;
  readonly #rootPrincipal: Principal;
  readonly #ttlMs: number;
  readonly #cache = new Map<string, { value: ResolvedCredential | undefined; expires: number }>();
  readonly #accounts = new Map<string, AccountRecord>();

  private constructor(store: MetadataStore, box: SecretBox, root: Credential, first: AccountRecord, ttlMs: number) {
    this.#store = store;
    this.#box = box;
    this.#root = root;
    this.#ttlMs = ttlMs;
    this.#accounts.set(first.canonicalId, first);
    this.#rootPrincipal = principalOf(first, root.accessKeyId, undefined, []);
  }

  /** Opens the directory, making sure the first account (the root credentials') exists. */
  static async open(options: { store: MetadataStore; box: SecretBox; root: Credential; cacheTtlMs?: number }): Promise<Identities> {
    const first: AccountRecord = {
      accountId: awsAccountId(options.root.accessKeyId),
      canonicalId: canonicalUserId(options.root.accessKeyId),
      name: FIRST_ACCOUNT_NAME,
      createdAt: Date.now(),
    };
    await options.store.createAccount(first);
    const stored = (await options.store.getAccount(first.accountId)) ?? first;
    return new Identities(options.store, options.box, options.root, stored, options.cacheTtlMs ?? 1000);
  }

  /** The first account: the one the root credentials administer. */
  get firstAccount(): AccountRecord {
    return [...this.#accounts.values()][0]!;
  }

  /** Forgets cached lookups (after any change made through this process). */
  invalidate(): void {
    this.#cache.clear();
  }

  /** The credential for an access key id: root, an account root's key, or an active key of an existing user. */
  async lookup(accessKeyId: string): Promise<ResolvedCredential | undefined> {
    if (textEqual(accessKeyId, this.#root.accessKeyId)) {
      return { accessKeyId: this.#root.accessKeyId, secretAccessKey: this.#root.secretAccessKey, principal: this.#rootPrincipal };
    }
    const now = Date.now();
    const hit = this.#cache.get(accessKeyId);
    if (hit && hit.expires > now) return hit.value;
    const value = await this.#resolve(accessKeyId);
    if (this.#cache.size > 10_000) this.#cache.clear();
    this.#cache.set(accessKeyId, { value, expires: now + this.#ttlMs });
    return value;
  }

  async #resolve(accessKeyId: string): Promise<ResolvedCredential | undefined> {
    const key = await this.#store.getAccessKey(accessKeyId);
    if (!key || key.status !== 'Active') return undefined;
    const account = await this.#store.getAccount(key.accountId);
    if (!account) return undefined;
    let user: IamUserRecord | undefined;
    let policies: Policy[] = [];
    if (key.userName !== undefined) {
      user = await this.#store.getIamUser(key.accountId, key.userName);
      if (!user) return undefined;
      policies = [];
      for (const p of await this.#store.listUserPolicies(key.accountId, user.userName)) {
        try {
          policies.push(parsePolicy(p.document, { kind: 'identity' }));
        } catch {
          // Validated when stored; a document that no longer parses grants nothing.
        }
      }
    }
    const secret = this.#box.unwrap(key.accessKeyId, key.rootKeyId, key.wrappedSecret);
    if (secret === undefined) return undefined;
    return { accessKeyId, secretAccessKey: secret, principal: principalOf(account, accessKeyId, user, policies) };
  }

  /** An account by its canonical id (bucket owners), cached: accounts never change. */
  async accountByCanonicalId(canonicalId: string): Promise<AccountRecord | undefined> {
    const cached = this.#accounts.get(canonicalId);
    if (cached) return cached;
    const a = await this.#store.getAccountByCanonicalId(canonicalId);
    if (a) this.#accounts.set(canonicalId, a);
    return a;
  }

  // ---- management (the admin CLI and the IAM API)

  /** A new account with a key for its root (`coffer admin account create`). */
  async createAccount(name: string): Promise<{ account: AccountRecord; key: NewAccessKey }> {
    if (!USER_NAME_RE.test(name)) throw new IdentityError('ValidationError', `Account name ${JSON.stringify(name)} is not valid.`);
    for (;;) {
      const accountId = String(Math.floor(Math.random() * 1e12)).padStart(12, '0');
      const account: AccountRecord = { accountId, canonicalId: randomBytes(32).toString('hex'), name, createdAt: Date.now() };
      if (!(await this.#store.createAccount(account))) continue;
      return { account, key: await this.#newKey(accountId, undefined) };
    }
  }

  async listAccounts(): Promise<AccountRecord[]> {
    return this.#store.listAccounts();
  }

  async createUser(accountId: string, userName: string, path = '/'): Promise<IamUserRecord> {
    if (!USER_NAME_RE.test(userName)) throw new IdentityError('ValidationError', `The specified value for userName is invalid. It must contain only alphanumeric characters and/or the following: +=,.@_-`);
    if (!/^\/([\x21-\x7e]*\/)?$/.test(path)) throw new IdentityError('ValidationError', 'The specified value for path is invalid.');
    const user: IamUserRecord = { accountId, userName, userId: randomId('AIDA', 17), path, createdAt: Date.now() };
    if (!(await this.#store.createIamUser(user))) throw new IdentityError('EntityAlreadyExists', `User with name ${userName} already exists.`);
    return user;
  }

  async getUser(accountId: string, userName: string): Promise<IamUserRecord> {
    const u = await this.#store.getIamUser(accountId, userName);
    if (!u) throw new IdentityError('NoSuchEntity', `The user with name ${userName} cannot be found.`);
    return u;
  }

  async listUsers(accountId: string): Promise<IamUserRecord[]> {
    return this.#store.listIamUsers(accountId);
  }

  /** IAM refuses to delete a user with keys or policies (DeleteConflict); the admin CLI cascades. */
  async deleteUser(accountId: string, userName: string, options: { cascade: boolean }): Promise<void> {
    const r = await this.#store.deleteIamUser(accountId, userName, options);
    this.invalidate();
    if (r === 'missing') throw new IdentityError('NoSuchEntity', `The user with name ${userName} cannot be found.`);
    if (r === 'has-dependents') throw new IdentityError('DeleteConflict', 'Cannot delete entity, must delete access keys and policies first.');
  }

  async createAccessKey(accountId: string, userName: string): Promise<NewAccessKey> {
    const user = await this.getUser(accountId, userName);
    if ((await this.#store.listAccessKeys(accountId, user.userName)).length >= MAX_KEYS_PER_USER) {
      throw new IdentityError('LimitExceeded', `Cannot exceed quota for AccessKeysPerUser: ${MAX_KEYS_PER_USER}`);
    }
    return this.#newKey(accountId, user.userName);
  }

  async #newKey(accountId: string, userName: string | undefined): Promise<NewAccessKey> {
    for (;;) {
      const accessKeyId = randomId('AKIA', 16);
      const secretAccessKey = randomBytes(30).toString('base64').replace(/[+/]/g, 'x');
      const record: AccessKeyRecord = {
        accessKeyId,
        accountId,
        ...(userName !== undefined ? { userName } : {}),
        status: 'Active',
        createdAt: Date.now(),
        rootKeyId: this.#box.rootKeyId,
        wrappedSecret: this.#box.wrap(accessKeyId, secretAccessKey),
      };
      if (await this.#store.createAccessKey(record)) {
        this.invalidate();
        return { accessKeyId, secretAccessKey, status: 'Active', createdAt: record.createdAt, ...(userName !== undefined ? { userName } : {}) };
      }
      if (userName !== undefined && !(await this.#store.getIamUser(accountId, userName))) {
        throw new IdentityError('NoSuchEntity', `The user with name ${userName} cannot be found.`);
      }
    }
  }

  /** A user's keys (never their secrets). */
  async listAccessKeys(accountId: string, userName: string | undefined): Promise<AccessKeyRecord[]> {
    if (userName !== undefined) await this.getUser(accountId, userName);
    return this.#store.listAccessKeys(accountId, userName === undefined ? undefined : (await this.getUser(accountId, userName)).userName);
  }

  async #ownKey(accountId: string, userName: string | undefined, accessKeyId: string): Promise<AccessKeyRecord> {
    const key = await this.#store.getAccessKey(accessKeyId);
    const sameUser = key && key.accountId === accountId && (key.userName ?? '').toLowerCase() === (userName ?? '').toLowerCase();
    if (!key || !sameUser) throw new IdentityError('NoSuchEntity', `The Access Key with id ${accessKeyId} cannot be found.`);
    return key;
  }

  async updateAccessKey(accountId: string, userName: string | undefined, accessKeyId: string, status: AccessKeyStatus): Promise<void> {
    await this.#ownKey(accountId, userName, accessKeyId);
    await this.#store.updateAccessKeyStatus(accessKeyId, status);
    this.invalidate();
  }

  async deleteAccessKey(accountId: string, userName: string | undefined, accessKeyId: string): Promise<void> {
    await this.#ownKey(accountId, userName, accessKeyId);
    await this.#store.deleteAccessKey(accessKeyId);
    this.invalidate();
  }

  async putUserPolicy(accountId: string, userName: string, policyName: string, document: string): Promise<void> {
    if (!POLICY_NAME_RE.test(policyName)) throw new IdentityError('ValidationError', 'The specified value for policyName is invalid.');
    if (Buffer.byteLength(document) > MAX_USER_POLICY_BYTES) throw new IdentityError('LimitExceeded', `Maximum policy size of ${MAX_USER_POLICY_BYTES} bytes exceeded for user ${userName}`);
    try {
      parsePolicy(document, { kind: 'identity' });
    } catch (err) {
      if (err instanceof PolicyError) throw new IdentityError('MalformedPolicyDocument', err.message);
      throw err;
    }
    const user = await this.getUser(accountId, userName);
    if (!(await this.#store.putUserPolicy({ accountId, userName: user.userName, policyName, document }))) {
      throw new IdentityError('NoSuchEntity', `The user with name ${userName} cannot be found.`);
    }
    this.invalidate();
  }

  async getUserPolicy(accountId: string, userName: string, policyName: string): Promise<UserPolicyRecord> {
    const user = await this.getUser(accountId, userName);
    const p = await this.#store.getUserPolicy(accountId, user.userName, policyName);
    if (!p) throw new IdentityError('NoSuchEntity', `The user policy with name ${policyName} cannot be found.`);
    return { ...p, userName: user.userName };
  }

  async listUserPolicies(accountId: string, userName: string): Promise<string[]> {
    const user = await this.getUser(accountId, userName);
    return (await this.#store.listUserPolicies(accountId, user.userName)).map((p) => p.policyName);
  }

  async deleteUserPolicy(accountId: string, userName: string, policyName: string): Promise<void> {
    const user = await this.getUser(accountId, userName);
    if (!(await this.#store.deleteUserPolicy(accountId, user.userName, policyName))) {
      throw new IdentityError('NoSuchEntity', `The user policy with name ${policyName} cannot be found.`);
    }
    this.invalidate();
  }
}

export function userArn(accountId: string, user: Pick<IamUserRecord, 'userName' | 'path'>): string {
  return `arn:aws:iam::${accountId}:user${user.path}${user.userName}`;
}

function principalOf(account: AccountRecord, accessKeyId: string, user: IamUserRecord | undefined, policies: Policy[]): Principal {
  const arn = user ? userArn(account.accountId, user) : `arn:aws:iam::${account.accountId}:root`;
  const caller: CallerIdentity = {
    accountId: account.accountId,
    arn,
    isRoot: user === undefined,
    canonicalId: account.canonicalId,
    ...(user ? { userName: user.userName, userId: user.userId } : {}),
  };
  return {
    accessKeyId,
    accountId: account.canonicalId,
    displayName: account.name,
    awsAccountId: account.accountId,
    arn,
    ...(user ? { userName: user.userName } : {}),
    caller,
    policies,
  };
}
