/**
 * Engine-independent post-processing of aggregates: filling empty time buckets. Warehouses
 * return only the buckets that have rows; the API fills the gaps between the start and end of
 * the range so that a chart has every bucket.
 */
import { TributaryError } from './errors.js';
import type { AggregateQuery } from './ports.js';

/** An aggregate row as the API returns it (`time` RFC 3339, values in their JSON form). */
type AggregateRow = Record<string, unknown>;
import { formatTimestamp, parseTimestamp } from './time.js';

function floorTo(t: bigint, step: bigint): bigint {
  const r = t % step;
  return r < 0n ? t - r - step : t - r;
}

/**
 * Fills empty buckets of a bucketed aggregate (serialised rows), per group: counts become 0, every other
 * metric null. The range is [from, to) when given, else the first to the last bucket seen.
 * Throws RESULT_TOO_LARGE beyond `maxRows`.
 */
export function fillBuckets(q: AggregateQuery, groupNames: readonly string[], rows: readonly AggregateRow[], maxRows: number): AggregateRow[] {
  const step = q.intervalMicros;
  if (step === undefined) return [...rows];
  const times = rows.map((r) => parseTimestamp(r.time as string)!);
  if (rows.length === 0 && (q.from === undefined || q.to === undefined)) return [];
  const first = q.from !== undefined ? floorTo(q.from, step) : times.reduce((a, b) => (a < b ? a : b));
  const lastExclusive = q.to !== undefined ? floorTo(q.to - 1n, step) + step : times.reduce((a, b) => (a > b ? a : b)) + step;
  const buckets = (lastExclusive - first) / step;
  const groups = new Map<string, AggregateRow>();
  for (const r of rows) {
    const key = JSON.stringify(groupNames.map((g) => r[g]));
    if (!groups.has(key)) groups.set(key, Object.fromEntries(groupNames.map((g) => [g, r[g]])));
  }
  if (groups.size === 0) groups.set('[]', {});
  if (buckets * BigInt(groups.size) > BigInt(maxRows)) {
    throw new TributaryError('RESULT_TOO_LARGE', `the aggregate has ${buckets * BigInt(groups.size)} rows (${buckets} buckets times ${groups.size} groups); at most ${maxRows}. Narrow the range, widen the interval or group by fewer fields`, { rows: Number(buckets * BigInt(groups.size)), max: maxRows });
  }
  const have = new Map<string, AggregateRow>();
  rows.forEach((r, i) => have.set(`${times[i]!}|${JSON.stringify(groupNames.map((g) => r[g]))}`, r));
  const empty: Record<string, unknown> = {};
  for (const m of q.metrics) empty[m.name] = m.fn === 'count' || m.fn === 'count_distinct' ? 0 : null;
  const out: AggregateRow[] = [];
  for (let t = first; t < lastExclusive; t += step) {
    for (const [key, g] of groups) {
      out.push(have.get(`${t}|${key}`) ?? { time: formatTimestamp(t), ...g, ...empty });
    }
  }
  return out;
}
