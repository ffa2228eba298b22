/**
 * Tributary against what a user would write instead: the reference design rebuilt as a
 * competent Python developer would (bench/peer/app.py: FastAPI + uvicorn, one DuckDB file,
 * pydantic models), in a child process on 127.0.0.1, on the same messages and the same data set.
 * Each figure is measured on both in the same run, one after the other, never at once:
 *
 * 1. batched durable ingest: the bodies of bench/ingest.ts (1,000 messages each), 2 clients in a
 *    closed loop; the peer's batched endpoint validates them and writes them with `executemany`
 *    in one transaction; Tributary's `POST /v1/streams/sensor_readings/messages`;
 * 2. one message per request, 64 and 1000 in flight (autocannon): the peer's Pub/Sub push
 *    endpoint, one INSERT per message (a distinct messageId per request), against Tributary's
 *    publish of one message, as in bench/ingest.ts;
 * 3. the rows query on a generated data set (bench/generate.ts): last hour + one device_id,
 *    newest 100, 8 in flight (closed loop), the peer's parameterised
 *    `SELECT * ... ORDER BY publish_time DESC LIMIT 100` against Tributary's rows API;
 * 4. the aggregate of bench/aggregate.ts (1-minute buckets over 24 h, count + avg) on the same
 *    data set, 4 in flight: the peer's SQL against Tributary's aggregate API.
 *
 * The peer is installed by bench/peer/setup.sh (run here if bench/peer/.venv is missing). It is
 * killed when its figure is done, and on any exit of this process (finally, exit and signal
 * handlers); it also exits by itself when its parent is gone.
 *
 * Usage: npm run bench -- peer [--full]   (short: 100k rows; full: 1M rows; BENCH_RUNS=n overrides
 * the runs, 1 in short and 3 in full, medians)
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { generate } from './generate.js';
import { closedLoop, type LoadResult } from './load.js';
import { demoMessage, exitOnRegressions, fmt, gate, median, percentile, profile, report, ROOT, startTributary, tempDir } from './lib.js';

const P = profile();
const RUNS = Number(process.env.BENCH_RUNS ?? (P === 'full' ? 3 : 1));
const ROWS = P === 'full' ? 1_000_000 : 100_000;
const BATCHED_SECONDS = P === 'full' ? 30 : 5;
const SINGLE_SECONDS = P === 'full' ? 20 : 5;
/**
 * Seconds of the one-message runs at `connections` in flight. At 1000 in flight the peer (uvicorn)
 * answered next to nothing in the short profile's 5 s (0.2 req/s in a CI run of 2026-12-07, so a
 * ratio of 41,154x), against 145 req/s over the full profile's 20 s: opening 1000 connections at
 * once takes seconds here (1 s and 3 s steps, as in bench/ingest.ts). Both sides get at least 15 s.
 */
const singleSeconds = (connections: number): number => (connections >= 1000 ? Math.max(SINGLE_SECONDS, 15) : SINGLE_SECONDS);
const READ_SECONDS = P === 'full' ? 10 : 4;
/** Requests in flight for the one-message figure, as in bench/ingest.ts (1000: the target's). */
const IN_FLIGHT = [64, 1000] as const;
const PEER_DIR = join(ROOT, 'bench', 'peer');
const PYTHON = join(PEER_DIR, '.venv', 'bin', 'python');
const END = BigInt(Date.UTC(2026, 10, 24, 12)) * 1000n;
const END_MS = Number(END / 1000n);
const HOUR_AGO = new Date(END_MS - 3_600_000).toISOString();
const DAY_RANGE = `from=${encodeURIComponent(new Date(END_MS - 86_400_000).toISOString())}&to=${encodeURIComponent(new Date(END_MS).toISOString())}`;

/** Gross-regression floors (short profile), far below the ratios measured (docs/performance.md). */
const FLOORS = { batched: 20, single64: 8, single1000: 10, rows: 0.35, aggregate: 0.35 };

// ---- the peer process ------------------------------------------------------------------------

