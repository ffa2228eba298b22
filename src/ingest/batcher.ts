import { TributaryError } from '../core/errors.js';

/** Bounds of a micro-batch. */
export interface BatchLimits {
  /** A batch is written as soon as it holds this many items. */
  readonly maxItems: number;
  /** ...or when its first item has waited this long (milliseconds). */
  readonly lingerMs: number;
}

interface Submission<T, R> {
  readonly items: readonly T[];
  readonly resolve: (results: R[]) => void;
  readonly reject: (err: unknown) => void;
}

/**
 * Coalesces concurrent submissions into one flush, bounded by an item count and a linger time.
 * A batch also goes at once when it has as many items as the previous flush (group commit), so
 * closed-loop senders do not pay the linger on every round trip.
 * Each submission's promise settles when the flush that carried it settles, with its own slice
 * of the results. One flush runs at a time; what arrives meanwhile forms the next batch, which
 * is written as soon as the current one finishes (it has already waited at least that long).
 * A submission is never split across flushes.
 */
export class MicroBatcher<T, R> {
  private pending: Submission<T, R>[] = [];
  private pendingItems = 0;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private closed = false;
  /** Items of the last flush; a new batch that reaches this size goes without lingering. */
  private lastFlushItems = Number.POSITIVE_INFINITY;

  constructor(
    private readonly limits: BatchLimits,
    private readonly flush: (items: T[]) => Promise<R[]>,
  ) {}

  /** Queues items; resolves with one result per item, in order, once they are flushed. */
  submit(items: readonly T[]): Promise<R[]> {
    if (this.closed) return Promise.reject(new TributaryError('SHUTTING_DOWN', 'ingest is shutting down and accepts no new messages'));
    if (items.length === 0) return Promise.resolve([]);
    return new Promise<R[]>((resolve, reject) => {
      this.pending.push({ items, resolve, reject });
      this.pendingItems += items.length;
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.running) return;
    // Group commit: once as many items wait as the last flush carried, the senders of that
    // flush have (most likely) all come back, and lingering would only add latency.
    if (this.pendingItems >= this.limits.maxItems || this.limits.lingerMs <= 0 || this.pendingItems >= this.lastFlushItems) {
      this.start();
    } else if (!this.timer) {
      this.timer = setTimeout(() => this.start(), this.limits.lingerMs);
    }
  }

  private start(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.running || this.pending.length === 0) return;
    this.running = this.loop().finally(() => {
      this.running = null;
      // A submission that arrived during the last flush's final await is picked up here.
      if (this.pending.length > 0) this.schedule();
    });
  }

  private async loop(): Promise<void> {
    while (this.pending.length > 0) {
      const batch: Submission<T, R>[] = [];
      let count = 0;
      while (this.pending.length > 0 && (batch.length === 0 || count + this.pending[0]!.items.length <= this.limits.maxItems)) {
        const s = this.pending.shift()!;
        batch.push(s);
        count += s.items.length;
      }
      this.pendingItems -= count;
      this.lastFlushItems = count;
      const items = batch.flatMap((s) => s.items);
      try {
        const results = await this.flush(items);
        let offset = 0;
        for (const s of batch) {
          s.resolve(results.slice(offset, offset + s.items.length));
          offset += s.items.length;
        }
      } catch (err) {
        for (const s of batch) s.reject(err);
      }
    }
  }

  /** Items waiting for a flush (not counting the one being written). */
  get queued(): number {
    return this.pendingItems;
  }

  /** Refuses new submissions and resolves once everything queued has been flushed. */
  async drain(): Promise<void> {
    this.closed = true;
    this.start();
    while (this.running) await this.running;
  }
}
