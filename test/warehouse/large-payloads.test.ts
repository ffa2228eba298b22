/**
 * Large dead-letter payloads on a real DuckDB file (DuckDBWarehouse). DuckDB 1.5 keeps the values
 * over about 32 KiB of a row group pinned while it checkpoints that row group, so a table of such
 * values stops taking writes once they add up to the memory limit (and the failed checkpoint
 * invalidates the database). Dead letters keep whole payloads (a message too large is stored for
 * replay), so the warehouse stores a large one in parts of 16 KiB. Here: incompressible 1.2 MiB
 * payloads adding up to 3 times the memory limit are all written and read back byte for byte
 * (one, a page, the raw form replay uses, a deletion as replay does), also after a reopen.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { DeadLetter } from '../../src/core/message.js';
import { parseStreamDefinition } from '../../src/core/schema.js';
import { Ingest } from '../../src/ingest/ingest.js';
import { DuckDBWarehouse } from '../../src/warehouse/duckdb/index.js';
import { getDeadLetter, getRow, queryDeadLetters } from './api-form.js';

const STREAM = parseStreamDefinition({ name: 'big', fields: [{ name: 'v', type: 'INT64' }] }, 'big');
const LIMIT = '64MB';
const PAYLOAD = 1.2 * 1024 * 1024;
const PER_WRITE = 10;
const WRITES = 16; // 192 MiB of payloads: 3 times the memory limit

/** An incompressible payload (xorshift32 seeded by the message number), the same on every call. */
function payload(n: number, size = PAYLOAD): Buffer {
  const b = Buffer.alloc(Math.floor(size));
  let x = (n * 2654435761 + 1) >>> 0 || 1;
  for (let i = 0; i + 4 <= b.length; i += 4) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b.writeUInt32LE(x, i);
  }
  return b;
}

function deadLetter(n: number, size?: number): DeadLetter {
  return {
    messageId: `big-${n}`,
    publishTime: 1_795_000_000_000_000n + BigInt(n) * 1000n,
    reason: 'MESSAGE_TOO_LARGE',
    detail: 'the payload is larger than the stream allows',
    fieldPath: null,
    payload: payload(n, size),
    attributes: { n: String(n) },
    orderingKey: null,
    replayCount: 0,
  };
}

