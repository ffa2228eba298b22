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
import { DuckDBTimestampValue, type DuckDBValue } from '@duckdb/node-api';
import type { AggregateQuery, Metric } from '../../core/ports.js';
import type { FieldDef, StreamDef } from '../../core/schema.js';
import { columnSql, fieldExpr, ident } from './dialect.js';

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

function floorMinute(micros: bigint): bigint {
  const r = micros % MINUTE_MICROS;
  return r < 0n ? micros - r - MINUTE_MICROS : micros - r;
}

function ceilMinute(micros: bigint): bigint {
  const f = floorMinute(micros);
  return f === micros ? f : f + MINUTE_MICROS;
}
