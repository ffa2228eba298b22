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

/**
 * Nesting beyond which a text is refused before it is parsed. JSON.parse builds every level
 * before anyone can check the depth: a 4 MB body of `[[[[...` became 2 million arrays and
 * about 200 MB of heap, so a few such requests at once took the process over 1 GB (found by
 * test/reliability/memory.test.ts). Values between MAX_JSON_DEPTH and this still parse, so their
 * depth is reported by the validator as before.
 */
export const MAX_PARSE_DEPTH = 10_000;

/**
 * True when the text's arrays/objects (outside strings) nest deeper than `max`: one linear scan,
 * which jumps over each string to its closing quote with `indexOf` (a publish body is mostly
 * base64 strings: a character-by-character scan of a 370 KB body measured about 7% of the CPU
 * of batched ingest).
 */
export function textNestsDeeperThan(text: string, max: number): boolean {
  // A text of at most max characters cannot open more than max levels.
  if (text.length <= max) return false;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // The closing quote is the next one preceded by an even number of backslashes.
      let j = i;
      for (;;) {
        j = text.indexOf('"', j + 1);
        if (j === -1) return false; // an unterminated string: not JSON, and nothing nests after it
        let b = j - 1;
        while (text.charCodeAt(b) === 0x5c) b--;
        if ((j - 1 - b) % 2 === 0) break;
      }
      i = j;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/** True when a JSON text may hold a number that JSON.parse would change (see {@link parseJson}). */
export function mayHoldInexactNumbers(text: string): boolean {
  return RISKY_NUMBER.test(text);
}

/** Thrown by {@link parseJson} for a text nested deeper than {@link MAX_PARSE_DEPTH}, unparsed. */
export class JsonTooDeepError extends SyntaxError {}

/**
 * {@link parseJson} without its lossless pass: numbers become doubles. For texts whose numbers
 * do not matter (a Pub/Sub publish body: its data is base64 text). Same errors as parseJson.
 */
export function parseJsonNative(text: string): unknown {
  if (textNestsDeeperThan(text, MAX_PARSE_DEPTH)) throw new JsonTooDeepError(`nested deeper than ${MAX_PARSE_DEPTH} levels; refused before parsing`);
  return JSON.parse(text) as unknown;
}

/**
 * Parses JSON text; throws SyntaxError (with the native message) when it is not JSON, and
 * {@link JsonTooDeepError} when it nests deeper than {@link MAX_PARSE_DEPTH}.
 */
export function parseJson(text: string): unknown {
  const value = parseJsonNative(text);
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
