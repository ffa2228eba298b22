/**
 * The Cloud Function through the real Functions Framework server (its getTestServer builds the
 * same Express app `functions-framework` runs), both entry points: the CloudEvent function (a
 * table of real Pub/Sub payloads: CloudEvent binary and structured, legacy push) and the push
 * (HTTP) function; poison messages, redelivery, a transient warehouse failure, error answers and
 * concurrent deliveries coalesced into one write.
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { type Warehouse, WarehouseError } from '../../src/core/ports.js';
import { decodePubSubMessage } from '../../src/core/pubsub-wire.js';
import { parseStreamDefinition, StreamRegistry } from '../../src/core/schema.js';
import { registerIngestFunction, registerPushFunction } from '../../src/ingest/function.js';
import { type BatchReport, Ingest } from '../../src/ingest/ingest.js';
import { resolveStream } from '../../src/ingest/resolve-stream.js';
import { DuckDBWarehouse } from '../../src/warehouse/duckdb/index.js';
import { LENIENT_STREAM, reading, ROOT } from '../helpers.js';
import { binaryCloudEvent, legacyPush, send, sendForBody, structuredCloudEvent } from '../pubsub-payloads.js';
import { getRow, queryDeadLetters, queryRows } from '../warehouse/api-form.js';

const sensor = parseStreamDefinition(JSON.parse(await readFile(join(ROOT, 'streams', 'sensor_readings.json'), 'utf8')), 'sensor_readings.json');
const lenient = parseStreamDefinition(LENIENT_STREAM, 'lenient_events.json');
const registry = new StreamRegistry([sensor, lenient]);
const P = 'proj';
const SENSOR_TOPIC = 'trib-sensor_readings';

/** Wraps a warehouse: counts writes and can fail them transiently on demand. */
function flaky(inner: Warehouse) {
  const state = { failing: false, writes: 0 };
  const w: Warehouse = Object.create(inner) as Warehouse;
  w.write = async (stream, batch) => {
    state.writes++;
    if (state.failing) throw new WarehouseError('simulated outage', true);
    return inner.write(stream, batch);
  };
  return { w, state };
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  return `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
}

async function closeServer(server: Server | undefined): Promise<void> {
  if (!server) return;
  server.closeAllConnections?.();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

describe('Cloud Function (Functions Framework server)', () => {
  let duck: DuckDBWarehouse;
  let server: Server;
  let pushServer: Server;
  let url: string;
  let pushUrl: string;
  let state: { failing: boolean; writes: number };
  const batches: BatchReport[] = [];
  const logs: Record<string, unknown>[] = [];

  before(async () => {
    duck = await DuckDBWarehouse.open({ path: ':memory:', threads: 1 });
    await duck.init(registry.all());
    const f = flaky(duck);
    state = f.state;
    const ingest = new Ingest({ warehouse: f.w, options: { batchMaxRows: 1000, batchLingerMs: 25, maxMessageBytes: 1024 * 1024, writeRetryMs: 100 }, onBatch: (r) => batches.push(r) });
    const deps = async () => ({ registry, ingest, topicPrefix: 'trib-', log: (e: Record<string, unknown>) => logs.push(e) });
    registerIngestFunction('testIngest', deps);
    registerPushFunction('testIngestPush', deps);
    server = getTestServer('testIngest');
    pushServer = getTestServer('testIngestPush');
    url = await listen(server);
    pushUrl = await listen(pushServer);
  });
  after(async () => {
    await closeServer(server);
    await closeServer(pushServer);
    await duck.close();
  });

  it('stores messages from every wire format and answers 2xx once stored', async () => {
    const cases = [
      { name: 'structured CloudEvent', req: structuredCloudEvent(P, SENSOR_TOPIC, { id: 'ce-s-1', data: reading(1, { device_id: 'fn' }), attributes: { k: 'v' }, orderingKey: 'dev-1', publishTime: '2026-11-24T10:00:00.123456789Z' }), stream: sensor },
      { name: 'binary CloudEvent', req: binaryCloudEvent(P, SENSOR_TOPIC, { id: 'ce-b-1', data: reading(2, { device_id: 'fn' }) }), stream: sensor },
      { name: 'legacy push body', req: legacyPush(P, 'trib-lenient_events', { id: 'push-1', data: { kind: 'legacy' }, attributes: { via: 'push' } }), stream: lenient },
    ];
    for (const c of cases) {
      const status = await send(url, c.req);
      assert.ok(status >= 200 && status < 300, `${c.name}: status ${status}`);
    }
    const s = await getRow(duck, sensor, 'ce-s-1');
    assert.equal(s?.device_id, 'fn');
    assert.deepEqual(s?.attributes, { k: 'v' });
    assert.equal(s?.ordering_key, 'dev-1');
    assert.equal(s?.publish_time, '2026-11-24T10:00:00.123456Z');
    assert.equal((await getRow(duck, sensor, 'ce-b-1'))?.seq, '2');
    const legacy = await getRow(duck, lenient, 'push-1');
    assert.equal(legacy?.kind, 'legacy');
    assert.deepEqual(legacy?.attributes, { via: 'push' });
  });

  it('dead-letters poison messages and acknowledges them', async () => {
    const poison = [
      structuredCloudEvent(P, SENSOR_TOPIC, { id: 'poison-json', data: Buffer.from('{"device_id": ') }),
      binaryCloudEvent(P, SENSOR_TOPIC, { id: 'poison-b64', rawData: '***not base64***' }),
      binaryCloudEvent(P, SENSOR_TOPIC, { id: 'poison-schema', data: { device_id: 'x' } }),
      binaryCloudEvent(P, SENSOR_TOPIC, { id: 'poison-empty' }),
    ];
    for (const req of poison) assert.equal(await send(url, req), 204);
    const dl = await queryDeadLetters(duck, sensor, { limit: 100 });
    const reasons = Object.fromEntries(dl.map((d) => [d.message_id, d.reason]));
    assert.equal(reasons['poison-json'], 'INVALID_JSON');
    assert.equal(reasons['poison-b64'], 'INVALID_ENCODING');
    assert.equal(reasons['poison-schema'], 'SCHEMA_VIOLATION');
    assert.equal(reasons['poison-empty'], 'INVALID_JSON');
  });

  it('acknowledges a redelivery and keeps one row', async () => {
    const req = binaryCloudEvent(P, SENSOR_TOPIC, { id: 'redeliver-1', data: reading(3, { device_id: 'redeliver' }) });
    assert.equal(await send(url, req), 204);
    assert.equal(await send(url, req), 204);
    const rows = await queryRows(duck, sensor, { filters: [{ chain: [sensor.fields[0]!], op: 'eq', value: 'redeliver' }], order: 'desc', limit: 10 });
    assert.equal(rows.length, 1);
  });

  it('answers an error status (so Pub/Sub redelivers) on a transient failure, and stores the redelivery', async () => {
    const req = binaryCloudEvent(P, SENSOR_TOPIC, { id: 'outage-1', data: reading(4, { device_id: 'outage' }) });
    state.failing = true;
    const failed = await send(url, req);
    state.failing = false;
    assert.ok(failed >= 500, `status ${failed}`);
    assert.equal(await getRow(duck, sensor, 'outage-1'), undefined, 'nothing stored while failing');
    assert.equal(await send(url, req), 204);
    assert.equal((await getRow(duck, sensor, 'outage-1'))?.device_id, 'outage');
  });

  it('refuses (error status) events that are not Pub/Sub messages or name no stream', async () => {
    const noId = { path: '/', headers: { 'content-type': 'application/cloudevents+json' }, body: JSON.stringify({ specversion: '1.0', id: 'x', source: `//pubsub.googleapis.com/projects/${P}/topics/${SENSOR_TOPIC}`, type: 'google.cloud.pubsub.topic.v1.messagePublished', data: { message: { data: 'e30=' } } }) };
    assert.equal(await send(url, noId), 500);
    const unknownTopic = binaryCloudEvent(P, 'other-topic', { id: 'u-1', data: { kind: 'x' } }, `projects/${P}/subscriptions/other`);
    assert.equal(await send(url, unknownTopic), 500);
  });

  it('coalesces concurrent deliveries into one warehouse write', async (t) => {
    const before = state.writes;
    const n = 30;
    const statuses = await Promise.all(Array.from({ length: n }, (_, i) => send(url, binaryCloudEvent(P, SENSOR_TOPIC, { id: `conc-${i}`, data: reading(i, { device_id: 'conc' }) }))));
    assert.deepEqual(new Set(statuses), new Set([204]));
    const writes = state.writes - before;
    t.diagnostic(`${n} concurrent deliveries were written in ${writes} warehouse write(s)`);
    assert.ok(writes < n / 3, `${n} deliveries took ${writes} writes`);
    assert.ok(Math.max(...batches.map((b) => b.messages)) >= 5, 'a batch carried several deliveries');
    const rows = await queryRows(duck, sensor, { filters: [{ chain: [sensor.fields[0]!], op: 'eq', value: 'conc' }], order: 'desc', limit: 100 });
    assert.equal(rows.length, n);
  });
  it('logs one entry per committed message for the freshness SLO and the dead-letter alert', async () => {
    logs.length = 0;
    const publishTime = new Date(Date.now() - 1500).toISOString();
    assert.equal(await send(url, structuredCloudEvent(P, SENSOR_TOPIC, { id: 'log-ok', data: reading(1, { device_id: 'log' }), publishTime })), 204);
    assert.equal(await send(url, structuredCloudEvent(P, SENSOR_TOPIC, { id: 'log-bad', data: { device_id: 'log' } })), 204);
    const stored = logs.find((e) => e.message_id === 'log-ok');
    assert.equal(stored?.event, 'message_stored');
    assert.equal(stored?.severity, 'INFO');
    assert.equal(stored?.stream, 'sensor_readings');
    assert.ok((stored?.freshness_ms as number) >= 1500 && (stored?.freshness_ms as number) < 60_000, `freshness_ms ${String(stored?.freshness_ms)}`);
    const dead = logs.find((e) => e.message_id === 'log-bad');
    assert.equal(dead?.event, 'message_dead_lettered');
    assert.equal(dead?.reason, 'SCHEMA_VIOLATION');
    assert.equal(dead?.severity, 'WARNING');
  });

  describe('push entry point (HTTP function)', () => {
    it('stores a push body with every field, where the CloudEvent conversion drops the ordering key', async () => {
      const m = { data: reading(10, { device_id: 'push' }), attributes: { via: 'push' }, orderingKey: 'dev-push', publishTime: '2026-11-24T10:00:00.5Z' };
      const r = await sendForBody(pushUrl, legacyPush(P, SENSOR_TOPIC, { id: 'push-ok', ...m }, `projects/${P}/subscriptions/trib-sensor-readings-ingest`, 1));
      assert.deepEqual(r, { status: 204, body: undefined });
      const row = await getRow(duck, sensor, 'push-ok');
      assert.equal(row?.device_id, 'push');
      assert.equal(row?.ordering_key, 'dev-push');
      assert.deepEqual(row?.attributes, { via: 'push' });
      assert.equal(row?.publish_time, '2026-11-24T10:00:00.500000Z');
      // The same body through the CloudEvent function: the Functions Framework's conversion of a
      // push body keeps data and attributes only (why push deliveries use the HTTP function).
      assert.equal(await send(url, legacyPush(P, SENSOR_TOPIC, { id: 'push-via-ce', ...m })), 204);
      assert.equal((await getRow(duck, sensor, 'push-via-ce'))?.ordering_key, null);
    });

    it('dead-letters a message without data and acknowledges it', async () => {
      assert.equal(await send(pushUrl, legacyPush(P, SENSOR_TOPIC, { id: 'push-empty' })), 204);
      const [dl] = (await queryDeadLetters(duck, sensor, { limit: 100 })).filter((d) => d.message_id === 'push-empty');
      assert.equal(dl?.reason, 'INVALID_JSON');
    });

    it('acknowledges a redelivery and keeps one row, and coalesces concurrent pushes', async () => {
      const req = legacyPush(P, SENSOR_TOPIC, { id: 'push-again', data: reading(11, { device_id: 'push-again' }) });
      assert.equal(await send(pushUrl, req), 204);
      assert.equal(await send(pushUrl, req), 204);
      const before = state.writes;
      const n = 30;
      const statuses = await Promise.all(Array.from({ length: n }, (_, i) => send(pushUrl, legacyPush(P, SENSOR_TOPIC, { id: `push-conc-${i}`, data: reading(i, { device_id: 'push-again' }) }))));
      assert.deepEqual(new Set(statuses), new Set([204]));
      assert.ok(state.writes - before < n / 3, `${n} pushes took ${state.writes - before} writes`);
      const rows = await queryRows(duck, sensor, { filters: [{ chain: [sensor.fields[0]!], op: 'eq', value: 'push-again' }], order: 'desc', limit: 100 });
      assert.equal(rows.length, n + 1);
    });

    it('answers 503 WAREHOUSE_UNAVAILABLE on a transient failure (Pub/Sub redelivers) and stores the redelivery', async () => {
      const req = legacyPush(P, SENSOR_TOPIC, { id: 'push-outage', data: reading(12, { device_id: 'push-outage' }) });
      state.failing = true;
      const failed = await sendForBody(pushUrl, req);
      state.failing = false;
      assert.equal(failed.status, 503);
      assert.equal((failed.body as { error: { code: string } }).error.code, 'WAREHOUSE_UNAVAILABLE');
      assert.equal(await getRow(duck, sensor, 'push-outage'), undefined, 'nothing stored while failing');
      assert.equal(await send(pushUrl, req), 204);
      assert.equal((await getRow(duck, sensor, 'push-outage'))?.device_id, 'push-outage');
    });

    it('answers stable error codes to requests that are not push deliveries of a known stream', async () => {
      const cases: { req: Parameters<typeof sendForBody>[1]; status: number; code: string }[] = [
        { req: { path: `/projects/${P}/topics/${SENSOR_TOPIC}`, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ hello: 'world' }) }, status: 400, code: 'INVALID_REQUEST' },
        { req: { path: '/', headers: { 'content-type': 'text/plain' }, body: 'not json' }, status: 400, code: 'INVALID_REQUEST' },
        { req: { path: '/', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: { data: 'e30=' } }) }, status: 400, code: 'INVALID_REQUEST' },
        { req: legacyPush(P, 'other-topic', { id: 'u-2', data: { kind: 'x' } }, `projects/${P}/subscriptions/other`), status: 404, code: 'UNKNOWN_STREAM' },
      ];
      for (const c of cases) {
        const r = await sendForBody(pushUrl, c.req);
        assert.equal(r.status, c.status, c.req.body);
        assert.equal((r.body as { error: { code: string } }).error.code, c.code, c.req.body);
      }
      const get = await fetch(`${pushUrl}/projects/${P}/topics/${SENSOR_TOPIC}`);
      assert.equal(get.status, 405);
      assert.equal(get.headers.get('allow'), 'POST');
      assert.equal(((await get.json()) as { error: { code: string } }).error.code, 'METHOD_NOT_ALLOWED');
    });
  });
});

