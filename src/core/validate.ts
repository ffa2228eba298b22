import { normalizeDecimal, numericRangeProblem } from './decimal.js';
import { isJsonNumber, MAX_JSON_DEPTH, nestsDeeperThan, numberText, stringifyJson } from './json.js';
import type { FieldDef, StreamDef, UnknownFieldPolicy } from './schema.js';
import { parseDate, parseTimestamp } from './time.js';

/**
 * A validated value, in the one representation every warehouse adapter writes from:
 * STRING string, INT64 bigint, FLOAT64 number, NUMERIC canonical decimal string, BOOL boolean,
 * TIMESTAMP bigint epoch microseconds, DATE number of days since the epoch, JSON its text,
 * RECORD an object keyed by field name, REPEATED an array, and null for an absent value.
 */
export type StoredValue = null | string | bigint | number | boolean | StoredValue[] | StoredRecord;
/** A validated RECORD (or the top level of a message). */
export interface StoredRecord {
  [field: string]: StoredValue;
}

/** Why a message does not match its stream's schema. */
export class Violation extends Error {
  readonly reason: 'SCHEMA_VIOLATION' | 'UNKNOWN_FIELD';
  /** Path segments from the message root, innermost last; built while unwinding. */
  readonly segments: string[] = [];
  readonly problem: string;

  constructor(reason: 'SCHEMA_VIOLATION' | 'UNKNOWN_FIELD', problem: string) {
    super(problem);
    this.reason = reason;
    this.problem = problem;
  }

  /** `location.lat`, `readings[2].value`, or `` for the message itself. */
  get path(): string {
    return this.segments.reduce((acc, s) => (s.startsWith('[') ? acc + s : acc ? `${acc}.${s}` : s), '');
  }

