/** Keyset pagination: walking every page while rows keep arriving returns each row once, in order. */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { getJson, publish, reading } from '../helpers.js';
import { type EngineServer, forEachEngine, itSentBoundedQueries, startEngineServer } from './engines.js';

type Server = EngineServer;

forEachEngine('pagination', (engine) => {
  let server: Server;
  before(async () => {
    server = await startEngineServer(engine);
  });
  after(async () => {
    await server.stop();
  });

  it('walks all pages, newest first, while publishing, and returns every earlier row exactly once in order', async () => {
    const initial = 1000;
    for (let i = 0; i < initial; i += 250) {
      const res = await publish(server.url, 'sensor_readings', Array.from({ length: 250 }, (_, j) => ({ data: reading(i + j, { device_id: 'page' }) })));
      assert.equal(res.body.counts.stored, 250);
    }
    // Keep publishing in the background for the whole walk.
    let publishing = true;
    let extra = 0;
    const background = (async () => {
      while (publishing) {
        const res = await publish(server.url, 'sensor_readings', Array.from({ length: 20 }, (_, j) => ({ data: reading(100_000 + extra + j, { device_id: 'page' }) })));
        extra += res.body.counts.stored;
      }
    })();
    const seen: { id: string; t: string; seq: number }[] = [];
    let next: string | null = '/v1/streams/sensor_readings/rows?device_id=page&limit=37';
    const first = await getJson(server.url + next);
    const newestAtStart = first.body.rows[0];
    let page = first;
    for (;;) {
      seen.push(...page.body.rows.map((r: { message_id: string; publish_time: string; seq: string }) => ({ id: r.message_id, t: r.publish_time, seq: Number(r.seq) })));
      next = page.body.next;
      if (!next) break;
      page = await getJson(server.url + next);
      assert.equal(page.status, 200);
    }
    publishing = false;
    await background;
    assert.ok(extra > 0, 'rows were published during the walk');
    // Every row that existed when the walk started is there exactly once.
    const ids = seen.map((s) => s.id);
    assert.equal(new Set(ids).size, ids.length, 'no row twice');
    const initialSeqs = seen.filter((s) => s.seq < 100_000).map((s) => s.seq).sort((a, b) => a - b);
    assert.deepEqual(initialSeqs, Array.from({ length: initial }, (_, i) => i));
    // Strictly newest first.
    for (let i = 1; i < seen.length; i++) {
      const a = seen[i - 1]!;
      const b = seen[i]!;
      assert.ok(a.t > b.t || (a.t === b.t && a.id > b.id), `order broken at ${i}: ${a.t} ${a.id} then ${b.t} ${b.id}`);
    }
    assert.equal(seen[0]!.id, newestAtStart.message_id);
  });

  it('walks oldest first with order=asc, and sees rows published during the walk at the end', async () => {
    const seen: number[] = [];
    let next: string | null = '/v1/streams/sensor_readings/rows?device_id=page&order=asc&limit=300';
    let published = false;
    while (next) {
      const page: { body: { rows: { seq: string }[]; next: string | null } } = await getJson(server.url + next);
      seen.push(...page.body.rows.map((r) => Number(r.seq)));
      next = page.body.next;
      if (!published) {
        await publish(server.url, 'sensor_readings', [{ data: reading(999_999, { device_id: 'page' }) }]);
        published = true;
      }
    }
    assert.equal(new Set(seen).size, seen.length);
    assert.equal(seen[seen.length - 1], 999_999);
    assert.deepEqual(seen.slice(0, 1000), Array.from({ length: 1000 }, (_, i) => i));
  });

  it('refuses a cursor from another query or a forged one', async () => {
    const page = await getJson(`${server.url}/v1/streams/sensor_readings/rows?device_id=page&limit=5`);
    const cursor = page.body.nextCursor as string;
    const other = await getJson(`${server.url}/v1/streams/sensor_readings/rows?device_id=other&limit=5&cursor=${cursor}`);
    assert.equal(other.status, 400);
    assert.equal(other.body.error.code, 'INVALID_CURSOR');
    const forged = await getJson(`${server.url}/v1/streams/sensor_readings/rows?device_id=page&cursor=${Buffer.from('{"v":1}').toString('base64url')}`);
    assert.equal(forged.body.error.code, 'INVALID_CURSOR');
    const garbage = await getJson(`${server.url}/v1/streams/sensor_readings/rows?cursor=%27%20OR%201%3D1`);
    assert.equal(garbage.body.error.code, 'INVALID_CURSOR');
    // Changing only the page size keeps the cursor valid.
    const resized = await getJson(`${server.url}/v1/streams/sensor_readings/rows?device_id=page&limit=7&cursor=${cursor}`);
    assert.equal(resized.status, 200);
    assert.equal(resized.body.rows.length, 7);
  });

  itSentBoundedQueries(engine, () => server);
});
