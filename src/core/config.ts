import { resolve } from 'node:path';
import { TributaryError } from './errors.js';
import { parseSize } from './size.js';

/** Requests per window when --rate-limit-requests is not given and the server is exposed. */
export const DEFAULT_RATE_LIMIT = 1200;

/**
 * Default `--duckdb-memory-limit`. Until the cache of table blocks was trimmed
 * ({@link DEFAULT_DUCKDB_CACHE_LIMIT}), DuckDB kept the blocks it had written up to this limit:
 * 8M rows of batched ingest in 120 s peaked at 540 MiB RSS with 256MB and 478 MiB with 192MB
 * under Node.js 20 (529 MiB under Node.js 22). Reads and aggregates at 10M rows measured the same
 * with both; 128MB failed heavy aggregates (docs/performance.md, "Memory", "2026-12-07").
 */
export const DEFAULT_DUCKDB_MEMORY_LIMIT = '192MB';

/**
 * Default `--duckdb-cache-limit`, in bytes (64MB). DuckDB keeps the table blocks it has written or
 * read up to its memory limit; the file's blocks are in the operating system's page cache as well,
 * so the adapter trims DuckDB's copy back to this size (src/warehouse/duckdb/memory.ts) and the
 * rest of the memory limit stays for queries (docs/performance.md, "Memory").
 */
export const DEFAULT_DUCKDB_CACHE_LIMIT = 64 * 1000 ** 2;

/**
 * Default `--duckdb-read-priority-ms` (and of the DuckDB adapter's `readPriorityMs`). A read that
 * shares the 2 cores with a write took about twice as long; letting writes wait for the reads in
 * progress (a read of the rows API takes 4 to 7 ms at 100k rows) kept reads during ingest closer
 * to reads alone (docs/performance.md).
 */
export const DEFAULT_DUCKDB_READ_PRIORITY_MS = 20;

/** Log levels, as pino names them. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * The typed configuration of a Tributary process, parsed once at start-up by
 * {@link parseConfig} and frozen. Every setting has a flag, an environment variable and a
 * default; `docs/configuration.md` lists them all (a test checks it).
 */
