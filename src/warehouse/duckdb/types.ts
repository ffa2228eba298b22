/**
 * Mapping between stream schemas and DuckDB: column types (DDL and logical), query parameters,
 * the row document of writes, appender writers and result conversion. Compiled once per stream.
 * Statements are built in `dialect.ts` (reads) and `driver.ts` (writes).
 */
import {
  BIGINT,
  BOOLEAN,
  DATE,
  DECIMAL,
  DOUBLE,
  type DuckDBAppender,
  DuckDBDateValue,
  DuckDBDecimalValue,
  DuckDBListValue,
  DuckDBStructValue,
  DuckDBTimestampValue,
  type DuckDBType,
  type DuckDBValue,
  DuckDBVarCharType,
  LIST,
  STRUCT,
  TIMESTAMP,
  VARCHAR,
} from '@duckdb/node-api';
import { decimalToScaled, decimalToScaledText, NUMERIC_SCALE, scaledToDecimal } from '../../core/decimal.js';
import type { StoredRow } from '../../core/message.js';
import type { FieldDef } from '../../core/schema.js';
import { formatDate, formatTimestamp } from '../../core/time.js';
import type { StoredRecord, StoredValue } from '../../core/validate.js';
import type { WarehouseObserver } from '../../core/ports.js';

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

/** Settings of the DuckDB adapter. */
export interface DuckDBOptions {
  /** Database file, or `:memory:`. */
  readonly path: string;
  /**
   * DuckDB `memory_limit`, e.g. `512MB`; undefined for DuckDB's default. The message_id indexes
   * are budgeted on top of it beyond half of it (see `memory.ts`).
   */
  readonly memoryLimit?: string;
  /**
   * Bytes of DuckDB's cache of table blocks kept between writes: beyond a quarter more, it is
   * trimmed back to this (see `memory.ts`); undefined, or at or above `memoryLimit`, never. Needs
   * `memoryLimit`.
   */
  readonly cacheLimitBytes?: number;
  /** DuckDB `threads`; undefined for DuckDB's default (one per core). */
  readonly threads?: number;
  /** Connections for reads (writes have their own). */
  readonly readConnections?: number;
  /** Reads running longer are interrupted with QUERY_TIMEOUT; 0 or undefined for no limit. */
  readonly queryTimeoutMs?: number;
  /**
   * How long a write may wait, before it starts, for the reads in progress (milliseconds; default
   * `DEFAULT_DUCKDB_READ_PRIORITY_MS` of `core/config.ts`, the server's default too; 0 starts writes at once). See `write` in `driver.ts`.
   */
  readonly readPriorityMs?: number;
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
  /**
   * Where the adapter reports its rollups and index memory: `/metrics` families through
   * `metrics`, and warnings through `log` (a fold that starts failing; the indexes raising the
   * memory limit, the first time and each time it grew by half again). See `observe.ts`.
   */
  readonly observer?: WarehouseObserver;
}


/** Quotes an identifier. Identifiers come from validated stream definitions, never from requests. */
export function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function scalarSql(f: FieldDef): string {
  switch (f.type) {
    case 'STRING': return 'VARCHAR';
    case 'INT64': return 'BIGINT';
    case 'FLOAT64': return 'DOUBLE';
    case 'NUMERIC': return `DECIMAL(38, ${NUMERIC_SCALE})`;
    case 'BOOL': return 'BOOLEAN';
    case 'TIMESTAMP': return 'TIMESTAMP';
    case 'DATE': return 'DATE';
    case 'JSON': return 'JSON';
    case 'RECORD': return `STRUCT(${(f.fields ?? []).map((c) => `${ident(c.name)} ${columnSql(c)}`).join(', ')})`;
  }
}

/** DuckDB type of a field, e.g. `STRUCT("lat" DOUBLE)[]`. */
export function columnSql(f: FieldDef): string {
  return f.mode === 'REPEATED' ? `${scalarSql(f)}[]` : scalarSql(f);
}

const JSON_TYPE = DuckDBVarCharType.create('JSON');

