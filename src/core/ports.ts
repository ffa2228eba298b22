/**
 * The ports: one interface per boundary, adapters behind them (DuckDB and BigQuery for the
 * warehouse; the embedded topic and Pub/Sub for the topic). The core and the API depend on
 * these interfaces only; `src/runtime.ts` picks the adapters.
 */
import type { DeadLetterReason } from './errors.js';
import type { DeadLetter, StoredRow } from './message.js';
import type { FieldDef, StreamDef } from './schema.js';
import type { StoredValue } from './validate.js';

/** What one warehouse write carries: rows and dead letters, committed together or not at all. */
export interface WriteBatch {
  readonly rows: readonly StoredRow[];
  readonly deadLetters: readonly DeadLetter[];
  /** Epoch microseconds stamped on every row of the batch as `ingest_time`. */
  readonly ingestTime: bigint;
}

/** What a committed write stored. */
export interface WriteResult {
  /**
   * message_ids of rows newly stored; the other rows of the batch were already stored (duplicates).
   * An engine that deduplicates when reading (BigQuery) cannot tell and lists every row.
   */
  readonly inserted: ReadonlySet<string>;
}

/**
 * A failed warehouse operation. `transient` failures (unreachable, locked, out of space) are
 * retried and never acknowledged; permanent ones mean the engine refused the data itself, and
 * ingest then isolates the offending rows into dead letters.
 */
export class WarehouseError extends Error {
  readonly transient: boolean;
  constructor(message: string, transient: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WarehouseError';
    this.transient = transient;
  }
}

/** Filter operators; which apply to which field type is decided in `src/api/query.ts`. */
export type FilterOp = 'eq' | 'in' | 'gt' | 'gte' | 'lt' | 'lte' | 'prefix' | 'is_null' | 'not_null';

/**
 * One filter on a field of the stream, an envelope column, or one attribute. Values are
 * already parsed to the field's stored representation (attribute values are strings), so
 * adapters only bind them as parameters.
 */
export type Filter = FilterTarget &
  (
    | { readonly op: 'eq' | 'gt' | 'gte' | 'lt' | 'lte' | 'prefix'; readonly value: StoredValue }
    | { readonly op: 'in'; readonly values: readonly StoredValue[] }
    | { readonly op: 'is_null' | 'not_null' }
  );

/** What a filter applies to. */
export interface FilterTarget {
  /** The field and its parents, outermost first (`location.site` is [location, site]). */
  readonly chain: readonly FieldDef[];
  /** Set when the filter is on one attribute: chain is then [attributes] and values are strings. */
  readonly attribute?: string;
}

/** A position in (publish_time, message_id) order: the last row of the previous page. */
export interface Keyset {
  readonly publishTime: bigint;
  readonly messageId: string;
}

/** A rows query, already validated against the stream. */
export interface RowQuery {
  /** Inclusive lower bound on publish_time (epoch microseconds). */
  readonly from?: bigint;
  /** Exclusive upper bound on publish_time. */
  readonly to?: bigint;
  readonly filters: readonly Filter[];
  readonly order: 'desc' | 'asc';
  /** Rows strictly after this position in the chosen order. */
  readonly after?: Keyset;
  readonly limit: number;
  /**
   * Top-level columns to return (envelope or stream fields); undefined for all. Adapters always
   * return message_id and publish_time as well (the API needs them for cursors).
   */
  readonly fields?: readonly string[];
}

/**
 * An aggregate function. Percentiles are exact on every engine (linear interpolation between the
 * closest ranks: DuckDB's `quantile_cont`, BigQuery's `PERCENTILE_CONT`).
 */
export type MetricFn = 'count' | 'count_distinct' | 'sum' | 'avg' | 'min' | 'max' | 'percentile';

/** One metric of an aggregate query. */
export interface Metric {
  /** Column name in the result, e.g. `count`, `avg_temperature_c`, `p95_temperature_c`. */
  readonly name: string;
  readonly fn: MetricFn;
  /** The field (chain as in {@link FilterTarget}); absent for `count`. */
  readonly chain?: readonly FieldDef[];
  /** For `percentile`: the fraction, from 0 to 1. */
  readonly fraction?: number;
}

