import { TributaryError } from '../../core/errors.js';
import { bigQueryDeadLetterSchema, bigQueryTableSchema, type BigQueryField, DEAD_LETTER_CLUSTERING, DEAD_LETTER_FIELDS } from '../../core/export.js';
import type { DeadLetter, StoredRow } from '../../core/message.js';
import type {
  AggregateQuery,
  AggregateRow,
  ApiDeadLetter,
  ApiRow,
  DeadLetterQuery,
  Filter,
  Keyset,
  RawDeadLetter,
  RowQuery,
  StatsWindow,
  StreamStats,
  Warehouse,
  WindowStats,
  WriteBatch,
  WriteResult,
} from '../../core/ports.js';
import { WarehouseError } from '../../core/ports.js';
import { ENVELOPE_FIELDS, type FieldDef, type StreamDef } from '../../core/schema.js';
import { formatTimestamp, nowMicros } from '../../core/time.js';
import { type Cell, type CellReader, canonicalType, cellMicros, cellReader, ident, type QueryParameter, scalarParam, timestampText, toInsertJson } from './types.js';

/**
 * The subset of BigQuery's REST API (v2) the adapter uses, relative to `/projects/{project}`.
 * `src/warehouse/bigquery/client.ts` implements it on `@google-cloud/bigquery`; a failed call
 * rejects with an error carrying the HTTP status as `code` and BigQuery's `errors[]`.
 */
export interface BigQueryApi {
  request<T>(req: { method: 'GET' | 'POST' | 'PATCH' | 'DELETE'; path: string; body?: unknown; query?: Record<string, string> }): Promise<T>;
}

/** Settings of the BigQuery adapter. */
export interface BigQueryOptions {
  readonly projectId: string;
  readonly dataset: string;
  /** Dataset location (region), used when the adapter creates the dataset and for queries. */
  readonly location?: string;
  /** `maximumBytesBilled` of every query. */
  readonly maxBytesBilled: number;
  /** Partition window of reads that give no lower time bound, in days. */
  readonly lookbackDays: number;
  /**
   * The endpoint is goccy/bigquery-emulator, which stores an insertAll BYTES value (base64 text)
   * verbatim instead of decoding it, so its query results are base64 of that base64: reads then
   * decode BYTES twice. See docs/emulators.md.
   */
  readonly emulator?: boolean;
  /** Observer of every query sent (tests check that each one is bounded and capped). */
  readonly onQuery?: (q: { sql: string; params: readonly QueryParameter[]; maximumBytesBilled: string }) => void;
}