  /** A one-line explanation: `readings[2].value: expected FLOAT64, got string "x"`. */
  get detail(): string {
    return `${this.path || '(message)'}: ${this.problem}`;
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (isJsonNumber(v)) return `number ${numberText(v) ?? String(v)}`;
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return typeof v;
}

function expected(type: string, v: unknown, extra = ''): Violation {
  return new Violation('SCHEMA_VIOLATION', `expected ${type}, got ${describe(v)}${extra}`);
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const INTEGER_TEXT = /^-?\d+$/;

function wellFormed(s: string): boolean {
  return (s as unknown as { isWellFormed(): boolean }).isWellFormed();
}

type Check = (v: unknown) => StoredValue;

function scalarCheck(f: FieldDef, policy: UnknownFieldPolicy): Check {
  switch (f.type) {
    case 'STRING':
      return (v) => {
        if (typeof v !== 'string') throw expected('STRING', v);
        if (!wellFormed(v)) throw new Violation('SCHEMA_VIOLATION', 'expected STRING, got a string with an unpaired UTF-16 surrogate (not representable in UTF-8)');
        return v;
      };
    case 'INT64':
      return (v) => {
        let n: bigint;
        if (typeof v === 'number') {
          if (!Number.isInteger(v)) throw expected('INT64', v);
          if (!Number.isSafeInteger(v)) throw expected('INT64', v, ' (beyond 2^53 and not exact; send it as a string)');
          n = BigInt(v);
        } else {
          const text = typeof v === 'string' ? v : numberText(v);
          if (text === undefined || !INTEGER_TEXT.test(text)) throw expected('INT64', v);
          n = BigInt(text);
        }
        if (n < INT64_MIN || n > INT64_MAX) throw expected('INT64', v, ' (out of the 64-bit range)');
        return n;
      };
    case 'FLOAT64':
      return (v) => {
        if (typeof v === 'number') return v;
        const text = numberText(v);
        if (text === undefined) throw expected('FLOAT64', v);
        const n = Number(text);
        if (!Number.isFinite(n)) throw expected('FLOAT64', v, ' (out of the double range)');
        return n;
      };
    case 'NUMERIC':
      return (v) => {
        const text = typeof v === 'string' ? v : numberText(v);
        const canonical = text === undefined ? null : normalizeDecimal(text);
        if (canonical === null) throw expected('NUMERIC', v);
        const problem = numericRangeProblem(canonical);
        if (problem) throw expected('NUMERIC', v, ` (${problem})`);
        return canonical;
      };
    case 'BOOL':
      return (v) => {
        if (typeof v !== 'boolean') throw expected('BOOL', v);
        return v;
      };
    case 'TIMESTAMP':
      return (v) => {
        const micros = typeof v === 'string' ? parseTimestamp(v) : null;
        if (micros === null) throw expected('TIMESTAMP', v, ' (RFC 3339 with a time zone, years 0001-9999, e.g. "2026-11-24T10:15:00Z")');
        return micros;
      };
    case 'DATE':
      return (v) => {
        const days = typeof v === 'string' ? parseDate(v) : null;
        if (days === null) throw expected('DATE', v, ' ("YYYY-MM-DD")');
        return days;
      };
    case 'JSON':
      return (v) => {
        if (nestsDeeperThan(v, MAX_JSON_DEPTH)) throw new Violation('SCHEMA_VIOLATION', `expected JSON nested at most ${MAX_JSON_DEPTH} levels deep (BigQuery's limit)`);
        return stringifyJson(v);
      };
    case 'RECORD':
      return recordCheck(f.fields ?? [], policy);
  }
}

function fieldCheck(f: FieldDef, policy: UnknownFieldPolicy): Check {
  const one = scalarCheck(f, policy);
  const label = f.type;
  if (f.mode === 'REPEATED') {
    return (v) => {
      if (v === undefined || v === null) return [];
      if (!Array.isArray(v)) throw expected(`ARRAY<${label}>`, v);
      const out: StoredValue[] = new Array(v.length);
      for (let i = 0; i < v.length; i++) {
        try {
          if (v[i] === null || v[i] === undefined) throw new Violation('SCHEMA_VIOLATION', `expected ${label}, got null (arrays cannot hold nulls)`);
          out[i] = one(v[i]);
        } catch (err) {
          if (err instanceof Violation) err.segments.unshift(`[${i}]`);
          throw err;
        }
      }
      return out;
    };
  }
  if (f.mode === 'REQUIRED') {
    return (v) => {
      if (v === undefined) throw new Violation('SCHEMA_VIOLATION', `missing required field of type ${label}`);
      if (v === null) throw new Violation('SCHEMA_VIOLATION', `expected ${label}, got null (the field is REQUIRED)`);
      return one(v);
    };
  }
  return (v) => (v === undefined || v === null ? null : one(v));
}

function recordCheck(fields: readonly FieldDef[], policy: UnknownFieldPolicy): Check {
  const checks = fields.map((f) => [f.name, fieldCheck(f, policy)] as const);
  const known = new Set(fields.map((f) => f.name));
  return (v) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw expected('RECORD (a JSON object)', v);
    const obj = v as Record<string, unknown>;
    if (policy === 'reject') {
      for (const key in obj) {
        if (!known.has(key) && Object.hasOwn(obj, key)) {
          const err = new Violation('UNKNOWN_FIELD', 'the stream does not define this field (unknownFields: reject)');
          err.segments.push(key);
          throw err;
        }
      }
    }
    const out: StoredRecord = {};
    for (const [name, check] of checks) {
      try {
        out[name] = check(Object.hasOwn(obj, name) ? obj[name] : undefined);
      } catch (err) {
        if (err instanceof Violation) err.segments.unshift(name);
        throw err;
      }
    }
    return out;
  };
}

/** A compiled validator: a parsed message in, its stored form out, or a {@link Violation} thrown. */
export type Validator = (message: unknown) => StoredRecord;

/** Compiles the validator of a stream once; reuse it for every message. */
export function compileValidator(stream: StreamDef): Validator {
  const check = recordCheck(stream.fields, stream.unknownFields);
  return (message) => check(message) as StoredRecord;
}
