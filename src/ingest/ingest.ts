import { type DeadLetterReason, TributaryError } from '../core/errors.js';
import { type DeadLetter, type InboundMessage, type Prepared, prepareMessage, type StoredRow } from '../core/message.js';
import { type PublishOutcome, type Warehouse, WarehouseError, type WriteResult } from '../core/ports.js';
import type { StreamDef } from '../core/schema.js';
import { nowMicros } from '../core/time.js';
import { compileValidator, type Validator } from '../core/validate.js';
import { MicroBatcher } from './batcher.js';

/** Ingest settings (from the typed configuration). */
export interface IngestOptions {
  /** Largest micro-batch, in messages. */
  readonly batchMaxRows: number;
  /** Largest micro-batch, in payload bytes (a request's messages are never split, so one request may exceed it). */
  readonly batchMaxBytes?: number;
  /** How long the first message of a batch may wait for company, in milliseconds. */
  readonly batchLingerMs: number;
  /** After a write, how long the next batch may wait for the senders just answered (ms; 0: not at all). See BatchLimits.regroupMs. */
  readonly batchRegroupMs?: number;
  /** Largest payload in bytes, unless the stream sets its own. */
  readonly maxMessageBytes: number;
  /** How long a batch keeps retrying a transient warehouse failure before giving up (ms). */
  readonly writeRetryMs: number;
}

/** What one committed batch did; for metrics and logs. */
export interface BatchReport {
  readonly stream: string;
  readonly messages: number;
  readonly inserted: number;
  readonly duplicates: number;
  readonly deadLettered: Partial<Record<DeadLetterReason, number>>;
  readonly writeMs: number;
  readonly attempts: number;
  /** publish_time → ingest_time lag of each stored row, in milliseconds. */
  readonly lagsMs: readonly number[];
}

export interface IngestDeps {
  readonly warehouse: Warehouse;
  readonly options: IngestOptions;
  /** Called after every committed batch. */
  readonly onBatch?: (report: BatchReport) => void;
  /** Called when a transient failure is retried or gives up. */
  readonly onWriteError?: (stream: string, err: unknown, willRetry: boolean) => void;
}

/** What a prepared message weighs against `batchMaxBytes`: its payload, plus its row's overhead. */
function weigh(p: Prepared): number {
  return (p.kind === 'row' ? p.row.payload.length : p.deadLetter.payload.length) + 256;
}

/**
 * The ingest pipeline shared by every transport: decode, validate, micro-batch, write, and
 * answer each message only once its row or dead letter is committed. Invalid messages become
 * dead letters (acknowledged); a transient warehouse failure rejects the whole batch with
 * WAREHOUSE_UNAVAILABLE so that nothing is acknowledged and the sender retries.
 */
export class Ingest {
  private readonly validators = new Map<string, Validator>();
  private readonly batchers = new Map<string, MicroBatcher<Prepared, PublishOutcome>>();

  constructor(private readonly deps: IngestDeps) {}

  /** Decodes and validates one message without storing it. */
  prepare(stream: StreamDef, msg: InboundMessage, replayCount = 0): Prepared {
    let validate = this.validators.get(stream.name);
    if (!validate) {
      validate = compileValidator(stream);
      this.validators.set(stream.name, validate);
    }
    return prepareMessage(stream, validate, msg, this.deps.options.maxMessageBytes, replayCount);
  }

  /** Ingests messages of one stream; resolves with one outcome per message once committed. */
  ingest(stream: StreamDef, messages: readonly InboundMessage[]): Promise<PublishOutcome[]> {
    return this.submit(stream, messages.map((m) => this.prepare(stream, m)));
  }

  /** Queues already prepared messages (used by replay). */
  submit(stream: StreamDef, prepared: readonly Prepared[]): Promise<PublishOutcome[]> {
    let batcher = this.batchers.get(stream.name);
    if (!batcher) {
      batcher = new MicroBatcher<Prepared, PublishOutcome>(
        { maxItems: this.deps.options.batchMaxRows, maxBytes: this.deps.options.batchMaxBytes, lingerMs: this.deps.options.batchLingerMs, regroupMs: this.deps.options.batchRegroupMs ?? 0 },
        (items) => this.flush(stream, items),
        weigh,
      );
      this.batchers.set(stream.name, batcher);
    }
    return batcher.submit(prepared);
  }

  /** Messages waiting for a batch, over all streams. */
  get queued(): number {
    let n = 0;
    for (const b of this.batchers.values()) n += b.queued;
    return n;
  }

  /** Stops taking messages and waits until every queued batch is written. */
  async drain(): Promise<void> {
    await Promise.all([...this.batchers.values()].map((b) => b.drain()));
  }

