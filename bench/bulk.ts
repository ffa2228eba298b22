/**
 * The engine's own limit for the batched-ingest benchmark (bench/ingest.ts): DuckDB's native
 * bulk load of the same messages, `INSERT INTO sensor_readings SELECT ... FROM read_json(...)`
 * in one transaction, into a table of the same schema on a file with the same settings.
 *
 * - The messages: the user fields of the messages the batched benchmark publishes (its bodies
 *   cycle over `demoMessage(0 .. 7,999)`), one JSON document per line, written to an NDJSON file
 *   before the clock starts (writing it is not counted).
 * - The table: created by the warehouse itself (`DuckDBWarehouse.init`), so it has the very same
 *   DDL: the envelope columns, `message_id VARCHAR NOT NULL PRIMARY KEY` (the index that refuses
 *   duplicates), the stream's typed columns.
 * - The file settings: those the warehouse opens its file with, from its exported defaults: the
 *   file ATTACHed with `ROW_GROUP_SIZE` {@link DEFAULT_ROW_GROUP_SIZE}, `checkpoint_threshold`
 *   {@link DEFAULT_CHECKPOINT_THRESHOLD}, and the `memory_limit` the server runs with by default
 *   ({@link DEFAULT_DUCKDB_MEMORY_LIMIT}, `--duckdb-memory-limit`).
 * - `read_json` gets the table's column types (`columns = {...}`, built with the adapter's
 *   exported `columnSql`), so it converts as the table needs and infers nothing; the envelope is
 *   computed in SQL: a numeric message_id (the embedded topic's IDs are publish times in
 *   microseconds), publish_time, one ingest_time, attributes `{}`, no ordering key.
 *
 * The clock covers BEGIN .. COMMIT (the commit is durable: the WAL or the checkpoint it triggers
 * is on disk when COMMIT returns), not the validation Tributary does: this is what DuckDB can do
 * with these rows, not a competitor.
 *
 * Usage: node dist/bench/bulk.js [rows] [--breakdown]   (prints rows/s; bench/ingest.ts imports
 * `nativeBulkRate`)
 */
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { DuckDBInstance } from '@duckdb/node-api';
import { DEFAULT_DUCKDB_MEMORY_LIMIT } from '../src/core/config.js';
import { loadStreams } from '../src/core/schema.js';
import { sqlString } from '../src/warehouse/duckdb/dialect.js';
import { DuckDBWarehouse } from '../src/warehouse/duckdb/index.js';
import { columnSql, DEFAULT_CHECKPOINT_THRESHOLD, DEFAULT_ROW_GROUP_SIZE, ident } from '../src/warehouse/duckdb/types.js';
import { demoMessage, fmt, ROOT, tempDir } from './lib.js';

/** The server's default `--duckdb-memory-limit`. */
const SERVER_MEMORY_LIMIT = DEFAULT_DUCKDB_MEMORY_LIMIT;
/** Distinct messages the batched benchmark cycles over (8 bodies of 1,000). */
export const BATCHED_DISTINCT = 8000;

