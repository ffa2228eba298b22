import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  type DuckDBAppender,
  DuckDBBlobValue,
  type DuckDBConnection,
  DuckDBInstance,
  DuckDBListValue,
  type DuckDBPreparedStatement,
  DuckDBTimestampValue,
  type DuckDBValue,
} from '@duckdb/node-api';
import { TributaryError } from '../../core/errors.js';
import { DEAD_LETTER_FIELDS } from '../../core/export.js';
import type {
  AggregateQuery,
  AggregateRow,
  ApiDeadLetter,
  ApiRow,
  RawDeadLetter,
  StatsWindow,
  WindowStats,
  DeadLetterQuery,
  Filter,
  Keyset,
  RowQuery,
  StreamStats,
  Warehouse,
  WriteBatch,
  WriteResult,
  DerivedStatus,
} from '../../core/ports.js';
import { WarehouseError } from '../../core/ports.js';
import { ENVELOPE_FIELDS, type FieldDef, type StreamDef } from '../../core/schema.js';
import { formatTimestamp } from '../../core/time.js';
import type { StoredValue } from '../../core/validate.js';
import { IndexMemoryBudget, isOutOfMemory, type MemoryStatus, parseByteSize } from './memory.js';
import { EMPTY_WATERMARK, INTERNAL_SCHEMA, MinuteRollup, STATE_TABLE } from './rollup.js';
import { columnSql, type DocumentColumn, documentColumn, fieldExpr, ident, type ResultReader, resultReader, scalarToDuckDB, sqlString } from './types.js';

/**
 * Rows per row group (DuckDB's default is 122,880). A checkpoint compresses and rewrites the row
 * group that is still filling, while every commit waits for it: with the default, under a steady
 * 22,000 msg/s of the demo stream, each checkpoint (every 16 MB of WAL, ~73,000 rows) held the
 * writes up for 120 to 165 ms, growing as the row group filled (29 ms to 140 ms for successive
 * checkpoints of 16,000 rows each). With 16,384 rows a checkpoint stays at 25 to 50 ms; time
 * ranges also prune finer (docs/performance.md).
 */
export const DEFAULT_ROW_GROUP_SIZE = 16_384;
/** WAL size that triggers a checkpoint (DuckDB's default is 16 MB): shorter, more frequent pauses. */
export const DEFAULT_CHECKPOINT_THRESHOLD = '8MB';
/** The alias under which the database file is attached (and made the default with USE). */
const DATABASE_ALIAS = 'tributary';

/** Settings of the DuckDB adapter. */
export interface DuckDBOptions {
  /** Database file, or `:memory:`. */
  readonly path: string;
  /**
   * DuckDB `memory_limit`, e.g. `512MB`; undefined for DuckDB's default. The message_id indexes
   * are budgeted on top of it beyond half of it (see `memory.ts`).
   */
  readonly memoryLimit?: string;
  /** DuckDB `threads`; undefined for DuckDB's default (one per core). */
  readonly threads?: number;
  /** Connections for reads (writes have their own). */
  readonly readConnections?: number;
  /** Reads running longer are interrupted with QUERY_TIMEOUT; 0 or undefined for no limit. */
  readonly queryTimeoutMs?: number;
  /**
   * Keep minute rollups that answer unfiltered aggregates without scanning the table (see
   * `rollup.ts`); default true. Turning them off drops them; turning them on again rebuilds them.
   */
  readonly rollups?: boolean;
  /** How long after a write the rollups take in its rows; default 1000 ms. */
  readonly rollupFoldDelayMs?: number;
  /** From how many rows in a table pages of rows are read in two steps; default 2,000,000. */
  readonly twoStepPagesFromRows?: number;
  /**
   * Rows per row group of the data DuckDB writes; default {@link DEFAULT_ROW_GROUP_SIZE}. A
   * checkpoint rewrites the row group that is still filling, so this bounds how long a
   * checkpoint holds up the writes that wait behind it.
   */
  readonly rowGroupSize?: number;
  /** WAL size that triggers an automatic checkpoint; default {@link DEFAULT_CHECKPOINT_THRESHOLD}. */
  readonly checkpointThreshold?: string;
  /** Told when the rollup folds of a stream start failing (for the log); each write schedules another try. */
  readonly onRollupError?: (stream: string, err: Error) => void;
  /**
   * Told when the message_id indexes grew past half of `memoryLimit` and the limit in force was
   * raised (the first time, then each time it grew by half again); for the log.
   */
  readonly onMemoryLimitRaised?: (status: MemoryStatus) => void;
}

interface CompiledStream {
  readonly def: StreamDef;
  readonly table: string;
  readonly dlTable: string;
  readonly dlStage: string;
  /** Parts of the large dead-letter payloads (see PAYLOAD_PART_BYTES), and their stage. */
  readonly partsTable: string;
  readonly partsStage: string;
  readonly columns: readonly FieldDef[];
  readonly columnList: string;
  /** How each user field (after the envelope) travels in the row document. */
  readonly document: readonly DocumentColumn[];
  /** `INSERT` of a row document ($1) at an ingest time ($2); fails whole on a known message_id. */
  readonly insertSql: string;
  /** The same as `INSERT OR IGNORE ... RETURNING message_id`: skips known message_ids. */
  readonly insertOrIgnoreSql: string;
  readonly readers: readonly ResultReader[];
  /** The stream's minute rollup; undefined when rollups are off. */
  readonly rollup?: MinuteRollup;
}

const DL_COLUMNS = DEAD_LETTER_FIELDS.map((f) => f.name);
const DL_COLUMN_LIST = DL_COLUMNS.map(ident).join(', ');

/**
 * A dead letter's payload larger than this is stored in parts of at most this size, in the
 * stream's `<stream>_dead_letter_parts` table (its `payload` is then NULL). DuckDB 1.5 keeps the
 * values over about 32 KiB of a row group pinned in memory when it checkpoints that row group:
 * with random values of 32 KiB or more, the checkpoint failed once they added up to the memory
 * limit and the database was invalidated; values of 24 KiB or less went on to 3 times the limit
 * (16 KiB: 10 times), see docs/reliability.md. They are rows, not a list column: building list
 * values (in the appender or in SQL) raised the process's peak memory by 200 to 400 MiB under
 * the hostile-input test.
 */
const PAYLOAD_PART_BYTES = 16 * 1024;
const DL_COLUMN_SQL: Record<string, string> = {
  message_id: 'VARCHAR NOT NULL PRIMARY KEY',
  publish_time: 'TIMESTAMP NOT NULL',
  dead_lettered_at: 'TIMESTAMP NOT NULL',
  reason: 'VARCHAR NOT NULL',
  detail: 'VARCHAR',
  field_path: 'VARCHAR',
  payload: 'BLOB',
  payload_size: 'BIGINT NOT NULL',
  attributes: 'JSON',
  ordering_key: 'VARCHAR',
  replay_count: 'BIGINT NOT NULL',
};

/** DuckDB error classes that depend on the data, not on the engine's state. */
const PERMANENT = /^(Conversion|Invalid Input|Out of Range|Constraint) Error/;

function classify(err: unknown, what: string): WarehouseError {
  const message = err instanceof Error ? err.message : String(err);
  return new WarehouseError(`DuckDB ${what} failed: ${message}`, !PERMANENT.test(message), { cause: err });
}

