/**
 * Ingest benchmarks of the embedded default, each against a baseline measured in the same run:
 *
 * 1. durable ingest through batched HTTP publish (1,000 messages per request), against the raw
 *    DuckDB Appender rate for the same rows (typed values appended to the same table, one flush)
 *    and against the engine's own limit, DuckDB's native bulk load of the same messages
 *    (`read_json` of them as NDJSON into the same table, one transaction; bench/bulk.ts);
 * 2. durable ingest of one message per request (the Pub/Sub push shape) with 64 and with 1000
 *    requests in flight, against a bare Fastify route that answers a fixed body;
 * 3. publish → queryable latency at half of the rate found in (2). The publish answer comes
 *    after the commit (ack-after-commit), so its latency is the publish → queryable time;
 * 4. the same at half of the batched maximum found in (1), 100 messages per request, sent at
 *    evenly spaced times (open loop).
 *
 * Usage: npm run bench -- ingest [--full]   (BENCH_PROFILE=short|full)
 */
import { join } from 'node:path';
import autocannon from 'autocannon';
import { DuckDBInstance, DuckDBTimestampValue } from '@duckdb/node-api';
import { parseJson } from '../src/core/json.js';
import { ENVELOPE_FIELDS, loadStreams } from '../src/core/schema.js';
import { compileValidator } from '../src/core/validate.js';
import { DuckDBWarehouse } from '../src/warehouse/duckdb/index.js';
import { columnWriter } from '../src/warehouse/duckdb/types.js';
import { type ChildServer, demoMessage, exitOnRegressions, fmt, gate, median, percentile, profile, report, ROOT, startChild, startTributary, tempDir } from './lib.js';
import { fixedRate } from './load.js';
import { nativeBulkRate, writeNdjson } from './bulk.js';

const P = profile();
const RUNS = P === 'full' ? 3 : 1;
const APPENDER_ROWS = P === 'full' ? 1_000_000 : 200_000;
const BATCHED_SECONDS = P === 'full' ? 120 : 10;
const SINGLE_SECONDS = P === 'full' ? 20 : 5;
/** Gross-regression floor of batched ingest / native bulk load: it measured 0.29 to 0.44 (short, 2026-12-03 morning), 0.57 to 0.61 since publish answers are not compressed. */
const BULK_FLOOR = 0.1;

/** Raw Appender rows/s: the same rows, pre-validated, appended to a table like ours, one flush. */
async function rawAppenderRate(dir: string, run: number): Promise<number> {
  const streams = await loadStreams(join(ROOT, 'streams'));
  const stream = streams.get('sensor_readings');
  const path = join(dir, `raw-${run}.duckdb`);
  // The table is created by the warehouse itself, so the baseline writes the very same schema.
  const w = await DuckDBWarehouse.open({ path });
  await w.init([stream]);
  await w.close();
  const validate = compileValidator(stream);
  const values = Array.from({ length: APPENDER_ROWS }, (_, i) => validate(parseJson(JSON.stringify(demoMessage(i)))));
  const writers = stream.fields.map(columnWriter);
  const instance = await DuckDBInstance.create(path);
  const c = await instance.connect();
  const started = performance.now();
  const a = await c.createAppender('sensor_readings');
  const base = BigInt(Date.now()) * 1000n;
  for (let i = 0; i < values.length; i++) {
    a.appendVarchar(String(i));
    a.appendTimestamp(new DuckDBTimestampValue(base + BigInt(i)));
    a.appendTimestamp(new DuckDBTimestampValue(base + BigInt(i)));
    a.appendVarchar('{}');
    a.appendNull();
    const v = values[i]!;
    for (let f = 0; f < writers.length; f++) writers[f]!(a, v[stream.fields[f]!.name] ?? null);
    a.endRow();
  }
  a.flushSync();
  a.closeSync();
  const seconds = (performance.now() - started) / 1000;
  c.closeSync();
  instance.closeSync();
  void ENVELOPE_FIELDS;
  return APPENDER_ROWS / seconds;
}

function pubsubBody(from: number, n: number): string {
  return JSON.stringify({ messages: Array.from({ length: n }, (_, i) => ({ data: Buffer.from(JSON.stringify(demoMessage(from + i))).toString('base64') })) });
}

