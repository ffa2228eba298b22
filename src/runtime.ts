/**
 * Wiring: the one place where adapters are chosen and dependencies are built. Everything else
 * receives its dependencies as arguments.
 */
import { join } from 'node:path';
import type { Config } from './core/config.js';
import type { Topic, Warehouse } from './core/ports.js';
import { loadStreams, type StreamRegistry } from './core/schema.js';
import { type BatchReport, Ingest } from './ingest/ingest.js';
import { EmbeddedTopic, MonotonicClock } from './topic/embedded/topic.js';
import { DuckDBWarehouse } from './warehouse/duckdb/warehouse.js';

/** Everything a Tributary process runs on. */
export interface Runtime {
  readonly config: Config;
  readonly registry: StreamRegistry;
  readonly warehouse: Warehouse;
  readonly ingest: Ingest;
  readonly topic: Topic;
  /** Drains ingest, then closes the topic and the warehouse. Idempotent. */
  close(): Promise<void>;
}

/** Observers the runtime reports to (metrics, logs). */
export interface RuntimeHooks {
  readonly onBatch?: (report: BatchReport) => void;
  readonly onWriteError?: (stream: string, err: unknown, willRetry: boolean) => void;
}

/** The database file of the embedded default. */
export function databasePath(config: Config): string {
  return join(config.dataDir, 'tributary.duckdb');
}

/**
 * The embedded default: DuckDB file under the data dir, the embedded topic feeding ingest in
 * the same process.
 */
export async function createEmbeddedRuntime(config: Config, hooks: RuntimeHooks = {}): Promise<Runtime> {
  const registry = await loadStreams(config.streamsDir);
  const warehouse = await DuckDBWarehouse.open({
    path: databasePath(config),
    memoryLimit: config.duckdbMemoryLimit,
    threads: config.duckdbThreads,
    queryTimeoutMs: config.queryTimeoutMs,
  });
  try {
    await warehouse.init(registry.all());
  } catch (err) {
    await warehouse.close();
    throw err;
  }
  // Message IDs derive from publish times: start the clock after the newest one stored, so that
  // IDs never repeat even if the wall clock went back between two runs.
  let floor = 0n;
  for (const s of registry.all()) {
    const st = await warehouse.stats(s);
    for (const t of [st.newestPublishTime, st.newestDeadLetterPublishTime]) if (t !== null && t > floor) floor = t;
  }
  const ingest = new Ingest({
    warehouse,
    options: {
      batchMaxRows: config.batchMaxRows,
      batchLingerMs: config.batchLingerMs,
      maxMessageBytes: config.maxMessageBytes,
      writeRetryMs: config.writeRetryMs,
    },
    ...(hooks.onBatch ? { onBatch: hooks.onBatch } : {}),
    ...(hooks.onWriteError ? { onWriteError: hooks.onWriteError } : {}),
  });
  const topic = new EmbeddedTopic(ingest, new MonotonicClock(floor));
  let closing: Promise<void> | undefined;
  return {
    config,
    registry,
    warehouse,
    ingest,
    topic,
    close() {
      closing ??= (async () => {
        await topic.close();
        await warehouse.close();
      })();
      return closing;
    },
  };
}
