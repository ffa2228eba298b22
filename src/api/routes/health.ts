import type { FastifyPluginAsync } from 'fastify';
import { TributaryError } from '../../core/errors.js';

/** Liveness and readiness, for Cloud Run probes and load balancers. */
export const healthRoutes: FastifyPluginAsync = async (app) => {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async () => {
    try {
      await app.deps.warehouse.ping();
    } catch (err) {
      throw new TributaryError('WAREHOUSE_UNAVAILABLE', 'the warehouse does not answer', undefined, { cause: err });
    }
    return { status: 'ready', warehouse: app.deps.warehouse.engine, topic: app.deps.topic.kind };
  });
};