  private async flush(stream: StreamDef, items: Prepared[]): Promise<PublishOutcome[]> {
    const rows: StoredRow[] = [];
    const deadLetters: DeadLetter[] = [];
    const seenRows = new Set<string>();
    const seenDead = new Set<string>();
    for (const p of items) {
      if (p.kind === 'row') {
        if (!seenRows.has(p.row.messageId)) {
          seenRows.add(p.row.messageId);
          rows.push(p.row);
        }
      } else if (!seenDead.has(p.deadLetter.messageId)) {
        seenDead.add(p.deadLetter.messageId);
        deadLetters.push(p.deadLetter);
      }
    }
    const started = performance.now();
    const ingestTime = nowMicros();
    const { result, rejected, attempts } = await this.writeWithRetry(stream, rows, deadLetters, ingestTime);
    const writeMs = performance.now() - started;

    const outcomes: PublishOutcome[] = [];
    const firstSeen = new Set<string>();
    const reasons: Partial<Record<DeadLetterReason, number>> = {};
    let inserted = 0;
    let duplicates = 0;
    const lagsMs: number[] = [];
    for (const p of items) {
      if (p.kind === 'dead') {
        const d = p.deadLetter;
        reasons[d.reason] = (reasons[d.reason] ?? 0) + 1;
        outcomes.push({ messageId: d.messageId, status: 'dead_lettered', reason: d.reason, detail: d.detail, fieldPath: d.fieldPath });
        continue;
      }
      const id = p.row.messageId;
      const rej = rejected.get(id);
      if (rej) {
        reasons[rej.reason] = (reasons[rej.reason] ?? 0) + 1;
        outcomes.push({ messageId: id, status: 'dead_lettered', reason: rej.reason, detail: rej.detail, fieldPath: null });
      } else if (result.inserted.has(id) && !firstSeen.has(id)) {
        firstSeen.add(id);
        inserted++;
        lagsMs.push(Number(ingestTime - p.row.publishTime) / 1000);
        outcomes.push({ messageId: id, status: 'stored' });
      } else {
        duplicates++;
        outcomes.push({ messageId: id, status: 'duplicate' });
      }
    }
    this.deps.onBatch?.({ stream: stream.name, messages: items.length, inserted, duplicates, deadLettered: reasons, writeMs, attempts, lagsMs });
    return outcomes;
  }

  /**
   * Writes the batch, retrying transient failures with exponential backoff within the retry
   * budget. When the engine refuses the batch permanently, the batch is bisected until the refused
   * rows stand alone, so that only they become WAREHOUSE_REJECTED dead letters and their
   * batch-mates are stored.
   */
  private async writeWithRetry(
    stream: StreamDef,
    rows: StoredRow[],
    deadLetters: DeadLetter[],
    ingestTime: bigint,
  ): Promise<{ result: WriteResult; rejected: Map<string, DeadLetter>; attempts: number }> {
    const { warehouse, options } = this.deps;
    const deadline = performance.now() + options.writeRetryMs;
    let delay = 25;
    for (let attempt = 1; ; attempt++) {
      try {
        try {
          const result = await warehouse.write(stream, { rows, deadLetters, ingestTime });
          return { result, rejected: new Map(), attempts: attempt };
        } catch (err) {
          if (err instanceof WarehouseError && !err.transient) {
            return { ...(await this.isolateRejected(stream, rows, deadLetters, ingestTime)), attempts: attempt };
          }
          throw err;
        }
      } catch (err) {
        const transient = !(err instanceof WarehouseError) || err.transient;
        const willRetry = transient && performance.now() + delay < deadline;
        this.deps.onWriteError?.(stream.name, err, willRetry);
        if (!willRetry) {
          throw new TributaryError('WAREHOUSE_UNAVAILABLE', `could not write to the warehouse (stream "${stream.name}"); nothing was acknowledged, retry later`, undefined, { cause: err });
        }
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 1000);
      }
    }
  }

  private async isolateRejected(
    stream: StreamDef,
    rows: StoredRow[],
    deadLetters: DeadLetter[],
    ingestTime: bigint,
  ): Promise<{ result: WriteResult; rejected: Map<string, DeadLetter> }> {
    const { warehouse } = this.deps;
    const inserted = new Set<string>();
    const rejected = new Map<string, DeadLetter>();
    // Bisect: a refused part is split in halves until the refused rows stand alone, so one bad
    // row in a batch of n costs about 2·log2(n) writes instead of n (each a network call on BigQuery).
    const attempt = async (part: StoredRow[]): Promise<void> => {
      try {
        const r = await warehouse.write(stream, { rows: part, deadLetters: [], ingestTime });
        for (const id of r.inserted) inserted.add(id);
      } catch (err) {
        if (!(err instanceof WarehouseError) || err.transient) throw err;
        if (part.length > 1) {
          const mid = Math.ceil(part.length / 2);
          await attempt(part.slice(0, mid));
          await attempt(part.slice(mid));
          return;
        }
        const row = part[0]!;
        rejected.set(row.messageId, {
          messageId: row.messageId,
          publishTime: row.publishTime,
          reason: 'WAREHOUSE_REJECTED',
          detail: err.message,
          fieldPath: null,
          payload: row.payload,
          attributes: row.attributes,
          orderingKey: row.orderingKey,
          replayCount: 0,
        });
      }
    };
    // The whole batch was refused already: start from its halves.
    if (rows.length > 1) {
      const mid = Math.ceil(rows.length / 2);
      await attempt(rows.slice(0, mid));
      await attempt(rows.slice(mid));
    } else if (rows.length === 1) {
      await attempt(rows);
    }
    await warehouse.write(stream, { rows: [], deadLetters: [...deadLetters, ...rejected.values()], ingestTime });
    return { result: { inserted }, rejected };
  }
}
