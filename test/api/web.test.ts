/** The web console's routes: the page and its assets, security headers, and no shadowed API route. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/api/app.js';
import { createEmbeddedRuntime, type Runtime } from '../../src/runtime.js';
import { tempDir, testConfig } from '../helpers.js';

describe('web console routes', () => {
  let app: FastifyInstance;
  let runtime: Runtime;
  let tmp: { dir: string; cleanup: () => Promise<void> };
  before(async () => {
    tmp = await tempDir();
    runtime = await createEmbeddedRuntime(await testConfig(tmp.dir));
    app = await buildApp({ ...runtime, logger: false });
  });
  after(async () => {
    await app.close();
    await runtime.close();
    await tmp.cleanup();
  });

  it('serves the page at / with a strict content security policy', async () => {
    const res = await app.inject('/');
    assert.equal(res.statusCode, 200, 'the console is built by npm run build (dist/web)');
    assert.match(String(res.headers['content-type']), /^text\/html/);
    const csp = String(res.headers['content-security-policy']);
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self'(;|$)/, 'no inline or remote scripts');
    assert.match(csp, /style-src 'self'(;|$)/, 'no inline or remote styles');
    assert.match(csp, /connect-src 'self'(;|$)/, 'the page talks to this origin only');
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.doesNotMatch(res.body, /<script>(?!<\/script>)/, 'no inline script');
    assert.doesNotMatch(res.body, /(src|href)="(https?:)?\/\//, 'no external asset');
  });

  it('serves every asset the page references, with its type, cached as immutable', async () => {
    const page = (await app.inject('/')).body;
    const refs = [...page.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    assert.ok(refs.some((r) => r.endsWith('.js')) && refs.some((r) => r.endsWith('.css')), `assets referenced: ${refs.join(', ')}`);
    for (const ref of refs) {
      const res = await app.inject(ref);
      assert.equal(res.statusCode, 200, ref);
      assert.match(String(res.headers['content-type']), ref.endsWith('.js') ? /^text\/javascript/ : /^text\/css/);
      assert.match(String(res.headers['cache-control']), /immutable/);
      assert.doesNotMatch(res.body, /https?:\/\/(?!www\.w3\.org)[a-z0-9.-]+\.[a-z]{2,}\//i, `${ref} names no external host`);
    }
  });

  it('answers an unknown asset, or a path that tries to leave assets/, with 404 NOT_FOUND', async () => {
    for (const url of ['/assets/nope.js', '/assets/..%2F..%2Fpackage.json', '/assets/%2e%2e%2findex.html', '/assets/']) {
      const res = await app.inject(url);
      assert.equal(res.statusCode, 404, url);
      assert.equal(res.json().error.code, 'NOT_FOUND', url);
    }
  });

  it('shadows no API route', async () => {
    assert.equal((await app.inject('/healthz')).json().status, 'ok');
    assert.equal((await app.inject('/readyz')).statusCode, 200);
    assert.ok(Array.isArray((await app.inject('/v1/streams')).json().streams));
    const unknown = await app.inject('/v1/nope');
    assert.equal(unknown.statusCode, 404);
    assert.equal(unknown.json().error.code, 'NOT_FOUND');
  });

  it('says how to build the console when its assets are missing', async () => {
    const empty = await tempDir();
    const bare = await buildApp({ ...runtime, logger: false, webDir: empty.dir });
    try {
      const res = await bare.inject('/');
      assert.equal(res.statusCode, 503);
      assert.match(res.body, /npm run build/);
      assert.equal((await bare.inject('/v1/streams')).statusCode, 200, 'the API works without the console');
    } finally {
      await bare.close();
      await empty.cleanup();
    }
  });
});
