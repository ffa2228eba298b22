/**
 * Parsing and checking of the read API's query parameters against a stream's schema. Values
 * are parsed to the fields' stored representation here, so adapters only ever bind typed
 * parameters: no request text reaches SQL.
 */
import { createHash } from 'node:crypto';
import { normalizeDecimal, numericRangeProblem } from '../core/decimal.js';
import { DEAD_LETTER_REASONS, type DeadLetterReason, TributaryError } from '../core/errors.js';
import type { AggregateQuery, DeadLetterQuery, Filter, FilterTarget, Keyset, Metric, RowQuery, StatsWindow } from '../core/ports.js';
import { ENVELOPE_FIELDS, type FieldDef, findFieldPath, type StreamDef } from '../core/schema.js';
import { parseDate, parseTimeParam, parseTimestamp } from '../core/time.js';
import type { StoredValue } from '../core/validate.js';

/** Raw query parameters as Fastify parses them. */
export type RawQuery = Record<string, string | string[] | undefined>;

/** Paging limits (from the configuration). */
export interface PageLimits {
  readonly defaultPageSize: number;
  readonly maxPageSize: number;
  /** Largest `limit` of a streamed (NDJSON or CSV) rows answer; defaults to maxPageSize. */
  readonly maxExportRows?: number;
  /** Longest publish_time range a query may cover, in microseconds; undefined for no limit. */
  readonly maxTimeRangeMicros?: bigint;
}

/**
 * Enforces the maximum time range (for warehouses that bill by bytes scanned): `from` is then
 * required and `to` (or now) minus `from` must not exceed it. An explicit error, never a cut.
 */
export function checkTimeRange(range: { from?: bigint; to?: bigint }, limits: Pick<PageLimits, 'maxTimeRangeMicros'>, now: bigint): void {
  const max = limits.maxTimeRangeMicros;
  if (max === undefined) return;
  const days = Number(max / 86_400_000_000n);
  if (range.from === undefined) {
    throw new TributaryError('TIME_RANGE_TOO_LARGE', `from: required on this deployment, which limits queries to ${days} days of publish_time (--max-time-range-days)`, { parameter: 'from', maxDays: days });
  }
  if ((range.to ?? now) - range.from > max) {
    throw new TributaryError('TIME_RANGE_TOO_LARGE', `the time range from \`from\` to \`to\` (or now) exceeds ${days} days (--max-time-range-days); split the query`, { parameter: 'to', maxDays: days });
  }
}

function bad(parameter: string, message: string, extra: Record<string, unknown> = {}): TributaryError {
  return new TributaryError('INVALID_PARAMETER', `${parameter}: ${message}`, { parameter, ...extra });
}

function single(q: RawQuery, name: string): string | undefined {
  const v = q[name];
  if (Array.isArray(v)) throw bad(name, 'given more than once; give it once');
  return v;
}

/** Parses a filter value given as text into the stored representation of `field`. */
export function parseFilterValue(field: FieldDef, raw: string, parameter: string): StoredValue {
  const fail = (expected: string) => bad(parameter, `expected ${expected}, got ${JSON.stringify(raw)}`, { expected });
  switch (field.type) {
    case 'STRING':
      return raw;
    case 'INT64': {
      if (!/^-?\d{1,19}$/.test(raw)) throw fail('an integer');
      const n = BigInt(raw);
      if (n < -(2n ** 63n) || n > 2n ** 63n - 1n) throw fail('a 64-bit integer');
      return n;
    }
    case 'FLOAT64': {
      const n = raw.trim() === '' ? NaN : Number(raw);
      if (!Number.isFinite(n)) throw fail('a finite number');
      return n;
    }
    case 'NUMERIC': {
      const d = normalizeDecimal(raw);
      if (d === null || numericRangeProblem(d)) throw fail('a decimal with at most 29 integer and 9 fraction digits');
      return d;
    }
    case 'BOOL':
      if (raw === 'true') return true;
      if (raw === 'false') return false;
      throw fail('true or false');
    case 'TIMESTAMP': {
      const t = parseTimestamp(raw);
      if (t === null) throw fail('an RFC 3339 timestamp such as 2026-11-24T10:00:00Z');
      return t;
    }
    case 'DATE': {
      const d = parseDate(raw);
      if (d === null) throw fail('a date YYYY-MM-DD');
      return d;
    }
    default:
      throw bad(parameter, `field of type ${field.type} cannot be filtered by equality`);
  }
}

