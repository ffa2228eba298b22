/**
 * The folds of the minute rollups (`rollup.ts`): per stream, the watermark below which every
 * row is in the rollup, the floor below which no row is stamped, the fold timer, and the gate
 * between rollup queries and a fold's commit. Folds run on their own connection beside writes.
 */
import { type DuckDBConnection, DuckDBTimestampValue } from '@duckdb/node-api';
import type { AggregateQuery } from '../../core/ports.js';
import type { StreamDef } from '../../core/schema.js';
import { ident } from './dialect.js';
import { classify } from './errors.js';
import { Mutex, SharedGate } from './pool.js';
import { EMPTY_WATERMARK, INTERNAL_SCHEMA, MinuteRollup, type RollupSql, STATE_TABLE } from './rollup.js';

/** What the rollups need of the driver. */
export interface RollupHost {
  /** The writer's connection (DDL at init). */
  readonly writer: DuckDBConnection;
  /** Runs `fn` with the folds' own connection (the host knows a fold is running meanwhile). */
  useFolder<T>(fn: (folder: DuckDBConnection) => Promise<T>): Promise<T>;
  readonly closed: boolean;
  underWriteLock<T>(fn: () => Promise<T>): Promise<T>;
}

/** The state of one stream's rollup, for `/metrics`. */
export interface RollupStatus {
  readonly stream: string;
  /** ingest_time of the newest row written minus that of the newest row folded in, in seconds (0: caught up). */
  readonly lagSeconds: number;
  /** Folds that failed since the process started (each is retried after the next write). */
  readonly failures: number;
  /** Whether the last fold failed. Answers stay correct meanwhile: rows not folded in are scanned. */
  readonly failing: boolean;
}

/**
 * The rollups of every stream and their folds: the watermarks, the floor below which no row is
 * stamped, the fold timer, and the gate between rollup queries and a fold's commit.
 */
export class Rollups {
  /** Per stream: rows with `ingest_time` below it are in the rollup. */
  private readonly watermarks = new Map<string, bigint>();
  /** No row is stamped with an `ingest_time` below this (the highest watermark). */
  private ingestFloor = EMPTY_WATERMARK;
  /** Per stream: the newest `ingest_time` committed. */
  private readonly lastIngest = new Map<string, bigint>();
  private readonly rollups = new Map<string, MinuteRollup>();
  /** One fold at a time. */
  private readonly foldLock = new Mutex();
  /** Streams written since their last fold. */
  private readonly unfolded = new Set<string>();
  private foldTimer: NodeJS.Timeout | undefined;
  /** Rollup queries hold it shared; a fold's commit holds it alone. */
  private readonly foldGate = new SharedGate();
  /** The last fold's failure, if it failed (the next write schedules another). */
  foldError: Error | undefined;
  /** How many aggregates each path answered. */
  readonly aggregatePaths = { rollup: 0, scan: 0 };
  /** Failed folds per stream since start. */
  private readonly foldFailures = new Map<string, number>();
  /** Streams whose last fold failed. */
  private readonly foldFailing = new Set<string>();

  constructor(
    private readonly host: RollupHost,
    private readonly options: { readonly enabled: boolean; readonly foldDelayMs: number; readonly onError?: (stream: string, err: Error) => void },
  ) {}

  /** The rollup of a stream, when rollups are on. */
  of(stream: string): MinuteRollup | undefined {
    return this.rollups.get(stream);
  }

  /** See {@link WriteHooks.floor} in `driver.ts`. */
  floor(): bigint {
    return this.ingestFloor;
  }

  /** A write of `stream` committed `inserted` rows at `ingestTime` (under the write lock). */
  committed(stream: string, inserted: number, ingestTime: bigint): void {
    if (inserted === 0) return;
    if (ingestTime > (this.lastIngest.get(stream) ?? EMPTY_WATERMARK)) this.lastIngest.set(stream, ingestTime);
    if (this.rollups.has(stream)) this.schedule(stream);
  }

