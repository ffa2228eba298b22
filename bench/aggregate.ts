/**
 * Aggregate API benchmark on generated data sets (bench/generate.ts, rows spread over 24 h):
 * `GET /v1/streams/sensor_readings/aggregate?interval=1m&metric=count,avg:temperature_c` over the
 * full 24 hours (1,440 buckets), against a bare Fastify route that runs the same raw SQL
 * directly in DuckDB per request on the same file, read-only (bench/servers/raw-aggregate.ts).
 *
 * The adapter answers that query from its minute rollups (src/warehouse/duckdb/rollup.ts). The
 * same query with a filter the rollups cannot serve (`device_id__prefix=dev-`, which every row
 * matches) shows the scan path, against the raw SQL with the same filter.
 *
 * Figures, for each pair: throughput with 4 requests in flight (closed loop), and p50/p95
 * latency with one request in flight (closed loop: the service time a dashboard sees); the
 * ratios; and the Tributary server's peak RSS.
 *
 * Usage: npm run bench -- aggregate [--full]   (short: 100k rows; full: 1M and 10M rows, 3 runs)
 */
import { join } from 'node:path';
import { generate } from './generate.js';
import { closedLoop, type LoadResult, serverNodeFlags } from './load.js';
import { type ChildServer, exitOnRegressions, fmt, gate, median, percentile, profile, report, ROOT, startChild, tempDir } from './lib.js';

const P = profile();
const SIZES = P === 'full' ? [1_000_000, 10_000_000] : [100_000];
const SECONDS = P === 'full' ? 10 : 4;
const RUNS = P === 'full' ? 3 : 1;
const THROUGHPUT_CONNECTIONS = 4;
const END = BigInt(Date.UTC(2026, 10, 24, 12)) * 1000n;
const TO = new Date(Number(END / 1000n)).toISOString();
const FROM = new Date(Number(END / 1000n) - 86_400_000).toISOString();
const RANGE = `from=${encodeURIComponent(FROM)}&to=${encodeURIComponent(TO)}`;
const API_PATH = `/v1/streams/sensor_readings/aggregate?${RANGE}&interval=1m&metric=count,avg:temperature_c`;
const RAW_PATH = `/aggregate?${RANGE}`;
const API_SCAN_PATH = `${API_PATH}&device_id__prefix=dev-`;
const RAW_SCAN_PATH = `${RAW_PATH}&prefix=dev-`;

/** Every answer must carry the 1,440 one-minute buckets. */
function check(_status: number, body: string): string | undefined {
  const rows = (JSON.parse(body) as { rows?: unknown[] }).rows;
  return rows?.length === 1440 ? undefined : `expected 1440 buckets, got ${rows?.length}`;
}

interface Figures {
  rate: number;
  p50: number;
  p95: number;
}

async function measure(server: ChildServer, path: string): Promise<Figures> {
  const ok = (r: LoadResult, what: string): LoadResult => {
    if (r.errors > 0) throw new Error(`${server.url}${path} (${what}): ${r.errors} errors, first: ${r.firstError}`);
    return r;
  };
  ok(await closedLoop(() => ({ url: server.url + path }), 1, 1, check), 'warm-up');
  const t = ok(await closedLoop(() => ({ url: server.url + path }), THROUGHPUT_CONNECTIONS, SECONDS, check), 'throughput');
  const l = ok(await closedLoop(() => ({ url: server.url + path }), 1, SECONDS, check), 'latency');
  return { rate: t.latencies.length / t.seconds, p50: percentile(l.latencies, 50), p95: percentile(l.latencies, 95) };
}

