/**
 * The schema check of `init`, shared by every dialect: an existing table is compared with the
 * stream definition by type AND mode (a NULLABLE column the definition makes REQUIRED is refused
 * on every engine, as is any change of type). New NULLABLE or REPEATED columns are added; a new
 * REQUIRED column is refused (the table has rows without it).
 */
import { TributaryError } from '../../core/errors.js';
import type { FieldMode } from '../../core/schema.js';

/** A column as the engine describes it: `type` in the engine's own normalised spelling. */
export interface ColumnShape {
  readonly name: string;
  readonly type: string;
  readonly mode: FieldMode;
}

/**
 * Compares the columns the definition wants with those the table has; returns the names of the
 * columns to add, or throws INVALID_STREAM_DEFINITION listing every problem. `where` names the
 * engine in messages (`the database`, `BigQuery`).
 */
export function diffColumns(stream: string, table: string, where: string, wanted: readonly ColumnShape[], have: ReadonlyMap<string, ColumnShape>): string[] {
  const problems: string[] = [];
  const added: string[] = [];
  for (const f of wanted) {
    const h = have.get(f.name);
    if (!h) {
      if (f.mode === 'REQUIRED') problems.push(`field "${f.name}" is new and REQUIRED, but the table already has rows without it; make it NULLABLE`);
      else added.push(f.name);
    } else if (h.type !== f.type || h.mode !== f.mode) {
      // The mode is named when it is what changed (or changed too).
      const [was, now] = h.mode === f.mode ? [h.type, f.type] : [`${h.mode} ${h.type}`, `${f.mode} ${f.type}`];
      problems.push(`field "${f.name}" is ${was} in ${where} but the definition makes it ${now}; changing a type or a mode needs a new stream (or a manual migration)`);
    }
  }
  if (problems.length > 0) {
    throw new TributaryError('INVALID_STREAM_DEFINITION', `stream "${stream}" no longer matches table ${table}:\n  - ${problems.join('\n  - ')}`, { problems });
  }
  return added;
}
