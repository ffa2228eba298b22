/**
 * The warehouse engines the contract suites run against (`openWarehouse(engine)` gives a fresh,
 * empty adapter and disposes of it, emulator process included). `TRIBUTARY_TEST_ENGINES=duckdb,bigquery`
 * (the default) narrows the list; BigQuery runs against goccy/bigquery-emulator, started here.
 */
import type { Warehouse } from '../../src/core/ports.js';
import { createBigQueryApi } from '../../src/warehouse/bigquery/index.js';
import type { QueryParameter } from '../../src/warehouse/bigquery/types.js';
import { BigQueryWarehouse } from '../../src/warehouse/bigquery/index.js';
import { DuckDBWarehouse } from '../../src/warehouse/duckdb/index.js';
import { type BigQueryEmulator, startBigQueryEmulator } from '../emulators.js';
import { tempDir } from '../helpers.js';

/** `duckdb-large`: DuckDB with the plans it uses on large tables (pages of rows in two steps). */
export const ALL_ENGINES = ['duckdb', 'duckdb-large', 'bigquery'] as const;
export type Engine = (typeof ALL_ENGINES)[number];

/**
 * Engines selected by TRIBUTARY_TEST_ENGINES (or its alias TRIBUTARY_TEST_WAREHOUSES; default:
 * all). An unknown name is an error.
 */
export function selectedEngines(env: Readonly<Record<string, string | undefined>> = process.env): Engine[] {
  const raw = (env.TRIBUTARY_TEST_ENGINES ?? env.TRIBUTARY_TEST_WAREHOUSES)?.trim();
  if (!raw) return [...ALL_ENGINES];
  const names = raw.split(',').map((s) => s.trim()).filter(Boolean);
  for (const n of names) {
    if (!(ALL_ENGINES as readonly string[]).includes(n)) throw new Error(`TRIBUTARY_TEST_ENGINES: unknown engine "${n}" (known: ${ALL_ENGINES.join(', ')})`);
  }
  return names as Engine[];
}

export const ENGINES = selectedEngines();

/** A sent BigQuery query, as the adapter's onQuery hook saw it. */
export interface SentQuery {
  sql: string;
  params: readonly QueryParameter[];
  maximumBytesBilled: string;
}

/** A fresh, empty warehouse of an engine, and how to dispose of it. */
export interface TestWarehouse {
  readonly warehouse: Warehouse;
  /** Queries sent (BigQuery only). */
  readonly queries: SentQuery[];
  readonly emulator?: BigQueryEmulator;
  /** A second adapter on the same storage (e.g. another process). */
  reopen(): Warehouse;
  dispose(): Promise<void>;
}

let datasetSeq = 0;

export async function openWarehouse(engine: Engine): Promise<TestWarehouse> {
  if (engine === 'duckdb' || engine === 'duckdb-large') {
    const warehouse = await DuckDBWarehouse.open({ path: ':memory:', threads: 1, ...(engine === 'duckdb-large' ? { twoStepPagesFromRows: 0 } : {}) });
    return {
      warehouse,
      queries: [],
      reopen: () => warehouse,
      dispose: () => warehouse.close(),
    };
  }
  const tmp = await tempDir('tributary-bq-');
  const emulator = await startBigQueryEmulator(tmp.dir);
  const queries: SentQuery[] = [];
  const dataset = `contract_${process.pid}_${datasetSeq++}`;
  const make = () =>
    new BigQueryWarehouse(createBigQueryApi({ projectId: emulator.project, apiEndpoint: emulator.url }), {
      projectId: emulator.project,
      dataset,
      maxBytesBilled: 1024 ** 3,
      emulator: true,
      lookbackDays: 30,
      onQuery: (q) => queries.push(q),
    });
  const warehouse = make();
  return {
    warehouse,
    queries,
    emulator,
    reopen: make,
    dispose: async () => {
      await warehouse.close();
      await emulator.stop();
      await tmp.cleanup();
    },
  };
}
