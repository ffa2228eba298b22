import { TributaryError } from '../core/errors.js';

/** Why a request that asked for room in the body budget got it, or did not. */
export type AdmissionOutcome = 'waited' | 'timed_out';

/** A request waiting for room in the budget. */
interface Waiter {
  readonly bytes: number;
  readonly grant: () => void;
  readonly fail: (err: TributaryError) => void;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Bounds the request body bytes the server holds at once. A request body costs far more memory
 * than its size while it is handled (the buffer, its text, the parsed tree, the decoded payloads
 * and the dead letters exist at once), so a few large bodies in flight could take the process
 * well past its memory target. A request with a body reserves its declared size (or the body
 * limit when it declares none) before the body is read, and frees it when its answer is sent.
 * What does not fit waits, unread (TCP holds the rest of the body back), first come first
 * served, for at most `waitMs`, then is refused with 503 OVERLOADED. A request that is alone
 * always fits, so a body up to the body limit is always accepted.
 */
export class BodyBudget {
  private used = 0;
  private readonly queue: Waiter[] = [];
  private readonly counts: Record<AdmissionOutcome, number> = { waited: 0, timed_out: 0 };

  constructor(
    /** Bytes of request bodies held at once, at most (a lone request may exceed it). */
    readonly capacity: number,
    /** Longest a request waits for room before 503 OVERLOADED, in milliseconds. */
    readonly waitMs: number,
  ) {}

  /** Bytes reserved by the requests in flight. */
  get inFlight(): number {
    return this.used;
  }

  /** Requests waiting for room. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Requests that had to wait, by how it ended, since start. */
  get outcomes(): Readonly<Record<AdmissionOutcome, number>> {
    return this.counts;
  }

  /**
   * Reserves `bytes`. Returns the release function at once when they fit and nobody waits;
   * otherwise a promise of it, which rejects with OVERLOADED after `waitMs`, or with the error
   * given to the returned `cancel` (the client went away).
   */
  reserve(bytes: number): { release: () => void } | { pending: Promise<() => void>; cancel: () => void } {
    if (this.queue.length === 0 && this.fits(bytes)) {
      this.used += bytes;
      return { release: this.releaser(bytes) };
    }
    let waiter: Waiter | undefined;
    const pending = new Promise<() => void>((resolve, reject) => {
      waiter = {
        bytes,
        grant: () => resolve(this.releaser(bytes)),
        fail: reject,
        timer: undefined,
      };
      const w = waiter;
      w.timer = setTimeout(() => {
        this.remove(w);
        this.counts.timed_out++;
        reject(
          new TributaryError('OVERLOADED', `the server is handling as many request bodies as it may hold at once (--max-body-bytes-in-flight ${this.capacity}) and this one waited ${this.waitMs / 1000} s for room; retry in a moment`, {
            retryAfterSeconds: 1,
          }),
        );
      }, this.waitMs);
      this.queue.push(w);
    });
    return {
      pending,
      cancel: () => {
        if (waiter && this.remove(waiter)) {
          clearTimeout(waiter.timer);
          waiter.fail(new TributaryError('INVALID_REQUEST', 'the client closed the connection while its request waited'));
        }
      },
    };
  }

  private fits(bytes: number): boolean {
    return this.used === 0 || this.used + bytes <= this.capacity;
  }

  private remove(w: Waiter): boolean {
    const i = this.queue.indexOf(w);
    if (i < 0) return false;
    this.queue.splice(i, 1);
    // The head may have been what held the others back.
    this.admit();
    return true;
  }

  private releaser(bytes: number): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= bytes;
      this.admit();
    };
  }

  /** Admits waiters in order while the head fits. */
  private admit(): void {
    while (this.queue.length > 0 && this.fits(this.queue[0]!.bytes)) {
      const w = this.queue.shift()!;
      clearTimeout(w.timer);
      this.used += w.bytes;
      this.counts.waited++;
      w.grant();
    }
  }
}
