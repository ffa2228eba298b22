/**
 * The warehouse's reads in the API's JSON form, through the API's own serialisers
 * (src/api/output.ts): tests written against that form keep their expectations, and so check
 * the representation the HTTP API sends end to end.
 */
import { apiAggregateRows, apiDeadLetter, apiRow, type ApiDeadLetter } from '../../src/api/output.js';
import type { AggregateQuery, DeadLetterQuery, RowQuery, Warehouse } from '../../src/core/ports.js';
import { ENVELOPE_FIELDS, type StreamDef } from '../../src/core/schema.js';

type Reads = Pick<Warehouse, 'getRow' | 'queryRows' | 'queryDeadLetters' | 'getRawDeadLetters' | 'aggregate'>;

export async function getRow(w: Reads, s: StreamDef, messageId: string): Promise<Record<string, unknown> | undefined> {
  const row = await w.getRow(s, messageId);
  return row && apiRow([...ENVELOPE_FIELDS, ...s.fields], row);
}

export async function queryRows(w: Reads, s: StreamDef, q: RowQuery): Promise<Record<string, unknown>[]> {
  return (await w.queryRows(s, q)).map((r) => apiRow([...ENVELOPE_FIELDS, ...s.fields], r));
}

export async function getDeadLetter(w: Reads, s: StreamDef, messageId: string): Promise<ApiDeadLetter | undefined> {
  const [d] = await w.getRawDeadLetters(s, [messageId]);
  return d && apiDeadLetter(d);
}

export async function queryDeadLetters(w: Reads, s: StreamDef, q: DeadLetterQuery): Promise<ApiDeadLetter[]> {
  return (await w.queryDeadLetters(s, q)).map(apiDeadLetter);
}

export async function aggregate(w: Reads, s: StreamDef, q: AggregateQuery): Promise<Record<string, unknown>[]> {
  return apiAggregateRows(q, await w.aggregate(s, q));
}
