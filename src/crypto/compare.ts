/**
 * Comparing what a client sent with what we computed or stored: signatures,
 * digests, MACs, access key ids. One place, so that every comparison checks
 * the format and the length before it compares, and compares in constant time.
 *
 * `crypto.timingSafeEqual` throws a RangeError when its inputs differ in byte
 * length. Handed text that a client controls (a non-ASCII byte in an access key
 * id turns one character into two UTF-8 bytes; a flipped byte makes hex or
 * base64 decode short), it used to turn a forged request into a 500. Here a
 * length mismatch is simply "not equal": lengths of digests, signatures and
 * key ids are public, so answering early on them leaks nothing.
 *
 * Leaf module: imports nothing of ours.
 */
import { timingSafeEqual } from 'node:crypto';

/** Byte equality in constant time for inputs of equal length; `false` when the lengths differ. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Equality of two strings by their UTF-8 bytes, in constant time for equal byte lengths. */
export function textEqual(a: string, b: string): boolean {
  return bytesEqual(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

const HEX = /^[0-9a-fA-F]*$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Decodes hex text that must stand for exactly `bytes` bytes (any case);
 * `undefined` for anything else — Buffer.from(text, 'hex') would silently stop
 * at the first bad character and hand back a shorter buffer.
 */
export function strictHex(text: string, bytes: number): Buffer | undefined {
  if (text.length !== bytes * 2 || !HEX.test(text)) return undefined;
  return Buffer.from(text, 'hex');
}

/**
 * Decodes canonical, padded base64 that must stand for exactly `bytes` bytes
 * (when given); `undefined` for anything else. Buffer.from(text, 'base64')
 * skips characters it does not know, so it cannot tell a digest from noise.
 */
export function strictBase64(text: string, bytes?: number): Buffer | undefined {
  if (!BASE64.test(text)) return undefined;
  const out = Buffer.from(text, 'base64');
  if (bytes !== undefined && out.length !== bytes) return undefined;
  // Canonical only: unused low bits of the last character set would decode to the same bytes.
  return out.toString('base64') === text ? out : undefined;
}

/** A computed digest against a client's hex text of it: format, length, then constant-time bytes. */
export function hexDigestEqual(computed: Uint8Array, providedHex: string): boolean {
  const provided = strictHex(providedHex, computed.length);
  return provided !== undefined && bytesEqual(computed, provided);
}

/** A computed digest against a client's base64 text of it: format, length, then constant-time bytes. */
export function base64DigestEqual(computed: Uint8Array, providedBase64: string): boolean {
  const provided = strictBase64(providedBase64, computed.length);
  return provided !== undefined && bytesEqual(computed, provided);
}
