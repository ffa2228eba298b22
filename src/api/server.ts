/**
 * Listening, and nothing else: binds an app built by `buildApp` (app.ts) to the configured host
 * and port. What the app runs on is built by the entry points (`src/main/`) through the
 * composition root (`runtime.ts`).
 */
import type { FastifyInstance } from 'fastify';
import type { Config } from '../core/config.js';

/**
 * Connections the kernel queues for accept() (capped by net.core.somaxconn). Node's default, 511,
 * is less than the 1000 requests in flight Cloud Run allows an instance, all of which may
 * connect at once.
 */
export const LISTEN_BACKLOG = 4096;

/** Listens on `config.host` and `config.port`; resolves with the `http://host:port` bound (port 0 resolves to the chosen port). */
export async function listen(app: FastifyInstance, config: Pick<Config, 'host' | 'port'>): Promise<string> {
  await app.listen({ host: config.host, port: config.port, backlog: LISTEN_BACKLOG });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return `http://${host}:${port}`;
}
