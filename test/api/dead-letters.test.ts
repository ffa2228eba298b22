/** Each class of bad input lands in the dead-letter table with its code; batch-mates are stored. */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { getJson, postJson, publish, reading } from '../helpers.js';
import { type EngineServer, forEachEngine, itSentBoundedQueries, startEngineServer } from './engines.js';

type Server = EngineServer;

forEachEngine('dead letters', (engine) => {
  let server: Server;
  before(async () => {
    server = await startEngineServer(engine);
  });
  after(async () => {
    await server.stop();
  });

  it('dead-letters every bad-input class with its reason and stores the good messages of the same batch', async () => {
    const url = `${server.url}/v1/streams/sensor_readings/messages`;
    const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
    const body = {
      messages: [
        { data: b64(JSON.stringify(reading(1, { device_id: 'mix' }))), messageId: 'ok-1', attributes: { k: 'v' } },
        { data: b64('{"device_id": "x", '), messageId: 'bad-json', attributes: { why: 'truncated' } },
        { data: b64(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d])), messageId: 'bad-utf8' },
        { data: '***not base64***', messageId: 'bad-base64' },
        { data: b64(JSON.stringify(reading(2, { temperature_c: 'warm' }))), messageId: 'bad-type' },
        { data: b64(JSON.stringify(reading(3, { readings: [{ name: 'a' }, { value: 1 }] }))), messageId: 'bad-nested' },
        { data: b64(JSON.stringify({ ...reading(4), colour: 'red' })), messageId: 'unknown-field' },
        { data: b64(JSON.stringify({ device_id: 'no-seq', measured_at: '2026-11-24T00:00:00Z' })), messageId: 'missing' },
        { data: b64(JSON.stringify(reading(5, { measured_at: '2026-02-30T00:00:00Z' }))), messageId: 'bad-date' },
        { data: b64(JSON.stringify(reading(6, { metadata: 'x'.repeat(1024 * 1024) }))), messageId: 'too-large' },
        { data: b64(JSON.stringify(reading(7, { device_id: 'mix' }))), messageId: 'ok-2' },
      ],
    };
    const res = await postJson(url, body);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const byId = Object.fromEntries(res.body.results.map((r: { messageId: string }) => [r.messageId, r]));
    const expect: Record<string, [string, string | null]> = {
      'bad-json': ['INVALID_JSON', null],
      'bad-utf8': ['INVALID_ENCODING', null],
      'bad-base64': ['INVALID_ENCODING', null],
      'bad-type': ['SCHEMA_VIOLATION', 'temperature_c'],
      'bad-nested': ['SCHEMA_VIOLATION', 'readings[1].name'],
      'unknown-field': ['UNKNOWN_FIELD', 'colour'],
      missing: ['SCHEMA_VIOLATION', 'seq'],
      'bad-date': ['SCHEMA_VIOLATION', 'measured_at'],
      'too-large': ['MESSAGE_TOO_LARGE', null],
    };
    for (const [id, [reason, path]] of Object.entries(expect)) {
      assert.equal(byId[id].status, 'dead_lettered', id);
      assert.equal(byId[id].reason, reason, id);
      assert.equal(byId[id].fieldPath, path, id);
    }
    assert.match(byId['bad-type'].detail, /temperature_c: expected FLOAT64, got string "warm"/);
    assert.match(byId.missing.detail, /seq: missing required field of type INT64/);
    assert.equal(byId['ok-1'].status, 'stored');
    assert.equal(byId['ok-2'].status, 'stored');

    // The dead-letter table has each with payload and attributes.
    const dl = await getJson(`${server.url}/v1/streams/sensor_readings/dead-letters?limit=100`);
    assert.equal(dl.status, 200);
    const stored = Object.fromEntries(dl.body.deadLetters.map((d: { message_id: string }) => [d.message_id, d]));
    for (const [id, [reason, path]] of Object.entries(expect)) {
      assert.ok(stored[id], `dead letter ${id} is stored`);
      assert.equal(stored[id].reason, reason);
      assert.equal(stored[id].field_path, path);
      const sent = body.messages.find((m) => m.messageId === id)!;
      const expectedBytes = id === 'bad-base64' ? Buffer.from(sent.data) : Buffer.from(sent.data, 'base64');
      assert.equal(stored[id].payload_base64, expectedBytes.toString('base64'), `payload of ${id} kept byte for byte`);
      assert.equal(stored[id].payload_size, expectedBytes.length);
    }
    assert.equal(stored['bad-json'].payload, '{"device_id": "x", ');
    assert.equal(stored['bad-utf8'].payload, null);
    assert.deepEqual(stored['bad-json'].attributes, { why: 'truncated' });

    const rows = await getJson(`${server.url}/v1/streams/sensor_readings/rows?device_id=mix`);
    assert.deepEqual(rows.body.rows.map((r: { message_id: string }) => r.message_id).sort(), ['ok-1', 'ok-2']);

    const byReason = await getJson(`${server.url}/v1/streams/sensor_readings/dead-letters?reason=UNKNOWN_FIELD`);
    assert.deepEqual(byReason.body.deadLetters.map((d: { message_id: string }) => d.message_id), ['unknown-field']);
    const detail = await getJson(`${server.url}/v1/streams/sensor_readings`);
    assert.equal(detail.body.deadLetterCount, Object.keys(expect).length);
    const stats = await getJson(`${server.url}/v1/streams/sensor_readings/stats?window=1h`);
    assert.equal(stats.status, 200, JSON.stringify(stats.body));
    assert.equal(stats.body.window.rowCount, 2);
    assert.deepEqual(stats.body.window.deadLettersByReason, { INVALID_ENCODING: 2, INVALID_JSON: 1, MESSAGE_TOO_LARGE: 1, SCHEMA_VIOLATION: 4, UNKNOWN_FIELD: 1 });
    const older = await getJson(`${server.url}/v1/streams/sensor_readings/dead-letters?to=${encodeURIComponent(stored['bad-json'].publish_time)}`);
    assert.deepEqual(older.body.deadLetters.map((d: { message_id: string }) => d.message_id), [], 'to is exclusive: nothing before the first dead letter');
    const newer = await getJson(`${server.url}/v1/streams/sensor_readings/dead-letters?from=${encodeURIComponent(stored['bad-date'].publish_time)}`);
    assert.deepEqual(newer.body.deadLetters.map((d: { message_id: string }) => d.message_id), ['too-large', 'bad-date'], 'from is inclusive, newest first');
  });

  it('drops unknown fields on a stream whose policy is drop, and applies its own size limit', async () => {
    const res = await publish(server.url, 'lenient_events', [
      { data: { kind: 'a', n: 1, extra: { deep: true } }, messageId: 'l-1' },
      { data: { kind: 'b'.repeat(300) }, messageId: 'l-2' },
    ]);
    assert.equal(res.body.results[0].status, 'stored');
    assert.equal(res.body.results[1].reason, 'MESSAGE_TOO_LARGE');
    const row = (await getJson(`${server.url}/v1/streams/lenient_events/rows/l-1`)).body;
    assert.equal(row.kind, 'a');
    assert.equal('extra' in row, false);
  });

  it('pages through dead letters with a cursor', async () => {
    const msgs = Array.from({ length: 25 }, (_, i) => ({ data: '{oops', messageId: `page-dl-${String(i).padStart(2, '0')}` }));
    await publish(server.url, 'lenient_events', msgs);
    const seen: string[] = [];
    let next: string | null = '/v1/streams/lenient_events/dead-letters?reason=INVALID_JSON&limit=10';
    while (next) {
      const page: { body: { deadLetters: { message_id: string }[]; next: string | null } } = await getJson(server.url + next);
      seen.push(...page.body.deadLetters.map((d) => d.message_id));
      next = page.body.next;
    }
    assert.equal(seen.length, 25);
    assert.equal(new Set(seen).size, 25);
  });

  itSentBoundedQueries(engine, () => server);
});
