/** The OpenAPI document describes every route, and real responses match its schemas. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { toPath } from '../../src/api/openapi.js';
import { parseConfig } from '../../src/core/config.js';
import { isTributaryError, type TributaryError } from '../../src/core/errors.js';
import { getJson, publish, reading } from '../helpers.js';
import { type EngineServer, forEachEngine, itSentBoundedQueries, startEngineServer } from './engines.js';

type Server = EngineServer;
type Doc = { openapi: string; paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>> };
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

forEachEngine('OpenAPI', (engine) => {
  let server: Server;
  let doc: Doc;
  let ajv: Ajv;
  before(async () => {
    server = await startEngineServer(engine);
    await publish(server.url, 'sensor_readings', [
      { data: reading(1), messageId: 'o-1', attributes: { a: 'b' } },
      { data: reading(2, { location: { site: 'x', lat: 1, lon: 2 }, tags: ['t'] }), messageId: 'o-2' },
      { data: '{bad', messageId: 'o-bad' },
    ]);
    doc = (await getJson(`${server.url}/openapi.json`)).body as Doc;
    ajv = addFormats(new Ajv({ strict: false, allErrors: true }));
    ajv.addSchema(doc, 'openapi.json');
  });
  after(async () => {
    await server.stop();
  });

  it('is OpenAPI 3.1 and describes every route', () => {
    assert.equal(doc.openapi, '3.1.0');
    for (const r of server.app.routeTable) {
      const [method, url] = r.split(' ') as [string, string];
      if (method === 'HEAD') continue;
      assert.ok(doc.paths[toPath(url)]?.[method.toLowerCase()], `${method} ${toPath(url)} is described`);
    }
  });

  it('carries the route conventions: request types, formats, scopes, rate limits, operation ids', () => {
    type Op = { operationId: string; description: string; security?: unknown; parameters?: { in: string; name: string }[]; requestBody?: { content: Record<string, { schema: { type?: string } }> }; responses: Record<string, { description: string; content?: Record<string, unknown> }> };
    const op = (path: string, method: string) => doc.paths[path]![method] as unknown as Op;
    const publishOp = op('/v1/streams/{stream}/messages', 'post');
    assert.deepEqual(Object.keys(publishOp.requestBody!.content), ['application/json', 'application/x-ndjson'], 'x-body: one schema per request type');
    assert.equal(publishOp.requestBody!.content['application/x-ndjson']!.schema.type, 'string');
    assert.equal(publishOp.operationId, 'postV1StreamsStreamMessages');
    assert.match(publishOp.description, /Needs `write:<stream>`/);
    assert.deepEqual(publishOp.security, [{ apiKey: [] }, {}]);
    for (const code of ['401', '403', '429', '4XX', '5XX']) assert.ok(publishOp.responses[code], `publish documents ${code}`);
    const rows = op('/v1/streams/{stream}/rows', 'get');
    assert.deepEqual(Object.keys(rows.responses['200']!.content!), ['application/json', 'application/x-ndjson', 'text/csv'], 'formats: JSON, NDJSON, CSV');
    assert.equal(rows.responses['200']!.description, 'OK');
    assert.equal(rows.parameters![0]!.in, 'path', 'path parameters first');
    const health = op('/healthz', 'get');
    assert.equal(health.security, undefined, 'a public route needs no key');
    assert.equal(health.responses['401'], undefined);
    assert.ok(health.responses['429']);
    assert.equal(op('/v1/streams/{stream}/schema', 'get').responses['200']!.content, undefined, 'no body schema, no content');
    assert.equal(op('/v1/streams/sensor_readings/rows', 'get').operationId, 'getV1StreamsStreamRows_sensor_readings');
  });

  const pointer = (path: string, method: string, status: string) =>
    `openapi.json#/paths/${path.replaceAll('~', '~0').replaceAll('/', '~1')}/${method}/responses/${status}/content/application~1json/schema`;

  const CASES: [string, string, string, unknown?][] = [
    ['get', '/healthz', '/healthz'],
    ['get', '/readyz', '/readyz'],
    ['get', '/v1/streams', '/v1/streams'],
    ['get', '/v1/streams/{stream}', '/v1/streams/sensor_readings'],
    ['get', '/v1/streams/{stream}', '/v1/streams/nope'],
    ['get', '/v1/streams/{stream}/rows', '/v1/streams/sensor_readings/rows?limit=1'],
    ['get', '/v1/streams/{stream}/rows', '/v1/streams/sensor_readings/rows?seq=x'],
    ['get', '/v1/streams/{stream}/rows/{messageId}', '/v1/streams/sensor_readings/rows/o-2'],
    ['get', '/v1/streams/{stream}/rows/{messageId}', '/v1/streams/sensor_readings/rows/none'],
    ['get', '/v1/streams/{stream}/aggregate', '/v1/streams/sensor_readings/aggregate?interval=1h&group_by=device_id&metric=count,avg:temperature_c'],
    ['get', '/v1/streams/{stream}/stats', '/v1/streams/sensor_readings/stats'],
    ['get', '/v1/streams/{stream}/dead-letters', '/v1/streams/sensor_readings/dead-letters'],
    ['get', '/v1/streams/{stream}/dead-letters/{messageId}', '/v1/streams/sensor_readings/dead-letters/o-bad'],
    ['post', '/v1/streams/{stream}/dead-letters/{messageId}/replay', '/v1/streams/sensor_readings/dead-letters/o-bad/replay', {}],
    ['post', '/v1/streams/{stream}/dead-letters/replay', '/v1/streams/sensor_readings/dead-letters/replay', { reason: 'INVALID_JSON' }],
    ['post', '/v1/streams/{stream}/dead-letters/replay', '/v1/streams/sensor_readings/dead-letters/replay', { nope: 1 }],
    ['post', '/v1/streams/{stream}/messages', '/v1/streams/sensor_readings/messages', reading(3)],
    ['get', '/v1/streams/sensor_readings/rows', '/v1/streams/sensor_readings/rows?limit=10'],
    ['get', '/v1/streams/sensor_readings/rows', '/v1/streams/sensor_readings/rows?fields=seq,tags'],
    ['get', '/v1/streams/sensor_readings/rows/{messageId}', '/v1/streams/sensor_readings/rows/o-2'],
    ['get', '/v1/streams/lenient_events/rows', '/v1/streams/lenient_events/rows'],
  ];

  it('derives each stream\'s row schema from its definition, strictly', async () => {
    const validate = ajv.compile({ $ref: 'openapi.json#/components/schemas/Row_sensor_readings' });
    const row = (await getJson(`${server.url}/v1/streams/sensor_readings/rows/o-2`)).body as Record<string, unknown>;
    assert.ok(validate(row), JSON.stringify(validate.errors));
    for (const bad of [{ seq: 2 }, { temperature_c: '20' }, { location: { site: 1 } }, { tags: null }, { colour: 'red' }, { measured_at: null }]) {
      assert.equal(validate({ ...row, ...bad }), false, JSON.stringify(bad));
    }
  });

  for (const [method, path, url, body] of CASES) {
    it(`${method.toUpperCase()} ${url} matches its response schema`, async () => {
      const res = await fetch(server.url + url, { method: method.toUpperCase(), ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}) });
      const status = String(res.status);
      const json: unknown = await res.json();
      const responses = doc.paths[path]![method]!.responses;
      const key = responses[status] ? status : `${status[0]}XX`;
      assert.ok(responses[key], `status ${status} of ${url} is documented`);
      const validate = ajv.getSchema(pointer(path, method, key)) ?? ajv.compile({ $ref: pointer(path, method, key) });
      assert.ok(validate(json), `${url} (${status}): ${JSON.stringify(validate.errors)}\n${JSON.stringify(json).slice(0, 500)}`);
    });
  }

  it('serves the docs page with its own assets only', async () => {
    const html = await (await fetch(`${server.url}/docs`)).text();
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    assert.ok(refs.length >= 2);
    for (const ref of refs) {
      assert.ok(ref.startsWith('/'), `${ref} is served by the app`);
      assert.equal((await fetch(server.url + ref)).status, 200, ref);
    }
  });

  it('exposes Prometheus metrics for requests and ingest', async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(text, /^tributary_http_requests_total\{method="GET",route="\/v1\/streams\/:stream",status="200"\} \d+$/m);
    assert.match(text, /^tributary_ingest_messages_total\{stream="sensor_readings",outcome="stored"\} [1-9]/m);
    assert.match(text, /^tributary_ingest_dead_letters_total\{stream="sensor_readings",reason="INVALID_JSON"\} [1-9]/m);
    // Label order is not meaningful in the exposition format (prom-client writes le first).
    assert.match(text, /^tributary_http_request_duration_seconds_bucket\{(.*,)?le="\+Inf"(,.*)?\} \d+$/m);
    assert.match(text, /^tributary_ingest_freshness_seconds_count\{stream="sensor_readings"\} [1-9]/m);
    if (engine !== 'duckdb') {
      assert.doesNotMatch(text, /tributary_rollup_|tributary_duckdb_/, 'DuckDB internals only on DuckDB');
      return;
    }
    // The DuckDB rollups' state (the failure path is in test/warehouse/rollup.test.ts).
    assert.match(text, /^tributary_rollup_failing\{stream="sensor_readings"\} 0$/m);
    assert.match(text, /^tributary_rollup_fold_failures_total\{stream="sensor_readings"\} 0$/m);
    assert.match(text, /^tributary_rollup_lag_seconds\{stream="sensor_readings"\} [0-9.e-]+$/m);
    assert.match(text, /^tributary_aggregate_queries_total\{path="rollup"\} \d+$/m);
    assert.match(text, /^# TYPE tributary_rollup_failing gauge$/m);
    // The message_id indexes and the memory limit they raise (test/warehouse/memory.test.ts):
    // the default 192MB, not raised by the few rows of this test.
    assert.match(text, /^tributary_duckdb_index_bytes \d+$/m);
    assert.match(text, /^tributary_duckdb_memory_limit_bytes 192000000$/m);
    assert.match(text, /^tributary_duckdb_memory_limit_configured_bytes 192000000$/m);
    // Its cache of table blocks, trimmed back to --duckdb-cache-limit (test/warehouse/memory.test.ts).
    assert.match(text, /^tributary_duckdb_cache_bytes \d+$/m);
    assert.match(text, /^tributary_duckdb_cache_trims_total 0$/m);
  });

  itSentBoundedQueries(engine, () => server);
});

describe('bounded work and logs', () => {
  it('stops a query that runs past the timeout with QUERY_TIMEOUT', async () => {
    const { DuckDBWarehouse } = await import('../../src/warehouse/duckdb/index.js');
    const w = await DuckDBWarehouse.open({ path: ':memory:', queryTimeoutMs: 50 });
    try {
      // A cross join no machine finishes in 50 ms; interrupted, not awaited to the end.
      await assert.rejects(w.readForTest('SELECT count(*) FROM range(1000000000) a, range(1000000000) b'), (e: unknown) => isTributaryError(e, 'QUERY_TIMEOUT') && (e as TributaryError).status === 504);
      assert.deepEqual(await w.readForTest('SELECT 42'), [[42]], 'the connection works after the interrupt');
    } finally {
      await w.close();
    }
  });

  it('writes JSON log lines with Cloud Logging severity and message', async () => {
    const { loggerOptions } = await import('../../src/api/logging.js');
    const { Writable } = await import('node:stream');
    const lines: string[] = [];
    const stream = new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } });
    const { default: Fastify } = await import('fastify');
    const app = Fastify({ logger: { ...loggerOptions(parseConfig(['--log-level', 'info'], {}).config), stream } });
    app.log.warn({ stream: 's' }, 'careful');
    app.log.error('broken');
    await app.close();
    const [warn, error] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(warn!.severity, 'WARNING');
    assert.equal(warn!.message, 'careful');
    assert.match(String(warn!.time), /^\d{4}-\d\d-\d\dT/);
    assert.equal(error!.severity, 'ERROR');
  });

  it('puts the request id and the Cloud trace on every log line of a request', async () => {
    const { buildApp } = await import('../../src/api/app.js');
    const { loggerOptions } = await import('../../src/api/logging.js');
    const { createEmbeddedRuntime } = await import('../../src/runtime.js');
    const { tempDir, testConfig } = await import('../helpers.js');
    const { Writable } = await import('node:stream');
    const lines: Record<string, unknown>[] = [];
    const stream = new Writable({ write(chunk, _enc, done) { lines.push(JSON.parse(String(chunk)) as Record<string, unknown>); done(); } });
    const { dir, cleanup } = await tempDir();
    const config = await testConfig(dir, ['--trace-project', 'my-proj']);
    const runtime = await createEmbeddedRuntime(config);
    try {
      const app = await buildApp({ ...runtime, logger: { ...loggerOptions({ ...config, logLevel: 'info' }), stream } });
      const res = await app.inject({ url: '/v1/streams/nope', headers: { 'x-cloud-trace-context': '0123456789abcdef0123456789abcdef/1;o=1', 'x-request-id': 'req-1' } });
      assert.equal(res.statusCode, 404);
      await app.close();
    } finally {
      await runtime.close();
      await cleanup();
    }
    const mine = lines.filter((l) => l.reqId === 'req-1');
    assert.ok(mine.length >= 2, JSON.stringify(lines));
    for (const l of mine) assert.equal(l['logging.googleapis.com/trace'], 'projects/my-proj/traces/0123456789abcdef0123456789abcdef');
    assert.ok(mine.every((l) => l.severity === 'INFO'));
  });
});
