import type { FastifyPluginAsync } from 'fastify';
import { errorResponses } from '../schemas.js';

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tributary API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/docs/docs.css"></head>
<body><header><h1>Tributary API</h1>
<p>Generated from <a href="/openapi.json">/openapi.json</a>. API key (if the server needs one):
<input id="key" type="password" placeholder="trb_..." autocomplete="off"></p></header>
<main id="ops">Loading…</main>
<script src="/docs/docs.js"></script></body></html>
`;

const CSS = `body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:980px;padding:0 1em;color:#222}
h1{margin:.6em 0 .2em}details{border:1px solid #ddd;border-radius:6px;margin:.5em 0;padding:.4em .8em}
summary{cursor:pointer}code.m{display:inline-block;width:4em;font-weight:bold}.get{color:#06c}.post{color:#080}
label{display:block;margin:.2em 0}label span{display:inline-block;min-width:9em;font-family:monospace}
input{font:inherit;padding:2px 4px}pre{background:#f6f6f6;padding:.6em;overflow:auto;max-height:30em}
textarea{width:100%;height:6em;font-family:monospace}small{color:#666}`;

// A small client: lists every operation with its parameters and lets you call it.
const JS = `(async function () {
  const el = (tag, attrs, ...kids) => { const e = document.createElement(tag); Object.assign(e, attrs || {}); for (const k of kids) e.append(k); return e; };
  const spec = await (await fetch('/openapi.json')).json();
  const root = document.getElementById('ops'); root.textContent = '';
  for (const [path, ops] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const inputs = {};
      const form = el('div');
      for (const p of op.parameters || []) {
        const i = el('input', { placeholder: (p.schema && p.schema.enum ? p.schema.enum.join('|') : '') });
        inputs[p.name] = [p, i];
        form.append(el('label', {}, el('span', { textContent: p.name + (p.required ? ' *' : '') }), i, ' ', el('small', { textContent: p.description || '' })));
      }
      let body;
      if (op.requestBody) { body = el('textarea', { placeholder: 'JSON body' }); form.append(body); }
      const out = el('pre');
      const run = el('button', { textContent: 'Send' });
      run.onclick = async () => {
        let url = path; const q = new URLSearchParams();
        for (const [name, [p, i]] of Object.entries(inputs)) {
          if (!i.value) continue;
          if (p.in === 'path') url = url.replace('{' + name + '}', encodeURIComponent(i.value)); else q.append(name, i.value);
        }
        const headers = {}; const key = document.getElementById('key').value;
        if (key) headers.authorization = 'Bearer ' + key;
        if (body) headers['content-type'] = 'application/json';
        const res = await fetch(url + (q.toString() ? '?' + q : ''), { method: method.toUpperCase(), headers, body: body ? body.value : undefined });
        out.textContent = res.status + ' ' + res.statusText + '\\n\\n' + await res.text();
      };
      form.append(run, out);
      root.append(el('details', {}, el('summary', {}, el('code', { className: 'm ' + method, textContent: method.toUpperCase() }), ' ', el('code', { textContent: path }), ' — ', op.summary || ''), el('p', { textContent: op.description || '' }), form));
    }
  }
})();`;

/** The OpenAPI document, the docs page (assets served here: no external requests) and /metrics. */
export const docsRoutes: FastifyPluginAsync = async (app) => {
  app.get('/openapi.json', {
    schema: { summary: 'This API\'s OpenAPI 3.1 description', tags: ['service'], response: { 200: { description: 'OpenAPI 3.1 document.', type: 'object' } } },
  }, async () => app.swagger());
  const text = (type: string) => ({ 200: { description: 'The page or asset.', content: { [type]: { schema: { type: 'string' } } } } });
  app.get('/docs', { schema: { summary: 'Interactive API documentation (HTML)', tags: ['service'], response: text('text/html') } }, async (_req, reply) =>
    reply.type('text/html; charset=utf-8').header('content-security-policy', "default-src 'self'").send(PAGE));
  app.get('/docs/docs.js', { schema: { summary: 'Script of the docs page', tags: ['service'], response: text('text/javascript') } }, async (_req, reply) =>
    reply.type('text/javascript; charset=utf-8').send(JS));
  app.get('/docs/docs.css', { schema: { summary: 'Style of the docs page', tags: ['service'], response: text('text/css') } }, async (_req, reply) =>
    reply.type('text/css; charset=utf-8').send(CSS));
  app.get('/metrics', {
    config: { scope: 'admin' },
    schema: { summary: 'Prometheus metrics (text exposition format)', tags: ['service'], response: { 200: { description: 'Prometheus text format 0.0.4.', content: { 'text/plain': { schema: { type: 'string' } } } }, ...errorResponses } },
  }, async (_req, reply) => reply.type(app.metrics.contentType).send(await app.metrics.render()));
};
