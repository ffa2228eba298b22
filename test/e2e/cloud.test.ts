/**
 * The cloud shape end to end, entirely local:
 *
 *   HTTP API (gcp mode) / Pub/Sub client ─► pstest ─► bridge (pulls, POSTs each message as a
 *   push subscription would, then again as Eventarc would) ─► Cloud Function, both entry points
 *   (real Functions Framework servers) ─► BigQuery emulator ─► HTTP API (BigQuery adapter) ─► GET
 *
 * pstest never delivers push subscriptions, so the bridge stands in for the push subscription
 * and for Eventarc: it acks a message when both deliveries were answered 2xx and nacks it
 * otherwise, so Pub/Sub redelivers.
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import type { Message, PubSub, Subscription } from '@google-cloud/pubsub';
import { startServer, type RunningServer } from '../../src/main/server.js';
import { parseConfig } from '../../src/core/config.js';
import { registerIngestFunction, registerPushFunction } from '../../src/ingest/function.js';
import { createRuntime, type Runtime } from '../../src/runtime.js';
import { createPubSubClient } from '../../src/topic/pubsub/topic.js';
import { type BigQueryEmulator, type PubSubEmulator, startBigQueryEmulator, startPubSubEmulator } from '../emulators.js';
import { getJson, publish, reading, streamsDir, tempDir } from '../helpers.js';
import { binaryCloudEvent, legacyPush, send, type WireMessage } from '../pubsub-payloads.js';

const PROJECT = 'tributary-test';
const PREFIX = 'trib-';

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Pulls a subscription and delivers each message twice (a redelivery): first as a push
 * subscription would, to the push (HTTP) function, then as a binary-mode CloudEvent, as
 * Eventarc would, to the CloudEvent function.
 */
function startBridge(client: PubSub, topic: string, subscription: string, pushUrl: string, cloudEventUrl: string) {
  const statuses = new Map<string, number[]>();
  const sub: Subscription = client.subscription(subscription, { flowControl: { maxMessages: 50 } });
  sub.on('message', (m: Message) => {
    void (async () => {
      const wire: WireMessage = { id: m.id, data: m.data, attributes: m.attributes, ...(m.orderingKey ? { orderingKey: m.orderingKey } : {}), publishTime: m.publishTime.toISOString() };
      const deliveries = [
        () => send(pushUrl, legacyPush(PROJECT, topic, wire, `projects/${PROJECT}/subscriptions/${subscription}`, m.deliveryAttempt || 1)),
        () => send(cloudEventUrl, binaryCloudEvent(PROJECT, topic, wire, `projects/${PROJECT}/subscriptions/${subscription}`)),
      ];
      let ok = true;
      for (const deliver of deliveries) {
        const status = await deliver().catch(() => 0);
        statuses.set(m.id, [...(statuses.get(m.id) ?? []), status]);
        ok &&= status >= 200 && status < 300;
      }
      if (ok) m.ack();
      else setTimeout(() => m.nack(), 300);
    })();
  });
  return { statuses, close: () => sub.close() };
}

