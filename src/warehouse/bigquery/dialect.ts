/**
 * BigQuery's SQL (GoogleSQL): quoting, named parameters, field expressions, filters, time
 * buckets, exact percentiles, and the dedup clauses every read carries (streaming inserts may
 * store a redelivered message twice).
 */
import type { Metric } from '../../core/ports.js';
import type { FieldDef } from '../../core/schema.js';
import type { AggregateDialect } from '../sql/aggregate.js';
import { ATTRIBUTE_FIELD, type FilterDialect } from '../sql/filters.js';
import type { KeysetBinder } from '../sql/keyset.js';
import { type Cell, cellMicros, cellReader, ident, type QueryParameter, scalarParam, timestampText } from './types.js';

export { ident } from './types.js';

/** Keeps one row per message_id, the first stored (BigQuery's insertId dedup is best effort). */
export const DEDUP_ROWS = 'QUALIFY ROW_NUMBER() OVER (PARTITION BY message_id ORDER BY ingest_time) = 1';
/** Keeps the newest dead-letter record per message_id (a failed replay, or a replay tombstone). */
export const DEDUP_DEAD_LETTERS = 'QUALIFY ROW_NUMBER() OVER (PARTITION BY message_id ORDER BY dead_lettered_at DESC, replay_count DESC) = 1';
/** Reason of a tombstone: the dead letter was replayed and is removed (see `deleteDeadLetters`). */
export const REPLAYED = '_REPLAYED';

/** Named parameters of one query (names avoid GoogleSQL keywords such as FROM and LIMIT). */
export class Params implements KeysetBinder {
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
  text(name: string, value: string): string {
    return this.add(name, { type: 'STRING', value });
  }
}

export function replayedParam(p: Params): string {
  return p.text('replayed', REPLAYED);
}

/** The SQL expression of a field chain: a column or a struct member. */
export function fieldExpr(chain: readonly FieldDef[]): string {
  return chain.map((c) => ident(c.name)).join('.');
}

export function filterDialect(p: Params): FilterDialect {
  const bind = (leaf: FieldDef, v: Parameters<typeof scalarParam>[2]) => {
    const param = scalarParam(`f${p.list.length}`, leaf, v);
    p.list.push(param);
    // The emulator types NUMERIC parameters as STRING; the cast is a no-op on BigQuery.
    return leaf.type === 'NUMERIC' ? `CAST(@${param.name} AS NUMERIC)` : `@${param.name}`;
  };
  return {
    fieldExpr,
    attributeExpr: (name) => `JSON_VALUE(attributes[${bind(ATTRIBUTE_FIELD, name)}])`,
    bind,
    startsWith: (expr, param) => `STARTS_WITH(${expr}, ${param})`,
  };
}

/**
 * The aggregate dialect of one query. Metrics read from a keyed subquery (`k0`... for the keys,
 * `m<i>` for the metric's field), which the caller builds from `inner`. Percentiles are exact
 * (linear interpolation, as DuckDB's quantile_cont): PERCENTILE_CONT is an analytic function in
 * BigQuery, computed per group over the keyed subquery (`windows`) and picked with ANY_VALUE.
 */
export interface BigQueryAggregate extends AggregateDialect<unknown> {
  readonly inner: string[];
  readonly windows: string[];
}

/** `keys`: how many keys (bucket and groups) the query has, which percentiles partition by. */
export function aggregateDialect(p: Params, keys: number): BigQueryAggregate {
  const inner: string[] = [];
  const windows: string[] = [];
  return {
    inner,
    windows,
    fieldExpr,
    bucketKey: (width) => {
      const n = p.add('bucket_us', { type: 'INT64', value: String(width) });
      return `TIMESTAMP_MICROS(DIV(UNIX_MICROS(publish_time), ${n}) * ${n})`;
    },
    bucketReader: () => (v) => (v === null ? null : cellMicros(v)),
    metric(m: Metric, expr: string, mi: number): string {
      switch (m.fn) {
        case 'count':
          return 'COUNT(*)';
        case 'count_distinct':
          inner.push(`${expr} AS m${mi}`);
          return `COUNT(DISTINCT m${mi})`;
        case 'avg':
          inner.push(`CAST(${expr} AS FLOAT64) AS m${mi}`);
          return `AVG(m${mi})`;
        case 'percentile': {
          const frac = p.add(`frac${mi}`, { type: 'FLOAT64', value: String(m.fraction!) });
          const partition = keys ? `PARTITION BY ${Array.from({ length: keys }, (_, i) => `k${i}`).join(', ')}` : '';
          inner.push(`CAST(${expr} AS FLOAT64) AS m${mi}`);
          windows.push(`PERCENTILE_CONT(m${mi}, ${frac}) OVER (${partition}) AS p${mi}`);
          return `ANY_VALUE(p${mi})`;
        }
        default:
          inner.push(`${expr} AS m${mi}`);
          return `${m.fn.toUpperCase()}(m${mi})`;
      }
    },
    reader(kind, leaf) {
      switch (kind) {
        case 'count': return (v) => Number(v);
        case 'int_sum': return (v) => (v === null ? null : BigInt(String(v)));
        case 'double': return (v) => (v === null ? null : Number(v));
        case 'value': return cellReader({ ...leaf!, mode: 'NULLABLE' });
      }
    },
  };
}

/** The value of a result cell (`{v}`), null when absent. */
export const cellAt = (cells: readonly Cell[], i: number): unknown => cells[i]?.v ?? null;
