/**
 * What the DuckDB adapter reports through the {@link WarehouseObserver} it is given: the state of
 * its minute rollups and the memory of its message_id indexes and its cache of table blocks, as `/metrics` families (read at
 * every scrape), and warnings in the log when a fold starts failing or the indexes raise the
 * memory limit.
 */
import type { MetricFamily, WarehouseObserver } from '../../core/ports.js';
import type { MemoryStatus } from './memory.js';
import type { RollupStatus } from './folds.js';

/** The adapter's derived state (see `DuckDBWarehouse.derivedStatus`). */
export interface DerivedStatus {
  readonly rollups: readonly RollupStatus[];
  /** Aggregates answered since start, by how: from the rollups, or by scanning the rows. */
  readonly aggregates: { readonly rollup: number; readonly scan: number };
  /**
   * The message_id indexes (derived from the rows too: they are how duplicates are refused) and
   * the memory limit they raise; present with a memory limit.
   */
  readonly memory?: MemoryStatus;
}

/** The `/metrics` families of the derived state (names and help as docs/http-api.md lists them). */
export function derivedFamilies(d: DerivedStatus): MetricFamily[] {
  const r = d.rollups;
  return [
    { name: 'tributary_rollup_lag_seconds', type: 'gauge', help: 'ingest_time of the newest row written minus that of the newest row in the minute rollups (0: caught up; rows not folded in yet are scanned).', samples: r.map((x) => [{ stream: x.stream }, x.lagSeconds] as const) },
    { name: 'tributary_rollup_failing', type: 'gauge', help: '1 while the last rollup fold of the stream failed (answers stay correct, aggregates scan more); see the log.', samples: r.map((x) => [{ stream: x.stream }, x.failing ? 1 : 0] as const) },
    { name: 'tributary_rollup_fold_failures_total', type: 'counter', help: 'Rollup folds that failed.', samples: r.map((x) => [{ stream: x.stream }, x.failures] as const) },
    {
      name: 'tributary_aggregate_queries_total',
      type: 'counter',
      help: 'Aggregates answered, by path: from the minute rollups, or by scanning rows.',
      samples: [
        [{ path: 'rollup' }, d.aggregates.rollup],
        [{ path: 'scan' }, d.aggregates.scan],
      ],
    },
    ...(d.memory
      ? ([
          { name: 'tributary_duckdb_index_bytes', type: 'gauge', help: 'Memory of the message_id indexes, the largest since start (DuckDB holds them in memory while writing; about 8 bytes per row with embedded message IDs, about 90 with random UUIDs).', samples: [[{}, d.memory.indexBytes]] },
          { name: 'tributary_duckdb_memory_limit_bytes', type: 'gauge', help: 'DuckDB memory limit in force: --duckdb-memory-limit, raised by the indexes beyond half of it.', samples: [[{}, d.memory.limitBytes]] },
          { name: 'tributary_duckdb_memory_limit_configured_bytes', type: 'gauge', help: 'DuckDB memory limit configured (--duckdb-memory-limit).', samples: [[{}, d.memory.configuredLimitBytes]] },
          { name: 'tributary_duckdb_cache_bytes', type: 'gauge', help: "DuckDB's cache of table blocks (BASE_TABLE in duckdb_memory()), as last read after a write, before any trim.", samples: [[{}, d.memory.cacheBytes]] },
          { name: 'tributary_duckdb_cache_trims_total', type: 'counter', help: 'Times that cache was trimmed back to --duckdb-cache-limit.', samples: [[{}, d.memory.cacheTrims]] },
        ] as const)
      : []),
  ];
}

const mib = (bytes: number): number => Math.round(bytes / 1048576);

/** Logs that the indexes raised the memory limit. */
export function logMemoryRaised(observer: WarehouseObserver | undefined, m: MemoryStatus): void {
  observer?.log?.warn(
    { indexMiB: mib(m.indexBytes), limitMiB: mib(m.limitBytes), configuredMiB: mib(m.configuredLimitBytes) },
    `the message_id indexes take ${mib(m.indexBytes)} MiB, more than half of --duckdb-memory-limit: DuckDB's memory limit is now ${mib(m.limitBytes)} MiB (configured ${mib(m.configuredLimitBytes)}), so that writes go on and queries keep at least half; see docs/performance.md, "Memory"`,
  );
}

/** Logs that the folds of a stream started failing. */
export function logRollupFailing(observer: WarehouseObserver | undefined, stream: string, err: Error): void {
  observer?.log?.warn({ err, stream }, 'rollup fold failed: aggregates stay correct but scan the rows not folded in; retried after each write (tributary_rollup_failing in /metrics)');
}
