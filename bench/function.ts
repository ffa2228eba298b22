/**
 * Cloud Function path: the ingest function on the real Functions Framework server
 * (bench/servers/function.ts, a child process) writing to the goccy BigQuery emulator (another
 * child process), under 80 concurrent deliveries: real binary-mode CloudEvent Pub/Sub payloads
 * (what Eventarc POSTs), one message each, closed loop (each of the 80 senders posts its next
 * delivery as soon as the previous one is answered), for a bounded time.
 *
 * Figures: rows per warehouse write (counted by a wrapped warehouse in the server), deliveries/s
 * and delivery → written latency (the function answers 2xx only after the commit), against the
 * same function with batching disabled (batch max rows 1, linger 0: one write per message),
 * measured in the same run; and, for comparison, batched without regrouping (--batch-regroup-ms 0). Each run gets a fresh emulator, so both start from empty tables.
 *
 * The emulator stores tables in SQLite behind a Go HTTP server: its insertAll time, not the
 * function, bounds both figures (see the per-write time printed).
 *
 * Usage: npm run bench -- function [--full]   (short: 8 s per run, 1 run; full: 30 s, 3 runs)
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startBigQueryEmulator } from '../test/emulators.js';
import { binaryCloudEvent } from '../test/pubsub-payloads.js';
import { GCP_BATCH_REGROUP_MS } from '../src/runtime.js';
import { serverNodeFlags } from './load.js';
import type { FunctionStats } from './servers/function.js';
import { demoMessage, exitOnRegressions, fmt, gate, median, percentile, profile, report, ROOT, startChild, tempDir } from './lib.js';

const P = profile();
const RUNS = P === 'full' ? 3 : 1;
const SECONDS = P === 'full' ? 30 : 8;
const WARMUP_SECONDS = 1;
const IN_FLIGHT = 80;
const PROJECT = 'tributary-bench';
const TOPIC = 'trib-sensor_readings';

interface RunResult {
  deliveriesPerSecond: number;
  p50: number;
  p99: number;
  errors: number;
  stats: FunctionStats;
}

/** 80 closed-loop senders for `seconds` (after a warm-up whose latencies are not kept). */
async function load(url: string, seconds: number, tag: string): Promise<{ latencies: number[]; errors: number; seconds: number }> {
  const latencies: number[] = [];
  let errors = 0;
  let seq = 0;
  const warmupEnd = performance.now() + WARMUP_SECONDS * 1000;
  const deadline = warmupEnd + seconds * 1000;
  let measuredFrom = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (performance.now() < deadline) {
        const i = seq++;
        const req = binaryCloudEvent(PROJECT, TOPIC, { id: `${tag}-${i}`, data: demoMessage(i), publishTime: new Date().toISOString() });
        const started = performance.now();
        let ok = false;
        try {
          const res = await fetch(url + req.path, { method: 'POST', headers: req.headers, body: req.body });
          await res.arrayBuffer();
          ok = res.status >= 200 && res.status < 300;
        } catch {
          ok = false;
        }
        const ended = performance.now();
        if (started >= warmupEnd) {
          if (measuredFrom === 0) measuredFrom = started;
          if (ok) latencies.push(ended - started);
          else errors++;
        }
      }
    }),
  );
  return { latencies, errors, seconds: (performance.now() - (measuredFrom || warmupEnd)) / 1000 };
}

async function runOnce(dir: string, name: string, maxRows: number, lingerMs: number, regroupMs: number): Promise<RunResult> {
  mkdirSync(join(dir, name));
  const bq = await startBigQueryEmulator(join(dir, name), PROJECT);
  const statsFile = join(dir, `${name}.stats.json`);
  try {
    const server = await startChild([...serverNodeFlags(), join(ROOT, 'dist', 'bench', 'servers', 'function.js'), bq.url, PROJECT, 'bench', String(maxRows), String(lingerMs), String(regroupMs), statsFile]);
    let l: Awaited<ReturnType<typeof load>>;
    try {
      l = await load(server.url, SECONDS, name);
    } finally {
      await server.stop();
    }
    const stats = JSON.parse(readFileSync(statsFile, 'utf8')) as FunctionStats;
    return { deliveriesPerSecond: l.latencies.length / l.seconds, p50: percentile(l.latencies, 50), p99: percentile(l.latencies, 99), errors: l.errors, stats };
  } finally {
    await bq.stop();
  }
}

function summary(label: string, runs: RunResult[]): { rate: number; rowsPerWrite: number } {
  const rate = median(runs.map((r) => r.deliveriesPerSecond));
  const rowsPerWrite = median(runs.map((r) => r.stats.rows / Math.max(1, r.stats.writes)));
  const msPerWrite = median(runs.map((r) => r.stats.writeMs / Math.max(1, r.stats.writes)));
  const errors = runs.reduce((n, r) => n + r.errors + r.stats.refused, 0);
  report(`${label}: deliveries/s`, fmt(rate), `${errors} errors`);
  report(`  rows per warehouse write (avg; largest)`, `${fmt(rowsPerWrite, 1)}; ${Math.max(...runs.map((r) => r.stats.maxRows))}`, `${fmt(msPerWrite, 1)} ms per write (emulator insertAll)`);
  report(`  delivery -> written (2xx after commit): p50 / p99 (ms)`, `${fmt(median(runs.map((r) => r.p50)))} / ${fmt(median(runs.map((r) => r.p99)))}`);
  return { rate, rowsPerWrite };
}

async function main(): Promise<void> {
  process.stdout.write(`# Cloud Function benchmark (Functions Framework + BigQuery emulator, ${IN_FLIGHT} deliveries in flight, ${SECONDS} s), profile ${P} (${RUNS} run${RUNS > 1 ? 's' : ''} each, medians), node ${process.version}\n`);
  const { dir, cleanup } = await tempDir();
  try {
    const single: RunResult[] = [];
    const batched: RunResult[] = [];
    const noRegroup: RunResult[] = [];
    for (let r = 0; r < RUNS; r++) {
      single.push(await runOnce(dir, `single-${r}`, 1, 0, 0));
      // The deployed defaults: --batch-max-rows 1000, --batch-linger-ms 5, --batch-regroup-ms 40 (gcp mode).
      batched.push(await runOnce(dir, `batched-${r}`, 1000, 5, GCP_BATCH_REGROUP_MS));
      noRegroup.push(await runOnce(dir, `no-regroup-${r}`, 1000, 5, 0));
    }
    const base = summary('baseline: one write per message (batch max rows 1, linger 0)', single);
    summary('for comparison: batched without regrouping (--batch-regroup-ms 0)', noRegroup);
    const fn = summary(`function, batched (max rows 1000, linger 5 ms, regroup ${GCP_BATCH_REGROUP_MS} ms)`, batched);
    const ratio = fn.rate / base.rate;
    report('  throughput ratio to one write per message', fmt(ratio, 2));
    report('  rows per write (target >= 50)', fmt(fn.rowsPerWrite, 1), fn.rowsPerWrite >= 50 ? 'met' : 'missed');
    const p99 = median(batched.map((r) => r.p99));
    report('  p99 delivery -> written (target <= 250 ms)', fmt(p99), p99 <= 250 ? 'met' : 'missed');
    if (P === 'short') {
      // Measured 17 to 26 (throughput) and 38 (rows per write) on the shared 2-core machine.
      gate('function: throughput vs one write per message', ratio, 6);
      gate('function: rows per write vs one', fn.rowsPerWrite / base.rowsPerWrite, 12);
    }
  } finally {
    await cleanup();
  }
  exitOnRegressions();
}

await main();
