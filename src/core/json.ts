import { isLosslessNumber, parse as losslessParse, stringify as losslessStringify } from 'lossless-json';

/**
 * JSON.parse turns every number into a double, which silently changes integers beyond 2^53
 * and decimals with more than 15 significant digits. A text that may hold such a number (a
 * run of 16+ digits, or a 3-digit exponent) is parsed again losslessly: its numbers become
 * objects that keep their source text (see {@link numberText}). Everything else takes the
 * fast native path.
 */
const RISKY_NUMBER = /\d{16}|[eE][+-]?\d{3}/;

/** Parses JSON text; throws SyntaxError (with the native message) when it is not JSON. */
export function parseJson(text: string): unknown {
  const value: unknown = JSON.parse(text);
  return RISKY_NUMBER.test(text) ? losslessParse(text) : value;
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
