/**
 * DuckDB minute rollups: every aggregate they answer must equal the table scan's answer. Two
 * warehouses get the same writes, one with rollups and one without, and answer a grid of queries
 * (bucket widths, aligned and unaligned ranges, open ranges, every served metric, and queries the
 * rollup must leave to the scan) at each stage: rows not folded yet, after a fold, late rows,
 * redeliveries, a clock that stepped back, a reopen, rollups turned off and on, a new field.
 * Counts are also checked against the distinct rows counted in JavaScript.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { StoredRow } from '../../src/core/message.js';
import type { AggregateQuery, AggregateRow, Metric } from '../../src/core/ports.js';
import { ENVELOPE_FIELDS, type FieldDef, parseStreamDefinition, type StreamDef } from '../../src/core/schema.js';
import { compileValidator } from '../../src/core/validate.js';
import { DuckDBWarehouse } from '../../src/warehouse/duckdb/index.js';
import { aggregate } from './api-form.js';

const FIELDS = [
  { name: 'k', type: 'STRING', mode: 'REQUIRED' },
  { name: 'n', type: 'INT64' },
  { name: 'x', type: 'FLOAT64' },
  { name: 'd', type: 'NUMERIC' },
  { name: 'loc', type: 'RECORD', fields: [{ name: 'lat', type: 'FLOAT64' }, { name: 'v', type: 'INT64' }] },
  { name: 'tags', type: 'INT64', mode: 'REPEATED' },
];
const STREAM = parseStreamDefinition({ name: 'roll', fields: FIELDS }, 'roll');
const GROWN = parseStreamDefinition({ name: 'roll', fields: [...FIELDS, { name: 'y', type: 'FLOAT64' }] }, 'roll');

const MIN = 60_000_000n;
// Not on a whole minute, so that generated ranges have partial minutes at their edges.
const BASE = 1_795_000_017_250_000n;
const SPAN = 3n * 3600n * 1_000_000n;

/** A small deterministic generator (LCG), so that a failure replays. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
const rand = rng(20261124);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;

interface Src {
  id: string;
  publishTime: bigint;
  value: Record<string, unknown>;
}

let counter = 0;
function makeRows(count: number, from: bigint, span: bigint, withY = false): Src[] {
  return Array.from({ length: count }, () => {
    const i = counter++;
    const v: Record<string, unknown> = {
      k: pick(['a', 'b', 'c']),
      n: rand() < 0.15 ? null : Math.floor(rand() * 2000) - 1000,
      x: rand() < 0.2 ? null : Math.round(rand() * 1e6) / 1e3 - 400,
      d: rand() < 0.2 ? null : `${Math.floor(rand() * 1e5)}.${String(Math.floor(rand() * 1e9)).padStart(9, '0')}`,
      loc: rand() < 0.2 ? null : { lat: rand() < 0.3 ? null : rand() * 90, v: rand() < 0.3 ? null : Math.floor(rand() * 100) },
      tags: [1, 2],
    };
    if (withY) v.y = rand() < 0.3 ? null : rand() * 10;
    return { id: `m-${i}`, publishTime: from + BigInt(Math.floor(rand() * Number(span))), value: v };
  });
}

function stored(def: StreamDef, rows: readonly Src[]): StoredRow[] {
  const validate = compileValidator(def);
  return rows.map((r) => ({
    messageId: r.id,
    publishTime: r.publishTime,
    attributes: {},
    orderingKey: null,
    values: validate(JSON.parse(JSON.stringify(r.value))),
    payload: Buffer.from(JSON.stringify(r.value)),
  }));
}

const chainOf = (def: StreamDef, path: string): FieldDef[] => {
  const [head, sub] = path.split('.');
  const f = [...ENVELOPE_FIELDS, ...def.fields].find((x) => x.name === head)!;
  return sub ? [f, f.fields!.find((x) => x.name === sub)!] : [f];
};

function servedMetrics(def: StreamDef, extra: string[] = []): Metric[] {
  const m: Metric[] = [{ name: 'count', fn: 'count' }];
  for (const path of ['n', 'x', 'd', 'loc.lat', 'loc.v', ...extra]) {
    const chain = chainOf(def, path);
    const fns = chain[chain.length - 1]!.type === 'NUMERIC' ? (['sum', 'min', 'max'] as const) : (['sum', 'avg', 'min', 'max'] as const);
    for (const fn of fns) m.push({ name: `${fn}_${path}`, fn, chain });
  }
  return m;
}

/** Equal, except that float sums and averages may differ in their last digits (summation order). */
function assertSameRows(got: AggregateRow[], want: AggregateRow[], what: string): void {
  assert.equal(got.length, want.length, `${what}: row count`);
  for (let i = 0; i < want.length; i++) {
    for (const [key, w] of Object.entries(want[i]!)) {
      const g = got[i]![key];
      if (typeof w === 'number' && typeof g === 'number' && !Number.isInteger(w)) {
        assert.ok(Math.abs(g - w) <= 1e-9 * Math.max(1, Math.abs(w)), `${what}: row ${i} ${key}: ${g} vs ${w}`);
      } else {
        assert.deepEqual(g, w, `${what}: row ${i} ${key}`);
      }
    }
  }
}

