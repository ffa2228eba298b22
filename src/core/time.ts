/**
 * Timestamps are microseconds since the Unix epoch as `bigint` (BigQuery's and DuckDB's
 * precision); dates are days since the epoch. These helpers parse and format the RFC 3339
 * forms used on the wire, strictly: an input either round-trips or is rejected.
 */

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/;
const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Smallest and largest instants BigQuery accepts: 0001-01-01 to 9999-12-31T23:59:59.999999Z. */
export const MIN_TIMESTAMP_MICROS = -62135596800000000n;
export const MAX_TIMESTAMP_MICROS = 253402300799999999n;
const MIN_DAYS = -719162;
const MAX_DAYS = 2932896;

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Milliseconds since the epoch of a UTC date and time of the proleptic Gregorian calendar, or
 * null when a part is out of range or the day is not in its month (2023-02-30). Arithmetic
 * (days from the civil date), not a Date object: it runs for every TIMESTAMP of every message.
 */
function utcMillis(year: number, month: number, day: number, h = 0, m = 0, s = 0): number | null {
  if (month < 1 || month > 12 || day < 1 || h > 23 || m > 59 || s > 59) return null;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 2 && leap ? 29 : MONTH_DAYS[month - 1]!)) return null;
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const days = era * 146097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719468;
  return days * 86_400_000 + ((h * 60 + m) * 60 + s) * 1000;
}

/** The value of `n` decimal digits of `text` from `at`, or -1 when one of them is not a digit. */
function digits(text: string, at: number, n: number): number {
  let v = 0;
  for (let i = at; i < at + n; i++) {
    const d = text.charCodeAt(i) - 48; // NaN past the end
    if (!(d >= 0 && d <= 9)) return -1;
    v = v * 10 + d;
  }
  return v;
}

/**
 * Parses an RFC 3339 timestamp with a zone (`Z` or `±hh:mm`) into epoch microseconds, or null.
 * The grammar is {@link RFC3339}'s, read character by character: it runs for every TIMESTAMP of
 * every message, and the regular expression's match (nine strings) was the largest allocation of
 * validation (test/core/core.test.ts holds the two equal on generated input).
 */
export function parseTimestamp(text: string): bigint | null {
  const len = text.length;
  // YYYY-MM-DDThh:mm:ss is 19 characters; then an optional fraction, then the zone.
  if (len < 20) return null;
  const y = digits(text, 0, 4);
  const mo = digits(text, 5, 2);
  const d = digits(text, 8, 2);
  const h = digits(text, 11, 2);
  const mi = digits(text, 14, 2);
  const s = digits(text, 17, 2);
  const t = text.charCodeAt(10);
  if (y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || s < 0) return null;
  if (text.charCodeAt(4) !== 0x2d || text.charCodeAt(7) !== 0x2d || text.charCodeAt(13) !== 0x3a || text.charCodeAt(16) !== 0x3a) return null;
  if (t !== 0x54 && t !== 0x74 && t !== 0x20) return null; // T, t or a space
  let at = 19;
  let fraction = 0;
  if (text.charCodeAt(at) === 0x2e) {
    // 1 to 9 digits; microseconds are the first six (padded with zeros).
    const start = ++at;
    while (at < len && at - start < 9) {
      const c = text.charCodeAt(at) - 48;
      if (!(c >= 0 && c <= 9)) break;
      if (at - start < 6) fraction = fraction * 10 + c;
      at++;
    }
    const n = at - start;
    if (n === 0) return null;
    for (let i = n; i < 6; i++) fraction *= 10;
  }
  let offsetMinutes = 0;
  const z = text.charCodeAt(at);
  if (z === 0x5a || z === 0x7a) {
    if (at + 1 !== len) return null; // Z or z ends the text
  } else if (z === 0x2b || z === 0x2d) {
    if (at + 6 !== len || text.charCodeAt(at + 3) !== 0x3a) return null;
    const oh = digits(text, at + 1, 2);
    const om = digits(text, at + 4, 2);
    if (oh < 0 || om < 0) return null;
    if (oh > 23 || om > 59) return null;
    offsetMinutes = (z === 0x2d ? -1 : 1) * (oh * 60 + om);
  } else {
    return null;
  }
  const ms = utcMillis(y, mo, d, h, mi, s);
  if (ms === null || y < 1) return null;
  const micros = BigInt(ms - offsetMinutes * 60_000) * 1000n + BigInt(fraction);
  if (micros < MIN_TIMESTAMP_MICROS || micros > MAX_TIMESTAMP_MICROS) return null;
  return micros;
}

/** {@link parseTimestamp} by the regular expression it reads by hand: the reference its tests compare it with. @internal */
export function parseTimestampByPattern(text: string): bigint | null {
  const m = RFC3339.exec(text);
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac, zone] = m as unknown as string[];
  const ms = utcMillis(Number(y), Number(mo), Number(d), Number(h), Number(mi), Number(s));
  if (ms === null || Number(y) < 1) return null;
  let micros = BigInt(ms) * 1000n;
  if (frac) micros += BigInt((frac + '000000').slice(0, 6));
  if (zone && zone !== 'Z' && zone !== 'z') {
    const sign = zone[0] === '-' ? -1n : 1n;
    const oh = Number(zone.slice(1, 3));
    const om = Number(zone.slice(4, 6));
    if (oh > 23 || om > 59) return null;
    micros -= sign * BigInt(oh * 3600 + om * 60) * 1_000_000n;
  }
  if (micros < MIN_TIMESTAMP_MICROS || micros > MAX_TIMESTAMP_MICROS) return null;
  return micros;
}

/**
 * Parses a time given in a query parameter: an RFC 3339 timestamp, or a date `YYYY-MM-DD`
 * (midnight UTC), or null when it is neither.
 */
export function parseTimeParam(text: string): bigint | null {
  const days = parseDate(text);
  if (days !== null) return BigInt(days) * 86_400_000_000n;
  return parseTimestamp(text);
}

/** Parses `YYYY-MM-DD` into days since the epoch, or null. */
export function parseDate(text: string): number | null {
  const m = DATE_ONLY.exec(text);
  if (!m) return null;
  const ms = utcMillis(Number(m[1]), Number(m[2]), Number(m[3]));
  if (ms === null || Number(m[1]) < 1) return null;
  const days = ms / 86_400_000;
  return days < MIN_DAYS || days > MAX_DAYS ? null : days;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** Formats epoch microseconds as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (always six fraction digits). */
export function formatTimestamp(micros: bigint): string {
  let ms = micros / 1000n;
  let sub = micros % 1000n;
  if (sub < 0n) {
    sub += 1000n;
    ms -= 1n;
  }
  const d = new Date(Number(ms));
  return (
    `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}` +
    `T${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}` +
    `.${pad(d.getUTCMilliseconds(), 3)}${pad(Number(sub), 3)}Z`
  );
}

/** Formats days since the epoch as `YYYY-MM-DD`. */
export function formatDate(days: number): string {
  const d = new Date(days * 86_400_000);
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}`;
}

let lastMicros = 0n;
/** Wall-clock time in epoch microseconds, strictly increasing within this process. */
export function nowMicros(): bigint {
  const t = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000));
  lastMicros = t > lastMicros ? t : lastMicros + 1n;
  return lastMicros;
}