/**
 * From how many rows in a stream's table a page of rows is read in two steps (see `queryRows`);
 * below, the extra step costs more than it saves.
 */
const TWO_STEP_PAGES_FROM_ROWS = 2_000_000;

/** After a batch met a known message_id, this many writes use INSERT OR IGNORE directly. */
const CONFLICT_MEMORY = 8;

/** How many prepared read statements each read connection keeps (least recently used out). */
const STATEMENT_CACHE_SIZE = 64;

/**
 * A small pool of connections, handed out one query at a time. Each connection keeps its
 * recently used prepared statements: the read routes build a handful of SQL texts (values are
 * always parameters), so parsing and planning are paid once per text instead of per request.
 */
class ConnectionPool {
  private readonly statements = new Map<DuckDBConnection, Map<string, DuckDBPreparedStatement>>();

  private readonly idle: DuckDBConnection[];
  private readonly waiting: ((c: DuckDBConnection) => void)[] = [];

  constructor(connections: DuckDBConnection[]) {
    this.idle = connections;
  }

  async use<T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
    const c = this.idle.pop() ?? (await new Promise<DuckDBConnection>((r) => this.waiting.push(r)));
    try {
      return await fn(c);
    } finally {
      const next = this.waiting.shift();
      if (next) next(c);
      else this.idle.push(c);
    }
  }

  /**
   * Runs `sql` with `params` on `c` through its cached prepared statement. A statement without
   * parameters is planned anew each time: DuckDB 1.5 folds `count(*)` and `max(col)` of a table
   * read from the database file, without in-memory changes, into constants when it plans them,
   * so a cached `SELECT count(*), max(publish_time) FROM t` kept answering the counts of the
   * moment it was prepared (stream and dead-letter counts frozen after a restart).
   */
  async run(c: DuckDBConnection, sql: string, params: DuckDBValue[]): Promise<DuckDBValue[][]> {
    if (params.length === 0) return (await c.runAndReadAll(sql)).getRows();
    let cache = this.statements.get(c);
    if (!cache) this.statements.set(c, (cache = new Map()));
    let ps = cache.get(sql);
    if (ps) {
      cache.delete(sql);
    } else {
      ps = await c.prepare(sql);
      if (cache.size >= STATEMENT_CACHE_SIZE) {
        const [oldest, old] = cache.entries().next().value!;
        cache.delete(oldest);
        old.destroySync();
      }
    }
    cache.set(sql, ps);
    ps.clearBindings();
    if (params.length > 0) ps.bind(params);
    return (await ps.runAndReadAll()).getRows();
  }

  closeAll(): void {
    for (const cache of this.statements.values()) for (const ps of cache.values()) ps.destroySync();
    this.statements.clear();
    for (const c of this.idle) c.closeSync();
  }
}

/**
 * A shared/exclusive gate within this process: `shared` work runs concurrently; `exclusive` work
 * waits for the shared work in progress, holds off new shared work, and runs alone.
 */
class SharedGate {
  private active = 0;
  private closing: Promise<void> | undefined;
  private drained: (() => void) | undefined;

  async shared<T>(fn: () => Promise<T>): Promise<T> {
    while (this.closing) await this.closing;
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      if (this.active === 0) this.drained?.();
    }
  }

  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    while (this.closing) await this.closing;
    let open!: () => void;
    this.closing = new Promise<void>((r) => (open = r));
    try {
      if (this.active > 0) await new Promise<void>((r) => (this.drained = r));
      this.drained = undefined;
      return await fn();
    } finally {
      this.closing = undefined;
      open();
    }
  }
}

/** Serialises async work (DuckDB allows one writer transaction per connection). */
class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

/**
 * The embedded warehouse: one DuckDB file. Each stream is a table (PRIMARY KEY message_id,
 * rows appended in publish_time order so that zone maps prune time ranges) plus
 * `<stream>_dead_letters`. A write sends the batch's rows as one JSON document to a prepared
 * `INSERT`, which fails whole if a message_id is already stored; the batch then goes again with
 * `INSERT OR IGNORE`, which is where redelivered message_ids are dropped. Dead letters are
 * appended to a temporary staging table and moved in the same transaction as the rows.
 */
