/**
 * Rows and dead letters read back, shared by every dialect: which columns a page projects, and
 * the decoding of a result row through the stream's compiled readers.
 */
import { DEAD_LETTER_FIELDS } from '../../core/export.js';
import type { ReadRow, RowQuery } from '../../core/ports.js';
import type { FieldDef } from '../../core/schema.js';
import type { StoredValue } from '../../core/validate.js';
import type { Reader } from './aggregate.js';

/** The dead-letter table's columns, in order. */
export const DEAD_LETTER_COLUMNS: readonly string[] = DEAD_LETTER_FIELDS.map((f) => f.name);

/** Indexes of the columns a rows query returns: `fields` plus message_id and publish_time (for cursors), or all. */
export function projection(columns: readonly FieldDef[], fields: RowQuery['fields']): number[] {
  const wanted = fields ? new Set([...fields, 'message_id', 'publish_time']) : undefined;
  return columns.map((_, i) => i).filter((i) => !wanted || wanted.has(columns[i]!.name));
}

/** Decodes result rows whose j-th value is column `idx[j]` of `columns`. */
export function decodeRows<C, R>(columns: readonly FieldDef[], readers: readonly Reader<C>[], idx: readonly number[], rows: readonly R[], at: (row: R, j: number) => C): ReadRow[] {
  return rows.map((r) => {
    const row: Record<string, StoredValue> = {};
    for (let j = 0; j < idx.length; j++) row[columns[idx[j]!]!.name] = readers[idx[j]!]!(at(r, j));
    return row as ReadRow;
  });
}

/** Every column of a stream's table, in order. */
export function allColumns(columns: readonly FieldDef[]): number[] {
  return columns.map((_, i) => i);
}