const peers = new Set<ChildProcess>();
function killPeers(): void {
  for (const p of peers) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
}
process.on('exit', killPeers);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    killPeers();
    process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
  });
}

interface Peer {
  readonly url: string;
  peakRssMiB(): number;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Starts bench/peer/app.py on `db`, on a free port of 127.0.0.1; resolves once it answers. */
async function startPeer(db: string): Promise<Peer> {
  const port = await freePort();
  const child = spawn(PYTHON, [join(PEER_DIR, 'app.py'), '--db', db, '--port', String(port)], { cwd: PEER_DIR, stdio: ['ignore', 'pipe', 'pipe'] });
  peers.add(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => void (out = (out + d.toString()).slice(-4000)));
  child.stderr!.on('data', (d: Buffer) => void (out = (out + d.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = performance.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the peer exited with ${child.exitCode}: ${out}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (performance.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the peer did not answer within 60 s: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    peakRssMiB() {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) / 1024;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      peers.delete(child);
    },
  };
}

/** Runs `f` against a fresh peer on `db`, always stopping it. */
async function withPeer<T>(db: string, f: (p: Peer) => Promise<T>, peaks: number[]): Promise<T> {
  const p = await startPeer(db);
  try {
    const r = await f(p);
    peaks.push(p.peakRssMiB());
    return r;
  } finally {
    await p.stop();
  }
}

async function withTributary<T>(dataDir: string, f: (url: string) => Promise<T>, peaks: number[]): Promise<T> {
  const s = await startTributary(dataDir);
  try {
    const r = await f(s.url);
    peaks.push(s.peakRssMiB());
    return r;
  } finally {
    await s.stop();
  }
}

// ---- load ------------------------------------------------------------------------------------

const data = (i: number) => Buffer.from(JSON.stringify(demoMessage(i))).toString('base64');
/** The bodies of bench/ingest.ts's batched figure: 8 x 1,000 messages. */
const BATCH_BODIES = Array.from({ length: 8 }, (_, b) => JSON.stringify({ messages: Array.from({ length: 1000 }, (_, i) => ({ data: data(b * 1000 + i) })) }));

/** Messages/s stored through 2 clients posting 1,000-message bodies, for `seconds`. */
async function batchedRate(url: string, seconds: number, stored: (body: string) => number): Promise<number> {
  let n = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    [0, 1].map(async (c) => {
      for (let k = c; performance.now() < deadline; k += 2) {
        const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: BATCH_BODIES[k % BATCH_BODIES.length]! });
        const text = await res.text();
        if (res.status !== 200) throw new Error(`${url} answered ${res.status}: ${text.slice(0, 300)}`);
        n += stored(text);
      }
    }),
  );
  return n / ((performance.now() - started) / 1000);
}

async function cannon(opts: autocannon.Options): Promise<autocannon.Result> {
  const r = await autocannon({ timeout: 30, ...opts });
  if (r.errors > 0 || r.non2xx > 0) throw new Error(`${opts.url}: ${r.errors} errors, ${r.non2xx} non-2xx answers`);
  return r;
}

const SINGLE_PUBLISH = JSON.stringify({ messages: [{ data: data(1) }] });
const PUSH_DATA = data(1);
const pushBody = (k: number) => `{"message":{"data":"${PUSH_DATA}","messageId":"push-${k}","publishTime":"${new Date().toISOString()}","attributes":{}},"subscription":"projects/bench/subscriptions/peer"}`;

async function singleTributary(url: string, connections: number): Promise<number> {
  const r = await cannon({ url: `${url}/v1/streams/sensor_readings/messages`, method: 'POST', headers: { 'content-type': 'application/json' }, body: SINGLE_PUBLISH, connections, duration: singleSeconds(connections) });
  return r.requests.average;
}

async function singlePeer(url: string, connections: number): Promise<number> {
  let k = 0;
  const r = await cannon({
    url: `${url}/push`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    connections,
    duration: singleSeconds(connections),
    requests: [{ setupRequest: (req) => ({ ...req, body: pushBody(k++) }) }],
  });
  return r.requests.average;
}