export class DuckDBWarehouse implements Warehouse {
  readonly engine = 'duckdb';
  private readonly streams = new Map<string, CompiledStream>();
  private readonly writeLock = new Mutex();
  /** The writer's prepared inserts, by SQL text. */
  private readonly inserts = new Map<string, DuckDBPreparedStatement>();
  /** Writes left that go straight to INSERT OR IGNORE after a plain INSERT met a known id. */
  private conflictedRecently = 0;
  private closed = false;
  /** Per stream: rows with `ingest_time` below it are in the rollup. */
  private readonly watermarks = new Map<string, bigint>();
  /** No row is stamped with an `ingest_time` below this (the highest watermark). */
  private ingestFloor = EMPTY_WATERMARK;
  /** Rows per stream table, counted at start and kept by writes. */
  private readonly rowCounts = new Map<string, number>();
  /** Per stream: the newest `ingest_time` committed. */
  private readonly lastIngest = new Map<string, bigint>();
  /** One fold at a time. */
  private readonly foldLock = new Mutex();
  /** Streams written since their last fold. */
  private readonly unfolded = new Set<string>();
  private foldTimer: NodeJS.Timeout | undefined;
  /** Rollup queries hold it shared; a fold's commit holds it alone. */
  private readonly foldGate = new SharedGate();
  /** The last fold's failure, if it failed (the next write schedules another). @internal */
  foldError: Error | undefined;
  /** How many aggregates each path answered. @internal */
  readonly aggregatePaths = { rollup: 0, scan: 0 };
  /** Failed folds per stream since start. */
  private readonly foldFailures = new Map<string, number>();
  /** Streams whose last fold failed. */
  private readonly foldFailing = new Set<string>();
  /** Keeps the memory limit above the message_id indexes; undefined without a parsable limit. */
  private readonly memoryBudget: IndexMemoryBudget | undefined;

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly writer: DuckDBConnection,
    /** The rollup folds' connection: they run beside the writes. */
    private readonly folder: DuckDBConnection,
    private readonly readers: ConnectionPool,
    private readonly options: DuckDBOptions,
  ) {
    const configured = options.memoryLimit === undefined ? undefined : parseByteSize(options.memoryLimit);
    this.memoryBudget = configured === undefined ? undefined : new IndexMemoryBudget(configured, options.onMemoryLimitRaised);
  }

  /** Opens (creating if needed) the database file. */
  static async open(options: DuckDBOptions): Promise<DuckDBWarehouse> {
    if (options.path !== ':memory:') await mkdir(dirname(options.path), { recursive: true });
    const config: Record<string, string> = { checkpoint_threshold: options.checkpointThreshold ?? DEFAULT_CHECKPOINT_THRESHOLD };
    if (options.memoryLimit) config.memory_limit = options.memoryLimit;
    if (options.threads) config.threads = String(options.threads);
    const onDisk = options.path !== ':memory:';
    // Spills next to the file, as when DuckDB opens the file itself (an in-memory instance
    // would spill to ./.tmp under whatever directory the process started in).
    if (onDisk) config.temp_directory = `${options.path}.tmp`;
    let instance: DuckDBInstance;
    try {
      // The file is attached rather than opened, because only ATTACH sets the row group size.
      instance = await DuckDBInstance.create(':memory:', config);
      if (onDisk) {
        const c = await instance.connect();
        try {
          await c.run(`ATTACH ${sqlString(options.path)} AS ${ident(DATABASE_ALIAS)} (ROW_GROUP_SIZE ${options.rowGroupSize ?? DEFAULT_ROW_GROUP_SIZE})`);
        } catch (err) {
          instance.closeSync();
          throw err;
        } finally {
          c.closeSync();
        }
      }
    } catch (err) {
      const message = (err as Error).message;
      if (/lock/i.test(message)) {
        throw new WarehouseError(`the database ${options.path} is in use by another process (DuckDB allows one writer process); stop it or choose another --data-dir. ${message}`, true, { cause: err });
      }
      throw new WarehouseError(`cannot open DuckDB database ${options.path}: ${message}`, true, { cause: err });
    }
    const connect = async (): Promise<DuckDBConnection> => {
      const c = await instance.connect();
      if (onDisk) await c.run(`USE ${ident(DATABASE_ALIAS)}`);
      return c;
    };
    const writer = await connect();
    const folder = await connect();
    const readers: DuckDBConnection[] = [];
    for (let i = 0; i < (options.readConnections ?? 2); i++) readers.push(await connect());
    return new DuckDBWarehouse(instance, writer, folder, new ConnectionPool(readers), options);
  }

  async init(streams: readonly StreamDef[]): Promise<void> {
    for (const def of streams) await this.initStream(def);
  }

  private async initStream(def: StreamDef): Promise<void> {
    const columns = [...ENVELOPE_FIELDS, ...def.fields];
    const table = ident(def.name);
    const dlTable = ident(`${def.name}_dead_letters`);
    const dlStage = `temp.${ident(`stage_${def.name}_dead_letters`)}`;
    const partsTable = ident(`${def.name}_dead_letter_parts`);
    const partsStage = `temp.${ident(`stage_${def.name}_dead_letter_parts`)}`;
    const columnDdl = columns.map((f) => {
      const notNull = f.mode === 'REQUIRED' ? ' NOT NULL' : '';
      return `${ident(f.name)} ${columnSql(f)}${notNull}${f.name === 'message_id' ? ' PRIMARY KEY' : ''}`;
    });
    const w = this.writer;
    await w.run(`CREATE TABLE IF NOT EXISTS ${table} (${columnDdl.join(', ')})`);
    await this.migrate(def, columns);
    await w.run(`CREATE TABLE IF NOT EXISTS ${dlTable} (${DL_COLUMNS.map((c) => `${ident(c)} ${DL_COLUMN_SQL[c]}`).join(', ')})`);
    // Large payloads, in parts (the dead letter's payload is NULL); part counts from 0.
    await w.run(`CREATE TABLE IF NOT EXISTS ${partsTable} (message_id VARCHAR NOT NULL, part INTEGER NOT NULL, bytes BLOB NOT NULL)`);
    for (const sql of stageSql(def.name, dlTable, partsTable)) await w.run(sql);
    // The batch travels as one JSON document (an array of row objects), cast in C++ to a list
    // of STRUCTs and unnested: one statement per write, no staging table, and the main thread
    // only builds a string. ingest_time is the same for the whole batch ($2).
    const documented = columns.filter((f) => f.name !== 'ingest_time');
    const doc = new Map(documented.map((f) => [f.name, documentColumn(f)]));
    const rowType = `STRUCT(${documented.map((f) => `${ident(f.name)} ${doc.get(f.name)!.memberSql}`).join(', ')})`;
    const select = columns.map((f) => (f.name === 'ingest_time' ? '$2::TIMESTAMP' : doc.get(f.name)!.selectSql));
    const columnList = columns.map((f) => ident(f.name)).join(', ');
    const source = `SELECT ${select.join(', ')} FROM (SELECT CAST(x AS ${rowType}) AS r FROM (SELECT unnest(CAST($1 AS JSON[])) AS x))`;
    const rollup = this.options.rollups === false ? undefined : new MinuteRollup(def, table);
    const compiled: CompiledStream = {
      def,
      table,
      dlTable,
      dlStage,
      partsTable,
      partsStage,
      columns,
      columnList,
      document: def.fields.map((f) => doc.get(f.name)!),
      insertSql: `INSERT INTO ${table} (${columnList}) ${source}`,
      insertOrIgnoreSql: `INSERT OR IGNORE INTO ${table} (${columnList}) ${source} RETURNING message_id`,
      readers: columns.map(resultReader),
      rollup,
    };
    this.streams.set(def.name, compiled);
    const [[count]] = (await w.runAndReadAll(`SELECT count(*) FROM ${table}`)).getRows() as [[bigint]];
    this.rowCounts.set(def.name, Number(count));
    await this.initRollup(compiled);
  }

  /**
   * Creates the stream's rollup, or rebuilds it when its measures changed (a field was added) or
   * it is missing, then folds in every row not in it yet. With rollups off, drops it, so that
   * turning them on again rebuilds it from the table.
   */
  private async initRollup(s: CompiledStream): Promise<void> {
    const w = this.writer;
    const name = s.def.name;
    await w.run(`CREATE SCHEMA IF NOT EXISTS ${ident(INTERNAL_SCHEMA)}`);
    await w.run(`CREATE TABLE IF NOT EXISTS ${STATE_TABLE} (stream VARCHAR PRIMARY KEY, signature VARCHAR NOT NULL, watermark BIGINT NOT NULL)`);
    const table = `${ident(INTERNAL_SCHEMA)}.${ident(`rollup_${name}`)}`;
    if (!s.rollup) {
      await w.run(`DROP TABLE IF EXISTS ${table}`);
      await w.run(`DELETE FROM ${STATE_TABLE} WHERE stream = $1`, [name]);
      return;
    }
    const state = (await w.runAndReadAll(`SELECT signature, watermark FROM ${STATE_TABLE} WHERE stream = $1`, [name])).getRows()[0];
    const exists = (await w.runAndReadAll(`SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = $1 AND table_name = $2`, [INTERNAL_SCHEMA, `rollup_${name}`])).getRows()[0]![0] === 1n;
    let watermark: bigint;
    if (state && state[0] === s.rollup.signature && exists) {
      watermark = state[1] as bigint;
    } else {
      await w.run('BEGIN TRANSACTION');
      try {
        await w.run(`DROP TABLE IF EXISTS ${table}`);
        await w.run(s.rollup.createSql());
        await w.run(`INSERT OR REPLACE INTO ${STATE_TABLE} VALUES ($1, $2, $3)`, [name, s.rollup.signature, EMPTY_WATERMARK]);
        await w.run('COMMIT');
      } catch (err) {
        await w.run('ROLLBACK').catch(() => undefined);
        throw err;
      }
      watermark = EMPTY_WATERMARK;
    }
    this.watermarks.set(name, watermark);
    if (watermark > this.ingestFloor) this.ingestFloor = watermark;
    const [[newest]] = (await w.runAndReadAll(`SELECT max(epoch_us(ingest_time)) FROM ${s.table} WHERE ingest_time >= $1`, [new DuckDBTimestampValue(watermark)])).getRows() as [[bigint | null]];
    if (newest !== null) this.lastIngest.set(name, newest);
    await this.fold(s);
    if (this.foldError) throw this.foldError;
  }

  /**
   * Adds to the rollup the rows stamped since its watermark and moves the watermark past them, in
   * one transaction on the fold's own connection, while writes go on. Its range is picked under
   * the write lock, in memory: every row stamped below the new watermark has committed, and every
   * later row will be stamped at or above it. One fold runs at a time.
   */
  private fold(s: CompiledStream): Promise<void> {
    return this.foldLock.run(async () => {
      const rollup = s.rollup;
      const name = s.def.name;
      const from = this.watermarks.get(name);
      if (!rollup || from === undefined || this.closed) return;
      this.unfolded.delete(name);
      const to = await this.writeLock.run(async () => {
        const last = this.lastIngest.get(name);
        if (last === undefined || last < from) return undefined;
        if (last + 1n > this.ingestFloor) this.ingestFloor = last + 1n;
        return last + 1n;
      });
      if (to === undefined) return;
      const f = this.folder;
      try {
        await f.run('BEGIN TRANSACTION');
        await f.run(rollup.foldSql(), [new DuckDBTimestampValue(from), new DuckDBTimestampValue(to)]);
        await f.run(`UPDATE ${STATE_TABLE} SET watermark = $1 WHERE stream = $2`, [to, name]);
        await this.foldGate.exclusive(async () => {
          await f.run('COMMIT');
          this.watermarks.set(name, to);
        });
        this.foldError = undefined;
        this.foldFailing.delete(name);
      } catch (err) {
        await f.run('ROLLBACK').catch(() => undefined);
        this.foldError = classify(err, 'rollup fold');
        this.foldFailures.set(name, (this.foldFailures.get(name) ?? 0) + 1);
        if (!this.foldFailing.has(name)) {
          this.foldFailing.add(name);
          this.options.onRollupError?.(name, this.foldError);
        }
      }
    });
  }

  /** Folds the written streams a little after a write, so that folds stay few under load. */
  private scheduleFold(name: string): void {
    this.unfolded.add(name);
    if (this.foldTimer || this.closed) return;
    this.foldTimer = setTimeout(() => {
      this.foldTimer = undefined;
      void (async () => {
        for (const n of [...this.unfolded]) {
          const s = this.streams.get(n);
          if (s) await this.fold(s);
        }
      })();
    }, this.options.rollupFoldDelayMs ?? 1000);
    this.foldTimer.unref();
  }

  derivedStatus(): DerivedStatus {
    const rollups = [];
    for (const s of this.streams.values()) {
      if (!s.rollup) continue;
      const name = s.def.name;
      const last = this.lastIngest.get(name);
      const watermark = this.watermarks.get(name) ?? EMPTY_WATERMARK;
      const lagMicros = last === undefined || last < watermark ? 0n : last + 1n - watermark;
      rollups.push({ stream: name, lagSeconds: Number(lagMicros) / 1e6, failures: this.foldFailures.get(name) ?? 0, failing: this.foldFailing.has(name) });
    }
    return { rollups, aggregates: { ...this.aggregatePaths }, ...(this.memoryBudget ? { memory: this.memoryBudget.status() } : {}) };
  }

  /** Folds every stream now (what the timer does later). @internal */
  async foldNow(): Promise<void> {
    for (const s of this.streams.values()) await this.fold(s);
  }

  /**
   * Brings an existing table in line with its definition: adds new NULLABLE or REPEATED columns;
   * refuses (with a message saying what to do) a changed type or a new REQUIRED column.
   */
  private async migrate(def: StreamDef, columns: readonly FieldDef[]): Promise<void> {
    const w = this.writer;
    const probe = ident(`expected_${def.name}`);
    await w.run(`CREATE OR REPLACE TEMP TABLE ${probe} (${columns.map((f) => `${ident(f.name)} ${columnSql(f)}`).join(', ')})`);
    const typesOf = async (catalog: string, table: string) => {
      const r = await w.runAndReadAll(
        `SELECT column_name, data_type FROM information_schema.columns WHERE table_catalog = ${catalog} AND table_schema = 'main' AND table_name = $1`,
        [table],
      );
      return new Map(r.getRows().map(([n, t]) => [String(n), String(t)]));
    };
    const expected = await typesOf("'temp'", `expected_${def.name}`);
    const actual = await typesOf('current_database()', def.name);
    await w.run(`DROP TABLE ${probe}`);
    const problems: string[] = [];
    for (const f of columns) {
      const want = expected.get(f.name);
      const have = actual.get(f.name);
      if (have === undefined) {
        if (f.mode === 'REQUIRED') {
          problems.push(`field "${f.name}" is new and REQUIRED, but the table already has rows without it; make it NULLABLE`);
        } else {
          await w.run(`ALTER TABLE ${ident(def.name)} ADD COLUMN ${ident(f.name)} ${columnSql(f)}`);
        }
      } else if (have !== want) {
        problems.push(`field "${f.name}" is ${have} in the database but the definition makes it ${want}; changing a type needs a new stream (or a manual migration)`);
      }
    }
    // A column whose field left the definition stays (no data is dropped) but must accept NULL,
    // or every new row would be refused.
    const notNull = await w.runAndReadAll(
      `SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = 'main' AND table_name = $1 AND NOT is_nullable`,
      [def.name],
    );
    for (const [name] of notNull.getRows()) {
      if (!columns.some((f) => f.name === name)) await w.run(`ALTER TABLE ${ident(def.name)} ALTER COLUMN ${ident(String(name))} DROP NOT NULL`);
    }
    if (problems.length > 0) {
      throw new TributaryError('INVALID_STREAM_DEFINITION', `stream "${def.name}" no longer matches its table:\n  - ${problems.join('\n  - ')}`, { problems });
    }
  }

  private compiled(def: StreamDef): CompiledStream {
    const s = this.streams.get(def.name);
    if (!s) throw new WarehouseError(`stream "${def.name}" was not initialised`, false);
    return s;
  }

  write(def: StreamDef, stamped: WriteBatch): Promise<WriteResult> {
    const s = this.compiled(def);
    // A value too large for DuckDB to checkpoint is refused before it is written (permanently:
    // ingest then isolates its row, which becomes a WAREHOUSE_REJECTED dead letter, payload kept).
    for (const row of stamped.rows) {
      // No value of a row is longer than its payload, so most rows need no look.
      if (row.payload.byteLength <= MAX_VALUE_BYTES) continue;
      const big = oversizedValue(row.values, '');
      if (big) {
        return Promise.reject(
          new WarehouseError(
            `the value of "${big.path}" is ${big.bytes} bytes, over the embedded warehouse's limit of ${MAX_VALUE_BYTES} bytes per value (DuckDB 1.5 cannot checkpoint larger values within its memory limit; see docs/reliability.md)`,
            false,
          ),
        );
      }
    }
    return this.writeLock.run(async () => {
      if (this.closed) throw new WarehouseError('the warehouse is closed', true);
      // A clock that stepped back must not stamp rows below a rollup's watermark (they would be
      // left out of it); under a steady clock this changes nothing.
      const batch = stamped.ingestTime < this.ingestFloor ? { ...stamped, ingestTime: this.ingestFloor } : stamped;
      const w = this.writer;
      let inTransaction = false;
      try {
        if (batch.deadLetters.length > 0) await this.appendDeadLetters(s, batch);
        // One statement is its own transaction: a batch of only rows (the common case) commits
        // without BEGIN/COMMIT round trips, which measured ~2x faster. Dead letters take two
        // statements (below), so a batch with any goes in a transaction.
        const transaction = batch.deadLetters.length > 0;
        if (transaction) {
          await w.run('BEGIN TRANSACTION');
          inTransaction = true;
        }
        let inserted = new Set<string>();
        if (batch.rows.length > 0) {
          const doc = rowDocument(s, batch);
          const ingestTime = new DuckDBTimestampValue(batch.ingestTime);
          let stored = false;
          // A plain INSERT costs about a third of INSERT OR IGNORE (measured on 500 rows: 1.4
          // against 4.1 ms), and a batch rarely holds a known message_id. When it does, the
          // statement fails whole (nothing is written) and the batch goes again with
          // INSERT OR IGNORE, which is also used for the next few batches (redeliveries come in
          // bursts) and inside a transaction (a failed statement would abort it).
          if (!transaction && this.conflictedRecently === 0) {
            const ps = await this.statement(s.insertSql);
            ps.bindVarchar(1, doc);
            ps.bindTimestamp(2, ingestTime);
            try {
              await ps.run();
              inserted = new Set(batch.rows.map((r) => r.messageId));
              stored = true;
            } catch {
              this.conflictedRecently = CONFLICT_MEMORY;
            }
          } else if (this.conflictedRecently > 0) {
            this.conflictedRecently--;
          }
          if (!stored) {
            const ps = await this.statement(s.insertOrIgnoreSql);
            ps.bindVarchar(1, doc);
            ps.bindTimestamp(2, ingestTime);
            for (const [id] of (await ps.runAndReadAll()).getRows()) inserted.add(id as string);
          }
        }
        if (batch.deadLetters.length > 0) {
          // A dead letter replaces an older one of the same message (a replay that failed again).
          // DELETE then INSERT rather than INSERT OR REPLACE, which held on to memory with every
          // large payload it wrote (DuckDB 1.5: writes failed for memory after about 80 MiB of
          // 1.2 MiB payloads at a 128MB limit).
          await w.run(`DELETE FROM ${s.dlTable} WHERE message_id IN (SELECT message_id FROM ${s.dlStage})`);
          await w.run(`DELETE FROM ${s.partsTable} WHERE message_id IN (SELECT message_id FROM ${s.dlStage})`);
          await w.run(`INSERT INTO ${s.dlTable} (${DL_COLUMN_LIST}) SELECT ${DL_COLUMN_LIST} FROM ${s.dlStage}`);
          await w.run(`INSERT INTO ${s.partsTable} SELECT * FROM ${s.partsStage}`);
        }
        if (transaction) {
          await w.run('COMMIT');
          inTransaction = false;
        }
        this.rowCounts.set(def.name, (this.rowCounts.get(def.name) ?? 0) + inserted.size);
        if (inserted.size > 0 && batch.ingestTime > (this.lastIngest.get(def.name) ?? EMPTY_WATERMARK)) this.lastIngest.set(def.name, batch.ingestTime);
        if (inserted.size > 0 && s.rollup) this.scheduleFold(def.name);
        // Committed: a failure to read or raise the budget must not fail the write.
        if (this.memoryBudget?.due()) await this.adjustMemory().catch(() => undefined);
        return { inserted };
      } catch (err) {
        if (inTransaction) await w.run('ROLLBACK').catch(() => undefined);
        // Loading or growing the message_id index can exceed the limit (after a restart the
        // index loads as writes touch it): raise it now, so that the retry of this write fits.
        if (this.memoryBudget && isOutOfMemory(err)) await this.adjustMemory().catch(() => undefined);
        throw classify(err, 'write');
      } finally {
        // Replaced, not emptied: the rows DELETE marks in a temporary table keep their memory (with
        // large payloads, the stage grew by every dead letter ever written until writes failed).
        if (batch.deadLetters.length > 0) {
          for (const sql of stageSql(s.def.name, s.dlTable, s.partsTable)) await w.run(sql).catch(() => undefined);
        }
      }
    });
  }

  /** See {@link IndexMemoryBudget}; runs on the writer's connection, under the write lock. */
  private async adjustMemory(): Promise<void> {
    await this.memoryBudget?.adjust(
      async (sql) => (await this.writer.runAndReadAll(sql)).getRows(),
      async (sql) => void (await this.writer.run(sql)),
    );
  }

  /** A prepared statement of the writer connection (parsed and planned once), bindings cleared. */
  private async statement(sql: string): Promise<DuckDBPreparedStatement> {
    let ps = this.inserts.get(sql);
    if (!ps) {
      ps = await this.writer.prepare(sql);
      this.inserts.set(sql, ps);
    }
    ps.clearBindings();
    return ps;
  }

  private async appendDeadLetters(s: CompiledStream, batch: WriteBatch): Promise<void> {
    const a = await this.writer.createAppender(`stage_${s.def.name}_dead_letters`, 'main', 'temp');
    let parts: DuckDBAppender | undefined;
    try {
      const at = new DuckDBTimestampValue(batch.ingestTime);
      for (const d of batch.deadLetters) {
        a.appendVarchar(d.messageId);
        a.appendTimestamp(new DuckDBTimestampValue(d.publishTime));
        a.appendTimestamp(at);
        a.appendVarchar(d.reason);
        a.appendVarchar(d.detail);
        if (d.fieldPath === null) a.appendNull();
        else a.appendVarchar(d.fieldPath);
        if (d.payload.byteLength > PAYLOAD_PART_BYTES) {
          a.appendNull();
          parts ??= await this.writer.createAppender(`stage_${s.def.name}_dead_letter_parts`, 'main', 'temp');
          for (let part = 0; part * PAYLOAD_PART_BYTES < d.payload.byteLength; part++) {
            parts.appendVarchar(d.messageId);
            parts.appendInteger(part);
            parts.appendBlob(d.payload.subarray(part * PAYLOAD_PART_BYTES, (part + 1) * PAYLOAD_PART_BYTES));
            parts.endRow();
          }
        } else {
          a.appendBlob(d.payload);
        }
        a.appendBigInt(BigInt(d.payload.byteLength));
        a.appendVarchar(JSON.stringify(d.attributes));
        if (d.orderingKey === null) a.appendNull();
        else a.appendVarchar(d.orderingKey);
        a.appendBigInt(BigInt(d.replayCount));
        a.endRow();
      }
      a.flushSync();
      parts?.flushSync();
    } finally {
      a.closeSync();
      parts?.closeSync();
    }
  }

  /**
   * Reads dead letters, with the payloads stored in parts (NULL `payload`, column `payloadAt`)
   * put together from the parts table, in the same transaction.
   */
  private readDeadLetters(s: CompiledStream, sql: string, params: DuckDBValue[], idAt: number, payloadAt: number): Promise<DuckDBValue[][]> {
    return this.readWith(async (run) => {
      await run('BEGIN TRANSACTION', []);
      let ok = false;
      try {
        const rows = await run(sql, params);
        // One query per message: an equality filter is applied inside the scan, which then reads
        // only the matching parts' bytes (`IN (SELECT unnest(...))` may hash the whole table
        // instead, and ran out of memory with 190 MiB of parts at a 64MB limit).
        for (const r of rows) {
          if (r[payloadAt] !== null) continue;
          const found = await run(`SELECT bytes FROM ${s.partsTable} WHERE message_id = $1 ORDER BY part`, [r[idAt] as string]);
          r[payloadAt] = new DuckDBBlobValue(Buffer.concat(found.map(([bytes]) => (bytes as DuckDBBlobValue).bytes)));
        }
        ok = true;
        return rows;
      } finally {
        // A failed statement aborts the transaction: roll it back, so the connection goes back to
        // the pool usable.
        await run(ok ? 'COMMIT' : 'ROLLBACK', []).catch(() => undefined);
      }
    });
  }

  private read(sql: string, params: DuckDBValue[]): Promise<DuckDBValue[][]> {
    return this.readWith((run) => run(sql, params));
  }

  /**
   * Runs `fn` with one read connection (so that its statements can share a transaction), under the
   * query timeout: past it the connection is interrupted and the read fails with QUERY_TIMEOUT.
   */
  private async readWith<T>(fn: (run: (sql: string, params: DuckDBValue[]) => Promise<DuckDBValue[][]>) => Promise<T>): Promise<T> {
    if (this.closed) throw new WarehouseError('the warehouse is closed', true);
    const timeoutMs = this.options.queryTimeoutMs;
    let timedOut = false;
    try {
      return await this.readers.use(async (c) => {
        const timer = timeoutMs ? setTimeout(() => {
          timedOut = true;
          c.interrupt();
        }, timeoutMs) : undefined;
        try {
          return await fn((sql, params) => this.readers.run(c, sql, params));
        } finally {
          clearTimeout(timer);
        }
      });
    } catch (err) {
      if (timedOut) {
        throw new TributaryError('QUERY_TIMEOUT', `the query ran longer than ${timeoutMs} ms and was stopped; narrow the time range or the filters`, { timeoutMs }, { cause: err });
      }
      throw classify(err, 'query');
    }
  }

  /** Runs a read query; for tests of the timeout. @internal */
  async readForTest(sql: string): Promise<DuckDBValue[][]> {
    return this.read(sql, []);
  }

  private toApiRow(s: CompiledStream, values: readonly DuckDBValue[]): ApiRow {
    const row: ApiRow = {};
    for (let i = 0; i < s.columns.length; i++) row[s.columns[i]!.name] = s.readers[i]!(values[i] ?? null);
    return row;
  }

  async queryRows(def: StreamDef, q: RowQuery): Promise<ApiRow[]> {
    const s = this.compiled(def);
    const params: DuckDBValue[] = [];
    const p = (v: DuckDBValue) => {
      params.push(v);
      return `$${params.length}`;
    };
    const where = timeAndKeyset(q.from, q.to, q.after, q.order, p);
    for (const f of q.filters) where.push(filterSql(f, p));
    const dir = q.order === 'asc' ? 'ASC' : 'DESC';
    const wanted = q.fields ? new Set([...q.fields, 'message_id', 'publish_time']) : undefined;
    const idx = s.columns.map((_, i) => i).filter((i) => !wanted || wanted.has(s.columns[i]!.name));
    const limit = p(BigInt(q.limit));
    const filtered = where.length ? ` WHERE ${where.join(' AND ')}` : '';
    const project = `SELECT ${idx.map((i) => ident(s.columns[i]!.name)).join(', ')} FROM ${s.table}`;
    const order = ` ORDER BY publish_time ${dir}, message_id ${dir} LIMIT ${limit}`;
    if ((this.rowCounts.get(def.name) ?? 0) < (this.options.twoStepPagesFromRows ?? TWO_STEP_PAGES_FROM_ROWS)) return this.rowsOf(s, idx, await this.read(project + filtered + order, params));
    // Two steps on a large table. First the publish_time of the page's last row, reading only the
    // filtered columns; then the page, with that time as one more bound, so that zone maps skip
    // the row groups older (newer, ascending) than the page. Reading every column of the matching
    // rows of the whole range is what a page costs otherwise: on 10M rows, 25 ms against 2 + 7 ms
    // for the newest 100 of one device in the last hour (at 1M rows, 6.2 against 1.4 + 5.3). The
    // bound cannot drop a row of the page, even if rows arrive in between: more rows only move the
    // page's last time forward.
    const edge =
      `SELECT ${dir === 'DESC' ? 'min' : 'max'}(publish_time) FROM (SELECT publish_time FROM ${s.table}${filtered} ` +
      `ORDER BY publish_time ${dir} LIMIT ${limit})`;
    const bound = p(new DuckDBTimestampValue(0n));
    const sql = `${project} WHERE ${[...where, `publish_time ${dir === 'DESC' ? '>=' : '<='} ${bound}`].join(' AND ')}${order}`;
    const rows = await this.readWith(async (run) => {
      const [[last] = []] = await run(edge, params.slice(0, -1));
      if (last === null || last === undefined) return [];
      params[params.length - 1] = last;
      return run(sql, params);
    });
    return this.rowsOf(s, idx, rows);
  }

  private rowsOf(s: CompiledStream, idx: readonly number[], rows: DuckDBValue[][]): ApiRow[] {
    return rows.map((r) => {
      const row: ApiRow = {};
      idx.forEach((ci, j) => (row[s.columns[ci]!.name] = s.readers[ci]!(r[j] ?? null)));
      return row;
    });
  }

  async aggregate(def: StreamDef, q: AggregateQuery): Promise<AggregateRow[]> {
    const s = this.compiled(def);
    const params: DuckDBValue[] = [];
    const p = (v: DuckDBValue) => {
      params.push(v);
      return `$${params.length}`;
    };
    const select: string[] = [];
    const readers: [string, ResultReader][] = [];
    if (q.intervalMicros !== undefined) {
      // Typed as BIGINT: a bigint parameter binds as HUGEINT, which made the bucket arithmetic
      // 128-bit for every row (about 10x slower, measured by the aggregate benchmark).
      // Grouped by the bucket's number, turned into its start time here: a timestamp computed
      // per row cost 112 ms of a 10M-row query that takes 85 ms this way (measured directly).
      const width = q.intervalMicros;
      select.push(`epoch_us(publish_time) // ${p(width)}::BIGINT`);
      readers.push(['time', (v) => (v === null ? null : formatTimestamp((v as bigint) * width))]);
    }
    for (const g of q.groupBy) {
      select.push(fieldExpr(g));
      readers.push([g.map((f) => f.name).join('.'), resultReader(g[g.length - 1]!)]);
    }
    const keys = select.length;
    for (const m of q.metrics) {
      const leaf = m.chain?.[m.chain.length - 1];
      const expr = m.chain ? fieldExpr(m.chain) : '';
      switch (m.fn) {
        case 'count':
          select.push('count(*)');
          readers.push([m.name, (v) => Number(v as bigint)]);
          break;
        case 'count_distinct':
          select.push(`count(DISTINCT ${expr})`);
          readers.push([m.name, (v) => Number(v as bigint)]);
          break;
        case 'sum':
          if (leaf!.type === 'INT64') {
            select.push(`sum(${expr})`);
            readers.push([m.name, (v) => (v === null ? null : String(v as bigint))]);
          } else {
            select.push(`sum(${expr})`);
            readers.push([m.name, resultReader({ ...leaf!, mode: 'NULLABLE' })]);
          }
          break;
        case 'avg':
          select.push(`avg(${expr})::DOUBLE`);
          readers.push([m.name, (v) => v]);
          break;
        case 'min':
        case 'max':
          select.push(`${m.fn}(${expr})`);
          readers.push([m.name, resultReader({ ...leaf!, mode: 'NULLABLE' })]);
          break;
        case 'percentile':
          // Exact (linear interpolation) on DuckDB; BigQuery approximates.
          select.push(`quantile_cont((${expr})::DOUBLE, ${p(m.fraction!)})`);
          readers.push([m.name, (v) => v]);
          break;
      }
    }
    const where = timeAndKeyset(q.from, q.to, undefined, 'asc', p);
    for (const f of q.filters) where.push(filterSql(f, p));
    const positions = Array.from({ length: keys }, (_, i) => String(i + 1));
    const sql =
      `SELECT ${select.join(', ')} FROM ${s.table}` +
      (where.length ? ` WHERE ${where.join(' AND ')}` : '') +
      (keys ? ` GROUP BY ${positions.join(', ')} ORDER BY ${positions.map((x) => `${x} ASC NULLS FIRST`).join(', ')}` : '') +
      ` LIMIT ${p(BigInt(q.limit + 1))}`;
    const read = (rows: DuckDBValue[][]) =>
      rows.map((r) => {
        const out: AggregateRow = {};
        readers.forEach(([name, reader], i) => (out[name] = reader(r[i] ?? null)));
        return out;
      });
    const rollup = s.rollup;
    if (!rollup?.serves(q)) {
      this.aggregatePaths.scan++;
      return read(await this.read(sql, params));
    }
    // The watermark in memory and the rollup a query sees must match: a fold commits only while
    // no rollup query runs (it waits for them), and moves the watermark in the same instant.
    return this.foldGate.shared(async () => {
      const watermark = this.watermarks.get(def.name);
      if (watermark === undefined) {
        this.aggregatePaths.scan++;
        return read(await this.read(sql, params));
      }
      this.aggregatePaths.rollup++;
      const r = rollup.query(q, watermark);
      return read(await this.read(r.sql, r.params));
    });
  }

  async windowStats(def: StreamDef, w: StatsWindow): Promise<WindowStats> {
    const s = this.compiled(def);
    const from = new DuckDBTimestampValue(w.from);
    const to = new DuckDBTimestampValue(w.to);
    const lag = '(epoch_us(ingest_time) - epoch_us(publish_time)) / 1000.0';
    const [[count, p50, p95, p99, max] = []] = await this.read(
      `SELECT count(*), quantile_cont(${lag}, 0.5), quantile_cont(${lag}, 0.95), quantile_cont(${lag}, 0.99), max(${lag})::DOUBLE ` +
        `FROM ${s.table} WHERE publish_time >= $1 AND publish_time < $2`,
      [from, to],
    );
    const byReason = await this.read(
      `SELECT reason, count(*) FROM ${s.dlTable} WHERE publish_time >= $1 AND publish_time < $2 GROUP BY reason ORDER BY reason`,
      [from, to],
    );
    const n = Number(count as bigint);
    return {
      rowCount: n,
      deadLettersByReason: Object.fromEntries(byReason.map(([r, c]) => [r as string, Number(c as bigint)])),
      freshnessMs: n === 0 ? null : { p50: p50 as number, p95: p95 as number, p99: p99 as number, max: max as number },
    };
  }

  async getDeadLetter(def: StreamDef, messageId: string): Promise<ApiDeadLetter | undefined> {
    const s = this.compiled(def);
    const rows = await this.readDeadLetters(s, `SELECT ${DL_COLUMN_LIST} FROM ${s.dlTable} WHERE message_id = $1`, [messageId], 0, 6);
    return rows[0] ? deadLetterRow(rows[0]) : undefined;
  }

  async getRawDeadLetters(def: StreamDef, messageIds: readonly string[]): Promise<RawDeadLetter[]> {
    if (messageIds.length === 0) return [];
    const s = this.compiled(def);
    const rows = await this.readDeadLetters(
      s,
      `SELECT message_id, publish_time, reason, payload, attributes, ordering_key, replay_count FROM ${s.dlTable} ` +
        `WHERE message_id IN (SELECT unnest($1::VARCHAR[])) ORDER BY publish_time, message_id`,
      [new DuckDBListValue([...messageIds])],
      0,
      3,
    );
    return rows.map(([id, pt, reason, payload, attrs, key, replays]) => ({
      messageId: id as string,
      publishTime: (pt as DuckDBTimestampValue).micros,
      reason: reason as string,
      payload: payload === null ? new Uint8Array() : (payload as DuckDBBlobValue).bytes,
      attributes: attrs === null ? {} : (JSON.parse(attrs as string) as Record<string, string>),
      orderingKey: (key as string | null) ?? null,
      replayCount: Number(replays as bigint),
    }));
  }

  deleteDeadLetters(def: StreamDef, messageIds: readonly string[]): Promise<number> {
    const s = this.compiled(def);
    if (messageIds.length === 0) return Promise.resolve(0);
    return this.writeLock.run(async () => {
      if (this.closed) throw new WarehouseError('the warehouse is closed', true);
      try {
        const ids = new DuckDBListValue([...messageIds]);
        await this.writer.run('BEGIN TRANSACTION');
        try {
          const r = await this.writer.runAndReadAll(`DELETE FROM ${s.dlTable} WHERE message_id IN (SELECT unnest($1::VARCHAR[])) RETURNING message_id`, [ids]);
          await this.writer.run(`DELETE FROM ${s.partsTable} WHERE message_id IN (SELECT unnest($1::VARCHAR[]))`, [ids]);
          await this.writer.run('COMMIT');
          return r.getRows().length;
        } catch (err) {
          await this.writer.run('ROLLBACK').catch(() => undefined);
          throw err;
        }
      } catch (err) {
        throw classify(err, 'delete');
      }
    });
  }

  async getRow(def: StreamDef, messageId: string): Promise<ApiRow | undefined> {
    const s = this.compiled(def);
    const rows = await this.read(`SELECT ${s.columnList} FROM ${s.table} WHERE message_id = $1`, [messageId]);
    return rows[0] ? this.toApiRow(s, rows[0]) : undefined;
  }

  async queryDeadLetters(def: StreamDef, q: DeadLetterQuery): Promise<ApiDeadLetter[]> {
    const s = this.compiled(def);
    const params: DuckDBValue[] = [];
    const p = (v: DuckDBValue) => {
      params.push(v);
      return `$${params.length}`;
    };
    const where = timeAndKeyset(q.from, q.to, q.after, 'desc', p);
    if (q.reason) where.push(`reason = ${p(q.reason)}`);
    // The page is chosen first and only its dead letters are read whole: sorting whole dead
    // letters would carry every payload of the range through the sort.
    const page =
      `SELECT message_id FROM ${s.dlTable}` +
      (where.length ? ` WHERE ${where.join(' AND ')}` : '') +
      ` ORDER BY publish_time DESC, message_id DESC LIMIT ${p(BigInt(q.limit))}`;
    const sql = `SELECT ${DL_COLUMN_LIST} FROM ${s.dlTable} WHERE message_id IN (${page}) ORDER BY publish_time DESC, message_id DESC`;
    const rows = await this.readDeadLetters(s, sql, params, 0, 6);
    return rows.map((r) => deadLetterRow(r));
  }

  async stats(def: StreamDef): Promise<StreamStats> {
    const s = this.compiled(def);
    const [[count, newest] = []] = await this.read(`SELECT count(*), max(publish_time) FROM ${s.table}`, []);
    const [[dl, dlNewest] = []] = await this.read(`SELECT count(*), max(publish_time) FROM ${s.dlTable}`, []);
    return {
      rowCount: Number(count as bigint),
      newestPublishTime: newest ? (newest as DuckDBTimestampValue).micros : null,
      deadLetterCount: Number(dl as bigint),
      newestDeadLetterPublishTime: dlNewest ? (dlNewest as DuckDBTimestampValue).micros : null,
    };
  }

  async ping(): Promise<void> {
    await this.read('SELECT 1', []);
  }

  /** Waits for the write in progress, checkpoints and closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    clearTimeout(this.foldTimer);
    await this.foldLock.run(async () => {
      await this.writeLock.run(async () => {
        this.closed = true;
        await this.writer.run('CHECKPOINT').catch(() => undefined);
      });
    });
    for (const ps of this.inserts.values()) ps.destroySync();
    this.inserts.clear();
    this.writer.closeSync();
    this.folder.closeSync();
    this.readers.closeAll();
    this.instance.closeSync();
  }
}

/**
 * Largest string value (UTF-8 bytes) a row may hold. DuckDB 1.5 stores a value larger than its
 * 256 KiB block in blocks of its own and keeps all of a row group's such blocks pinned while it
 * checkpoints it: rows with 300 KiB strings made a checkpoint fail once they added up to the
 * memory limit (256MB: after 245 MB), which invalidated the database until a restart; rows with
 * 200 KiB strings went on to 606 MB (docs/reliability.md).
 */