/** The fields that can be filtered by equality (dotted paths for nested records). */
export function filterableFields(stream: StreamDef): string[] {
  const out: string[] = [];
  const walk = (fields: readonly FieldDef[], prefix: string) => {
    for (const f of fields) {
      if (f.mode === 'REPEATED' || f.type === 'JSON') continue;
      if (f.type === 'RECORD') walk(f.fields ?? [], `${prefix}${f.name}.`);
      else out.push(prefix + f.name);
    }
  };
  walk([...ENVELOPE_FIELDS, ...stream.fields], '');
  return out;
}

interface CursorBody {
  v: 1;
  t: string;
  id: string;
  o: 'asc' | 'desc';
  h: string;
}

/** Encodes a keyset position as an opaque cursor bound to one query (by its fingerprint). */
export function encodeCursor(k: Keyset, order: 'asc' | 'desc', fingerprint: string): string {
  const body: CursorBody = { v: 1, t: k.publishTime.toString(), id: k.messageId, o: order, h: fingerprint };
  return Buffer.from(JSON.stringify(body)).toString('base64url');
}

function decodeCursor(raw: string, order: 'asc' | 'desc', fingerprint: string): Keyset {
  let body: Partial<CursorBody>;
  try {
    if (!/^[A-Za-z0-9_-]+$/.test(raw)) throw new Error('not base64url');
    body = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Partial<CursorBody>;
  } catch {
    throw new TributaryError('INVALID_CURSOR', 'cursor: not a cursor this API issued; use the nextCursor of a previous page', { parameter: 'cursor' });
  }
  if (body.v !== 1 || typeof body.t !== 'string' || !/^-?\d+$/.test(body.t) || typeof body.id !== 'string') {
    throw new TributaryError('INVALID_CURSOR', 'cursor: not a cursor this API issued; use the nextCursor of a previous page', { parameter: 'cursor' });
  }
  if (body.h !== fingerprint || body.o !== order) {
    throw new TributaryError('INVALID_CURSOR', 'cursor: it belongs to a query with other filters, time range or order; repeat the original query with the cursor', { parameter: 'cursor' });
  }
  return { publishTime: BigInt(body.t), messageId: body.id };
}

function fingerprint(parts: unknown[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 16);
}

export function timeRange(q: RawQuery): { from?: bigint; to?: bigint } {
  const out: { from?: bigint; to?: bigint } = {};
  for (const name of ['from', 'to'] as const) {
    const raw = single(q, name);
    if (raw === undefined) continue;
    const t = parseTimeParam(raw);
    if (t === null) throw bad(name, `expected an RFC 3339 timestamp (2026-11-24T10:00:00Z) or a date (2026-11-24), got ${JSON.stringify(raw)}`);
    out[name] = t;
  }
  if (out.from !== undefined && out.to !== undefined && out.from >= out.to) throw bad('to', '`to` must be later than `from`');
  return out;
}

function pageSize(q: RawQuery, limits: PageLimits, streamed = false): number {
  const raw = single(q, 'limit');
  if (raw === undefined) return limits.defaultPageSize;
  const max = streamed ? Math.max(limits.maxPageSize, limits.maxExportRows ?? 0) : limits.maxPageSize;
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < 1 || Number(raw) > max) {
    throw bad('limit', `expected a whole number from 1 to ${max}${streamed ? '' : ` (NDJSON and CSV answers allow up to ${Math.max(limits.maxPageSize, limits.maxExportRows ?? 0)})`}, got ${JSON.stringify(raw)}`, { max });
  }
  return Number(raw);
}

/** A parsed rows query, with what the API needs to build the next page's cursor. */
export interface ParsedRowQuery {
  readonly query: RowQuery;
  readonly fingerprint: string;
}

/** Parameters of the rows endpoint that are not filters. */
export const ROW_PARAMETERS = ['from', 'to', 'limit', 'order', 'cursor', 'fields', 'format'] as const;
/** Parameters of the aggregate endpoint that are not filters. */
export const AGGREGATE_PARAMETERS = ['from', 'to', 'metric', 'interval', 'group_by', 'format'] as const;

