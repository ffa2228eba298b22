#!/usr/bin/env node
// tools/tour-check.mjs: runs the README's "A two-minute tour" against one built checkout and
// prints every command's output with what varies from run to run replaced by placeholders, so
// that two checkouts (for example before and after a restructuring) can be compared with diff:
//
//   node tools/tour-check.mjs /path/to/old-checkout > /tmp/tour-old.txt
//   node tools/tour-check.mjs .                     > /tmp/tour-new.txt
//   diff -u /tmp/tour-old.txt /tmp/tour-new.txt
//
// The checkout must be built (`npm ci && npm run build`): its own bin/tributary.js and dist/ are
// run, from its own directory (so its streams/ and examples/ are used). The script starts
// `node bin/tributary.js dev` on a free port of 127.0.0.1 with a fresh temporary data directory,
// runs the tour's commands in order (the CLI publish of examples/sensor_readings.ndjson, the reads,
// the filters, a publish over HTTP, the dead letters, the error example, CSV, the aggregate, the
// stats, then `query --all` and `schema export`), stops the server and removes the directory.
// Normalised: message ids, the timestamps this run makes (publish, ingest, dead-letter, window
// and bucket times; the data's own timestamps are kept), request ids (UUIDs), cursors, durations
// (freshnessMs) and the port. Everything else is printed as the server sent it.
// Needs only Node (>= 20): the README's `curl -s` reads are made with fetch, the body printed as is.
import { spawn, execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const checkout = resolve(process.argv[2] ?? '.');
const bin = join(checkout, 'bin', 'tributary.js');

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

/** Replaces what differs between two runs of the same tour by stable placeholders. */
function normalise(text, port) {
  return text
    .replaceAll(`127.0.0.1:${port}`, '127.0.0.1:<PORT>')
    .replace(/cli-[0-9a-f]+-(\d+)/g, 'cli-<RUN>-$1')
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<UUID>')
    // Times of this run only: the data's own timestamps (measured_at, ...) are kept, format included.
    .replace(/"(publish_time|ingest_time|dead_lettered_at|newestPublishTime|from|to|time)":"[^"]+"/g, '"$1":"<TIME>"')
    .replace(/"(messageId|message_id)":"\d+"/g, '"$1":"<ID>"')
    .replace(/"messageIds":\["\d+"\]/g, '"messageIds":["<ID>"]')
    .replace(/"nextCursor":"[^"]+"/g, '"nextCursor":"<CURSOR>"')
    .replace(/cursor=[A-Za-z0-9_%-]+/g, 'cursor=<CURSOR>')
    .replace(/"freshnessMs":\{[^}]*\}/g, (m) => m.replace(/:-?\d+(\.\d+)?(e-?\d+)?/g, ':<MS>'));
}

async function main() {
  const port = await freePort();
  const dataDir = await mkdtemp(join(tmpdir(), 'tour-check-'));
  const base = `http://127.0.0.1:${port}`;
  const server = spawn(process.execPath, [bin, 'dev', '--port', String(port), '--data-dir', dataDir, '--log-level', 'warn'], {
    cwd: checkout,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let serverErr = '';
  server.stderr.on('data', (d) => (serverErr += d));
  const out = [];
  const show = (title, body) => out.push(`$ ${title}\n${normalise(body, port).replace(/\n?$/, '\n')}`);
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        if ((await fetch(`${base}/readyz`)).ok) break;
      } catch { /* not listening yet */ }
      if (server.exitCode !== null || Date.now() > deadline) throw new Error(`server did not start:\n${serverErr}`);
      await new Promise((r) => setTimeout(r, 200));
    }

    const cli = async (...args) => {
      try {
        const url = args[0] === 'schema' ? [] : ['--url', base];
        const { stdout, stderr } = await run(process.execPath, [bin, ...args, ...url], { cwd: checkout });
        return `${stderr}${stdout}`;
      } catch (err) {
        return `${err.stderr ?? ''}${err.stdout ?? ''}[exit ${err.code}]\n`;
      }
    };
    const get = async (path, init) => {
      const res = await fetch(base + path, init);
      return `${await res.text()}\n[${res.status} ${res.headers.get('content-type')}]`;
    };
    const s = '/v1/streams/sensor_readings';

    show('tributary publish sensor_readings examples/sensor_readings.ndjson', await cli('publish', 'sensor_readings', 'examples/sensor_readings.ndjson'));
    show(`curl '${s}/rows?limit=1'`, await get(`${s}/rows?limit=1`));
    show(`curl '${s}/rows?device_id=dev-001&location.site=Paris%20lab&from=2026-11-24&order=asc'`,
      await get(`${s}/rows?device_id=dev-001&location.site=Paris%20lab&from=2026-11-24&order=asc`));
    show(`curl ${s}/messages -H 'content-type: application/json' -d '{"device_id":"dev-004",...}'`,
      await get(`${s}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"device_id":"dev-004","seq":1,"measured_at":"2026-11-24T10:00:00Z"}',
      }));
    show(`curl '${s}/dead-letters?reason=UNKNOWN_FIELD'`, await get(`${s}/dead-letters?reason=UNKNOWN_FIELD`));
    show(`curl '${s}/rows?seq=abc'`, await get(`${s}/rows?seq=abc`));
    show(`curl '${s}/rows?temperature_c__gte=0&fields=device_id,temperature_c&format=csv'`,
      await get(`${s}/rows?temperature_c__gte=0&fields=device_id,temperature_c&format=csv`));
    show(`curl '${s}/aggregate?interval=1h&metric=count&metric=avg:temperature_c'`,
      await get(`${s}/aggregate?interval=1h&metric=count&metric=avg:temperature_c`));
    show(`curl '${s}/stats'`, await get(`${s}/stats`));
    show('tributary query sensor_readings --where device_id=dev-001 --all', await cli('query', 'sensor_readings', '--where', 'device_id=dev-001', '--all'));
    show('tributary schema export --format bigquery', await cli('schema', 'export', '--format', 'bigquery'));
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => (server.exitCode !== null ? r() : server.once('exit', r)));
    await rm(dataDir, { recursive: true, force: true });
  }
  process.stdout.write(out.join('\n'));
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