const MAX_VALUE_BYTES = 200 * 1024;

/** The first string in `v` longer than MAX_VALUE_BYTES, with its path (`field.sub[2]`). */
function oversizedValue(v: StoredValue, path: string): { path: string; bytes: number } | undefined {
  if (typeof v === 'string') {
    // Fewer than MAX/3 UTF-16 units cannot make MAX bytes.
    if (v.length * 3 <= MAX_VALUE_BYTES) return undefined;
    const bytes = Buffer.byteLength(v);
    return bytes > MAX_VALUE_BYTES ? { path: path || 'the row', bytes } : undefined;
  }
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const found = oversizedValue(v[i]!, `${path}[${i}]`);
      if (found) return found;
    }
    return undefined;
  }
  if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      const found = oversizedValue(x, path ? `${path}.${k}` : k);
      if (found) return found;
    }
  }
  return undefined;
}

/** (Re)creates the in-memory stages of a stream's dead letters and of their payload parts, empty. */
function stageSql(stream: string, dlTable: string, partsTable: string): string[] {
  return [
    `CREATE OR REPLACE TEMP TABLE ${ident(`stage_${stream}_dead_letters`)} AS SELECT ${DL_COLUMN_LIST} FROM ${dlTable} LIMIT 0`,
    `CREATE OR REPLACE TEMP TABLE ${ident(`stage_${stream}_dead_letter_parts`)} AS SELECT * FROM ${partsTable} LIMIT 0`,
  ];
}

