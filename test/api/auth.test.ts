/**
 * API keys and scopes over every route (no key, unknown key, wrong scope, right key), the
 * start-up exposure rule, and rate limiting reached and recovered.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { checkExposure, createKey, isLoopback, KeyStore, parseKeys } from '../../src/api/auth.js';
import { toPath } from '../../src/api/openapi.js';
import { parseConfig } from '../../src/core/config.js';
import { isTributaryError } from '../../src/core/errors.js';
import { join } from 'node:path';
import { buildApp } from '../../src/api/app.js';
import { createEmbeddedRuntime } from '../../src/runtime.js';
import { publish, startTestServer, streamsDir, tempDir } from '../helpers.js';
import { type EngineServer, forEachEngine, itSentBoundedQueries, startEngineServer } from './engines.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;

const admin = createKey('admin', ['admin']);
const reader = createKey('reader', ['read:sensor_readings']);
const writer = createKey('writer', ['write:sensor_readings']);
const other = createKey('other', ['read:lenient_events', 'write:*']);
const KEYS = JSON.stringify({ keys: [admin.entry, reader.entry, writer.entry, other.entry] });

type Scope = 'public' | 'any' | 'read' | 'write' | 'admin';
/** Every route, with a concrete request and who may call it. */
const ROUTES: { method: string; path: string; url: string; scope: Scope; body?: unknown; ok: number }[] = [
  { method: 'GET', path: '/healthz', url: '/healthz', scope: 'public', ok: 200 },
  { method: 'GET', path: '/readyz', url: '/readyz', scope: 'public', ok: 200 },
  { method: 'GET', path: '/openapi.json', url: '/openapi.json', scope: 'public', ok: 200 },
  { method: 'GET', path: '/docs', url: '/docs', scope: 'public', ok: 200 },
  { method: 'GET', path: '/docs/docs.js', url: '/docs/docs.js', scope: 'public', ok: 200 },
  { method: 'GET', path: '/docs/docs.css', url: '/docs/docs.css', scope: 'public', ok: 200 },
  { method: 'GET', path: '/metrics', url: '/metrics', scope: 'admin', ok: 200 },
  // The web console's page and assets hold no data: public (its API calls carry the user's key).
  { method: 'GET', path: '/', url: '/', scope: 'public', ok: 200 },
  { method: 'GET', path: '/assets/{file}', url: '/assets/none.js', scope: 'public', ok: 404 },
  { method: 'GET', path: '/v1/streams', url: '/v1/streams', scope: 'any', ok: 200 },
  { method: 'GET', path: '/v1/streams/{stream}', url: '/v1/streams/sensor_readings', scope: 'read', ok: 200 },
  { method: 'GET', path: '/v1/streams/{stream}/schema', url: '/v1/streams/sensor_readings/schema', scope: 'read', ok: 200 },
  { method: 'GET', path: '/v1/streams/{stream}/rows', url: '/v1/streams/sensor_readings/rows', scope: 'read', ok: 200 },
  { method: 'GET', path: '/v1/streams/{stream}/rows/{messageId}', url: '/v1/streams/sensor_readings/rows/a-1', scope: 'read', ok: 200 },
  { method: 'GET', path: '/v1/streams/{stream}/aggregate', url: '/v1/streams/sensor_readings/aggregate', scope: 'read', ok: 200 },
  { method: 'GET', path: '/v1/streams/{stream}/stats', url: '/v1/streams/sensor_readings/stats', scope: 'read', ok: 200 },
  { method: 'GET', path: '/v1/streams/{stream}/dead-letters', url: '/v1/streams/sensor_readings/dead-letters', scope: 'read', ok: 200 },
  { method: 'GET', path: '/v1/streams/{stream}/dead-letters/{messageId}', url: '/v1/streams/sensor_readings/dead-letters/a-bad', scope: 'read', ok: 200 },
  { method: 'POST', path: '/v1/streams/{stream}/dead-letters/{messageId}/replay', url: '/v1/streams/sensor_readings/dead-letters/a-bad/replay', scope: 'admin', ok: 200 },
  { method: 'POST', path: '/v1/streams/{stream}/dead-letters/replay', url: '/v1/streams/sensor_readings/dead-letters/replay', scope: 'admin', body: { reason: 'INVALID_JSON' }, ok: 200 },
  { method: 'POST', path: '/v1/streams/{stream}/messages', url: '/v1/streams/sensor_readings/messages', scope: 'write', body: { device_id: 'x', seq: 1, measured_at: '2026-11-24T10:00:00Z' }, ok: 200 },
];
const RIGHT: Record<Exclude<Scope, 'public'>, string> = { any: other.token, read: reader.token, write: writer.token, admin: admin.token };
const WRONG: Record<Exclude<Scope, 'public'>, string | undefined> = { any: undefined, read: writer.token, write: reader.token, admin: reader.token };

