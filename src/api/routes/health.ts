import type { FastifyPluginAsync } from 'fastify';
import { TributaryError } from '../../core/errors.js';

/** Liveness and readiness, for Cloud Run probes and load balancers. */
export const healthRoutes: FastifyPluginAsync = async (app) => {
  const status = { type: 'object', required: ['status'], properties: { status: { type: 'string' }, warehouse: { type: 'string' }, topic: { type: 'string' } } } as const;
  const errors = { '5xx': { description: 'Not ready (WAREHOUSE_UNAVAILABLE, SHUTTING_DOWN).', $ref: 'Error#' } } as const;
  app.get('/healthz', { schema: { summary: 'Liveness: the process answers', tags: ['service'], response: { 200: status } } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: { summary: 'Readiness: the warehouse answers', tags: ['service'], response: { 200: status, ...errors } } }, async () => {
    try {
      await app.deps.warehouse.ping();
    } catch (err) {
      throw new TributaryError('WAREHOUSE_UNAVAILABLE', 'the warehouse does not answer', undefined, { cause: err });
    }
    return { status: 'ready', warehouse: app.deps.warehouse.engine, topic: app.deps.topic.kind };
  });
};
