/**
 * Runs the API for real: builds the runtime and the app, listens, and shuts down cleanly on
 * SIGTERM/SIGINT (stop accepting, finish in-flight requests, write every queued batch, close
 * the warehouse).
 */
import type { FastifyInstance } from 'fastify';
import type { Config } from '../core/config.js';
import { createRuntime, type Runtime } from '../runtime.js';
import { buildApp } from './app.js';
import { checkExposure, loadKeys } from './auth.js';
import { Metrics } from './metrics.js';

/** Cloud Logging severities of pino's levels. */
const SEVERITY: Record<string, string> = { trace: 'DEBUG', debug: 'DEBUG', info: 'INFO', warn: 'WARNING', error: 'ERROR', fatal: 'CRITICAL' };

/**
 * pino options for structured JSON logs that Cloud Logging understands: `severity`, `message`,
 * an RFC 3339 `time`; request lines carry `reqId` (and the trace, see app.ts).
 */
export function loggerOptions(config: Config) {
  return {
    level: config.logLevel,
    messageKey: 'message',
    formatters: { level: (label: string) => ({ severity: SEVERITY[label] ?? 'DEFAULT', level: label }) },
    timestamp: () => `,"time":"${new Date().toISOString()}"`,
  };
}

export interface RunningServer {
  readonly app: FastifyInstance;
  readonly runtime: Runtime;
  /** `http://host:port` actually bound (port 0 resolves to the chosen port). */
  readonly url: string;
  /** Graceful stop; idempotent. */
  close(): Promise<void>;
}

/** Starts the runtime the configuration selects (embedded or gcp) + API listening on the configured host and port. */
/**
 * Connections the kernel queues for accept() (capped by net.core.somaxconn). Node's default, 511,
 * is less than the 1000 requests in flight Cloud Run allows an instance, all of which may
 * connect at once.
 */
const LISTEN_BACKLOG = 4096;

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
  try {
    app = await buildApp({ ...runtime, keys, metrics, logger });
    await app.listen({ host: config.host, port: config.port, backlog: LISTEN_BACKLOG });
  } catch (err) {
    await app?.close();
    await runtime.close();
    throw err;
  }
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const started = app;
  let closing: Promise<void> | undefined;
  return {
    app: started,
    runtime,
    url: `http://${host}:${port}`,
    close() {
      closing ??= (async () => {
        await started.close();
        await runtime.close();
      })();
      return closing;
    },
  };
}
