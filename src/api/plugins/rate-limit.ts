import rateLimit from '@fastify/rate-limit';
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import { TributaryError } from '../../core/errors.js';

export interface RateLimitOptions {
  /** Requests per window and identity; 0 turns limiting off. */
  readonly limit: number;
  readonly windowSeconds: number;
}

/** Routes never limited (probes). */
const UNLIMITED = new Set(['/healthz', '/readyz']);
/** Identities counted at once (least recently seen forgotten first). */
const IDENTITIES = 100_000;

/**
 * `tributary-rate-limit`: a fixed window of `limit` requests per API key (per client IP without
 * a valid key), on every request but the probes, matched routes or not, counted after
 * authentication and before authorisation (so that 401s count too). Counting is
 * `@fastify/rate-limit`'s (its in-process store); the headers are the IETF draft's
 * `RateLimit-Policy` and `RateLimit` (docs/auth.md), and beyond the limit the answer is
 * 429 RATE_LIMITED in the one error body, with `Retry-After`.
 */
const rateLimitPlugin: FastifyPluginAsync<RateLimitOptions> = async (app, opts) => {
  if (!(opts.limit > 0)) return;
  const { limit, windowSeconds } = opts;
  // global: false: no route gets the plugin's own hook, headers or error; we call it below.
  await app.register(rateLimit, { global: false, cache: IDENTITIES });
  const take = app.createRateLimit({
    max: limit,
    timeWindow: windowSeconds * 1000,
    keyGenerator: (req) => (req.auth?.keyId ? `key:${req.auth.keyId}` : `ip:${req.ip}`),
  });
  const policy = `${limit};w=${windowSeconds}`;
  app.addHook('onRequest', async (req, reply) => {
    if (UNLIMITED.has(req.routeOptions.url ?? '')) return;
    const r = await take(req);
    if (r.isAllowed) return;
    void reply.header('ratelimit-policy', policy);
    void reply.header('ratelimit', `limit=${limit}, remaining=${r.remaining}, reset=${r.ttlInSeconds}`);
    if (r.isExceeded) {
      void reply.header('retry-after', String(r.ttlInSeconds));
      throw new TributaryError('RATE_LIMITED', `rate limit of ${limit} requests per ${windowSeconds} s reached; retry in ${r.ttlInSeconds} s`, { retryAfterSeconds: r.ttlInSeconds });
    }
  });
};

export default fp(rateLimitPlugin, { name: 'tributary-rate-limit', fastify: '5.x', dependencies: ['tributary-authentication', 'tributary-errors'] });
