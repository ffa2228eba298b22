/**
 * The body budget (--max-body-bytes-in-flight): its rules on their own (fit, first come first
 * served, a lone request always fits, timeout, cancel, release once), then through the real
 * server: requests that do not fit wait unread and are answered, never refused, and /metrics
 * shows the waits.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { BodyBudget } from '../../src/api/admission.js';
import { TributaryError } from '../../src/core/errors.js';
import { reading, startTestServer } from '../helpers.js';

function granted(r: ReturnType<BodyBudget['reserve']>): () => void {
  assert.ok('release' in r, 'granted at once');
  return r.release;
}

describe('body budget', () => {
  it('grants what fits at once, queues the rest first come first served, and a lone request always fits', async () => {
    const b = new BodyBudget(100, 1000);
    const r1 = granted(b.reserve(60));
    const second = b.reserve(50);
    assert.ok('pending' in second, '60 + 50 > 100 waits');
    const third = b.reserve(10);
    assert.ok('pending' in third, 'a small request does not jump the queue');
    assert.equal(b.waiting, 2);
    assert.equal(b.inFlight, 60);
    r1();
    r1(); // releasing twice frees once
    const r2 = await second.pending;
    const r3 = await third.pending;
    assert.equal(b.inFlight, 60);
    r2();
    r3();
    assert.equal(b.inFlight, 0);
    const huge = granted(b.reserve(1000)); // alone: admitted although over capacity
    assert.equal(b.inFlight, 1000);
    huge();
    assert.deepEqual(b.outcomes, { waited: 2, timed_out: 0 });
  });

  it('answers OVERLOADED after the wait, and a cancelled waiter leaves the queue', async () => {
    const b = new BodyBudget(100, 50);
    const held = granted(b.reserve(100));
    const late = b.reserve(10);
    assert.ok('pending' in late);
    await assert.rejects(late.pending, (err: unknown) => err instanceof TributaryError && err.code === 'OVERLOADED' && err.status === 503);
    const gone = b.reserve(10);
    assert.ok('pending' in gone);
    gone.cancel();
    await assert.rejects(gone.pending, TributaryError);
    assert.equal(b.waiting, 0);
    held();
    assert.equal(b.inFlight, 0);
    assert.deepEqual(b.outcomes, { waited: 0, timed_out: 1 });
  });
});

describe('body budget through the server', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  before(async () => {
    server = await startTestServer(['--max-body-bytes-in-flight', '64KiB']);
  });
  after(async () => {
    await server?.stop();
  });

  it('makes a request that does not fit wait, unread, until the one in flight is answered; both are stored', async () => {
    const url = new URL(`${server.url}/v1/streams/sensor_readings/messages`);
    const body = (tag: string) => JSON.stringify(Array.from({ length: 600 }, (_, i) => reading(i, { device_id: tag })));
    const first = body('budget-a');
    assert.ok(first.length > 40 * 1024 && first.length < 64 * 1024, `body of ${first.length} bytes`);
    // The first request sends its headers and half of its body, then stalls: it holds its room.
    let firstAnswer = '';
    const firstDone = new Promise<number>((resolve, reject) => {
      const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(first) } }, (res) => {
        res.on('data', (d: Buffer) => (firstAnswer += d.toString()));
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.write(first.slice(0, 1000));
      setTimeout(() => req.end(first.slice(1000)), 700);
    });
    await new Promise((r) => setTimeout(r, 200));
    const started = performance.now();
    const second = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body('budget-b') });
    const waited = performance.now() - started;
    assert.equal(second.status, 200, await second.clone().text());
    assert.equal(((await second.json()) as { counts: { stored: number } }).counts.stored, 600);
    assert.equal(await firstDone, 200, firstAnswer);
    assert.ok(waited >= 300, `the second request was answered after ${waited.toFixed(0)} ms, so it waited for the first`);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /^tributary_http_body_waits_total\{outcome="admitted"\} 1$/m);
    assert.match(metrics, /^tributary_http_body_bytes_in_flight 0$/m);
    assert.match(metrics, /^tributary_http_body_bytes_in_flight_limit 65536$/m);
  });
});