/** The JSON document of a batch's rows: an array of objects with the members of `insertSql`. */
function rowDocument(s: CompiledStream, batch: WriteBatch): string {
  const fields = s.def.fields;
  const names = fields.map((f) => `,${JSON.stringify(f.name)}:`);
  const parts: string[] = [];
  for (const row of batch.rows) {
    let text = `{"message_id":${JSON.stringify(row.messageId)},"publish_time":${row.publishTime},"attributes":${JSON.stringify(JSON.stringify(row.attributes))},"ordering_key":${row.orderingKey === null ? 'null' : JSON.stringify(row.orderingKey)}`;
    for (let i = 0; i < fields.length; i++) text += names[i]! + s.document[i]!.json(row.values[fields[i]!.name] ?? null);
    parts.push(text + '}');
  }
  return `[${parts.join(',')}]`;
}

function timeAndKeyset(
  from: bigint | undefined,
  to: bigint | undefined,
  after: Keyset | undefined,
  order: 'asc' | 'desc',
  p: (v: DuckDBValue) => string,
): string[] {
  const where: string[] = [];
  if (from !== undefined) where.push(`publish_time >= ${p(new DuckDBTimestampValue(from))}`);
  if (to !== undefined) where.push(`publish_time < ${p(new DuckDBTimestampValue(to))}`);
  if (after) {
    const t = p(new DuckDBTimestampValue(after.publishTime));
    const id = p(after.messageId);
    const cmp = order === 'asc' ? '>' : '<';
    // The first term lets zone maps prune; the second is the exact keyset condition.
    where.push(`publish_time ${cmp}= ${t} AND (publish_time ${cmp} ${t} OR message_id ${cmp} ${id})`);
  }
  return where;
}

