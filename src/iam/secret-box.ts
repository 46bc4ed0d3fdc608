/**
 * Access key secrets at rest: AES-256-GCM under a key derived (HKDF-SHA256)
 * from the root key, with the access key id as associated data so a wrapped
 * secret cannot be moved to another key id. The secret itself is never stored
 * or logged; SigV4 needs it in clear, so it is unwrapped when a key is looked up.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { RootKey } from '../kms/root-key.js';

const VERSION = 1;
const INFO = 'coffer/iam/access-key-secret/v1';

function wrappingKey(root: RootKey): Buffer {
  return Buffer.from(hkdfSync('sha256', root.key, Buffer.alloc(0), INFO, 32));
}

function aad(accessKeyId: string): Buffer {
  return Buffer.from(`coffer-iam-secret:${accessKeyId}`, 'utf8');
}

export class SecretBox {
  readonly #keys: Map<string, Buffer>;
  readonly #primaryId: string;

  /** `roots`: the primary root key first, then any other that may still wrap stored secrets. */
  constructor(roots: readonly RootKey[]) {
    if (roots.length === 0) throw new Error('a root key is needed to wrap access key secrets');
    this.#primaryId = roots[0]!.id;
    this.#keys = new Map(roots.map((r) => [r.id, wrappingKey(r)]));
  }

  get rootKeyId(): string {
    return this.#primaryId;
  }

  wrap(accessKeyId: string, secret: string): Buffer {
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#keys.get(this.#primaryId)!, nonce);
    cipher.setAAD(aad(accessKeyId));
    const body = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
    return Buffer.concat([Buffer.from([VERSION]), nonce, body, cipher.getAuthTag()]);
  }

  /** The secret, or undefined when the root key that wrapped it is not loaded or the blob was tampered with. */
  unwrap(accessKeyId: string, rootKeyId: string, wrapped: Buffer): string | undefined {
    const key = this.#keys.get(rootKeyId);
    if (!key || wrapped.length < 1 + 12 + 16 || wrapped[0] !== VERSION) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, wrapped.subarray(1, 13));
      decipher.setAAD(aad(accessKeyId));
      decipher.setAuthTag(wrapped.subarray(wrapped.length - 16));
      return Buffer.concat([decipher.update(wrapped.subarray(13, wrapped.length - 16)), decipher.final()]).toString('utf8');
    } catch {
      return undefined;
    }
  }
}