interface ReadFigures {
  rate: number;
  p50: number;
}

function readRun(r: LoadResult, what: string): ReadFigures {
  if (r.errors > 0) throw new Error(`${what}: ${r.errors} errors, first: ${r.firstError}`);
  return { rate: r.latencies.length / r.seconds, p50: percentile(r.latencies, 50) };
}

const rowsCheck = (_s: number, body: string) => (Array.isArray((JSON.parse(body) as { rows?: unknown }).rows) ? undefined : 'no rows array');
const aggCheck = (_s: number, body: string) => {
  const n = (JSON.parse(body) as { rows?: unknown[] }).rows?.length;
  return n === 1440 ? undefined : `expected 1440 buckets, got ${n}`;
};
const devicePaths = (prefix: string) => Array.from({ length: 50 }, (_, i) => `${prefix}?from=${encodeURIComponent(HOUR_AGO)}&device_id=dev-${String(i * 7).padStart(4, '0')}&limit=100`);

async function reads(url: string, paths: string[], connections: number, check: (s: number, b: string) => string | undefined): Promise<ReadFigures> {
  const next = (i: number) => ({ url: url + paths[i % paths.length]! });
  readRun(await closedLoop(next, 1, 1, check), `${url} warm-up`);
  return readRun(await closedLoop(next, connections, READ_SECONDS, check), url);
}

// ---- main ------------------------------------------------------------------------------------

