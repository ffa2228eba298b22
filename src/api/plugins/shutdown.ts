import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import { TributaryError } from '../../core/errors.js';

/**
 * `tributary-shutdown`: once closing starts, new requests get 503 SHUTTING_DOWN and every answer
 * (including the in-flight ones) closes its connection, so that keep-alive sockets do not hold
 * the process open for the keep-alive timeout. Every answer carries its `x-request-id`.
 */
const shutdown: FastifyPluginAsync = async (app) => {
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  // Callback hooks (not async) on every request: no promise per request.
  app.addHook('onRequest', (_req, _reply, done) => {
    if (closing) return done(new TributaryError('SHUTTING_DOWN', 'the server is shutting down; retry against another instance or in a moment'));
    done();
  });
  app.addHook('onSend', (req, reply, payload, done) => {
    void reply.header('x-request-id', String(req.id));
    if (closing) void reply.header('connection', 'close');
    done(null, payload);
  });
};

export default fp(shutdown, { name: 'tributary-shutdown', fastify: '5.x', dependencies: ['tributary-errors'] });
