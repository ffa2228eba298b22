/**
 * Crash test on the embedded default: publishers send a numbered sequence while the server
 * process is killed with SIGKILL at random moments and restarted on the same data dir. Every
 * publish is retried (same message ids) until acknowledged; at the end every message is stored
 * exactly once, and nothing acknowledged before a kill was lost.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { getJson, reading, startDevProcess, streamsDir, tempDir } from '../helpers.js';

const SEED = Number(process.env.TRIBUTARY_CRASH_SEED ?? Date.now() % 1_000_000);

/** mulberry32: a small seeded PRNG, so a failing run can be replayed with its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}


describe(`crash test (seed ${SEED})`, () => {
  it('stores every message exactly once through repeated SIGKILLs while publishing', async (t) => {
    const rand = prng(SEED);
    const { dir, cleanup } = await tempDir();
    const streams = await streamsDir(dir);
    const dataDir = join(dir, 'data');
    const batchSize = 25;
    const kills = 5;
    let server = await startDevProcess(dataDir, streams);
    let up = true;
    // The sequence goes on until the last kill and restart are done, so every kill lands mid-publish.
    let nextBatch = 0;
    let killing = true;
    const acknowledged = new Set<number>();
    let attempts = 0;
    let failedAttempts = 0;
    let duplicatesOnRetry = 0;
    let killed = 0;

    const worker = async () => {
      for (;;) {
        if (!killing) return;
        const b = nextBatch++;
        const ids = Array.from({ length: batchSize }, (_, i) => b * batchSize + i);
        const body = JSON.stringify({
          messages: ids.map((i) => ({ messageId: `crash-${i}`, data: Buffer.from(JSON.stringify(reading(i, { device_id: 'crash-seq' }))).toString('base64') })),
        });
        for (;;) {
          attempts++;
          try {
            if (!up) throw new Error('server down');
            const res = await fetch(`${server.url}/v1/streams/sensor_readings/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
            const json = (await res.json()) as { results?: { status: string }[] };
            if (res.status !== 200) throw new Error(`status ${res.status}`);
            for (const r of json.results!) {
              assert.ok(r.status === 'stored' || r.status === 'duplicate', `unexpected ${r.status}`);
              if (r.status === 'duplicate') duplicatesOnRetry++;
            }
            for (const i of ids) acknowledged.add(i);
            break;
          } catch {
            failedAttempts++;
            await new Promise((r) => setTimeout(r, 20));
          }
        }
      }
    };

    const killer = async () => {
      for (let k = 0; k < kills; k++) {
        await new Promise((r) => setTimeout(r, 100 + rand() * 500));
        up = false;
        server.child.kill('SIGKILL');
        await server.exited;
        killed++;
        server = await startDevProcess(dataDir, streams);
        up = true;
      }
      // A little more traffic after the last restart, then the publishers stop.
      await new Promise((r) => setTimeout(r, 200));
      killing = false;
    };

    try {
      await Promise.all([worker(), worker(), worker(), killer()]);
      const total = nextBatch * batchSize;
      assert.equal(acknowledged.size, total, 'every message was eventually acknowledged');
      assert.equal(killed, kills);
      const seen = new Map<string, number>();
      let next: string | null = '/v1/streams/sensor_readings/rows?device_id=crash-seq&limit=1000&order=asc';
      while (next) {
        const page: { status: number; body: { rows: { message_id: string }[]; next: string | null } } = await getJson(server.url + next);
        assert.equal(page.status, 200);
        for (const r of page.body.rows) seen.set(r.message_id, (seen.get(r.message_id) ?? 0) + 1);
        next = page.body.next;
      }
      const twice = [...seen].filter(([, n]) => n > 1);
      assert.deepEqual(twice, [], 'no message stored twice');
      const missing = Array.from({ length: total }, (_, i) => `crash-${i}`).filter((id) => !seen.has(id));
      assert.deepEqual(missing, [], 'no acknowledged message lost');
      assert.equal(seen.size, total);
      t.diagnostic(`${killed} SIGKILLs while publishing: ${total} messages acknowledged, ${attempts} publish attempts (${failedAttempts} failed and retried), ${duplicatesOnRetry} already stored when retried, ${seen.size} stored, 0 twice`);
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
      await cleanup();
    }
  });
});
