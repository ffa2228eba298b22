/**
 * Warehouse faults on the cloud path: a TCP fault proxy sits between the Cloud Function's
 * BigQuery client and the BigQuery emulator (the API reads from the emulator directly).
 *
 * - Slow: 2-3 s added to every BigQuery call. Every delivery is acknowledged, no write error,
 *   no duplicate in the API.
 * - Down mid-batch: while deliveries are in flight, the proxy first loses the answers of
 *   inserts BigQuery carried out (so redeliveries store real copies the reads must hide), then
 *   cuts every connection and resets new ones, later the emulator process itself is stopped and restarted on the same port and
 *   database file. A Pub/Sub-like redeliverer sends each message until the function answers
 *   2xx and never again after that (an ack). The function must answer 5xx (retryable), never
 *   2xx for a message it did not store: an acknowledged message that was not stored would be
 *   missing in the API at the end, since it is never redelivered.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../helpers.js';
import { assertExactlyOnce, type CloudRig, deliver, pool, rng, shuffle, startCloudRig, stormMessages, wireRequest } from '../cloud-rig.js';
import { type FaultProxy, startFaultProxy } from '../fault-proxy.js';
import type { WireMessage } from '../pubsub-payloads.js';

const SEED = Number(process.env.TRIBUTARY_FAULT_SEED ?? Date.now() % 1_000_000);
const WRITE_RETRY_MS = 1000;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Delivers each message until acknowledged (2xx), with backoff, at most `inFlight` requests at a time. */
function redeliverer(fnUrl: string, messages: readonly WireMessage[], inFlight: number, random: () => number) {
  const counts = { delivered: 0, ok: 0, serverError: 0, other: 0, redelivered: 0 };
  const acked = new Set<string>();
  const otherStatuses: number[] = [];
  let slots = inFlight;
  const waiting: (() => void)[] = [];
  const acquire = async () => {
    if (slots > 0) slots--;
    else await new Promise<void>((r) => waiting.push(r));
  };
  const release = () => {
    const w = waiting.shift();
    if (w) w();
    else slots++;
  };
  const one = async (m: WireMessage) => {
    let backoff = 100;
    for (let attempt = 0; ; attempt++) {
      await acquire();
      let status: number;
      try {
        status = await deliver(fnUrl, wireRequest(m, Math.floor(random() * 3)));
      } finally {
        release();
      }
      counts.delivered++;
      if (attempt > 0) counts.redelivered++;
      if (status >= 200 && status < 300) {
        counts.ok++;
        acked.add(m.id);
        return;
      }
      if (status >= 500) counts.serverError++;
      else {
        counts.other++;
        otherStatuses.push(status);
      }
      await new Promise((r) => setTimeout(r, backoff * (0.5 + random())));
      backoff = Math.min(backoff * 2, 1000);
    }
  };
  const done = Promise.all(shuffle([...messages], random).map(one));
  return { counts, acked, otherStatuses, done };
}

