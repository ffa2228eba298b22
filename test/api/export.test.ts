/** Long NDJSON/CSV answers streamed in chunks, and the maximum time range. */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { getJson, publish, reading } from '../helpers.js';
import { type EngineServer, forEachEngine, itSentBoundedQueries, startEngineServer } from './engines.js';

type Server = EngineServer;

forEachEngine('streamed exports and bounded time ranges', (engine) => {
  let server: Server;
  before(async () => {
    server = await startEngineServer(engine, ['--max-page-size', '7', '--default-page-size', '5', '--max-export-rows', '35', '--max-time-range-days', '1']);
    const res = await publish(server.url, 'sensor_readings', Array.from({ length: 40 }, (_, i) => ({ data: reading(i, { device_id: i % 2 ? '-odd' : 'even' }), messageId: `e-${String(i).padStart(2, '0')}` })));
    assert.equal(res.body.counts.stored, 40);
  });
  after(async () => {
    await server.stop();
  });

  const from = () => new Date(Date.now() - 3600_000).toISOString();

  it('streams NDJSON and CSV beyond the page size, in keyset order, up to the export limit', async () => {
    const base = `${server.url}/v1/streams/sensor_readings/rows?from=${from()}&order=asc`;
    // The reference: every row, by walking JSON pages.
    const all: { message_id: string; seq: string; device_id: string }[] = [];
    let next: string | null = `/v1/streams/sensor_readings/rows?from=${from()}&order=asc`;
    while (next) {
      const page: { body: { rows: typeof all; next: string | null } } = await getJson(server.url + next);
      all.push(...page.body.rows);
      next = page.body.next;
    }
    assert.equal(all.length, 40);
    const nd = await fetch(`${base}&format=ndjson&limit=30&fields=seq,message_id`);
    assert.equal(nd.status, 200);
    const lines = (await nd.text()).trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
    assert.deepEqual(lines, all.slice(0, 30).map((r) => ({ message_id: r.message_id, seq: r.seq })));
    const csv = await (await fetch(`${base}&format=csv&limit=35&fields=device_id,seq`)).text();
    const rows = csv.trimEnd().split('\r\n');
    assert.equal(rows[0], 'device_id,seq');
    assert.deepEqual(rows.slice(1), all.slice(0, 35).map((r) => `${r.device_id === '-odd' ? "'-odd" : r.device_id},${r.seq}`));
    const desc = (await (await fetch(`${server.url}/v1/streams/sensor_readings/rows?from=${from()}&format=ndjson&limit=35`)).text()).trimEnd().split('\n');
    assert.deepEqual(desc.map((l) => (JSON.parse(l) as { message_id: string }).message_id), [...all].reverse().slice(0, 35).map((r) => r.message_id));
    assert.equal((await getJson(`${base}&format=ndjson&limit=36`)).body.error.code, 'INVALID_PARAMETER');
    assert.equal((await getJson(`${base}&limit=8`)).body.error.code, 'INVALID_PARAMETER', 'JSON pages stay within the page size');
  });

  it('refuses queries beyond the maximum time range with TIME_RANGE_TOO_LARGE', async () => {
    const old = new Date(Date.now() - 3 * 86_400_000).toISOString();
    for (const path of ['rows', 'aggregate']) {
      const none = await getJson(`${server.url}/v1/streams/sensor_readings/${path}`);
      assert.equal(none.status, 400);
      assert.equal(none.body.error.code, 'TIME_RANGE_TOO_LARGE');
      assert.equal((await getJson(`${server.url}/v1/streams/sensor_readings/${path}?from=${old}`)).body.error.code, 'TIME_RANGE_TOO_LARGE');
      assert.equal((await getJson(`${server.url}/v1/streams/sensor_readings/${path}?from=${old}&to=${from()}`)).body.error.code, 'TIME_RANGE_TOO_LARGE');
      assert.equal((await getJson(`${server.url}/v1/streams/sensor_readings/${path}?from=${from()}`)).status, 200);
    }
    assert.equal((await getJson(`${server.url}/v1/streams/sensor_readings/stats?window=2d`)).body.error.code, 'TIME_RANGE_TOO_LARGE');
    assert.equal((await getJson(`${server.url}/v1/streams/sensor_readings/stats?window=1d`)).status, 200);
  });

  itSentBoundedQueries(engine, () => server);
});