export interface Config {
  /** Address the HTTP server binds. */
  readonly host: string;
  /** TCP port of the HTTP server. */
  readonly port: number;
  /** Directory of the DuckDB database file. */
  readonly dataDir: string;
  /** Directory of the stream definitions (`<stream>.json`). */
  readonly streamsDir: string;
  /** Largest micro-batch written in one transaction, in messages. */
  readonly batchMaxRows: number;
  /** Largest micro-batch, in payload bytes (one request's messages are never split). */
  readonly batchMaxBytes: number;
  /** Longest a message waits for batch-mates, in milliseconds. */
  readonly batchLingerMs: number;
  /** After a write, how long the next batch may wait for the senders just answered, in milliseconds; undefined: by mode (runtime.ts). */
  readonly batchRegroupMs: number | undefined;
  /** How long ingest retries a transient warehouse failure before answering 503, in milliseconds. */
  readonly writeRetryMs: number;
  /** Largest HTTP request body, in bytes. */
  readonly bodyLimitBytes: number;
  /** Request body bytes held at once, at most (a lone request may exceed it); see BodyBudget. */
  readonly maxBodyBytesInFlight: number;
  /** Largest message payload, in bytes (a stream may set its own). */
  readonly maxMessageBytes: number;
  /** Most messages in one publish request. */
  readonly maxMessagesPerRequest: number;
  /** Rows per page when `limit` is not given. */
  readonly defaultPageSize: number;
  /** Largest `limit` a client may ask for. */
  readonly maxPageSize: number;
  /** DuckDB memory_limit (e.g. `1GB`; default {@link DEFAULT_DUCKDB_MEMORY_LIMIT}), or undefined for DuckDB's default. */
  readonly duckdbMemoryLimit: string | undefined;
  /** DuckDB's cache of table blocks is trimmed back to this many bytes (default {@link DEFAULT_DUCKDB_CACHE_LIMIT}); at or above the memory limit, never. */
  readonly duckdbCacheLimit: number;
  /** DuckDB threads, or undefined for one per core. */
  readonly duckdbThreads: number | undefined;
  /** How long a DuckDB write waits for the reads in progress before it starts (ms; 0: not at all). */
  readonly duckdbReadPriorityMs: number;
  readonly logLevel: LogLevel;
  /** `embedded` (DuckDB + in-process topic) or `gcp` (BigQuery + Pub/Sub). */
  readonly mode: Mode;
  /** Google Cloud project of the BigQuery dataset and the Pub/Sub topics (gcp mode). */
  readonly gcpProject: string | undefined;
  /** Region of the deployment; also the BigQuery dataset location (gcp mode). */
  readonly gcpRegion: string | undefined;
  /** BigQuery dataset holding one table per stream and `<stream>_dead_letters` (gcp mode). */
  readonly bigqueryDataset: string | undefined;
  /** BigQuery REST endpoint override (an emulator), e.g. http://127.0.0.1:9050; undefined for Google's. */
  readonly bigqueryApiEndpoint: string | undefined;
  /** `maximumBytesBilled` of every BigQuery query. */
  readonly bigqueryMaxBytesBilled: number;
  /** How far back a BigQuery read looks when the request gives no `from` (days). */
  readonly bigqueryLookbackDays: number;
  /** Pub/Sub topic of a stream: this prefix + the stream name (gcp mode). */
  readonly pubsubTopicPrefix: string | undefined;
  /** Subscription the pull worker reads: topic name + this suffix. */
  readonly pubsubSubscriptionSuffix: string;
  /** Pub/Sub emulator (host:port); undefined for Google's endpoint. */
  readonly pubsubEmulatorHost: string | undefined;
  /** Pub/Sub publisher batching: most messages per publish request. */
  readonly pubsubBatchMaxMessages: number;
  /** Pub/Sub publisher batching: longest a message waits for batch-mates (ms). */
  readonly pubsubBatchMaxMs: number;
  /** Reads running longer are stopped with QUERY_TIMEOUT, in milliseconds; 0 for no limit. */
  readonly queryTimeoutMs: number;
  /** Most rows one aggregate may return (groups times time buckets). */
  readonly maxAggregateRows: number;
  /** Largest limit of a streamed (NDJSON or CSV) rows answer. */
  readonly maxExportRows: number;
  /** Longest publish_time range of a rows or aggregate query, in days; 0 for no limit. */
  readonly maxTimeRangeDays: number;
  /** Most dead letters one replay request replays. */
  readonly maxReplay: number;
  /** JSON file of hashed API keys (see docs/auth.md), or undefined. */
  readonly apiKeysFile: string | undefined;
  /** Hashed API keys inline, in the keys file's JSON form, or undefined. */
  readonly apiKeys: string | undefined;
  /** Allows serving without API keys on a non-loopback address. */
  readonly allowUnauthenticated: boolean;
  /**
   * Requests per key (or per IP without a key) per window; 0 disables rate limiting; undefined
   * for the default: {@link DEFAULT_RATE_LIMIT} on a non-loopback address, off on loopback.
   */
  readonly rateLimitRequests: number | undefined;
  /** Length of the rate-limit window, in seconds. */
  readonly rateLimitWindowSeconds: number;
  /** How long after its end a time range is considered closed (cacheable), in seconds. */
  readonly closedRangeGraceSeconds: number;
  /** Google Cloud project for trace ids in logs, or undefined. */
  readonly traceProject: string | undefined;
}

/** Which adapters a process runs on. */
export const MODES = ['embedded', 'gcp'] as const;
export type Mode = (typeof MODES)[number];

type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

interface Setting<K extends keyof Config> {
  readonly key: K;
  readonly flag: string;
  readonly env: readonly string[];
  readonly default: Config[K];
  readonly doc: string;
  readonly parse: (raw: string) => Parsed<Config[K]>;
}

function int(min: number, max: number) {
  return (raw: string): Parsed<number> => {
    if (!/^\d+$/.test(raw.trim())) return { ok: false, problem: `expected a whole number from ${min} to ${max}, got "${raw}"` };
    const n = Number(raw);
    return n >= min && n <= max ? { ok: true, value: n } : { ok: false, problem: `expected a whole number from ${min} to ${max}, got ${n}` };
  };
}

function bytes(min: number, max: number) {
  return (raw: string): Parsed<number> => {
    const n = parseSize(raw);
    if (n === undefined) return { ok: false, problem: `expected a size such as 1048576, 512KiB or 10MB, got "${raw}"` };
    return n >= min && n <= max ? { ok: true, value: n } : { ok: false, problem: `expected a size from ${min} to ${max} bytes, got ${n}` };
  };
}

