/**
 * DuckDB's tables of a stream: created when missing, else read back from the catalog and
 * checked against the definition with the shared schema diff (`../sql/schema-diff.ts`).
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { FieldDef, FieldMode, StreamDef } from '../../core/schema.js';
import { type ColumnShape, diffColumns } from '../sql/schema-diff.js';
import { DEAD_LETTER_COLUMNS } from '../sql/rows.js';
import { columnSql, ident } from './dialect.js';

const DL_COLUMN_SQL: Record<string, string> = {
  message_id: 'VARCHAR NOT NULL PRIMARY KEY',
  publish_time: 'TIMESTAMP NOT NULL',
  dead_lettered_at: 'TIMESTAMP NOT NULL',
  reason: 'VARCHAR NOT NULL',
  detail: 'VARCHAR',
  field_path: 'VARCHAR',
  payload: 'BLOB',
  payload_size: 'BIGINT NOT NULL',
  attributes: 'JSON',
  ordering_key: 'VARCHAR',
  replay_count: 'BIGINT NOT NULL',
};

/** The names of a stream's tables (quoted). */
export interface StreamTables {
  readonly table: string;
  readonly dlTable: string;
  /** Parts of the large dead-letter payloads (see `dead-letters.ts`, PAYLOAD_PART_BYTES). */
  readonly partsTable: string;
}

export function streamTables(def: StreamDef): StreamTables {
  return { table: ident(def.name), dlTable: ident(`${def.name}_dead_letters`), partsTable: ident(`${def.name}_dead_letter_parts`) };
}

/** Creates the stream's tables, or checks and migrates the existing ones. */
export async function ensureTables(w: DuckDBConnection, def: StreamDef, columns: readonly FieldDef[]): Promise<StreamTables> {
  const t = streamTables(def);
  const columnDdl = columns.map((f) => {
    const notNull = f.mode === 'REQUIRED' ? ' NOT NULL' : '';
    return `${ident(f.name)} ${columnSql(f)}${notNull}${f.name === 'message_id' ? ' PRIMARY KEY' : ''}`;
  });
  await w.run(`CREATE TABLE IF NOT EXISTS ${t.table} (${columnDdl.join(', ')})`);
  await migrate(w, def, columns);
  await w.run(`CREATE TABLE IF NOT EXISTS ${t.dlTable} (${DEAD_LETTER_COLUMNS.map((c) => `${ident(c)} ${DL_COLUMN_SQL[c]}`).join(', ')})`);
  // Large payloads, in parts (the dead letter's payload is NULL); part counts from 0.
  await w.run(`CREATE TABLE IF NOT EXISTS ${t.partsTable} (message_id VARCHAR NOT NULL, part INTEGER NOT NULL, bytes BLOB NOT NULL)`);
  return t;
}

/** The columns of a table as the catalog describes them (REPEATED is a `[]` type, REQUIRED is NOT NULL). */
async function columnsOf(w: DuckDBConnection, catalog: string, table: string): Promise<Map<string, ColumnShape>> {
  const r = await w.runAndReadAll(
    `SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_catalog = ${catalog} AND table_schema = 'main' AND table_name = $1`,
    [table],
  );
  return new Map(
    r.getRows().map(([n, t, nullable]) => {
      const type = String(t);
      const mode: FieldMode = type.endsWith('[]') ? 'REPEATED' : String(nullable) === 'NO' ? 'REQUIRED' : 'NULLABLE';
      return [String(n), { name: String(n), type, mode }];
    }),
  );
}

/**
 * Brings an existing table in line with its definition: adds new NULLABLE or REPEATED columns;
 * refuses (with a message saying what to do) a changed type or mode, or a new REQUIRED column.
 */
async function migrate(w: DuckDBConnection, def: StreamDef, columns: readonly FieldDef[]): Promise<void> {
  // DuckDB spells the wanted types itself: a probe table of the definition, read back.
  const probe = ident(`expected_${def.name}`);
  await w.run(`CREATE OR REPLACE TEMP TABLE ${probe} (${columns.map((f) => `${ident(f.name)} ${columnSql(f)}`).join(', ')})`);
  const expected = await columnsOf(w, "'temp'", `expected_${def.name}`);
  const actual = await columnsOf(w, 'current_database()', def.name);
  await w.run(`DROP TABLE ${probe}`);
  const wanted = columns.map((f) => ({ name: f.name, type: expected.get(f.name)!.type, mode: f.mode }));
  const added = diffColumns(def.name, def.name, 'the database', wanted, actual);
  for (const name of added) {
    const f = columns.find((c) => c.name === name)!;
    await w.run(`ALTER TABLE ${ident(def.name)} ADD COLUMN ${ident(f.name)} ${columnSql(f)}`);
  }
  // A column whose field left the definition stays (no data is dropped) but must accept NULL,
  // or every new row would be refused.
  const notNull = await w.runAndReadAll(
    `SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = 'main' AND table_name = $1 AND NOT is_nullable`,
    [def.name],
  );
  for (const [name] of notNull.getRows()) {
    if (!columns.some((f) => f.name === name)) await w.run(`ALTER TABLE ${ident(def.name)} ALTER COLUMN ${ident(String(name))} DROP NOT NULL`);
  }
}
