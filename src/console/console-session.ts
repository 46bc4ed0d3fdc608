/**
 * Sessions of the web console. A session is a cookie the server signed:
 * `<payload>.<HMAC-SHA256(session key, payload)>`, the payload naming the
 * access key it was opened with, when it ends, and a random nonce. The secret
 * never leaves the server: the console's calls are signed here, with the
 * secret Coffer already holds for verifying that key's signatures, and a
 * deleted or deactivated key ends its sessions at once. Stateless, so every
 * worker (and every node sharing the root key) accepts every session.
 *
 * The session key is derived (HKDF) from the root key, so rotating the root
 * key ends every session. A session cannot be revoked before it ends but by
 * deactivating its access key (documented): it lasts SESSION_MS at most.
 *
 * CSRF: the cookie is SameSite=Strict and HttpOnly, and every API call must
 * also carry the session's CSRF token (HMAC of the cookie under the session
 * key) in a header, which a cross-site page can neither read nor send without
 * a CORS preflight that Coffer never grants.
 */
import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { bytesEqual } from '../crypto/compare.js';

export const SESSION_COOKIE = 'coffer_console';
/** A session's whole life: a working day. */
export const SESSION_MS = 8 * 3600 * 1000;

interface SessionPayload {
  /** The access key id. */
  k: string;
  /** Ends at (ms epoch). */
  e: number;
  /** Random, so that two sessions of one key differ. */
  n: string;
}

export class ConsoleSessions {
  readonly #key: Buffer;

  /** `rootKey`: the root key's bytes; only a key derived from it is kept. */
  constructor(rootKey: Uint8Array) {
    this.#key = Buffer.from(hkdfSync('sha256', rootKey, Buffer.alloc(0), 'coffer console session v1', 32));
  }

  #mac(text: string): Buffer {
    return createHmac('sha256', this.#key).update(text).digest();
  }

  /** A new session's cookie value for `accessKeyId`. */
  open(accessKeyId: string, now = Date.now()): string {
    const payload: SessionPayload = { k: accessKeyId, e: now + SESSION_MS, n: randomBytes(12).toString('base64url') };
    const text = Buffer.from(JSON.stringify(payload)).toString('base64url');
    return `${text}.${this.#mac(text).toString('base64url')}`;
  }

  /** The access key id of a valid, unexpired session cookie; undefined for anything else. */
  verify(cookie: string | undefined, now = Date.now()): string | undefined {
    if (cookie === undefined || cookie.length > 1024) return undefined;
    const dot = cookie.indexOf('.');
    if (dot < 0) return undefined;
    const text = cookie.slice(0, dot);
    const given = Buffer.from(cookie.slice(dot + 1), 'base64url');
    if (!bytesEqual(given, this.#mac(text))) return undefined;
    let payload: SessionPayload;
    try {
      payload = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as SessionPayload;
    } catch {
      return undefined;
    }
    if (typeof payload.k !== 'string' || typeof payload.e !== 'number' || payload.e <= now) return undefined;
    return payload.k;
  }

  /** The CSRF token of a session: what the console's script sends back in `x-coffer-csrf`. */
  csrfToken(cookie: string): string {
    return this.#mac(`csrf\n${cookie}`).toString('base64url');
  }

  csrfValid(cookie: string, token: string | undefined): boolean {
    return token !== undefined && bytesEqual(Buffer.from(token, 'utf8'), Buffer.from(this.csrfToken(cookie), 'utf8'));
  }
}

/** The value of one cookie from a Cookie header. */
export function cookieValue(header: string | string[] | undefined, name: string): string | undefined {
  const v = Array.isArray(header) ? header.join('; ') : header;
  if (v === undefined) return undefined;
  for (const part of v.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
