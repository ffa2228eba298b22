/**
 * DuckDB's connection and write path: the instance and its file, the writer connection (one
 * write at a time), the read pool, and the statements of writes. The write path (`write`,
 * `deleteDeadLetters` and what they call) and the read path (`read`, `readWith`,
 * `readDeadLetters`) are separate methods; `index.ts` builds the statements of reads.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type DuckDBConnection, DuckDBInstance, DuckDBListValue, type DuckDBPreparedStatement, DuckDBTimestampValue, type DuckDBValue } from '@duckdb/node-api';
import { DEFAULT_DUCKDB_READ_PRIORITY_MS } from '../../core/config.js';
import { TributaryError } from '../../core/errors.js';
import type { WriteBatch, WriteResult } from '../../core/ports.js';
import { WarehouseError } from '../../core/ports.js';
import { ENVELOPE_FIELDS, type FieldDef, type StreamDef } from '../../core/schema.js';
import { appendDeadLetters, type DeadLetterTables, moveStagedSql, readDeadLetters, stageNames, stageSql } from './dead-letters.js';
import { ident, insertStatements, sqlString } from './dialect.js';
import { classify, openError } from './errors.js';
import { ensureTables, type StreamTables } from './introspect.js';
import { MemoryBudget, isOutOfMemory, type MemoryStatus, parseByteSize } from './memory.js';
import { logMemoryRaised } from './observe.js';
import { ConnectionPool, Mutex } from './pool.js';
import { DEFAULT_CHECKPOINT_THRESHOLD, DEFAULT_ROW_GROUP_SIZE, type DocumentColumn, type DuckDBOptions, MAX_VALUE_BYTES, oversizedValue, resultReader, type ResultReader, rowDocument } from './types.js';

export type { DuckDBOptions } from './types.js';

/** A stream as the driver writes and reads it, compiled once at init. */
export interface CompiledStream extends StreamTables, DeadLetterTables {
  readonly def: StreamDef;
  readonly columns: readonly FieldDef[];
  readonly columnList: string;
  /** How each user field (after the envelope) travels in the row document. */
  readonly document: readonly DocumentColumn[];
  /** `INSERT` of a row document ($1) at an ingest time ($2); fails whole on a known message_id. */
  readonly insertSql: string;
  /** The same as `INSERT OR IGNORE ... RETURNING message_id`: skips known message_ids. */
  readonly insertOrIgnoreSql: string;
  readonly readers: readonly ResultReader[];
  /** Rows in the table, counted at init and kept by writes. */
  rowCount: number;
}

/** What a write asks of its caller (the rollups' bookkeeping), under the write lock. */
export interface WriteHooks {
  /** No row may be stamped with an ingest_time below this. */
  floor(): bigint;
  /** The batch committed `inserted` new rows at `ingestTime`. */
  committed(inserted: number, ingestTime: bigint): void;
}

/** After a batch met a known message_id, this many writes use INSERT OR IGNORE directly. */
const CONFLICT_MEMORY = 8;

/** The alias under which the database file is attached (and made the default with USE). */
const DATABASE_ALIAS = 'tributary';

export class DuckDBDriver {
  private readonly writeLock = new Mutex();
  /** The writer's prepared inserts, by SQL text. */
  private readonly inserts = new Map<string, DuckDBPreparedStatement>();
  /** Writes left that go straight to INSERT OR IGNORE after a plain INSERT met a known id. */
  private conflictedRecently = 0;
  private isClosed = false;
  /** Rollup folds in progress on the folds' connection. */
  private folding = 0;
  /** Keeps the memory limit above the message_id indexes; undefined without a parsable limit. */
  private readonly memoryBudget: MemoryBudget | undefined;

  private constructor(
    private readonly instance: DuckDBInstance,
    /** The writer's connection (writes, DDL). */
    readonly writer: DuckDBConnection,
    /** The rollup folds' connection: they run beside the writes (see {@link useFolder}). */
    private readonly folder: DuckDBConnection,
    private readonly readers: ConnectionPool,
    private readonly options: DuckDBOptions,
  ) {
    const configured = options.memoryLimit === undefined ? undefined : parseByteSize(options.memoryLimit);
    this.memoryBudget = configured === undefined ? undefined : new MemoryBudget(configured, options.cacheLimitBytes, (m) => logMemoryRaised(options.observer, m));
  }