/** Filter operator suffixes (`field__gte=`), Datasette's spelling. */
export const FILTER_OPERATORS = ['eq', 'in', 'gt', 'gte', 'lt', 'lte', 'prefix', 'isnull'] as const;
type OpSuffix = (typeof FILTER_OPERATORS)[number];
const RANGE_TYPES = new Set(['INT64', 'FLOAT64', 'NUMERIC', 'TIMESTAMP', 'DATE']);
const EQ_TYPES = new Set(['STRING', 'INT64', 'FLOAT64', 'NUMERIC', 'BOOL', 'TIMESTAMP', 'DATE']);
const MAX_IN_VALUES = 100;
const ATTRIBUTES_FIELD = ENVELOPE_FIELDS.find((f) => f.name === 'attributes')!;
const ATTRIBUTE_STRING: FieldDef = { name: 'attribute', type: 'STRING', mode: 'NULLABLE' };

/** Splits `a.b__gte` into the path `a.b` and the operator `gte` (no suffix: `eq`). */
function splitOperator(key: string): { path: string; op: OpSuffix } {
  const at = key.lastIndexOf('__');
  if (at > 0) {
    const suffix = key.slice(at + 2);
    if ((FILTER_OPERATORS as readonly string[]).includes(suffix)) return { path: key.slice(0, at), op: suffix as OpSuffix };
  }
  return { path: key, op: 'eq' };
}

function inValues(raw: string, parameter: string): string[] {
  let items: string[];
  if (raw.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw bad(parameter, 'expected a comma-separated list or a JSON array of strings and numbers');
    }
    if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string' || typeof x === 'number')) {
      throw bad(parameter, 'expected a JSON array of strings and numbers');
    }
    items = parsed.map(String);
  } else {
    items = raw.split(',');
  }
  if (items.length === 0 || items.length > MAX_IN_VALUES) throw bad(parameter, `expected 1 to ${MAX_IN_VALUES} values`, { max: MAX_IN_VALUES });
  return items;
}

/**
 * Parses one filter parameter (`key=raw`) against the stream, or returns undefined when `key`
 * names no field (the caller reports UNKNOWN_PARAMETER).
 */
export function parseFilter(stream: StreamDef, key: string, raw: string): Filter | undefined {
  const { path, op } = splitOperator(key);
  let target: FilterTarget;
  let leaf: FieldDef;
  if (path.startsWith('attributes.') && path.length > 'attributes.'.length) {
    target = { chain: [ATTRIBUTES_FIELD], attribute: path.slice('attributes.'.length) };
    leaf = ATTRIBUTE_STRING;
  } else {
    const chain = findFieldPath(stream, path);
    if (!chain) return undefined;
    target = { chain };
    leaf = chain[chain.length - 1]!;
  }
  const kind = leaf.mode === 'REPEATED' ? 'REPEATED' : leaf.type;
  if (op === 'isnull') {
    if (leaf.mode === 'REPEATED') throw bad(key, 'REPEATED fields cannot be tested for null', { filterable: filterableFields(stream) });
    if (raw !== 'true' && raw !== 'false') throw bad(key, `expected true or false, got ${JSON.stringify(raw)}`);
    return { ...target, op: raw === 'true' ? 'is_null' : 'not_null' };
  }
  if (leaf.mode === 'REPEATED' || !EQ_TYPES.has(leaf.type)) {
    throw bad(key, `field is ${kind}; it can only be tested with ${path}__isnull`, { filterable: filterableFields(stream) });
  }
  switch (op) {
    case 'eq':
      return { ...target, op: 'eq', value: parseFilterValue(leaf, raw, key) };
    case 'in':
      return { ...target, op: 'in', values: inValues(raw, key).map((v) => parseFilterValue(leaf, v, key)) };
    case 'prefix':
      if (leaf.type !== 'STRING') throw bad(key, `__prefix applies to STRING fields and attributes; ${path} is ${kind}`);
      if (raw === '') throw bad(key, 'the prefix must not be empty');
      return { ...target, op: 'prefix', value: raw };
    default:
      if (!RANGE_TYPES.has(leaf.type)) throw bad(key, `__${op} applies to numbers, timestamps and dates; ${path} is ${kind}`);
      return { ...target, op, value: parseFilterValue(leaf, raw, key) };
  }
}

