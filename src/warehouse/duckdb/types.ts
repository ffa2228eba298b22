/**
 * Mapping between stream schemas and DuckDB: column DDL, the row document of writes, appender
 * writers, query parameters and result conversion to the API's JSON form. Compiled once per
 * stream.
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
import { decimalToScaled, NUMERIC_SCALE, scaledToDecimal } from '../../core/decimal.js';
import type { FieldDef } from '../../core/schema.js';
import { formatDate, formatTimestamp } from '../../core/time.js';
import type { StoredRecord, StoredValue } from '../../core/validate.js';

/** Quotes an identifier. Identifiers come from validated stream definitions, never from requests. */
export function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * A string literal, for the one statement that takes no parameters (ATTACH of the database
 * file, whose path comes from the configuration, never from requests).
 */
export function sqlString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/** The SQL expression of a field chain: a column or a struct member. */
export function fieldExpr(chain: readonly FieldDef[]): string {
  const [head, ...rest] = chain;
  let expr = ident(head!.name);
  for (const c of rest) expr = `struct_extract(${expr}, '${c.name.replaceAll("'", "''")}')`;
  return expr;
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

function jsonScalar(f: FieldDef, v: StoredValue): string {
  if (v === null) return 'null';
  switch (f.type) {
    case 'STRING':
    case 'NUMERIC':
      return JSON.stringify(v);
    case 'INT64':
      return (v as bigint).toString();
    case 'FLOAT64':
      return String(v);
    case 'BOOL':
      return v ? 'true' : 'false';
    case 'TIMESTAMP':
      // DuckDB's TIMESTAMP text form (UTC, no zone).
      return JSON.stringify(formatTimestamp(v as bigint).replace('T', ' ').slice(0, -1));
    case 'DATE':
      return JSON.stringify(formatDate(v as number));
    case 'JSON':
      return v as string;
    case 'RECORD': {
      const rec = v as StoredRecord;
      return `{${(f.fields ?? []).map((c) => `${JSON.stringify(c.name)}:${jsonValue(c, rec[c.name] ?? null)}`).join(',')}}`;
    }
  }
}

function jsonValue(f: FieldDef, v: StoredValue): string {
  if (f.mode === 'REPEATED') return `[${((v ?? []) as StoredValue[]).map((x) => jsonScalar(f, x)).join(',')}]`;
  return jsonScalar(f, v);
}

/**
 * How one column travels in a write's row document (`rowDocument` in `warehouse.ts`): the type of its
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
  if (isNested(f)) return { memberSql: columnSql(f), selectSql: member, json: (v) => (v === null ? 'null' : jsonValue(f, v)) };
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
        json: (v) => (v === null ? 'null' : `"${decimalToScaled(v as string).toString()}"`),
      };
    case 'FLOAT64':
      // String(-0) is "0": keep the sign of a negative zero.
      return { memberSql: 'DOUBLE', selectSql: member, json: (v) => (v === null ? 'null' : Object.is(v, -0) ? '-0.0' : String(v)) };
    default:
      return { memberSql: columnSql(f), selectSql: member, json: (v) => jsonScalar(f, v) };
  }
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

/** Converts a DuckDB result value to the API's JSON form. */
export type ResultReader = (v: DuckDBValue) => unknown;

function scalarReader(f: FieldDef): ResultReader {
  switch (f.type) {
    case 'STRING':
    case 'BOOL':
    case 'FLOAT64':
      return (v) => v;
    case 'INT64': return (v) => (v as bigint).toString();
    case 'NUMERIC': return (v) => {
      const d = v as DuckDBDecimalValue;
      return scaledToDecimal(d.value, d.scale);
    };
    case 'TIMESTAMP': return (v) => formatTimestamp((v as DuckDBTimestampValue).micros);
    case 'DATE': return (v) => formatDate((v as DuckDBDateValue).days);
    case 'JSON': return (v) => JSON.parse(v as string) as unknown;
    case 'RECORD': {
      const readers = (f.fields ?? []).map((c) => [c.name, resultReader(c)] as const);
      return (v) => {
        const entries = (v as DuckDBStructValue).entries;
        const out: Record<string, unknown> = {};
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