  /** Opens (creating if needed) the database file. */
  static async open(options: DuckDBOptions): Promise<DuckDBDriver> {
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
      throw openError(options.path, err);
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
    return new DuckDBDriver(instance, writer, folder, new ConnectionPool(readers), options);
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** The memory figures, when a memory limit is configured. */
  memoryStatus(): MemoryStatus | undefined {
    return this.memoryBudget?.status();
  }

  /**
   * Runs `fn` with the rollup folds' connection, counting it as in use: the cache is not trimmed
   * while a fold runs, as while a read does (a fold needs memory for its aggregation).
   */
  async useFolder<T>(fn: (folder: DuckDBConnection) => Promise<T>): Promise<T> {
    this.folding++;
    try {
      return await fn(this.folder);
    } finally {
      this.folding--;
    }
  }

  /** Runs `fn` between two writes. */
  underWriteLock<T>(fn: () => Promise<T>): Promise<T> {
    return this.writeLock.run(fn);
  }

  /** Creates (or checks and migrates) the stream's tables and compiles its write statements. */
  async compile(def: StreamDef): Promise<CompiledStream> {
    const columns = [...ENVELOPE_FIELDS, ...def.fields];
    const w = this.writer;
    const tables = await ensureTables(w, def, columns);
    for (const sql of stageSql(def.name, tables.dlTable, tables.partsTable)) await w.run(sql);
    const insert = insertStatements(tables.table, def, columns);
    const [[count]] = (await w.runAndReadAll(`SELECT count(*) FROM ${tables.table}`)).getRows() as [[bigint]];
    return {
      def,
      ...tables,
      ...stageNames(def.name),
      columns,
      ...insert,
      readers: columns.map(resultReader),
      rowCount: Number(count),
    };
  }

  // ---- write path ----

  /**
   * Writes a batch under the write lock: one INSERT of the rows' document (INSERT OR IGNORE after
   * a known message_id), dead letters through their stage, in one transaction when there are any.
   * `floor` is the lowest ingest_time a row may be stamped with; `committed` runs under the lock.
   */
  write(s: CompiledStream, stamped: WriteBatch, hooks: WriteHooks): Promise<WriteResult> {
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
    // Encoded before the lock: a batch waiting for the write in progress is ready when it ends
    // (the micro-batcher starts a full batch beside the one being written).
    const doc = stamped.rows.length > 0 ? rowDocument(s.def.fields, s.document, stamped.rows) : '';
    return this.writeLock.run(async () => {
      if (this.isClosed) throw new WarehouseError('the warehouse is closed', true);
      // Reads first: a write that starts while reads run takes CPU from them (DuckDB's threads and
      // the 2 cores are shared), so it waits for them, for a bounded time. Batches keep forming
      // meanwhile, so while reads are short ingest loses no throughput and its answer comes up to
      // that much later; under reads that never pause, at most one write starts per bound
      // (docs/configuration.md, --duckdb-read-priority-ms).
      await this.readers.settled(this.options.readPriorityMs ?? DEFAULT_DUCKDB_READ_PRIORITY_MS);
      // A clock that stepped back must not stamp rows below a rollup's watermark (they would be
      // left out of it); under a steady clock this changes nothing.
      const floor = hooks.floor();
      const batch = stamped.ingestTime < floor ? { ...stamped, ingestTime: floor } : stamped;
      const w = this.writer;
      let inTransaction = false;
      try {
        if (batch.deadLetters.length > 0) await appendDeadLetters(w, s.def.name, batch);
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
        if (batch.deadLetters.length > 0) for (const sql of moveStagedSql(s)) await w.run(sql);
        if (transaction) {
          await w.run('COMMIT');
          inTransaction = false;
        }
        s.rowCount += inserted.size;
        hooks.committed(inserted.size, batch.ingestTime);
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

  /** See {@link MemoryBudget}; runs on the writer's connection, under the write lock. */
  private async adjustMemory(): Promise<void> {
    await this.memoryBudget?.adjust({
      query: async (sql) => (await this.writer.runAndReadAll(sql)).getRows(),
      set: async (sql) => void (await this.writer.run(sql)),
      canTrim: () => this.readers.inUse === 0 && this.folding === 0,
    });
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

  /** Removes dead letters and their payload parts; returns how many were removed. */
  deleteDeadLetters(s: CompiledStream, messageIds: readonly string[]): Promise<number> {
    if (messageIds.length === 0) return Promise.resolve(0);
    return this.writeLock.run(async () => {
      if (this.isClosed) throw new WarehouseError('the warehouse is closed', true);
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

  // ---- read path ----

  /** Reads dead letters, their payloads stored in parts put together (see `dead-letters.ts`). */
  readDeadLetters(s: CompiledStream, sql: string, params: DuckDBValue[], idAt: number, payloadAt: number): Promise<DuckDBValue[][]> {
    return this.readWith((run) => readDeadLetters(run, s, sql, params, idAt, payloadAt));
  }

  read(sql: string, params: DuckDBValue[]): Promise<DuckDBValue[][]> {
    return this.readWith((run) => run(sql, params));
  }

  /**
   * Runs `fn` with one read connection (so that its statements can share a transaction), under the
   * query timeout: past it the connection is interrupted and the read fails with QUERY_TIMEOUT.
   */
  async readWith<T>(fn: (run: (sql: string, params: DuckDBValue[]) => Promise<DuckDBValue[][]>) => Promise<T>): Promise<T> {
    if (this.isClosed) throw new WarehouseError('the warehouse is closed', true);
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

  /** Waits for the write in progress, checkpoints and closes the file (after `beforeClose`, under the write lock). */
  async close(): Promise<void> {
    await this.writeLock.run(async () => {
      this.isClosed = true;
      await this.writer.run('CHECKPOINT').catch(() => undefined);
    });
    for (const ps of this.inserts.values()) ps.destroySync();
    this.inserts.clear();
    this.writer.closeSync();
    this.folder.closeSync();
    this.readers.closeAll();
    this.instance.closeSync();
  }
}
