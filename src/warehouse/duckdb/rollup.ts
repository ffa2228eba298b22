/**
 * Minute rollups of a stream on DuckDB: one row per minute of `publish_time` holding the row
 * count and, for every numeric field (INT64, FLOAT64, NUMERIC, including members of
 * non-repeated RECORDs), the non-null count, sum, minimum and maximum.
 *
 * Ingest keeps them with a watermark on `ingest_time`: the rollup holds exactly the rows whose
 * `ingest_time` is below the watermark. A fold, run by the writer after writes (under the write
 * lock, in one transaction with the watermark), adds the rows between the watermark and the newest
 * `ingest_time`, and the writer never stamps a later row below the watermark. A query therefore
 * reads, in one snapshot, the rollup's whole minutes inside the range, plus the raw rows of the
 * partial minutes at its edges, plus the raw rows not folded yet (`ingest_time` at or above the
 * watermark, which zone maps find in the newest row groups). The answer equals a scan of the
 * table; only its cost changes (the aggregate benchmark measures both).
 *
 * Served from the rollup: `count`, and `sum`, `min`, `max` of any numeric field and `avg` of INT64
 * and FLOAT64 fields, with no filter and no group_by, bucketed by a whole number of minutes (or
 * not bucketed). Everything else scans the table. `avg` of NUMERIC scans too: DuckDB averages a
 * DECIMAL in extended precision, which a sum divided by a count in SQL does not reproduce to the
 * last digit.
 */
import { type DuckDBConnection, DuckDBTimestampValue, type DuckDBValue } from '@duckdb/node-api';
import type { AggregateQuery, Metric } from '../../core/ports.js';
import type { FieldDef, StreamDef } from '../../core/schema.js';
import { columnSql, fieldExpr, ident } from './dialect.js';
import { classify } from './errors.js';
import { Mutex, SharedGate } from './pool.js';

/** One minute in microseconds: the rollup's bucket width. */
export const MINUTE_MICROS = 60_000_000n;
/** The schema that holds the rollups and their state (kept out of `main`, where streams live). */
export const INTERNAL_SCHEMA = '_tributary';
/** One row per stream: the rollup's signature (its measures) and its watermark. */
export const STATE_TABLE = `${ident(INTERNAL_SCHEMA)}.rollup_state`;
/** The watermark of a rollup that holds nothing yet: below every `ingest_time`. */
export const EMPTY_WATERMARK = -62_135_596_800_000_000n; // 0001-01-01T00:00:00Z

type NumericType = 'INT64' | 'FLOAT64' | 'NUMERIC';

interface Measure {
  /** Dotted field path, e.g. `temperature_c` or `location.lat`. */
  readonly path: string;
  readonly leaf: FieldDef;
  readonly type: NumericType;
  /** The field's SQL expression on the stream table. */
  readonly expr: string;
  readonly index: number;
}

const NUMERIC_TYPES = new Set<string>(['INT64', 'FLOAT64', 'NUMERIC']);

/** What a rollup query needs from the caller: the SQL and its parameters. */
export interface RollupSql {
  readonly sql: string;
  readonly params: DuckDBValue[];
}

/** The minute rollup of one stream: its DDL, its fold, and the queries it can answer. */
export class MinuteRollup {
  /** The rollup table (quoted, schema-qualified). */
  readonly table: string;
  readonly measures: readonly Measure[];
  /** Identifies the measures; a rollup whose stored signature differs is rebuilt. */
  readonly signature: string;
  private readonly byPath: ReadonlyMap<string, Measure>;

  constructor(
    readonly stream: StreamDef,
    /** The stream table (quoted). */
    private readonly source: string,
  ) {
    this.table = `${ident(INTERNAL_SCHEMA)}.${ident(`rollup_${stream.name}`)}`;
    const measures: Measure[] = [];
    const walk = (fields: readonly FieldDef[], chain: readonly FieldDef[]) => {
      for (const f of fields) {
        if (f.mode === 'REPEATED') continue;
        const path = [...chain, f];
        if (f.type === 'RECORD') walk(f.fields ?? [], path);
        else if (NUMERIC_TYPES.has(f.type)) {
          measures.push({ path: path.map((x) => x.name).join('.'), leaf: f, type: f.type as NumericType, expr: fieldExpr(path), index: measures.length });
        }
      }
    };
    walk(stream.fields, []);
    this.measures = measures;
    this.byPath = new Map(measures.map((m) => [m.path, m]));
    this.signature = JSON.stringify({ v: 1, measures: measures.map((m) => [m.path, m.type]) });
  }

