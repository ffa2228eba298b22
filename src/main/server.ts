/**
 * The server entry point: builds the runtime (`runtime.ts`, the composition root) and the app
 * (`api/app.ts`), listens (`api/server.ts`), and closes cleanly (stop accepting, finish
 * in-flight requests, write every queued batch, close the warehouse); `tributary serve` calls
 * it on SIGTERM/SIGINT.
 */
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../api/app.js';
import { checkExposure, loadKeys } from '../api/auth.js';
import { loggerOptions } from '../api/logging.js';
import { Metrics } from '../api/metrics.js';
import { listen } from '../api/server.js';
import type { Config } from '../core/config.js';
import { createRuntime, type Runtime } from '../runtime.js';

export interface RunningServer {
  readonly app: FastifyInstance;
  readonly runtime: Runtime;
  /** `http://host:port` actually bound (port 0 resolves to the chosen port). */
  readonly url: string;
  /** Graceful stop; idempotent. */
  close(): Promise<void>;
}

/** Starts the runtime the configuration selects (embedded or gcp) + API listening on the configured host and port. */
export async function startServer(config: Config, options: { logger?: boolean } = {}): Promise<RunningServer> {
  const logger = options.logger === false ? false : loggerOptions(config);
  // Refuse an exposed, unauthenticated server before opening anything.
  const keys = await loadKeys(config);
  checkExposure(config, keys);
  const metrics = new Metrics();
  let app: FastifyInstance | undefined;
  const runtime = await createRuntime(config, {
    onBatch: metrics.onBatch,
    onWriteError: (stream, err, willRetry) => {
      metrics.onWriteError(stream, err, willRetry);
      app?.log.warn({ err, stream, willRetry }, willRetry ? 'warehouse write failed; retrying' : 'warehouse write failed; giving up');
    },
    // The warehouse reports its own state (DuckDB: rollups, index memory) to the log and /metrics.
    observer: { log: { warn: (fields, message) => app?.log.warn(fields, message) }, metrics },
  });
  let url: string;
  try {
    app = await buildApp({ ...runtime, keys, metrics, logger });
    url = await listen(app, config);
  } catch (err) {
    await app?.close();
    await runtime.close();
    throw err;
  }
  const started = app;
  let closing: Promise<void> | undefined;
  return {
    app: started,
    runtime,
    url,
    close() {
      closing ??= (async () => {
        await started.close();
        await runtime.close();
      })();
      return closing;
    },
  };
}