/** Parses every parameter not in `known` as a filter; unknown names are UNKNOWN_PARAMETER. */
function parseFilters(stream: StreamDef, q: RawQuery, known: readonly string[]): { filters: Filter[]; keys: string[] } {
  const filters: Filter[] = [];
  const keys = Object.keys(q).filter((k) => !known.includes(k)).sort();
  for (const key of keys) {
    const raw = single(q, key) ?? '';
    const f = parseFilter(stream, key, raw);
    if (!f) {
      throw new TributaryError('UNKNOWN_PARAMETER', `${key}: not a parameter of this endpoint nor a field of stream "${stream.name}"`, {
        parameter: key,
        parameters: known,
        filterable: filterableFields(stream),
        operators: FILTER_OPERATORS,
      });
    }
    filters.push(f);
  }
  return { filters, keys };
}

/** Splits a list parameter given comma-separated and/or repeated. */
function list(q: RawQuery, name: string): string[] | undefined {
  const v = q[name];
  if (v === undefined) return undefined;
  return (Array.isArray(v) ? v : [v]).flatMap((x) => x.split(',')).map((x) => x.trim());
}

/** Parses `fields=`: top-level columns to return. */
function parseFields(stream: StreamDef, q: RawQuery): string[] | undefined {
  const names = list(q, 'fields');
  if (names === undefined) return undefined;
  const all = [...ENVELOPE_FIELDS, ...stream.fields].map((f) => f.name);
  for (const n of names) {
    if (!all.includes(n)) throw bad('fields', `${JSON.stringify(n)} is not a top-level column of stream "${stream.name}"`, { columns: all });
  }
  if (new Set(names).size !== names.length) throw bad('fields', 'lists a column twice');
  return names;
}

/** Parses the query parameters of `GET /v1/streams/{stream}/rows`. */
export function parseRowQuery(stream: StreamDef, q: RawQuery, limits: PageLimits, format: OutputFormat = 'json', now: bigint = 0n): ParsedRowQuery {
  const range = timeRange(q);
  const limit = pageSize(q, limits, format !== 'json');
  const orderRaw = single(q, 'order') ?? 'desc';
  if (orderRaw !== 'asc' && orderRaw !== 'desc') throw bad('order', `expected asc or desc, got ${JSON.stringify(orderRaw)}`);
  const fields = parseFields(stream, q);
  const { filters, keys } = parseFilters(stream, q, ROW_PARAMETERS);
  checkTimeRange(range, limits, now);
  const fp = fingerprint([stream.name, range.from?.toString(), range.to?.toString(), keys.map((k) => [k, q[k]])]);
  const cursorRaw = single(q, 'cursor');
  const after = cursorRaw === undefined ? undefined : decodeCursor(cursorRaw, orderRaw, fp);
  return { query: { ...range, filters, order: orderRaw, limit, ...(after ? { after } : {}), ...(fields ? { fields } : {}) }, fingerprint: fp };
}

const NUMERIC_TYPES = new Set(['INT64', 'FLOAT64', 'NUMERIC']);
const ORDERED_TYPES = new Set(['INT64', 'FLOAT64', 'NUMERIC', 'TIMESTAMP', 'DATE', 'STRING']);
const MAX_METRICS = 20;
const MAX_GROUP_BY = 3;

function scalarChain(stream: StreamDef, path: string, parameter: string): FieldDef[] {
  const chain = findFieldPath(stream, path);
  if (!chain) throw bad(parameter, `${JSON.stringify(path)} is not a field of stream "${stream.name}"`, { filterable: filterableFields(stream) });
  const leaf = chain[chain.length - 1]!;
  if (leaf.mode === 'REPEATED' || !EQ_TYPES.has(leaf.type)) throw bad(parameter, `${path} is ${leaf.mode === 'REPEATED' ? 'REPEATED' : leaf.type}; only scalar fields can be used here`);
  return chain;
}

