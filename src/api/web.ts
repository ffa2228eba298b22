/**
 * The web console: the static page and assets that `npm run build` produces in `dist/web`
 * (Vite, from `web/`), served at `/` and `/assets/{file}` by the API server itself (same
 * origin, same API keys; no external requests). Files are read once at start-up into memory,
 * so a request can only ever get one of the files listed then (no path is joined from input).
 */
import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { TributaryError } from '../core/errors.js';
import { errorResponses } from './schemas.js';

/** Where the build puts the console, relative to this compiled file (`dist/src/api/web.js`). */
export const DEFAULT_WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url));

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * Scripts and styles only from this origin (no inline script or style element: the chart
 * library sets styles through the DOM, which the policy allows); the page talks only to this
 * origin; nothing may frame it.
 */
export const CONSOLE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; " +
  "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Tributary</title></head>
<body><h1>The web console is not built</h1><p>Run <code>npm run build</code> (it builds the console into
<code>dist/web</code>), then restart the server. The HTTP API under <code>/v1</code> works without it.</p></body></html>
`;

export interface WebConsoleOptions {
  /** Directory holding `index.html` and `assets/` (default: `dist/web` of this build). */
  readonly dir?: string;
}

function securityHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', CONSOLE_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY');
}

/** Registers `GET /` (the page) and `GET /assets/:file` (its hashed, immutable assets). */
export const webConsole: FastifyPluginAsync<WebConsoleOptions> = async (app, opts) => {
  const dir = opts.dir ?? DEFAULT_WEB_DIR;
  let index: Buffer | undefined;
  const assets = new Map<string, Buffer>();
  try {
    index = await readFile(join(dir, 'index.html'));
    for (const name of await readdir(join(dir, 'assets'))) assets.set(name, await readFile(join(dir, 'assets', name)));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }

  const html = (description: string) => ({ description, content: { 'text/html': { schema: { type: 'string' } } } });
  app.get('/', {
    // Public: the page and its assets hold no data (every call they make carries the user's key).
    config: { scope: 'public' },
    schema: {
      summary: 'The web console (HTML page; no key needed, it holds no data)',
      tags: ['service'],
      response: { 200: html('The console page.'), 503: html('The console is not built: run npm run build.') },
    },
  }, async (_req, reply) => {
    securityHeaders(reply).header('cache-control', 'no-cache').type('text/html; charset=utf-8');
    if (!index) return reply.code(503).send(NOT_BUILT);
    return reply.send(index);
  });

  app.get<{ Params: { file: string } }>('/assets/:file', {
    config: { scope: 'public' },
    schema: {
      summary: 'A script or style of the web console (content-hashed name, immutable)',
      tags: ['service'],
      params: { type: 'object', properties: { file: { type: 'string', description: 'Asset name, as the page references it.' } }, required: ['file'] },
      response: {
        200: { description: 'The asset.', content: { 'text/javascript': { schema: { type: 'string' } }, 'text/css': { schema: { type: 'string' } } } },
        ...errorResponses,
      },
    },
  }, async (req, reply) => {
    const body = assets.get(req.params.file);
    if (!body) throw new TributaryError('NOT_FOUND', `no console asset ${JSON.stringify(req.params.file)}; see /`);
    // Vite puts a content hash in every asset name: the name changes when the content does.
    return securityHeaders(reply)
      .header('cache-control', 'public, max-age=31536000, immutable')
      .type(TYPES[extname(req.params.file)] ?? 'application/octet-stream')
      .send(body);
  });
};
