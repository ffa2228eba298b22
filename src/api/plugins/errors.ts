import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import { errorBodySchema } from '../../core/error-body.js';
import { installErrorHandling } from '../errors.js';

/**
 * `tributary-errors`: the error and not-found handlers (every 4xx/5xx leaves in the one error
 * body, `core/error-body.ts`) and the `Error` schema routes reference as `Error#`.
 */
const errors: FastifyPluginAsync = async (app) => {
  app.addSchema(errorBodySchema);
  installErrorHandling(app);
};

export default fp(errors, { name: 'tributary-errors', fastify: '5.x' });
