/**
 * The Warehouse contract: one suite, run against every engine (DuckDB in-process, BigQuery on
 * goccy/bigquery-emulator). Narrow it with TRIBUTARY_TEST_ENGINES=duckdb (or duckdb-large, bigquery).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { DeadLetterReason } from '../../src/core/errors.js';
import { type DeadLetter, type InboundMessage, prepareMessage, type StoredRow } from '../../src/core/message.js';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { type Warehouse, WarehouseError } from '../../src/core/ports.js';
import { createBigQueryApi } from '../../src/warehouse/bigquery/index.js';
import { parseStreamDefinition, type StreamDef } from '../../src/core/schema.js';
import { nowMicros } from '../../src/core/time.js';
import { compileValidator } from '../../src/core/validate.js';
import { BigQueryWarehouse, classify } from '../../src/warehouse/bigquery/index.js';
import { LENIENT_STREAM, ROOT } from '../helpers.js';
import { ENGINES, openWarehouse, selectedEngines, type TestWarehouse } from './engines.js';
import { getRow, queryDeadLetters, queryRows } from './api-form.js';

const sensor: StreamDef = parseStreamDefinition(JSON.parse(await readFile(join(ROOT, 'streams', 'sensor_readings.json'), 'utf8')), 'sensor_readings.json');
const lenient: StreamDef = parseStreamDefinition(LENIENT_STREAM, 'lenient_events.json');

/** A row prepared exactly as ingest prepares it. */
function row(stream: StreamDef, id: string, publishTime: bigint, payload: unknown, extra: Partial<InboundMessage> = {}): StoredRow {
  const msg: InboundMessage = {
    messageId: id,
    publishTime,
    data: typeof payload === 'string' ? Buffer.from(payload) : Buffer.from(JSON.stringify(payload)),
    attributes: {},
    orderingKey: null,
    ...extra,
  };
  const p = prepareMessage(stream, compileValidator(stream), msg, 1024 * 1024);
  if (p.kind !== 'row') throw new Error(`test row ${id} is invalid: ${p.deadLetter.detail}`);
  return p.row;
}

function dead(id: string, publishTime: bigint, reason: DeadLetterReason, payload: Uint8Array, replayCount = 0): DeadLetter {
  return { messageId: id, publishTime, reason, detail: `${reason} detail`, fieldPath: reason === 'SCHEMA_VIOLATION' ? 'seq' : null, payload, attributes: { a: 'b' }, orderingKey: null, replayCount };
}

const FULL = {
  device_id: 'capteur-🌡️-Ωmega-温度',
  seq: '9223372036854775807',
  temperature_c: -273.15,
  energy_kwh: '12345678901234567890123.123456789',
  ok: false,
  measured_at: '2026-11-24T10:15:30.123456+02:00',
  calibration_date: '0001-01-01',
  metadata: { nested: { deep: [1, 'two', null, true] }, emoji: '🚀' },
  tags: ['a', 'é', ''],
  location: { lat: 59.9139, lon: 10.7522, site: 'Oslo' },
  readings: [
    { name: 'humidity', value: 40.5, unit: '%' },
    { name: 'pressure', value: null, unit: null },
  ],
};

it('TRIBUTARY_TEST_ENGINES selects engines and refuses unknown names', () => {
  assert.deepEqual(selectedEngines({}), ['duckdb', 'duckdb-large', 'bigquery']);
  assert.deepEqual(selectedEngines({ TRIBUTARY_TEST_ENGINES: 'bigquery' }), ['bigquery']);
  assert.deepEqual(selectedEngines({ TRIBUTARY_TEST_WAREHOUSES: 'duckdb' }), ['duckdb']);
  assert.throws(() => selectedEngines({ TRIBUTARY_TEST_ENGINES: 'duckdb,postgres' }), /unknown engine "postgres"/);
});

