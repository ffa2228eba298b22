/**
 * The HTTP API as a Fastify application. `buildApp(deps)` receives everything it uses; it
 * never listens (see `server.ts`), so tests drive it with `app.inject()` or a real socket.
 */
import { createHash, randomUUID } from 'node:crypto';
import compress from '@fastify/compress';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { type Config, DEFAULT_RATE_LIMIT } from '../core/config.js';
import { isTributaryError, TributaryError } from '../core/errors.js';
import type { Topic, Warehouse } from '../core/ports.js';
import type { StreamRegistry } from '../core/schema.js';
import type { Ingest } from '../ingest/ingest.js';
import { BodyBudget } from './admission.js';
import { type ApiKeyEntry, type AuthContext, isLoopback, KeyStore, presentedToken, RateLimiter } from './auth.js';
import { clientErrorHandler, errorBodySchema, installErrorHandling, sendError } from './errors.js';
import { Metrics } from './metrics.js';
import { OpenApiCollector } from './openapi.js';
import { docsRoutes } from './routes/docs.js';
import { healthRoutes } from './routes/health.js';
import { messageRoutes } from './routes/messages.js';
import { streamRoutes } from './routes/streams.js';
import { deadLetterSchema, rowSchema } from './schemas.js';
import { webConsole } from './web.js';

/** What the API needs. */
export interface AppDeps {
  readonly config: Config;
  readonly registry: StreamRegistry;
  readonly warehouse: Warehouse;
  readonly topic: Topic;
  /** Ingest, for dead-letter replay. */
  readonly ingest: Ingest;
  /** Hashed API keys; empty for open mode (loopback only unless allowed, see server.ts). */
  readonly keys?: readonly ApiKeyEntry[];
  /** Metrics registry (shared with the runtime's onBatch hook); a new one when absent. */
  readonly metrics?: Metrics;
  /** Fastify logger options; false for none (tests). */
  readonly logger?: FastifyServerOptions['logger'];
  /** Directory of the built web console (default `dist/web`); see `web.ts`. */
  readonly webDir?: string;
}

/** Who may call a route: see docs/auth.md. */
export type RouteScope = 'public' | 'any' | 'read' | 'write' | 'admin';