function scalarType(f: FieldDef): DuckDBType {
  switch (f.type) {
    case 'STRING': return VARCHAR;
    case 'INT64': return BIGINT;
    case 'FLOAT64': return DOUBLE;
    case 'NUMERIC': return DECIMAL(38, NUMERIC_SCALE);
    case 'BOOL': return BOOLEAN;
    case 'TIMESTAMP': return TIMESTAMP;
    case 'DATE': return DATE;
    case 'JSON': return JSON_TYPE;
    case 'RECORD': return STRUCT(Object.fromEntries((f.fields ?? []).map((c) => [c.name, logicalType(c)])));
  }
}

/** The node-api logical type of a field. */
export function logicalType(f: FieldDef): DuckDBType {
  return f.mode === 'REPEATED' ? LIST(scalarType(f)) : scalarType(f);
}

/** Converts a stored value of a scalar type to a DuckDB value (bind parameters, nested values). */
export function scalarToDuckDB(f: FieldDef, v: StoredValue): DuckDBValue {
  if (v === null) return null;
  switch (f.type) {
    case 'NUMERIC': return new DuckDBDecimalValue(decimalToScaled(v as string), 38, NUMERIC_SCALE);
    case 'TIMESTAMP': return new DuckDBTimestampValue(v as bigint);
    case 'DATE': return new DuckDBDateValue(v as number);
    case 'RECORD': {
      const rec = v as StoredRecord;
      return new DuckDBStructValue(Object.fromEntries((f.fields ?? []).map((c) => [c.name, toDuckDB(c, rec[c.name] ?? null)])));
    }
    default: return v as DuckDBValue;
  }
}

/** Converts a stored value of any mode to a DuckDB value. */
export function toDuckDB(f: FieldDef, v: StoredValue): DuckDBValue {
  if (f.mode === 'REPEATED') return new DuckDBListValue((v as StoredValue[]).map((x) => scalarToDuckDB(f, x)));
  return scalarToDuckDB(f, v);
}

/** True for the nested columns (RECORD or REPEATED), which travel as JSON: see {@link documentColumn}. */
export function isNested(f: FieldDef): boolean {
  return f.mode === 'REPEATED' || f.type === 'RECORD';
}

/** The JSON text of a value, as its column's member of the row document (or a nested member) takes it. */
type JsonText = (v: StoredValue) => string;

/** Compiles the JSON text of a scalar value (or one element of a REPEATED field) inside a nested value. */
function scalarJson(f: FieldDef): JsonText {
  switch (f.type) {
    case 'STRING':
    case 'NUMERIC':
      return (v) => (v === null ? 'null' : JSON.stringify(v));
    case 'INT64':
      return (v) => (v === null ? 'null' : (v as bigint).toString());
    case 'FLOAT64':
      return (v) => (v === null ? 'null' : String(v));
    case 'BOOL':
      return (v) => (v === null ? 'null' : v ? 'true' : 'false');
    case 'TIMESTAMP':
      // DuckDB's TIMESTAMP text form (UTC, no zone).
      return (v) => (v === null ? 'null' : JSON.stringify(formatTimestamp(v as bigint).replace('T', ' ').slice(0, -1)));
    case 'DATE':
      return (v) => (v === null ? 'null' : JSON.stringify(formatDate(v as number)));
    case 'JSON':
      return (v) => (v === null ? 'null' : (v as string));
    case 'RECORD': {
      const members = (f.fields ?? []).map((c, i) => ({ name: c.name, prefix: `${i === 0 ? '{' : ','}${JSON.stringify(c.name)}:`, json: nestedJson(c) }));
      if (members.length === 0) return (v) => (v === null ? 'null' : '{}');
      return (v) => {
        if (v === null) return 'null';
        const rec = v as StoredRecord;
        let out = '';
        for (const m of members) out += m.prefix + m.json(rec[m.name] ?? null);
        return out + '}';
      };
    }
  }
}