describe('DuckDB minute rollups answer as the scan does', () => {
  let dir: string;
  let withRollup: DuckDBWarehouse;
  let scanOnly: DuckDBWarehouse;
  /** The first copy of every message id, as the table keeps it. */
  const distinct = new Map<string, Src>();
  let ingest = BASE + SPAN + 5_000_000n;

  const open = (name: string, rollups: boolean) => DuckDBWarehouse.open({ path: join(dir, name), threads: 1, rollups, rollupFoldDelayMs: 3_600_000 });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tributary-rollup-'));
    withRollup = await open('rollup.duckdb', true);
    scanOnly = await open('scan.duckdb', false);
    await withRollup.init([STREAM]);
    await scanOnly.init([STREAM]);
  });
  after(async () => {
    await withRollup?.close();
    await scanOnly?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function writeBoth(def: StreamDef, rows: Src[], ingestTime = (ingest += 1_000_000n)): Promise<void> {
    for (const r of rows) if (!distinct.has(r.id)) distinct.set(r.id, r);
    const batch = { rows: stored(def, rows), deadLetters: [], ingestTime };
    await withRollup.write(def, batch);
    await scanOnly.write(def, batch);
  }

  /** Runs the query grid on both warehouses and compares; returns how many the rollup served. */
  async function compareGrid(def: StreamDef, what: string, extra: string[] = []): Promise<number> {
    const metrics = servedMetrics(def, extra);
    const r = rng(7);
    const at = (f: number) => BASE + BigInt(Math.floor(f * Number(SPAN)));
    const onMinute = (t: bigint) => t - (t % MIN);
    const ranges: [string, bigint | undefined, bigint | undefined][] = [
      ['unaligned', at(0.1), at(0.8)],
      ['aligned', onMinute(at(0.2)), onMinute(at(0.9))],
      ['aligned from', onMinute(at(0.05)), at(0.5) + 123n],
      ['open end', at(0.3), undefined],
      ['open start', undefined, at(0.6)],
      ['everything', undefined, undefined],
      ['random', at(r()), at(0.99)],
      ['inside one minute', onMinute(at(0.4)) + 1_000_000n, onMinute(at(0.4)) + 50_000_000n],
    ];
    const before = withRollup.aggregatePaths.rollup;
    for (const [name, from, to] of ranges) {
      for (const intervalMicros of [undefined, MIN, 5n * MIN, 7n * MIN, 60n * MIN, 30_000_000n]) {
        const q: AggregateQuery = { from, to, filters: [], groupBy: [], metrics, intervalMicros, limit: 10_000 };
        const label = `${what}, ${name}, interval ${intervalMicros ?? 'none'}`;
        const want = await scanOnly.aggregate(def, q);
        const got = await withRollup.aggregate(def, q);
        assertSameRows(got, want, label);
        // Independent of SQL: the counts of the distinct rows.
        const inRange = [...distinct.values()].filter((s) => (from === undefined || s.publishTime >= from) && (to === undefined || s.publishTime < to));
        const total = got.reduce((sum, row) => sum + (row.count as number), 0);
        assert.equal(total, inRange.length, `${label}: total count`);
      }
    }
    // Queries the rollup leaves to the scan: same answers, by the scan.
    const scanned = withRollup.aggregatePaths.scan;
    const leftToScan: AggregateQuery[] = [
      { from: at(0.1), to: at(0.9), filters: [{ chain: chainOf(def, 'k'), op: 'eq', value: 'a' }], groupBy: [], metrics: [{ name: 'count', fn: 'count' }], intervalMicros: MIN, limit: 10_000 },
      { from: at(0.1), to: at(0.9), filters: [], groupBy: [chainOf(def, 'k')], metrics: [{ name: 'count', fn: 'count' }], intervalMicros: MIN, limit: 10_000 },
      { from: at(0.1), to: at(0.9), filters: [], groupBy: [], metrics: [{ name: 'avg_d', fn: 'avg', chain: chainOf(def, 'd') }], intervalMicros: MIN, limit: 10_000 },
      { from: at(0.1), to: at(0.9), filters: [], groupBy: [], metrics: [{ name: 'p50', fn: 'percentile', fraction: 0.5, chain: chainOf(def, 'x') }], intervalMicros: 5n * MIN, limit: 10_000 },
      { from: at(0.1), to: at(0.9), filters: [], groupBy: [], metrics: [{ name: 'cd', fn: 'count_distinct', chain: chainOf(def, 'k') }], limit: 10_000 },
    ];
    for (const q of leftToScan) assertSameRows(await withRollup.aggregate(def, q), await scanOnly.aggregate(def, q), `${what}: left to the scan`);
    assert.equal(withRollup.aggregatePaths.scan - scanned, leftToScan.length, `${what}: those went to the scan`);
    return withRollup.aggregatePaths.rollup - before;
  }

  const watermark = async (w: DuckDBWarehouse) => (await w.readForTest(`SELECT watermark FROM "_tributary".rollup_state WHERE stream = 'roll'`))[0]?.[0];

  it('rows not folded yet, then folded, then late rows, redeliveries and a clock that stepped back', async () => {
    for (let b = 0; b < 4; b++) await writeBoth(STREAM, makeRows(400, BASE, SPAN));
    // Nothing folded yet (the fold delay is an hour): the answers come from the raw tail.
    const served = await compareGrid(STREAM, 'unfolded');
    assert.equal(served, 35, "all but the 30 s buckets and the range inside one minute");
    await withRollup.foldNow();
    assert.equal(withRollup.foldError, undefined);
    const w1 = (await watermark(withRollup)) as bigint;
    assert.equal(w1, ingest + 1n, 'the watermark is past the newest ingest_time');
    await compareGrid(STREAM, 'folded');

    // More rows, late rows (old publish times) and redeliveries of folded rows, half folded.
    await writeBoth(STREAM, makeRows(300, BASE + SPAN / 2n, SPAN / 2n));
    await withRollup.foldNow();
    const old = [...distinct.values()].slice(0, 150);
    await writeBoth(STREAM, [...makeRows(200, BASE, SPAN / 10n), ...old]);
    await compareGrid(STREAM, 'late rows and redeliveries, unfolded');
    await withRollup.foldNow();
    await compareGrid(STREAM, 'late rows and redeliveries, folded');

    // A clock that stepped back an hour: the rows are still counted, folded or not.
    const w2 = (await watermark(withRollup)) as bigint;
    await writeBoth(STREAM, makeRows(100, BASE, SPAN), w2 - 3_600_000_000n);
    await compareGrid(STREAM, 'clock stepped back, unfolded');
    await withRollup.foldNow();
    assert.ok(((await watermark(withRollup)) as bigint) > w2, 'the watermark moved past the clamped rows');
    await compareGrid(STREAM, 'clock stepped back, folded');
  });

  it('keeps its state across a reopen, and rebuilds when turned off and on', async () => {
    const w = await watermark(withRollup);
    await withRollup.close();
    withRollup = await open('rollup.duckdb', true);
    await withRollup.init([STREAM]);
    assert.equal(await watermark(withRollup), w, 'the reopen kept the watermark (no rebuild)');
    await compareGrid(STREAM, 'reopened');

    await withRollup.close();
    withRollup = await open('rollup.duckdb', false);
    await withRollup.init([STREAM]);
    assert.deepEqual(await withRollup.readForTest(`SELECT count(*) FROM duckdb_tables() WHERE schema_name = '_tributary' AND table_name = 'rollup_roll'`), [[0n]], 'turned off: dropped');
    await writeBoth(STREAM, makeRows(200, BASE, SPAN));
    await withRollup.close();
    withRollup = await open('rollup.duckdb', true);
    await withRollup.init([STREAM]);
    assert.equal(await watermark(withRollup), ingest + 1n, 'turned on: rebuilt from the whole table');
    await compareGrid(STREAM, 'rebuilt');
  });

  it('rebuilds when a numeric field is added, and serves it', async () => {
    await withRollup.close();
    await scanOnly.close();
    withRollup = await open('rollup.duckdb', true);
    scanOnly = await open('scan.duckdb', false);
    await withRollup.init([GROWN]);
    await scanOnly.init([GROWN]);
    await writeBoth(GROWN, makeRows(300, BASE, SPAN, true));
    await withRollup.foldNow();
    const served = await compareGrid(GROWN, 'new field', ['y']);
    assert.equal(served, 35, "all but the 30 s buckets and the range inside one minute");
  });

  it('never counts a row twice or misses one while a fold commits under concurrent queries', async () => {
    const busy = await DuckDBWarehouse.open({ path: join(dir, 'busy.duckdb'), threads: 2, rollupFoldDelayMs: 3_600_000 });
    try {
      await busy.init([STREAM]);
      const q: AggregateQuery = { filters: [], groupBy: [], metrics: [{ name: 'count', fn: 'count' }], limit: 1 };
      const bucketed: AggregateQuery = { ...q, from: BASE, to: BASE + SPAN, intervalMicros: 5n * MIN, limit: 10_000 };
      let written = 0;
      let checks = 0;
      for (let round = 0; round < 30; round++) {
        await busy.write(STREAM, { rows: stored(STREAM, makeRows(50, BASE, SPAN)), deadLetters: [], ingestTime: (ingest += 1_000n) });
        written += 50;
        // Queries before, during and after the fold's commit: the count never changes.
        let folding = true;
        const reader = async () => {
          do {
            const [one] = await busy.aggregate(STREAM, q);
            const rows = await busy.aggregate(STREAM, bucketed);
            assert.equal(one!.count, written, `round ${round}: total`);
            assert.equal(rows.reduce((sum, r) => sum + (r.count as number), 0), written, `round ${round}: buckets`);
            checks++;
          } while (folding);
        };
        const fold = busy.foldNow().finally(() => (folding = false));
        await Promise.all([fold, reader(), reader(), reader()]);
      }
      assert.ok(checks >= 90, `${checks} checks`);

      // Folds beside writes (they do not take the write lock for their work): every row ends up
      // counted once, folded or not.
      let writing = true;
      const writer = (async () => {
        try {
          for (let b = 0; b < 40; b++) {
            await busy.write(STREAM, { rows: stored(STREAM, makeRows(50, BASE, SPAN)), deadLetters: [], ingestTime: (ingest += 1_000n) });
            written += 50;
          }
        } finally {
          writing = false;
        }
      })();
      let folds = 0;
      const folder = (async () => {
        while (writing) {
          await busy.foldNow();
          folds++;
        }
      })();
      await Promise.all([writer, folder]);
      const everyK: AggregateQuery = { ...q, filters: [{ chain: chainOf(STREAM, 'k'), op: 'in', values: ['a', 'b', 'c'] }] };
      for (let i = 0; i < 2; i++) {
        const [scanned] = await busy.aggregate(STREAM, everyK);
        const [one] = await busy.aggregate(STREAM, q);
        assert.equal(scanned!.count, written);
        assert.equal(one!.count, written, `after ${folds} folds beside writes${i ? ', and a last fold' : ''}`);
        await busy.foldNow();
      }
      assert.equal(busy.foldError, undefined);
      assert.equal(await watermark(busy), ingest + 1n);
    } finally {
      await busy.close();
    }
  });

  it('folds by itself shortly after a write', async () => {
    const quick = await DuckDBWarehouse.open({ path: join(dir, 'quick.duckdb'), threads: 1, rollupFoldDelayMs: 20 });
    try {
      await quick.init([STREAM]);
      const before = await watermark(quick);
      await quick.write(STREAM, { rows: stored(STREAM, makeRows(50, BASE, SPAN)), deadLetters: [], ingestTime: ingest + 1_000_000n });
      const deadline = Date.now() + 10_000;
      while ((await watermark(quick)) === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(await watermark(quick), ingest + 1_000_001n);
      const [row] = await quick.aggregate(STREAM, { filters: [], groupBy: [], metrics: [{ name: 'count', fn: 'count' }], limit: 1 });
      assert.deepEqual(row, { count: 50 });
    } finally {
      await quick.close();
    }
  });

  it('reports failing folds (status, count, lag, one notice) and recovers, while answers stay correct', async () => {
    const notices: string[] = [];
    // The adapter logs through the observer it is given.
    const log = { warn: (fields: Readonly<Record<string, unknown>>) => void notices.push(`${String(fields.stream)}: ${(fields.err as Error).message}`) };
    const w = await DuckDBWarehouse.open({ path: join(dir, 'failing.duckdb'), threads: 1, rollupFoldDelayMs: 3_600_000, observer: { log } });
    try {
      await w.init([STREAM]);
      const count = async () => (await aggregate(w, STREAM, { filters: [], groupBy: [], metrics: [{ name: 'count', fn: 'count' }], limit: 1 }))[0]?.count;
      const t = ingest + 10_000_000n;
      await w.write(STREAM, { rows: stored(STREAM, makeRows(30, BASE, SPAN)), deadLetters: [], ingestTime: t });
      await w.foldNow();
      assert.deepEqual(w.derivedStatus().rollups, [{ stream: 'roll', lagSeconds: 0, failures: 0, failing: false }]);
      // The fold's own bookkeeping table goes missing: the fold's transaction fails and rolls back.
      await w.readForTest(`ALTER TABLE "_tributary".rollup_state RENAME TO rollup_state_away`);
      await w.write(STREAM, { rows: stored(STREAM, makeRows(20, BASE, SPAN)), deadLetters: [], ingestTime: t + 2_500_000n });
      await w.foldNow();
      await w.foldNow();
      const [st] = w.derivedStatus().rollups;
      assert.equal(st?.failing, true);
      assert.equal(st?.failures, 2);
      assert.equal(st?.lagSeconds, 2.5, 'the second write is 2.5 s of ingest_time past the rollup');
      assert.equal(notices.length, 1, `one notice when folds start failing, not one per fold: ${notices.join('; ')}`);
      assert.match(notices[0]!, /^roll: /);
      assert.equal(await count(), 50, 'the unfolded rows are scanned');
      await w.readForTest(`ALTER TABLE "_tributary".rollup_state_away RENAME TO rollup_state`);
      await w.foldNow();
      assert.deepEqual(w.derivedStatus().rollups, [{ stream: 'roll', lagSeconds: 0, failures: 2, failing: false }]);
      assert.equal(await count(), 50);
      assert.ok(w.derivedStatus().aggregates.rollup >= 2);
    } finally {
      await w.close();
    }
  });
});
