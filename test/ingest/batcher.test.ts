/** The micro-batcher's rules, with a recording flush: bounds, linger, group commit, no splits, failures. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MicroBatcher } from '../../src/ingest/batcher.js';

function recorder(delayMs = 0) {
  const flushes: number[][] = [];
  let fail: Error | undefined;
  const flush = async (items: number[]) => {
    flushes.push(items);
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    if (fail) throw fail;
    return items.map((i) => i * 10);
  };
  return { flushes, flush, failNext: (e: Error) => (fail = e) };
}

describe('micro-batcher', () => {
  it('coalesces concurrent submissions into one flush and answers each with its own slice', async () => {
    const r = recorder();
    const b = new MicroBatcher<number, number>({ maxItems: 100, lingerMs: 20 }, r.flush);
    const [a, c] = await Promise.all([b.submit([1, 2]), b.submit([3])]);
    assert.deepEqual(a, [10, 20]);
    assert.deepEqual(c, [30]);
    assert.deepEqual(r.flushes, [[1, 2, 3]]);
  });

  it('flushes at once when a batch reaches maxItems, without waiting for the linger', async () => {
    const r = recorder();
    const b = new MicroBatcher<number, number>({ maxItems: 3, lingerMs: 10_000 }, r.flush);
    const t = performance.now();
    await b.submit([1, 2, 3]);
    assert.ok(performance.now() - t < 1000, 'did not wait for the 10 s linger');
  });

  it('never splits a submission, and a submission larger than maxItems is flushed alone', async () => {
    const r = recorder(5);
    const b = new MicroBatcher<number, number>({ maxItems: 4, lingerMs: 1 }, r.flush);
    await Promise.all([b.submit([1, 2, 3]), b.submit([4, 5]), b.submit([6, 7, 8, 9, 10, 11])]);
    for (const f of r.flushes) assert.ok(f.length <= 4 || f.length === 6, `flush ${f}`);
    assert.deepEqual(r.flushes.flat().sort((x, y) => x - y), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    assert.ok(r.flushes.some((f) => f.join() === '6,7,8,9,10,11'));
  });

  it('bounds a batch by bytes too: what would carry it past maxBytes waits for the next, and an oversized submission goes alone', async () => {
    const r = recorder(5);
    // Each item weighs its own value in bytes.
    const b = new MicroBatcher<number, number>({ maxItems: 1000, maxBytes: 100, lingerMs: 1 }, r.flush, (i) => i);
    await Promise.all([b.submit([60]), b.submit([30]), b.submit([50]), b.submit([150]), b.submit([20, 20])]);
    for (const f of r.flushes) {
      const bytes = f.reduce((s, i) => s + i, 0);
      assert.ok(bytes <= 100 || f.join() === '150', `flush ${f.join()} weighs ${bytes}`);
    }
    assert.deepEqual(r.flushes.flat().sort((x, y) => x - y), [20, 20, 30, 50, 60, 150]);
    assert.ok(r.flushes.some((f) => f.join() === '150'), 'the oversized submission went alone');
    assert.ok(r.flushes.length >= 3, `${r.flushes.length} flushes`);
  });

  it('flushes at once when a batch reaches maxBytes, without waiting for the linger', async () => {
    const r = recorder();
    const b = new MicroBatcher<number, number>({ maxItems: 1000, maxBytes: 100, lingerMs: 10_000 }, r.flush, (i) => i);
    const t = performance.now();
    await b.submit([40, 60]);
    assert.ok(performance.now() - t < 1000, 'did not wait for the 10 s linger');
  });

  it('after a flush of n items, the next n items go without lingering (group commit)', async () => {
    const r = recorder();
    const b = new MicroBatcher<number, number>({ maxItems: 1000, lingerMs: 400 }, r.flush);
    let t = performance.now();
    await Promise.all([b.submit([1]), b.submit([2])]); // the first batch leaves by the linger
    assert.ok(performance.now() - t >= 390, 'the first batch waited for the linger');
    t = performance.now();
    await Promise.all([b.submit([3]), b.submit([4])]); // as many as the last flush: no linger
    assert.ok(performance.now() - t < 300, `the second batch left at once (${performance.now() - t} ms)`);
    assert.deepEqual(r.flushes, [[1, 2], [3, 4]]);
  });

  it('rejects every submission of a failed flush, and goes on with the next batch', async () => {
    const r = recorder();
    const b = new MicroBatcher<number, number>({ maxItems: 10, lingerMs: 1 }, r.flush);
    r.failNext(new Error('disk full'));
    const results = await Promise.allSettled([b.submit([1]), b.submit([2])]);
    assert.deepEqual(results.map((x) => x.status), ['rejected', 'rejected']);
  });

  it('drains what is queued on close and refuses new submissions', async () => {
    const r = recorder(5);
    const b = new MicroBatcher<number, number>({ maxItems: 10, lingerMs: 50 }, r.flush);
    const pending = b.submit([1, 2]);
    await b.drain();
    assert.deepEqual(await pending, [10, 20]);
    await assert.rejects(b.submit([3]), /shutting down/);
  });

  /**
   * 10 closed-loop senders start at once and 10 more join during the first flush, so a batch
   * forms while another is written; each sender comes back 0-2 ms after its answer.
   */
  async function twoGroups(regroupMs: number): Promise<number[]> {
    const sizes: number[] = [];
    const b = new MicroBatcher<number, number>({ maxItems: 1000, lingerMs: 20, regroupMs }, async (items) => {
      sizes.push(items.length);
      await new Promise((r) => setTimeout(r, 15));
      return items;
    });
    let rounds = 0;
    const sender = async (id: number) => {
      while (rounds < 12) {
        await b.submit([id]);
        if (id === 0) rounds++;
        await new Promise((r) => setTimeout(r, id % 3));
      }
    };
    const first = Array.from({ length: 10 }, (_, i) => sender(i));
    await new Promise((r) => setTimeout(r, 25)); // the first flush (after the 20 ms linger) is running
    await Promise.all([...first, ...Array.from({ length: 10 }, (_, i) => sender(10 + i))]);
    return sizes;
  }

  it('without regrouping, two groups of closed-loop senders take turns; with it they are written together', async () => {
    const apart = await twoGroups(0);
    const together = await twoGroups(500);
    const later = (sizes: number[]) => sizes.slice(3, -2);
    assert.ok(later(apart).every((n) => n <= 10), `without regrouping: ${apart.join(' ')}`);
    const full = later(together).filter((n) => n === 20).length;
    assert.ok(later(together).length >= 5 && full >= later(together).length * 0.8, `with regrouping: ${together.join(' ')}`);
  });

  it('a regrouping batch does not wait out the window for senders that are not coming back', async () => {
    const r = recorder(5);
    const b = new MicroBatcher<number, number>({ maxItems: 1000, lingerMs: 20, regroupMs: 5000 }, r.flush);
    await Promise.all([b.submit([1]), b.submit([2])]);
    const t = performance.now();
    await b.submit([3]); // one of the two senders comes back; the other never does
    const waited = performance.now() - t;
    assert.ok(waited >= 15 && waited < 2000, `went after a linger without arrivals, not the 5 s window (${waited} ms)`);
    assert.deepEqual(r.flushes, [[1, 2], [3]]);
  });

  it('starts a full batch beside the flush in progress, at most two at a time; what is not full waits', async () => {
    const started: number[][] = [];
    let inFlight = 0;
    let most = 0;
    const b = new MicroBatcher<number, number>({ maxItems: 2, lingerMs: 1 }, async (items) => {
      started.push(items);
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setTimeout(r, 20));
      inFlight--;
      return items;
    });
    const t = performance.now();
    const first = b.submit([1, 2]); // full: goes at once
    await new Promise((r) => setTimeout(r, 2));
    const second = b.submit([3, 4]); // full: starts beside the first
    const third = b.submit([5, 6]); // full, but two are running: waits for one
    const fourth = b.submit([7]); // not full: waits
    assert.deepEqual(started, [[1, 2], [3, 4]], 'the second full batch started during the first flush');
    assert.deepEqual(await Promise.all([first, second, third, fourth]), [[1, 2], [3, 4], [5, 6], [7]]);
    assert.equal(most, 2, 'never more than two flushes at once');
    assert.deepEqual(started.slice(2).flat().sort(), [5, 6, 7]);
    assert.ok(performance.now() - t < 1000);
  });

  it('drain waits for every flush in flight', async () => {
    const done: number[] = [];
    const b = new MicroBatcher<number, number>({ maxItems: 1, lingerMs: 1 }, async (items) => {
      await new Promise((r) => setTimeout(r, 10 * items[0]!));
      done.push(items[0]!);
      return items;
    });
    const all = Promise.all([b.submit([3]), b.submit([1]), b.submit([2])]);
    await b.drain();
    assert.deepEqual(done.sort(), [1, 2, 3], 'every submission was flushed before drain resolved');
    await all;
  });
});