forEachEngine('authentication and authorisation', (engine) => {
  let server: EngineServer;
  before(async () => {
    server = await startEngineServer(engine, ['--api-keys', KEYS]);
    const body = { messages: [
      { data: Buffer.from(JSON.stringify({ device_id: 'a', seq: 1, measured_at: '2026-11-24T10:00:00Z' })).toString('base64'), messageId: 'a-1' },
      { data: Buffer.from('{oops').toString('base64'), messageId: 'a-bad' },
    ] };
    const res = await fetch(`${server.url}/v1/streams/sensor_readings/messages`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${writer.token}` }, body: JSON.stringify(body) });
    assert.equal(res.status, 200);
  });
  after(async () => {
    await server.stop();
  });

  const call = (r: (typeof ROUTES)[number], token?: string) =>
    fetch(server.url + r.url, {
      method: r.method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(r.body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(r.body !== undefined ? { body: JSON.stringify(r.body) } : r.method === 'POST' ? { body: '{}', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) } } : {}),
    });

  it('the matrix covers every route of the app', () => {
    const routes = server.app.routeTable.filter((r) => !r.startsWith('HEAD ')).map((r) => { const [m, u] = r.split(' '); return `${m} ${toPath(u!)}`; });
    assert.deepEqual([...routes].sort(), ROUTES.map((r) => `${r.method} ${r.path}`).sort());
  });

  for (const r of ROUTES) {
    it(`${r.method} ${r.path} (${r.scope})`, async () => {
      const none = await call(r);
      if (r.scope === 'public') {
        assert.equal(none.status, r.ok);
        return;
      }
      assert.equal(none.status, 401);
      assert.equal(((await none.json()) as { error: { code: string } }).error.code, 'UNAUTHENTICATED');
      assert.match(none.headers.get('www-authenticate')!, /Bearer/);
      const forged = `${reader.token.slice(0, -4)}AAAA`;
      for (const bad of ['nope', forged, `trb_ghost_${'x'.repeat(43)}`]) {
        const res = await call(r, bad);
        assert.equal(res.status, 401, bad);
      }
      const wrong = WRONG[r.scope];
      if (wrong) {
        const res = await call(r, wrong);
        assert.equal(res.status, 403);
        assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'FORBIDDEN');
      }
      const right = await call(r, RIGHT[r.scope]);
      assert.equal(right.status, r.ok, await right.clone().text());
      if (r.scope !== 'admin') {
        const asAdmin = await call(r, admin.token);
        assert.ok(asAdmin.status < 400 || asAdmin.status === 404, `admin may call ${r.path}: ${asAdmin.status}`);
      }
    });
  }

  it('lists only the streams a key may read, and X-API-Key works too', async () => {
    const res = await fetch(`${server.url}/v1/streams`, { headers: { 'x-api-key': other.token } });
    const names = ((await res.json()) as { streams: { name: string }[] }).streams.map((s) => s.name);
    assert.deepEqual(names, ['lenient_events']);
    const forbidden = await fetch(`${server.url}/v1/streams/sensor_readings/rows`, { headers: { 'x-api-key': other.token } });
    assert.equal(forbidden.status, 403);
  });

  it('stores and checks only hashes; rejects bad key files at start-up', () => {
    // The secret is the token's last 43 characters (32 random bytes, base64url, which may itself hold `_`).
    assert.ok(!KEYS.includes(reader.token.slice(-43)), 'the keys JSON holds no secret');
    assert.ok(!KEYS.includes(reader.token), 'the keys JSON holds no token');
    const store = new KeyStore(parseKeys(KEYS, 'test'));
    assert.equal(store.authenticate(reader.token)?.keyId, 'reader');
    assert.equal(store.authenticate(reader.token + 'x'), null);
    assert.equal(store.authenticate(undefined), undefined);
    for (const bad of ['{', '{"keys": [{"id": "x", "sha256": "00", "scopes": ["read:*"]}]}', '{"keys": [{"id": "x", "sha256": "' + '0'.repeat(64) + '", "scopes": ["root"]}]}']) {
      assert.throws(() => parseKeys(bad, 'test'), (e: unknown) => isTributaryError(e, 'INVALID_CONFIG'));
    }
  });

  it('refuses to serve open on a non-loopback address unless allowed', async () => {
    const cfg = (flags: string[]) => parseConfig(flags, {}).config;
    assert.throws(() => checkExposure(cfg(['--host', '0.0.0.0']), []), (e: unknown) => isTributaryError(e, 'INVALID_CONFIG'));
    assert.doesNotThrow(() => checkExposure(cfg(['--host', '0.0.0.0', '--allow-unauthenticated', 'true']), []));
    assert.doesNotThrow(() => checkExposure(cfg(['--host', '0.0.0.0']), parseKeys(KEYS, 'test')));
    assert.doesNotThrow(() => checkExposure(cfg([]), []));
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost']) assert.ok(isLoopback(h), h);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.1']) assert.ok(!isLoopback(h), h);
    // The real start-up path refuses before opening anything.
    await assert.rejects(startEngineServer(engine, ['--host', '0.0.0.0']), (e: unknown) => isTributaryError(e, 'INVALID_CONFIG'));
  });

  itSentBoundedQueries(engine, () => server);
});

describe('rate limiting', () => {
  it('is on by default when the server binds a non-loopback address, off on loopback', async () => {
    const { dir, cleanup } = await tempDir();
    const streams = await streamsDir(dir);
    try {
      for (const [host, expected] of [['127.0.0.1', null], ['0.0.0.0', '1200;w=60']] as const) {
        const config = parseConfig(['--host', host, '--allow-unauthenticated', 'true', '--data-dir', join(dir, host), '--streams-dir', streams, '--log-level', 'silent'], {}).config;
        const runtime = await createEmbeddedRuntime(config);
        try {
          const app = await buildApp({ ...runtime, logger: false });
          const res = await app.inject({ url: '/v1/streams' });
          assert.equal(res.statusCode, 200);
          assert.equal(res.headers['ratelimit-policy'] ?? null, expected, host);
          await app.close();
        } finally {
          await runtime.close();
        }
      }
    } finally {
      await cleanup();
    }
  });

  let server: Server;
  before(async () => {
    server = await startTestServer(['--rate-limit-requests', '3', '--rate-limit-window-seconds', '1']);
  });
  after(async () => {
    await server.stop();
  });

  it('answers 429 with Retry-After once the limit is reached, and recovers after the window', async () => {
    const url = `${server.url}/v1/streams`;
    // Align to the start of a window so the three requests fall into one.
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 20));
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await fetch(url);
      assert.equal(res.status, 200);
      remaining.push(/remaining=(\d+)/.exec(res.headers.get('ratelimit')!)![1]!);
      assert.equal(res.headers.get('ratelimit-policy'), '3;w=1');
    }
    assert.deepEqual(remaining, ['2', '1', '0']);
    const limited = await fetch(url);
    assert.equal(limited.status, 429);
    assert.equal(((await limited.json()) as { error: { code: string } }).error.code, 'RATE_LIMITED');
    const wait = Number(limited.headers.get('retry-after'));
    assert.ok(wait >= 1 && wait <= 1, `Retry-After ${wait}`);
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200, 'health checks are not limited');
    await new Promise((r) => setTimeout(r, wait * 1000 + 50));
    const again = await fetch(url);
    assert.equal(again.status, 200, 'recovered after Retry-After');
    const pub = await publish(server.url, 'lenient_events', [{ data: { kind: 'x' } }]);
    assert.equal(pub.status, 200);
  });
});
