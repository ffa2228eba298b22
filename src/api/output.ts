/**
 * What the read endpoints send: the one serialisation of the warehouse's domain values (rows,
 * aggregates, dead letters) to the API's JSON form (INT64 and NUMERIC as strings, timestamps
 * RFC 3339, dates `YYYY-MM-DD`, payloads as text and base64, snake_case), and the output formats:
 * JSON (the default), NDJSON and CSV. NDJSON and CSV are written as a stream, row by row, and
 * carry the next page's link in a `Link` header since they have no envelope.
 */
import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { type AggregateQuery, type AggregateRow, metricKind, type ReadRow, type StoredDeadLetter } from '../core/ports.js';
import type { FieldDef } from '../core/schema.js';
import { formatDate, formatTimestamp } from '../core/time.js';
import type { StoredRecord, StoredValue } from '../core/validate.js';
import type { OutputFormat } from './query.js';
import type { ApiDeadLetter } from './wire.js';

export type { ApiDeadLetter } from './wire.js';

function jsonScalar(f: FieldDef, v: StoredValue): unknown {
  switch (f.type) {
    case 'INT64': return (v as bigint).toString();
    case 'TIMESTAMP': return formatTimestamp(v as bigint);
    case 'DATE': return formatDate(v as number);
    case 'JSON': return JSON.parse(v as string) as unknown;
    case 'RECORD': {
      const rec = v as StoredRecord;
      const out: Record<string, unknown> = {};
      for (const c of f.fields ?? []) out[c.name] = jsonValue(c, rec[c.name] ?? null);
      return out;
    }
    // STRING, FLOAT64, NUMERIC (canonical decimal text), BOOL as they are.
    default: return v;
  }
}

/** A stored value of a field in the API's JSON form: REPEATED as arrays (NULL as []), NULL as null. */
export function jsonValue(f: FieldDef, v: StoredValue): unknown {
  if (f.mode === 'REPEATED') return v === null ? [] : (v as StoredValue[]).map((x) => (x === null ? null : jsonScalar(f, x)));
  return v === null ? null : jsonScalar(f, v);
}

/** A row in the API's JSON form: the columns of `columns` (table order) that the row has. */
export function apiRow(columns: readonly FieldDef[], row: ReadRow, only?: ReadonlySet<string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of columns) {
    if (only && !only.has(f.name)) continue;
    const v = row[f.name];
    if (v !== undefined) out[f.name] = jsonValue(f, v);
  }
  return out;
}

/** A stored dead letter in the API's JSON form. */
export function apiDeadLetter(d: StoredDeadLetter): ApiDeadLetter {
  let text: string | null;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(d.payload);
  } catch {
    text = null;
  }
  return {
    message_id: d.messageId,
    publish_time: formatTimestamp(d.publishTime),
    dead_lettered_at: formatTimestamp(d.deadLetteredAt),
    reason: d.reason,
    detail: d.detail,
    field_path: d.fieldPath,
    payload: text,
    payload_base64: Buffer.from(d.payload).toString('base64'),
    payload_size: d.payloadSize,
    attributes: { ...d.attributes },
    ordering_key: d.orderingKey,
    replay_count: d.replayCount,
  };
}

/** Serialises the rows of an aggregate: `time` RFC 3339, groups and metrics in their fields' JSON form. */
export function apiAggregateRows(q: AggregateQuery, rows: readonly AggregateRow[]): Record<string, unknown>[] {
  const columns: [string, (v: StoredValue) => unknown][] = [];
  if (q.intervalMicros !== undefined) columns.push(['time', (v) => (v === null ? null : formatTimestamp(v as bigint))]);
  for (const g of q.groupBy) {
    const leaf: FieldDef = { ...g[g.length - 1]!, mode: 'NULLABLE' };
    columns.push([g.map((f) => f.name).join('.'), (v) => jsonValue(leaf, v)]);
  }
  for (const m of q.metrics) {
    const kind = metricKind(m);
    const leaf: FieldDef | undefined = m.chain ? { ...m.chain[m.chain.length - 1]!, mode: 'NULLABLE' } : undefined;
    columns.push([m.name, kind === 'int_sum' ? (v) => (v === null ? null : String(v)) : kind === 'value' ? (v) => jsonValue(leaf!, v) : (v) => v]);
  }
  return rows.map((r) => {
    const out: Record<string, unknown> = {};
    for (const [name, write] of columns) out[name] = write(r[name] ?? null);
    return out;
  });
}

const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * One CSV cell (RFC 4180). Text that a spreadsheet would run as a formula (starting with
 * `=`, `+`, `-`, `@`, tab or carriage return) is prefixed with `'`, unless it is a plain
 * number; nested values (records, arrays, JSON) are written as JSON text.
 */
export function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  let text = typeof v === 'object' ? JSON.stringify(v) : String(v);
  if (/^[=+\-@\t\r]/.test(text) && !NUMBER.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) || /^\s|\s$/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function* csvLines(columns: readonly string[], rows: readonly Record<string, unknown>[]): Generator<string> {
  yield columns.map(csvCell).join(',') + '\r\n';
  for (const r of rows) yield columns.map((c) => csvCell(r[c])).join(',') + '\r\n';
}

function* ndjsonLines(rows: readonly Record<string, unknown>[]): Generator<string> {
  for (const r of rows) yield JSON.stringify(r) + '\n';
}

/**
 * Sends a table: as `json` (the returned body, for Fastify to serialise) or streamed as NDJSON
 * or CSV with `columns` in order. `next` becomes a `Link: <...>; rel="next"` header.
 */
export function sendTable(
  reply: FastifyReply,
  format: OutputFormat,
  columns: readonly string[],
  rows: readonly Record<string, unknown>[],
  json: object,
  next: string | null,
): object | FastifyReply {
  if (next) void reply.header('link', `<${next}>; rel="next"`);
  if (format === 'json') return json;
  if (format === 'ndjson') return reply.type('application/x-ndjson; charset=utf-8').send(Readable.from(ndjsonLines(rows)));
  return reply.type('text/csv; charset=utf-8; header=present').send(Readable.from(csvLines(columns, rows)));
}

/**
 * Streams a long NDJSON or CSV answer from chunks fetched one after another (each chunk is
 * fetched when the client has taken the previous one). A failure after the first chunk can only
 * cut the answer short: the status line is already sent.
 */
export function sendTableStream(
  reply: FastifyReply,
  format: Exclude<OutputFormat, 'json'>,
  columns: readonly string[],
  chunks: AsyncIterable<readonly Record<string, unknown>[]>,
): FastifyReply {
  async function* lines(): AsyncGenerator<string> {
    if (format === 'csv') yield columns.map(csvCell).join(',') + '\r\n';
    for await (const rows of chunks) {
      let text = '';
      for (const r of rows) text += format === 'csv' ? columns.map((c) => csvCell(r[c])).join(',') + '\r\n' : JSON.stringify(r) + '\n';
      if (text) yield text;
    }
  }
  return reply.type(format === 'csv' ? 'text/csv; charset=utf-8; header=present' : 'application/x-ndjson; charset=utf-8').send(Readable.from(lines()));
}
