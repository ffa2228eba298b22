/**
 * The Warehouse port's read contract, run against every engine of `./engines.ts` (DuckDB, and
 * BigQuery on its emulator). Expectations are computed in JavaScript from the written data, never
 * by SQL. `TRIBUTARY_TEST_ENGINES` (alias `TRIBUTARY_TEST_WAREHOUSES`) narrows the list.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DeadLetter, StoredRow } from '../../src/core/message.js';
import type { AggregateQuery, Filter, Warehouse } from '../../src/core/ports.js';
import { ENVELOPE_FIELDS, type FieldDef, parseStreamDefinition } from '../../src/core/schema.js';
import { compileValidator } from '../../src/core/validate.js';
import { ENGINES, openWarehouse, type TestWarehouse } from './engines.js';
import { aggregate, getDeadLetter, queryRows } from './api-form.js';


const STREAM = parseStreamDefinition({
  name: 'contract',
  fields: [
    { name: 'k', type: 'STRING', mode: 'REQUIRED' },
    { name: 'n', type: 'INT64' },
    { name: 'x', type: 'FLOAT64' },
    { name: 'd', type: 'NUMERIC' },
    { name: 't', type: 'TIMESTAMP' },
    { name: 'day', type: 'DATE' },
    { name: 'b', type: 'BOOL' },
    { name: 'r', type: 'RECORD', fields: [{ name: 's', type: 'STRING' }] },
  ],
}, 'contract');

const BASE = 1_795_000_000_000_000n; // 2026-11-18T...Z, on a whole 10 s
const N = 30;
type Src = { k: string; n: number | null; x: number | null; d: string | null; t: string; day: string | null; b: boolean | null; r: { s: string | null } | null };
const SRC: Src[] = Array.from({ length: N }, (_, i) => ({
  k: ['a', 'b', 'c'][i % 3]!,
  n: i % 5 === 4 ? null : i * 7 - 50,
  x: i % 4 === 0 ? null : i / 8,
  d: i % 6 === 0 ? null : `${i}.5`,
  t: `2026-01-${String(1 + (i % 28)).padStart(2, '0')}T12:00:00Z`,
  day: i % 3 === 1 ? null : `2026-03-${String(1 + (i % 28)).padStart(2, '0')}`,
  b: i % 7 === 0 ? null : i % 2 === 0,
  r: i % 4 === 1 ? null : { s: i % 2 ? 'odd' : null },
}));
const ATTRS = (i: number): Record<string, string> => (i % 3 === 2 ? {} : { zone: i % 2 ? 'z1' : 'z2' });
const id = (i: number) => `c-${String(i).padStart(2, '0')}`;
const INGEST = BASE + 31_000_000n;

const field = (name: string): FieldDef[] => {
  const [head, sub] = name.split('.');
  const f = [...ENVELOPE_FIELDS, ...STREAM.fields].find((x) => x.name === head)!;
  return sub ? [f, f.fields!.find((x) => x.name === sub)!] : [f];
};

for (const engine of ENGINES) {
  describe(`Warehouse contract: ${engine}`, () => {
    let t: TestWarehouse;
    let w: Warehouse;
    before(async () => {
      t = await openWarehouse(engine);
      w = t.warehouse;
      await w.init([STREAM]);
      const validate = compileValidator(STREAM);
      const rows: StoredRow[] = SRC.map((s, i) => ({
        messageId: id(i), publishTime: BASE + BigInt(i) * 1_000_000n, attributes: ATTRS(i), orderingKey: null,
        values: validate(JSON.parse(JSON.stringify(s))), payload: Buffer.from(JSON.stringify(s)),
      }));
      const dead: DeadLetter[] = [0, 1, 2].map((i) => ({
        messageId: `dl-${i}`, publishTime: BASE + BigInt(i) * 10_000_000n, reason: i === 2 ? 'INVALID_JSON' : 'SCHEMA_VIOLATION',
        detail: 'x', fieldPath: null, payload: Buffer.from([0xff, i]), attributes: { i: String(i) }, orderingKey: 'o', replayCount: i,
      }));
      await w.write(STREAM, { rows, deadLetters: dead, ingestTime: INGEST });
    });
    after(async () => {
      await t?.dispose();
    });

    const ids = (pred: (s: Src, i: number) => boolean) => SRC.map((s, i) => [s, i] as const).filter(([s, i]) => pred(s, i)).map(([, i]) => id(i));
    const CASES: [string, Filter[], (s: Src, i: number) => boolean][] = [
      ['k eq', [{ chain: field('k'), op: 'eq', value: 'b' }], (s) => s.k === 'b'],
      ['k in', [{ chain: field('k'), op: 'in', values: ['a', 'c'] }], (s) => s.k !== 'b'],
      ['k prefix', [{ chain: field('k'), op: 'prefix', value: 'c' }], (s) => s.k.startsWith('c')],
      ['n gte/lt', [{ chain: field('n'), op: 'gte', value: 0n }, { chain: field('n'), op: 'lt', value: 100n }], (s) => s.n !== null && s.n >= 0 && s.n < 100],
      ['x gt', [{ chain: field('x'), op: 'gt', value: 2 }], (s) => s.x !== null && s.x > 2],
      ['d lte', [{ chain: field('d'), op: 'lte', value: '10.5' }], (s) => s.d !== null && Number(s.d) <= 10.5],
      ['t lt', [{ chain: field('t'), op: 'lt', value: BigInt(Date.parse('2026-01-10T00:00:00Z')) * 1000n }], (s) => s.t < '2026-01-10'],
      ['day gt', [{ chain: field('day'), op: 'gt', value: Date.parse('2026-03-15') / 86_400_000 }], (s) => s.day !== null && s.day > '2026-03-15'],
      ['b eq', [{ chain: field('b'), op: 'eq', value: true }], (s) => s.b === true],
      ['b is_null', [{ chain: field('b'), op: 'is_null' }], (s) => s.b === null],
      ['r not_null', [{ chain: field('r'), op: 'not_null' }], (s) => s.r !== null],
      ['r.s eq', [{ chain: field('r.s'), op: 'eq', value: 'odd' }], (s) => s.r?.s === 'odd'],
      ['attribute eq', [{ chain: field('attributes'), attribute: 'zone', op: 'eq', value: 'z1' }], (_s, i) => ATTRS(i).zone === 'z1'],
      ['attribute is_null', [{ chain: field('attributes'), attribute: 'zone', op: 'is_null' }], (_s, i) => ATTRS(i).zone === undefined],
    ];
    for (const [name, filters, pred] of CASES) {
      it(`queryRows filter: ${name}`, async () => {
        const got = (await queryRows(w, STREAM, { filters, order: 'asc', limit: 100 })).map((r) => r.message_id);
        assert.deepEqual(got, ids(pred));
      });
    }

    it('returns domain values (the API serialises them)', async () => {
      const [r] = await w.queryRows(STREAM, { filters: [], order: 'asc', limit: 1 });
      assert.equal(r!.message_id, id(0));
      assert.equal(r!.publish_time, BASE);
      assert.equal(r!.ingest_time, INGEST);
      assert.equal(r!.n, -50n, 'INT64 as bigint');
      assert.equal(r!.t, 1_767_268_800_000_000n, 'TIMESTAMP as epoch microseconds');
      assert.equal(r!.day, 20_513, 'DATE as days since the epoch');
      assert.equal(r!.d, null);
      assert.equal(r!.attributes, '{"zone":"z2"}', 'JSON as its text');
      const [g] = await w.aggregate(STREAM, { filters: [], groupBy: [], intervalMicros: 10_000_000n, limit: 10, metrics: [{ name: 'count', fn: 'count' }, { name: 'sum_n', fn: 'sum', chain: field('n') }] });
      assert.equal(g!.time, BASE, 'the bucket start in microseconds');
      assert.equal(typeof g!.sum_n, 'bigint');
      const [dl] = await w.getRawDeadLetters(STREAM, ['dl-1']);
      assert.equal(typeof dl!.deadLetteredAt, 'bigint');
      assert.equal(dl!.payloadSize, dl!.payload.byteLength);
    });

    it('queryRows orders both ways, pages with a keyset, projects fields', async () => {
      const asc = (await queryRows(w, STREAM, { filters: [], order: 'asc', limit: 100 })).map((r) => r.message_id);
      assert.deepEqual(asc, SRC.map((_, i) => id(i)));
      const page = await queryRows(w, STREAM, { filters: [], order: 'desc', limit: 5, after: { publishTime: BASE + 10_000_000n, messageId: id(10) } });
      assert.deepEqual(page.map((r) => r.message_id), [9, 8, 7, 6, 5].map(id));
      const proj = await queryRows(w, STREAM, { filters: [], order: 'asc', limit: 1, fields: ['k'] });
      assert.deepEqual(Object.keys(proj[0]!).sort(), ['k', 'message_id', 'publish_time']);
    });

    it('aggregates by time bucket and field', async () => {
      const q: AggregateQuery = {
        filters: [], groupBy: [field('k')], intervalMicros: 10_000_000n, limit: 100,
        metrics: [
          { name: 'count', fn: 'count' },
          { name: 'sum_n', fn: 'sum', chain: field('n') },
          { name: 'avg_x', fn: 'avg', chain: field('x') },
          { name: 'max_d', fn: 'max', chain: field('d') },
          { name: 'min_t', fn: 'min', chain: field('t') },
          { name: 'p50_x', fn: 'percentile', chain: field('x'), fraction: 0.5 },
          { name: 'count_distinct_b', fn: 'count_distinct', chain: field('b') },
        ],
      };
      const rows = await aggregate(w, STREAM, q);
      const expected: Record<string, unknown>[] = [];
      for (let bucket = 0; bucket < 3; bucket++) {
        for (const k of ['a', 'b', 'c']) {
          const g = SRC.filter((s, i) => Math.floor(i / 10) === bucket && s.k === k);
          const xs = g.map((s) => s.x).filter((x): x is number => x !== null).sort((a, b) => a - b);
          const h = (xs.length - 1) * 0.5;
          const lo = Math.floor(h);
          expected.push({
            time: new Date(Number((BASE + BigInt(bucket) * 10_000_000n) / 1000n)).toISOString().replace('Z', '000Z'),
            k, count: g.length,
            sum_n: String(g.reduce((a, s) => a + (s.n ?? 0), 0)),
            avg_x: xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null,
            max_d: g.map((s) => s.d).filter((d) => d !== null).sort((a, b) => Number(b) - Number(a))[0] ?? null,
            min_t: g.map((s) => s.t).sort()[0]!.replace('Z', '.000000Z'),
            p50_x: xs.length ? (lo + 1 < xs.length ? xs[lo]! + (h - lo) * (xs[lo + 1]! - xs[lo]!) : xs[lo]!) : null,
            count_distinct_b: new Set(g.map((s) => s.b).filter((b) => b !== null)).size,
          });
        }
      }
      assert.equal(rows.length, expected.length);
      rows.forEach((r, i) => {
        const e = expected[i]!;
        for (const key of Object.keys(e)) {
          if (typeof e[key] === 'number' && key !== 'count' && key !== 'count_distinct_b') assert.ok(Math.abs((r[key] as number) - (e[key] as number)) < 1e-9, `${key} of ${i}`);
          else if (key === 'max_d') assert.equal(r[key] === null ? null : Number(r[key]), e[key] === null ? null : Number(e[key]), `${key} of ${i}`);
          else assert.deepEqual(r[key], e[key], `${key} of ${i}`);
        }
      });
      const overflow = await aggregate(w, STREAM, { ...q, intervalMicros: 1_000_000n, limit: 10 });
      assert.equal(overflow.length, 11, 'at most limit + 1 rows');
    });

    it('windowStats counts rows and dead letters and measures freshness', async () => {
      const from = BASE + 5_000_000n;
      const to = BASE + 15_000_000n;
      const s = await w.windowStats(STREAM, { from, to });
      assert.equal(s.rowCount, 10);
      assert.deepEqual(s.deadLettersByReason, { SCHEMA_VIOLATION: 1 });
      const lags = Array.from({ length: 10 }, (_, j) => (31 - (j + 5)) * 1000).sort((a, b) => a - b);
      const q = (p: number) => { const h = (lags.length - 1) * p; const lo = Math.floor(h); return lags[lo]! + (h - lo) * ((lags[lo + 1] ?? lags[lo]!) - lags[lo]!); };
      assert.ok(Math.abs(s.freshnessMs!.p50 - q(0.5)) < 1e-6);
      assert.ok(Math.abs(s.freshnessMs!.p95 - q(0.95)) < 1e-6);
      assert.equal(s.freshnessMs!.max, 26_000);
      assert.equal((await w.windowStats(STREAM, { from: 0n, to: 1n })).freshnessMs, null);
    });

    it('gets, reads raw and deletes dead letters', async () => {
      assert.equal((await getDeadLetter(w, STREAM, 'dl-1'))?.replay_count, 1);
      assert.equal(await getDeadLetter(w, STREAM, 'nope'), undefined);
      const raw = await w.getRawDeadLetters(STREAM, ['dl-2', 'dl-0', 'nope']);
      assert.deepEqual(raw.map((d) => d.messageId).sort(), ['dl-0', 'dl-2']);
      const d2 = raw.find((d) => d.messageId === 'dl-2')!;
      assert.deepEqual([...d2.payload], [0xff, 2]);
      assert.equal(d2.publishTime, BASE + 20_000_000n);
      assert.deepEqual(d2.attributes, { i: '2' });
      assert.equal(d2.orderingKey, 'o');
      assert.equal(await w.deleteDeadLetters(STREAM, ['dl-0', 'nope']), 1);
      assert.equal(await getDeadLetter(w, STREAM, 'dl-0'), undefined);
    });
  });
}
