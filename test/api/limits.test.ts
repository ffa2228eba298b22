/** A query the engine refuses for its data is a documented 422, not a 500. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { getJson, publish, reading, startTestServer } from '../helpers.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;

describe('engine refusals', () => {
  let server: Server;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.stop();
  });

  it('answers 422 QUERY_REJECTED when a NUMERIC sum leaves the type\'s range, and other metrics still work', async () => {
    const big = '99999999999999999999999999999.5';
    const res = await publish(server.url, 'sensor_readings', [{ data: reading(1, { energy_kwh: big }) }, { data: reading(2, { energy_kwh: big }) }]);
    assert.equal(res.body.counts.stored, 2);
    const sum = await getJson(`${server.url}/v1/streams/sensor_readings/aggregate?metric=sum:energy_kwh`);
    assert.equal(sum.status, 422);
    assert.equal(sum.body.error.code, 'QUERY_REJECTED');
    assert.ok(!/Out of Range Error|DuckDB|Overflow/.test(sum.body.error.message), 'engine internals stay in the log');
    const max = await getJson(`${server.url}/v1/streams/sensor_readings/aggregate?metric=max:energy_kwh,count`);
    assert.equal(max.status, 200);
    assert.deepEqual(max.body.rows, [{ max_energy_kwh: big, count: 2 }]);
  });
});
