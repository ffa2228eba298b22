/**
 * Mapping between stream schemas and BigQuery's REST API: identifiers, `tabledata.insertAll`
 * row JSON, query parameters, and result cells (`{f: [{v}]}`) back to stored values.
 * Every conversion is exact: INT64 and NUMERIC travel as strings, TIMESTAMP as microseconds.
 */
import { normalizeDecimal } from '../../core/decimal.js';
import type { FieldDef } from '../../core/schema.js';
import { formatDate, formatTimestamp, parseDate } from '../../core/time.js';
import type { StoredRecord, StoredValue } from '../../core/validate.js';

/** Quotes an identifier with backticks. Identifiers come from validated definitions and settings only. */
export function ident(name: string): string {
  return `\`${name.replaceAll('\\', '\\\\').replaceAll('`', '\\`')}\``;
}

/**
 * A TIMESTAMP as insertAll values and query parameters carry it: RFC 3339 in UTC with six
 * fraction digits, `2026-11-24T10:00:00.123456Z`, the form Google's own client libraries send.
 */
export function timestampText(micros: bigint): string {
  return formatTimestamp(micros);
}

function scalarToJson(f: FieldDef, v: StoredValue): unknown {
  switch (f.type) {
    case 'INT64': return (v as bigint).toString();
    case 'TIMESTAMP': return timestampText(v as bigint);
    case 'DATE': return formatDate(v as number);
    case 'RECORD': {
      const rec = v as StoredRecord;
      const out: Record<string, unknown> = {};
      for (const c of f.fields ?? []) {
        const x = rec[c.name] ?? null;
        if (x !== null) out[c.name] = toInsertJson(c, x);
      }
      return out;
    }
    // STRING, FLOAT64, NUMERIC (canonical decimal text), BOOL, JSON (its text) as they are.
    default: return v;
  }
}

/** A stored value as `insertAll` row JSON (null is left out by the caller). */
export function toInsertJson(f: FieldDef, v: StoredValue): unknown {
  if (v === null) return null;
  if (f.mode === 'REPEATED') return (v as StoredValue[]).map((x) => scalarToJson(f, x));
  return scalarToJson(f, v);
}

/** A named query parameter as the REST API takes it. */
export interface QueryParameter {
  name: string;
  parameterType: { type: string };
  parameterValue: { value: string };
}

/** A scalar query parameter from a stored value of a field of that type. */
export function scalarParam(name: string, f: FieldDef, v: StoredValue): QueryParameter {
  let value: string;
  switch (f.type) {
    case 'TIMESTAMP': value = timestampText(v as bigint); break;
    case 'DATE': value = formatDate(v as number); break;
    default: value = String(v);
  }
  return { name, parameterType: { type: f.type }, parameterValue: { value } };
}

/** A REST result cell: `{v: ...}`; records are `{f: [...]}`, arrays `[{v}, ...]`. */
export interface Cell {
  v: unknown;
}

/**
 * Epoch microseconds of a TIMESTAMP cell: an integer of microseconds (formatOptions.useInt64Timestamp)
 * or, from servers that ignore that option, decimal seconds such as `1.7324E9`.
 */
export function cellMicros(v: unknown): bigint {
  const text = String(v);
  if (/^-?\d+$/.test(text)) return BigInt(text);
  const d = normalizeDecimal(text);
  if (d === null) throw new Error(`unexpected TIMESTAMP value from BigQuery: ${text}`);
  const negative = d.startsWith('-');
  const [int = '0', frac = ''] = (negative ? d.slice(1) : d).split('.');
  // Round to the microsecond: float seconds carry binary noise beyond it.
  const scaled = BigInt(int) * 1_000_000_000n + BigInt((frac + '000000000').slice(0, 9));
  const micros = (scaled + 500n) / 1000n;
  return negative ? -micros : micros;
}

/** Converts a result cell value to its stored value (see `ReadRow` in core/ports.ts). */
export type CellReader = (v: unknown) => StoredValue;

function scalarReader(f: FieldDef): CellReader {
  switch (f.type) {
    case 'STRING':
    case 'JSON':
      return (v) => String(v);
    case 'INT64': return (v) => BigInt(String(v));
    case 'DATE': return (v) => {
      const days = parseDate(String(v));
      if (days === null) throw new Error(`unexpected DATE value from BigQuery: ${String(v)}`);
      return days;
    };
    case 'FLOAT64': return (v) => Number(v);
    case 'NUMERIC': return (v) => normalizeDecimal(String(v)) ?? String(v);
    case 'BOOL': return (v) => v === true || v === 'true';
    case 'TIMESTAMP': return (v) => cellMicros(v);
    case 'RECORD': {
      const readers = (f.fields ?? []).map((c) => [c.name, cellReader(c)] as const);
      return (v) => {
        const cells = (v as { f: Cell[] }).f;
        const out: StoredRecord = {};
        readers.forEach(([name, read], i) => {
          out[name] = read(cells[i]?.v ?? null);
        });
        return out;
      };
    }
  }
}

/** Compiles the reader of a field: REPEATED as arrays (NULL as []), NULL as null. */
export function cellReader(f: FieldDef): CellReader {
  const one = scalarReader(f);
  if (f.mode === 'REPEATED') return (v) => (v === null || v === undefined ? [] : (v as Cell[]).map((c) => (c.v === null ? null : one(c.v))));
  return (v) => (v === null || v === undefined ? null : one(v));
}

/** BigQuery's legacy type names as tables.get reports them, mapped to the stream schema's. */
export function canonicalType(type: string): string {
  switch (type.toUpperCase()) {
    case 'INTEGER': return 'INT64';
    case 'FLOAT': return 'FLOAT64';
    case 'BOOLEAN': return 'BOOL';
    case 'STRUCT': return 'RECORD';
    case 'DECIMAL': return 'NUMERIC';
    default: return type.toUpperCase();
  }
}
