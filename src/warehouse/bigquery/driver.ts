/**
 * BigQuery's connection and write path: the REST transport (`@google-cloud/bigquery`, or an
 * emulator), streaming inserts (`tabledata.insertAll`) in bounded requests, and queries
 * (`jobs.query`, polled while the job runs). `index.ts` builds the statements.
 */
import { BigQuery } from '@google-cloud/bigquery';
import { OAuth2Client } from 'google-auth-library';
import { WarehouseError } from '../../core/ports.js';
import { classify } from './errors.js';
import type { Cell, QueryParameter } from './types.js';

/**
 * The subset of BigQuery's REST API (v2) the adapter uses, relative to `/projects/{project}`.
 * {@link createBigQueryApi} implements it on `@google-cloud/bigquery`; a failed call rejects with
 * an error carrying the HTTP status as `code` and BigQuery's `errors[]`.
 */
export interface BigQueryApi {
  request<T>(req: { method: 'GET' | 'POST' | 'PATCH' | 'DELETE'; path: string; body?: unknown; query?: Record<string, string> }): Promise<T>;
}

export interface BigQueryClientOptions {
  readonly projectId: string;
  /** Emulator base URL (e.g. http://127.0.0.1:9050); undefined for Google's endpoint. */
  readonly apiEndpoint?: string;
  readonly location?: string;
  /** Per-request timeout in milliseconds (default 30 s): a hung endpoint is a transient failure, not a hung function. */
  readonly timeoutMs?: number;
}

/**
 * Builds the transport. Automatic retries of the client library are off: ingest retries
 * transient failures itself with backoff (and answers an error status to Pub/Sub beyond its
 * budget), and reads answer 503 promptly rather than hang.
 */
