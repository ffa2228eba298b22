/**
 * NUMERIC values (BigQuery NUMERIC: 38 digits, 9 after the point) travel as canonical decimal
 * strings: optional `-`, integer digits without leading zeros, and a fraction without trailing
 * zeros (`"12.5"`, `"-0.000000001"`, `"100"`).
 */

export const NUMERIC_INTEGER_DIGITS = 29;
export const NUMERIC_SCALE = 9;

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d{1,6}))?$/;

/** Longest canonical text {@link normalizeDecimal} builds; larger magnitudes are refused. */
const MAX_CANONICAL_LENGTH = 200;

/**
 * Canonical form of a decimal literal (exponent allowed), or null if it is not one, or if its
 * canonical text would be absurdly long (`1e-999999`): no NUMERIC holds such a value, and
 * building it would cost time and memory an attacker chooses.
 */
export function normalizeDecimal(text: string): string | null {
  const m = DECIMAL.exec(text);
  if (!m) return null;
  const [, sign, intPart = '', fracPart = '', exp] = m;
  if (intPart === '' && fracPart === '') return null;
  // Significant digits without leading or trailing zeros (trimmed by index, not by regex: a
  // regex such as /0+$/ is quadratic on long runs of zeros), and where the point falls.
  let digits = intPart + fracPart;
  let first = 0;
  while (first < digits.length && digits.charCodeAt(first) === 48) first++;
  let last = digits.length;
  while (last > first && digits.charCodeAt(last - 1) === 48) last--;
  if (first === last) return '0';
  let point = intPart.length + (exp ? Number(exp) : 0) - first;
  digits = digits.slice(first, last);
  if (point > MAX_CANONICAL_LENGTH || digits.length - point > MAX_CANONICAL_LENGTH || digits.length > MAX_CANONICAL_LENGTH) return null;
  if (point < 0) {
    digits = '0'.repeat(-point) + digits;
    point = 0;
  }
  if (point > digits.length) digits += '0'.repeat(point - digits.length);
  const int = digits.slice(0, point) || '0';
  const frac = digits.slice(point);
  const body = frac ? `${int}.${frac}` : int;
  return sign === '-' ? `-${body}` : body;
}

/** Why a canonical decimal does not fit NUMERIC, or null when it fits. */
export function numericRangeProblem(canonical: string): string | null {
  const unsigned = canonical.startsWith('-') ? canonical.slice(1) : canonical;
  const [int = '', frac = ''] = unsigned.split('.');
  if (int.length > NUMERIC_INTEGER_DIGITS) return `more than ${NUMERIC_INTEGER_DIGITS} digits before the decimal point`;
  if (frac.length > NUMERIC_SCALE) return `more than ${NUMERIC_SCALE} digits after the decimal point`;
  return null;
}

/** The canonical decimal scaled by 10^9, as an integer (DuckDB's DECIMAL(38,9) storage). */
export function decimalToScaled(canonical: string): bigint {
  const negative = canonical.startsWith('-');
  const [int = '0', frac = ''] = (negative ? canonical.slice(1) : canonical).split('.');
  const scaled = BigInt(int) * 10n ** BigInt(NUMERIC_SCALE) + BigInt((frac + '000000000').slice(0, NUMERIC_SCALE) || '0');
  return negative ? -scaled : scaled;
}

/**
 * {@link decimalToScaled} as decimal text, by string operations alone (no BigInt): the digits
 * of the integer part, the fraction padded or cut to NUMERIC_SCALE digits, leading zeros off.
 * Measured about 4 times faster than `decimalToScaled(c).toString()` on the demo stream's values.
 */
export function decimalToScaledText(canonical: string): string {
  const negative = canonical.charCodeAt(0) === 45; // '-'
  const unsigned = negative ? canonical.slice(1) : canonical;
  const point = unsigned.indexOf('.');
  const int = point === -1 ? unsigned : unsigned.slice(0, point);
  const frac = point === -1 ? '' : unsigned.slice(point + 1);
  const digits = int + (frac.length >= NUMERIC_SCALE ? frac.slice(0, NUMERIC_SCALE) : frac + '0'.repeat(NUMERIC_SCALE - frac.length));
  let first = 0;
  while (first < digits.length - 1 && digits.charCodeAt(first) === 48) first++;
  const body = digits.slice(first);
  return negative && body !== '0' ? `-${body}` : body;
}

/** Inverse of {@link decimalToScaled} for any scale: a scaled integer back to canonical text. */
export function scaledToDecimal(scaled: bigint, scale: number): string {
  const negative = scaled < 0n;
  const digits = (negative ? -scaled : scaled).toString().padStart(scale + 1, '0');
  const int = digits.slice(0, digits.length - scale);
  const frac = digits.slice(digits.length - scale).replace(/0+$/, '');
  const body = frac ? `${int}.${frac}` : int;
  return negative && body !== '0' ? `-${body}` : body;
}