function ensurePeerInstalled(): void {
  if (existsSync(PYTHON)) return;
  process.stdout.write('bench/peer/.venv is missing: running bench/peer/setup.sh\n');
  const r = spawnSync('bash', [join(PEER_DIR, 'setup.sh')], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('bench/peer/setup.sh failed');
}

async function main(): Promise<void> {
  process.stdout.write(`# Tributary vs the reference design rebuilt in Python (FastAPI + uvicorn + DuckDB, bench/peer/app.py), profile ${P} (${RUNS} run${RUNS > 1 ? 's' : ''} each, medians), node ${process.version}\n`);
  ensurePeerInstalled();
  const { dir, cleanup } = await tempDir();
  const tPeaks: number[] = [];
  const pPeaks: number[] = [];
  try {
    const tBatched: number[] = [];
    const pBatched: number[] = [];
    const tSingle = new Map<number, number[]>(IN_FLIGHT.map((n) => [n, []]));
    const pSingle = new Map<number, number[]>(IN_FLIGHT.map((n) => [n, []]));
    for (let r = 0; r < RUNS; r++) {
      const tStored = (body: string) => (JSON.parse(body) as { counts: { stored: number } }).counts.stored;
      const pStored = (body: string) => (JSON.parse(body) as { messageIds: string[] }).messageIds.length;
      tBatched.push(await withTributary(join(dir, `t-batched-${r}`), (u) => batchedRate(`${u}/v1/streams/sensor_readings/messages`, BATCHED_SECONDS, tStored), tPeaks));
      pBatched.push(await withPeer(join(dir, `p-batched-${r}.duckdb`), (p) => batchedRate(`${p.url}/messages`, BATCHED_SECONDS, pStored), pPeaks));
      for (const n of IN_FLIGHT) {
        tSingle.get(n)!.push(await withTributary(join(dir, `t-single-${n}-${r}`), (u) => singleTributary(u, n), tPeaks));
        pSingle.get(n)!.push(await withPeer(join(dir, `p-single-${n}-${r}.duckdb`), (p) => singlePeer(p.url, n), pPeaks));
      }
    }
    report(`peer: batched endpoint, executemany, 1,000 msgs/request (rows/s)`, fmt(median(pBatched)));
    report(`Tributary: durable ingest, 1,000 msgs/request (rows/s)`, fmt(median(tBatched)));
    report('  ratio Tributary / peer, batched (target >= 10)', fmt(median(tBatched) / median(pBatched), 1));
    const single = (n: number) => median(tSingle.get(n)!) / median(pSingle.get(n)!);
    for (const n of IN_FLIGHT) {
      report(`peer: push endpoint, 1 INSERT/message, ${n} in flight (req/s)`, fmt(median(pSingle.get(n)!)));
      report(`Tributary: 1 message/request, ${n} in flight (req/s)`, fmt(median(tSingle.get(n)!)));
      report(`  ratio Tributary / peer, 1 message/request, ${n} in flight${n === 1000 ? ' (target >= 10)' : ''}`, fmt(single(n), 1));
    }

    const dataDir = join(dir, 'data');
    const took = await generate(dataDir, ROWS, END);
    report(`data set: ${fmt(ROWS)} rows generated`, `${fmt(took, 1)} s`);
    const db = join(dataDir, 'tributary.duckdb');
    const tRows: ReadFigures[] = [];
    const pRows: ReadFigures[] = [];
    const tAgg: ReadFigures[] = [];
    const pAgg: ReadFigures[] = [];
    for (let r = 0; r < RUNS; r++) {
      // One after the other on the same file (DuckDB allows one process per file).
      await withPeer(
        db,
        async (p) => {
          pRows.push(await reads(p.url, devicePaths('/rows'), 8, rowsCheck));
          pAgg.push(await reads(p.url, [`/aggregate?${DAY_RANGE}`], 4, aggCheck));
        },
        pPeaks,
      );
      await withTributary(
        dataDir,
        async (u) => {
          tRows.push(await reads(u, devicePaths('/v1/streams/sensor_readings/rows'), 8, rowsCheck));
          tAgg.push(await reads(u, [`/v1/streams/sensor_readings/aggregate?${DAY_RANGE}&interval=1m&metric=count,avg:temperature_c`], 4, aggCheck));
        },
        tPeaks,
      );
    }
    const m = (xs: ReadFigures[], k: keyof ReadFigures) => median(xs.map((x) => x[k]));
    report(`peer: rows, parameterised SELECT * ... LIMIT 100, 8 in flight (req/s; p50 ms)`, `${fmt(m(pRows, 'rate'))}; ${fmt(m(pRows, 'p50'), 1)}`);
    report(`Tributary: rows API, same query, 8 in flight (req/s; p50 ms)`, `${fmt(m(tRows, 'rate'))}; ${fmt(m(tRows, 'p50'), 1)}`);
    report(`  ratio Tributary / peer, rows at ${fmt(ROWS)} rows (target > 1 at 1M)`, fmt(m(tRows, 'rate') / m(pRows, 'rate'), 2));
    report(`peer: aggregate SQL, 1-min buckets over 24 h, 4 in flight (req/s; p50 ms)`, `${fmt(m(pAgg, 'rate'), 1)}; ${fmt(m(pAgg, 'p50'), 1)}`);
    report(`Tributary: aggregate API, same, 4 in flight (req/s; p50 ms)`, `${fmt(m(tAgg, 'rate'), 1)}; ${fmt(m(tAgg, 'p50'), 1)}`);
    report(`  ratio Tributary / peer, aggregate at ${fmt(ROWS)} rows (target > 1 at 1M)`, fmt(m(tAgg, 'rate') / m(pAgg, 'rate'), 2));
    report('peak RSS: Tributary / peer (MiB)', `${fmt(Math.max(...tPeaks))} / ${fmt(Math.max(...pPeaks))}`);
    if (P === 'short') {
      gate('Tributary / peer, batched ingest', median(tBatched) / median(pBatched), FLOORS.batched);
      gate('Tributary / peer, 1 message/request, 64 in flight', single(64), FLOORS.single64);
      gate('Tributary / peer, 1 message/request, 1000 in flight', single(1000), FLOORS.single1000);
      gate('Tributary / peer, rows', m(tRows, 'rate') / m(pRows, 'rate'), FLOORS.rows);
      gate('Tributary / peer, aggregate', m(tAgg, 'rate') / m(pAgg, 'rate'), FLOORS.aggregate);
    }
  } finally {
    killPeers();
    await cleanup();
  }
  exitOnRegressions();
}

await main();