/** Compiles the JSON text of a nested value of any mode (a REPEATED value absent or null is `[]`). */
function nestedJson(f: FieldDef): JsonText {
  const one = scalarJson(f);
  if (f.mode !== 'REPEATED') return one;
  return (v) => {
    const xs = (v ?? []) as StoredValue[];
    if (xs.length === 0) return '[]';
    let out = `[${one(xs[0]!)}`;
    for (let i = 1; i < xs.length; i++) out += `,${one(xs[i]!)}`;
    return `${out}]`;
  };
}

/**
 * How one column travels in a write's row document (see {@link rowDocument}): the type of its
 * member in the document's STRUCT, the SQL that turns that member (`r.<name>`) into the column's
 * value, and the JSON text of a value. Nested columns are their JSON form, cast by DuckDB in C++
 * (building STRUCT and LIST values in JavaScript for the Appender measured as the largest CPU
 * cost of batched ingest); TIMESTAMP is microseconds since the epoch (exact, no text round
 * trip); NUMERIC is its scaled integer; JSON text travels as a JSON string and is cast to JSON.
 */
export interface DocumentColumn {
  readonly memberSql: string;
  readonly selectSql: string;
  readonly json: (v: StoredValue) => string;
}

/** Compiles the {@link DocumentColumn} of a field. */
export function documentColumn(f: FieldDef): DocumentColumn {
  const member = `r.${ident(f.name)}`;
  if (isNested(f)) {
    const json = nestedJson(f);
    return { memberSql: columnSql(f), selectSql: member, json: (v) => (v === null ? 'null' : json(v)) };
  }
  switch (f.type) {
    case 'TIMESTAMP':
      return { memberSql: 'BIGINT', selectSql: `make_timestamp(${member})`, json: (v) => (v === null ? 'null' : (v as bigint).toString()) };
    case 'JSON':
      return { memberSql: 'VARCHAR', selectSql: `CAST(${member} AS JSON)`, json: (v) => (v === null ? 'null' : JSON.stringify(v as string)) };
    case 'NUMERIC':
      // The scaled integer as text, made a DECIMAL by integer arithmetic in SQL (exact): a
      // decimal text cast to DECIMAL(38, 9) measured about 7 us a value, this about 1.
      return {
        memberSql: 'VARCHAR',
        selectSql: `(CAST(CAST(${member} AS HUGEINT) AS DECIMAL(38, 0)) * CAST(0.${'0'.repeat(NUMERIC_SCALE - 1)}1 AS DECIMAL(18, ${NUMERIC_SCALE})))`,
        json: (v) => (v === null ? 'null' : `"${decimalToScaledText(v as string)}"`),
      };
    case 'FLOAT64':
      // String(-0) is "0": keep the sign of a negative zero.
      return { memberSql: 'DOUBLE', selectSql: member, json: (v) => (v === null ? 'null' : Object.is(v, -0) ? '-0.0' : String(v)) };
    default:
      return { memberSql: columnSql(f), selectSql: member, json: scalarJson(f) };
  }
}

/**
 * The JSON document of rows: an array of objects with the envelope members and each user field
 * as its {@link DocumentColumn} writes it (ingest_time is a parameter of its own).
 */
export function rowDocument(fields: readonly FieldDef[], document: readonly DocumentColumn[], rows: readonly StoredRow[]): string {
  const n = fields.length;
  const keys = fields.map((f) => f.name);
  const names = keys.map((k) => `,${JSON.stringify(k)}:`);
  const writers = document.map((d) => d.json);
  let out = '[';
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r]!;
    const values = row.values;
    let text = `${r === 0 ? '' : ','}{"message_id":${JSON.stringify(row.messageId)},"publish_time":${row.publishTime},"attributes":${attributesJson(row.attributes)},"ordering_key":${row.orderingKey === null ? 'null' : JSON.stringify(row.orderingKey)}`;
    for (let i = 0; i < n; i++) text += names[i]! + writers[i]!(values[keys[i]!] ?? null);
    out += `${text}}`;
  }
  return `${out}]`;
}

