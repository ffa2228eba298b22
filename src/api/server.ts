/**
 * Runs the API for real: builds the runtime and the app, listens, and shuts down cleanly on
 * SIGTERM/SIGINT (stop accepting, finish in-flight requests, write every queued batch, close
 * the warehouse).
 */
import type { FastifyInstance } from 'fastify';
import type { Config } from '../core/config.js';
import { createRuntime, type Runtime } from '../runtime.js';
import { buildApp } from './app.js';

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
  const logger = options.logger === false ? false : { level: config.logLevel };
  let app: FastifyInstance | undefined;
  const runtime = await createRuntime(config, {
    onWriteError: (stream, err, willRetry) =>
      app?.log.warn({ err, stream, willRetry }, willRetry ? 'warehouse write failed; retrying' : 'warehouse write failed; giving up'),
  });
  try {
    app = await buildApp({ ...runtime, logger });
    await app.listen({ host: config.host, port: config.port });
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