/** An aggregate query, already validated against the stream. */
export interface AggregateQuery {
  readonly from?: bigint;
  readonly to?: bigint;
  readonly filters: readonly Filter[];
  readonly metrics: readonly Metric[];
  /** Time bucket width in microseconds on publish_time, aligned to the Unix epoch; undefined for none. */
  readonly intervalMicros?: bigint;
  /** Up to 3 grouping fields (chains of scalar fields). */
  readonly groupBy: readonly (readonly FieldDef[])[];
  /** Most result rows; the adapter returns at most limit + 1 so that the caller sees an overflow. */
  readonly limit: number;
}

/**
 * What a metric's value is: a count (a number), the sum of an INT64 field (a bigint, which may
 * exceed 64 bits), a value of the field's own stored type (the sum of other numeric fields, min,
 * max), or a double (avg, percentile).
 */
export type MetricKind = 'count' | 'int_sum' | 'value' | 'double';

export function metricKind(m: Metric): MetricKind {
  switch (m.fn) {
    case 'count':
    case 'count_distinct':
      return 'count';
    case 'sum':
      return m.chain![m.chain!.length - 1]!.type === 'INT64' ? 'int_sum' : 'value';
    case 'min':
    case 'max':
      return 'value';
    default:
      return 'double';
  }
}

/**
 * One aggregate result row, in domain values: `time` (the bucket's start, epoch microseconds)
 * when bucketed, each group field by its dotted path as its stored value, each metric by its
 * name as its {@link MetricKind} says. The API serialises it (`src/api/output.ts`).
 */
export type AggregateRow = Readonly<Record<string, StoredValue>>;

/** Time window of {@link Warehouse.windowStats}. */
export interface StatsWindow {
  readonly from: bigint;
  readonly to: bigint;
}

/** Counters of a stream over a window of publish_time. */
export interface WindowStats {
  readonly rowCount: number;
  readonly deadLettersByReason: Readonly<Record<string, number>>;
  /** publish_time → ingest_time lag in milliseconds over the window's rows; null when there is none. */
  readonly freshnessMs: { readonly p50: number; readonly p95: number; readonly p99: number; readonly max: number } | null;
}

/**
 * A row as read back, in domain values: each column by name as its stored value (see
 * {@link StoredValue}: INT64 and TIMESTAMP as bigint, TIMESTAMP in epoch microseconds, DATE in
 * days since the epoch, NUMERIC as canonical decimal text, JSON as its text, RECORD as an object
 * of every member, REPEATED as an array, never null). The API serialises it (`src/api/output.ts`).
 */
export interface ReadRow {
  readonly message_id: string;
  readonly publish_time: bigint;
  readonly [column: string]: StoredValue;
}

/** A dead-letters query. */
export interface DeadLetterQuery {
  readonly from?: bigint;
  readonly to?: bigint;
  readonly reason?: DeadLetterReason;
  readonly after?: Keyset;
  readonly limit: number;
}

/** A dead letter as read back, with its raw payload bytes. */
export interface StoredDeadLetter {
  readonly messageId: string;
  /** Epoch microseconds. */
  readonly publishTime: bigint;
  /** When ingest (last) dead-lettered it, epoch microseconds. */
  readonly deadLetteredAt: bigint;
  readonly reason: string;
  readonly detail: string | null;
  readonly fieldPath: string | null;
  readonly payload: Uint8Array;
  /** The payload's size in bytes, as stored. */
  readonly payloadSize: number;
  readonly attributes: Readonly<Record<string, string>>;
  readonly orderingKey: string | null;
  readonly replayCount: number;
}

/** Counters of a stream. */
export interface StreamStats {
  readonly rowCount: number;
  readonly newestPublishTime: bigint | null;
  readonly deadLetterCount: number;
  /** Newest publish_time in the dead-letter table, or null. */
  readonly newestDeadLetterPublishTime: bigint | null;
}

/** Where ingest writes: rows and dead letters, one batch at a time. */
export interface RowWriter {
  /**
   * Writes a batch atomically; rows whose message_id is already stored are skipped.
   * Throws {@link WarehouseError}.
   */
  write(stream: StreamDef, batch: WriteBatch): Promise<WriteResult>;
}