function text(raw: string): Parsed<string> {
  return raw.trim() ? { ok: true, value: raw.trim() } : { ok: false, problem: 'must not be empty' };
}

function oneOf<T extends string>(values: readonly T[]) {
  return (raw: string): Parsed<T> => ((values as readonly string[]).includes(raw.trim()) ? { ok: true, value: raw.trim() as T } : { ok: false, problem: `expected one of ${values.join(', ')}, got "${raw}"` });
}

function httpUrl(raw: string): Parsed<string> {
  const v = raw.trim().replace(/\/+$/, '');
  return /^https?:\/\/[^\s/]+$/.test(v) ? { ok: true, value: v } : { ok: false, problem: `expected an http(s) base URL such as http://127.0.0.1:9050, got "${raw}"` };
}

function hostPort(raw: string): Parsed<string> {
  const v = raw.trim();
  return /^[^\s/:]+:\d{1,5}$/.test(v) ? { ok: true, value: v } : { ok: false, problem: `expected host:port such as 127.0.0.1:8085, got "${raw}"` };
}

function pattern(re: RegExp, what: string) {
  return (raw: string): Parsed<string> => (re.test(raw.trim()) ? { ok: true, value: raw.trim() } : { ok: false, problem: `expected ${what}, got "${raw}"` });
}

function bool(raw: string): Parsed<boolean> {
  const v = raw.trim().toLowerCase();
  if (['true', '1', 'yes'].includes(v)) return { ok: true, value: true };
  if (['false', '0', 'no'].includes(v)) return { ok: true, value: false };
  return { ok: false, problem: `expected true or false, got "${raw}"` };
}

function optional<T>(p: (raw: string) => Parsed<T>) {
  return (raw: string): Parsed<T | undefined> => (raw.trim() === '' ? { ok: true, value: undefined } : p(raw));
}

