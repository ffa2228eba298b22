/**
 * The DuckDB memory limit, the message_id indexes and the cache of table blocks
 * (src/warehouse/duckdb/memory.ts), on a real DuckDB file: with random message IDs the index
 * outgrows a fixed limit, and writes would then fail for good ("could not allocate block"); the
 * budget raises the limit so that they go on, also after a reopen, when the index loads again as
 * writes touch it. The cache of the table's blocks, which DuckDB would keep up to the limit, is
 * trimmed back to --duckdb-cache-limit. And spills go next to the database file.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { StoredRow } from '../../src/core/message.js';
import { WarehouseError } from '../../src/core/ports.js';
import { parseStreamDefinition } from '../../src/core/schema.js';
import type { MetricFamily } from '../../src/core/ports.js';
import { budgetedLimit, isOutOfMemory, MemoryBudget, type MemorySql, type MemoryStatus, parseByteSize } from '../../src/warehouse/duckdb/memory.js';
import type { DuckDBDriver } from '../../src/warehouse/duckdb/driver.js';
import { DuckDBWarehouse } from '../../src/warehouse/duckdb/index.js';

const STREAM = parseStreamDefinition({ name: 'ids', fields: [{ name: 'v', type: 'INT64' }] }, 'ids');
const LIMIT = '64MB';
const BATCH = 5000;

function batch(from: number): StoredRow[] {
  return Array.from({ length: BATCH }, (_, i) => ({
    messageId: randomUUID(),
    publishTime: 1_795_000_000_000_000n + BigInt(from + i) * 1000n,
    attributes: {},
    orderingKey: null,
    values: { v: from + i },
    payload: Buffer.from('{}'),
  }));
}

/** Writes as ingest does: a transient failure is retried (here at once, up to 5 attempts). */
async function writeWithRetry(w: DuckDBWarehouse, rows: StoredRow[], stream = STREAM): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      await w.write(stream, { rows, deadLetters: [], ingestTime: BigInt(Date.now()) * 1000n });
      return attempt;
    } catch (err) {
      assert.ok(err instanceof WarehouseError && err.transient, `a memory failure is transient: ${String(err)}`);
      if (attempt === 5) throw err;
    }
  }
}

describe('parseByteSize and budgetedLimit', () => {
  it('reads DuckDB sizes (KB = 1000, KiB = 1024) and refuses anything else', () => {
    assert.equal(parseByteSize('256MB'), 256_000_000);
    assert.equal(parseByteSize('1.5GiB'), 1.5 * 1024 ** 3);
    assert.equal(parseByteSize(' 512 kb '), 512_000);
    assert.equal(parseByteSize('4096'), 4096);
    for (const bad of ['', 'MB', '80%', '-1MB', '0MB', '12 parsecs']) assert.equal(parseByteSize(bad), undefined, bad);
  });

  it('budgets the index on top of the limit beyond half of it', () => {
    assert.equal(budgetedLimit(256, 0), 256);
    assert.equal(budgetedLimit(256, 128), 256);
    assert.equal(budgetedLimit(256, 200), 328);
    assert.equal(budgetedLimit(256, 1000), 1128);
  });
});

const MiB = 1024 ** 2;

/** A {@link MemorySql} over fixed readings of duckdb_memory() (tag -> MiB), recording the statements. */
function fakeSql(readings: Record<string, number>, sets: string[], opts: { canTrim?: boolean; failLowering?: boolean } = {}): MemorySql {
  return {
    query: async () => Object.entries(readings).map(([tag, mib]) => [tag, BigInt(mib * MiB)]),
    set: async (sql) => {
      sets.push(sql);
      if (opts.failLowering && sets.length % 2 === 1) throw new Error('Out of Memory Error: Failed to change memory limit to 1 MiB: could not free up enough memory for the new limit');
    },
    canTrim: () => opts.canTrim ?? true,
  };
}