/** What the read API asks of the rows. */
export interface RowReader {
  /** One page of rows in (publish_time, message_id) order. */
  queryRows(stream: StreamDef, query: RowQuery): Promise<ReadRow[]>;
  /** One row by message_id, or undefined. */
  getRow(stream: StreamDef, messageId: string): Promise<ReadRow | undefined>;
  /**
   * Aggregate rows ordered by time bucket then by group values. Only buckets and groups that
   * have rows; the caller fills empty buckets. Returns at most `limit + 1` rows.
   */
  aggregate(stream: StreamDef, query: AggregateQuery): Promise<AggregateRow[]>;
  stats(stream: StreamDef): Promise<StreamStats>;
  /** Row count, dead letters by reason and freshness over a publish_time window. */
  windowStats(stream: StreamDef, window: StatsWindow): Promise<WindowStats>;
}

/** What the dead-letter API and replay ask of the dead letters. */
export interface DeadLetterStore {
  /** One page of dead letters, newest publish_time first. */
  queryDeadLetters(stream: StreamDef, query: DeadLetterQuery): Promise<StoredDeadLetter[]>;
  /** Dead letters by message_id, oldest publish_time first (missing ids are skipped). */
  getRawDeadLetters(stream: StreamDef, messageIds: readonly string[]): Promise<StoredDeadLetter[]>;
  /** Removes dead letters (after a successful replay); returns how many were removed. */
  deleteDeadLetters(stream: StreamDef, messageIds: readonly string[]): Promise<number>;
}

/**
 * The warehouse port: where rows and dead letters are stored and read, plus its lifecycle.
 * Values are domain values (bigint microseconds, bytes, stored values); the API serialises them.
 */
export interface Warehouse extends RowWriter, RowReader, DeadLetterStore {
  /** `duckdb` or `bigquery` (what `/readyz` reports). */
  readonly engine: string;
  /** Creates (or checks and migrates) the tables of these streams. */
  init(streams: readonly StreamDef[]): Promise<void>;
  /** Resolves when the warehouse answers a trivial query. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Where an adapter logs what an operator should know (pino's signature). */
export interface ObserverLog {
  warn(fields: Readonly<Record<string, unknown>>, message: string): void;
}

/** One metric family as `/metrics` renders it: gauge or counter samples by labels. */
export interface MetricFamily {
  readonly name: string;
  readonly type: 'gauge' | 'counter';
  readonly help: string;
  readonly samples: readonly (readonly [Readonly<Record<string, string>>, number])[];
}

/** Where an adapter publishes its own metrics: a collector read at every scrape. */
export interface MetricsSink {
  collect(collector: () => readonly MetricFamily[]): void;
}

/**
 * What an adapter is given to report its engine-specific state (DuckDB's rollups and index
 * memory): a log and a metrics sink. Both optional: an adapter without them reports nothing.
 */
export interface WarehouseObserver {
  readonly log?: ObserverLog;
  readonly metrics?: MetricsSink;
}

/** A message as a publisher hands it to the topic. */
export interface PublishMessage {
  /** Raw payload bytes. */
  readonly data: Uint8Array;
  readonly attributes?: Readonly<Record<string, string>>;
  readonly orderingKey?: string;
  /**
   * Caller-chosen idempotency key. Publishing the same id twice stores one row; without it the
   * topic assigns a new id. (Pub/Sub carries it in the `tributary-message-id` attribute.)
   */
  readonly messageId?: string;
  /** Why the transport could not decode the data (for example bad base64); dead-lettered as INVALID_ENCODING. */
  readonly undecodable?: string;
}

/** What happened to one published message. */
export interface PublishOutcome {
  readonly messageId: string;
  /**
   * `stored`: written as a row now. `duplicate`: that message_id was already stored.
   * `dead_lettered`: written to the dead-letter table (see reason). `accepted`: the topic has it
   * and ingest will store it asynchronously (Pub/Sub).
   */
  readonly status: 'stored' | 'duplicate' | 'dead_lettered' | 'accepted';
  readonly reason?: DeadLetterReason;
  readonly detail?: string;
  readonly fieldPath?: string | null;
}

/** The topic port: where publishers send messages. */
export interface Topic {
  /** `embedded` or `pubsub`. */
  readonly kind: string;
  /**
   * Publishes to the stream's topic. Resolves with one outcome per message, in order, once the
   * topic has durably accepted them (for the embedded topic: once stored as rows or dead letters).
   */
  publish(stream: StreamDef, messages: readonly PublishMessage[]): Promise<PublishOutcome[]>;
  close(): Promise<void>;
}
