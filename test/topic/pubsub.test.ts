/**
 * The Pub/Sub topic adapter and the pull worker against Google's Go fake (pstest): publish
 * with batching and ordering keys, pull into ingest, ack after commit, nack and redelivery on
 * a transient warehouse failure.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { PubSub } from '@google-cloud/pubsub';
import { type Warehouse, WarehouseError } from '../../src/core/ports.js';
import { parseStreamDefinition, StreamRegistry } from '../../src/core/schema.js';
import { Ingest } from '../../src/ingest/ingest.js';
import { createPubSubClient, PubSubTopic } from '../../src/topic/pubsub/topic.js';
import { type PullWorker, startPullWorker } from '../../src/topic/pubsub/worker.js';
import { DuckDBWarehouse } from '../../src/warehouse/duckdb/index.js';
import { type PubSubEmulator, startPubSubEmulator } from '../emulators.js';
import { LENIENT_STREAM, reading, ROOT } from '../helpers.js';
import { getRow, queryDeadLetters, queryRows } from '../warehouse/api-form.js';

const sensor = parseStreamDefinition(JSON.parse(await readFile(join(ROOT, 'streams', 'sensor_readings.json'), 'utf8')), 'sensor_readings.json');
const lenient = parseStreamDefinition(LENIENT_STREAM, 'lenient_events.json');
const registry = new StreamRegistry([sensor, lenient]);

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('Pub/Sub topic and pull worker (pstest)', () => {
  let emulator: PubSubEmulator;
  let client: PubSub;
  let topic: PubSubTopic;
  let duck: DuckDBWarehouse;
  let worker: PullWorker;
  const state = { failing: false, writes: 0 };

  before(async () => {
    emulator = await startPubSubEmulator();
    client = createPubSubClient({ projectId: 'tributary-test', emulatorHost: emulator.host });
    for (const s of registry.all()) {
      const [t] = await client.createTopic(`trib-${s.name}`);
      await t.createSubscription(`trib-${s.name}-worker`, { ackDeadlineSeconds: 10, enableMessageOrdering: true });
    }
    topic = new PubSubTopic(client, { topicPrefix: 'trib-', batchMaxMessages: 50, batchMaxMs: 20 });
    duck = await DuckDBWarehouse.open({ path: ':memory:', threads: 1 });
    await duck.init(registry.all());
    const w: Warehouse = Object.create(duck) as Warehouse;
    w.write = async (stream, batch) => {
      state.writes++;
      if (state.failing) throw new WarehouseError('simulated outage', true);
      return duck.write(stream, batch);
    };
    const ingest = new Ingest({ warehouse: w, options: { batchMaxRows: 500, batchLingerMs: 10, maxMessageBytes: 1024 * 1024, writeRetryMs: 50 } });
    worker = startPullWorker(client, registry, ingest, { topicPrefix: 'trib-', subscriptionSuffix: '-worker', maxOutstanding: 100 });
  });
  after(async () => {
    await worker?.close();
    await topic?.close();
    await duck?.close();
    await emulator?.stop();
  });

  it('publishes with attributes and ordering keys, and the worker stores each message once', async () => {
    const outcomes = await topic.publish(sensor, [
      { data: Buffer.from(JSON.stringify(reading(1, { device_id: 'ps' }))), attributes: { k: 'v' }, orderingKey: 'dev-ps' },
      { data: Buffer.from(JSON.stringify(reading(2, { device_id: 'ps' }))), orderingKey: 'dev-ps' },
      { data: Buffer.from('***'), undecodable: 'the data field is not valid base64' },
    ]);
    assert.deepEqual(outcomes.map((o) => o.status), ['accepted', 'accepted', 'accepted']);
    assert.equal(new Set(outcomes.map((o) => o.messageId)).size, 3);
    const [first, second, bad] = outcomes.map((o) => o.messageId);
    const row = await until('row 1', () => getRow(duck, sensor, first!));
    assert.deepEqual(row.attributes, { k: 'v' });
    assert.equal(row.ordering_key, 'dev-ps');
    assert.equal((await until('row 2', () => getRow(duck, sensor, second!))).seq, '2');
    const dl = await until('dead letter', async () => (await queryDeadLetters(duck, sensor, { limit: 10 })).find((d) => d.message_id === bad));
    assert.equal(dl.reason, 'INVALID_ENCODING');
    assert.equal(dl.payload, '***');
    assert.deepEqual(dl.attributes, {});
  });

  it('keeps a publisher-chosen messageId as the idempotency key: a retried publish is stored once', async () => {
    const msg = { data: Buffer.from('{"kind":"chosen"}'), messageId: 'chosen-1', attributes: { a: '1' } };
    const first = await topic.publish(lenient, [msg]);
    const again = await topic.publish(lenient, [msg]);
    assert.equal(first[0]!.messageId, 'chosen-1');
    assert.equal(again[0]!.messageId, 'chosen-1');
    const row = await until('chosen row', () => getRow(duck, lenient, 'chosen-1'));
    assert.deepEqual(row.attributes, { a: '1' }, 'the carrier attribute is not stored');
    await new Promise((r) => setTimeout(r, 300));
    const rows = await queryRows(duck, lenient, { filters: [{ chain: [lenient.fields[0]!], op: 'eq', value: 'chosen' }], order: 'asc', limit: 10 });
    assert.equal(rows.length, 1);
  });

  it('nacks on a transient failure and stores the message when Pub/Sub redelivers it', async () => {
    state.failing = true;
    const before = state.writes;
    const [o] = await topic.publish(lenient, [{ data: Buffer.from('{"kind":"retry"}') }]);
    await until('a failed attempt', async () => (state.writes > before ? true : undefined));
    assert.equal(await getRow(duck, lenient, o!.messageId), undefined);
    state.failing = false;
    const row = await until('redelivered row', () => getRow(duck, lenient, o!.messageId));
    assert.equal(row.kind, 'retry');
  });

  it('reports a topic that does not exist as TOPIC_UNAVAILABLE', async () => {
    const orphan = new PubSubTopic(client, { topicPrefix: 'missing-', batchMaxMessages: 10, batchMaxMs: 5 });
    await assert.rejects(orphan.publish(lenient, [{ data: Buffer.from('{}') }]), (err: Error & { code?: string }) => err.code === 'TOPIC_UNAVAILABLE');
  });
});
