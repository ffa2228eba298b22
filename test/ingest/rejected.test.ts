/** Rows the warehouse refuses permanently become WAREHOUSE_REJECTED dead letters; their batch-mates are stored. */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type Warehouse, WarehouseError } from '../../src/core/ports.js';
import { parseStreamDefinition } from '../../src/core/schema.js';
import { Ingest } from '../../src/ingest/ingest.js';
import { DuckDBWarehouse } from '../../src/warehouse/duckdb/index.js';
import { reading, ROOT } from '../helpers.js';
import { queryDeadLetters, queryRows } from '../warehouse/api-form.js';

const sensor = parseStreamDefinition(JSON.parse(await readFile(join(ROOT, 'streams', 'sensor_readings.json'), 'utf8')), 'sensor_readings.json');

describe('rows refused by the warehouse', () => {
  it('are isolated by bisection: one bad row in 64 costs a dozen writes, not 64', async () => {
    const duck = await DuckDBWarehouse.open({ path: ':memory:', threads: 1 });
    await duck.init([sensor]);
    let writes = 0;
    const w: Warehouse = Object.create(duck) as Warehouse;
    w.write = async (stream, batch) => {
      writes++;
      if (batch.rows.some((r) => r.values.device_id === 'bad')) throw new WarehouseError('value out of range for the engine', false);
      return duck.write(stream, batch);
    };
    const ingest = new Ingest({ warehouse: w, options: { batchMaxRows: 1000, batchLingerMs: 0, maxMessageBytes: 1024 * 1024, writeRetryMs: 100 } });
    const n = 64;
    const msgs = Array.from({ length: n }, (_, i) => ({
      messageId: `r-${i}`,
      publishTime: 1_795_000_000_000_000n + BigInt(i),
      data: Buffer.from(JSON.stringify(reading(i, { device_id: i === 37 ? 'bad' : 'good' }))),
      attributes: {},
      orderingKey: null,
    }));
    const outcomes = await ingest.ingest(sensor, msgs);
    assert.equal(outcomes[37]!.status, 'dead_lettered');
    assert.equal(outcomes[37]!.reason, 'WAREHOUSE_REJECTED');
    assert.match(outcomes[37]!.detail ?? '', /out of range/);
    assert.equal(outcomes.filter((o) => o.status === 'stored').length, n - 1);
    assert.ok(writes <= 2 * Math.log2(n) + 3, `${writes} writes`);
    const dl = await queryDeadLetters(duck, sensor, { limit: 10 });
    assert.deepEqual(dl.map((d) => [d.message_id, d.reason]), [['r-37', 'WAREHOUSE_REJECTED']]);
    const rows = await queryRows(duck, sensor, { filters: [], order: 'asc', limit: 1000 });
    assert.equal(rows.length, n - 1);
    await duck.close();
  });
});
