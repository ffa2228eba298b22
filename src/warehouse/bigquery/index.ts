/**
 * The Google Cloud warehouse, compiled from the shared SQL of `../sql/` and this dialect;
 * `driver.ts` sends the requests.
 */
import type { DeadLetter, StoredRow } from '../../core/message.js';
import { bigQueryDeadLetterSchema, bigQueryTableSchema, DEAD_LETTER_CLUSTERING } from '../../core/export.js';
import type {
  AggregateQuery,
  AggregateRow,
  DeadLetterQuery,
  Filter,
  ReadRow,
  RowQuery,
  StatsWindow,
  StoredDeadLetter,
  StreamStats,
  Warehouse,
  WindowStats,
  WriteBatch,
  WriteResult,
} from '../../core/ports.js';
import { WarehouseError } from '../../core/ports.js';
import { ENVELOPE_FIELDS, type FieldDef, type StreamDef } from '../../core/schema.js';
import { nowMicros } from '../../core/time.js';
import { aggregateColumns, groupAndOrder, readAggregate } from '../sql/aggregate.js';
import { type DeadLetterRecord, storedDeadLetter } from '../sql/dead-letters.js';
import { filterSql } from '../sql/filters.js';
import { keysetOrder, timeAndKeyset } from '../sql/keyset.js';
import { allColumns, DEAD_LETTER_COLUMNS, decodeRows, projection } from '../sql/rows.js';
import { aggregateDialect, cellAt, DEDUP_DEAD_LETTERS, DEDUP_ROWS, filterDialect, ident, Params, REPLAYED, replayedParam } from './dialect.js';
import { type BigQueryApi, BigQueryDriver } from './driver.js';
import { ensureDataset, ensureTable } from './introspect.js';
import { type Cell, type CellReader, cellMicros, cellReader, type QueryParameter, timestampText, toInsertJson } from './types.js';

export { type BigQueryApi, type BigQueryClientOptions, createBigQueryApi } from './driver.js';
export { classify } from './errors.js';

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

