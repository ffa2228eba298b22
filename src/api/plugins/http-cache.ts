import { createHash } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';

/**
 * `tributary-http-cache`: HTTP caching of answers that cannot change. A 200 of a closed time
 * range (a route sets `req.closedRange`) gets a weak ETag (the same for every content encoding
 * of the answer), `Cache-Control: private, max-age=3600`, and a request whose `If-None-Match`
 * lists that tag (or `*`) gets 304. Every other non-public GET says `Cache-Control: no-store`.
 * Registered before compression, so that the tag is of the uncompressed answer.
 */
const httpCache: FastifyPluginAsync = async (app) => {
  // A callback hook (not async): no promise per request.
  app.addHook('onSend', (req, reply, payload, done) => {
    if (req.closedRange && reply.statusCode === 200 && (typeof payload === 'string' || Buffer.isBuffer(payload))) {
      const etag = `W/"${createHash('sha256').update(String(reply.getHeader('content-type') ?? '')).update(payload).digest('base64url').slice(0, 27)}"`;
      void reply.header('etag', etag);
      void reply.header('cache-control', 'private, max-age=3600');
      void reply.header('vary', 'accept, authorization, accept-encoding');
      const inm = req.headers['if-none-match'];
      if (typeof inm === 'string' && inm.split(',').some((t) => t.trim() === etag || `W/${t.trim()}` === etag || t.trim() === '*')) {
        void reply.code(304);
        return done(null, '');
      }
    } else if (req.method === 'GET' && req.routeOptions.config?.scope !== 'public') {
      void reply.header('cache-control', 'no-store');
    }
    done(null, payload);
  });
};

export default fp(httpCache, { name: 'tributary-http-cache', fastify: '5.x' });