  /** `CREATE TABLE` of the rollup. */
  createSql(): string {
    const cols = ['"minute" TIMESTAMP PRIMARY KEY', '"n" BIGINT NOT NULL'];
    for (const m of this.measures) {
      const value = columnSql({ ...m.leaf, mode: 'NULLABLE' });
      cols.push(`"c${m.index}" BIGINT NOT NULL`, `"s${m.index}" ${m.type === 'INT64' ? 'HUGEINT' : value}`, `"lo${m.index}" ${value}`, `"hi${m.index}" ${value}`);
    }
    return `CREATE TABLE ${this.table} (${cols.join(', ')})`;
  }

  /**
   * Adds to the rollup the rows with `ingest_time` in [$1, $2) (timestamps), merging minutes that
   * already have a row. The caller runs it in one transaction with the watermark's update.
   */
  foldSql(): string {
    const select = [`make_timestamp((epoch_us(publish_time) // ${MINUTE_MICROS}) * ${MINUTE_MICROS})`, 'count(*)'];
    const names = ['"minute"', '"n"'];
    const update = ['"n" = "n" + EXCLUDED."n"'];
    for (const m of this.measures) {
      const i = m.index;
      select.push(`count(${m.expr})`, `sum(${m.expr})`, `min(${m.expr})`, `max(${m.expr})`);
      names.push(`"c${i}"`, `"s${i}"`, `"lo${i}"`, `"hi${i}"`);
      update.push(
        `"c${i}" = "c${i}" + EXCLUDED."c${i}"`,
        `"s${i}" = coalesce("s${i}" + EXCLUDED."s${i}", "s${i}", EXCLUDED."s${i}")`,
        // least and greatest ignore NULLs.
        `"lo${i}" = least("lo${i}", EXCLUDED."lo${i}")`,
        `"hi${i}" = greatest("hi${i}", EXCLUDED."hi${i}")`,
      );
    }
    return (
      `INSERT INTO ${this.table} (${names.join(', ')}) SELECT ${select.join(', ')} FROM ${this.source} ` +
      `WHERE ingest_time >= $1 AND ingest_time < $2 GROUP BY 1 ` +
      `ON CONFLICT ("minute") DO UPDATE SET ${update.join(', ')}`
    );
  }

  /** Whether `q` can be answered from the rollup (the answer is the same either way). */
  serves(q: AggregateQuery): boolean {
    if (q.filters.length > 0 || q.groupBy.length > 0) return false;
    if (q.intervalMicros !== undefined && (q.intervalMicros <= 0n || q.intervalMicros % MINUTE_MICROS !== 0n)) return false;
    // Minute cells line up with [from, to) only at or after the epoch (bucketing truncates).
    if (q.from !== undefined && q.from <= 0n) return false;
    const lo = q.from === undefined ? undefined : ceilMinute(q.from);
    const hi = q.to === undefined ? undefined : floorMinute(q.to);
    if (hi !== undefined && hi <= 0n) return false;
    if (lo !== undefined && hi !== undefined && lo >= hi) return false;
    return q.metrics.every((m) => this.measureOf(m) !== null);
  }

  /** The measure a metric reads; undefined for `count`; null when the rollup cannot serve it. */
  private measureOf(m: Metric): Measure | undefined | null {
    if (m.fn === 'count') return undefined;
    if (m.fn !== 'sum' && m.fn !== 'avg' && m.fn !== 'min' && m.fn !== 'max') return null;
    const measure = this.byPath.get((m.chain ?? []).map((f) => f.name).join('.'));
    if (!measure) return null;
    if (m.fn === 'avg' && measure.type === 'NUMERIC') return null;
    return measure;
  }

