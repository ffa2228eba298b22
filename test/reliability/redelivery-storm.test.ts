/**
 * Redelivery storms: the same messages delivered many times, concurrently and out of order,
 * then checked through the real HTTP API: every message_id once in the rows (all pages) and in
 * the aggregates (count, count_distinct and sum of a numeric field over the distinct messages).
 *
 * - Cloud Function path (real Functions Framework server, CloudEvent binary and structured and
 *   legacy push payloads) with DuckDB behind it, and with the BigQuery emulator behind it (which
 *   ignores insertAll's insertId, so copies are really stored and reads must dedup).
 * - Embedded path: HTTP publishes of the same message ids, concurrent and shuffled.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { getJson, publish, reading, startTestServer, tempDir } from '../helpers.js';
import { assertExactlyOnce, type CloudRig, pool, rng, shuffle, startCloudRig, startFunctionServer, storm, stormMessages } from '../cloud-rig.js';

const SEED = Number(process.env.TRIBUTARY_STORM_SEED ?? Date.now() % 1_000_000);
const MESSAGES = 150;
const COPIES = 6;
const CONCURRENCY = 48;

function tally(statuses: number[]): string {
  const by = new Map<number, number>();
  for (const s of statuses) by.set(s, (by.get(s) ?? 0) + 1);
  return [...by].map(([s, n]) => `${n}x${s}`).join(' ');
}

describe(`redelivery storms (seed ${SEED}: TRIBUTARY_STORM_SEED)`, () => {
  describe('embedded server (DuckDB)', () => {
    let server: Awaited<ReturnType<typeof startTestServer>>;
    before(async () => {
      server = await startTestServer();
    });
    after(async () => {
      await server.stop();
    });

    it(`Functions Framework: ${MESSAGES} messages x ${COPIES} deliveries in 3 wire formats, ${CONCURRENCY} in flight, shuffled: once each in rows and aggregates`, async (t) => {
      const fn = await startFunctionServer('stormDuck', server.runtime);
      try {
        const messages = stormMessages('storm-fn-duck', MESSAGES);
        const started = performance.now();
        const statuses = await storm(fn.url, messages, COPIES, CONCURRENCY, rng(SEED));
        const ms = performance.now() - started;
        assert.equal(statuses.length, MESSAGES * COPIES);
        assert.deepEqual(new Set(statuses), new Set([204]), `every delivery acknowledged: ${tally(statuses)}`);
        const { rows, pages } = await assertExactlyOnce(server.url, 'storm-fn-duck', messages);
        t.diagnostic(`DuckDB behind the function: ${statuses.length} deliveries of ${MESSAGES} messages in ${ms.toFixed(0)} ms (${tally(statuses)}), ${rows} rows over ${pages} pages, aggregates count ${MESSAGES}`);
      } finally {
        await fn.close();
      }
    });

    it(`HTTP publish: the same ${MESSAGES} message ids in ${COPIES} shuffled batches each, ${CONCURRENCY / 2} publishes in flight: once each in rows and aggregates`, async (t) => {
      const random = rng(SEED + 1);
      const tag = 'storm-http';
      const n = MESSAGES;
      // Batches of 1 to 20 ids drawn with repetition (a batch may repeat an id), until every id went COPIES times.
      const pending = shuffle(Array.from({ length: n * COPIES }, (_, k) => k % n), random);
      const batches: number[][] = [];
      while (pending.length > 0) batches.push(pending.splice(0, 1 + Math.floor(random() * 20)));
      const results: Record<string, number> = {};
      await pool(CONCURRENCY / 2, batches.map((b) => async () => {
        const res = await publish(server.url, 'sensor_readings', b.map((i) => ({ data: reading(i, { device_id: tag, seq: i * 7 + 3 }), messageId: `${tag}-${i}` })));
        assert.equal(res.status, 200, JSON.stringify(res.body));
        for (const r of res.body.results as { status: string }[]) results[r.status] = (results[r.status] ?? 0) + 1;
      }));
      assert.deepEqual(results, { stored: n, duplicate: n * (COPIES - 1) }, 'exactly one publish stored each id');
      const messages = Array.from({ length: n }, (_, i) => ({ id: `${tag}-${i}`, data: { seq: i * 7 + 3 } }));
      const { rows, pages } = await assertExactlyOnce(server.url, tag, messages);
      t.diagnostic(`embedded HTTP publish: ${n * COPIES} copies in ${batches.length} publishes -> ${results.stored} stored, ${results.duplicate} duplicate; ${rows} rows over ${pages} pages, aggregates count ${n}`);
    });
  });

  describe('BigQuery emulator behind the function', () => {
    let tmp: { dir: string; cleanup: () => Promise<void> };
    let rig: CloudRig;
    before(async () => {
      tmp = await tempDir('tributary-storm-');
      rig = await startCloudRig(tmp.dir, { name: 'stormBigQuery', dataset: 'storm', writeRetryMs: 2000 });
    });
    after(async () => {
      await rig?.close();
      await tmp?.cleanup();
    });

    it(`Functions Framework: ${MESSAGES} messages x ${COPIES} deliveries, shuffled, ${CONCURRENCY} in flight: copies stored, yet once each in rows and aggregates`, async (t) => {
      const tag = 'storm-fn-bq';
      const messages = stormMessages(tag, MESSAGES);
      const started = performance.now();
      const statuses = await storm(rig.fnUrl, messages, COPIES, CONCURRENCY, rng(SEED + 2));
      const ms = performance.now() - started;
      assert.deepEqual(new Set(statuses), new Set([204]), `every delivery acknowledged: ${tally(statuses)}`);
      const raw = await rig.rawCopies(tag);
      // The emulator ignores insertId, so redeliveries that landed in different batches are stored
      // again: the reads below have real duplicates to hide (otherwise this test would prove nothing).
      assert.ok(raw > MESSAGES, `the storm stored copies (${raw} raw rows for ${MESSAGES} messages)`);
      const { rows, pages } = await assertExactlyOnce(rig.api.url, tag, messages);
      // Stream totals dedup too.
      const detail = await getJson(`${rig.api.url}/v1/streams/sensor_readings`);
      assert.equal(detail.body.rowCount, MESSAGES);
      t.diagnostic(`BigQuery emulator behind the function: ${statuses.length} deliveries in ${ms.toFixed(0)} ms (${tally(statuses)}), ${raw} raw rows in the table, ${rows} rows over ${pages} pages through the API, aggregates count ${MESSAGES}`);
    });
  });
});