/** Parses one `metric=` item: `count`, `count_distinct:f`, `sum:f`, `avg:f`, `min:f`, `max:f`, `p95:f`. */
export function parseMetric(stream: StreamDef, raw: string): Metric {
  if (raw === 'count') return { name: 'count', fn: 'count' };
  const m = /^([a-z_]+|p\d{1,2}(?:\.\d{1,3})?):([a-z0-9_.]+)$/.exec(raw);
  if (!m) throw bad('metric', `expected count, or FUNCTION:FIELD with FUNCTION one of count_distinct, sum, avg, min, max, p50, p95, p99 (any pNN); got ${JSON.stringify(raw)}`);
  const [, fnRaw, path] = m as unknown as [string, string, string];
  const chain = scalarChain(stream, path, 'metric');
  const leaf = chain[chain.length - 1]!;
  const suffix = path.replaceAll('.', '_');
  if (fnRaw.startsWith('p') && /^p\d/.test(fnRaw)) {
    const pct = Number(fnRaw.slice(1));
    if (!(pct > 0 && pct < 100)) throw bad('metric', `percentile must be between 0 and 100 exclusive, got ${fnRaw}`);
    if (!NUMERIC_TYPES.has(leaf.type)) throw bad('metric', `percentiles apply to numeric fields; ${path} is ${leaf.type}`);
    return { name: `${fnRaw.replace('.', '_')}_${suffix}`, fn: 'percentile', chain, fraction: pct / 100 };
  }
  switch (fnRaw) {
    case 'count_distinct':
      return { name: `count_distinct_${suffix}`, fn: 'count_distinct', chain };
    case 'sum':
    case 'avg':
      if (!NUMERIC_TYPES.has(leaf.type)) throw bad('metric', `${fnRaw} applies to numeric fields; ${path} is ${leaf.type}`);
      return { name: `${fnRaw}_${suffix}`, fn: fnRaw, chain };
    case 'min':
    case 'max':
      if (!ORDERED_TYPES.has(leaf.type)) throw bad('metric', `${fnRaw} applies to numbers, timestamps, dates and strings; ${path} is ${leaf.type}`);
      return { name: `${fnRaw}_${suffix}`, fn: fnRaw, chain };
    default:
      throw bad('metric', `unknown function ${JSON.stringify(fnRaw)}; expected count, count_distinct, sum, avg, min, max or pNN`);
  }
}

/** Parses an interval such as `30s`, `5m`, `1h`, `1d`: 1 s to 1 d, dividing a day evenly. */
export function parseInterval(raw: string, parameter = 'interval'): bigint {
  const m = /^(\d{1,5})(s|m|h|d)$/.exec(raw);
  const seconds = m ? Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's' | 'm' | 'h' | 'd'] : NaN;
  if (!m || seconds < 1 || seconds > 86400 || 86400 % seconds !== 0) {
    throw bad(parameter, `expected a duration from 1s to 1d that divides a day evenly (1s, 30s, 5m, 15m, 1h, 6h, 1d), got ${JSON.stringify(raw)}`);
  }
  return BigInt(seconds) * 1_000_000n;
}

/** A parsed aggregate query. */
export interface ParsedAggregateQuery {
  readonly query: AggregateQuery;
  readonly groupNames: readonly string[];
}

/** Parses the query parameters of `GET /v1/streams/{stream}/aggregate`. */
export function parseAggregateQuery(stream: StreamDef, q: RawQuery, maxRows: number, limits: Pick<PageLimits, 'maxTimeRangeMicros'> = {}, now: bigint = 0n): ParsedAggregateQuery {
  const range = timeRange(q);
  const metricsRaw = list(q, 'metric') ?? ['count'];
  if (metricsRaw.length > MAX_METRICS) throw bad('metric', `at most ${MAX_METRICS} metrics`);
  const metrics = metricsRaw.map((m) => parseMetric(stream, m));
  const names = metrics.map((m) => m.name);
  if (new Set(names).size !== names.length) throw bad('metric', 'lists a metric twice');
  const intervalRaw = single(q, 'interval');
  const intervalMicros = intervalRaw === undefined ? undefined : parseInterval(intervalRaw);
  const groupNames = list(q, 'group_by') ?? [];
  if (groupNames.length > MAX_GROUP_BY) throw bad('group_by', `at most ${MAX_GROUP_BY} fields`);
  if (new Set(groupNames).size !== groupNames.length) throw bad('group_by', 'lists a field twice');
  const groupBy = groupNames.map((g) => scalarChain(stream, g, 'group_by'));
  for (const g of groupNames) if (g === 'time' || names.includes(g)) throw bad('group_by', `${g} collides with a result column name`);
  const { filters } = parseFilters(stream, q, AGGREGATE_PARAMETERS);
  checkTimeRange(range, limits, now);
  return {
    query: { ...range, filters, metrics, groupBy, limit: maxRows, ...(intervalMicros !== undefined ? { intervalMicros } : {}) },
    groupNames,
  };
}

