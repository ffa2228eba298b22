/**
 * The current selection (stream, time range, filters) shared by the Explorer and the Chart,
 * and how it becomes API query parameters.
 */
import { fieldAt, type StreamDetail } from './api.js';

export interface Filter {
  field: string;
  op: string;
  value: string;
}

export interface Selection {
  stream: string;
  /** `15m`, `1h`, `24h`, `7d`, `all` or `custom` (then `from`/`to`, local datetime inputs). */
  range: string;
  from: string;
  to: string;
  filters: Filter[];
}

/** Starts on the last 24 hours: cheap where the warehouse bills the bytes a query scans, and allowed where a time range is required. */
export const selection: Selection = { stream: '', range: '24h', from: '', to: '', filters: [] };

export const RANGES: [string, string][] = [
  ['15m', 'Last 15 minutes'],
  ['1h', 'Last hour'],
  ['24h', 'Last 24 hours'],
  ['7d', 'Last 7 days'],
  ['all', 'All time'],
  ['custom', 'Custom…'],
];

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function durationMs(d: string): number {
  const m = /^(\d+)([smhd])$/.exec(d);
  return m ? Number(m[1]) * UNIT_MS[m[2]!]! : 0;
}

/** The selection's time range as RFC 3339 (either may be absent). */
export function timeRange(s: Selection, now = Date.now()): { from?: string; to?: string } {
  if (s.range === 'all') return {};
  if (s.range === 'custom') {
    const out: { from?: string; to?: string } = {};
    if (s.from) out.from = localToIso(s.from);
    if (s.to) out.to = localToIso(s.to);
    return out;
  }
  return { from: new Date(now - durationMs(s.range)).toISOString() };
}

/** A `datetime-local` value (the browser's time zone) as RFC 3339 UTC. */
export function localToIso(v: string): string {
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? v : d.toISOString();
}

/** Which operators a field type takes (docs/http-api.md#filters). */
export function operatorsFor(type: string): [string, string][] {
  const eq: [string, string] = ['eq', '='];
  const isnull: [string, string] = ['isnull', 'is null'];
  switch (type) {
    case 'STRING':
      return [eq, ['in', 'in (a,b)'], ['prefix', 'starts with'], isnull];
    case 'INT64':
    case 'FLOAT64':
    case 'NUMERIC':
    case 'TIMESTAMP':
    case 'DATE':
      return [eq, ['gt', '>'], ['gte', '≥'], ['lt', '<'], ['lte', '≤'], ['in', 'in (a,b)'], isnull];
    case 'BOOL':
      return [eq, isnull];
    default:
      return [isnull];
  }
}

/** The filter's query parameter value: datetime-local inputs become RFC 3339 UTC. */
function filterValue(type: string, op: string, v: string): string {
  if (type === 'TIMESTAMP' && op !== 'in' && op !== 'isnull' && /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(v) && !/Z|[+-]\d\d:\d\d$/.test(v)) return localToIso(v);
  return v;
}

/** Query parameters of the selection (without paging), for rows, aggregate and downloads. */
export function selectionParams(s: Selection, detail: StreamDetail | undefined, now = Date.now()): URLSearchParams {
  const p = new URLSearchParams();
  const r = timeRange(s, now);
  if (r.from) p.set('from', r.from);
  if (r.to) p.set('to', r.to);
  for (const f of s.filters) {
    if (!f.field || f.value === '') continue;
    const type = detail ? (fieldAt(detail, f.field)?.type ?? 'STRING') : 'STRING';
    p.set(f.op === 'eq' ? f.field : `${f.field}__${f.op}`, filterValue(type, f.op, f.value));
  }
  return p;
}

/** A shell-quoted `curl` command for a GET of `pathAndQuery` on this origin. */
export function curlCommand(pathAndQuery: string, withKey: boolean): string {
  const url = `${location.origin}${pathAndQuery}`;
  const quoted = `'${url.replaceAll("'", "'\\''")}'`;
  return `curl -s ${quoted}` + (withKey ? ' -H "Authorization: Bearer $TRIBUTARY_API_KEY"' : '');
}
