/**
 * The real command as a user runs it, in child processes: restart on the same data dir keeps
 * every acknowledged row (even after SIGKILL), SIGTERM stops cleanly, bad configuration stops
 * start-up with every problem named.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { getJson, publish, reading, ROOT, streamsDir, tempDir } from '../helpers.js';

const BIN = join(ROOT, 'bin', 'tributary.js');

interface Proc {
  child: ChildProcess;
  url: string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function run(args: string[]): Proc & { started: Promise<string> } {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TRIBUTARY_LOG_LEVEL: 'warn' } });
  let err = '';
  child.stdout!.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const started = new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /running on (http:\/\/[^\s]+)/.exec(err);
      if (m) resolve(m[1]!);
    });
    void exited.then(({ code }) => reject(new Error(`exited with ${code} before listening: ${err}`)));
  });
  started.catch(() => undefined); // awaited only by the tests that expect a start
  const proc = { child, url: '', stderr: () => err, exited, started };
  return proc;
}

/** Runs a short CLI command to its end. */
async function runToEnd(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  return { code, stdout, stderr };
}

async function startDev(base: string, streams: string): Promise<Proc> {
  const p = run(['dev', '--port', '0', '--data-dir', join(base, 'data'), '--streams-dir', streams]);
  p.url = await p.started;
  return p;
}