declare module 'fastify' {
  interface FastifyInstance {
    deps: AppDeps;
    /** Every route as `METHOD /url`, in registration order (for docs and OpenAPI checks). */
    routeTable: readonly string[];
    metrics: Metrics;
    openapi: OpenApiCollector;
  }
  interface FastifyRequest {
    auth?: AuthContext;
  }
  interface FastifySchema {
    /** OpenAPI summary of the route. */
    summary?: string;
    /** OpenAPI tags. */
    tags?: string[];
    /** OpenAPI requestBody content for bodies parsed by hand (not validated by Fastify). */
    'x-body'?: Record<string, unknown>;
  }
  interface FastifyContextConfig {
    /** Who may call the route (default public). */
    scope?: RouteScope;
    /** The route answers JSON, NDJSON or CSV. */
    formats?: boolean;
  }
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const UNLIMITED = new Set(['/healthz', '/readyz']);
/** Longest a request waits for room in the body budget before 503 OVERLOADED (docs/configuration.md). */
const BODY_WAIT_MS = 30_000;

/** Builds the Fastify app with every route, ready to `listen` or `inject`. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config } = deps;
  const app = Fastify({
    logger: deps.logger ?? false,
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
    childLoggerFactory: (logger, bindings, opts, raw) => {
      const header = raw.headers['x-cloud-trace-context'];
      const m = typeof header === 'string' ? /^([0-9a-f]{32})/.exec(header) : null;
      if (!m) return logger.child(bindings, opts);
      const trace = config.traceProject ? `projects/${config.traceProject}/traces/${m[1]}` : m[1];
      return logger.child({ ...bindings, 'logging.googleapis.com/trace': trace }, opts);
    },
    clientErrorHandler,
    // New requests during shutdown get our own 503 SHUTTING_DOWN (below), not Fastify's body.
    return503OnClosing: false,
  });
  const metrics = deps.metrics ?? new Metrics();
  const openapi = new OpenApiCollector();
  app.decorate('deps', deps);
  const routeTable: string[] = [];
  app.decorate('routeTable', routeTable);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routeTable.push(`${method} ${route.url}`);
  });
  app.decorate('metrics', metrics);
  app.decorate('openapi', openapi);
  app.addHook('onRoute', openapi.onRoute);
  // Response schemas document and test the API; serialisation stays plain JSON so that no
  // field is ever dropped or coerced.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

  // Once closing starts, every answer (including the in-flight ones) closes its connection, so
  // keep-alive sockets do not hold the process open for the keep-alive timeout.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async () => {
    if (closing) throw new TributaryError('SHUTTING_DOWN', 'the server is shutting down; retry against another instance or in a moment');
  });

  // Authentication, rate limiting, then authorisation.
  const keys = new KeyStore(deps.keys ?? []);
  const limit = config.rateLimitRequests ?? (isLoopback(config.host) ? 0 : DEFAULT_RATE_LIMIT);
  const limiter = limit > 0 ? new RateLimiter(limit, config.rateLimitWindowSeconds * 1000) : undefined;
  app.addHook('onRequest', async (req, reply) => {
    const scope: RouteScope = req.routeOptions.config?.scope ?? 'public';
    const path = req.routeOptions.url ?? '';
    const auth = keys.authenticate(presentedToken(req.headers));
    if (auth) req.auth = auth;
    if (limiter && !UNLIMITED.has(path)) {
      const r = limiter.take(auth?.keyId ? `key:${auth.keyId}` : `ip:${req.ip}`);
      void reply.header('ratelimit-policy', `${limiter.limit};w=${limiter.windowMs / 1000}`);
      void reply.header('ratelimit', `limit=${limiter.limit}, remaining=${r.remaining}, reset=${r.resetSeconds}`);
      if (!r.allowed) {
        void reply.header('retry-after', String(r.resetSeconds));
        throw new TributaryError('RATE_LIMITED', `rate limit of ${limiter.limit} requests per ${limiter.windowMs / 1000} s reached; retry in ${r.resetSeconds} s`, { retryAfterSeconds: r.resetSeconds });
      }
    }
    if (scope === 'public') return;
    if (!auth) {
      void reply.header('www-authenticate', 'Bearer realm="tributary"');
      throw new TributaryError('UNAUTHENTICATED', auth === null ? 'the API key is not valid' : 'this route needs an API key: send Authorization: Bearer <key>');
    }
    const stream = (req.params as { stream?: string } | undefined)?.stream ?? '';
    const ok =
      scope === 'any' ||
      (scope === 'read' && auth.canRead(stream)) ||
      (scope === 'write' && auth.canWrite(stream)) ||
      (scope === 'admin' && auth.isAdmin);
    if (!ok) {
      const needed = scope === 'admin' ? 'admin' : `${scope}:${stream}`;
      throw new TributaryError('FORBIDDEN', `the API key "${auth.keyId ?? ''}" lacks the scope ${needed}`, { needed });
    }
  });

  // Request bodies held at once are bounded (see BodyBudget); after authentication, so that a
  // request without a valid key never holds or waits for room.
  const budget = new BodyBudget(config.maxBodyBytesInFlight, BODY_WAIT_MS);
  metrics.admission = budget;
  app.addHook('onRequest', (req, reply, done) => {
    const headers = req.raw.headers;
    const length = headers['content-length'];
    if (length === undefined && headers['transfer-encoding'] === undefined) return done();
    // Without a declared length, the body may be as large as the limit allows.
    const declared = length === undefined ? config.bodyLimitBytes : Number(length);
    // An empty body holds nothing; one over the limit is refused unread (413).
    if (!(declared > 0) || declared > config.bodyLimitBytes) return done();
    const reserved = budget.reserve(declared);
    const res = reply.raw;
    if ('release' in reserved) {
      res.once('close', reserved.release);
      return done();
    }
    const gone = () => reserved.cancel();
    res.once('close', gone);
    reserved.pending.then(
      (release) => {
        res.off('close', gone);
        if (req.raw.socket?.destroyed) return release();
        res.once('close', release);
        done();
      },
      (err: unknown) => {
        res.off('close', gone);
        if (isTributaryError(err, 'OVERLOADED')) void reply.header('retry-after', '1');
        done(err as Error);
      },
    );
  });

  app.addHook('onResponse', async (req, reply) => {
    metrics.request(req.method, req.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
  });

  // Headers, and HTTP caching of answers that cannot change (closed time ranges).
  app.addHook('onSend', async (req, reply, payload) => {
    void reply.header('x-request-id', String(req.id));
    // A body refused as too large is unread, and Node closes such a connection after the answer:
    // a client still uploading would get a reset (EPIPE) instead of the 413. Discard what it is
    // still sending first (a bounded lingering close), so that it reads 413 PAYLOAD_TOO_LARGE.
    if (reply.statusCode === 413 && !req.raw.complete && !req.raw.readableEnded) await discardBody(req.raw, config.bodyLimitBytes);
    if (closing) void reply.header('connection', 'close');
    if (req.closedRange && reply.statusCode === 200 && (typeof payload === 'string' || Buffer.isBuffer(payload))) {
      // Weak: the same tag for every content encoding of the answer.
      const etag = `W/"${createHash('sha256').update(String(reply.getHeader('content-type') ?? '')).update(payload).digest('base64url').slice(0, 27)}"`;
      void reply.header('etag', etag);
      void reply.header('cache-control', 'private, max-age=3600');
      void reply.header('vary', 'accept, authorization, accept-encoding');
      const inm = req.headers['if-none-match'];
      if (typeof inm === 'string' && inm.split(',').some((t) => t.trim() === etag || `W/${t.trim()}` === etag || t.trim() === '*')) {
        void reply.code(304);
        return '';
      }
    } else if (req.method === 'GET' && req.routeOptions.config?.scope !== 'public') {
      void reply.header('cache-control', 'no-store');
    }
    return payload;
  });

  app.addSchema(errorBodySchema);
  app.addSchema(rowSchema);
  app.addSchema(deadLetterSchema);
  for (const s of [errorBodySchema, rowSchema, deadLetterSchema]) openapi.addComponent(s as never);
  installErrorHandling(app);
  await app.register(compress, { global: true, encodings: ['br', 'gzip'], threshold: 1024, customTypes: /^(?:application\/(?:json|x-ndjson)|text\/)/ });
  await app.register(healthRoutes);
  await app.register(docsRoutes);
  await app.register(streamRoutes, { prefix: '/v1' });
  await app.register(messageRoutes, { prefix: '/v1' });
  // The console only adds `GET /` and `GET /assets/:file`: it shadows no API route.
  await app.register(webConsole, deps.webDir ? { dir: deps.webDir } : {});
  return app;
}

export { sendError };

/** Longest a refused body is read and discarded before answering, in milliseconds. */
const DISCARD_MAX_MS = 5000;

/**
 * Reads and drops the rest of a request body, at most `4 x limit` bytes (and 64 MiB) and
 * {@link DISCARD_MAX_MS}; never buffers it. Resolves when the body ended or a bound was hit
 * (then the connection is closed after the answer anyway).
 */
function discardBody(raw: import('node:http').IncomingMessage, limit: number): Promise<void> {
  const maxBytes = Math.min(4 * limit, 64 * 1024 * 1024);
  return new Promise<void>((resolve) => {
    let seen = 0;
    const done = () => {
      clearTimeout(timer);
      raw.off('data', onData);
      raw.off('end', done);
      raw.off('error', done);
      raw.off('close', done);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > maxBytes) done();
    };
    const timer = setTimeout(done, DISCARD_MAX_MS);
    raw.on('data', onData);
    raw.once('end', done);
    raw.once('error', done);
    raw.once('close', done);
    raw.resume();
  });
}
