/**
 * The HTTP API as a Fastify application. `buildApp(deps)` receives everything it uses; it
 * never listens (see `server.ts`), so tests drive it with `app.inject()` or a real socket.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Config } from '../core/config.js';
import { TributaryError } from '../core/errors.js';
import type { Topic, Warehouse } from '../core/ports.js';
import type { StreamRegistry } from '../core/schema.js';
import { clientErrorHandler, errorBodySchema, installErrorHandling } from './errors.js';
import { healthRoutes } from './routes/health.js';
import { messageRoutes } from './routes/messages.js';
import { streamRoutes } from './routes/streams.js';

/** What the API needs. */
export interface AppDeps {
  readonly config: Config;
  readonly registry: StreamRegistry;
  readonly warehouse: Warehouse;
  readonly topic: Topic;
  /** Fastify logger options; false for none (tests). */
  readonly logger?: FastifyServerOptions['logger'];
}

declare module 'fastify' {
  interface FastifyInstance {
    deps: AppDeps;
    /** Every route as `METHOD /url`, in registration order (for docs and OpenAPI checks). */
    routeTable: readonly string[];
  }
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Builds the Fastify app with every route, ready to `listen` or `inject`. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: deps.logger ?? false,
    bodyLimit: deps.config.bodyLimitBytes,
    // Accept a caller's request id (e.g. from a load balancer) when it is sane; else make one.
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    routerOptions: { ignoreTrailingSlash: true },
    clientErrorHandler,
    // New requests during shutdown get our own 503 SHUTTING_DOWN (below), not Fastify's body.
    return503OnClosing: false,
  });
  app.decorate('deps', deps);
  const routeTable: string[] = [];
  app.decorate('routeTable', routeTable);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routeTable.push(`${method} ${route.url}`);
  });
  // Once closing starts, every answer (including the in-flight ones) closes its connection, so
  // keep-alive sockets do not hold the process open for the keep-alive timeout.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (request, reply) => {
    void reply.header('x-request-id', String(request.id));
    if (closing) void reply.header('connection', 'close');
  });
  app.addHook('onRequest', async () => {
    if (closing) throw new TributaryError('SHUTTING_DOWN', 'the server is shutting down; retry against another instance or in a moment');
  });
  app.addSchema(errorBodySchema);
  installErrorHandling(app);
  await app.register(healthRoutes);
  await app.register(streamRoutes, { prefix: '/v1' });
  await app.register(messageRoutes, { prefix: '/v1' });
  return app;
}