  /**
   * The SQL answering `q` (which {@link serves} accepted) from the rollup, the partial minutes at
   * the edges and the rows at or above `watermark`. Its columns are those of the scan: the bucket
   * (when bucketed), then the metrics, with the same types.
   */
  query(q: AggregateQuery, watermark: bigint): RollupSql {
    const params: DuckDBValue[] = [];
    const p = (v: DuckDBValue) => {
      params.push(v);
      return `$${params.length}`;
    };
    const ts = (micros: bigint) => p(new DuckDBTimestampValue(micros));
    const used = new Map<number, Measure>();
    for (const m of q.metrics) {
      const measure = this.measureOf(m);
      if (measure) used.set(measure.index, measure);
    }
    const measures = [...used.values()];
    const partCols = ['"n"', ...measures.flatMap((m) => [`"c${m.index}"`, `"s${m.index}"`, `"lo${m.index}"`, `"hi${m.index}"`])];
    const rawAggs = ['count(*)', ...measures.flatMap((m) => [`count(${m.expr})`, `sum(${m.expr})`, `min(${m.expr})`, `max(${m.expr})`])];
    const rawMinute = `(epoch_us(publish_time) // ${MINUTE_MICROS}) * ${MINUTE_MICROS}`;
    const raw = (where: string[]) =>
      `SELECT ${rawMinute} AS m, ${rawAggs.map((a, i) => `${a} AS ${partCols[i]}`).join(', ')} FROM ${this.source} WHERE ${where.join(' AND ')} GROUP BY 1`;

    const lo = q.from === undefined ? undefined : ceilMinute(q.from);
    const hi = q.to === undefined ? undefined : floorMinute(q.to);
    const loP = lo === undefined ? undefined : ts(lo);
    const hiP = hi === undefined ? undefined : ts(hi);
    const parts: string[] = [];
    const whole = [loP && `"minute" >= ${loP}`, hiP && `"minute" < ${hiP}`].filter(Boolean) as string[];
    parts.push(`SELECT epoch_us("minute") AS m, ${partCols.join(', ')} FROM ${this.table}` + (whole.length ? ` WHERE ${whole.join(' AND ')}` : ''));
    if (q.from !== undefined && q.from < lo!) parts.push(raw([`publish_time >= ${ts(q.from)}`, `publish_time < ${loP!}`]));
    if (q.to !== undefined && hi! < q.to) parts.push(raw([`publish_time >= ${hiP!}`, `publish_time < ${ts(q.to)}`]));
    const tail = [`ingest_time >= ${ts(watermark)}`];
    if (loP) tail.push(`publish_time >= ${loP}`);
    if (hiP) tail.push(`publish_time < ${hiP}`);
    parts.push(raw(tail));

    const select: string[] = [];
    const bucketed = q.intervalMicros !== undefined;
    if (bucketed) {
      // The bucket's number, as the scan returns it.
      select.push(`m // ${p(q.intervalMicros!)}::BIGINT`);
    }
    for (const m of q.metrics) {
      const measure = this.measureOf(m);
      const i = measure?.index;
      switch (m.fn) {
        case 'count':
          select.push('coalesce(sum("n"), 0)::BIGINT');
          break;
        case 'sum':
          select.push(`sum("s${i}")`);
          break;
        case 'avg':
          select.push(`(sum("s${i}") / nullif(sum("c${i}"), 0))::DOUBLE`);
          break;
        case 'min':
          select.push(`min("lo${i}")`);
          break;
        case 'max':
          select.push(`max("hi${i}")`);
          break;
        default:
          throw new Error(`metric ${m.fn} is not served by the rollup`);
      }
    }
    const sql =
      `WITH parts AS (${parts.join(' UNION ALL ')}) SELECT ${select.join(', ')} FROM parts` +
      (bucketed ? ' GROUP BY 1 ORDER BY 1 ASC NULLS FIRST' : '') +
      ` LIMIT ${p(BigInt(q.limit + 1))}`;
    return { sql, params };
  }
}

/** What the rollups need of the driver. */
export interface RollupHost {
  /** The writer's connection (DDL at init). */
  readonly writer: DuckDBConnection;
  /** The folds' own connection. */
  readonly folder: DuckDBConnection;
  readonly closed: boolean;
  underWriteLock<T>(fn: () => Promise<T>): Promise<T>;
}

/** The state of one stream's rollup, for `/metrics`. */
export interface RollupStatus {
  readonly stream: string;
  /** ingest_time of the newest row written minus that of the newest row folded in, in seconds (0: caught up). */
  readonly lagSeconds: number;
  /** Folds that failed since the process started (each is retried after the next write). */
  readonly failures: number;
  /** Whether the last fold failed. Answers stay correct meanwhile: rows not folded in are scanned. */
  readonly failing: boolean;
}

/**
 * The rollups of every stream and their folds: the watermarks, the floor below which no row is
 * stamped, the fold timer, and the gate between rollup queries and a fold's commit.
 */