interface CompiledStream {
  readonly def: StreamDef;
  readonly table: string;
  readonly dlTable: string;
  readonly tableId: string;
  readonly dlTableId: string;
  readonly columns: readonly FieldDef[];
  readonly columnList: string;
  readonly readers: readonly CellReader[];
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

interface TableResource {
  schema?: { fields?: BigQueryField[] };
}

/** Largest insertAll request we send: BigQuery takes 10 MB and recommends 500 rows. */
const INSERT_MAX_ROWS = 500;
const INSERT_MAX_BYTES = 8 * 1024 * 1024;
const DAY_MICROS = 86_400_000_000n;

/** Keeps one row per message_id, the first stored (BigQuery's insertId dedup is best effort). */
const DEDUP_ROWS = 'QUALIFY ROW_NUMBER() OVER (PARTITION BY message_id ORDER BY ingest_time) = 1';
/** Keeps the newest dead-letter record per message_id (a failed replay, or a replay tombstone). */
const DEDUP_DEAD_LETTERS = 'QUALIFY ROW_NUMBER() OVER (PARTITION BY message_id ORDER BY dead_lettered_at DESC, replay_count DESC) = 1';
/** Reason of a tombstone: the dead letter was replayed and is removed (see deleteDeadLetters). */
const REPLAYED = '_REPLAYED';

/** Reasons BigQuery gives when the data itself is refused: retrying the same rows gives the same answer. */
const DATA_REASONS = new Set(['invalid', 'invalidQuery', 'bytesBilledLimitExceeded']);

/** Fields of an error thrown by the REST client, as far as the adapter reads them. */
interface ApiErrorLike {
  code?: number | string;
  errors?: { reason?: string; message?: string }[];
  message?: string;
}

/**
 * Classifies a failed call. Permanent only when BigQuery refused the request's content (400 with
 * reason `invalid`/`invalidQuery`...); everything else (unreachable, 5xx, 429, quota, missing
 * table or permission: an operator can fix those without changing the data) is transient, so
 * ingest never dead-letters good data because of an outage or a misconfiguration.
 */
export function classify(err: unknown, what: string): WarehouseError {
  if (err instanceof WarehouseError) return err;
  const e = (err ?? {}) as ApiErrorLike;
  const reasons = (e.errors ?? []).map((x) => x.reason ?? '');
  const status = typeof e.code === 'number' ? e.code : undefined;
  const permanent = status === 400 && (reasons.length === 0 || reasons.some((r) => DATA_REASONS.has(r)));
  const message = e.message ?? String(err);
  return new WarehouseError(`BigQuery ${what} failed${status ? ` (${status}${reasons.length ? ` ${reasons.join(',')}` : ''})` : ''}: ${message}`, !permanent, { cause: err });
}

/**
 * The Google Cloud warehouse. Each stream is a table day-partitioned on `publish_time`, with
 * `requirePartitionFilter`, clustered as the stream says; dead letters go to
 * `<stream>_dead_letters`, partitioned the same way and clustered by reason.
 *
 * Writes are streaming inserts (`tabledata.insertAll`) with the message_id as `insertId`, which
 * BigQuery uses for best-effort dedup within about a minute. Exactly-once in results comes from
 * the reads: every read keeps one row per message_id (`QUALIFY ROW_NUMBER() OVER (PARTITION BY
 * message_id ORDER BY ingest_time) = 1`, the first stored copy), so a redelivery that BigQuery
 * stored twice is still shown once. Consequently a write cannot tell a new row from a
 * redelivered one: `WriteResult.inserted` lists every row of the batch.
 *
 * Every query is parameterised GoogleSQL, has a lower bound on the partition column (the
 * request's `from`, or `lookbackDays` back) and carries `maximumBytesBilled`.
 */
export class BigQueryWarehouse implements Warehouse {
  readonly engine = 'bigquery';
  private readonly streams = new Map<string, CompiledStream>();
  private closed = false;

  constructor(
    private readonly api: BigQueryApi,
    private readonly options: BigQueryOptions,
  ) {}

  private qualified(table: string): string {
    return ident(`${this.options.projectId}.${this.options.dataset}.${table}`);
  }

  async init(streams: readonly StreamDef[]): Promise<void> {
    await this.ensureDataset();
    for (const def of streams) {
      await this.ensureTable(def.name, bigQueryTableSchema(def), def.clustering, def.name);
      await this.ensureTable(`${def.name}_dead_letters`, bigQueryDeadLetterSchema(), DEAD_LETTER_CLUSTERING, def.name);
      const columns = [...ENVELOPE_FIELDS, ...def.fields];
      this.streams.set(def.name, {
        def,
        table: this.qualified(def.name),
        dlTable: this.qualified(`${def.name}_dead_letters`),
        tableId: def.name,
        dlTableId: `${def.name}_dead_letters`,
        columns,
        columnList: columns.map((f) => ident(f.name)).join(', '),
        readers: columns.map(cellReader),
      });
    }
  }

  private async ensureDataset(): Promise<void> {
    const { dataset, projectId, location } = this.options;
    try {
      await this.api.request({ method: 'GET', path: `/datasets/${dataset}` });
      return;
    } catch (err) {
      if ((err as ApiErrorLike).code !== 404) throw classify(err, `reading dataset ${dataset}`);
    }
    try {
      await this.api.request({ method: 'POST', path: '/datasets', body: { datasetReference: { projectId, datasetId: dataset }, ...(location ? { location } : {}) } });
    } catch (err) {
      if ((err as ApiErrorLike).code !== 409) throw classify(err, `creating dataset ${dataset}`);
    }
  }