/** Durable rows/s through `POST /messages` with 1,000 messages per request, `clients` in parallel. */
async function batchedHttpRate(server: ChildServer, seconds: number, clients = 2): Promise<number> {
  const bodies = Array.from({ length: 8 }, (_, b) => pubsubBody(b * 1000, 1000));
  const url = `${server.url}/v1/streams/sensor_readings/messages`;
  let stored = 0;
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let k = c; performance.now() < deadline; k += clients) {
        const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bodies[k % bodies.length]! });
        const json = (await res.json()) as { counts?: { stored: number } };
        if (res.status !== 200) throw new Error(`publish answered ${res.status}: ${JSON.stringify(json)}`);
        stored += json.counts!.stored;
      }
    }),
  );
  return stored / ((performance.now() - started) / 1000);
}

async function cannon(opts: autocannon.Options): Promise<autocannon.Result> {
  // autocannon's 10 s default timeout counted 84 errors in one full run at 1000 in flight, while
  // the server's own histogram put every request it answered under 250 ms in such runs: the slow
  // part was opening 1000 connections at once on a loaded machine (1 s and 3 s steps, like SYN
  // retries). A longer timeout keeps those out of the error count; a real failure still counts.
  const result = await autocannon({ timeout: 30, ...opts });
  if (result.errors > 0 || result.non2xx > 0) throw new Error(`${opts.url}: ${result.errors} errors, ${result.non2xx} non-2xx answers`);
  return result;
}

const SINGLE = JSON.stringify({ messages: [{ data: Buffer.from(JSON.stringify(demoMessage(1))).toString('base64') }] });

async function singleRate(url: string, seconds: number, connections: number): Promise<number> {
  const r = await cannon({ url: `${url}/v1/streams/sensor_readings/messages`, method: 'POST', headers: { 'content-type': 'application/json' }, body: SINGLE, connections, duration: seconds });
  return r.requests.average;
}

/**
 * Requests in flight for the one-message figure. Pub/Sub pushes to one Cloud Run instance with
 * up to its concurrency setting (at most 1000) in flight; the figure is also printed at 64.
 */
const IN_FLIGHT = [64, 1000];

