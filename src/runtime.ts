/**
 * Wiring: the one place where adapters are chosen and dependencies are built. Everything else
 * receives its dependencies as arguments.
 */
import type { PubSub } from '@google-cloud/pubsub';
import type { Config } from './core/config.js';
import type { Topic, Warehouse, WarehouseObserver } from './core/ports.js';
import { loadStreams, type StreamRegistry } from './core/schema.js';
import { type BatchReport, Ingest } from './ingest/ingest.js';
import { EmbeddedTopic, MonotonicClock } from './topic/embedded/topic.js';
import { databasePath, openWarehouse } from './warehouse/engines.js';

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
  /** Given to the warehouse adapter, which reports its engine-specific state through it (DuckDB: rollups, index memory). */
  readonly observer?: WarehouseObserver;
}

export { databasePath };

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
  const { createPubSubClient, PubSubTopic } = await import('./topic/pubsub/topic.js');
  const registry = await loadStreams(config.streamsDir);
  const warehouse = await openWarehouse('bigquery', config, hooks.observer);
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
  const warehouse = await openWarehouse('duckdb', config, hooks.observer);
  return embeddedRuntimeOn(config, registry, warehouse, hooks);
}

/**
 * The embedded topic and ingest over an opened warehouse of any engine: creates (or checks) its
 * tables, and closes it when that fails. `createEmbeddedRuntime` uses it with DuckDB; the API
 * suites use it with every engine of the test list.
 */
export async function embeddedRuntimeOn(config: Config, registry: StreamRegistry, warehouse: Warehouse, hooks: RuntimeHooks = {}): Promise<Runtime> {
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
