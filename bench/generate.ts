/**
 * Generates a deterministic data set of the demo stream straight into a DuckDB file, through
 * the warehouse's own DDL and the Appender: `rows` rows spread evenly over the 24 hours before
 * `end`, 500 devices, the same values for the same arguments on every run.
 *
 * Usage: node dist/bench/generate.js <data-dir> <rows> [end-iso]
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance, DuckDBTimestampValue } from '@duckdb/node-api';
import { parseJson } from '../src/core/json.js';
import { loadStreams } from '../src/core/schema.js';
import { compileValidator } from '../src/core/validate.js';
import { columnWriter } from '../src/warehouse/duckdb/types.js';
import { DuckDBWarehouse } from '../src/warehouse/duckdb/warehouse.js';
import { demoMessage, ROOT } from './lib.js';

export const DAY_MICROS = 86_400_000_000n;

/** Writes `rows` rows ending at `endMicros` into `<dataDir>/tributary.duckdb`; returns seconds taken. */
export async function generate(dataDir: string, rows: number, endMicros: bigint): Promise<number> {
  await mkdir(dataDir, { recursive: true });
  const path = join(dataDir, 'tributary.duckdb');
  const stream = (await loadStreams(join(ROOT, 'streams'))).get('sensor_readings');
  const w = await DuckDBWarehouse.open({ path });
  await w.init([stream]);
  await w.close();
  const validate = compileValidator(stream);
  const writers = stream.fields.map(columnWriter);
  // DuckDB's buffer pool is bounded here, but the process still grows by about 5.6 GB per
  // million rows through the Appender's typed STRUCT/LIST values, so 10M rows do not fit a
  // 24 GB machine yet (docs/performance.md: generating in SQL is the fix).
  const instance = await DuckDBInstance.create(path, { memory_limit: '1GB', threads: '2' });
  const c = await instance.connect();
  const started = performance.now();
  const step = DAY_MICROS / BigInt(rows);
  const start = endMicros - DAY_MICROS;
  const chunk = 100_000;
  for (let from = 0; from < rows; from += chunk) {
    const a = await c.createAppender('sensor_readings');
    for (let i = from; i < Math.min(rows, from + chunk); i++) {
      const publish = start + BigInt(i) * step;
      a.appendVarchar(`gen-${String(i).padStart(9, '0')}`);
      a.appendTimestamp(new DuckDBTimestampValue(publish));
      // ingest lag: 2 to 400 ms, deterministic.
      a.appendTimestamp(new DuckDBTimestampValue(publish + BigInt(2000 + ((i * 7919) % 398_000))));
      a.appendVarchar(i % 10 === 0 ? '{"source":"gateway-a"}' : '{}');
      a.appendNull();
      const v = validate(parseJson(JSON.stringify(demoMessage(i))));
      for (let f = 0; f < writers.length; f++) writers[f]!(a, v[stream.fields[f]!.name] ?? null);
      a.endRow();
    }
    a.flushSync();
    a.closeSync();
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