export class Rollups {
  /** Per stream: rows with `ingest_time` below it are in the rollup. */
  private readonly watermarks = new Map<string, bigint>();
  /** No row is stamped with an `ingest_time` below this (the highest watermark). */
  private ingestFloor = EMPTY_WATERMARK;
  /** Per stream: the newest `ingest_time` committed. */
  private readonly lastIngest = new Map<string, bigint>();
  private readonly rollups = new Map<string, MinuteRollup>();
  /** One fold at a time. */
  private readonly foldLock = new Mutex();
  /** Streams written since their last fold. */
  private readonly unfolded = new Set<string>();
  private foldTimer: NodeJS.Timeout | undefined;
  /** Rollup queries hold it shared; a fold's commit holds it alone. */
  private readonly foldGate = new SharedGate();
  /** The last fold's failure, if it failed (the next write schedules another). */
  foldError: Error | undefined;
  /** How many aggregates each path answered. */
  readonly aggregatePaths = { rollup: 0, scan: 0 };
  /** Failed folds per stream since start. */
  private readonly foldFailures = new Map<string, number>();
  /** Streams whose last fold failed. */
  private readonly foldFailing = new Set<string>();

  constructor(
    private readonly host: RollupHost,
    private readonly options: { readonly enabled: boolean; readonly foldDelayMs: number; readonly onError?: (stream: string, err: Error) => void },
  ) {}

  /** The rollup of a stream, when rollups are on. */
  of(stream: string): MinuteRollup | undefined {
    return this.rollups.get(stream);
  }

  /** See {@link WriteHooks.floor} in `driver.ts`. */
  floor(): bigint {
    return this.ingestFloor;
  }

  /** A write of `stream` committed `inserted` rows at `ingestTime` (under the write lock). */
  committed(stream: string, inserted: number, ingestTime: bigint): void {
    if (inserted === 0) return;
    if (ingestTime > (this.lastIngest.get(stream) ?? EMPTY_WATERMARK)) this.lastIngest.set(stream, ingestTime);
    if (this.rollups.has(stream)) this.schedule(stream);
  }

  /**
   * Creates the stream's rollup, or rebuilds it when its measures changed (a field was added) or
   * it is missing, then folds in every row not in it yet. With rollups off, drops it, so that
   * turning them on again rebuilds it from the table.
   */
  async init(def: StreamDef, source: string): Promise<void> {
    const w = this.host.writer;
    const name = def.name;
    await w.run(`CREATE SCHEMA IF NOT EXISTS ${ident(INTERNAL_SCHEMA)}`);
    await w.run(`CREATE TABLE IF NOT EXISTS ${STATE_TABLE} (stream VARCHAR PRIMARY KEY, signature VARCHAR NOT NULL, watermark BIGINT NOT NULL)`);
    const table = `${ident(INTERNAL_SCHEMA)}.${ident(`rollup_${name}`)}`;
    if (!this.options.enabled) {
      await w.run(`DROP TABLE IF EXISTS ${table}`);
      await w.run(`DELETE FROM ${STATE_TABLE} WHERE stream = $1`, [name]);
      return;
    }
    const rollup = new MinuteRollup(def, source);
    this.rollups.set(name, rollup);
    const state = (await w.runAndReadAll(`SELECT signature, watermark FROM ${STATE_TABLE} WHERE stream = $1`, [name])).getRows()[0];
    const exists = (await w.runAndReadAll(`SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = $1 AND table_name = $2`, [INTERNAL_SCHEMA, `rollup_${name}`])).getRows()[0]![0] === 1n;
    let watermark: bigint;
    if (state && state[0] === rollup.signature && exists) {
      watermark = state[1] as bigint;
    } else {
      await w.run('BEGIN TRANSACTION');
      try {
        await w.run(`DROP TABLE IF EXISTS ${table}`);
        await w.run(rollup.createSql());
        await w.run(`INSERT OR REPLACE INTO ${STATE_TABLE} VALUES ($1, $2, $3)`, [name, rollup.signature, EMPTY_WATERMARK]);
        await w.run('COMMIT');
      } catch (err) {
        await w.run('ROLLBACK').catch(() => undefined);
        throw err;
      }
      watermark = EMPTY_WATERMARK;
    }
    this.watermarks.set(name, watermark);
    if (watermark > this.ingestFloor) this.ingestFloor = watermark;
    const [[newest]] = (await w.runAndReadAll(`SELECT max(epoch_us(ingest_time)) FROM ${source} WHERE ingest_time >= $1`, [new DuckDBTimestampValue(watermark)])).getRows() as [[bigint | null]];
    if (newest !== null) this.lastIngest.set(name, newest);
    await this.fold(name);
    if (this.foldError) throw this.foldError;
  }