  /**
   * Creates the stream's rollup, or rebuilds it when its measures changed (a field was added) or
   * it is missing, then folds in every row not in it yet. With rollups off, drops it, so that
   * turning them on again rebuilds it from the table.
   */
  async init(def: StreamDef, source: string): Promise<void> {
    const w = this.host.writer;
    const name = def.name;
    await w.run(`CREATE SCHEMA IF NOT EXISTS ${ident(INTERNAL_SCHEMA)}`);
    await w.run(`CREATE TABLE IF NOT EXISTS ${STATE_TABLE} (stream VARCHAR PRIMARY KEY, signature VARCHAR NOT NULL, watermark BIGINT NOT NULL)`);
    const table = `${ident(INTERNAL_SCHEMA)}.${ident(`rollup_${name}`)}`;
    if (!this.options.enabled) {
      await w.run(`DROP TABLE IF EXISTS ${table}`);
      await w.run(`DELETE FROM ${STATE_TABLE} WHERE stream = $1`, [name]);
      return;
    }
    const rollup = new MinuteRollup(def, source);
    this.rollups.set(name, rollup);
    const state = (await w.runAndReadAll(`SELECT signature, watermark FROM ${STATE_TABLE} WHERE stream = $1`, [name])).getRows()[0];
    const exists = (await w.runAndReadAll(`SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = $1 AND table_name = $2`, [INTERNAL_SCHEMA, `rollup_${name}`])).getRows()[0]![0] === 1n;
    let watermark: bigint;
    if (state && state[0] === rollup.signature && exists) {
      watermark = state[1] as bigint;
    } else {
      await w.run('BEGIN TRANSACTION');
      try {
        await w.run(`DROP TABLE IF EXISTS ${table}`);
        await w.run(rollup.createSql());
        await w.run(`INSERT OR REPLACE INTO ${STATE_TABLE} VALUES ($1, $2, $3)`, [name, rollup.signature, EMPTY_WATERMARK]);
        await w.run('COMMIT');
      } catch (err) {
        await w.run('ROLLBACK').catch(() => undefined);
        throw err;
      }
      watermark = EMPTY_WATERMARK;
    }
    this.watermarks.set(name, watermark);
    if (watermark > this.ingestFloor) this.ingestFloor = watermark;
    const [[newest]] = (await w.runAndReadAll(`SELECT max(epoch_us(ingest_time)) FROM ${source} WHERE ingest_time >= $1`, [new DuckDBTimestampValue(watermark)])).getRows() as [[bigint | null]];
    if (newest !== null) this.lastIngest.set(name, newest);
    await this.fold(name);
    if (this.foldError) throw this.foldError;
  }

  /**
   * Adds to the rollup the rows stamped since its watermark and moves the watermark past them, in
   * one transaction on the fold's own connection, while writes go on. Its range is picked under
   * the write lock, in memory: every row stamped below the new watermark has committed, and every
   * later row will be stamped at or above it. One fold runs at a time.
   */
  fold(name: string): Promise<void> {
    return this.foldLock.run(async () => {
      const rollup = this.rollups.get(name);
      const from = this.watermarks.get(name);
      if (!rollup || from === undefined || this.host.closed) return;
      this.unfolded.delete(name);
      const to = await this.host.underWriteLock(async () => {
        const last = this.lastIngest.get(name);
        if (last === undefined || last < from) return undefined;
        if (last + 1n > this.ingestFloor) this.ingestFloor = last + 1n;
        return last + 1n;
      });
      if (to === undefined) return;
      await this.host.useFolder(async (f) => {
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
            this.options.onError?.(name, this.foldError);
          }
        }
      });
    });
  }

  /** Folds every stream now (what the timer does later). */
  async foldAll(): Promise<void> {
    for (const name of this.rollups.keys()) await this.fold(name);
  }

  /** Folds the written streams a little after a write, so that folds stay few under load. */
  private schedule(name: string): void {
    this.unfolded.add(name);
    if (this.foldTimer || this.host.closed) return;
    this.foldTimer = setTimeout(() => {
      this.foldTimer = undefined;
      void (async () => {
        for (const n of [...this.unfolded]) await this.fold(n);
      })();
    }, this.options.foldDelayMs);
    this.foldTimer.unref();
  }

  /**
   * Runs `scan` or, when the rollup serves `q`, `fromRollup` with the watermark that matches the
   * rollup the query sees: a fold commits only while no rollup query runs (it waits for them),
   * and moves the watermark in the same instant.
   */
  answer<T>(stream: string, q: AggregateQuery, scan: () => Promise<T>, fromRollup: (r: RollupSql) => Promise<T>): Promise<T> {
    const rollup = this.rollups.get(stream);
    if (!rollup?.serves(q)) {
      this.aggregatePaths.scan++;
      return scan();
    }
    return this.foldGate.shared(async () => {
      const watermark = this.watermarks.get(stream);
      if (watermark === undefined) {
        this.aggregatePaths.scan++;
        return scan();
      }
      this.aggregatePaths.rollup++;
      return fromRollup(rollup.query(q, watermark));
    });
  }

  status(): RollupStatus[] {
    const out: RollupStatus[] = [];
    for (const name of this.rollups.keys()) {
      const last = this.lastIngest.get(name);
      const watermark = this.watermarks.get(name) ?? EMPTY_WATERMARK;
      const lagMicros = last === undefined || last < watermark ? 0n : last + 1n - watermark;
      out.push({ stream: name, lagSeconds: Number(lagMicros) / 1e6, failures: this.foldFailures.get(name) ?? 0, failing: this.foldFailing.has(name) });
    }
    return out;
  }

  /** Stops the timer and waits for the fold in progress; then `fn` (the driver's close). */
  async close(fn: () => Promise<void>): Promise<void> {
    clearTimeout(this.foldTimer);
    await this.foldLock.run(fn);
  }
}
