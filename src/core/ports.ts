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

/** An aggregate function. Percentiles are approximate where the engine approximates. */
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
 * One aggregate result row: `time` (bucket start, RFC 3339) when bucketed, each group field by
 * its dotted path, each metric by its name, all in the API's JSON form.
 */
export type AggregateRow = Record<string, unknown>;

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

/** A dead letter with its raw bytes, as replay needs it. */
export interface RawDeadLetter {
  readonly messageId: string;
  readonly publishTime: bigint;
  readonly reason: string;
  readonly payload: Uint8Array;
  readonly attributes: Readonly<Record<string, string>>;
  readonly orderingKey: string | null;
  readonly replayCount: number;
}

/** A row as the API returns it: JSON-safe (INT64 and NUMERIC as strings, timestamps RFC 3339). */
export type ApiRow = Record<string, unknown>;

/** A dead-letters query. */
export interface DeadLetterQuery {
  readonly from?: bigint;
  readonly to?: bigint;
  readonly reason?: DeadLetterReason;
  readonly after?: Keyset;
  readonly limit: number;
}

/** A dead letter as the API returns it. */
export interface ApiDeadLetter {
  message_id: string;
  publish_time: string;
  dead_lettered_at: string;
  reason: string;
  detail: string | null;
  field_path: string | null;
  /** The payload as text when it is valid UTF-8, else null (see payload_base64). */
  payload: string | null;
  payload_base64: string;
  payload_size: number;
  attributes: Record<string, string>;
  ordering_key: string | null;
  replay_count: number;
}

/** Counters of a stream. */
/** See {@link Warehouse.derivedStatus}. */
export interface DerivedStatus {
  readonly rollups: readonly {
    readonly stream: string;
    /** ingest_time of the newest row written minus that of the newest row folded in, in seconds (0: caught up). */
    readonly lagSeconds: number;
    /** Folds that failed since the process started (each is retried after the next write). */
    readonly failures: number;
    /** Whether the last fold failed. Answers stay correct meanwhile: rows not folded in are scanned. */
    readonly failing: boolean;
  }[];
  /** Aggregates answered since start, by how: from the rollups, or by scanning the rows. */
  readonly aggregates: { readonly rollup: number; readonly scan: number };
  /**
   * The message_id indexes (derived from the rows too: they are how duplicates are refused) and
   * the memory limit they raise; present when the engine keeps them in a bounded memory (DuckDB
   * with a memory limit).
   */
  readonly memory?: {
    /** The configured limit, in bytes. */
    readonly configuredLimitBytes: number;
    /** The limit in force: the configured one, raised by the indexes beyond half of it. */
    readonly limitBytes: number;
    /** Memory the indexes take, in bytes: the largest reading since start (read at most once a second, after writes). */
    readonly indexBytes: number;
  };
}

export interface StreamStats {
  readonly rowCount: number;
  readonly newestPublishTime: bigint | null;
  readonly deadLetterCount: number;
  /** Newest publish_time in the dead-letter table, or null. */
  readonly newestDeadLetterPublishTime: bigint | null;
}

/** The warehouse port: where rows and dead letters are stored and read. */
export interface Warehouse {
  /** `duckdb` or `bigquery`. */
  readonly engine: string;
  /** Creates (or checks and migrates) the tables of these streams. */
  init(streams: readonly StreamDef[]): Promise<void>;
  /**
   * Writes a batch atomically; rows whose message_id is already stored are skipped.
   * Throws {@link WarehouseError}.
   */
  write(stream: StreamDef, batch: WriteBatch): Promise<WriteResult>;
  /** One page of rows in (publish_time, message_id) order. */
  queryRows(stream: StreamDef, query: RowQuery): Promise<ApiRow[]>;
  /** One row by message_id, or undefined. */
  getRow(stream: StreamDef, messageId: string): Promise<ApiRow | undefined>;
  /** One page of dead letters, newest publish_time first. */
  queryDeadLetters(stream: StreamDef, query: DeadLetterQuery): Promise<ApiDeadLetter[]>;
  stats(stream: StreamDef): Promise<StreamStats>;
  /** Row count, dead letters by reason and freshness over a publish_time window. */
  windowStats(stream: StreamDef, window: StatsWindow): Promise<WindowStats>;
  /**
   * Aggregate rows ordered by time bucket then by group values. Only buckets and groups that
   * have rows; the caller fills empty buckets. Returns at most `limit + 1` rows.
   */
  aggregate(stream: StreamDef, query: AggregateQuery): Promise<AggregateRow[]>;
  /** One dead letter by message_id, or undefined. */
  getDeadLetter(stream: StreamDef, messageId: string): Promise<ApiDeadLetter | undefined>;
  /** Dead letters with their raw payloads, by message_id (missing ids are skipped). */
  getRawDeadLetters(stream: StreamDef, messageIds: readonly string[]): Promise<RawDeadLetter[]>;
  /** Removes dead letters (after a successful replay); returns how many were removed. */
  deleteDeadLetters(stream: StreamDef, messageIds: readonly string[]): Promise<number>;
  /** Resolves when the warehouse answers a trivial query. */
  ping(): Promise<void>;
  /**
   * The state of what the warehouse derives from the rows to answer reads faster (DuckDB's
   * minute rollups), per stream; for `/metrics`. Absent when it derives nothing (BigQuery).
   */
  derivedStatus?(): DerivedStatus;
  close(): Promise<void>;
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