describe('end to end on the cloud shape (pstest + Functions Framework + BigQuery emulator)', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let bq: BigQueryEmulator;
  let ps: PubSubEmulator;
  let client: PubSub;
  let fnRuntime: Runtime;
  let fnServers: Server[] = [];
  let api: RunningServer;
  let bridge: ReturnType<typeof startBridge>;

  before(async () => {
    tmp = await tempDir('tributary-e2e-');
    [bq, ps] = await Promise.all([startBigQueryEmulator(tmp.dir, PROJECT), startPubSubEmulator()]);
    const streams = await streamsDir(tmp.dir);
    const { config } = parseConfig(
      [
        '--mode', 'gcp', '--gcp-project', PROJECT, '--gcp-region', 'local', '--bigquery-dataset', 'e2e',
        '--bigquery-api-endpoint', bq.url, '--pubsub-topic-prefix', PREFIX, '--pubsub-emulator-host', ps.host,
        '--streams-dir', streams, '--port', '0', '--log-level', 'silent', '--write-retry-ms', '300',
      ],
      {},
    );
    client = createPubSubClient({ projectId: PROJECT, emulatorHost: ps.host });
    for (const name of ['sensor_readings', 'lenient_events']) {
      const [t] = await client.createTopic(`${PREFIX}${name}`);
      await t.createSubscription(`${PREFIX}${name}-eventarc`, { ackDeadlineSeconds: 10 });
    }
    fnRuntime = await createRuntime(config, { onWriteError: (_s, err) => { if (process.env.E2E_DEBUG) console.error('WRITE ERROR', (err as Error).message); } });
    registerIngestFunction('e2eIngest', async () => ({ registry: fnRuntime.registry, ingest: fnRuntime.ingest, topicPrefix: PREFIX }));
    registerPushFunction('e2eIngestPush', async () => ({ registry: fnRuntime.registry, ingest: fnRuntime.ingest, topicPrefix: PREFIX }));
    const listen = async (name: string): Promise<[Server, string]> => {
      const server = getTestServer(name);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const addr = server.address();
      return [server, `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`];
    };
    const [ceServer, ceUrl] = await listen('e2eIngest');
    const [pushServer, pushUrl] = await listen('e2eIngestPush');
    fnServers = [ceServer, pushServer];
    bridge = startBridge(client, `${PREFIX}sensor_readings`, `${PREFIX}sensor_readings-eventarc`, pushUrl, ceUrl);
    api = await startServer(config, { logger: false });
  });

  after(async () => {
    await bridge?.close();
    await api?.close();
    for (const server of fnServers) {
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    await fnRuntime?.close();
    await client?.close();
    await Promise.all([bq?.stop(), ps?.stop()]);
    await tmp?.cleanup();
  });

  it('serves exactly the published rows, once each although every delivery was redelivered, and dead-letters the poison message', async () => {
    const ready = await getJson(`${api.url}/readyz`);
    assert.deepEqual(ready.body, { status: 'ready', warehouse: 'bigquery', topic: 'pubsub' });
    const sent = Array.from({ length: 5 }, (_, i) => reading(i, { device_id: 'e2e', tags: ['t'], location: { site: 'S' } }));
    const res = await publish(api.url, 'sensor_readings', sent.map((data, i) => ({ data, attributes: { n: String(i) }, ...(i < 2 ? { orderingKey: 'dev-e2e' } : {}) })));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.counts, { stored: 0, duplicate: 0, dead_lettered: 0, accepted: 5 });
    const ids: string[] = res.body.messageIds;
    // A poison message published straight with the Pub/Sub client.
    const poisonId = await client.topic(`${PREFIX}sensor_readings`).publishMessage({ data: Buffer.from('{"device_id": '), attributes: { why: 'poison' } });

    const rows = await until('5 rows through the pipeline', async () => {
      const r = await getJson(`${api.url}/v1/streams/sensor_readings/rows?device_id=e2e&order=asc`);
      return r.status === 200 && r.body.rows.length >= 5 ? r.body.rows : undefined;
    });
    assert.deepEqual(rows.map((r: { message_id: string }) => r.message_id).sort(), [...ids].sort());
    for (const r of rows) {
      const i = Number(r.attributes.n);
      assert.equal(r.seq, String(i));
      assert.equal(r.message_id, ids[i]);
      assert.deepEqual(r.tags, ['t']);
      assert.deepEqual(r.location, { site: 'S', lat: null, lon: null });
      assert.equal(r.ordering_key, i < 2 ? 'dev-e2e' : null);
    }
    // Every message was POSTed twice (a redelivery): both answered 2xx, one row each.
    await until('both deliveries of every message answered', async () => (ids.every((id) => (bridge.statuses.get(id)?.length ?? 0) >= 2) ? true : undefined));
    for (const id of ids) assert.deepEqual(bridge.statuses.get(id), [204, 204], `deliveries of ${id}`);
    const again = await getJson(`${api.url}/v1/streams/sensor_readings/rows?device_id=e2e&order=asc`);
    assert.equal(again.body.rows.length, 5, 'still one row per message after the redeliveries');
    const one = await getJson(`${api.url}/v1/streams/sensor_readings/rows/${ids[0]}`);
    assert.equal(one.status, 200);
    assert.equal(one.body.device_id, 'e2e');

    const dl = await until('the poison dead letter', async () => {
      const r = await getJson(`${api.url}/v1/streams/sensor_readings/dead-letters`);
      return r.body.deadLetters?.find((d: { message_id: string }) => d.message_id === poisonId);
    });
    assert.equal(dl.reason, 'INVALID_JSON');
    assert.deepEqual(dl.attributes, { why: 'poison' });
    assert.equal(dl.payload, '{"device_id": ');
    const detail = await getJson(`${api.url}/v1/streams/sensor_readings`);
    assert.equal(detail.body.rowCount, 5);
    assert.equal(detail.body.deadLetterCount, 1);
  });

  it('answers an error while BigQuery is down, and stores the message after redelivery', async () => {
    await bq.stop();
    const id = await client.topic(`${PREFIX}sensor_readings`).publishMessage({ data: Buffer.from(JSON.stringify(reading(99, { device_id: 'outage' }))) });
    const failed = await until('a refused delivery', async () => (bridge.statuses.get(id)?.some((s) => s >= 500) ? true : undefined), 30_000);
    assert.ok(failed);
    await bq.start();
    const row = await until('the redelivered row', async () => {
      const r = await getJson(`${api.url}/v1/streams/sensor_readings/rows/${id}`);
      return r.status === 200 ? r.body : undefined;
    });
    assert.equal(row.device_id, 'outage');
    const statuses = bridge.statuses.get(id)!;
    assert.ok(statuses.some((s) => s >= 500) && statuses[statuses.length - 1] === 204, `statuses ${statuses.join(',')}`);
    const rows = await getJson(`${api.url}/v1/streams/sensor_readings/rows?device_id=outage`);
    assert.equal(rows.body.rows.length, 1);
  });
});
