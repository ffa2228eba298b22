import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import { OpenApiCollector } from '../openapi.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route as `METHOD /url`, in registration order (for docs and OpenAPI checks). */
    routeTable: readonly string[];
    /** The OpenAPI document's routes and components, collected as routes are registered. */
    openapi: OpenApiCollector;
  }
}

/** `tributary-openapi`: collects every route registered after it, for `/openapi.json` and the route table. */
const openapi: FastifyPluginAsync = async (app) => {
  const collector = new OpenApiCollector();
  const routeTable: string[] = [];
  app.decorate('routeTable', routeTable);
  app.decorate('openapi', collector);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routeTable.push(`${method} ${route.url}`);
  });
  app.addHook('onRoute', collector.onRoute);
};

export default fp(openapi, { name: 'tributary-openapi', fastify: '5.x' });
