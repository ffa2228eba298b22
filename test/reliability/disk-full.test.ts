/**
 * A real warehouse fault on the embedded default: the data dir is a small tmpfs that fills up
 * while publishing. Writes then fail inside DuckDB ("No space left on device"); the publish
 * must answer 503 WAREHOUSE_UNAVAILABLE and acknowledge nothing; once space is freed, the same
 * messages are accepted, and every acknowledged message is stored exactly once, also after a
 * SIGKILL and restart. Mounting needs root, which CI has (`.ci/run` runs as root).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type DevProcess, getJson, postJson, reading, startDevProcess, streamsDir, tempDir } from '../helpers.js';

const isRoot = process.getuid?.() === 0;


describe('warehouse faults: the disk fills up', () => {
  it('answers 503 and acknowledges nothing while the disk is full, then stores everything once space is back', { skip: isRoot ? false : 'mounting a tmpfs needs root (CI runs as root)' }, async (t) => {
    const { dir, cleanup } = await tempDir();
    const streams = await streamsDir(dir);
    const mnt = join(dir, 'small-disk');
    await mkdir(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tributary-test', mnt]);
    let server: DevProcess | undefined;
    try {
      const dataDir = join(mnt, 'data');
      server = await startDevProcess(dataDir, streams, ['--log-level', 'fatal', '--write-retry-ms', '200']);
      const acknowledged = new Set<string>();
      const batch = (b: number) => ({
        messages: Array.from({ length: 200 }, (_, i) => ({
          messageId: `full-${b}-${i}`,
          data: Buffer.from(JSON.stringify(reading(i, { device_id: 'disk', metadata: { pad: 'x'.repeat(400) } }))).toString('base64'),
        })),
      });
      let refused: number | undefined;
      for (let b = 0; b < 300 && refused === undefined; b++) {
        const res = await postJson(`${server.url}/v1/streams/sensor_readings/messages`, batch(b));
        if (res.status === 200) {
          for (const r of res.body.results) {
            assert.equal(r.status, 'stored');
            acknowledged.add(r.messageId);
          }
        } else {
          assert.equal(res.status, 503, JSON.stringify(res.body));
          assert.equal(res.body.error.code, 'WAREHOUSE_UNAVAILABLE');
          assert.equal(res.headers.get('retry-after'), '1');
          refused = b;
        }
      }
      assert.ok(refused !== undefined, 'the disk filled up and a publish was refused');
      // Still refused while full: nothing of it was half-stored.
      const again = await postJson(`${server.url}/v1/streams/sensor_readings/messages`, batch(refused));
      assert.equal(again.status, 503);
      const health = await getJson(`${server.url}/readyz`);
      assert.equal(health.status, 200, 'reads still work on a full disk');
      assert.equal((await getJson(`${server.url}/v1/streams/sensor_readings`)).body.rowCount, acknowledged.size, 'only acknowledged rows are stored');

      execFileSync('mount', ['-o', 'remount,size=64m', mnt]);
      const retried = await postJson(`${server.url}/v1/streams/sensor_readings/messages`, batch(refused));
      assert.equal(retried.status, 200, 'the same messages are accepted once space is back');
      for (const r of retried.body.results) {
        assert.equal(r.status, 'stored');
        acknowledged.add(r.messageId);
      }

      server.child.kill('SIGKILL');
      await server.exited;
      server = await startDevProcess(dataDir, streams, ['--log-level', 'fatal', '--write-retry-ms', '200']);
      const seen = new Map<string, number>();
      let next: string | null = '/v1/streams/sensor_readings/rows?device_id=disk&limit=1000';
      while (next) {
        const page: { body: { rows: { message_id: string }[]; next: string | null } } = await getJson(server.url + next);
        for (const r of page.body.rows) seen.set(r.message_id, (seen.get(r.message_id) ?? 0) + 1);
        next = page.body.next;
      }
      assert.equal(seen.size, acknowledged.size);
      for (const id of acknowledged) assert.equal(seen.get(id), 1, `${id} stored once`);
      t.diagnostic(`disk full after ${refused} batches of 200: ${acknowledged.size} acknowledged, refused batch retried after remount, ${seen.size} stored after SIGKILL + restart`);
    } finally {
      if (server) {
        server.child.kill('SIGKILL');
        await server.exited;
      }
      execFileSync('umount', [mnt]);
      await cleanup();
    }
  });
});
