/**
 * Deletes blobs that no object, part or upload references any more: those the
 * metadata store queued when an object was replaced or deleted, a part
 * re-uploaded, an upload completed or aborted.
 *
 * A queued blob is deleted only once its entry is older than a grace period
 * (`graceMs`, COFFER_GC_GRACE_MS). A GET that resolved the object just before
 * it was overwritten or deleted still reads the old blob: it must get the old
 * object whole, never a 500 (blob gone before it was opened) nor a response cut
 * at the next part (a multipart object opens its part blobs one after another).
 * The queue lives in the shared metadata store and ages by the store's clock,
 * so the rule holds for every collector at once: the other workers of
 * `--workers N`, and, with PostgreSQL metadata and a remote blob store, other
 * nodes — where a reference count in this process, or an open file descriptor
 * keeping an unlinked file readable, would protect nobody. A read that outlasts
 * the grace period keeps restarting it for its blobs (storage/read-holds.ts),
 * so the period needs only to exceed the gap between a reader resolving the
 * object and that first restart, not the longest download. Its cost is space:
 * replaced data stays on disk for the grace period. With a grace period of 0
 * blobs go right after the write that freed them, as before: space, and the
 * page cache that held the replaced data, come back at once (bench/RESULTS.md
 * measured the page-cache effect), but a GET racing the write may then find
 * its blob gone (it resolves the key again, s3/object.ts; a multipart download
 * can be cut).
 *
 * The blobs of an object read through one blob skip the grace period: the store queues
 * them as collectable at once (metadata-rules.ts collectableAtOnce). A read opens that
 * blob right after it resolves the object, a blob being read stays readable when it is
 * deleted, and a read that finds it gone resolves the key again. Only objects of several
 * blobs, opened one after another as they stream, need the period.
 *
 * It runs soon after each write that queued garbage (`kick`, wired to
 * MetadataStore.onGarbage) — after a short gathering delay for what is collectable at
 * once, and one grace period later for the rest — and on a timer, the fallback for
 * garbage queued by another worker or left by a crash.
 *
 * Deleting a blob whose queueing could still be rolled back by a crash would
 * lose the object the rollback restores; MetadataStore.takeGarbage returns only
 * durable queue entries.
 */
import type { BlobStore } from '../blob/blob-store.js';
import type { MetadataStore } from '../metadata/metadata-store.js';

/** Blob deletes issued at once. */
const DELETE_GROUP = 32;
/** Blobs taken per round trip to the metadata store. */
const BATCH = 500;
/** After a kick, how long to gather more garbage before collecting (bounds the extra syncs under load). */
const KICK_DELAY_MS = 20;

export interface BlobCollectorOptions {
  metadata: MetadataStore;
  blobs: BlobStore;
  /** How old a queue entry must be before its blob is deleted (see the module comment). */
  graceMs: number;
  /** Reports a failed round (the next kick or tick tries again). */
  onError: (err: unknown) => void;
}

export class BlobCollector {
  readonly #metadata: MetadataStore;
  readonly #blobs: BlobStore;
  readonly #graceMs: number;
  readonly #onError: (err: unknown) => void;
  #running: Promise<void> | undefined;
  #scheduled: NodeJS.Timeout | undefined;
  #again = false;
  #soon: NodeJS.Timeout | undefined;
  #soonAgain = false;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: BlobCollectorOptions) {
    this.#metadata = options.metadata;
    this.#blobs = options.blobs;
    this.#graceMs = options.graceMs;
    this.#onError = options.onError;
  }

  /**
   * Collects once the garbage just queued is collectable: after the grace period (and a
   * short gathering delay). Kicks that arrive while a round is scheduled or running are
   * folded into one more round after it: their garbage is younger than the first round's.
   */
  kick(): void {
    if (this.#stopped) return;
    // What the store queued as collectable at once (metadata-rules.ts collectableAtOnce) goes
    // after the gathering delay alone; the rest after the grace period, below.
    if (this.#graceMs > 0) this.#kickSoon();
    if (this.#scheduled || this.#running) {
      this.#again = true;
      return;
    }
    this.#scheduled = setTimeout(() => {
      this.#scheduled = undefined;
      // The timer may have started a round meanwhile: fold into it.
      if (this.#running) this.#again = true;
      else this.#run();
    }, this.#graceMs + KICK_DELAY_MS);
    this.#scheduled.unref();
  }

  /** A round after the gathering delay (KICK_DELAY_MS); if a round is running then, another one after it. */
  #kickSoon(): void {
    if (this.#soon) return;
    this.#soon = setTimeout(() => {
      this.#soon = undefined;
      if (this.#running) this.#soonAgain = true;
      else this.#run();
    }, KICK_DELAY_MS);
    this.#soon.unref();
  }

  /** Also collects every `intervalMs`, whether kicked or not. */
  start(intervalMs: number): void {
    this.#timer = setInterval(() => {
      if (!this.#running) this.#run();
    }, intervalMs);
    this.#timer.unref();
  }

  /** Deletes everything queued at least a grace period ago. */
  async collect(): Promise<void> {
    for (;;) {
      const ids = await this.#metadata.takeGarbage(BATCH, { minAgeMs: this.#graceMs });
      if (ids.length === 0) return;
      // In groups: small blobs deleted in one turn share a SQLite transaction; files are
      // unlinked side by side on the thread pool.
      for (let i = 0; i < ids.length; i += DELETE_GROUP) await Promise.all(ids.slice(i, i + DELETE_GROUP).map((id) => this.#blobs.delete(id)));
      await this.#metadata.garbageCollected(ids);
    }
  }

  /** Stops the timer and kicks, waits for a running round, and collects once more (what the grace period allows). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    clearTimeout(this.#scheduled);
    this.#scheduled = undefined;
    clearTimeout(this.#soon);
    this.#soon = undefined;
    await this.#running;
    await this.collect().catch(this.#onError);
  }

  #run(): void {
    this.#running = this.collect()
      .catch(this.#onError)
      .finally(() => {
        this.#running = undefined;
        if (this.#soonAgain) {
          this.#soonAgain = false;
          if (!this.#stopped) this.#kickSoon();
        }
        // Garbage queued during the round: another round, after the same gathering delay.
        if (this.#again) {
          this.#again = false;
          this.kick();
        }
      });
  }
}
