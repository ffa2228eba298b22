/**
 * Reads first (src/warehouse/duckdb/pool.ts `settled`, driver.ts `write`): a write that would
 * start while reads are in progress waits for them, up to `readPriorityMs`, on a real DuckDB.
 * Reads are held open by the test (a read's function awaits a promise the test resolves), so the
 * order of events is decided by the test, not by timing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import type { StoredRow } from '../../src/core/message.js';
import { parseStreamDefinition } from '../../src/core/schema.js';
import { DuckDBDriver } from '../../src/warehouse/duckdb/driver.js';
import { ConnectionPool } from '../../src/warehouse/duckdb/pool.js';

const STREAM = parseStreamDefinition({ name: 'prio', fields: [{ name: 'v', type: 'INT64' }] }, 'prio');

function rows(from: number, n: number): StoredRow[] {
  return Array.from({ length: n }, (_, i) => ({
    messageId: `m-${from + i}`,
    publishTime: 1_795_000_000_000_000n + BigInt(from + i),
    attributes: {},
    orderingKey: null,
    values: { v: from + i },
    payload: Buffer.from('{}'),
  }));
}

/** A promise and its resolver. */
function latch(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

describe('ConnectionPool.settled', () => {
  it('resolves at once with no use in progress, after the last use ends, or at its bound', async () => {
    const instance = await DuckDBInstance.create(':memory:');
    const pool = new ConnectionPool([await instance.connect()]);
    try {
      const events: string[] = [];
      await pool.settled(60_000);
      events.push('idle: settled');
      // Two uses of one connection: the second waits for it, and counts as in use meanwhile.
      const first = latch();
      const second = latch();
      const a = pool.use(async () => first.promise.then(() => events.push('first done')));
      const b = pool.use(async () => second.promise.then(() => events.push('second done')));
      assert.equal(pool.inUse, 2);
      const settled = pool.settled(60_000).then(() => events.push('settled'));
      first.open();
      await a;
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(events, ['idle: settled', 'first done'], 'a use still waits for its connection');
      second.open();
      await Promise.all([b, settled]);
      assert.deepEqual(events, ['idle: settled', 'first done', 'second done', 'settled']);
      assert.equal(pool.inUse, 0);
      // Bounded: a use that does not end does not hold settled() past maxMs.
      const held = latch();
      const c = pool.use(async () => held.promise);
      const started = performance.now();
      await pool.settled(30);
      assert.ok(performance.now() - started >= 25, 'waited for the bound');
      assert.equal(pool.inUse, 1);
      held.open();
      await c;
      // A use that fails still counts as ended.
      await assert.rejects(pool.use(async () => Promise.reject(new Error('boom'))), /boom/);
      assert.equal(pool.inUse, 0);
    } finally {
      pool.closeAll();
      instance.closeSync();
    }
  });
});

describe('DuckDB writes wait for the reads in progress', () => {
  const hooks = { floor: () => 0n, committed: () => undefined };

  it('a write commits after the read that was running when it came, and is then visible', async () => {
    const driver = await DuckDBDriver.open({ path: ':memory:', readPriorityMs: 60_000 });
    try {
      const s = await driver.compile(STREAM);
      const order: string[] = [];
      const release = latch();
      let before = -1;
      const read = driver.readWith(async (run) => {
        await release.promise;
        before = Number((await run(`SELECT count(*) FROM ${s.table} WHERE v >= $1`, [0]))[0]![0] as bigint);
        order.push('read done');
      });
      const write = driver.write(s, { rows: rows(0, 3), deadLetters: [], ingestTime: 1_795_000_000_000_000n }, hooks).then((r) => {
        order.push('write committed');
        return r;
      });
      // The write is queued behind the read: give it every chance to run first.
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
      assert.deepEqual(order, []);
      release.open();
      const [, result] = await Promise.all([read, write]);
      assert.deepEqual(order, ['read done', 'write committed']);
      assert.equal(before, 0, 'the read ran before the write');
      assert.equal(result.inserted.size, 3);
      const after = await driver.read(`SELECT count(*) FROM ${s.table} WHERE v >= $1`, [0]);
      assert.equal(Number(after[0]![0] as bigint), 3);
    } finally {
      await driver.close();
    }
  });

  it('waits no longer than readPriorityMs, and 0 does not wait', async () => {
    for (const readPriorityMs of [40, 0]) {
      const driver = await DuckDBDriver.open({ path: ':memory:', readPriorityMs });
      try {
        const s = await driver.compile(STREAM);
        const release = latch();
        const read = driver.readWith(async () => release.promise);
        const started = performance.now();
        const result = await driver.write(s, { rows: rows(10, 2), deadLetters: [], ingestTime: 1_795_000_000_000_000n }, hooks);
        const waited = performance.now() - started;
        assert.equal(result.inserted.size, 2, 'committed while the read is still open');
        if (readPriorityMs > 0) assert.ok(waited >= readPriorityMs - 5, `waited ${waited.toFixed(1)} ms for the read`);
        release.open();
        await read;
      } finally {
        await driver.close();
      }
    }
  });
});