describe('Pub/Sub message decoding', () => {
  it('decodes ids, nanosecond publish times, attributes and ordering keys in both spellings', () => {
    const m = decodePubSubMessage({ message_id: '7', publish_time: '2026-11-24T10:00:00.987654321Z', data: 'eyJhIjoxfQ==', attributes: { a: 'b' }, ordering_key: 'k' });
    assert.equal(m.messageId, '7');
    assert.equal(m.publishTime, 1795514400987654n);
    assert.equal(Buffer.from(m.data).toString(), '{"a":1}');
    assert.equal(m.orderingKey, 'k');
    assert.throws(() => decodePubSubMessage({ data: 'e30=' }), /messageId is missing/);
    assert.throws(() => decodePubSubMessage({ messageId: '1', publishTime: 'yesterday' }), /publishTime/);
  });

  it('resolves the stream from the topic, the subscription, or the only stream', () => {
    assert.equal(resolveStream(registry, 'trib-', { topic: 'projects/p/topics/trib-lenient_events', subscription: undefined }).name, 'lenient_events');
    assert.equal(resolveStream(registry, 'trib-', { topic: undefined, subscription: 'projects/p/subscriptions/trib-sensor_readings-push' }).name, 'sensor_readings');
    assert.equal(resolveStream(registry, 'trib-', { topic: undefined, subscription: 'projects/p/subscriptions/trib-sensor-readings-ingest' }).name, 'sensor_readings');
    assert.throws(() => resolveStream(registry, 'trib-', { topic: undefined, subscription: undefined }), /cannot tell the stream/);
    assert.equal(resolveStream(new StreamRegistry([lenient]), 'x-', { topic: undefined, subscription: undefined }).name, 'lenient_events');
  });
});
