import swagger from '@fastify/swagger';
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import { swaggerOptions } from '../openapi.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route as `METHOD /url`, in registration order (for docs and OpenAPI checks). */
    routeTable: readonly string[];
  }
}

/**
 * `tributary-openapi`: `@fastify/swagger` (its `app.swagger()` builds the OpenAPI document of
 * every route registered after it, see `src/api/openapi.ts`) and the route table.
 */
const openapi: FastifyPluginAsync = async (app) => {
  const routeTable: string[] = [];
  app.decorate('routeTable', routeTable);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routeTable.push(`${method} ${route.url}`);
  });
  await app.register(swagger, swaggerOptions(() => app.deps.registry.all()));
};

export default fp(openapi, { name: 'tributary-openapi', fastify: '5.x' });
