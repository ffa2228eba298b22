/**
 * Which answers are compressed, through the real server: reads of 1 KiB or more are (br or gzip,
 * as the client accepts; test/api/query.test.ts checks the formats), the publish answer never is
 * (src/api/routes/messages.ts: compressing it cost about 15% of batched ingest throughput).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer } from '../helpers.js';

describe('answer compression', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.stop();
  });

  it('answers a publish uncompressed whatever the client accepts, and compresses a read of the same size', async () => {
    const messages = Array.from({ length: 200 }, (_, i) => ({ data: Buffer.from(JSON.stringify({ device_id: `gz-${i}`, seq: i, measured_at: '2026-11-24T10:00:00Z' })).toString('base64') }));
    for (const encoding of ['gzip', 'br', 'gzip, deflate, br']) {
      const res = await fetch(`${server.url}/v1/streams/sensor_readings/messages`, { method: 'POST', headers: { 'content-type': 'application/json', 'accept-encoding': encoding }, body: JSON.stringify({ messages }) });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-encoding'), null, `publish answer with accept-encoding: ${encoding}`);
      const text = await res.text();
      assert.ok(text.length > 1024, `the answer (${text.length} bytes) is over the compression threshold`);
      const body = JSON.parse(text) as { counts: { stored: number }; messageIds: string[] };
      assert.equal(body.counts.stored, 200);
      assert.equal(body.messageIds.length, 200);
    }
    for (const encoding of ['gzip', 'br']) {
      const read = await fetch(`${server.url}/v1/streams/sensor_readings/rows?limit=200`, { headers: { 'accept-encoding': encoding } });
      assert.equal(read.status, 200);
      assert.equal(read.headers.get('content-encoding'), encoding, `rows answer with accept-encoding: ${encoding}`);
      assert.equal(((await read.json()) as { rows: unknown[] }).rows.length, 200);
    }
  });
});