describe('MemoryBudget', () => {
  it('raises the limit as the index grows past half, never lowers it, and reports each growth by half', async () => {
    const readings = [10, 60, 0, 90, 100, 200, 210];
    const sets: string[] = [];
    const reports: MemoryStatus[] = [];
    const budget = new MemoryBudget(128 * MiB, undefined, (s) => reports.push(s), 1000);
    assert.ok(budget.due(), 'the first write adjusts');
    const limits: number[] = [];
    for (const r of readings) {
      // The cache is large too, but without a cache limit it is left to DuckDB.
      await budget.adjust(fakeSql({ ART_INDEX: r, BASE_TABLE: 120 }, sets));
      limits.push(budget.status().limitBytes / MiB);
    }
    assert.ok(!budget.due(), 'not due again within the interval');
    // 128 + max(0, index - 64), in whole MiB; a reading of 0 (after a checkpoint) keeps the largest.
    assert.deepEqual(limits, [128, 128, 128, 154, 164, 264, 274]);
    assert.deepEqual(sets, ["SET memory_limit = '157696KiB'", "SET memory_limit = '167936KiB'", "SET memory_limit = '270336KiB'", "SET memory_limit = '280576KiB'"]);
    // Reported at the first raise (154), then at 1.5 times it (264 >= 231), not at 164 nor 274.
    assert.deepEqual(reports.map((s) => s.limitBytes / MiB), [154, 264]);
    assert.equal(budget.status().indexBytes, 210 * MiB);
  });

  it('trims the cache back to its limit once it exceeds it by a quarter, only while no read runs, and sets the limit back', async () => {
    const sets: string[] = [];
    const budget = new MemoryBudget(192 * MiB, 64 * MiB, undefined, 0);
    // 80 MiB is 64 and a quarter: not yet.
    await budget.adjust(fakeSql({ BASE_TABLE: 80, ART_INDEX: 2, IN_MEMORY_TABLE: 10 }, sets));
    assert.deepEqual(sets, []);
    // 100 MiB: 36 over the limit; 130 MiB in use, so the limit goes to 94 MiB for the eviction, then back to 192.
    await budget.adjust(fakeSql({ BASE_TABLE: 100, ART_INDEX: 2, IN_MEMORY_TABLE: 28 }, sets));
    assert.deepEqual(sets, [`SET memory_limit = '${94 * 1024}KiB'`, `SET memory_limit = '${192 * 1024}KiB'`]);
    assert.deepEqual(budget.status(), { configuredLimitBytes: 192 * MiB, limitBytes: 192 * MiB, indexBytes: 2 * MiB, cacheLimitBytes: 64 * MiB, cacheBytes: 100 * MiB, cacheTrims: 1 });
    // A read in progress: not now.
    sets.length = 0;
    await budget.adjust(fakeSql({ BASE_TABLE: 100 }, sets, { canTrim: false }));
    assert.deepEqual(sets, []);
    // DuckDB cannot evict enough (blocks pinned): the limit is set back all the same, and no trim is counted.
    await budget.adjust(fakeSql({ BASE_TABLE: 100 }, sets, { failLowering: true }));
    assert.deepEqual(sets, [`SET memory_limit = '${64 * 1024}KiB'`, `SET memory_limit = '${192 * 1024}KiB'`]);
    assert.equal(budget.status().cacheTrims, 1);
  });

  it('trims against the raised limit, and never with a cache limit at or above the memory limit', async () => {
    const sets: string[] = [];
    const budget = new MemoryBudget(128 * MiB, 32 * MiB, undefined, 0);
    await budget.adjust(fakeSql({ ART_INDEX: 90, BASE_TABLE: 50 }, sets));
    // Raised to 128 + 90 - 64 = 154 MiB first; the cache goes from 50 to 32 (140 - 18 = 122 MiB), then back to 154.
    assert.deepEqual(sets, [`SET memory_limit = '${154 * 1024}KiB'`, `SET memory_limit = '${122 * 1024}KiB'`, `SET memory_limit = '${154 * 1024}KiB'`]);
    const off: string[] = [];
    const never = new MemoryBudget(128 * MiB, 128 * MiB, undefined, 0);
    await never.adjust(fakeSql({ BASE_TABLE: 127 }, off));
    assert.deepEqual(off, []);
    assert.equal(never.status().cacheLimitBytes, undefined);
  });

  it('recognises DuckDB memory failures only', () => {
    assert.ok(isOutOfMemory(new Error('Out of Memory Error: failed to pin block of size 256.0 KiB (244.0 MiB/244.1 MiB used)')));
    assert.ok(isOutOfMemory(new Error('TransactionContext Error: Failed to commit: could not allocate block of size 256.0 KiB')));
    assert.ok(!isOutOfMemory(new Error('Constraint Error: Duplicate key "message_id: a"')));
    assert.ok(!isOutOfMemory(new Error('IO Error: No space left on device')));
  });
});

