/**
 * Bounded load on 127.0.0.1 against the real process: publishers and readers at the same time
 * for a fixed time, then SIGTERM in the middle of such load. Zero errors, zero loss, and every
 * request is answered or refused with a clear status.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { getJson, reading, startDevProcess, streamsDir, tempDir } from '../helpers.js';

const SECONDS = Number(process.env.TRIBUTARY_LOAD_SECONDS ?? 5);


function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

interface LoadResult {
  acked: Set<string>;
  publishMs: number[];
  readMs: number[];
  errors: string[];
  refused: number;
}

/** Publishers (batches of 50, fresh ids) and readers (newest 100 with a filter) until `stop()` says so. */
async function load(url: string, tag: string, until: () => boolean, allowShutdown = false): Promise<LoadResult> {
  const out: LoadResult = { acked: new Set(), publishMs: [], readMs: [], errors: [], refused: 0 };
  let batch = 0;
  const publisher = async () => {
    while (!until()) {
      const b = batch++;
      const body = JSON.stringify({ messages: Array.from({ length: 50 }, (_, i) => ({ messageId: `${tag}-${b}-${i}`, data: Buffer.from(JSON.stringify(reading(i, { device_id: tag }))).toString('base64') })) });
      const t = performance.now();
      try {
        const res = await fetch(`${url}/v1/streams/sensor_readings/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        const json = (await res.json()) as { results?: { messageId: string; status: string }[]; error?: { code: string } };
        if (res.status === 200) {
          out.publishMs.push(performance.now() - t);
          for (const r of json.results!) {
            if (r.status !== 'stored') out.errors.push(`publish result ${r.status}`);
            out.acked.add(r.messageId);
          }
        } else if (allowShutdown && res.status === 503 && json.error?.code === 'SHUTTING_DOWN') out.refused++;
        else out.errors.push(`publish answered ${res.status} ${json.error?.code}`);
      } catch (err) {
        if (allowShutdown) out.refused++;
        else out.errors.push(`publish failed: ${(err as Error).message}`);
        if (allowShutdown) return;
      }
    }
  };
  const reader = async () => {
    while (!until()) {
      const t = performance.now();
      try {
        const res = await fetch(`${url}/v1/streams/sensor_readings/rows?device_id=${tag}&limit=100`);
        await res.arrayBuffer();
        if (res.status === 200) out.readMs.push(performance.now() - t);
        else if (!(allowShutdown && res.status === 503)) out.errors.push(`read answered ${res.status}`);
      } catch (err) {
        if (!allowShutdown) out.errors.push(`read failed: ${(err as Error).message}`);
        return;
      }
    }
  };
  await Promise.all([publisher(), publisher(), publisher(), publisher(), reader(), reader()]);
  return out;
}

async function storedIds(url: string, tag: string): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  let next: string | null = `/v1/streams/sensor_readings/rows?device_id=${tag}&limit=1000`;
  while (next) {
    const page: { status: number; body: { rows: { message_id: string }[]; next: string | null } } = await getJson(url + next);
    assert.equal(page.status, 200);
    for (const r of page.body.rows) seen.set(r.message_id, (seen.get(r.message_id) ?? 0) + 1);
    next = page.body.next;
  }
  return seen;
}

describe('load', () => {
  it(`publishes and reads at once for ${SECONDS}s with zero errors and zero loss`, async (t) => {
    const { dir, cleanup } = await tempDir();
    const streams = await streamsDir(dir);
    const server = await startDevProcess(join(dir, 'data'), streams);
    try {
      const deadline = performance.now() + SECONDS * 1000;
      const r = await load(server.url, 'load', () => performance.now() > deadline);
      assert.deepEqual(r.errors, []);
      const seen = await storedIds(server.url, 'load');
      assert.equal(seen.size, r.acked.size, 'every acknowledged message is stored');
      for (const [id, n] of seen) assert.equal(n, 1, `${id} once`);
      t.diagnostic(
        `${SECONDS}s, 4 publishers x 50 msgs + 2 readers: ${Math.round(r.acked.size / SECONDS)} msg/s stored, ` +
          `publish p50 ${pct(r.publishMs, 50).toFixed(1)} ms p99 ${pct(r.publishMs, 99).toFixed(1)} ms; ` +
          `${Math.round(r.readMs.length / SECONDS)} reads/s, read p50 ${pct(r.readMs, 50).toFixed(1)} ms p99 ${pct(r.readMs, 99).toFixed(1)} ms; 0 errors, 0 lost`,
      );
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
      await cleanup();
    }
  });

  it('on SIGTERM during load, answers or refuses every request, exits 0, and loses nothing', async (t) => {
    const { dir, cleanup } = await tempDir();
    const streams = await streamsDir(dir);
    let server = await startDevProcess(join(dir, 'data'), streams);
    try {
      let exited = false;
      const running = load(server.url, 'term', () => exited, true);
      await new Promise((r) => setTimeout(r, 1000));
      server.child.kill('SIGTERM');
      const code = await server.exited;
      exited = true;
      const r = await running;
      assert.equal(code, 0, 'exits 0 after SIGTERM');
      assert.deepEqual(r.errors, [], 'every answer was 200 or 503 SHUTTING_DOWN, or the connection was refused after close');
      server = await startDevProcess(join(dir, 'data'), streams);
      const seen = await storedIds(server.url, 'term');
      for (const id of r.acked) assert.equal(seen.get(id), 1, `acknowledged ${id} is stored once`);
      t.diagnostic(`SIGTERM after 1 s of load: ${r.acked.size} acknowledged and stored, ${r.refused} refused or closed during shutdown`);
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
      await cleanup();
    }
  });
});