for (const engine of ENGINES) {
  describe(`warehouse contract: ${engine}`, () => {
    let t: TestWarehouse;
    let w: Warehouse;
    // Publish times an hour ago, a microsecond apart, inside every engine's read window.
    const base = nowMicros() - 3_600_000_000n;
    const at = (i: number) => base + BigInt(i);

    before(async () => {
      t = await openWarehouse(engine);
      w = t.warehouse;
      await w.init([sensor, lenient]);
    });
    after(async () => {
      await t?.dispose();
    });

    it('init is idempotent and the warehouse answers', async () => {
      await w.init([sensor, lenient]);
      await w.ping();
      assert.equal(w.engine, engine.replace('-large', ''));
    });

    it('stores and returns every field type exactly', async () => {
      const full = row(sensor, 'c-full', at(1), FULL, { attributes: { source: 'test', 'ключ': 'значение' }, orderingKey: 'dev-1' });
      const sparse = row(sensor, 'c-sparse', at(2), { device_id: 'd2', seq: -1, measured_at: '9999-12-31T23:59:59.999999Z' });
      const res = await w.write(sensor, { rows: [full, sparse], deadLetters: [], ingestTime: at(10) });
      assert.ok(res.inserted.has('c-full') && res.inserted.has('c-sparse'));
      const got = await getRow(w, sensor, 'c-full');
      assert.ok(got, 'row c-full is found');
      assert.equal(got.message_id, 'c-full');
      assert.equal(got.ordering_key, 'dev-1');
      assert.deepEqual(got.attributes, { source: 'test', 'ключ': 'значение' });
      assert.equal(got.device_id, FULL.device_id);
      assert.equal(got.seq, '9223372036854775807');
      assert.equal(got.temperature_c, -273.15);
      assert.equal(got.energy_kwh, '12345678901234567890123.123456789');
      assert.equal(got.ok, false);
      assert.equal(got.measured_at, '2026-11-24T08:15:30.123456Z');
      assert.equal(got.calibration_date, '0001-01-01');
      assert.deepEqual(got.metadata, FULL.metadata);
      assert.deepEqual(got.tags, FULL.tags);
      assert.deepEqual(got.location, FULL.location);
      assert.deepEqual(got.readings, FULL.readings);
      const two = await getRow(w, sensor, 'c-sparse');
      assert.deepEqual(
        { ...two, message_id: undefined, publish_time: undefined, ingest_time: undefined },
        {
          message_id: undefined, publish_time: undefined, ingest_time: undefined,
          attributes: {}, ordering_key: null, device_id: 'd2', seq: '-1', temperature_c: null, energy_kwh: null, ok: null,
          measured_at: '9999-12-31T23:59:59.999999Z', calibration_date: null, metadata: null, tags: [], location: null, readings: [],
        },
      );
      assert.equal(await getRow(w, sensor, 'no-such-id'), undefined);
    });

    it('shows a redelivered message_id once, with the first stored payload', async () => {
      const first = row(sensor, 'c-dup', at(20), { device_id: 'dup', seq: 1, measured_at: '2026-11-24T00:00:00Z' });
      const again = row(sensor, 'c-dup', at(20), { device_id: 'dup', seq: 2, measured_at: '2026-11-24T00:00:00Z' });
      await w.write(sensor, { rows: [first], deadLetters: [], ingestTime: at(21) });
      await w.write(sensor, { rows: [again], deadLetters: [], ingestTime: at(22) });
      // A second adapter instance (another function instance, cold-started) redelivers it again.
      const other = t.reopen();
      await other.init([sensor, lenient]);
      await other.write(sensor, { rows: [again], deadLetters: [], ingestTime: at(23) });
      const rows = await queryRows(w, sensor, { filters: [{ chain: [sensor.fields[0]!], op: 'eq', value: 'dup' }], order: 'desc', limit: 100 });
      assert.deepEqual(rows.map((r) => [r.message_id, r.seq]), [['c-dup', '1']]);
      assert.equal((await getRow(w, sensor, 'c-dup'))?.seq, '1');
    });

    it('orders, filters and pages by (publish_time, message_id) with keyset cursors', async () => {
      const rows = Array.from({ length: 12 }, (_, i) =>
        row(sensor, `c-page-${String(i).padStart(2, '0')}`, at(100 + Math.floor(i / 2)), {
          device_id: 'page', seq: i, ok: i % 3 === 0, measured_at: '2026-11-24T00:00:00Z', location: { site: i % 2 ? 'B' : 'A' },
        }),
      );
      await w.write(sensor, { rows, deadLetters: [], ingestTime: at(200) });
      const device = { chain: [sensor.fields[0]!], op: 'eq' as const, value: 'page' };
      const seqs = (rs: Record<string, unknown>[]) => rs.map((r) => Number(r.seq));
      const desc = await queryRows(w, sensor, { filters: [device], order: 'desc', limit: 100 });
      assert.deepEqual(seqs(desc), [11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
      // Walk ascending pages of 5 with the keyset of the last row.
      const walked: number[] = [];
      let afterKey: { publishTime: bigint; messageId: string } | undefined;
      for (let i = 0; i < 10; i++) {
        const page = await queryRows(w, sensor, { filters: [device], order: 'asc', limit: 5, ...(afterKey ? { after: afterKey } : {}) });
        walked.push(...seqs(page));
        if (page.length < 5) break;
        const last = page[page.length - 1]!;
        afterKey = { publishTime: at(100 + Math.floor(Number(last.seq) / 2)), messageId: String(last.message_id) };
      }
      assert.deepEqual(walked, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
      const site = sensor.fields.find((f) => f.name === 'location')!;
      const nested = await queryRows(w, sensor, { filters: [device, { chain: [site, site.fields![2]!], op: 'eq', value: 'B' }], order: 'asc', limit: 100 });
      assert.deepEqual(seqs(nested), [1, 3, 5, 7, 9, 11]);
      const ok = sensor.fields.find((f) => f.name === 'ok')!;
      const seq = sensor.fields.find((f) => f.name === 'seq')!;
      assert.deepEqual(seqs(await queryRows(w, sensor, { filters: [device, { chain: [ok], op: 'eq', value: true }], order: 'asc', limit: 100 })), [0, 3, 6, 9]);
      assert.deepEqual(seqs(await queryRows(w, sensor, { filters: [device, { chain: [seq], op: 'eq', value: 7n }], order: 'asc', limit: 100 })), [7]);
      // Time range: [from, to) on publish_time.
      const ranged = await queryRows(w, sensor, { filters: [device], from: at(101), to: at(103), order: 'asc', limit: 100 });
      assert.deepEqual(seqs(ranged), [2, 3, 4, 5]);
      assert.deepEqual(await queryRows(w, sensor, { filters: [device], from: nowMicros() + 86_400_000_000n, order: 'asc', limit: 100 }), []);
    });

    it('stores dead letters byte for byte, filters by reason, pages, and keeps the newest per message_id', async () => {
      const notUtf8 = new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]);
      await w.write(lenient, {
        rows: [],
        deadLetters: [
          dead('d-json', at(300), 'INVALID_JSON', Buffer.from('{oops')),
          dead('d-utf8', at(301), 'INVALID_ENCODING', notUtf8),
          dead('d-schema', at(302), 'SCHEMA_VIOLATION', Buffer.from('{"seq":"x"}')),
        ],
        ingestTime: at(310),
      });
      const all = await queryDeadLetters(w, lenient, { limit: 100 });
      assert.deepEqual(all.map((d) => d.message_id), ['d-schema', 'd-utf8', 'd-json']);
      const utf8 = all.find((d) => d.message_id === 'd-utf8')!;
      assert.equal(utf8.payload, null);
      assert.equal(utf8.payload_base64, Buffer.from(notUtf8).toString('base64'));
      assert.equal(utf8.payload_size, 6);
      assert.deepEqual(utf8.attributes, { a: 'b' });
      const schema = all.find((d) => d.message_id === 'd-schema')!;
      assert.equal(schema.field_path, 'seq');
      assert.equal(schema.payload, '{"seq":"x"}');
      assert.equal(schema.replay_count, 0);
      assert.deepEqual((await queryDeadLetters(w, lenient, { reason: 'INVALID_JSON', limit: 100 })).map((d) => d.message_id), ['d-json']);
      const page = await queryDeadLetters(w, lenient, { limit: 2 });
      const last = page[1]!;
      const rest = await queryDeadLetters(w, lenient, { limit: 10, after: { publishTime: at(301), messageId: last.message_id } });
      assert.deepEqual(rest.map((d) => d.message_id), ['d-json']);
      // A replay that fails again replaces the dead letter; a redelivery of it shows once.
      await w.write(lenient, { rows: [], deadLetters: [dead('d-json', at(300), 'SCHEMA_VIOLATION', Buffer.from('{"n":"x"}'), 1)], ingestTime: at(320) });
      await w.write(lenient, { rows: [], deadLetters: [dead('d-json', at(300), 'SCHEMA_VIOLATION', Buffer.from('{"n":"x"}'), 1)], ingestTime: at(320) });
      const replaced = await queryDeadLetters(w, lenient, { limit: 100 });
      assert.deepEqual(replaced.map((d) => [d.message_id, d.reason, d.replay_count]), [
        ['d-schema', 'SCHEMA_VIOLATION', 0],
        ['d-utf8', 'INVALID_ENCODING', 0],
        ['d-json', 'SCHEMA_VIOLATION', 1],
      ]);
      assert.deepEqual(await queryDeadLetters(w, lenient, { reason: 'INVALID_JSON', limit: 100 }), []);
    });

    it('counts each message once in the stream stats', async () => {
      await w.write(lenient, { rows: [row(lenient, 'l-1', at(400), { kind: 'a' }), row(lenient, 'l-2', at(401), { kind: 'b' })], deadLetters: [], ingestTime: at(402) });
      await w.write(lenient, { rows: [row(lenient, 'l-2', at(401), { kind: 'b' })], deadLetters: [], ingestTime: at(403) });
      const st = await w.stats(lenient);
      assert.equal(st.rowCount, 2);
      assert.equal(st.newestPublishTime, at(401));
      assert.equal(st.deadLetterCount, 3);
      assert.equal(st.newestDeadLetterPublishTime, at(302));
    });

    if (engine === 'bigquery') {
      it('bounds every query by the partition column and caps the bytes billed', () => {
        assert.ok(t.queries.length > 10, `queries were observed (${t.queries.length})`);
        for (const q of t.queries) {
          assert.equal(q.maximumBytesBilled, String(1024 ** 3), q.sql);
          if (q.sql === 'SELECT 1') continue;
          const scans = q.sql.split(/\bFROM `/).length - 1;
          const bounds = q.sql.split(/publish_time >= @range_from/).length - 1;
          assert.ok(bounds >= scans, `every table read has a partition filter: ${q.sql}`);
          assert.ok(q.params.some((p) => p.name === 'range_from' && p.parameterType.type === 'TIMESTAMP'), q.sql);
          assert.doesNotMatch(q.sql, /'|"/, `no literal values in the SQL text: ${q.sql}`);
        }
        assert.ok(t.queries.some((q) => /QUALIFY ROW_NUMBER\(\) OVER \(PARTITION BY message_id/.test(q.sql)), 'reads deduplicate by message_id');
      });
    }
  });
}

describe('BigQuery error classification', () => {
  it('turns an endpoint that accepts but never answers into a transient failure within the timeout', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((sock) => sockets.push(sock));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    try {
      const api = createBigQueryApi({ projectId: 'p', apiEndpoint: `http://127.0.0.1:${port}`, timeoutMs: 300 });
      const w = new BigQueryWarehouse(api, { projectId: 'p', dataset: 'd', maxBytesBilled: 1024 ** 3, lookbackDays: 1 });
      const started = Date.now();
      await assert.rejects(w.ping(), (err: unknown) => err instanceof WarehouseError && err.transient);
      assert.ok(Date.now() - started < 5000, `gave up after ${Date.now() - started} ms`);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it('is permanent only when BigQuery refused the content', () => {
    const transient = (e: unknown) => classify(e, 'x').transient;
    assert.equal(transient({ code: 400, errors: [{ reason: 'invalid' }], message: 'bad value' }), false);
    assert.equal(transient({ code: 400, errors: [{ reason: 'invalidQuery' }] }), false);
    assert.equal(transient({ code: 400, errors: [{ reason: 'bytesBilledLimitExceeded' }] }), false);
    assert.equal(transient({ code: 500, errors: [{ reason: 'backendError' }] }), true);
    assert.equal(transient({ code: 503 }), true);
    assert.equal(transient({ code: 429, errors: [{ reason: 'rateLimitExceeded' }] }), true);
    assert.equal(transient({ code: 403, errors: [{ reason: 'quotaExceeded' }] }), true);
    assert.equal(transient({ code: 403, errors: [{ reason: 'accessDenied' }] }), true);
    assert.equal(transient({ code: 404, errors: [{ reason: 'notFound' }] }), true);
    assert.equal(transient(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' })), true);
  });
});