/** A JSON pointer to a top-level key (RFC 6901 escaping), bound as a parameter. */
function jsonPointer(key: string): string {
  return '/' + key.replaceAll('~', '~0').replaceAll('/', '~1');
}

const STRING_FIELD: FieldDef = { name: 'attribute', type: 'STRING', mode: 'NULLABLE' };
const CMP = { eq: '=', gt: '>', gte: '>=', lt: '<', lte: '<=' } as const;

function filterSql(f: Filter, p: (v: DuckDBValue) => string): string {
  const expr = f.attribute !== undefined ? `json_extract_string(attributes, ${p(jsonPointer(f.attribute))})` : fieldExpr(f.chain);
  const leaf = f.attribute !== undefined ? STRING_FIELD : f.chain[f.chain.length - 1]!;
  switch (f.op) {
    case 'is_null': return `${expr} IS NULL`;
    case 'not_null': return `${expr} IS NOT NULL`;
    case 'prefix': return `starts_with(${expr}, ${p(f.value as string)})`;
    case 'in': return `${expr} IN (${f.values.map((v) => p(scalarToDuckDB(leaf, v))).join(', ')})`;
    default: return `${expr} ${CMP[f.op]} ${p(scalarToDuckDB(leaf, f.value))}`;
  }
}

function deadLetterRow(r: readonly DuckDBValue[]): ApiDeadLetter {
  const [id, pt, at, reason, detail, path, payload, size, attrs, key, replays] = r;
  const bytes = payload === null ? new Uint8Array() : (payload as DuckDBBlobValue).bytes;
  let text: string | null;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    text = null;
  }
  return {
    message_id: id as string,
    publish_time: formatTimestamp((pt as DuckDBTimestampValue).micros),
    dead_lettered_at: formatTimestamp((at as DuckDBTimestampValue).micros),
    reason: reason as string,
    detail: (detail as string | null) ?? null,
    field_path: (path as string | null) ?? null,
    payload: text,
    payload_base64: Buffer.from(bytes).toString('base64'),
    payload_size: Number(size as bigint),
    attributes: attrs === null ? {} : (JSON.parse(attrs as string) as Record<string, string>),
    ordering_key: (key as string | null) ?? null,
    replay_count: Number(replays as bigint),
  };
}