  /**
   * Creates the table, or checks an existing one against the definition: new NULLABLE or
   * REPEATED top-level fields are added; a changed type or a new REQUIRED field is refused with
   * a message saying what to do (as the DuckDB adapter does).
   */
  private async ensureTable(tableId: string, fields: BigQueryField[], clustering: readonly string[], stream: string): Promise<void> {
    const path = `/datasets/${this.options.dataset}/tables/${tableId}`;
    let existing: TableResource | undefined;
    try {
      existing = await this.api.request<TableResource>({ method: 'GET', path });
    } catch (err) {
      if ((err as ApiErrorLike).code !== 404) throw classify(err, `reading table ${tableId}`);
    }
    if (!existing) {
      const body = {
        tableReference: { projectId: this.options.projectId, datasetId: this.options.dataset, tableId },
        schema: { fields },
        timePartitioning: { type: 'DAY', field: 'publish_time' },
        requirePartitionFilter: true,
        ...(clustering.length > 0 ? { clustering: { fields: [...clustering] } } : {}),
      };
      try {
        await this.api.request({ method: 'POST', path: `/datasets/${this.options.dataset}/tables`, body });
      } catch (err) {
        if ((err as ApiErrorLike).code !== 409) throw classify(err, `creating table ${tableId}`);
      }
      return;
    }
    const have = new Map((existing.schema?.fields ?? []).map((f) => [f.name, f]));
    const problems: string[] = [];
    const added: BigQueryField[] = [];
    for (const f of fields) {
      const h = have.get(f.name);
      if (!h) {
        if (f.mode === 'REQUIRED') problems.push(`field "${f.name}" is new and REQUIRED, but the table already has rows without it; make it NULLABLE`);
        else added.push(f);
      } else if (canonicalType(h.type) !== canonicalType(f.type) || (h.mode ?? 'NULLABLE') !== f.mode) {
        problems.push(`field "${f.name}" is ${h.mode ?? 'NULLABLE'} ${canonicalType(h.type)} in BigQuery but the definition makes it ${f.mode} ${f.type}; changing a type needs a new stream (or a manual migration)`);
      }
    }
    if (problems.length > 0) {
      throw new TributaryError('INVALID_STREAM_DEFINITION', `stream "${stream}" no longer matches table ${tableId}:\n  - ${problems.join('\n  - ')}`, { problems });
    }
    if (added.length > 0) {
      try {
        await this.api.request({ method: 'PATCH', path, body: { schema: { fields: [...(existing.schema?.fields ?? []), ...added] } } });
      } catch (err) {
        throw classify(err, `adding columns to ${tableId}`);
      }
    }
  }

  private compiled(def: StreamDef): CompiledStream {
    const s = this.streams.get(def.name);
    if (!s) throw new WarehouseError(`stream "${def.name}" was not initialised`, false);
    return s;
  }

  async write(def: StreamDef, batch: WriteBatch): Promise<WriteResult> {
    const s = this.compiled(def);
    if (this.closed) throw new WarehouseError('the warehouse is closed', true);
    const ingestTime = timestampText(batch.ingestTime);
    if (batch.rows.length > 0) {
      await this.insertAll(s.tableId, batch.rows.map((r) => ({ insertId: r.messageId, json: this.rowJson(s, r, ingestTime) })));
    }
    if (batch.deadLetters.length > 0) {
      // A replay that fails again is a new dead letter (reads keep the newest per message_id).
      await this.insertAll(s.dlTableId, batch.deadLetters.map((d) => ({ insertId: `${d.messageId}/${d.replayCount}`, json: deadLetterJson(d, ingestTime) })));
    }
    return { inserted: new Set(batch.rows.map((r) => r.messageId)) };
  }

  private rowJson(s: CompiledStream, r: StoredRow, ingestTime: string): Record<string, unknown> {
    const json: Record<string, unknown> = {
      message_id: r.messageId,
      publish_time: timestampText(r.publishTime),
      ingest_time: ingestTime,
      attributes: JSON.stringify(r.attributes),
    };
    if (r.orderingKey !== null) json.ordering_key = r.orderingKey;
    for (const f of s.def.fields) {
      const v = r.values[f.name] ?? null;
      if (v !== null) json[f.name] = toInsertJson(f, v);
    }
    return json;
  }

