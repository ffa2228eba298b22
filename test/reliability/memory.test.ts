/**
 * Memory under hostile input in volume, on the real `tributary dev` process with its default
 * limits (10 MiB bodies, 1 MiB messages): bodies over and at the body limit, huge strings, deep
 * nesting, thousands of bad messages and dead letters, garbage bodies, huge query strings and
 * headers. Four equal rounds: never a 5xx, the process's peak RSS (VmHWM) stays under the
 * bound below, and its peak levels off.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startDevProcess, streamsDir, tempDir } from '../helpers.js';

const MIB = 1024 * 1024;
/**
 * The bound this test holds the process to under hostile volume: 1 GiB. The project's memory
 * target is 512 MiB (docs/performance.md) and is NOT met here: six requests at a time of up to
 * 10 MiB each are decoded, copied and dead-lettered whole (docs/reliability.md). The peak over
 * four rounds measured 711 to 795 MiB (4 runs) with large dead-letter payloads stored in parts
 * and the dead-letter stage replaced after each write; 866 to 904 MiB over three rounds before.
 * Before the pre-parse depth check it reached 1.3 GB after two rounds, and without a DuckDB
 * memory limit it kept climbing with every round.
 */
const PEAK_BOUND = 1024 * MIB;
/**
 * Largest rise of the peak over the last two of four equal rounds. Over two rounds, not one: the
 * peak is the largest transient, and it rose by 83 to 131 MiB from round 2 to round 4 (4 runs)
 * while DuckDB's buffer pool filled towards its limit with what the rounds stored, and by up to
 * 119 MiB in a single round by a coincidence of transients, with nothing retained. A leak grows
 * it every round: without a DuckDB memory limit it climbed about 165 MiB per round, 330 over two.
 */
const GROWTH_BOUND = 192 * MIB;
const ROUNDS = 4;
const BODY_LIMIT = 10 * MIB;

async function memory(pid: number): Promise<{ rss: number; hwm: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
}

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
const messagesBody = (datas: string[]) => JSON.stringify({ messages: datas.map((data) => ({ data })) });

interface Req {
  what: string;
  path: string;
  method?: 'GET' | 'POST';
  body?: Buffer<ArrayBuffer>;
  headers?: Record<string, string>;
  /** Statuses this request may get (never a 5xx). */
  allowed: number[];
}

/** One round of hostile requests; every round sends the same volume. */
function round(r: number): Req[] {
  const pub = '/v1/streams/sensor_readings/messages';
  const json = { 'content-type': 'application/json' };
  const reqs: Req[] = [];
  // Over the body limit (refused on Content-Length) and just over it with a body that is all there.
  const over = Buffer.alloc(BODY_LIMIT + 1, 0x20);
  for (let i = 0; i < 10; i++) reqs.push({ what: 'body over the limit', path: pub, body: over, headers: json, allowed: [413] });
  // At the limit: 6 messages of 1.2 MiB each (over --max-message-bytes): MESSAGE_TOO_LARGE dead letters.
  const big = b64(Buffer.alloc(1.2 * MIB, 0x61));
  const atLimit = Buffer.from(messagesBody(Array.from({ length: 6 }, () => big)));
  assert.ok(atLimit.length <= BODY_LIMIT && atLimit.length > BODY_LIMIT * 0.9, `at-limit body is ${atLimit.length} bytes`);
  for (let i = 0; i < 6; i++) reqs.push({ what: 'body at the limit, oversize messages', path: pub, body: atLimit, headers: json, allowed: [200] });
  // Huge strings that pass the schema: a 900 KB device_id (over the embedded warehouse's 200 KiB
  // per value: a WAREHOUSE_REJECTED dead letter) and 1.8 MB of tags (MESSAGE_TOO_LARGE).
  const huge = 'x'.repeat(900 * 1024);
  for (let i = 0; i < 4; i++) {
    reqs.push({
      what: 'huge strings',
      path: pub,
      body: Buffer.from(messagesBody([b64(JSON.stringify({ device_id: `${huge}${r}-${i}`, seq: i, measured_at: '2026-11-24T00:00:00Z' })), b64(JSON.stringify({ device_id: 'mem', seq: i, measured_at: '2026-11-24T00:00:00Z', tags: [huge, huge.slice(1)] }))])),
      headers: json,
      allowed: [200],
    });
  }
  // Deep nesting inside messages (dead letters), and as the request body itself.
  const deep = b64('['.repeat(200_000) + ']'.repeat(200_000));
  for (let i = 0; i < 4; i++) reqs.push({ what: 'deeply nested messages', path: pub, body: Buffer.from(messagesBody(Array.from({ length: 10 }, () => deep))), headers: json, allowed: [200] });
  for (let i = 0; i < 4; i++) reqs.push({ what: 'deeply nested body', path: pub, body: Buffer.from('{"messages":' + '['.repeat(2_000_000) + ']'.repeat(2_000_000) + '}'), headers: json, allowed: [400] });
  // Many bad messages: 1000 per request, every one a dead letter with a reason.
  const bad = ['@@@@', b64('{"device_id": '), b64('{"device_id":"m","seq":"x","measured_at":"2026"}'), b64('\u0000\u00ff'), ''];
  for (let i = 0; i < 20; i++) reqs.push({ what: 'many bad messages', path: pub, body: Buffer.from(messagesBody(Array.from({ length: 1000 }, (_, k) => bad[k % bad.length]!))), headers: json, allowed: [200] });
  // Garbage: 5 MiB that is not JSON, a wrong content type.
  const garbage = Buffer.alloc(5 * MIB, 0x7b);
  for (let i = 0; i < 4; i++) reqs.push({ what: 'garbage body', path: pub, body: garbage, headers: json, allowed: [400] });
  for (let i = 0; i < 4; i++) reqs.push({ what: 'wrong content type', path: pub, body: garbage, headers: { 'content-type': 'application/x-tar' }, allowed: [415] });
  // Huge query strings and headers.
  // Node counts the request line in its 16 KiB header limit: 431 (see docs/errors.md).
  for (let i = 0; i < 20; i++) reqs.push({ what: 'huge query string', path: `/v1/streams/sensor_readings/rows?device_id=${'q'.repeat(100_000)}`, allowed: [414, 431] });
  for (let i = 0; i < 20; i++) reqs.push({ what: 'huge header', path: '/v1/streams/sensor_readings/rows?limit=1', headers: { 'x-junk': 'h'.repeat(60_000) }, allowed: [200, 431] });
  return reqs;
}

