/** Dead letters: fetch one, replay one / a selection / all of a reason after a schema fix. */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { getJson, postJson, publish, tempDir } from '../helpers.js';
import { type EngineServer, engineException, exceptionApplies, forEachEngine, itSentBoundedQueries, startEngineServer } from './engines.js';

type Server = EngineServer;

const V1 = {
  name: 'replay_events',
  unknownFields: 'reject',
  fields: [
    { name: 'kind', type: 'STRING', mode: 'REQUIRED' },
    { name: 'n', type: 'INT64', mode: 'NULLABLE' },
  ],
};
const V2 = { ...V1, fields: [...V1.fields, { name: 'colour', type: 'STRING', mode: 'NULLABLE' }] };

forEachEngine('dead-letter replay', (engine) => {
  let server: Server;
  let base: { dir: string; cleanup: () => Promise<void> };
  const dl = (path = '') => `${server.url}/v1/streams/replay_events/dead-letters${path}`;
  const original = new Map<string, { publish_time: string; attributes: Record<string, string> }>();

  before(async () => {
    base = await tempDir();
    await mkdir(join(base.dir, 'streams'), { recursive: true });
    if (exceptionApplies(engine, 'schema-update')) {
      // The emulator cannot add a column to an existing table: create it with the fixed
      // definition first (the old one ignores the extra column); the patch is checked below.
      await writeFile(join(base.dir, 'streams', 'replay_events.json'), JSON.stringify(V2));
      await (await startEngineServer(engine, [], base.dir)).close();
    }
    await writeFile(join(base.dir, 'streams', 'replay_events.json'), JSON.stringify(V1));
    server = await startEngineServer(engine, [], base.dir);
    const res = await publish(server.url, 'replay_events', [
      { data: { kind: 'a', colour: 'red' }, messageId: 'r-1', attributes: { src: 'lab' }, orderingKey: 'k1' },
      { data: { kind: 'b', colour: 'blue' }, messageId: 'r-2' },
      { data: { kind: 'c', n: 'many' }, messageId: 'r-3' },
      { data: { kind: 'd', colour: 5 }, messageId: 'r-4' },
      { data: { kind: 'e', colour: 'x' }, messageId: 'r-5' },
      { data: { kind: 'ok' }, messageId: 'r-ok' },
    ]);
    assert.deepEqual(res.body.counts, { stored: 1, duplicate: 0, dead_lettered: 5, accepted: 0 });
    for (const d of (await getJson(dl('?limit=100'))).body.deadLetters) original.set(d.message_id, d);
  });
  after(async () => {
    await server.close();
    await base.cleanup();
  });

  it('fetches one dead letter with its raw payload', async () => {
    const res = await getJson(dl('/r-1'));
    assert.equal(res.status, 200);
    assert.equal(res.body.reason, 'UNKNOWN_FIELD');
    assert.deepEqual(JSON.parse(res.body.payload), { kind: 'a', colour: 'red' });
    assert.deepEqual(res.body.attributes, { src: 'lab' });
    assert.equal((await getJson(dl('/nope'))).body.error.code, 'DEAD_LETTER_NOT_FOUND');
  });

  it('replays after a schema fix: one, a selection, then all of a reason', async (t) => {
    engineException(t, engine, 'schema-update');
    await server.close();
    await writeFile(join(base.dir, 'streams', 'replay_events.json'), JSON.stringify(V2));
    server = await startEngineServer(engine, [], base.dir);

    const one = await postJson(dl('/r-1/replay'), {});
    assert.equal(one.status, 200, JSON.stringify(one.body));
    assert.equal(one.body.stored, 1);
    const row = (await getJson(`${server.url}/v1/streams/replay_events/rows/r-1`)).body;
    assert.equal(row.colour, 'red');
    assert.equal(row.publish_time, original.get('r-1')!.publish_time, 'keeps the original publish_time');
    assert.deepEqual(row.attributes, { src: 'lab' });
    assert.equal(row.ordering_key, 'k1');
    assert.equal((await getJson(dl('/r-1'))).status, 404, 'left the dead-letter table');
    assert.equal((await postJson(dl('/r-1/replay'), {})).body.error.code, 'DEAD_LETTER_NOT_FOUND');

    const some = await postJson(dl('/replay'), { messageIds: ['r-2', 'nope'] });
    assert.equal(some.status, 200, JSON.stringify(some.body));
    assert.equal(some.body.stored, 1);
    assert.deepEqual(some.body.notFound, ['nope']);

    const all = await postJson(dl('/replay'), { reason: 'UNKNOWN_FIELD' });
    assert.equal(all.status, 200, JSON.stringify(all.body));
    assert.equal(all.body.replayed, 2);
    assert.equal(all.body.stored, 1);
    assert.equal(all.body.failed, 1);
    assert.equal(all.body.remaining, false);
    const r4 = (await getJson(dl('/r-4'))).body;
    assert.equal(r4.reason, 'SCHEMA_VIOLATION', 'a replay that fails again stays with its new reason');
    assert.equal(r4.replay_count, 1);
    assert.equal(r4.publish_time, original.get('r-4')!.publish_time);
    const left = (await getJson(dl())).body.deadLetters.map((d: { message_id: string }) => d.message_id).sort();
    assert.deepEqual(left, ['r-3', 'r-4']);
    const rows = (await getJson(`${server.url}/v1/streams/replay_events/rows?order=asc`)).body.rows.map((r: { message_id: string }) => r.message_id).sort();
    assert.deepEqual(rows, ['r-1', 'r-2', 'r-5', 'r-ok']);
    // Replayed dead letters leave the counts too (on a server restarted over stored data).
    const detail = (await getJson(`${server.url}/v1/streams/replay_events`)).body;
    assert.equal(detail.deadLetterCount, 2);
    assert.equal(detail.rowCount, 4);
    const stats = (await getJson(`${server.url}/v1/streams/replay_events/stats?window=1h`)).body;
    assert.deepEqual(stats.window.deadLettersByReason, { SCHEMA_VIOLATION: 2 });
    assert.equal(stats.window.rowCount, 4);
    assert.equal((await postJson(dl('/replay'), { reason: 'UNKNOWN_FIELD' })).body.replayed, 0);
  });

  it('refuses malformed replay requests with 400', async () => {
    for (const body of [{}, { messageIds: ['a'], reason: 'INVALID_JSON' }, { reason: 'NOPE' }, { messageIds: [] }, { reason: 'INVALID_JSON', from: 'yesterday' }, { extra: 1 }]) {
      const res = await postJson(dl('/replay'), body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.error.code, 'INVALID_REQUEST', JSON.stringify(body));
    }
  });

  if (exceptionApplies(engine, 'schema-update')) {
    it('adds a new NULLABLE field to an existing table with tables.patch (the request; the emulator does not apply it)', async (t) => {
      engineException(t, engine, 'schema-update');
      const fresh = await tempDir();
      try {
        await mkdir(join(fresh.dir, 'streams'), { recursive: true });
        await writeFile(join(fresh.dir, 'streams', 'replay_events.json'), JSON.stringify(V1));
        await (await startEngineServer(engine, [], fresh.dir)).close();
        await writeFile(join(fresh.dir, 'streams', 'replay_events.json'), JSON.stringify(V2));
        const again = await startEngineServer(engine, [], fresh.dir);
        await again.close();
        const bq = again.bigquery!;
        const patches = bq.requests.filter((r) => r.method === 'PATCH');
        assert.deepEqual(patches.map((r) => r.path), [`/datasets/${bq.dataset}/tables/replay_events`], 'one patch, of the changed table only');
        const fields = (patches[0]!.body as { schema: { fields: { name: string; type: string; mode: string }[] } }).schema.fields;
        assert.deepEqual(fields.map((f) => f.name).slice(-1), ['colour'], 'the new field comes last');
        assert.deepEqual(fields.find((f) => f.name === 'colour'), { name: 'colour', type: 'STRING', mode: 'NULLABLE' });
        assert.ok(['message_id', 'publish_time', 'kind', 'n'].every((n) => fields.some((f) => f.name === n)), 'the existing fields are kept');
        const table = await bq.api.request<{ schema: { fields: { name: string }[] } }>({ method: 'GET', path: `/datasets/${bq.dataset}/tables/replay_events` });
        assert.ok(table.schema.fields.some((f) => f.name === 'colour'), 'the table metadata has the field');
      } finally {
        await fresh.cleanup();
      }
    });
  }

  itSentBoundedQueries(engine, () => server);
});