  /** Streams rows in requests of bounded size; refused rows make the whole call fail permanently. */
  private async insertAll(tableId: string, rows: { insertId: string; json: Record<string, unknown> }[]): Promise<void> {
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

  /** Runs one query (jobs.query, polling jobs.getQueryResults when needed); returns every row. */
  private async query(sql: string, params: QueryParameter[]): Promise<Cell[][]> {
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

  private lookbackFrom(): bigint {
    return nowMicros() - BigInt(this.options.lookbackDays) * DAY_MICROS;
  }

  private toApiRow(s: CompiledStream, cells: readonly Cell[]): ApiRow {
    const row: ApiRow = {};
    for (let i = 0; i < s.columns.length; i++) row[s.columns[i]!.name] = s.readers[i]!(cells[i]?.v ?? null);
    return row;
  }

  async queryRows(def: StreamDef, q: RowQuery): Promise<ApiRow[]> {
    const s = this.compiled(def);
    const params = new Params();
    const where = timeAndKeyset(q.from ?? this.lookbackFrom(), q.to, q.after, q.order, params);
    for (const f of q.filters) where.push(filterSql(f, params));
    const dir = q.order === 'asc' ? 'ASC' : 'DESC';
    const wanted = q.fields ? new Set([...q.fields, 'message_id', 'publish_time']) : undefined;
    const idx = s.columns.map((_, i) => i).filter((i) => !wanted || wanted.has(s.columns[i]!.name));
    const sql =
      `SELECT ${idx.map((i) => ident(s.columns[i]!.name)).join(', ')} FROM ${s.table} WHERE ${where.join(' AND ')}` +
      ` ${DEDUP_ROWS}` +
      ` ORDER BY publish_time ${dir}, message_id ${dir} LIMIT ${params.add('page_limit', { type: 'INT64', value: String(q.limit) })}`;
    const rows = await this.query(sql, params.list);
    return rows.map((cells) => {
      const row: ApiRow = {};
      idx.forEach((ci, j) => (row[s.columns[ci]!.name] = s.readers[ci]!(cells[j]?.v ?? null)));
      return row;
    });
  }

  /**
   * The stream's rows in a publish_time range, one per message_id, as a subquery: the base of
   * aggregates and window statistics (filters go inside: copies of a message agree on them).
   */
  private dedupedRows(s: CompiledStream, from: bigint, to: bigint | undefined, filters: readonly Filter[], params: Params): string {
    const where = timeAndKeyset(from, to, undefined, 'asc', params);
    for (const f of filters) where.push(filterSql(f, params));
    return `(SELECT * FROM ${s.table} WHERE ${where.join(' AND ')} ${DEDUP_ROWS})`;
  }

  /** The live dead letters (newest record per message_id, not replayed) in a range, as a subquery. */
  private liveDeadLetters(s: CompiledStream, where: string[], params: Params): string {
    const cols = DEAD_LETTER_FIELDS.map((f) => ident(f.name)).join(', ');
    return `(SELECT ${cols} FROM (SELECT ${cols} FROM ${s.dlTable} WHERE ${where.join(' AND ')} ${DEDUP_DEAD_LETTERS}) WHERE reason != ${replayedParam(params)})`;
  }

  async aggregate(def: StreamDef, q: AggregateQuery): Promise<AggregateRow[]> {
    const s = this.compiled(def);
    const params = new Params();
    const keys: string[] = [];
    const readers: [string, CellReader][] = [];
    if (q.intervalMicros !== undefined) {
      const n = params.add('bucket_us', { type: 'INT64', value: String(q.intervalMicros) });
      keys.push(`TIMESTAMP_MICROS(DIV(UNIX_MICROS(publish_time), ${n}) * ${n})`);
      readers.push(['time', (v) => (v === null ? null : formatTimestamp(cellMicros(v)))]);
    }
    for (const g of q.groupBy) {
      keys.push(fieldExpr(g));
      readers.push([g.map((f) => f.name).join('.'), cellReader({ ...g[g.length - 1]!, mode: 'NULLABLE' })]);
    }
    // Exact percentiles (linear interpolation, as DuckDB's quantile_cont): PERCENTILE_CONT is an
    // analytic function in BigQuery, computed per group in the inner query and picked with ANY_VALUE.
    const inner: string[] = keys.map((k, i) => `${k} AS k${i}`);
    const metrics: string[] = [];
    const percentiles: string[] = [];
    q.metrics.forEach((m, mi) => {
      const leaf = m.chain?.[m.chain.length - 1];
      const expr = m.chain ? fieldExpr(m.chain) : '';
      switch (m.fn) {
        case 'count':
          metrics.push('COUNT(*)');
          readers.push([m.name, (v) => Number(v)]);
          break;
        case 'count_distinct':
          inner.push(`${expr} AS m${mi}`);
          metrics.push(`COUNT(DISTINCT m${mi})`);
          readers.push([m.name, (v) => Number(v)]);
          break;
        case 'sum':
          inner.push(`${expr} AS m${mi}`);
          metrics.push(`SUM(m${mi})`);
          readers.push([m.name, leaf!.type === 'INT64' ? (v) => (v === null ? null : String(v)) : cellReader({ ...leaf!, mode: 'NULLABLE' })]);
          break;
        case 'avg':
          inner.push(`CAST(${expr} AS FLOAT64) AS m${mi}`);
          metrics.push(`AVG(m${mi})`);
          readers.push([m.name, (v) => (v === null ? null : Number(v))]);
          break;
        case 'min':
        case 'max':
          inner.push(`${expr} AS m${mi}`);
          metrics.push(`${m.fn.toUpperCase()}(m${mi})`);
          readers.push([m.name, cellReader({ ...leaf!, mode: 'NULLABLE' })]);
          break;
        case 'percentile': {
          const frac = params.add(`frac${mi}`, { type: 'FLOAT64', value: String(m.fraction!) });
          const partition = keys.length ? `PARTITION BY ${keys.map((_, i) => `k${i}`).join(', ')}` : '';
          // The window needs the keys as columns: computed over the keyed subquery below.
          inner.push(`CAST(${expr} AS FLOAT64) AS m${mi}`);
          metrics.push(`ANY_VALUE(p${mi})`);
          readers.push([m.name, (v) => (v === null ? null : Number(v))]);
          percentiles.push(`PERCENTILE_CONT(m${mi}, ${frac}) OVER (${partition}) AS p${mi}`);
          break;
        }
      }
    });
    const base = this.dedupedRows(s, q.from ?? this.lookbackFrom(), q.to, q.filters, params);
    const keyed = `(SELECT ${inner.length ? inner.join(', ') : '1 AS one'} FROM ${base})`;
    const source = percentiles.length ? `(SELECT *, ${percentiles.join(', ')} FROM ${keyed})` : keyed;
    const positions = keys.map((_, i) => `k${i}`);
    const sql =
      `SELECT ${[...positions, ...metrics].join(', ')} FROM ${source}` +
      (positions.length ? ` GROUP BY ${positions.join(', ')} ORDER BY ${positions.map((x) => `${x} ASC NULLS FIRST`).join(', ')}` : '') +
      ` LIMIT ${params.add('page_limit', { type: 'INT64', value: String(q.limit + 1) })}`;
    const rows = await this.query(sql, params.list);
    return rows.map((cells) => {
      const out: AggregateRow = {};
      readers.forEach(([name, read], i) => (out[name] = read(cells[i]?.v ?? null)));
      return out;
    });
  }

  async windowStats(def: StreamDef, w: StatsWindow): Promise<WindowStats> {
    const s = this.compiled(def);
    const params = new Params();
    const base = this.dedupedRows(s, w.from, w.to, [], params);
    const lag = '(UNIX_MICROS(ingest_time) - UNIX_MICROS(publish_time)) / 1000.0';
    // Window functions cannot nest in aggregates: compute them per row first.
    const sql =
      `SELECT COUNT(*), ANY_VALUE(p50), ANY_VALUE(p95), ANY_VALUE(p99), MAX(lag) FROM (` +
      `SELECT lag, PERCENTILE_CONT(lag, 0.5) OVER () AS p50, PERCENTILE_CONT(lag, 0.95) OVER () AS p95, PERCENTILE_CONT(lag, 0.99) OVER () AS p99 FROM (SELECT ${lag} AS lag FROM ${base}))`;
    const [row] = await this.query(sql, params.list);
    const v = (i: number) => row?.[i]?.v ?? null;
    const n = Number(v(0) ?? 0);
    const dlParams = new Params();
    const dlWhere = timeAndKeyset(w.from, w.to, undefined, 'desc', dlParams);
    const byReason = await this.query(`SELECT reason, COUNT(*) FROM ${this.liveDeadLetters(s, dlWhere, dlParams)} GROUP BY reason ORDER BY reason`, dlParams.list);
    return {
      rowCount: n,
      deadLettersByReason: Object.fromEntries(byReason.map((c) => [String(c[0]?.v), Number(c[1]?.v)])),
      freshnessMs: n === 0 ? null : { p50: Number(v(1)), p95: Number(v(2)), p99: Number(v(3)), max: Number(v(4)) },
    };
  }

  async getDeadLetter(def: StreamDef, messageId: string): Promise<ApiDeadLetter | undefined> {
    const s = this.compiled(def);
    const params = new Params();
    const where = [`publish_time >= ${params.time('range_from', this.lookbackFrom())}`, `message_id = ${params.add('msg_id', { type: 'STRING', value: messageId })}`];
    const rows = await this.query(`SELECT * FROM ${this.liveDeadLetters(s, where, params)}`, params.list);
    return rows[0] ? deadLetterRow(rows[0], this.options.emulator === true) : undefined;
  }

  async getRawDeadLetters(def: StreamDef, messageIds: readonly string[]): Promise<RawDeadLetter[]> {
    if (messageIds.length === 0) return [];
    const s = this.compiled(def);
    const params = new Params();
    const ids = messageIds.map((id, i) => params.add(`id${i}`, { type: 'STRING', value: id }));
    const where = [`publish_time >= ${params.time('range_from', this.lookbackFrom())}`, `message_id IN (${ids.join(', ')})`];
    const rows = await this.query(`SELECT * FROM ${this.liveDeadLetters(s, where, params)} ORDER BY publish_time, message_id`, params.list);
    return rows.map((cells) => {
      const d = deadLetterRow(cells, this.options.emulator === true);
      return {
        messageId: d.message_id,
        publishTime: cellMicros(cells[1]?.v),
        reason: d.reason,
        payload: Buffer.from(d.payload_base64, 'base64'),
        attributes: d.attributes,
        orderingKey: d.ordering_key,
        replayCount: d.replay_count,
      };
    });
  }

  /**
   * Removes dead letters after a replay. Rows still in BigQuery's streaming buffer cannot be
   * deleted by DML, so removal is a tombstone: a newer record with reason `_REPLAYED`, which every
   * dead-letter read skips (reads keep the newest record per message_id).
   */
  async deleteDeadLetters(def: StreamDef, messageIds: readonly string[]): Promise<number> {
    if (messageIds.length === 0) return 0;
    const s = this.compiled(def);
    const live = await this.getRawDeadLetters(def, messageIds);
    if (live.length === 0) return 0;
    const at = nowMicros();
    await this.insertAll(s.dlTableId, live.map((d) => ({
      insertId: `${d.messageId}/replayed/${at}`,
      json: deadLetterJson({ messageId: d.messageId, publishTime: d.publishTime, reason: REPLAYED as DeadLetter['reason'], detail: 'replayed', fieldPath: null, payload: new Uint8Array(), attributes: {}, orderingKey: null, replayCount: d.replayCount }, timestampText(at)),
    })));
    return live.length;
  }

  async getRow(def: StreamDef, messageId: string): Promise<ApiRow | undefined> {
    const s = this.compiled(def);
    const params = new Params();
    const sql =
      `SELECT ${s.columnList} FROM ${s.table}` +
      ` WHERE publish_time >= ${params.time('range_from', this.lookbackFrom())} AND message_id = ${params.add('msg_id', { type: 'STRING', value: messageId })}` +
      ' ORDER BY ingest_time LIMIT 1';
    const rows = await this.query(sql, params.list);
    return rows[0] ? this.toApiRow(s, rows[0]) : undefined;
  }

  async queryDeadLetters(def: StreamDef, q: DeadLetterQuery): Promise<ApiDeadLetter[]> {
    const s = this.compiled(def);
    const params = new Params();
    const inner = timeAndKeyset(q.from ?? this.lookbackFrom(), q.to, undefined, 'desc', params);
    if (q.after) inner.push(`publish_time <= ${params.time('after_t', q.after.publishTime)}`);
    const outer: string[] = [`reason != ${replayedParam(params)}`];
    if (q.reason) outer.push(`reason = ${params.add('dl_reason', { type: 'STRING', value: q.reason })}`);
    if (q.after) outer.push(`(publish_time < @after_t OR message_id < ${params.add('after_id', { type: 'STRING', value: q.after.messageId })})`);
    const cols = DEAD_LETTER_FIELDS.map((f) => ident(f.name)).join(', ');
    const sql =
      `SELECT ${cols} FROM (SELECT ${cols} FROM ${s.dlTable} WHERE ${inner.join(' AND ')} ${DEDUP_DEAD_LETTERS})` +
      ` WHERE ${outer.join(' AND ')}` +
      ` ORDER BY publish_time DESC, message_id DESC LIMIT ${params.add('page_limit', { type: 'INT64', value: String(q.limit) })}`;
    const rows = await this.query(sql, params.list);
    return rows.map((r) => deadLetterRow(r, this.options.emulator === true));
  }

  async stats(def: StreamDef): Promise<StreamStats> {
    const s = this.compiled(def);
    const params = new Params();
    const from = params.time('range_from', this.lookbackFrom());
    const sql =
      `SELECT (SELECT COUNT(DISTINCT message_id) FROM ${s.table} WHERE publish_time >= ${from}),` +
      ` (SELECT MAX(publish_time) FROM ${s.table} WHERE publish_time >= ${from}),` +
      ` (SELECT COUNT(*) FROM ${this.liveDeadLetters(s, [`publish_time >= ${from}`], params)}),` +
      ` (SELECT MAX(publish_time) FROM ${this.liveDeadLetters(s, [`publish_time >= ${from}`], params)})`;
    const [row] = await this.query(sql, params.list);
    const v = (i: number) => row?.[i]?.v ?? null;
    return {
      rowCount: Number(v(0) ?? 0),
      newestPublishTime: v(1) === null ? null : cellMicros(v(1)),
      deadLetterCount: Number(v(2) ?? 0),
      newestDeadLetterPublishTime: v(3) === null ? null : cellMicros(v(3)),
    };
  }

  async ping(): Promise<void> {
    await this.query('SELECT 1', []);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** Named parameters of one query (names avoid GoogleSQL keywords such as FROM and LIMIT). */
class Params {
  readonly list: QueryParameter[] = [];
  add(name: string, p: { type: string; value: string }): string {
    // The same constant may be used in several places of one query (e.g. the replayed marker).
    if (this.list.some((x) => x.name === name && x.parameterValue.value === p.value)) return `@${name}`;
    this.list.push({ name, parameterType: { type: p.type }, parameterValue: { value: p.value } });
    return `@${name}`;
  }
  time(name: string, micros: bigint): string {
    return this.add(name, { type: 'TIMESTAMP', value: timestampText(micros) });
  }
}

function timeAndKeyset(from: bigint, to: bigint | undefined, after: Keyset | undefined, order: 'asc' | 'desc', p: Params): string[] {
  const where = [`publish_time >= ${p.time('range_from', from)}`];
  if (to !== undefined) where.push(`publish_time < ${p.time('range_to', to)}`);
  if (after) {
    const t = p.time('after_t', after.publishTime);
    const id = p.add('after_id', { type: 'STRING', value: after.messageId });
    const cmp = order === 'asc' ? '>' : '<';
    // The first term bounds the partitions read; the second is the exact keyset condition.
    where.push(`publish_time ${cmp}= ${t} AND (publish_time ${cmp} ${t} OR message_id ${cmp} ${id})`);
  }
  return where;
}

function replayedParam(p: Params): string {
  return p.add('replayed', { type: 'STRING', value: REPLAYED });
}

/** The SQL expression of a field chain: a column or a struct member. */
function fieldExpr(chain: readonly FieldDef[]): string {
  return chain.map((c) => ident(c.name)).join('.');
}

const ATTRIBUTE_FIELD: FieldDef = { name: 'attribute', type: 'STRING', mode: 'NULLABLE' };
const CMP = { eq: '=', gt: '>', gte: '>=', lt: '<', lte: '<=' } as const;

function filterSql(f: Filter, p: Params): string {
  const bind = (leaf: FieldDef, v: Parameters<typeof scalarParam>[2]) => {
    const param = scalarParam(`f${p.list.length}`, leaf, v);
    p.list.push(param);
    // The emulator types NUMERIC parameters as STRING; the cast is a no-op on BigQuery.
    return leaf.type === 'NUMERIC' ? `CAST(@${param.name} AS NUMERIC)` : `@${param.name}`;
  };
  const expr = f.attribute !== undefined ? `JSON_VALUE(attributes[${bind(ATTRIBUTE_FIELD, f.attribute)}])` : fieldExpr(f.chain);
  const leaf = f.attribute !== undefined ? ATTRIBUTE_FIELD : f.chain[f.chain.length - 1]!;
  switch (f.op) {
    case 'is_null': return `${expr} IS NULL`;
    case 'not_null': return `${expr} IS NOT NULL`;
    case 'prefix': return `STARTS_WITH(${expr}, ${bind(ATTRIBUTE_FIELD, f.value)})`;
    case 'in': return `${expr} IN (${f.values.map((v) => bind(leaf, v)).join(', ')})`;
    default: return `${expr} ${CMP[f.op]} ${bind(leaf, f.value)}`;
  }
}

function deadLetterJson(d: DeadLetter, at: string): Record<string, unknown> {
  const json: Record<string, unknown> = {
    message_id: d.messageId,
    publish_time: timestampText(d.publishTime),
    dead_lettered_at: at,
    reason: d.reason,
    detail: d.detail,
    payload: Buffer.from(d.payload).toString('base64'),
    payload_size: String(d.payload.byteLength),
    attributes: JSON.stringify(d.attributes),
    replay_count: String(d.replayCount),
  };
  if (d.fieldPath !== null) json.field_path = d.fieldPath;
  if (d.orderingKey !== null) json.ordering_key = d.orderingKey;
  return json;
}

function deadLetterRow(cells: readonly Cell[], emulator: boolean): ApiDeadLetter {
  const v = (i: number) => cells[i]?.v ?? null;
  let bytes = v(6) === null ? Buffer.alloc(0) : Buffer.from(String(v(6)), 'base64');
  if (emulator) bytes = Buffer.from(bytes.toString('latin1'), 'base64');
  let text: string | null;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    text = null;
  }
  return {
    message_id: String(v(0)),
    publish_time: formatTimestamp(cellMicros(v(1))),
    dead_lettered_at: formatTimestamp(cellMicros(v(2))),
    reason: String(v(3)),
    detail: v(4) === null ? null : String(v(4)),
    field_path: v(5) === null ? null : String(v(5)),
    payload: text,
    payload_base64: bytes.toString('base64'),
    payload_size: Number(v(7)),
    attributes: v(8) === null ? {} : (JSON.parse(String(v(8))) as Record<string, string>),
    ordering_key: v(9) === null ? null : String(v(9)),
    replay_count: Number(v(10)),
  };
}