export function createBigQueryApi(options: BigQueryClientOptions): BigQueryApi {
  const emulator = options.apiEndpoint !== undefined;
  const timeoutMs = options.timeoutMs ?? 30_000;
  // An emulator takes any bearer token; a fixed one keeps google-auth-library off the network.
  const authClient = emulator ? new OAuth2Client() : undefined;
  authClient?.setCredentials({ access_token: 'emulator', expiry_date: Date.now() + 100 * 365 * 86_400_000 });
  // `timeout` is read by @google-cloud/common's Service (per request) but missing from BigQueryOptions' type.
  const settings: ConstructorParameters<typeof BigQuery>[0] & { timeout: number } = {
    projectId: options.projectId,
    ...(options.apiEndpoint ? { apiEndpoint: options.apiEndpoint } : {}),
    ...(options.location ? { location: options.location } : {}),
    ...(authClient ? { authClient } : {}),
    retryOptions: { autoRetry: false, maxRetries: 0 },
    timeout: timeoutMs,
  };
  const client = new BigQuery(settings);
  return {
    request<T>(req: { method: 'GET' | 'POST' | 'PATCH' | 'DELETE'; path: string; body?: unknown; query?: Record<string, string> }): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        // Our own deadline as well: the library's timeout does not cover every stage of a request.
        const timer = setTimeout(() => reject(Object.assign(new Error(`BigQuery did not answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), timeoutMs);
        client.request(
          { method: req.method, uri: req.path, ...(req.body !== undefined ? { json: req.body } : {}), ...(req.query ? { qs: req.query } : {}) },
          (err: Error | null, body?: unknown) => {
            clearTimeout(timer);
            if (err) reject(err);
            else resolve(body as T);
          },
        );
      });
    },
  };
}

/** Settings of the driver (a subset of the adapter's). */
export interface DriverOptions {
  readonly dataset: string;
  readonly location?: string;
  readonly maxBytesBilled: number;
  readonly onQuery?: (q: { sql: string; params: readonly QueryParameter[]; maximumBytesBilled: string }) => void;
}

interface InsertAllResponse {
  insertErrors?: { index: number; errors: { reason?: string; message?: string; location?: string }[] }[];
}

interface QueryResponse {
  jobComplete?: boolean;
  jobReference?: { jobId: string; location?: string };
  rows?: { f: Cell[] }[];
  pageToken?: string;
}

/** Largest insertAll request we send: BigQuery takes 10 MB and recommends 500 rows. */
const INSERT_MAX_ROWS = 500;
const INSERT_MAX_BYTES = 8 * 1024 * 1024;

export class BigQueryDriver {
  closed = false;

  constructor(
    readonly api: BigQueryApi,
    private readonly options: DriverOptions,
  ) {}

  // ---- write path ----

  /** Streams rows in requests of bounded size; refused rows make the whole call fail permanently. */
  async insertAll(tableId: string, rows: { insertId: string; json: Record<string, unknown> }[]): Promise<void> {
    const chunks: (typeof rows)[] = [];
    let chunk: typeof rows = [];
    let bytes = 0;
    for (const r of rows) {
      const size = JSON.stringify(r.json).length + r.insertId.length + 32;
      if (chunk.length > 0 && (chunk.length >= INSERT_MAX_ROWS || bytes + size > INSERT_MAX_BYTES)) {
        chunks.push(chunk);
        chunk = [];
        bytes = 0;
      }
      chunk.push(r);
      bytes += size;
    }
    if (chunk.length > 0) chunks.push(chunk);
    for (const c of chunks) {
      let res: InsertAllResponse;
      try {
        res = await this.api.request<InsertAllResponse>({
          method: 'POST',
          path: `/datasets/${this.options.dataset}/tables/${tableId}/insertAll`,
          body: { rows: c, skipInvalidRows: false, ignoreUnknownValues: false },
        });
      } catch (err) {
        throw classify(err, `insert into ${tableId}`);
      }
      const errors = res.insertErrors ?? [];
      if (errors.length > 0) {
        const reasons = errors.flatMap((e) => e.errors.map((x) => x.reason ?? ''));
        // `stopped` rows were refused only because a batch-mate was invalid.
        const permanent = reasons.includes('invalid') && reasons.every((r) => r === 'invalid' || r === 'stopped');
        const first = errors.find((e) => e.errors.some((x) => x.reason !== 'stopped')) ?? errors[0]!;
        const detail = first.errors.map((x) => `${x.location ? `${x.location}: ` : ''}${x.message ?? x.reason}`).join('; ');
        throw new WarehouseError(`BigQuery refused row ${first.index} of an insert into ${tableId}: ${detail}`, !permanent);
      }
    }
  }

  // ---- read path ----

  /** Runs one query (jobs.query, polling jobs.getQueryResults when needed); returns every row. */
  async query(sql: string, params: QueryParameter[]): Promise<Cell[][]> {
    if (this.closed) throw new WarehouseError('the warehouse is closed', true);
    const maximumBytesBilled = String(this.options.maxBytesBilled);
    this.options.onQuery?.({ sql, params, maximumBytesBilled });
    const rows: Cell[][] = [];
    try {
      let res = await this.api.request<QueryResponse>({
        method: 'POST',
        path: '/queries',
        body: {
          query: sql,
          useLegacySql: false,
          parameterMode: 'NAMED',
          queryParameters: params,
          maximumBytesBilled,
          timeoutMs: 20_000,
          formatOptions: { useInt64Timestamp: true },
          jobCreationMode: 'JOB_CREATION_OPTIONAL',
          ...(this.options.location ? { location: this.options.location } : {}),
        },
      });
      // Bounded: a page query returns at most a few thousand rows; a slow job is polled a while.
      for (let round = 0; round < 100; round++) {
        if (res.jobComplete !== false) for (const r of res.rows ?? []) rows.push(r.f);
        const done = res.jobComplete !== false && !res.pageToken;
        if (done) return rows;
        const job = res.jobReference;
        if (!job) throw new WarehouseError('BigQuery answered an incomplete query without a job reference', true);
        const query: Record<string, string> = { timeoutMs: '20000', 'formatOptions.useInt64Timestamp': 'true' };
        if (job.location) query.location = job.location;
        if (res.jobComplete !== false && res.pageToken) query.pageToken = res.pageToken;
        res = await this.api.request<QueryResponse>({ method: 'GET', path: `/queries/${job.jobId}`, query });
      }
      throw new WarehouseError('BigQuery query did not finish in time', true);
    } catch (err) {
      throw classify(err, 'query');
    }
  }

}
