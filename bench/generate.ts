/**
 * Generates a deterministic data set of the demo stream straight into a DuckDB file, through
 * the warehouse's own DDL and one `INSERT ... SELECT` per million rows: `rows` rows spread
 * evenly over the 24 hours (or `span`) before `end`, 500 devices, the values of `demoMessage(i)`
 * (bench/lib.ts), the same for the same arguments on every run.
 *
 * Usage: node dist/bench/generate.js <data-dir> <rows> [end-iso]
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { loadStreams } from '../src/core/schema.js';
import { sqlString } from '../src/warehouse/duckdb/dialect.js';
import { DEFAULT_ROW_GROUP_SIZE, DuckDBWarehouse } from '../src/warehouse/duckdb/index.js';
import { ROOT } from './lib.js';

export const DAY_MICROS = 86_400_000_000n;

/**
 * Writes `rows` rows spread over the `spanMicros` (default 24 hours) ending at `endMicros` into
 * `<dataDir>/tributary.duckdb`; returns seconds taken.
 */
export async function generate(dataDir: string, rows: number, endMicros: bigint, spanMicros: bigint = DAY_MICROS): Promise<number> {
  await mkdir(dataDir, { recursive: true });
  const path = join(dataDir, 'tributary.duckdb');
  const stream = (await loadStreams(join(ROOT, 'streams'))).get('sensor_readings');
  const w = await DuckDBWarehouse.open({ path });
  await w.init([stream]);
  await w.close();
  // Attached with the row group size the warehouse writes with, so that the data set is laid
  // out as ingest would have laid it out.
  const instance = await DuckDBInstance.create(':memory:', { memory_limit: '1GB' });
  const c = await instance.connect();
  await c.run(`ATTACH ${sqlString(path)} AS gen (ROW_GROUP_SIZE ${DEFAULT_ROW_GROUP_SIZE})`);
  await c.run('USE gen');
  const started = performance.now();
  const step = spanMicros / BigInt(rows);
  const start = endMicros - spanMicros;
  // The rows of demoMessage(i) (bench/lib.ts), computed by DuckDB: the same values as
  // validating that message would store (test: the two ways give identical tables), without
  // building millions of JavaScript values (the Appender path grew 5.6 GB per million rows).
  // Chunks keep each transaction's memory small; the values are integers only, no user input.
  const chunk = 1_000_000;
  for (let from = 0; from < rows; from += chunk) {
    const to = Math.min(rows, from + chunk);
    await c.run(
      `INSERT INTO sensor_readings BY NAME SELECT
        'gen-' || lpad(i::VARCHAR, 9, '0') AS message_id,
        make_timestamp($1::BIGINT + i * $2::BIGINT) AS publish_time,
        make_timestamp($1::BIGINT + i * $2::BIGINT + 2000 + (i * 7919) % 398000) AS ingest_time,
        (CASE WHEN i % 10 = 0 THEN '{"source":"gateway-a"}' ELSE '{}' END)::JSON AS attributes,
        NULL AS ordering_key,
        'dev-' || lpad((i % 500)::VARCHAR, 4, '0') AS device_id,
        i AS seq,
        15 + ((i * 7919) % 2000) / 100 AS temperature_c,
        ((1000 + i % 9000)::VARCHAR || '.' || lpad(((i * 31) % 1000)::VARCHAR, 3, '0'))::DECIMAL(38, 9) AS energy_kwh,
        i % 13 <> 0 AS ok,
        TIMESTAMP '2026-11-24 00:00:00' + to_seconds(i) AS measured_at,
        NULL AS calibration_date,
        NULL AS metadata,
        CASE WHEN i % 3 = 0 THEN ['indoor'] ELSE ['outdoor', 'roof'] END AS tags,
        {'lat': 48.85, 'lon': 2.35, 'site': 'site-' || (i % 20)} AS location,
        [] AS readings
      FROM range($3::BIGINT, $4::BIGINT) t(i)`,
      [start, step, BigInt(from), BigInt(to)],
    );
  }
  await c.run('CHECKPOINT');
  c.closeSync();
  instance.closeSync();
  return (performance.now() - started) / 1000;
}

if (process.argv[1]?.endsWith('generate.js')) {
  const [dataDir, rows, end] = process.argv.slice(2);
  if (!dataDir || !rows) {
    process.stderr.write('usage: node dist/bench/generate.js <data-dir> <rows> [end-iso]\n');
    process.exit(2);
  }
  const endMicros = end ? BigInt(Date.parse(end)) * 1000n : BigInt(Date.now()) * 1000n;
  const seconds = await generate(dataDir, Number(rows), endMicros);
  process.stdout.write(`generated ${rows} rows in ${seconds.toFixed(1)} s\n`);
}