async function send(url: string, req: Req): Promise<number | string> {
  try {
    const res = await fetch(url + req.path, { method: req.method ?? (req.body ? 'POST' : 'GET'), headers: req.headers ?? {}, ...(req.body ? { body: req.body } : {}) });
    await res.arrayBuffer();
    return res.status;
  } catch (err) {
    return `connection failed: ${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message}`;
  }
}

describe('memory under hostile input', () => {
  it(`stays under ${PEAK_BOUND / MIB} MiB and levels off over ${ROUNDS} equal rounds, never answering 5xx`, async (t) => {
    const { dir, cleanup } = await tempDir();
    const streams = await streamsDir(dir);
    const server = await startDevProcess(join(dir, 'data'), streams);
    const pid = server.child.pid!;
    try {
      const start = await memory(pid);
      const figures: { rss: number; hwm: number; ms: number; requests: number; bytes: number }[] = [];
      const problems: string[] = [];
      for (let r = 1; r <= ROUNDS; r++) {
        const reqs = round(r);
        const started = performance.now();
        let next = 0;
        let bytes = 0;
        await Promise.all(Array.from({ length: 6 }, async () => {
          while (next < reqs.length) {
            const req = reqs[next++]!;
            bytes += (req.body?.length ?? 0) + req.path.length + Object.values(req.headers ?? {}).join('').length;
            const status = await send(server.url, req);
            if (typeof status !== 'number' || !req.allowed.includes(status)) problems.push(`round ${r}, ${req.what}: ${status} (allowed ${req.allowed.join(',')})`);
          }
        }));
        const ms = performance.now() - started;
        // Let in-flight work and garbage collection settle before reading RSS.
        await new Promise((res) => setTimeout(res, 1000));
        figures.push({ ...(await memory(pid)), ms, requests: reqs.length, bytes });
      }
      const m = (b: number) => `${(b / MIB).toFixed(0)} MiB`;
      t.diagnostic(`RSS at start ${m(start.rss)}; per round ${figures[0]!.requests} hostile requests, ${m(figures[0]!.bytes)} sent, 6 at a time`);
      for (const [i, f] of figures.entries()) t.diagnostic(`round ${i + 1}: ${(f.ms / 1000).toFixed(1)} s, RSS after ${m(f.rss)}, peak so far (VmHWM) ${m(f.hwm)}`);
      const r2 = figures[1]!;
      const last = figures[ROUNDS - 1]!;
      assert.deepEqual(problems, [], 'every hostile request got its documented 4xx (or 200), never a 5xx or a dropped connection');
      assert.ok(last.hwm <= PEAK_BOUND, `peak RSS ${m(last.hwm)} over ${m(PEAK_BOUND)}`);
      // Levels off: the last two rounds, equal to the second, barely raise the peak.
      assert.ok(last.hwm - r2.hwm <= GROWTH_BOUND, `peak RSS grew ${m(last.hwm - r2.hwm)} from round 2 to round ${ROUNDS} (bound ${m(GROWTH_BOUND)})`);
      assert.equal(server.child.exitCode, null, 'still running');
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
      await cleanup();
    }
  });
});
