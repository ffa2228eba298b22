/**
 * The HTTP API as a Fastify plugin (`tributaryApp`), in the manner of fastify/demo: the app
 * registers named plugins (`plugins/`, each a `fastify-plugin` with its dependencies declared)
 * for errors, OpenAPI, metrics, shutdown, authentication, rate limits, authorisation, the body
 * budget and HTTP caching, then compression and the routes. `buildApp(deps)` makes a Fastify
 * instance with the server options the app needs and registers the plugin; it never listens
 * (see `server.ts`), so tests drive it with `app.inject()` or a real socket.
 */
import { randomUUID } from 'node:crypto';
import compress from '@fastify/compress';
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyServerOptions } from 'fastify';
import fp from 'fastify-plugin';
import { type Config, DEFAULT_RATE_LIMIT } from '../core/config.js';
import { TributaryError } from '../core/errors.js';
import type { Topic, Warehouse } from '../core/ports.js';
import type { StreamRegistry } from '../core/schema.js';
import type { Ingest } from '../ingest/ingest.js';
import { type ApiKeyEntry, isLoopback } from './auth.js';
import { clientErrorHandler, errorBodySchema, sendError } from './errors.js';
import type { Metrics } from './metrics.js';
import { authentication, authorization } from './plugins/auth.js';
import bodyBudget from './plugins/body-budget.js';
import errors from './plugins/errors.js';
import httpCache from './plugins/http-cache.js';
import metricsPlugin from './plugins/metrics.js';
import openapi from './plugins/openapi.js';
import rateLimit from './plugins/rate-limit.js';
import shutdown from './plugins/shutdown.js';
import { docsRoutes } from './routes/docs.js';
import { healthRoutes } from './routes/health.js';
import { messageRoutes } from './routes/messages.js';
import { streamRoutes } from './routes/streams.js';
import { deadLetterSchema, rowSchema } from './schemas.js';
import { webConsole } from './web.js';

export type { RouteScope } from './plugins/auth.js';

/** What the API needs. */
export interface AppDeps {
  readonly config: Config;
  readonly registry: StreamRegistry;
  readonly warehouse: Warehouse;
  readonly topic: Topic;
  /** Ingest, for dead-letter replay. */
  readonly ingest: Ingest;
  /** Hashed API keys; empty for open mode (loopback only unless allowed, see `checkExposure`). */
  readonly keys?: readonly ApiKeyEntry[];
  /** Metrics registry (shared with the runtime's onBatch hook); a new one when absent. */
  readonly metrics?: Metrics;
  /** Fastify logger options; false for none (tests). */
  readonly logger?: FastifyServerOptions['logger'];
  /** Directory of the built web console (default `dist/web`); see `web.ts`. */
  readonly webDir?: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    deps: AppDeps;
  }
  // summary, tags, hide... are declared by @fastify/swagger.
  interface FastifySchema {
    /** OpenAPI requestBody content for bodies parsed by hand (not validated by Fastify; src/api/openapi.ts). */
    'x-body'?: Record<string, unknown>;
  }
  interface FastifyContextConfig {
    /** The route answers JSON, NDJSON or CSV. */
    formats?: boolean;
  }
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The options of the Fastify instance the app runs in: those a plugin cannot set (body limit,
 * request ids, router, framework and client errors, logger).
 */
export function serverOptions(config: Config, logger: FastifyServerOptions['logger'] = false): FastifyServerOptions {
  return {
    logger,
    bodyLimit: config.bodyLimitBytes,
    // Accept a caller's request id (e.g. from a load balancer) when it is sane; else make one.
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // Path parameters up to the longest message id (1024) plus room; longer is INVALID_PARAMETER.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 1100 },
    // Errors the router raises before any route runs still leave in the standard error shape.
    frameworkErrors: (err, req, reply) => {
      const known =
        err.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? new TributaryError('INVALID_PARAMETER', 'a path parameter is too long (stream names are at most 63 characters, message ids at most 1024)')
          : new TributaryError('INVALID_REQUEST', `the request URL cannot be parsed: ${err.message}`);
      return sendError(reply, req, known);
    },
    // Cloud Logging: every log line of a request carries its trace (X-Cloud-Trace-Context).
    childLoggerFactory: (log, bindings, opts, raw) => {
      const header = raw.headers['x-cloud-trace-context'];
      const m = typeof header === 'string' ? /^([0-9a-f]{32})/.exec(header) : null;
      if (!m) return log.child(bindings, opts);
      const trace = config.traceProject ? `projects/${config.traceProject}/traces/${m[1]}` : m[1];
      return log.child({ ...bindings, 'logging.googleapis.com/trace': trace }, opts);
    },
    clientErrorHandler,
    // New requests during shutdown get our own 503 SHUTTING_DOWN (plugins/shutdown.ts), not Fastify's body.
    return503OnClosing: false,
  };
}

/** The options of {@link tributaryApp}. */
export interface TributaryAppOptions {
  readonly deps: AppDeps;
}

/**
 * The app: every plugin and route, in the order their hooks must run. On each request:
 * shutdown check, authentication, rate limit (401s count too), authorisation, body budget;
 * on each answer: request id, 413 drain, HTTP caching, compression; then metrics.
 */
const app: FastifyPluginAsync<TributaryAppOptions> = async (instance, { deps }) => {
  const { config } = deps;
  instance.decorate('deps', deps);
  // Response schemas document and test the API; serialisation stays plain JSON so that no
  // field is ever dropped or coerced.
  instance.setSerializerCompiler(() => (data) => JSON.stringify(data));
  await instance.register(errors);
  await instance.register(openapi);
  await instance.register(metricsPlugin, { warehouse: deps.warehouse, ...(deps.metrics ? { metrics: deps.metrics } : {}) });
  await instance.register(shutdown);
  await instance.register(authentication, { keys: deps.keys ?? [] });
  await instance.register(rateLimit, {
    limit: config.rateLimitRequests ?? (isLoopback(config.host) ? 0 : DEFAULT_RATE_LIMIT),
    windowSeconds: config.rateLimitWindowSeconds,
  });
  await instance.register(authorization);
  await instance.register(bodyBudget, { capacity: config.maxBodyBytesInFlight, bodyLimit: config.bodyLimitBytes });
  await instance.register(httpCache);

  instance.addSchema(rowSchema);
  instance.addSchema(deadLetterSchema);
  await instance.register(compress, { global: true, encodings: ['br', 'gzip'], threshold: 1024, customTypes: /^(?:application\/(?:json|x-ndjson)|text\/)/ });
  await instance.register(healthRoutes);
  await instance.register(docsRoutes);
  await instance.register(streamRoutes, { prefix: '/v1' });
  await instance.register(messageRoutes, { prefix: '/v1' });
  // The console only adds `GET /` and `GET /assets/:file`: it shadows no API route.
  await instance.register(webConsole, deps.webDir ? { dir: deps.webDir } : {});
};

/** The API as a plugin (not encapsulated, so that its decorators and handlers are the instance's). */
export const tributaryApp = fp(app, {
  name: 'tributary',
  fastify: '5.x',
});

/** Builds the Fastify app with every route, ready to `listen` or `inject`. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const instance = Fastify(serverOptions(deps.config, deps.logger ?? false));
  await instance.register(tributaryApp, { deps });
  return instance;
}

export { sendError };
