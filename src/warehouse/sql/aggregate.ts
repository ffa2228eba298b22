/**
 * The aggregate skeleton shared by every dialect: the bucket key, the group keys, the metric
 * switch (what each metric reads back as), and the GROUP BY / ORDER BY tail. The dialect writes
 * each term's SQL (buckets, percentiles) and reads the engine's result values.
 */
import { type AggregateQuery, type AggregateRow, type Metric, type MetricKind, metricKind } from '../../core/ports.js';
import type { FieldDef } from '../../core/schema.js';
import type { StoredValue } from '../../core/validate.js';

/** Converts one result value of the engine `C` (a DuckDB value, a BigQuery cell) to a domain value. */
export type Reader<C> = (v: C) => StoredValue;

/** What a dialect provides to compile an aggregate's columns. */
export interface AggregateDialect<C> {
  fieldExpr(chain: readonly FieldDef[]): string;
  /** The key of the time bucket of `width` microseconds (aligned to the epoch). */
  bucketKey(width: bigint): string;
  bucketReader(width: bigint): Reader<C>;
  /** The select term of a metric; `expr` is the field's expression ('' for count). */
  metric(m: Metric, expr: string, index: number): string;
  /** How a metric of this kind reads back; `leaf` is the field (for `value`). */
  reader(kind: MetricKind, leaf: FieldDef | undefined): Reader<C>;
}

/** The keys (bucket, then groups) and metric terms of an aggregate, with their readers in order. */
export interface AggregateColumns<C> {
  readonly keys: string[];
  readonly metrics: string[];
  readonly readers: [string, Reader<C>][];
}

export function aggregateColumns<C>(q: AggregateQuery, d: AggregateDialect<C>): AggregateColumns<C> {
  const keys: string[] = [];
  const readers: [string, Reader<C>][] = [];
  if (q.intervalMicros !== undefined) {
    keys.push(d.bucketKey(q.intervalMicros));
    readers.push(['time', d.bucketReader(q.intervalMicros)]);
  }
  for (const g of q.groupBy) {
    keys.push(d.fieldExpr(g));
    readers.push([g.map((f) => f.name).join('.'), d.reader('value', g[g.length - 1]!)]);
  }
  const metrics = q.metrics.map((m, i) => {
    const leaf = m.chain?.[m.chain.length - 1];
    readers.push([m.name, d.reader(metricKind(m), leaf)]);
    return d.metric(m, m.chain ? d.fieldExpr(m.chain) : '', i);
  });
  return { keys, metrics, readers };
}

/** ` GROUP BY k ORDER BY k ASC NULLS FIRST` over the keys (empty without keys). */
export function groupAndOrder(keys: readonly string[]): string {
  return keys.length ? ` GROUP BY ${keys.join(', ')} ORDER BY ${keys.map((x) => `${x} ASC NULLS FIRST`).join(', ')}` : '';
}

/** Result rows as objects by column name. */
export function readAggregate<C, R>(rows: readonly R[], readers: readonly [string, Reader<C>][], at: (row: R, i: number) => C): AggregateRow[] {
  return rows.map((r) => {
    const out: Record<string, StoredValue> = {};
    readers.forEach(([name, read], i) => (out[name] = read(at(r, i))));
    return out;
  });
}