/** Parses the window of `GET /v1/streams/{stream}/stats`: `window=1h` (ending now) or from/to. */
export function parseStatsQuery(q: RawQuery, now: bigint): StatsWindow {
  for (const key of Object.keys(q)) {
    if (!['from', 'to', 'window'].includes(key)) {
      throw new TributaryError('UNKNOWN_PARAMETER', `${key}: not a parameter of this endpoint`, { parameter: key, parameters: ['from', 'to', 'window'] });
    }
  }
  const range = timeRange(q);
  const windowRaw = single(q, 'window');
  if (windowRaw !== undefined && (range.from !== undefined || range.to !== undefined)) throw bad('window', 'give either window or from/to, not both');
  if (range.from !== undefined) return { from: range.from, to: range.to ?? now };
  const m = windowRaw === undefined ? null : /^(\d{1,4})(s|m|h|d)$/.exec(windowRaw);
  if (windowRaw !== undefined && !m) throw bad('window', `expected a duration such as 15m, 1h, 24h or 7d, got ${JSON.stringify(windowRaw)}`);
  const seconds = m ? Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's' | 'm' | 'h' | 'd'] : 3600;
  if (seconds < 1 || seconds > 366 * 86400) throw bad('window', 'expected a duration from 1s to 366d');
  const to = range.to ?? now;
  return { from: to - BigInt(seconds) * 1_000_000n, to };
}

/** Output formats of the read endpoints. */
export type OutputFormat = 'json' | 'ndjson' | 'csv';

/** Chooses the output format: the `format` parameter, else the Accept header, else JSON. */
export function chooseFormat(q: RawQuery, accept: string | undefined): OutputFormat {
  const raw = single(q, 'format');
  if (raw !== undefined) {
    if (raw === 'json' || raw === 'ndjson' || raw === 'csv') return raw;
    throw bad('format', `expected json, ndjson or csv, got ${JSON.stringify(raw)}`);
  }
  const a = (accept ?? '').toLowerCase();
  if (a.includes('text/csv')) return 'csv';
  if (a.includes('application/x-ndjson') || a.includes('application/ndjson') || a.includes('application/jsonl')) return 'ndjson';
  return 'json';
}

/** A parsed dead-letters query. */
export interface ParsedDeadLetterQuery {
  readonly query: DeadLetterQuery;
  readonly fingerprint: string;
}

/** Parses the query parameters of `GET /v1/streams/{stream}/dead-letters`. */
export function parseDeadLetterQuery(stream: StreamDef, q: RawQuery, limits: PageLimits): ParsedDeadLetterQuery {
  for (const key of Object.keys(q)) {
    if (!['from', 'to', 'limit', 'cursor', 'reason'].includes(key)) {
      throw new TributaryError('UNKNOWN_PARAMETER', `${key}: not a parameter of this endpoint`, { parameter: key, parameters: ['from', 'to', 'limit', 'cursor', 'reason'] });
    }
  }
  const range = timeRange(q);
  const limit = pageSize(q, limits);
  const reasonRaw = single(q, 'reason');
  if (reasonRaw !== undefined && !(reasonRaw in DEAD_LETTER_REASONS)) {
    throw bad('reason', `expected one of ${Object.keys(DEAD_LETTER_REASONS).join(', ')}, got ${JSON.stringify(reasonRaw)}`);
  }
  const fp = fingerprint([stream.name, 'dead-letters', range.from?.toString(), range.to?.toString(), reasonRaw]);
  const cursorRaw = single(q, 'cursor');
  const after = cursorRaw === undefined ? undefined : decodeCursor(cursorRaw, 'desc', fp);
  return {
    query: { ...range, limit, ...(reasonRaw ? { reason: reasonRaw as DeadLetterReason } : {}), ...(after ? { after } : {}) },
    fingerprint: fp,
  };
}

/** The URL of the next page: the same query with the new cursor. */
export function nextLink(path: string, q: RawQuery, cursor: string): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (k === 'cursor' || v === undefined) continue;
    for (const x of Array.isArray(v) ? v : [v]) params.append(k, x);
  }
  params.set('cursor', cursor);
  return `${path}?${params.toString()}`;
}
