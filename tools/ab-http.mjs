#!/usr/bin/env node
// tools/ab-http.mjs: a bounded back-to-back A/B of two built checkouts on the two figures a
// per-request cost shows in: one message per request at 1000 in flight (bench/ingest.ts's
// singleRate) and the rows read at 8 connections (bench/reads.ts's rows API figure, on a data set
// made once by bench/generate.ts and served by each build in turn). Runs alternate A, B, A, B...
// so that noise from other work on the machine falls on both; each run is a fresh server
// (`node bin/tributary.js dev` of that checkout, on 127.0.0.1, a free port). Raw req/s of every
// run are printed, then the median of each side and the ratio B / A; also the server's CPU time
// (user + system, from /proc) per request answered, which other load on the machine moves less
// than throughput (Linux only).
//
//   node tools/ab-http.mjs <checkout A> <checkout B> [--runs 3] [--seconds 5] [--rows 100000] [--only one|rows]
//
// Both checkouts must be built (npm run build); autocannon and the data generator come from this
// checkout's node_modules and dist/.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';

const here = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { positionals, values } = parseArgs({ allowPositionals: true, options: { runs: { type: 'string', default: '3' }, seconds: { type: 'string', default: '5' }, rows: { type: 'string', default: '100000' }, only: { type: 'string' } } });
if (positionals.length !== 2) {
  console.error('usage: node tools/ab-http.mjs <checkout A> <checkout B> [--runs N] [--seconds S] [--rows N]');
  process.exit(2);
}
const [A, B] = positionals.map((p) => resolve(p));
const RUNS = Number(values.runs);
const SECONDS = Number(values.seconds);
const ROWS = Number(values.rows);
const { startChild, demoMessage, median } = await import(join(here, 'dist', 'bench', 'lib.js'));
const { generate } = await import(join(here, 'dist', 'bench', 'generate.js'));

const start = (checkout, dataDir) => startChild([join(checkout, 'bin', 'tributary.js'), 'dev', '--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir, '--log-level', 'warn', '--streams-dir', join(checkout, 'streams')]);

async function cannon(opts) {
  const r = await autocannon({ timeout: 30, duration: SECONDS, ...opts });
  if (r.errors > 0 || r.non2xx > 0) throw new Error(`${opts.url}: ${r.errors} errors, ${r.non2xx} non-2xx`);
  return { rps: r.requests.average, total: r.requests.total };
}

/** CPU seconds (user + system, every thread) the process has used so far. */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

const SINGLE = JSON.stringify({ messages: [{ data: Buffer.from(JSON.stringify(demoMessage(1))).toString('base64') }] });
const END = BigInt(Date.UTC(2026, 10, 24, 12)) * 1000n;
const FROM = new Date(Number(END / 1000n) - 3_600_000).toISOString();
const PATHS = Array.from({ length: 50 }, (_, i) => `/v1/streams/sensor_readings/rows?from=${encodeURIComponent(FROM)}&device_id=dev-${String(i * 7).padStart(4, '0')}&limit=100`);

const figures = {
  'one message per request, 1000 in flight (req/s)': async (url) =>
    cannon({ url: `${url}/v1/streams/sensor_readings/messages`, method: 'POST', headers: { 'content-type': 'application/json' }, body: SINGLE, connections: 1000 }),
  'rows API, last hour + device_id, newest 100, 8 connections (req/s)': async (url) => {
    let k = 0;
    return cannon({ url, connections: 8, requests: [{ setupRequest: (req) => ({ ...req, path: PATHS[k++ % PATHS.length] }) }] });
  },
};

const dir = await mkdtemp(join(tmpdir(), 'ab-http-'));
try {
  const readData = join(dir, 'reads');
  const took = await generate(readData, ROWS, END);
  console.log(`# A = ${A}\n# B = ${B}\n# ${RUNS} runs x ${SECONDS} s each, alternating; read data set: ${ROWS} rows (${took.toFixed(1)} s to make)`);
  for (const [name, measure] of Object.entries(figures).filter(([n]) => !values.only || n.startsWith(values.only))) {
    const got = { A: [], B: [] };
    const cpu = { A: [], B: [] };
    for (let r = 0; r < RUNS; r++) {
      // Alternate which side goes first in each pair, so that a trend over time does not favour one.
      for (const side of r % 2 === 0 ? ['A', 'B'] : ['B', 'A']) {
        const checkout = side === 'A' ? A : B;
        let dataDir = join(dir, `${side}-${r}-${name.length}`);
        if (name.startsWith('rows')) await cp(readData, dataDir, { recursive: true });
        const server = await start(checkout, dataDir);
        try {
          const before = cpuSeconds(server.pid);
          const { rps, total } = await measure(server.url);
          got[side].push(rps);
          cpu[side].push(((cpuSeconds(server.pid) - before) / total) * 1e6);
        } finally {
          await server.stop();
          await rm(dataDir, { recursive: true, force: true });
        }
        console.log(`${name} run ${r + 1} ${side}: ${got[side].at(-1).toFixed(0)} req/s, server CPU ${cpu[side].at(-1).toFixed(1)} us/request`);
      }
    }
    const a = median(got.A);
    const b = median(got.B);
    console.log(`${name}: A ${got.A.map((x) => x.toFixed(0)).join(' ')} (median ${a.toFixed(0)}) | B ${got.B.map((x) => x.toFixed(0)).join(' ')} (median ${b.toFixed(0)}) | B/A ${(b / a).toFixed(3)}`);
    const ca = median(cpu.A);
    const cb = median(cpu.B);
    console.log(`${name.replace(/ \(req\/s\)$/, '')}, server CPU per request (us): A ${cpu.A.map((x) => x.toFixed(1)).join(' ')} (median ${ca.toFixed(1)}) | B ${cpu.B.map((x) => x.toFixed(1)).join(' ')} (median ${cb.toFixed(1)}) | B/A ${(cb / ca).toFixed(3)}`);
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
