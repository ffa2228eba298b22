import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import type { Warehouse } from '../../core/ports.js';
import { Metrics } from '../metrics.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The process's metrics, rendered on `GET /metrics`. */
    metrics: Metrics;
  }
}

export interface MetricsPluginOptions {
  /** Shared with the runtime's hooks (onBatch, onWriteError); a new registry when absent. */
  readonly metrics?: Metrics;
  readonly warehouse: Warehouse;
}

/** `tributary-metrics`: decorates `app.metrics` and records every answered request. */
const metricsPlugin: FastifyPluginAsync<MetricsPluginOptions> = async (app, opts) => {
  const metrics = opts.metrics ?? new Metrics();
  app.decorate('metrics', metrics);
  app.addHook('onResponse', (req, reply, done) => {
    metrics.request(req.method, req.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
};

export default fp(metricsPlugin, { name: 'tributary-metrics', fastify: '5.x' });
