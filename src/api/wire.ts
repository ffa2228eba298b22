/**
 * JSON bodies of the API, as the routes build them and the web console reads them. Types only,
 * with no imports: the console's TypeScript project (`web/tsconfig.json`: DOM types, no Node
 * types) checks against this file as it is, so the console cannot drift from what the server
 * sends. The OpenAPI schemas (`schemas.ts`) describe the same bodies to other clients.
 */

/** A dead letter as the API returns it (`GET .../dead-letters`, `GET .../dead-letters/{id}`). */
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

/** A page of `GET /v1/streams/{stream}/dead-letters` (JSON), newest first. */
export interface ApiDeadLettersPage {
  readonly deadLetters: readonly ApiDeadLetter[];
  readonly nextCursor: string | null;
  readonly next: string | null;
}

/** `GET /v1/streams`: the streams the API key may read. */
export interface ApiStreamList {
  readonly streams: readonly ApiStreamSummary[];
}

/** A field of a stream's schema, as `GET /v1/streams/{stream}` lists it (`fields`, `envelope`). */
export interface ApiField {
  readonly name: string;
  /** STRING, INT64, FLOAT64, NUMERIC, BOOL, TIMESTAMP, DATE, JSON or RECORD. */
  readonly type: string;
  /** NULLABLE, REQUIRED or REPEATED. */
  readonly mode: string;
  readonly description?: string;
  /** The sub-fields of a RECORD. */
  readonly fields?: readonly ApiField[];
}

/** A stream in `GET /v1/streams` (and the first part of `GET /v1/streams/{stream}`). */
export interface ApiStreamSummary {
  readonly name: string;
  readonly description: string;
  readonly rowCount: number;
  readonly deadLetterCount: number;
  /** RFC 3339, or null while the stream has no row. */
  readonly newestPublishTime: string | null;
  readonly links: {
    readonly self: string;
    readonly rows: string;
    readonly aggregate: string;
    readonly stats: string;
    readonly deadLetters: string;
    readonly publish: string;
  };
}

/** `GET /v1/streams/{stream}`: the summary, the schema and the fields the API filters on. */
export interface ApiStreamDetail extends ApiStreamSummary {
  readonly unknownFields: 'reject' | 'drop';
  readonly clustering: readonly string[];
  readonly maxMessageBytes: number;
  readonly envelope: readonly ApiField[];
  readonly fields: readonly ApiField[];
  /** Dotted paths of the fields the rows and aggregate routes filter on. */
  readonly filterable: readonly string[];
}

/** A page of `GET /v1/streams/{stream}/rows` (JSON): rows in the API's JSON form. */
export interface ApiRowsPage {
  readonly rows: readonly Record<string, unknown>[];
  readonly nextCursor: string | null;
  /** The next page's path and query, or null on the last page. */
  readonly next: string | null;
}

/** `GET /v1/streams/{stream}/stats`. */
export interface ApiStats {
  readonly stream: string;
  readonly rowCount: number;
  readonly deadLetterCount: number;
  readonly newestPublishTime: string | null;
  readonly window: {
    readonly from: string;
    readonly to: string;
    readonly rowCount: number;
    readonly deadLettersByReason: Readonly<Record<string, number>>;
    /** Publish -> stored latency of the window's rows, or null without rows. */
    readonly freshnessMs: { readonly p50: number; readonly p95: number; readonly p99: number; readonly max: number } | null;
  };
}

/** `GET /v1/streams/{stream}/aggregate` (JSON). */
export interface ApiAggregate {
  /** The `interval` asked for, or null without time buckets. */
  readonly interval: string | null;
  readonly groupBy: readonly string[];
  readonly metrics: readonly string[];
  /** `time` (RFC 3339), the groups and the metrics, by name. */
  readonly rows: readonly Record<string, unknown>[];
}

/** The outcome of one published (or replayed) message. */
export interface ApiPublishResult {
  readonly messageId: string;
  readonly status: 'stored' | 'duplicate' | 'dead_lettered' | 'accepted';
  /** The dead-letter reason (docs/errors.md#dead-letter-reasons). */
  readonly reason?: string;
  readonly detail?: string;
  readonly fieldPath?: string | null;
}

/** `POST /v1/streams/{stream}/messages`. */
export interface ApiPublishAnswer {
  readonly messageIds: readonly string[];
  readonly counts: { readonly stored: number; readonly duplicate: number; readonly dead_lettered: number; readonly accepted: number };
  readonly results: readonly ApiPublishResult[];
}

/** `POST /v1/streams/{stream}/dead-letters/replay` and `.../dead-letters/{id}/replay`. */
export interface ApiReplayAnswer {
  readonly replayed: number;
  readonly stored: number;
  readonly duplicates: number;
  readonly failed: number;
  /** Requested ids that are not in the dead-letter table. */
  readonly notFound: readonly string[];
  /** True when a replay by reason stopped at the per-request maximum with more left. */
  readonly remaining: boolean;
  readonly results: readonly ApiPublishResult[];
}
