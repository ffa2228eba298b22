/**
 * OpenAPI 3.1 generated from the routes' own JSON Schemas (the ones Fastify validates
 * requests with), collected as routes are registered.
 */
import type { FastifySchema, RouteOptions } from 'fastify';
import type { StreamDef } from '../core/schema.js';
import { apiRowSchema } from './schemas.js';

interface CollectedRoute {
  readonly method: string;
  readonly url: string;
  readonly schema: FastifySchema & { summary?: string; tags?: string[]; hide?: boolean };
  readonly formats: boolean;
  readonly scope: string;
}

type Json = Record<string, unknown>;

/** Rewrites Fastify's `$ref: "Name#"` to `#/components/schemas/Name`. */
function refs(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(refs);
  if (typeof v !== 'object' || v === null) return v;
  const out: Json = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === '$ref' && typeof x === 'string' && x.endsWith('#')) out[k] = `#/components/schemas/${x.slice(0, -1)}`;
    else if (k === '$id') continue;
    else out[k] = refs(x);
  }
  return out;
}

const SCOPE_TEXT: Record<string, string> = {
  public: 'No API key needed.',
  any: 'Any valid API key.',
  read: 'Needs `read:<stream>` (or `read:*`, or `admin`).',
  write: 'Needs `write:<stream>` (or `write:*`, or `admin`).',
  admin: 'Needs `admin`.',
};

/** Collects routes (install before registering them) and builds the document. */
export class OpenApiCollector {
  private readonly routes: CollectedRoute[] = [];
  private readonly components: Record<string, Json> = {};

  onRoute = (r: RouteOptions): void => {
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    const config = (r.config ?? {}) as { scope?: string; formats?: boolean };
    for (const m of methods) {
      if (m === 'HEAD' || !r.schema || (r.schema as { hide?: boolean }).hide) continue;
      this.routes.push({ method: m.toLowerCase(), url: r.url, schema: r.schema, formats: config.formats === true, scope: config.scope ?? 'public' });
    }
  };

  addComponent(schema: Json & { $id: string }): void {
    this.components[schema.$id] = refs(schema) as Json;
  }

  /** The routes described (method and OpenAPI path), for tests. */
  described(): { method: string; path: string }[] {
    return this.routes.map((r) => ({ method: r.method, path: toPath(r.url) }));
  }

  document(info: { title: string; version: string; description: string }, streams: readonly StreamDef[] = []): Json {
    const paths: Record<string, Json> = {};
    for (const r of this.routes) {
      const s = r.schema as Json & { params?: Json; querystring?: Json; body?: Json; response?: Record<string, Json> };
      const parameters: Json[] = [];
      const params = (s.params?.properties ?? {}) as Record<string, Json>;
      for (const [name, schema] of Object.entries(params)) parameters.push({ name, in: 'path', required: true, schema: refs(schema) });
      const query = (s.querystring?.properties ?? {}) as Record<string, Json>;
      for (const [name, schema] of Object.entries(query)) {
        const { description, ...rest } = schema;
        parameters.push({ name, in: 'query', required: false, ...(description ? { description } : {}), schema: refs(rest) });
      }
      const responses: Record<string, Json> = {};
      for (const [code, schema] of Object.entries(s.response ?? {})) {
        const { description, ...rest } = schema as Json;
        const key = code.toUpperCase();
        const content: Record<string, Json> = {};
        if (rest.content) Object.assign(content, refs(rest.content));
        else if (Object.keys(rest).length > 0) content['application/json'] = { schema: refs(rest) };
        if (code === '200' && r.formats) {
          content['application/x-ndjson'] = { schema: { type: 'string', description: 'One JSON object per line; next page in the Link header.' } };
          content['text/csv'] = { schema: { type: 'string', description: 'RFC 4180 with a header row; formula-like cells prefixed with \'.' } };
        }
        responses[key] = { description: (description as string | undefined) ?? (code === '200' ? 'OK' : 'Error'), ...(Object.keys(content).length ? { content } : {}) };
      }
      const scopeText = SCOPE_TEXT[r.scope] ?? '';
      if (r.scope !== 'public') {
        responses['401'] ??= { description: 'No or unknown API key (UNAUTHENTICATED).', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
        responses['403'] ??= { description: 'The key lacks the scope (FORBIDDEN).', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
      }
      responses['429'] ??= { description: 'Rate limited (RATE_LIMITED); see Retry-After.', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
      const op: Json = {
        operationId: `${r.method}${toPath(r.url).replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
        summary: s.summary,
        description: [s.querystring?.description, scopeText].filter(Boolean).join(' '),
        tags: s.tags ?? ['service'],
        parameters,
        responses,
        ...(r.scope !== 'public' ? { security: [{ apiKey: [] }, {}] } : {}),
      };
      if (s.body) op.requestBody = { required: true, content: { 'application/json': { schema: refs(s.body) } } };
      const doc = s['x-body'] as Record<string, Json> | undefined;
      if (doc) op.requestBody = { required: true, content: refs(doc) };
      (paths[toPath(r.url)] ??= {})[r.method] = op;
    }
    // Per stream, the row endpoints again with the stream's own row schema (derived from its
    // definition), so that clients and fuzzers see every column's type.
    for (const stream of streams) {
      const name = `Row_${stream.name}`;
      this.components[name] = apiRowSchema(stream);
      for (const template of ['/v1/streams/{stream}/rows', '/v1/streams/{stream}/rows/{messageId}']) {
        const op = paths[template]?.get as Json | undefined;
        if (!op) continue;
        const concrete = JSON.parse(JSON.stringify(op).replaceAll('"#/components/schemas/Row"', `"#/components/schemas/${name}"`)) as Json;
        concrete.parameters = (concrete.parameters as Json[]).filter((p) => p.name !== 'stream');
        concrete.operationId = `${String(concrete.operationId)}_${stream.name}`;
        concrete.tags = [`stream ${stream.name}`];
        paths[template.replace('{stream}', stream.name)] = { get: concrete };
      }
    }
    return {
      openapi: '3.1.0',
      info,
      paths,
      components: {
        schemas: this.components,
        securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'An API key `trb_<id>_<secret>` (see docs/auth.md). Not needed when the server runs without keys.' } },
      },
    };
  }
}

/** `/v1/streams/:stream` to `/v1/streams/{stream}`. */
export function toPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}