const DAY_MICROS = 86_400_000_000n;
const DL_COLUMN_LIST = DEAD_LETTER_COLUMNS.map(ident).join(', ');

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
  private readonly driver: BigQueryDriver;

  constructor(
    api: BigQueryApi,
    private readonly options: BigQueryOptions,
  ) {
    this.driver = new BigQueryDriver(api, options);
  }

  private qualified(table: string): string {
    return ident(`${this.options.projectId}.${this.options.dataset}.${table}`);
  }

  async init(streams: readonly StreamDef[]): Promise<void> {
    const api = this.driver.api;
    await ensureDataset(api, this.options);
    for (const def of streams) {
      await ensureTable(api, this.options, def.name, bigQueryTableSchema(def), def.clustering, def.name);
      await ensureTable(api, this.options, `${def.name}_dead_letters`, bigQueryDeadLetterSchema(), DEAD_LETTER_CLUSTERING, def.name);
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

  private compiled(def: StreamDef): CompiledStream {
    const s = this.streams.get(def.name);
    if (!s) throw new WarehouseError(`stream "${def.name}" was not initialised`, false);
    return s;
  }

  async write(def: StreamDef, batch: WriteBatch): Promise<WriteResult> {
    const s = this.compiled(def);
    if (this.driver.closed) throw new WarehouseError('the warehouse is closed', true);
    const ingestTime = timestampText(batch.ingestTime);
    if (batch.rows.length > 0) {
      await this.driver.insertAll(s.tableId, batch.rows.map((r) => ({ insertId: r.messageId, json: this.rowJson(s, r, ingestTime) })));
    }
    if (batch.deadLetters.length > 0) {
      // A replay that fails again is a new dead letter (reads keep the newest per message_id).
      await this.driver.insertAll(s.dlTableId, batch.deadLetters.map((d) => ({ insertId: `${d.messageId}/${d.replayCount}`, json: deadLetterJson(d, ingestTime) })));
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

  private lookbackFrom(): bigint {
    return nowMicros() - BigInt(this.options.lookbackDays) * DAY_MICROS;
  }

  /**
   * A dead-letter record from its cells. The emulator stores an insertAll BYTES value (base64
   * text) verbatim, so its payloads are decoded twice (see {@link BigQueryOptions.emulator}).
   */
  private deadLetterRecord(cells: readonly Cell[]): DeadLetterRecord {
    const v = (i: number) => cellAt(cells, i);
    let bytes = v(6) === null ? Buffer.alloc(0) : Buffer.from(String(v(6)), 'base64');
    if (this.options.emulator === true) bytes = Buffer.from(bytes.toString('latin1'), 'base64');
    return {
      messageId: String(v(0)),
      publishTime: cellMicros(v(1)),
      deadLetteredAt: cellMicros(v(2)),
      reason: String(v(3)),
      detail: v(4) === null ? null : String(v(4)),
      fieldPath: v(5) === null ? null : String(v(5)),
      payload: bytes,
      payloadSize: Number(v(7)),
      attributes: v(8) === null ? null : String(v(8)),
      orderingKey: v(9) === null ? null : String(v(9)),
      replayCount: Number(v(10)),
    };
  }

  async queryRows(def: StreamDef, q: RowQuery): Promise<ReadRow[]> {
    const s = this.compiled(def);
    const params = new Params();
    const where = timeAndKeyset(q.from ?? this.lookbackFrom(), q.to, q.after, q.order, params);
    const filters = filterDialect(params);
    for (const f of q.filters) where.push(filterSql(f, filters));
    const idx = projection(s.columns, q.fields);
    const sql =
      `SELECT ${idx.map((i) => ident(s.columns[i]!.name)).join(', ')} FROM ${s.table} WHERE ${where.join(' AND ')}` +
      ` ${DEDUP_ROWS}` +
      ` ${keysetOrder(q.order)} LIMIT ${params.add('page_limit', { type: 'INT64', value: String(q.limit) })}`;
    return decodeRows(s.columns, s.readers, idx, await this.driver.query(sql, params.list), cellAt);
  }

  /**
   * The stream's rows in a publish_time range, one per message_id, as a subquery: the base of
   * aggregates and window statistics (filters go inside: copies of a message agree on them).
   */
  private dedupedRows(s: CompiledStream, from: bigint, to: bigint | undefined, filters: readonly Filter[], params: Params): string {
    const where = timeAndKeyset(from, to, undefined, 'asc', params);
    const d = filterDialect(params);
    for (const f of filters) where.push(filterSql(f, d));
    return `(SELECT * FROM ${s.table} WHERE ${where.join(' AND ')} ${DEDUP_ROWS})`;
  }

  /** The live dead letters (newest record per message_id, not replayed) in a range, as a subquery. */
  private liveDeadLetters(s: CompiledStream, where: string[], params: Params): string {
    const cols = DL_COLUMN_LIST;
    return `(SELECT ${cols} FROM (SELECT ${cols} FROM ${s.dlTable} WHERE ${where.join(' AND ')} ${DEDUP_DEAD_LETTERS}) WHERE reason != ${replayedParam(params)})`;
  }

  async aggregate(def: StreamDef, q: AggregateQuery): Promise<AggregateRow[]> {
    const s = this.compiled(def);
    const params = new Params();
    const d = aggregateDialect(params, (q.intervalMicros !== undefined ? 1 : 0) + q.groupBy.length);
    const { keys, metrics, readers } = aggregateColumns(q, d);
    const base = this.dedupedRows(s, q.from ?? this.lookbackFrom(), q.to, q.filters, params);
    const inner = [...keys.map((k, i) => `${k} AS k${i}`), ...d.inner];
    const keyed = `(SELECT ${inner.length ? inner.join(', ') : '1 AS one'} FROM ${base})`;
    // The window needs the keys as columns: computed over the keyed subquery.
    const source = d.windows.length ? `(SELECT *, ${d.windows.join(', ')} FROM ${keyed})` : keyed;
    const positions = keys.map((_, i) => `k${i}`);
    const sql =
      `SELECT ${[...positions, ...metrics].join(', ')} FROM ${source}` +
      groupAndOrder(positions) +
      ` LIMIT ${params.add('page_limit', { type: 'INT64', value: String(q.limit + 1) })}`;
    return readAggregate(await this.driver.query(sql, params.list), readers, cellAt);
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
    const [row] = await this.driver.query(sql, params.list);
    const v = (i: number) => row?.[i]?.v ?? null;
    const n = Number(v(0) ?? 0);
    const dlParams = new Params();
    const dlWhere = timeAndKeyset(w.from, w.to, undefined, 'desc', dlParams);
    const byReason = await this.driver.query(`SELECT reason, COUNT(*) FROM ${this.liveDeadLetters(s, dlWhere, dlParams)} GROUP BY reason ORDER BY reason`, dlParams.list);
    return {
      rowCount: n,
      deadLettersByReason: Object.fromEntries(byReason.map((c) => [String(c[0]?.v), Number(c[1]?.v)])),
      freshnessMs: n === 0 ? null : { p50: Number(v(1)), p95: Number(v(2)), p99: Number(v(3)), max: Number(v(4)) },
    };
  }

  async getRawDeadLetters(def: StreamDef, messageIds: readonly string[]): Promise<StoredDeadLetter[]> {
    if (messageIds.length === 0) return [];
    const s = this.compiled(def);
    const params = new Params();
    const ids = messageIds.map((id, i) => params.add(`id${i}`, { type: 'STRING', value: id }));
    const where = [`publish_time >= ${params.time('range_from', this.lookbackFrom())}`, `message_id IN (${ids.join(', ')})`];
    const rows = await this.driver.query(`SELECT * FROM ${this.liveDeadLetters(s, where, params)} ORDER BY publish_time, message_id`, params.list);
    return rows.map((cells) => storedDeadLetter(this.deadLetterRecord(cells)));
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
    await this.driver.insertAll(s.dlTableId, live.map((d) => ({
      insertId: `${d.messageId}/replayed/${at}`,
      json: deadLetterJson({ messageId: d.messageId, publishTime: d.publishTime, reason: REPLAYED as DeadLetter['reason'], detail: 'replayed', fieldPath: null, payload: new Uint8Array(), attributes: {}, orderingKey: null, replayCount: d.replayCount }, timestampText(at)),
    })));
    return live.length;
  }

  async getRow(def: StreamDef, messageId: string): Promise<ReadRow | undefined> {
    const s = this.compiled(def);
    const params = new Params();
    const sql =
      `SELECT ${s.columnList} FROM ${s.table}` +
      ` WHERE publish_time >= ${params.time('range_from', this.lookbackFrom())} AND message_id = ${params.add('msg_id', { type: 'STRING', value: messageId })}` +
      ' ORDER BY ingest_time LIMIT 1';
    const rows = await this.driver.query(sql, params.list);
    return decodeRows(s.columns, s.readers, allColumns(s.columns), rows, cellAt)[0];
  }

  async queryDeadLetters(def: StreamDef, q: DeadLetterQuery): Promise<StoredDeadLetter[]> {
    const s = this.compiled(def);
    const params = new Params();
    const inner = timeAndKeyset(q.from ?? this.lookbackFrom(), q.to, undefined, 'desc', params);
    if (q.after) inner.push(`publish_time <= ${params.time('after_t', q.after.publishTime)}`);
    const outer: string[] = [`reason != ${replayedParam(params)}`];
    if (q.reason) outer.push(`reason = ${params.add('dl_reason', { type: 'STRING', value: q.reason })}`);
    if (q.after) outer.push(`(publish_time < @after_t OR message_id < ${params.add('after_id', { type: 'STRING', value: q.after.messageId })})`);
    const cols = DL_COLUMN_LIST;
    const sql =
      `SELECT ${cols} FROM (SELECT ${cols} FROM ${s.dlTable} WHERE ${inner.join(' AND ')} ${DEDUP_DEAD_LETTERS})` +
      ` WHERE ${outer.join(' AND ')}` +
      ` ORDER BY publish_time DESC, message_id DESC LIMIT ${params.add('page_limit', { type: 'INT64', value: String(q.limit) })}`;
    const rows = await this.driver.query(sql, params.list);
    return rows.map((r) => storedDeadLetter(this.deadLetterRecord(r)));
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
    const [row] = await this.driver.query(sql, params.list);
    const v = (i: number) => row?.[i]?.v ?? null;
    return {
      rowCount: Number(v(0) ?? 0),
      newestPublishTime: v(1) === null ? null : cellMicros(v(1)),
      deadLetterCount: Number(v(2) ?? 0),
      newestDeadLetterPublishTime: v(3) === null ? null : cellMicros(v(3)),
    };
  }

  async ping(): Promise<void> {
    await this.driver.query('SELECT 1', []);
  }

  async close(): Promise<void> {
    this.driver.closed = true;
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