describe('large dead-letter payloads (DuckDB)', () => {
  let dir: string;
  let path: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tributary-large-'));
    path = join(dir, 'big.duckdb');
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it(`stores ${WRITES * PER_WRITE} payloads of 1.2 MiB at a ${LIMIT} memory limit, and reads them back exactly, also after a reopen`, async () => {
    let w = await DuckDBWarehouse.open({ path, memoryLimit: LIMIT, threads: 1 });
    try {
      await w.init([STREAM]);
      for (let k = 0; k < WRITES; k++) {
        const deadLetters = Array.from({ length: PER_WRITE }, (_, i) => deadLetter(k * PER_WRITE + i));
        await w.write(STREAM, { rows: [], deadLetters, ingestTime: BigInt(Date.now()) * 1000n });
      }
      // A small payload next to them is stored whole, as before.
      await w.write(STREAM, { rows: [], deadLetters: [deadLetter(100_000, 100)], ingestTime: BigInt(Date.now()) * 1000n });
      const one = await getDeadLetter(w, STREAM, 'big-37');
      assert.equal(one?.payload_size, Math.floor(PAYLOAD));
      assert.ok(Buffer.from(one!.payload_base64 as string, 'base64').equals(payload(37)), 'one dead letter, byte for byte');
    } finally {
      await w.close();
    }
    w = await DuckDBWarehouse.open({ path, memoryLimit: LIMIT, threads: 1 });
    try {
      await w.init([STREAM]);
      const page = await queryDeadLetters(w, STREAM, { limit: 5 });
      assert.equal(page.length, 5);
      for (const d of page) {
        const n = Number(String(d.message_id).slice(4));
        assert.ok(Buffer.from(d.payload_base64 as string, 'base64').equals(payload(n, n === 100_000 ? 100 : PAYLOAD)), `${String(d.message_id)} byte for byte`);
      }
      const raw = await w.getRawDeadLetters(STREAM, ['big-0', 'big-159', 'big-100000']);
      assert.deepEqual(raw.map((r) => r.messageId), ['big-0', 'big-159', 'big-100000']);
      assert.ok(Buffer.from(raw[0]!.payload).equals(payload(0)));
      assert.ok(Buffer.from(raw[1]!.payload).equals(payload(159)));
      assert.ok(Buffer.from(raw[2]!.payload).equals(payload(100_000, 100)));
      // Writes go on after the reopen.
      await w.write(STREAM, { rows: [], deadLetters: Array.from({ length: PER_WRITE }, (_, i) => deadLetter(200 + i)), ingestTime: BigInt(Date.now()) * 1000n });
      const after = await getDeadLetter(w, STREAM, 'big-209');
      assert.ok(Buffer.from(after!.payload_base64 as string, 'base64').equals(payload(209)));
      // Deleting dead letters (as replay does) deletes their parts: written again, they read back whole.
      assert.equal(await w.deleteDeadLetters(STREAM, ['big-209', 'big-100000']), 2);
      assert.equal(await getDeadLetter(w, STREAM, 'big-209'), undefined);
      await w.write(STREAM, { rows: [], deadLetters: [deadLetter(209)], ingestTime: BigInt(Date.now()) * 1000n });
      const again = await getDeadLetter(w, STREAM, 'big-209');
      assert.ok(Buffer.from(again!.payload_base64 as string, 'base64').equals(payload(209)), 'no stale parts');
      // A dead letter written again for the same message (a replay that failed again) replaces its parts.
      await w.write(STREAM, { rows: [], deadLetters: [deadLetter(209)], ingestTime: BigInt(Date.now()) * 1000n });
      const replaced = await getDeadLetter(w, STREAM, 'big-209');
      assert.ok(Buffer.from(replaced!.payload_base64 as string, 'base64').equals(payload(209)), 'parts replaced, not added');
    } finally {
      await w.close();
    }
  });

  it('refuses a row value over 200 KiB (DuckDB cannot checkpoint such values): that message is dead-lettered whole, its batch-mates stored', async () => {
    const notes = parseStreamDefinition({ name: 'notes', fields: [{ name: 'title', type: 'STRING' }, { name: 'tags', type: 'STRING', mode: 'REPEATED' }] }, 'notes');
    const w = await DuckDBWarehouse.open({ path: join(dir, 'notes.duckdb'), memoryLimit: '128MB', threads: 1 });
    try {
      await w.init([notes]);
      const ingest = new Ingest({ warehouse: w, options: { batchMaxRows: 1000, batchLingerMs: 5, maxMessageBytes: 1024 * 1024, writeRetryMs: 1000 } });
      const text = (bytes: number) => 'x'.repeat(bytes);
      const messages = [
        { title: 'small', tags: ['a'] },
        { title: text(200 * 1024), tags: [] },
        { title: 'in a list', tags: ['b', text(300 * 1024)] },
        { title: text(300 * 1024), tags: [] },
      ].map((m, i) => ({ messageId: `note-${i}`, publishTime: 1_795_000_000_000_000n + BigInt(i), data: Buffer.from(JSON.stringify(m)), attributes: {}, orderingKey: null }));
      const outcomes = await ingest.ingest(notes, messages);
      assert.deepEqual(outcomes.map((o) => o.status), ['stored', 'stored', 'dead_lettered', 'dead_lettered']);
      assert.match(String(outcomes[2]!.detail), /the value of "tags\[1\]" is 307200 bytes, over the embedded warehouse's limit of 204800 bytes per value/);
      assert.match(String(outcomes[3]!.detail), /the value of "title" is 307200 bytes/);
      assert.equal(((await getRow(w, notes, 'note-1'))?.title as string).length, 200 * 1024);
      const dead = await getDeadLetter(w, notes, 'note-3');
      assert.equal(dead?.reason, 'WAREHOUSE_REJECTED');
      assert.ok(Buffer.from(dead!.payload_base64 as string, 'base64').equals(messages[3]!.data), 'the payload is kept whole');
    } finally {
      await w.close();
    }
  });
});