describe('DuckDB memory limit with random message IDs', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tributary-mem-'q"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('spills next to the database file', async () => {
    const path = join(dir, 'spill.duckdb');
    const w = await DuckDBWarehouse.open({ path, memoryLimit: LIMIT });
    try {
      const [[setting] = []] = await w.readForTest(`SELECT current_setting('temp_directory')`);
      assert.equal(setting, `${path}.tmp`);
    } finally {
      await w.close();
    }
  });

  it(`keeps writing past an index larger than the ${LIMIT} limit, and after a reopen`, async () => {
    const path = join(dir, 'ids.duckdb');
    const raised: Record<string, unknown>[] = [];
    const families: string[] = [];
    // No automatic checkpoint during the test: a checkpoint writes the index to the file and
    // lets it go, and the next write loads back only what it touches, so the index in memory
    // would grow and shrink with the timing of checkpoints instead of with the rows.
    // The adapter reports through the observer it is given: the raise in the log, the figures in /metrics.
    const observer = {
      log: { warn: (fields: Readonly<Record<string, unknown>>, message: string) => void (/message_id indexes/.test(message) && raised.push(fields)) },
      metrics: { collect: (c: () => readonly MetricFamily[]) => void families.push(...c().map((f) => f.name)) },
    };
    const open = () => DuckDBWarehouse.open({ path, memoryLimit: LIMIT, checkpointThreshold: '1GB', observer });
    let w = await open();
    const configured = parseByteSize(LIMIT)!;
    let stored = 0;
    try {
      await w.init([STREAM]);
      // ~90 bytes of index per UUID: 500,000 rows need about 45 MB of index alone, and a write
      // of 5,000 rows about 20 MB more; with the limit fixed at 64 MB, writes fail before the end.
      while (stored < 500_000) {
        await writeWithRetry(w, batch(stored));
        stored += BATCH;
      }
      const m = w.derivedStatus().memory!;
      assert.equal(m.configuredLimitBytes, configured);
      assert.ok(m.indexBytes > configured / 2, `index ${m.indexBytes} bytes, more than half the configured limit`);
      assert.ok(m.limitBytes >= budgetedLimit(configured, m.indexBytes), `limit ${m.limitBytes} covers the index`);
      assert.ok(raised.length >= 1, 'the raise was reported');
      assert.equal(raised[0]!.configuredMiB, Math.round(configured / 1048576));
      assert.ok(families.includes('tributary_duckdb_memory_limit_bytes'), 'the memory figures are offered to /metrics');
      const [[count] = []] = await w.readForTest('SELECT count(*) FROM ids');
      assert.equal(Number(count), stored);
    } finally {
      await w.close();
    }
    // Reopened, the index is loaded again as writes touch it, under the configured limit.
    w = await open();
    try {
      await w.init([STREAM]);
      for (let i = 0; i < 4; i++) {
        await writeWithRetry(w, batch(stored));
        stored += BATCH;
      }
      // A redelivery is still refused: the index is whole.
      const again = batch(stored).slice(0, 10);
      await writeWithRetry(w, again);
      await writeWithRetry(w, again);
      stored += again.length;
      const [[count] = []] = await w.readForTest('SELECT count(*) FROM ids');
      assert.equal(Number(count), stored);
      assert.ok(w.derivedStatus().memory!.limitBytes > configured, 'the limit was raised again after the reopen');
    } finally {
      await w.close();
    }
  });

  const TEXT = parseStreamDefinition({ name: 'texts', fields: [{ name: 't', type: 'STRING' }] }, 'texts');
  const CACHE = 8 * MiB;
  // Random hex text: a batch of 2,000 rows of 1 KB is about 1 MB of table blocks once DuckDB compresses it.
  const textRows = (from: number): StoredRow[] =>
    Array.from({ length: 2000 }, (_, i) => ({
      messageId: String(1_000_000 + from + i),
      publishTime: 1_795_000_000_000_000n + BigInt(from + i) * 1000n,
      attributes: {},
      orderingKey: null,
      values: { t: randomBytes(512).toString('hex') },
      payload: Buffer.from('{}'),
    }));
  const cacheOf = async (w: DuckDBWarehouse): Promise<number> => Number((await w.readForTest(`SELECT memory_usage_bytes FROM duckdb_memory() WHERE tag = 'BASE_TABLE'`))[0]?.[0] ?? 0);

  it('keeps the cache of table blocks near --duckdb-cache-limit under sustained writes (and DuckDB alone keeps it growing)', async () => {
    const rows = textRows;
    const run = async (cacheLimitBytes: number | undefined): Promise<{ cache: number; trims: number }> => {
      const w = await DuckDBWarehouse.open({ path: join(dir, `cache-${cacheLimitBytes ?? 'duckdb'}.duckdb`), memoryLimit: LIMIT, ...(cacheLimitBytes ? { cacheLimitBytes } : {}) });
      try {
        await w.init([TEXT]);
        // 60 MB of rows over at least 2.5 s (the budget reads DuckDB's memory at most once a second).
        const started = performance.now();
        let stored = 0;
        while (stored < 60_000 || performance.now() - started < 2500) {
          await writeWithRetry(w, rows(stored), TEXT);
          stored += 2000;
        }
        await new Promise((r) => setTimeout(r, 1100));
        await writeWithRetry(w, rows(stored).slice(0, 10), TEXT);
        stored += 10;
        const cache = await cacheOf(w);
        const [[count, length] = []] = await w.readForTest('SELECT count(*), sum(length(t)) FROM texts');
        assert.equal(Number(count), stored, 'every row is there');
        assert.equal(Number(length), stored * 1024, 'and its value');
        return { cache, trims: w.derivedStatus().memory!.cacheTrims };
      } finally {
        await w.close();
      }
    };
    const trimmed = await run(CACHE);
    assert.ok(trimmed.trims >= 1, `trimmed (${trimmed.trims} times)`);
    assert.ok(trimmed.cache <= CACHE * 1.25 + 4 * MiB, `cache ${(trimmed.cache / MiB).toFixed(1)} MiB, near the limit of 8`);
    const untrimmed = await run(undefined);
    assert.equal(untrimmed.trims, 0);
    assert.ok(untrimmed.cache > 2 * CACHE, `without a cache limit DuckDB keeps ${(untrimmed.cache / MiB).toFixed(1)} MiB`);
  });

  it('does not trim the cache while a rollup fold runs on its own connection, and trims once it has ended', async () => {
    const w = await DuckDBWarehouse.open({ path: join(dir, 'cache-fold.duckdb'), memoryLimit: LIMIT, cacheLimitBytes: CACHE });
    try {
      await w.init([TEXT]);
      // The driver is private to the adapter; the test holds its folds' connection as a long fold would.
      const driver = (w as unknown as { driver: DuckDBDriver }).driver;
      let release!: () => void;
      const fold = driver.useFolder(() => new Promise<void>((r) => (release = r)));
      const started = performance.now();
      let stored = 0;
      while (stored < 40_000 || performance.now() - started < 2500) {
        await writeWithRetry(w, textRows(stored), TEXT);
        stored += 2000;
      }
      const held = await cacheOf(w);
      assert.ok(held > CACHE * 1.25, `the cache grew past the trim threshold (${(held / MiB).toFixed(1)} MiB)`);
      assert.equal(w.derivedStatus().memory!.cacheTrims, 0, 'no trim while the fold runs');
      release();
      await fold;
      await new Promise((r) => setTimeout(r, 1100));
      await writeWithRetry(w, textRows(stored).slice(0, 10), TEXT);
      assert.ok(w.derivedStatus().memory!.cacheTrims >= 1, 'trimmed after the fold');
      assert.ok((await cacheOf(w)) <= CACHE * 1.25 + 4 * MiB, 'back near the limit');
    } finally {
      await w.close();
    }
  });
});
