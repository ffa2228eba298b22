/**
 * Parsing and checking of the read API's query parameters against a stream's schema. Values
 * are parsed to the fields' stored representation here, so adapters only ever bind typed
 * parameters: no request text reaches SQL.
 */
import { createHash } from 'node:crypto';
import { normalizeDecimal, numericRangeProblem } from '../core/decimal.js';
import { DEAD_LETTER_REASONS, type DeadLetterReason, TributaryError } from '../core/errors.js';
import type { DeadLetterQuery, Filter, Keyset, RowQuery } from '../core/ports.js';
import { ENVELOPE_FIELDS, type FieldDef, findFieldPath, type StreamDef } from '../core/schema.js';
import { parseDate, parseTimeParam, parseTimestamp } from '../core/time.js';
import type { StoredValue } from '../core/validate.js';

/** Raw query parameters as Fastify parses them. */
export type RawQuery = Record<string, string | string[] | undefined>;

/** Paging limits (from the configuration). */
export interface PageLimits {
  readonly defaultPageSize: number;
  readonly maxPageSize: number;
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

function timeRange(q: RawQuery): { from?: bigint; to?: bigint } {
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

function pageSize(q: RawQuery, limits: PageLimits): number {
  const raw = single(q, 'limit');
  if (raw === undefined) return limits.defaultPageSize;
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < 1 || Number(raw) > limits.maxPageSize) {
    throw bad('limit', `expected a whole number from 1 to ${limits.maxPageSize}, got ${JSON.stringify(raw)}`, { max: limits.maxPageSize });
  }
  return Number(raw);
}

/** A parsed rows query, with what the API needs to build the next page's cursor. */
export interface ParsedRowQuery {
  readonly query: RowQuery;
  readonly fingerprint: string;
}

/** Parses the query parameters of `GET /v1/streams/{stream}/rows`. */
export function parseRowQuery(stream: StreamDef, q: RawQuery, limits: PageLimits): ParsedRowQuery {
  const range = timeRange(q);
  const limit = pageSize(q, limits);
  const orderRaw = single(q, 'order') ?? 'desc';
  if (orderRaw !== 'asc' && orderRaw !== 'desc') throw bad('order', `expected asc or desc, got ${JSON.stringify(orderRaw)}`);
  const filters: Filter[] = [];
  const keys = Object.keys(q).filter((k) => !['from', 'to', 'limit', 'order', 'cursor'].includes(k)).sort();
  for (const key of keys) {
    const chain = findFieldPath(stream, key);
    if (!chain) {
      throw new TributaryError('UNKNOWN_PARAMETER', `${key}: not a parameter of this endpoint nor a field of stream "${stream.name}"`, {
        parameter: key,
        parameters: ['from', 'to', 'limit', 'order', 'cursor'],
        filterable: filterableFields(stream),
      });
    }
    const leaf = chain[chain.length - 1]!;
    if (leaf.mode === 'REPEATED' || leaf.type === 'RECORD' || leaf.type === 'JSON') {
      throw bad(key, `field is ${leaf.mode === 'REPEATED' ? 'REPEATED' : leaf.type} and cannot be filtered by equality`, { filterable: filterableFields(stream) });
    }
    const raw = single(q, key) ?? '';
    filters.push({ chain, op: 'eq', value: parseFilterValue(leaf, raw, key) });
  }
  const fp = fingerprint([stream.name, range.from?.toString(), range.to?.toString(), keys.map((k) => [k, q[k]])]);
  const cursorRaw = single(q, 'cursor');
  const after = cursorRaw === undefined ? undefined : decodeCursor(cursorRaw, orderRaw, fp);
  return { query: { ...range, filters, order: orderRaw, limit, ...(after ? { after } : {}) }, fingerprint: fp };
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
