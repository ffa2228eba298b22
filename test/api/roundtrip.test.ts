/** publish → query round trip through the real server, for every field type. */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { getJson, postJson, publish } from '../helpers.js';
import { type EngineServer, forEachEngine, itSentBoundedQueries, startEngineServer } from './engines.js';

type Server = EngineServer;

forEachEngine('publish → query round trip', (engine) => {
  let server: Server;
  before(async () => {
    server = await startEngineServer(engine);
  });
  after(async () => {
    await server.stop();
  });

  it('stores and returns every field type exactly (unicode, big integers, decimals, nulls, nested records)', async () => {
    const full = {
      device_id: 'capteur-🌡️-Ωmega-温度',
      seq: '9223372036854775807',
      temperature_c: -273.15,
      energy_kwh: '12345678901234567890123.123456789',
      ok: false,
      measured_at: '2026-11-24T10:15:30.123456+02:00',
      calibration_date: '0001-01-01',
      metadata: { nested: { deep: [1, 'two', null, true] }, emoji: '🚀' },
      tags: ['a', 'é', ''],
      location: { lat: 59.9139, lon: 10.7522, site: 'Oslo' },
      readings: [
        { name: 'humidity', value: 40.5, unit: '%' },
        { name: 'pressure', value: null, unit: null },
      ],
    };
    const sparse = { device_id: 'd2', seq: -1, measured_at: '9999-12-31T23:59:59.999999Z' };
    const res = await publish(server.url, 'sensor_readings', [
      { data: full, attributes: { source: 'test', 'ключ': 'значение' }, orderingKey: 'dev-1', messageId: 'm-full' },
      { data: sparse, messageId: 'm-sparse' },
    ]);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.messageIds, ['m-full', 'm-sparse']);
    assert.deepEqual(res.body.results.map((r: { status: string }) => r.status), ['stored', 'stored']);

    const one = await getJson(`${server.url}/v1/streams/sensor_readings/rows/m-full`);
    assert.equal(one.status, 200);
    const row = one.body;
    assert.equal(row.message_id, 'm-full');
    assert.match(row.publish_time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    assert.ok(row.ingest_time >= row.publish_time, 'ingest_time is not before publish_time');
    assert.deepEqual(row.attributes, { source: 'test', 'ключ': 'значение' });
    assert.equal(row.ordering_key, 'dev-1');
    assert.equal(row.device_id, full.device_id);
    assert.equal(row.seq, '9223372036854775807');
    assert.equal(row.temperature_c, -273.15);
    assert.equal(row.energy_kwh, '12345678901234567890123.123456789');
    assert.equal(row.ok, false);
    assert.equal(row.measured_at, '2026-11-24T08:15:30.123456Z');
    assert.equal(row.calibration_date, '0001-01-01');
    assert.deepEqual(row.metadata, full.metadata);
    assert.deepEqual(row.tags, full.tags);
    assert.deepEqual(row.location, full.location);
    assert.deepEqual(row.readings, full.readings);

    const two = await getJson(`${server.url}/v1/streams/sensor_readings/rows/m-sparse`);
    assert.deepEqual(
      { ...two.body, message_id: undefined, publish_time: undefined, ingest_time: undefined },
      {
        message_id: undefined, publish_time: undefined, ingest_time: undefined,
        attributes: {}, ordering_key: null, device_id: 'd2', seq: '-1', temperature_c: null, energy_kwh: null, ok: null,
        measured_at: '9999-12-31T23:59:59.999999Z', calibration_date: null, metadata: null, tags: [], location: null, readings: [],
      },
    );
  });

  it('keeps integers beyond 2^53 exact when they are sent as JSON numbers', async () => {
    // Raw JSON text: JSON.parse would round 9007199254740993 to ...992.
    const raw = Buffer.from('{"device_id":"big","seq":9007199254740993,"energy_kwh":0.000000001,"measured_at":"2026-11-24T00:00:00Z"}');
    const res = await publish(server.url, 'sensor_readings', [{ data: null, raw, messageId: 'm-big' }]);
    assert.equal(res.body.results[0].status, 'stored');
    const row = (await getJson(`${server.url}/v1/streams/sensor_readings/rows/m-big`)).body;
    assert.equal(row.seq, '9007199254740993');
    assert.equal(row.energy_kwh, '0.000000001');
  });

  it('keeps integers beyond 2^53 exact in a plain JSON publish body (parsed losslessly; the Pub/Sub shape is not)', async () => {
    const res = await fetch(`${server.url}/v1/streams/sensor_readings/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '[{"device_id":"big-plain","seq":9007199254740993,"energy_kwh":12345678901234567.123456789,"measured_at":"2026-11-24T00:00:00Z"}]',
    });
    const body = (await res.json()) as { messageIds: string[]; counts: { stored: number } };
    assert.equal(res.status, 200);
    assert.equal(body.counts.stored, 1);
    const row = (await getJson(`${server.url}/v1/streams/sensor_readings/rows/${body.messageIds[0]}`)).body;
    assert.equal(row.seq, '9007199254740993');
    assert.equal(row.energy_kwh, '12345678901234567.123456789');
  });

  it('accepts plain JSON objects and NDJSON as a convenience', async () => {
    const plain = await postJson(`${server.url}/v1/streams/sensor_readings/messages`, [
      { device_id: 'plain', seq: 1, measured_at: '2026-11-24T00:00:00Z' },
      { device_id: 'plain', seq: 2, measured_at: '2026-11-24T00:00:01Z' },
    ]);
    assert.equal(plain.status, 200);
    assert.deepEqual(plain.body.counts, { stored: 2, duplicate: 0, dead_lettered: 0, accepted: 0 });
    const single = await postJson(`${server.url}/v1/streams/sensor_readings/messages`, { device_id: 'plain', seq: 3, measured_at: '2026-11-24T00:00:02Z' });
    assert.equal(single.body.counts.stored, 1);
    const nd = await fetch(`${server.url}/v1/streams/sensor_readings/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: '{"device_id":"nd","seq":1,"measured_at":"2026-11-24T00:00:00Z"}\r\n\n{"device_id":"nd","seq":18446744073709551615,"measured_at":"2026-11-24T00:00:00Z"}\n',
    });
    const ndBody = (await nd.json()) as { results: { status: string; reason?: string }[] };
    assert.deepEqual(ndBody.results.map((r) => r.status), ['stored', 'dead_lettered']);
    assert.equal(ndBody.results[1]!.reason, 'SCHEMA_VIOLATION');
    const rows = await getJson(`${server.url}/v1/streams/sensor_readings/rows?device_id=plain&order=asc`);
    assert.deepEqual(rows.body.rows.map((r: { seq: string }) => r.seq), ['1', '2', '3']);
  });

  it('filters rows by equality on scalar and nested fields, and by time range', async () => {
    await publish(server.url, 'sensor_readings', [
      { data: { device_id: 'flt', seq: 1, ok: true, measured_at: '2026-11-24T00:00:00Z', location: { site: 'A' } } },
      { data: { device_id: 'flt', seq: 2, ok: false, measured_at: '2026-11-24T00:00:00Z', location: { site: 'B' } } },
      { data: { device_id: 'flt', seq: 3, ok: true, measured_at: '2026-11-24T00:00:00Z', location: { site: 'B' } } },
    ]);
    const q = async (qs: string) => (await getJson(`${server.url}/v1/streams/sensor_readings/rows?device_id=flt&${qs}`)).body.rows.map((r: { seq: string }) => r.seq);
    assert.deepEqual(await q('ok=true'), ['3', '1']);
    assert.deepEqual(await q('location.site=B'), ['3', '2']);
    assert.deepEqual(await q('location.site=B&ok=true'), ['3']);
    assert.deepEqual(await q('seq=2'), ['2']);
    const all = (await getJson(`${server.url}/v1/streams/sensor_readings/rows?device_id=flt&order=asc`)).body.rows;
    const middle = all[1].publish_time;
    assert.deepEqual(await q(`from=${encodeURIComponent(middle)}&order=asc`), ['2', '3']);
    assert.deepEqual(await q(`to=${encodeURIComponent(middle)}`), ['1']);
    assert.deepEqual(await q('from=2999-01-01'), []);
  });

  it('describes streams with row counts and newest publish time', async () => {
    const list = await getJson(`${server.url}/v1/streams`);
    assert.equal(list.status, 200);
    const names = list.body.streams.map((s: { name: string }) => s.name);
    assert.deepEqual(names, ['lenient_events', 'sensor_readings']);
    const detail = await getJson(`${server.url}/v1/streams/sensor_readings`);
    const rows = await getJson(`${server.url}/v1/streams/sensor_readings/rows?limit=1000`);
    assert.equal(detail.body.rowCount, rows.body.rows.length);
    assert.equal(detail.body.newestPublishTime, rows.body.rows[0].publish_time);
    assert.ok(detail.body.filterable.includes('location.site'));
    assert.equal(detail.body.fields.length, 11);
  });

  itSentBoundedQueries(engine, () => server);
});