/** Every setting; the single table behind parsing, `--help` and the docs check. */
export const SETTINGS = [
  { key: 'host', flag: '--host', env: ['TRIBUTARY_HOST'], default: '127.0.0.1', doc: 'Address the HTTP server binds. Use 0.0.0.0 in a container.', parse: text },
  { key: 'port', flag: '--port', env: ['TRIBUTARY_PORT', 'PORT'], default: 8080, doc: 'TCP port of the HTTP server (Cloud Run sets PORT).', parse: int(0, 65535) },
  { key: 'dataDir', flag: '--data-dir', env: ['TRIBUTARY_DATA_DIR'], default: './data', doc: 'Directory of the DuckDB database file (tributary.duckdb).', parse: text },
  { key: 'streamsDir', flag: '--streams-dir', env: ['TRIBUTARY_STREAMS_DIR'], default: './streams', doc: 'Directory of the stream definitions, one <stream>.json each.', parse: text },
  { key: 'batchMaxRows', flag: '--batch-max-rows', env: ['TRIBUTARY_BATCH_MAX_ROWS'], default: 1000, doc: 'Largest micro-batch written in one transaction, in messages.', parse: int(1, 100_000) },
  { key: 'batchMaxBytes', flag: '--batch-max-bytes', env: ['TRIBUTARY_BATCH_MAX_BYTES'], default: 16 * 1024 * 1024, doc: 'Largest micro-batch in payload bytes (bytes, or with a unit: 16MiB), so that one write never holds more than this much data in the warehouse at once: a burst of large messages is written in several batches instead of one that would exceed DuckDB\'s memory limit. The messages of one request are never split, so one request may exceed it.', parse: bytes(64 * 1024, 1024 * 1024 * 1024) },
  { key: 'batchLingerMs', flag: '--batch-linger-ms', env: ['TRIBUTARY_BATCH_LINGER_MS'], default: 5, doc: 'Longest a message waits for batch-mates before its batch is written, in milliseconds.', parse: int(0, 10_000) },
  { key: 'batchRegroupMs', flag: '--batch-regroup-ms', env: ['TRIBUTARY_BATCH_REGROUP_MS'], default: undefined, doc: 'After a batch is written, how long the next one may wait for the senders just answered, so that a steady set of concurrent deliveries is written as one batch, in milliseconds (default: 40 in gcp mode, where every BigQuery write has a high fixed cost; 0 in embedded mode, where overlapping cheap DuckDB writes with request handling matters more).', parse: optional(int(0, 10_000)) },
  { key: 'writeRetryMs', flag: '--write-retry-ms', env: ['TRIBUTARY_WRITE_RETRY_MS'], default: 5000, doc: 'How long a batch retries a transient warehouse failure before the publish answers 503 WAREHOUSE_UNAVAILABLE.', parse: int(0, 600_000) },
  { key: 'bodyLimitBytes', flag: '--body-limit', env: ['TRIBUTARY_BODY_LIMIT'], default: 10 * 1024 * 1024, doc: 'Largest HTTP request body (bytes, or with a unit: 10MiB).', parse: bytes(1024, 512 * 1024 * 1024) },
  { key: 'maxBodyBytesInFlight', flag: '--max-body-bytes-in-flight', env: ['TRIBUTARY_MAX_BODY_BYTES_IN_FLIGHT'], default: 32 * 1024 * 1024, doc: 'Request body bytes the server holds at once (bytes, or with a unit: 32MiB). A body costs several times its size while it is handled, so this bounds memory under large concurrent requests: a request whose body does not fit waits (unread) for room, up to 30 s, then gets 503 OVERLOADED. A request alone always fits.', parse: bytes(64 * 1024, 16 * 1024 * 1024 * 1024) },
  { key: 'maxMessageBytes', flag: '--max-message-bytes', env: ['TRIBUTARY_MAX_MESSAGE_BYTES'], default: 1024 * 1024, doc: 'Largest message payload; larger ones are dead-lettered as MESSAGE_TOO_LARGE. A stream can set its own maxMessageBytes.', parse: bytes(1, 10_000_000) },
  { key: 'maxMessagesPerRequest', flag: '--max-messages-per-request', env: ['TRIBUTARY_MAX_MESSAGES_PER_REQUEST'], default: 1000, doc: 'Most messages in one publish request (Pub/Sub allows 1000).', parse: int(1, 100_000) },
  { key: 'defaultPageSize', flag: '--default-page-size', env: ['TRIBUTARY_DEFAULT_PAGE_SIZE'], default: 100, doc: 'Rows per page when a request gives no limit.', parse: int(1, 100_000) },
  { key: 'maxPageSize', flag: '--max-page-size', env: ['TRIBUTARY_MAX_PAGE_SIZE'], default: 1000, doc: 'Largest limit a request may ask for.', parse: int(1, 100_000) },
  { key: 'duckdbMemoryLimit', flag: '--duckdb-memory-limit', env: ['TRIBUTARY_DUCKDB_MEMORY_LIMIT'], default: DEFAULT_DUCKDB_MEMORY_LIMIT, doc: 'DuckDB memory_limit (its buffer pool and query memory; larger queries spill to the data dir). The message_id indexes that refuse duplicates must stay in memory: beyond half of this limit they raise it by their size (logged; tributary_duckdb_memory_limit_bytes in /metrics). DuckDB\'s own default, 80% of RAM, let the process grow with the data it had written (docs/reliability.md); raise it for large aggregates.', parse: optional(text) },
  { key: 'duckdbCacheLimit', flag: '--duckdb-cache-limit', env: ['TRIBUTARY_DUCKDB_CACHE_LIMIT'], default: DEFAULT_DUCKDB_CACHE_LIMIT, doc: 'DuckDB keeps the table blocks it has written or read, up to its memory limit; they are in the file, and so in the operating system\'s page cache, too. When that cache exceeds this size by a quarter, it is trimmed back to it (bytes, or with a unit: 64MB): so sustained ingest does not grow the process up to the memory limit, and queries keep the whole limit. Trimmed between writes, while no read or rollup fold runs; tributary_duckdb_cache_bytes in /metrics. A size at or above --duckdb-memory-limit leaves the cache to DuckDB.', parse: bytes(1024 * 1024, 1024 ** 5) },
  { key: 'duckdbThreads', flag: '--duckdb-threads', env: ['TRIBUTARY_DUCKDB_THREADS'], default: undefined, doc: 'DuckDB worker threads (default: one per core).', parse: optional(int(1, 256)) },
  { key: 'duckdbReadPriorityMs', flag: '--duckdb-read-priority-ms', env: ['TRIBUTARY_DUCKDB_READ_PRIORITY_MS'], default: DEFAULT_DUCKDB_READ_PRIORITY_MS, doc: 'Reads first: a write that would start while reads are running waits for them, at most this long, in milliseconds; 0 starts writes at once. Messages keep batching meanwhile, so ingest keeps its rate and a publish answer comes at most this much later; reads during ingest slow down less (docs/performance.md).', parse: int(0, 1000) },
  {
    key: 'logLevel', flag: '--log-level', env: ['TRIBUTARY_LOG_LEVEL', 'LOG_LEVEL'], default: 'info', doc: `Log level: ${LOG_LEVELS.join(', ')}.`,
    parse: (raw: string): Parsed<LogLevel> => (LOG_LEVELS as readonly string[]).includes(raw) ? { ok: true, value: raw as LogLevel } : { ok: false, problem: `expected one of ${LOG_LEVELS.join(', ')}, got "${raw}"` },
  },
  { key: 'mode', flag: '--mode', env: ['TRIBUTARY_MODE'], default: 'embedded', doc: 'Adapters: embedded (DuckDB file + in-process topic) or gcp (BigQuery + Pub/Sub; needs the gcp settings below).', parse: oneOf(MODES) },
  { key: 'gcpProject', flag: '--gcp-project', env: ['TRIBUTARY_GCP_PROJECT', 'GOOGLE_CLOUD_PROJECT'], default: undefined, doc: 'Google Cloud project of the dataset and topics (required in gcp mode). Credentials: Application Default Credentials.', parse: optional(pattern(/^[a-z][a-z0-9.:-]{1,62}$/, 'a project id (lowercase letters, digits, hyphens)')) },
  { key: 'gcpRegion', flag: '--gcp-region', env: ['TRIBUTARY_GCP_REGION'], default: undefined, doc: 'Region of the deployment, also the BigQuery dataset location, e.g. europe-west1 (required in gcp mode).', parse: optional(text) },
  { key: 'bigqueryDataset', flag: '--bigquery-dataset', env: ['TRIBUTARY_BIGQUERY_DATASET'], default: undefined, doc: 'BigQuery dataset with one table per stream plus <stream>_dead_letters (required in gcp mode).', parse: optional(pattern(/^[A-Za-z0-9_]{1,1024}$/, 'a dataset name (letters, digits, underscores)')) },
  { key: 'bigqueryApiEndpoint', flag: '--bigquery-api-endpoint', env: ['TRIBUTARY_BIGQUERY_API_ENDPOINT', 'BIGQUERY_EMULATOR_HOST'], default: undefined, doc: 'BigQuery REST endpoint override for an emulator, e.g. http://127.0.0.1:9050 (requests then carry no credentials).', parse: optional(httpUrl) },
  { key: 'bigqueryMaxBytesBilled', flag: '--bigquery-max-bytes-billed', env: ['TRIBUTARY_BIGQUERY_MAX_BYTES_BILLED'], default: 10 * 1000 ** 3, doc: 'maximumBytesBilled of every BigQuery query (bytes, or with a unit: 10GB); a query that would bill more fails instead.', parse: bytes(10 * 1024 * 1024, 1000 ** 5) },
  { key: 'bigqueryLookbackDays', flag: '--bigquery-lookback-days', env: ['TRIBUTARY_BIGQUERY_LOOKBACK_DAYS'], default: 90, doc: 'Partition window of BigQuery reads that give no from (rows, one row by id, stream counts), in days.', parse: int(1, 36_500) },
  { key: 'pubsubTopicPrefix', flag: '--pubsub-topic-prefix', env: ['TRIBUTARY_PUBSUB_TOPIC_PREFIX'], default: undefined, doc: 'Pub/Sub topic of a stream = this prefix + the stream name, e.g. tributary- (required in gcp mode).', parse: optional(pattern(/^[A-Za-z][A-Za-z0-9._~+%-]{0,190}$/, 'the start of a Pub/Sub topic name (a letter, then letters, digits, - _ . ~ + %)')) },
  { key: 'pubsubSubscriptionSuffix', flag: '--pubsub-subscription-suffix', env: ['TRIBUTARY_PUBSUB_SUBSCRIPTION_SUFFIX'], default: '-worker', doc: 'Subscription the pull worker (tributary worker) reads = topic name + this suffix.', parse: pattern(/^[A-Za-z0-9._~+%-]{1,60}$/, 'a subscription name suffix (letters, digits, - _ . ~ + %)') },
  { key: 'pubsubEmulatorHost', flag: '--pubsub-emulator-host', env: ['PUBSUB_EMULATOR_HOST'], default: undefined, doc: 'Pub/Sub emulator host:port, e.g. 127.0.0.1:8085 (plaintext, no credentials).', parse: optional(hostPort) },
  { key: 'pubsubBatchMaxMessages', flag: '--pubsub-batch-max-messages', env: ['TRIBUTARY_PUBSUB_BATCH_MAX_MESSAGES'], default: 100, doc: 'Pub/Sub publisher batching: most messages per publish call.', parse: int(1, 1000) },
  { key: 'pubsubBatchMaxMs', flag: '--pubsub-batch-max-ms', env: ['TRIBUTARY_PUBSUB_BATCH_MAX_MS'], default: 10, doc: 'Pub/Sub publisher batching: longest a message waits for batch-mates, in milliseconds.', parse: int(0, 10_000) },
  { key: 'queryTimeoutMs', flag: '--query-timeout-ms', env: ['TRIBUTARY_QUERY_TIMEOUT_MS'], default: 30_000, doc: 'Reads running longer are stopped and answered 504 QUERY_TIMEOUT, in milliseconds; 0 for no limit.', parse: int(0, 3_600_000) },
  { key: 'maxAggregateRows', flag: '--max-aggregate-rows', env: ['TRIBUTARY_MAX_AGGREGATE_ROWS'], default: 10_000, doc: 'Most rows one aggregate may return (groups times time buckets, empty buckets included); more is 400 RESULT_TOO_LARGE.', parse: int(1, 1_000_000) },
  { key: 'maxExportRows', flag: '--max-export-rows', env: ['TRIBUTARY_MAX_EXPORT_ROWS'], default: 100_000, doc: 'Largest limit of a rows answer in NDJSON or CSV, which is streamed in chunks of --max-page-size rows.', parse: int(1, 100_000_000) },
  { key: 'maxTimeRangeDays', flag: '--max-time-range-days', env: ['TRIBUTARY_MAX_TIME_RANGE_DAYS'], default: 0, doc: 'Longest publish_time range a rows or aggregate query may cover, in days; such queries must give from. 0 for no limit (the embedded default); set it where the warehouse bills by bytes scanned.', parse: int(0, 36_500) },
  { key: 'maxReplay', flag: '--max-replay', env: ['TRIBUTARY_MAX_REPLAY'], default: 10_000, doc: 'Most dead letters one replay request replays; the answer says whether more remain.', parse: int(1, 1_000_000) },
  { key: 'apiKeysFile', flag: '--api-keys-file', env: ['TRIBUTARY_API_KEYS_FILE'], default: undefined, doc: 'JSON file of hashed API keys (tributary keys create writes entries for it). See docs/auth.md.', parse: optional(text) },
  { key: 'apiKeys', flag: '--api-keys', env: ['TRIBUTARY_API_KEYS'], default: undefined, doc: 'Hashed API keys inline, in the keys file\'s JSON form (for a secret mounted as an environment variable).', parse: optional(text) },
  { key: 'allowUnauthenticated', flag: '--allow-unauthenticated', env: ['TRIBUTARY_ALLOW_UNAUTHENTICATED'], default: false, doc: 'Serve without API keys on a non-loopback address (for example behind Cloud Run IAM). Without it, such a start is refused.', parse: bool },
  { key: 'rateLimitRequests', flag: '--rate-limit-requests', env: ['TRIBUTARY_RATE_LIMIT_REQUESTS'], default: undefined, doc: 'Requests allowed per API key (or per client IP without a key) per window; 0 disables rate limiting. Default: 1200 when --host is not a loopback address, off on loopback (only local processes can connect).', parse: optional(int(0, 10_000_000)) },
  { key: 'rateLimitWindowSeconds', flag: '--rate-limit-window-seconds', env: ['TRIBUTARY_RATE_LIMIT_WINDOW_SECONDS'], default: 60, doc: 'Length of the rate-limit window, in seconds.', parse: int(1, 86_400) },
  { key: 'closedRangeGraceSeconds', flag: '--closed-range-grace-seconds', env: ['TRIBUTARY_CLOSED_RANGE_GRACE_SECONDS'], default: 300, doc: 'A query whose `to` is at least this many seconds in the past is a closed range: answered with ETag and a long Cache-Control.', parse: int(0, 31_536_000) },
  { key: 'traceProject', flag: '--trace-project', env: ['TRIBUTARY_TRACE_PROJECT', 'GOOGLE_CLOUD_PROJECT'], default: undefined, doc: 'Google Cloud project id used to write request traces (X-Cloud-Trace-Context) into log lines as projects/<id>/traces/<trace>.', parse: optional(text) },
] as const satisfies readonly Setting<keyof Config>[];

