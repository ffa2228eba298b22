import { isLosslessNumber, parse as losslessParse, stringify as losslessStringify } from 'lossless-json';

/**
 * JSON.parse turns every number into a double, which silently changes integers beyond 2^53
 * and decimals with more than 15 significant digits. A text that may hold such a number (a
 * run of 16+ digits, or a 3-digit exponent) is parsed again losslessly: its numbers become
 * objects that keep their source text (see {@link numberText}). Everything else takes the
 * fast native path.
 */
const RISKY_NUMBER = /\d{16}|[eE][+-]?\d{3}/;

/** Deepest nesting of a JSON value Tributary stores: BigQuery's limit for JSON columns. */
export const MAX_JSON_DEPTH = 500;

/** Parses JSON text; throws SyntaxError (with the native message) when it is not JSON. */
export function parseJson(text: string): unknown {
  const value: unknown = JSON.parse(text);
  if (!RISKY_NUMBER.test(text)) return value;
  try {
    return losslessParse(text);
  } catch (err) {
    // The lossless parser recurses; a document nested thousands deep overflows its stack.
    if (err instanceof RangeError) throw new SyntaxError(`nested deeper than this parser supports (over ${MAX_JSON_DEPTH} levels)`);
    throw err;
  }
}

/** True when arrays/objects in `value` nest deeper than `max` levels (checked without recursion). */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null || isLosslessNumber(v)) continue;
    if (depth + 1 > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

/** Serialises a value produced by {@link parseJson}, keeping lossless numbers exact. */
export function stringifyJson(value: unknown): string {
  return losslessStringify(value) ?? 'null';
}

/** The exact decimal text of a JSON number (native or lossless), or undefined if not a number. */
export function numberText(v: unknown): string | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : undefined;
  if (isLosslessNumber(v)) return v.value;
  return undefined;
}

/** True for a JSON number, native or lossless. */
export function isJsonNumber(v: unknown): boolean {
  return typeof v === 'number' || isLosslessNumber(v);
}