/** The attributes as the document's JSON string of their JSON object (`"{}"` for none, the common case). */
function attributesJson(attributes: Readonly<Record<string, string>>): string {
  for (const _ in attributes) return JSON.stringify(JSON.stringify(attributes));
  return '"{}"';
}

/** Appends one column value to the current appender row. */
export type ColumnWriter = (a: DuckDBAppender, v: StoredValue) => void;

/** Compiles the appender writer of a field. */
export function columnWriter(f: FieldDef): ColumnWriter {
  if (f.mode === 'REPEATED' || f.type === 'RECORD') {
    const type = logicalType(f);
    return (a, v) => (v === null ? a.appendNull() : a.appendValue(toDuckDB(f, v), type));
  }
  switch (f.type) {
    case 'STRING':
    case 'JSON':
      return (a, v) => (v === null ? a.appendNull() : a.appendVarchar(v as string));
    case 'INT64': return (a, v) => (v === null ? a.appendNull() : a.appendBigInt(v as bigint));
    case 'FLOAT64': return (a, v) => (v === null ? a.appendNull() : a.appendDouble(v as number));
    case 'NUMERIC': return (a, v) => (v === null ? a.appendNull() : a.appendDecimal(new DuckDBDecimalValue(decimalToScaled(v as string), 38, NUMERIC_SCALE)));
    case 'BOOL': return (a, v) => (v === null ? a.appendNull() : a.appendBoolean(v as boolean));
    case 'TIMESTAMP': return (a, v) => (v === null ? a.appendNull() : a.appendTimestamp(new DuckDBTimestampValue(v as bigint)));
    case 'DATE': return (a, v) => (v === null ? a.appendNull() : a.appendDate(new DuckDBDateValue(v as number)));
  }
}

/** Converts a DuckDB result value to its stored value (see `ReadRow` in core/ports.ts). */
export type ResultReader = (v: DuckDBValue) => StoredValue;

function scalarReader(f: FieldDef): ResultReader {
  switch (f.type) {
    case 'STRING':
    case 'BOOL':
    case 'FLOAT64':
      return (v) => v as StoredValue;
    case 'INT64': return (v) => v as bigint;
    case 'NUMERIC': return (v) => {
      const d = v as DuckDBDecimalValue;
      return scaledToDecimal(d.value, d.scale);
    };
    case 'TIMESTAMP': return (v) => (v as DuckDBTimestampValue).micros;
    case 'DATE': return (v) => (v as DuckDBDateValue).days;
    case 'JSON': return (v) => v as string;
    case 'RECORD': {
      const readers = (f.fields ?? []).map((c) => [c.name, resultReader(c)] as const);
      return (v) => {
        const entries = (v as DuckDBStructValue).entries;
        const out: StoredRecord = {};
        for (const [name, read] of readers) out[name] = read(entries[name] ?? null);
        return out;
      };
    }
  }
}

/** Compiles the reader of a field: REPEATED as arrays, NULL as null. */
export function resultReader(f: FieldDef): ResultReader {
  const one = scalarReader(f);
  if (f.mode === 'REPEATED') return (v) => (v === null ? [] : (v as DuckDBListValue).items.map((x) => (x === null ? null : one(x))));
  return (v) => (v === null ? null : one(v));
}

/**
 * Largest string value (UTF-8 bytes) a row may hold. DuckDB 1.5 stores a value larger than its
 * 256 KiB block in blocks of its own and keeps all of a row group's such blocks pinned while it
 * checkpoints it: rows with 300 KiB strings made a checkpoint fail once they added up to the
 * memory limit (256MB: after 245 MB), which invalidated the database until a restart; rows with
 * 200 KiB strings went on to 606 MB (docs/reliability.md).
 */
export const MAX_VALUE_BYTES = 200 * 1024;

/** The first string in `v` longer than MAX_VALUE_BYTES, with its path (`field.sub[2]`). */
export function oversizedValue(v: StoredValue, path: string): { path: string; bytes: number } | undefined {
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
