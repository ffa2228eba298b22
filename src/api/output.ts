/**
 * Output formats of the read endpoints: JSON (the default), NDJSON and CSV. NDJSON and CSV are
 * written as a stream, row by row, and carry the next page's link in a `Link` header since
 * they have no envelope.
 */
import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import type { OutputFormat } from './query.js';

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