/** The result of parsing argv: the config and the arguments that were not flags. */
export interface ParsedArgs {
  readonly config: Config;
  readonly positionals: string[];
}

/**
 * Parses the settings from flags (`--port 9000` or `--port=9000`, highest precedence), the
 * environment, then defaults. Collects every problem and throws one INVALID_CONFIG error that
 * lists them all, so a user fixes everything in one go. Pure: takes argv and env as arguments.
 *
 * @param extraFlags flags of the calling command that are not settings (`--url`), kept in `positionals`.
 */
export function parseConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, extraFlags: readonly string[] = []): ParsedArgs {
  const problems: string[] = [];
  const fromFlags = new Map<string, string>();
  const positionals: string[] = [];
  const byFlag = new Map<string, Setting<keyof Config>>(SETTINGS.map((s) => [s.flag, s as Setting<keyof Config>]));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    if (extraFlags.includes(flag)) {
      positionals.push(arg);
      if (eq === -1 && i + 1 < argv.length) positionals.push(argv[++i]!);
      continue;
    }
    if (!byFlag.has(flag)) {
      problems.push(`${flag}: unknown option (known: ${[...byFlag.keys(), ...extraFlags].join(', ')})`);
      continue;
    }
    const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined) problems.push(`${flag}: needs a value`);
    else fromFlags.set(flag, value);
  }
  const out: Record<string, unknown> = {};
  for (const s of SETTINGS as readonly Setting<keyof Config>[]) {
    let raw: string | undefined;
    let source = s.flag;
    if (fromFlags.has(s.flag)) raw = fromFlags.get(s.flag);
    else {
      for (const name of s.env) {
        if (env[name] !== undefined && env[name] !== '') {
          raw = env[name];
          source = name;
          break;
        }
      }
    }
    if (raw === undefined) {
      out[s.key] = s.default;
      continue;
    }
    const parsed = s.parse(raw);
    if (parsed.ok) out[s.key] = parsed.value;
    else problems.push(`${source}: ${parsed.problem}`);
  }
  if (out.maxPageSize !== undefined && out.defaultPageSize !== undefined && (out.defaultPageSize as number) > (out.maxPageSize as number)) {
    problems.push(`--default-page-size (${String(out.defaultPageSize)}) must not exceed --max-page-size (${String(out.maxPageSize)})`);
  }
  if (out.mode === 'gcp') {
    const required: [keyof Config, string][] = [['gcpProject', '--gcp-project (TRIBUTARY_GCP_PROJECT)'], ['gcpRegion', '--gcp-region (TRIBUTARY_GCP_REGION)'], ['bigqueryDataset', '--bigquery-dataset (TRIBUTARY_BIGQUERY_DATASET)'], ['pubsubTopicPrefix', '--pubsub-topic-prefix (TRIBUTARY_PUBSUB_TOPIC_PREFIX)']];
    for (const [key, name] of required) {
      if (out[key] === undefined) problems.push(`${name}: required when --mode is gcp`);
    }
  }
  if (problems.length > 0) {
    throw new TributaryError('INVALID_CONFIG', `invalid configuration:\n  - ${problems.join('\n  - ')}`, { problems });
  }
  out.dataDir = resolve(out.dataDir as string);
  out.streamsDir = resolve(out.streamsDir as string);
  return { config: Object.freeze(out as unknown as Config), positionals };
}

/** Help text listing every setting with its flag, variables and default. */
export function settingsHelp(): string {
  return SETTINGS.map((s) => `  ${s.flag.padEnd(28)} ${s.doc}\n  ${''.padEnd(28)} env: ${s.env.join(', ')}; default: ${s.default === undefined ? '(none)' : String(s.default)}`).join('\n');
}
