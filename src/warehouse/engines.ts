/**
 * The engine list: one entry per warehouse engine, each a folder of the same file names
 * (`dialect.ts`, `driver.ts`, `introspect.ts`, `errors.ts`, `types.ts`, `index.ts`) built on the
 * shared SQL of `./sql/`. `src/runtime.ts` opens the engine of its mode from here. Adding an
 * engine is one folder and one entry (see docs/architecture.md, "Storage").
 */
import { join } from 'node:path';
import type { Config } from '../core/config.js';
import type { Warehouse, WarehouseObserver } from '../core/ports.js';
import { DuckDBWarehouse } from './duckdb/index.js';

/** One engine: how to open its adapter from the configuration, given an observer. */
export interface WarehouseEngine {
  readonly name: string;
  /** The `--mode` that stores in this engine. */
  readonly mode: Config['mode'];
  /** Opens the adapter (not yet initialised: the caller runs `init` with its streams). */
  open(config: Config, observer?: WarehouseObserver): Promise<Warehouse>;
}

/** The database file of the embedded default. */
export function databasePath(config: Config): string {
  return join(config.dataDir, 'tributary.duckdb');
}

export const WAREHOUSE_ENGINES: readonly WarehouseEngine[] = [
  {
    name: 'duckdb',
    mode: 'embedded',
    async open(config, observer) {
      return DuckDBWarehouse.open({
        path: databasePath(config),
        memoryLimit: config.duckdbMemoryLimit,
        cacheLimitBytes: config.duckdbCacheLimit,
        threads: config.duckdbThreads,
        readPriorityMs: config.duckdbReadPriorityMs,
        queryTimeoutMs: config.queryTimeoutMs,
        ...(observer ? { observer } : {}),
      });
    },
  },
  {
    name: 'bigquery',
    mode: 'gcp',
    // Loaded on demand: the embedded default never pays for the Google Cloud client libraries.
    async open(config) {
      const { gcpProject, bigqueryDataset } = config;
      if (!gcpProject || !bigqueryDataset) throw new Error('the BigQuery engine needs --gcp-project and --bigquery-dataset');
      const { BigQueryWarehouse, createBigQueryApi } = await import('./bigquery/index.js');
      return new BigQueryWarehouse(
        createBigQueryApi({ projectId: gcpProject, ...(config.bigqueryApiEndpoint ? { apiEndpoint: config.bigqueryApiEndpoint } : {}), ...(config.gcpRegion ? { location: config.gcpRegion } : {}) }),
        {
          projectId: gcpProject,
          dataset: bigqueryDataset,
          ...(config.gcpRegion ? { location: config.gcpRegion } : {}),
          maxBytesBilled: config.bigqueryMaxBytesBilled,
          emulator: config.bigqueryApiEndpoint !== undefined,
          lookbackDays: config.bigqueryLookbackDays,
        },
      );
    },
  },
];

/** Opens the engine of this name (`duckdb`, `bigquery`). */
export function openWarehouse(name: string, config: Config, observer?: WarehouseObserver): Promise<Warehouse> {
  const engine = WAREHOUSE_ENGINES.find((e) => e.name === name);
  if (!engine) throw new Error(`unknown warehouse engine "${name}" (known: ${WAREHOUSE_ENGINES.map((e) => e.name).join(', ')})`);
  return engine.open(config, observer);
}
