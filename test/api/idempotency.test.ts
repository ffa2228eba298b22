/** The same message_id published twice stores one row, sequentially and concurrently. */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { getJson, publish, reading } from '../helpers.js';
import { type EngineServer, engineException, forEachEngine, itSentBoundedQueries, rawBigQuery, startEngineServer } from './engines.js';

type Server = EngineServer;

async function countRows(url: string, filter: string): Promise<number> {
  const r = await getJson(`${url}/v1/streams/sensor_readings/rows?${filter}&limit=1000`);
  return r.body.rows.length;
}

/** Copies of a message the BigQuery table really holds (a raw query, without the reads' dedup). */
async function storedCopies(server: EngineServer, messageId: string): Promise<number> {
  const rows = await rawBigQuery(server, "SELECT COUNT(*) FROM {sensor_readings} WHERE publish_time >= TIMESTAMP '2000-01-01' AND message_id = @id", { id: messageId });
  return Number(rows[0]?.[0]);
}

forEachEngine('idempotency on message_id', (engine) => {
  let server: Server;
  before(async () => {
    server = await startEngineServer(engine);
  });
  after(async () => {
    await server.stop();
  });

  it('stores one row when the same message_id is published twice in sequence', async (t) => {
    const first = await publish(server.url, 'sensor_readings', [{ data: reading(1, { device_id: 'seq-dup' }), messageId: 'dup-1' }]);
    const second = await publish(server.url, 'sensor_readings', [{ data: reading(2, { device_id: 'seq-dup' }), messageId: 'dup-1' }]);
    assert.equal(first.body.results[0].status, 'stored');
    if (engineException(t, engine, 'duplicate-status')) {
      // A streaming insert cannot tell a redelivery from a new row; the emulator keeps both copies.
      assert.equal(second.body.results[0].status, 'stored');
      if (engineException(t, engine, 'insert-id-dedup')) {
        assert.equal(await storedCopies(server, 'dup-1'), 2, 'the table holds both copies, so the reads below prove the dedup');
        await countRows(server.url, 'device_id=seq-dup');
        const sent = server.queries[server.queries.length - 1]!.sql;
        assert.ok(sent.includes('QUALIFY ROW_NUMBER() OVER (PARTITION BY message_id ORDER BY ingest_time) = 1'), sent);
      }
    } else {
      assert.equal(second.body.results[0].status, 'duplicate');
    }
    assert.equal(await countRows(server.url, 'device_id=seq-dup'), 1);
    // The first write wins: the row is the first payload.
    const row = (await getJson(`${server.url}/v1/streams/sensor_readings/rows/dup-1`)).body;
    assert.equal(row.seq, '1');
  });

  it('stores one row when the same message_id is published many times concurrently', async (t) => {
    const attempts = 40;
    const results = await Promise.all(
      Array.from({ length: attempts }, () => publish(server.url, 'sensor_readings', [{ data: reading(7, { device_id: 'conc-dup' }), messageId: 'dup-concurrent' }])),
    );
    const statuses = results.map((r) => r.body.results[0].status);
    const stored = statuses.filter((s) => s === 'stored').length;
    if (engineException(t, engine, 'duplicate-status')) {
      // One `stored` per batch that carried the id (copies within a batch are `duplicate`).
      assert.ok(stored >= 1, `statuses: ${statuses.join(',')}`);
      assert.equal(stored + statuses.filter((s) => s === 'duplicate').length, attempts, `statuses: ${statuses.join(',')}`);
      if (engineException(t, engine, 'insert-id-dedup')) assert.equal(await storedCopies(server, 'dup-concurrent'), stored, 'one copy stored per batch');
    } else {
      assert.equal(stored, 1, `statuses: ${statuses.join(',')}`);
      assert.equal(statuses.filter((s) => s === 'duplicate').length, attempts - 1);
    }
    assert.equal(await countRows(server.url, 'device_id=conc-dup'), 1);
  });

  it('stores one row when a batch repeats a message_id', async () => {
    const res = await publish(server.url, 'sensor_readings', [
      { data: reading(1, { device_id: 'batch-dup' }), messageId: 'b-1' },
      { data: reading(2, { device_id: 'batch-dup' }), messageId: 'b-2' },
      { data: reading(3, { device_id: 'batch-dup' }), messageId: 'b-1' },
    ]);
    assert.deepEqual(res.body.results.map((r: { status: string }) => r.status), ['stored', 'stored', 'duplicate']);
    assert.equal(await countRows(server.url, 'device_id=batch-dup'), 2);
  });

  it('gives every message without a caller id a distinct id', async () => {
    const res = await publish(server.url, 'sensor_readings', Array.from({ length: 200 }, (_, i) => ({ data: reading(i, { device_id: 'auto-ids' }) })));
    assert.equal(new Set(res.body.messageIds).size, 200);
    assert.equal(await countRows(server.url, 'device_id=auto-ids'), 200);
  });

  itSentBoundedQueries(engine, () => server);
});