  /**
   * Adds to the rollup the rows stamped since its watermark and moves the watermark past them, in
   * one transaction on the fold's own connection, while writes go on. Its range is picked under
   * the write lock, in memory: every row stamped below the new watermark has committed, and every
   * later row will be stamped at or above it. One fold runs at a time.
   */
  fold(name: string): Promise<void> {
    return this.foldLock.run(async () => {
      const rollup = this.rollups.get(name);
      const from = this.watermarks.get(name);
      if (!rollup || from === undefined || this.host.closed) return;
      this.unfolded.delete(name);
      const to = await this.host.underWriteLock(async () => {
        const last = this.lastIngest.get(name);
        if (last === undefined || last < from) return undefined;
        if (last + 1n > this.ingestFloor) this.ingestFloor = last + 1n;
        return last + 1n;
      });
      if (to === undefined) return;
      const f = this.host.folder;
      try {
        await f.run('BEGIN TRANSACTION');
        await f.run(rollup.foldSql(), [new DuckDBTimestampValue(from), new DuckDBTimestampValue(to)]);
        await f.run(`UPDATE ${STATE_TABLE} SET watermark = $1 WHERE stream = $2`, [to, name]);
        await this.foldGate.exclusive(async () => {
          await f.run('COMMIT');
          this.watermarks.set(name, to);
        });
        this.foldError = undefined;
        this.foldFailing.delete(name);
      } catch (err) {
        await f.run('ROLLBACK').catch(() => undefined);
        this.foldError = classify(err, 'rollup fold');
        this.foldFailures.set(name, (this.foldFailures.get(name) ?? 0) + 1);
        if (!this.foldFailing.has(name)) {
          this.foldFailing.add(name);
          this.options.onError?.(name, this.foldError);
        }
      }
    });
  }

  /** Folds every stream now (what the timer does later). */
  async foldAll(): Promise<void> {
    for (const name of this.rollups.keys()) await this.fold(name);
  }

  /** Folds the written streams a little after a write, so that folds stay few under load. */
  private schedule(name: string): void {
    this.unfolded.add(name);
    if (this.foldTimer || this.host.closed) return;
    this.foldTimer = setTimeout(() => {
      this.foldTimer = undefined;
      void (async () => {
        for (const n of [...this.unfolded]) await this.fold(n);
      })();
    }, this.options.foldDelayMs);
    this.foldTimer.unref();
  }

  /**
   * Runs `scan` or, when the rollup serves `q`, `fromRollup` with the watermark that matches the
   * rollup the query sees: a fold commits only while no rollup query runs (it waits for them),
   * and moves the watermark in the same instant.
   */
  answer<T>(stream: string, q: AggregateQuery, scan: () => Promise<T>, fromRollup: (r: RollupSql) => Promise<T>): Promise<T> {
    const rollup = this.rollups.get(stream);
    if (!rollup?.serves(q)) {
      this.aggregatePaths.scan++;
      return scan();
    }
    return this.foldGate.shared(async () => {
      const watermark = this.watermarks.get(stream);
      if (watermark === undefined) {
        this.aggregatePaths.scan++;
        return scan();
      }
      this.aggregatePaths.rollup++;
      return fromRollup(rollup.query(q, watermark));
    });
  }

  status(): RollupStatus[] {
    const out: RollupStatus[] = [];
    for (const name of this.rollups.keys()) {
      const last = this.lastIngest.get(name);
      const watermark = this.watermarks.get(name) ?? EMPTY_WATERMARK;
      const lagMicros = last === undefined || last < watermark ? 0n : last + 1n - watermark;
      out.push({ stream: name, lagSeconds: Number(lagMicros) / 1e6, failures: this.foldFailures.get(name) ?? 0, failing: this.foldFailing.has(name) });
    }
    return out;
  }

  /** Stops the timer and waits for the fold in progress; then `fn` (the driver's close). */
  async close(fn: () => Promise<void>): Promise<void> {
    clearTimeout(this.foldTimer);
    await this.foldLock.run(fn);
  }
}

function floorMinute(micros: bigint): bigint {
  const r = micros % MINUTE_MICROS;
  return r < 0n ? micros - r - MINUTE_MICROS : micros - r;
}

function ceilMinute(micros: bigint): bigint {
  const f = floorMinute(micros);
  return f === micros ? f : f + MINUTE_MICROS;
}