async function main(): Promise<void> {
  process.stdout.write(`# aggregate benchmark (1-minute buckets over 24 h, count + avg:temperature_c), profile ${P} (${RUNS} run${RUNS > 1 ? 's' : ''} each, medians), node ${process.version}\n`);
  const { dir, cleanup } = await tempDir();
  try {
    for (const size of SIZES) {
      const dataDir = join(dir, `d${size}`);
      const took = await generate(dataDir, size, END);
      report(`data set: ${fmt(size)} rows generated`, `${fmt(took, 1)} s`);
      const raw: Figures[] = [];
      const api: Figures[] = [];
      const rawScan: Figures[] = [];
      const apiScan: Figures[] = [];
      let peak = 0;
      for (let r = 0; r < RUNS; r++) {
        const base = await startChild([join(ROOT, 'dist', 'bench', 'servers', 'raw-aggregate.js'), dataDir]);
        try {
          raw.push(await measure(base, RAW_PATH));
          rawScan.push(await measure(base, RAW_SCAN_PATH));
        } finally {
          await base.stop();
        }
        const server = await startChild([...serverNodeFlags(), join(ROOT, 'bin', 'tributary.js'), 'dev', '--port', '0', '--data-dir', dataDir, '--log-level', 'warn']);
        try {
          api.push(await measure(server, API_PATH));
          apiScan.push(await measure(server, API_SCAN_PATH));
          peak = Math.max(peak, server.peakRssMiB());
        } finally {
          await server.stop();
        }
      }
      const m = (xs: Figures[], k: keyof Figures) => median(xs.map((x) => x[k]));
      report(`  baseline: raw SQL in DuckDB per request, ${THROUGHPUT_CONNECTIONS} in flight (req/s)`, fmt(m(raw, 'rate'), 1));
      report(`  aggregate API, ${THROUGHPUT_CONNECTIONS} in flight (req/s)`, fmt(m(api, 'rate'), 1), `peak RSS ${fmt(peak)} MiB (target <= 512)`);
      report('  throughput ratio to raw SQL', fmt(m(api, 'rate') / m(raw, 'rate'), 2));
      report('  baseline: raw SQL, 1 in flight: p50 / p95 (ms)', `${fmt(m(raw, 'p50'), 1)} / ${fmt(m(raw, 'p95'), 1)}`);
      report('  aggregate API, 1 in flight: p50 / p95 (ms)', `${fmt(m(api, 'p50'), 1)} / ${fmt(m(api, 'p95'), 1)}`, `target p95 <= 50 at 10M rows${m(api, 'p95') <= 50 ? '' : ' (over 50 here)'}`);
      report('  p95 ratio raw / API', fmt(m(raw, 'p95') / m(api, 'p95'), 2));
      report('  baseline: raw SQL + prefix filter, in flight 4 (req/s); 1 in flight p50 / p95 (ms)', `${fmt(m(rawScan, 'rate'), 1)}; ${fmt(m(rawScan, 'p50'), 1)} / ${fmt(m(rawScan, 'p95'), 1)}`);
      report('  API + prefix filter (scan path), same', `${fmt(m(apiScan, 'rate'), 1)}; ${fmt(m(apiScan, 'p50'), 1)} / ${fmt(m(apiScan, 'p95'), 1)}`);
      report('  scan path: throughput ratio; p95 ratio raw / API', `${fmt(m(apiScan, 'rate') / m(rawScan, 'rate'), 2)}; ${fmt(m(rawScan, 'p95') / m(apiScan, 'p95'), 2)}`);
      if (P === 'short') {
        // Measured 1.3 to 1.9 (throughput) and 1.9 to 3.0 (p95) at 100k rows, load average 3 to 7.
        gate('aggregate: throughput vs raw SQL', m(api, 'rate') / m(raw, 'rate'), 0.35);
        gate('aggregate: p95 raw / API', m(raw, 'p95') / m(api, 'p95'), 0.35);
        gate('aggregate, scan path: throughput vs raw SQL', m(apiScan, 'rate') / m(rawScan, 'rate'), 0.35);
      }
    }
  } finally {
    await cleanup();
  }
  exitOnRegressions();
}

await main();
