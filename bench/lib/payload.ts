/**
 * Object contents without per-request allocation: one pool of random bytes,
 * allocated once, and every object is a window onto it (wrapping around for
 * objects larger than the pool). An object's bytes depend on its seed, so a
 * GET that returned another object's data fails verification.
 */
import { randomFillSync } from 'node:crypto';

export class PayloadPool {
  readonly #pool: Buffer;

  constructor(size: number) {
    // An odd size keeps the windows of large objects from lining up with 64 KiB packages.
    this.#pool = Buffer.allocUnsafe(size | 1);
    randomFillSync(this.#pool);
  }

  get size(): number {
    return this.#pool.length;
  }

  #offset(seed: number): number {
    return (Math.imul(seed + 1, 0x9e3779b1) >>> 0) % this.#pool.length;
  }

  /** Bytes [start, start + length) of the object with this seed, as slices of the pool (no copies). */
  slice(seed: number, start: number, length: number): Buffer[] {
    const pieces: Buffer[] = [];
    let at = (this.#offset(seed) + start) % this.#pool.length;
    let left = length;
    while (left > 0) {
      const n = Math.min(left, this.#pool.length - at);
      pieces.push(this.#pool.subarray(at, at + n));
      left -= n;
      at = 0;
    }
    return pieces;
  }
}

/**
 * Compares a response body, as it streams, against the expected slices.
 * Costs one memcmp per byte; nothing is buffered.
 */
export class BodyVerifier {
  readonly #expected: Buffer[];
  #piece = 0;
  #at = 0;
  #seen = 0;
  #mismatchAt: number | undefined;

  constructor(expected: Buffer[]) {
    this.#expected = expected;
  }

  feed(chunk: Buffer): void {
    if (this.#mismatchAt !== undefined) return;
    let pos = 0;
    while (pos < chunk.length) {
      const want = this.#expected[this.#piece];
      if (want === undefined) {
        this.#mismatchAt = this.#seen + pos; // longer than expected
        return;
      }
      const n = Math.min(chunk.length - pos, want.length - this.#at);
      if (chunk.compare(want, this.#at, this.#at + n, pos, pos + n) !== 0) {
        this.#mismatchAt = this.#seen + pos;
        return;
      }
      pos += n;
      this.#at += n;
      if (this.#at === want.length) {
        this.#piece++;
        this.#at = 0;
      }
    }
    this.#seen += chunk.length;
  }

  /** Undefined when every expected byte arrived and nothing else; otherwise where it went wrong. */
  problem(): string | undefined {
    if (this.#mismatchAt !== undefined) return `body differs from what was written, from byte ${this.#mismatchAt}`;
    if (this.#piece < this.#expected.length) return `body is short: ${this.#seen} bytes`;
    return undefined;
  }
}