describe('the tributary process', () => {
  let base: string;
  let streams: string;
  let cleanup: () => Promise<void>;
  before(async () => {
    ({ dir: base, cleanup } = await tempDir());
    streams = await streamsDir(base);
  });
  after(async () => {
    await cleanup();
  });

  it('keeps every acknowledged row across SIGKILL and restart on the same data dir', async () => {
    const acknowledged: string[] = [];
    for (let round = 0; round < 3; round++) {
      const p = await startDev(base, streams);
      // Several concurrent publishers; kill the process right after the last acknowledgement.
      await Promise.all(
        Array.from({ length: 4 }, async (_, w) => {
          for (let b = 0; b < 5; b++) {
            const msgs = Array.from({ length: 50 }, (_, i) => ({ data: reading(i, { device_id: 'crash' }), messageId: `r${round}-w${w}-b${b}-${i}` }));
            const res = await publish(p.url, 'sensor_readings', msgs);
            assert.equal(res.status, 200);
            for (const r of res.body.results) if (r.status === 'stored') acknowledged.push(r.messageId);
          }
        }),
      );
      p.child.kill('SIGKILL');
      const { signal } = await p.exited;
      assert.equal(signal, 'SIGKILL');
    }
    assert.equal(acknowledged.length, 3 * 4 * 5 * 50);
    const p = await startDev(base, streams);
    try {
      const ids: string[] = [];
      let next: string | null = '/v1/streams/sensor_readings/rows?device_id=crash&limit=1000';
      while (next) {
        const page: { body: { rows: { message_id: string }[]; next: string | null } } = await getJson(p.url + next);
        ids.push(...page.body.rows.map((r) => r.message_id));
        next = page.body.next;
      }
      assert.equal(ids.length, acknowledged.length, 'every acknowledged row, and only those, is there');
      assert.deepEqual(new Set(ids), new Set(acknowledged));
      // Message IDs the topic assigns after the restart do not collide with stored ones.
      const fresh = await publish(p.url, 'sensor_readings', [{ data: reading(1, { device_id: 'after-restart' }) }]);
      assert.equal(fresh.body.results[0].status, 'stored');
    } finally {
      p.child.kill('SIGTERM');
      const { code } = await p.exited;
      assert.equal(code, 0, 'SIGTERM exits 0');
    }
  });

  it('answers every in-flight publish on SIGTERM and then exits 0', async (t) => {
    const p = await startDev(base, streams);
    const inflight = Array.from({ length: 20 }, (_, i) =>
      publish(p.url, 'sensor_readings', Array.from({ length: 100 }, (_, j) => ({ data: reading(j, { device_id: 'term' }), messageId: `term-${i}-${j}` }))).catch((e: Error) => e),
    );
    await new Promise((r) => setTimeout(r, 30));
    p.child.kill('SIGTERM');
    const results = await Promise.all(inflight);
    const { code } = await p.exited;
    assert.equal(code, 0);
    const acked = new Set<string>();
    let refused = 0;
    let unanswered = 0;
    for (const r of results) {
      if (r instanceof Error) {
        // The connection was refused or reset before the request was read: never acknowledged.
        unanswered++;
        continue;
      }
      if (r.status === 200) for (const x of r.body.results) acked.add(x.messageId);
      else {
        assert.equal(r.status, 503, `refused with a clear status, got ${r.status}`);
        assert.equal(r.body.error.code, 'SHUTTING_DOWN');
        refused++;
      }
    }
    t.diagnostic(`SIGTERM during 20 publishes: ${acked.size / 100} acknowledged, ${refused} refused with 503, ${unanswered} not answered (connection closed)`);
    const q = await startDev(base, streams);
    try {
      const stored = new Set<string>();
      let next: string | null = '/v1/streams/sensor_readings/rows?device_id=term&limit=1000';
      while (next) {
        const page: { body: { rows: { message_id: string }[]; next: string | null } } = await getJson(q.url + next);
        for (const r of page.body.rows) stored.add(r.message_id);
        next = page.body.next;
      }
      assert.ok(acked.size > 0, 'some publishes were acknowledged before the shutdown');
      for (const id of acked) assert.ok(stored.has(id), `acknowledged ${id} is stored`);
    } finally {
      q.child.kill('SIGTERM');
      await q.exited;
    }
  });

  it('publishes a file with `tributary publish`, reads it back with `tributary query`, exports the schema', async () => {
    const p = await startDev(base, streams);
    try {
      const pub = await runToEnd(['publish', 'sensor_readings', join(ROOT, 'examples', 'sensor_readings.ndjson'), '--url', p.url]);
      assert.equal(pub.code, 0, pub.stderr);
      assert.deepEqual(JSON.parse(pub.stdout), {
        published: 6, stored: 3, duplicate: 0, dead_lettered: 3, accepted: 0,
        deadLetterReasons: { SCHEMA_VIOLATION: 1, UNKNOWN_FIELD: 1, INVALID_JSON: 1 },
      });
      assert.match(pub.stderr, /line 4: dead-lettered SCHEMA_VIOLATION: temperature_c: expected FLOAT64, got string "hot"/);
      const q = await runToEnd(['query', 'sensor_readings', '--url', p.url, '--where', 'device_id=dev-001', '--order', 'asc', '--limit', '1', '--all']);
      assert.equal(q.code, 0, q.stderr);
      const rows = q.stdout.trim().split('\n').map((l) => JSON.parse(l) as { seq: string; energy_kwh: string });
      assert.deepEqual(rows.map((r) => [r.seq, r.energy_kwh]), [['1', '1523.125000001'], ['2', '1523.25']]);
      const bad = await runToEnd(['query', 'sensor_readings', '--url', p.url, '--where', 'seq=abc']);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /INVALID_PARAMETER: seq: expected an integer/);
    } finally {
      p.child.kill('SIGTERM');
      await p.exited;
    }
    const out = join(base, 'schemas');
    const exp = await runToEnd(['schema', 'export', '--format', 'bigquery', '--out', out, '--streams-dir', streams]);
    assert.equal(exp.code, 0, exp.stderr);
    const { readFile } = await import('node:fs/promises');
    const table = JSON.parse(await readFile(join(out, 'sensor_readings.json'), 'utf8')) as { name: string; type: string; mode: string; fields?: unknown[] }[];
    assert.deepEqual(table.slice(0, 5).map((f) => f.name), ['message_id', 'publish_time', 'ingest_time', 'attributes', 'ordering_key']);
    assert.deepEqual(table.find((f) => f.name === 'readings'), {
      name: 'readings', type: 'RECORD', mode: 'REPEATED', description: 'Secondary measurements taken with this one.',
      fields: [
        { name: 'name', type: 'STRING', mode: 'REQUIRED', description: 'Quantity measured.' },
        { name: 'value', type: 'FLOAT64', mode: 'NULLABLE', description: 'Measured value.' },
        { name: 'unit', type: 'STRING', mode: 'NULLABLE', description: 'Unit of the value.' },
      ],
    });
  });

  it('refuses to start on bad configuration and names every problem', async () => {
    const p = run(['dev', '--port', 'eighty', '--batch-max-rows', '0', '--log-level', 'loud', '--no-such-flag', 'x', '--data-dir', join(base, 'cfg')]);
    const { code } = await p.exited;
    assert.equal(code, 2);
    const err = p.stderr();
    assert.match(err, /--port: expected a whole number from 0 to 65535, got "eighty"/);
    assert.match(err, /--batch-max-rows: expected a whole number from 1 to 100000, got 0/);
    assert.match(err, /--log-level: expected one of fatal, error, warn, info, debug, trace, silent, got "loud"/);
    assert.match(err, /--no-such-flag: unknown option/);
  });

  it('refuses to start when a stream definition is invalid, naming the file and the problem', async () => {
    const { dir, cleanup: rmDir } = await tempDir();
    try {
      const bad = join(dir, 'streams');
      const { mkdir, writeFile } = await import('node:fs/promises');
      await mkdir(bad);
      await writeFile(join(bad, 'broken.json'), JSON.stringify({ name: 'broken', fields: [{ name: 'Bad Name', type: 'STRING' }, { name: 'x', type: 'FLOAT128' }], clustering: ['x'] }));
      const p = run(['dev', '--port', '0', '--data-dir', join(dir, 'data'), '--streams-dir', bad]);
      const { code } = await p.exited;
      assert.equal(code, 2);
      assert.match(p.stderr(), /broken\.json: invalid stream definition/);
      assert.match(p.stderr(), /fields\[0\]\.name: must be lowercase snake_case/);
      assert.match(p.stderr(), /fields\.x\.type: must be one of STRING, INT64/);
    } finally {
      await rmDir();
    }
  });

  it('refuses a second process on the same data dir with a clear message', async () => {
    const p = await startDev(base, streams);
    try {
      const second = run(['dev', '--port', '0', '--data-dir', join(base, 'data'), '--streams-dir', streams]);
      const { code } = await second.exited;
      assert.notEqual(code, 0);
      assert.match(second.stderr(), /in use by another process/);
    } finally {
      p.child.kill('SIGTERM');
      await p.exited;
    }
  });
});
