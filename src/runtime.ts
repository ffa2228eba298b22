/**
 * Wiring: the one place where adapters are chosen and dependencies are built. Everything else
 * receives its dependencies as arguments.
 */
import { join } from 'node:path';
import type { PubSub } from '@google-cloud/pubsub';
import type { Config } from './core/config.js';
import type { Topic, Warehouse } from './core/ports.js';
import { loadStreams, type StreamRegistry } from './core/schema.js';
import { type BatchReport, Ingest } from './ingest/ingest.js';
import { EmbeddedTopic, MonotonicClock } from './topic/embedded/topic.js';
import { DuckDBWarehouse } from './warehouse/duckdb/index.js';
import type { MemoryStatus } from './warehouse/duckdb/memory.js';

/** Everything a Tributary process runs on. */
export interface Runtime {
  readonly config: Config;
  readonly registry: StreamRegistry;
  readonly warehouse: Warehouse;
  readonly ingest: Ingest;
  readonly topic: Topic;
  /** The Pub/Sub client (gcp mode), for the pull worker. */
  readonly pubsub?: PubSub;
  /** Drains ingest, then closes the topic and the warehouse. Idempotent. */
  close(): Promise<void>;
}

/** Observers the runtime reports to (metrics, logs). */
export interface RuntimeHooks {
  readonly onBatch?: (report: BatchReport) => void;
  readonly onWriteError?: (stream: string, err: unknown, willRetry: boolean) => void;
  /** Told when the DuckDB rollup folds of a stream start failing. */
  readonly onRollupError?: (stream: string, err: Error) => void;
  /** Told when DuckDB's message_id indexes raised its memory limit (see `warehouse/duckdb/memory.ts`). */
  readonly onMemoryLimitRaised?: (status: MemoryStatus) => void;
}

/** The database file of the embedded default. */
export function databasePath(config: Config): string {
  return join(config.dataDir, 'tributary.duckdb');
}

/** The runtime the configuration asks for: `--mode embedded` (default) or `--mode gcp`. */
export function createRuntime(config: Config, hooks: RuntimeHooks = {}): Promise<Runtime> {
  return config.mode === 'gcp' ? createGcpRuntime(config, hooks) : createEmbeddedRuntime(config, hooks);
}

/**
 * `--batch-regroup-ms` in gcp mode unless set. Measured with bench/function.ts (80 deliveries in
 * flight against the BigQuery emulator): rows per write 40 without regrouping, about 70 with it.
 */
export const GCP_BATCH_REGROUP_MS = 40;

function ingestFor(config: Config, warehouse: Warehouse, hooks: RuntimeHooks): Ingest {
  return new Ingest({
    warehouse,
    options: {
      batchMaxRows: config.batchMaxRows,
      batchMaxBytes: config.batchMaxBytes,
      batchLingerMs: config.batchLingerMs,
      batchRegroupMs: config.batchRegroupMs ?? (config.mode === 'gcp' ? GCP_BATCH_REGROUP_MS : 0),
      maxMessageBytes: config.maxMessageBytes,
      writeRetryMs: config.writeRetryMs,
    },
    ...(hooks.onBatch ? { onBatch: hooks.onBatch } : {}),
    ...(hooks.onWriteError ? { onWriteError: hooks.onWriteError } : {}),
  });
}

/**
 * Google Cloud: BigQuery (Application Default Credentials, or the emulator at
 * bigqueryApiEndpoint) and Pub/Sub (or PUBSUB_EMULATOR_HOST). Ingest here serves the Cloud
 * Function and the pull worker; the API's publish goes to Pub/Sub.
 */
export async function createGcpRuntime(config: Config, hooks: RuntimeHooks = {}): Promise<Runtime> {
  const { gcpProject, bigqueryDataset, pubsubTopicPrefix } = config;
  if (config.mode !== 'gcp' || !gcpProject || !bigqueryDataset || pubsubTopicPrefix === undefined) {
    throw new Error('createGcpRuntime needs a configuration parsed with --mode gcp');
  }
  // Loaded on demand: the embedded default never pays for the Google Cloud client libraries.
  const [{ createPubSubClient, PubSubTopic }, { createBigQueryApi }, { BigQueryWarehouse }] = await Promise.all([
    import('./topic/pubsub/topic.js'),
    import('./warehouse/bigquery/index.js'),
    import('./warehouse/bigquery/index.js'),
  ]);
  const registry = await loadStreams(config.streamsDir);
  const warehouse = new BigQueryWarehouse(
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
  await warehouse.init(registry.all());
  const ingest = ingestFor(config, warehouse, hooks);
  const pubsub = createPubSubClient({ projectId: gcpProject, emulatorHost: config.pubsubEmulatorHost });
  const topic = new PubSubTopic(pubsub, { topicPrefix: pubsubTopicPrefix, batchMaxMessages: config.pubsubBatchMaxMessages, batchMaxMs: config.pubsubBatchMaxMs });
  let closing: Promise<void> | undefined;
  return {
    config,
    registry,
    warehouse,
    ingest,
    topic,
    pubsub,
    close() {
      closing ??= (async () => {
        await ingest.drain();
        await topic.close();
        await warehouse.close();
      })();
      return closing;
    },
  };
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
    ...(hooks.onRollupError ? { onRollupError: hooks.onRollupError } : {}),
    ...(hooks.onMemoryLimitRaised ? { onMemoryLimitRaised: hooks.onMemoryLimitRaised } : {}),
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
  const ingest = ingestFor(config, warehouse, hooks);
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