/** Writes `rows` lines, line i holding the data of the i-th message the batched benchmark sends. */
export async function writeNdjson(path: string, rows: number): Promise<number> {
  const out = createWriteStream(path);
  let bytes = 0;
  const lines = Array.from({ length: BATCHED_DISTINCT }, (_, i) => `${JSON.stringify(demoMessage(i))}\n`);
  for (let i = 0; i < rows; i++) {
    const line = lines[i % BATCHED_DISTINCT]!;
    bytes += line.length;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return bytes;
}

export interface BulkResult {
  readonly rowsPerSecond: number;
  readonly rows: number;
  readonly seconds: number;
}

/**
 * What the load writes into: `same` (the baseline: the warehouse's table, envelope and index);
 * for the breakdown of the CLI only, `no-index` (the same DDL without its PRIMARY KEY) and
 * `inferred` (the user fields only, in a table of the types `read_json` infers, no index: the
 * measurement of issue 18).
 */
export type BulkTarget = 'same' | 'no-index' | 'inferred';

/**
 * Rows/s of one native bulk load of `ndjson` (written by {@link writeNdjson}) into a fresh
 * `<dir>/bulk-<target>-<run>.duckdb`.
 */
export async function nativeBulkRate(dir: string, run: number, ndjson: string, target: BulkTarget = 'same'): Promise<BulkResult> {
  const stream = (await loadStreams(join(ROOT, 'streams'))).get('sensor_readings');
  const path = join(dir, `bulk-${target}-${run}.duckdb`);
  const w = await DuckDBWarehouse.open({ path });
  await w.init([stream]);
  await w.close();
  const instance = await DuckDBInstance.create(':memory:', { checkpoint_threshold: DEFAULT_CHECKPOINT_THRESHOLD, memory_limit: SERVER_MEMORY_LIMIT, temp_directory: `${path}.tmp` });
  const c = await instance.connect();
  try {
    await c.run(`ATTACH ${sqlString(path)} AS bulk (ROW_GROUP_SIZE ${DEFAULT_ROW_GROUP_SIZE})`);
    await c.run('USE bulk');
    if (target !== 'same') {
      const [[ddl]] = (await c.runAndReadAll("SELECT sql FROM duckdb_tables() WHERE database_name = 'bulk' AND table_name = 'sensor_readings'")).getRows() as [[string]];
      await c.run('DROP TABLE sensor_readings');
      if (target === 'no-index') await c.run(ddl.replace(' PRIMARY KEY', ''));
      else await c.run(`CREATE TABLE sensor_readings AS SELECT * FROM read_json(${sqlString(ndjson)}) LIMIT 0`);
    }
    const columns = stream.fields.map((f) => `${sqlString(f.name)}: ${sqlString(columnSql(f))}`).join(', ');
    // REPEATED fields absent from a message are stored as [] by the warehouse, not NULL.
    const user = stream.fields.map((f) => (f.mode === 'REPEATED' ? `coalesce(${ident(f.name)}, []) AS ${ident(f.name)}` : ident(f.name)));
    const base = BigInt(Date.now()) * 1000n;
    const sql =
      `INSERT INTO sensor_readings BY NAME SELECT ` +
      `(${base}::BIGINT + row_number() OVER ())::VARCHAR AS message_id, ` +
      `make_timestamp(${base}::BIGINT + row_number() OVER ()) AS publish_time, ` +
      `make_timestamp(${base}::BIGINT) AS ingest_time, '{}'::JSON AS attributes, NULL::VARCHAR AS ordering_key, ` +
      `${user.join(', ')} ` +
      `FROM read_json(${sqlString(ndjson)}, format = 'newline_delimited', columns = {${columns}})`;
    const inferred = `INSERT INTO sensor_readings SELECT * FROM read_json(${sqlString(ndjson)})`;
    const started = performance.now();
    await c.run('BEGIN');
    const r = await c.run(target === 'inferred' ? inferred : sql);
    await c.run('COMMIT');
    const seconds = (performance.now() - started) / 1000;
    const rows = Number(r.rowsChanged);
    return { rowsPerSecond: rows / seconds, rows, seconds };
  } finally {
    c.closeSync();
    instance.closeSync();
  }
}

if (process.argv[1]?.endsWith('bulk.js')) {
  const rows = Number(process.argv.slice(2).find((a) => !a.startsWith('--')) ?? 200_000);
  const { dir, cleanup } = await tempDir();
  try {
    const file = join(dir, 'msgs.ndjson');
    const bytes = await writeNdjson(file, rows);
    // --breakdown: also without the index, and as issue 18 measured it (inferred types, user fields only).
    const targets: BulkTarget[] = process.argv.includes('--breakdown') ? ['same', 'no-index', 'inferred'] : ['same'];
    for (const target of targets) {
      const r = await nativeBulkRate(dir, 0, file, target);
      process.stdout.write(`native bulk load (${target}): ${fmt(r.rows)} rows (${fmt(bytes / 1e6, 1)} MB NDJSON) in ${fmt(r.seconds, 2)} s = ${fmt(r.rowsPerSecond)} rows/s\n`);
    }
  } finally {
    await cleanup();
  }
}
