/**
 * How DuckDB keeps dead letters: a batch's dead letters are appended to an in-memory stage, then
 * moved into the stream's dead-letter table in the write's transaction; a payload larger than
 * {@link PAYLOAD_PART_BYTES} is stored in parts, as rows of `<stream>_dead_letter_parts`, and put
 * together again when it is read. Used by `driver.ts` (its write and read paths).
 */
import { type DuckDBAppender, DuckDBBlobValue, type DuckDBConnection, DuckDBTimestampValue, type DuckDBValue } from '@duckdb/node-api';
import type { WriteBatch } from '../../core/ports.js';
import { DL_COLUMN_LIST, ident } from './dialect.js';

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
export const PAYLOAD_PART_BYTES = 16 * 1024;

/** The tables of a stream's dead letters, and their in-memory stages. */
export interface DeadLetterTables {
  readonly def: { readonly name: string };
  readonly dlTable: string;
  readonly partsTable: string;
  /** The in-memory stages of dead letters and of their payload parts. */
  readonly dlStage: string;
  readonly partsStage: string;
}

/** The names of a stream's stages (temporary tables of the writer's connection). */
export function stageNames(stream: string): { dlStage: string; partsStage: string } {
  return { dlStage: `temp.${ident(`stage_${stream}_dead_letters`)}`, partsStage: `temp.${ident(`stage_${stream}_dead_letter_parts`)}` };
}

/** (Re)creates the in-memory stages of a stream's dead letters and of their payload parts, empty. */
export function stageSql(stream: string, dlTable: string, partsTable: string): string[] {
  return [
    `CREATE OR REPLACE TEMP TABLE ${ident(`stage_${stream}_dead_letters`)} AS SELECT ${DL_COLUMN_LIST} FROM ${dlTable} LIMIT 0`,
    `CREATE OR REPLACE TEMP TABLE ${ident(`stage_${stream}_dead_letter_parts`)} AS SELECT * FROM ${partsTable} LIMIT 0`,
  ];
}

/** Appends a batch's dead letters (and the parts of their large payloads) to the stream's stages. */
export async function appendDeadLetters(writer: DuckDBConnection, stream: string, batch: WriteBatch): Promise<void> {
  const a = await writer.createAppender(`stage_${stream}_dead_letters`, 'main', 'temp');
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
        parts ??= await writer.createAppender(`stage_${stream}_dead_letter_parts`, 'main', 'temp');
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
 * Moves the staged dead letters into the stream's tables; runs inside the write's transaction.
 * A dead letter replaces an older one of the same message (a replay that failed again). DELETE
 * then INSERT rather than INSERT OR REPLACE, which held on to memory with every large payload it
 * wrote (DuckDB 1.5: writes failed for memory after about 80 MiB of 1.2 MiB payloads at a 128MB
 * limit).
 */
export function moveStagedSql(s: DeadLetterTables): string[] {
  return [
    `DELETE FROM ${s.dlTable} WHERE message_id IN (SELECT message_id FROM ${s.dlStage})`,
    `DELETE FROM ${s.partsTable} WHERE message_id IN (SELECT message_id FROM ${s.dlStage})`,
    `INSERT INTO ${s.dlTable} (${DL_COLUMN_LIST}) SELECT ${DL_COLUMN_LIST} FROM ${s.dlStage}`,
    `INSERT INTO ${s.partsTable} SELECT * FROM ${s.partsStage}`,
  ];
}

/** Runs one statement of a read connection. */
export type RunRead = (sql: string, params: DuckDBValue[]) => Promise<DuckDBValue[][]>;

/**
 * Reads dead letters with `sql`, and puts together the payloads stored in parts (NULL `payload`,
 * column `payloadAt`; the message id in column `idAt`) from the parts table, in one transaction.
 */
export async function readDeadLetters(run: RunRead, s: DeadLetterTables, sql: string, params: DuckDBValue[], idAt: number, payloadAt: number): Promise<DuckDBValue[][]> {
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
}