describe(`BigQuery slow, then down and restarted mid-batch, behind the Cloud Function (seed ${SEED}: TRIBUTARY_FAULT_SEED)`, () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let proxy: FaultProxy;
  let rig: CloudRig;
  const writeErrors = { retried: 0, gaveUp: 0 };

  before(async () => {
    tmp = await tempDir('tributary-faults-');
    rig = await startCloudRig(tmp.dir, {
      name: 'faultIngest',
      dataset: 'faults',
      writeRetryMs: WRITE_RETRY_MS,
      fnEndpoint: async (bqUrl) => {
        proxy = await startFaultProxy(bqUrl);
        return proxy.url;
      },
      onWriteError: (_err, willRetry) => (willRetry ? writeErrors.retried++ : writeErrors.gaveUp++),
    });
  });
  after(async () => {
    await rig?.close();
    await proxy?.close();
    await tmp?.cleanup();
  });

  it('a slow warehouse (1.2 to 2.4 s added to every BigQuery call) gives no error and no duplicate', async (t) => {
    const tag = 'slow';
    const messages = stormMessages(tag, 80);
    // 600 ms per chunk each way: 1.2 s per call when the request and the answer are one chunk
    // each, 2.4 s when headers and body travel apart (both happen, depending on timing).
    proxy.latencyMs = 600;
    const errorsBefore = { ...writeErrors };
    const latencies: number[] = [];
    const statuses: number[] = [];
    const random = rng(SEED);
    const started = performance.now();
    // Each message twice (a redelivery while the first is still being written), shuffled.
    const deliveries = shuffle(messages.flatMap((m) => [m, m]), random);
    await pool(40, deliveries.map((m) => async () => {
      const t0 = performance.now();
      statuses.push(await deliver(rig.fnUrl, wireRequest(m, Math.floor(random() * 3))));
      latencies.push(performance.now() - t0);
    }));
    const ms = performance.now() - started;
    proxy.latencyMs = 0;
    assert.deepEqual(new Set(statuses), new Set([204]), 'every delivery acknowledged');
    assert.deepEqual(writeErrors, errorsBefore, 'no write failed or was retried');
    assert.ok(pct(latencies, 50) >= 1100, `the warehouse was really slow (delivery p50 ${pct(latencies, 50).toFixed(0)} ms)`);
    const raw = await rig.rawCopies(tag);
    const { rows } = await assertExactlyOnce(rig.api.url, tag, messages);
    t.diagnostic(
      `slow BigQuery: ${statuses.length} deliveries of ${messages.length} messages in ${(ms / 1000).toFixed(1)} s, all 2xx, ` +
        `delivery p50 ${pct(latencies, 50).toFixed(0)} ms max ${Math.max(...latencies).toFixed(0)} ms, 0 write errors; ${raw} raw rows, ${rows} through the API`,
    );
  });

  it('answers lost, connections cut mid-batch, then the emulator stopped and restarted: 5xx while down, every message stored exactly once after redelivery', async (t) => {
    const tag = 'outage';
    const n = 240;
    const messages = stormMessages(tag, n);
    // Calls take a while, so that cuts and the stop land on requests in flight.
    proxy.latencyMs = 100;
    const errorsBefore = { ...writeErrors };
    const r = redeliverer(rig.fnUrl, messages, 32, rng(SEED + 1));
    const marks: string[] = [];
    const mark = (what: string) => marks.push(`${what} at ${r.counts.ok} acked/${r.counts.serverError} 5xx`);
    const faults = (async () => {
      // Fault 1: inserts are carried out but their answers are lost (the worst case for duplicates).
      await until('a sixth acknowledged', () => r.acked.size >= n / 6, 30_000);
      proxy.loseResponses = true;
      mark('answers lost');
      const lost5xx = r.counts.serverError;
      await until('5xx while answers are lost', () => r.counts.serverError > lost5xx, 10_000);
      proxy.loseResponses = false;
      mark(`answers back (${proxy.stats.lostResponses} lost)`);
      // Fault 2: network cut while inserts are in flight.
      await until('a third acknowledged', () => r.acked.size >= n / 3, 30_000);
      const cutConns = proxy.stats.cutConnections;
      proxy.cut();
      mark('cut');
      const serverErrors = r.counts.serverError;
      await until('5xx during the cut', () => r.counts.serverError > serverErrors, 10_000);
      await new Promise((res) => setTimeout(res, 1000));
      mark(`resumed (${proxy.stats.cutConnections - cutConns} connections cut)`);
      proxy.resume();
      // Fault 3: the emulator process stops mid-batch and comes back on the same database file.
      await until('half acknowledged', () => r.acked.size >= n / 2, 30_000);
      const before5xx = r.counts.serverError;
      await rig.bq.stop();
      mark('emulator stopped');
      await until('5xx while stopped', () => r.counts.serverError > before5xx, 10_000);
      await new Promise((res) => setTimeout(res, 500));
      await rig.bq.start();
      mark('emulator restarted');
    })();
    await Promise.all([faults, r.done]);
    proxy.latencyMs = 0;
    const { counts } = r;
    assert.deepEqual(r.otherStatuses, [], 'every refusal is a 5xx (retryable), none a 4xx or a failed connection');
    assert.equal(counts.ok, n, 'each message acknowledged once (the redeliverer never resends an acknowledged message)');
    assert.ok(counts.serverError > 0 && counts.redelivered === counts.serverError);
    assert.ok(writeErrors.gaveUp > errorsBefore.gaveUp, 'writes failed while the warehouse was away');
    const raw = await rig.rawCopies(tag);
    assert.ok(proxy.stats.lostResponses > 0 && raw > n, `inserts whose answer was lost were stored, and stored again on redelivery (${raw} raw rows)`);
    const { rows } = await assertExactlyOnce(rig.api.url, tag, messages);
    t.diagnostic(`faults: ${marks.join('; ')}`);
    t.diagnostic(
      `BigQuery cut + stopped/restarted mid-batch: ${n} messages, ${counts.delivered} delivered, ${counts.ok} 2xx, ${counts.serverError} 5xx, ` +
        `${counts.redelivered} redelivered, ${writeErrors.retried - errorsBefore.retried} write retries, ${writeErrors.gaveUp - errorsBefore.gaveUp} writes given up; ` +
        `${raw} raw rows in BigQuery, ${rows} stored through the API (once each, aggregates count ${n})`,
    );
  });
});