async function main(): Promise<void> {
  process.stdout.write(`# ingest benchmarks, profile ${P} (${RUNS} run${RUNS > 1 ? 's' : ''} each, medians), node ${process.version}\n`);
  const { dir, cleanup } = await tempDir();
  try {
    // 1. Batched durable ingest vs the raw Appender.
    const raw: number[] = [];
    const bulk: number[] = [];
    const batched: number[] = [];
    let peak = 0;
    const ndjson = join(dir, 'msgs.ndjson');
    const ndjsonBytes = await writeNdjson(ndjson, APPENDER_ROWS);
    for (let r = 0; r < RUNS; r++) {
      raw.push(await rawAppenderRate(dir, r));
      bulk.push((await nativeBulkRate(dir, r, ndjson)).rowsPerSecond);
      const server = await startTributary(join(dir, `batched-${r}`));
      try {
        batched.push(await batchedHttpRate(server, BATCHED_SECONDS));
        peak = Math.max(peak, server.peakRssMiB());
      } finally {
        await server.stop();
      }
    }
    const batchedMax = median(batched);
    report('baseline: raw DuckDB Appender, same rows (rows/s)', fmt(median(raw)));
    report(`durable ingest, HTTP 1,000 msgs/request, ${BATCHED_SECONDS}s (rows/s)`, fmt(median(batched)), `peak RSS ${fmt(peak)} MiB`);
    report('  ratio to raw Appender (target >= 0.50)', fmt(median(batched) / median(raw), 2));
    gate('batched ingest / raw Appender', median(batched) / median(raw), 0.3);
    report('baseline: native bulk load, read_json, same msgs (rows/s)', fmt(median(bulk)), `${fmt(APPENDER_ROWS)} msgs, ${fmt(ndjsonBytes / 1e6, 1)} MB NDJSON; same DDL + index + file settings, 1 transaction`);
    report('  ratio to native bulk load (target >= 0.50)', fmt(median(batched) / median(bulk), 2));
    gate('batched ingest / native bulk load', median(batched) / median(bulk), BULK_FLOOR);

    // 2. One message per request vs a bare Fastify route, at two levels of concurrency.
    let single1000 = 0;
    for (const connections of IN_FLIGHT) {
      const bare: number[] = [];
      const single: number[] = [];
      for (let r = 0; r < RUNS; r++) {
        const b = await startChild([join(ROOT, 'dist', 'bench', 'servers', 'bare-fastify.js')]);
        try {
          bare.push(await singleRate(b.url, SINGLE_SECONDS, connections));
        } finally {
          await b.stop();
        }
        const server = await startTributary(join(dir, `single-${connections}-${r}`));
        try {
          single.push(await singleRate(server.url, SINGLE_SECONDS, connections));
          peak = Math.max(peak, server.peakRssMiB());
        } finally {
          await server.stop();
        }
      }
      report(`baseline: bare Fastify route, ${connections} in flight (req/s)`, fmt(median(bare)));
      report(`durable ingest, 1 message/request, ${connections} in flight (req/s)`, fmt(median(single)));
      report(`  ratio to bare Fastify${connections === 1000 ? ' (target >= 0.50)' : ''}`, fmt(median(single) / median(bare), 2));
      if (connections === 1000) single1000 = median(single);
      gate(`one message per request, ${connections} in flight / bare Fastify`, median(single) / median(bare), connections === 1000 ? 0.12 : 0.03);
    }

    // 3. Publish -> queryable latency at half the 1000-in-flight maximum, and the same load
    // shape against the bare route. autocannon's overallRate sends each connection's share of a
    // second back to back when the second starts, so this is a burst of up to 1000 requests in
    // flight each second, with a latency tail of its own that the baseline shows. (A fetch-based
    // open loop, as in step 4, cannot send thousands of requests per second here.)
    const rate = Math.max(1, Math.floor(single1000 / 2));
    const shape = { method: 'POST' as const, headers: { 'content-type': 'application/json' }, body: SINGLE, connections: 1000, overallRate: rate, duration: SINGLE_SECONDS * 2 };
    const bareServer = await startChild([join(ROOT, 'dist', 'bench', 'servers', 'bare-fastify.js')]);
    let bareLatency: autocannon.Result['latency'];
    try {
      bareLatency = (await cannon({ url: `${bareServer.url}/v1/streams/sensor_readings/messages`, ...shape })).latency;
    } finally {
      await bareServer.stop();
    }
    const server = await startTributary(join(dir, 'latency'));
    try {
      const r = await cannon({ url: `${server.url}/v1/streams/sensor_readings/messages`, ...shape });
      report(`baseline: bare Fastify, same load shape: p50 / p99 / p99.9 (ms)`, `${bareLatency.p50} / ${bareLatency.p99} / ${bareLatency.p99_9}`);
      report(`publish -> queryable at ${fmt(rate)} msg/s, bursts: p50 / p99 / p99.9 (ms)`, `${r.latency.p50} / ${r.latency.p99} / ${r.latency.p99_9}`, "the shape's own tail (bare Fastify's, above); the targets are the paced figure's");
    } finally {
      await server.stop();
    }

    // 4. Publish -> queryable at half the batched maximum, in requests of 100 messages sent at
    // evenly spaced times (an open loop, bench/load.ts), each timed from when it was due: the
    // shape of a publisher that batches. (autocannon's overallRate would send each connection's
    // share of a second back to back at the start of the second.)
    const perRequest = 100;
    const requestRate = Math.max(1, Math.floor(batchedMax / 2 / perRequest));
    const batchedServer = await startTributary(join(dir, 'latency-batched'));
    try {
      const body = pubsubBody(0, perRequest);
      const next = () => ({ url: `${batchedServer.url}/v1/streams/sensor_readings/messages`, init: { method: 'POST', headers: { 'content-type': 'application/json' }, body } });
      await fixedRate(next, requestRate, 1);
      const r = await fixedRate(next, requestRate, SINGLE_SECONDS * 2);
      const q = (p: number) => fmt(percentile(r.latencies, p));
      report(`publish -> queryable at ${fmt(requestRate * perRequest)} msg/s in ${perRequest}s, paced: p50 / p99 / p99.9 (ms)`, `${q(50)} / ${q(99)} / ${q(99.9)}`, `targets: p99 <= 100, p99.9 <= 500; ${r.errors} errors`);
    } finally {
      await batchedServer.stop();
    }
  } finally {
    await cleanup();
  }
}

await main();
exitOnRegressions();
