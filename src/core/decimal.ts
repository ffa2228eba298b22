/**
 * NUMERIC values (BigQuery NUMERIC: 38 digits, 9 after the point) travel as canonical decimal
 * strings: optional `-`, integer digits without leading zeros, and a fraction without trailing
 * zeros (`"12.5"`, `"-0.000000001"`, `"100"`).
 */

export const NUMERIC_INTEGER_DIGITS = 29;
export const NUMERIC_SCALE = 9;

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d{1,6}))?$/;

/** Canonical form of a decimal literal (exponent allowed), or null if it is not one. */
export function normalizeDecimal(text: string): string | null {
  const m = DECIMAL.exec(text);
  if (!m) return null;
  const [, sign, intPart = '', fracPart = '', exp] = m;
  if (intPart === '' && fracPart === '') return null;
  let digits = intPart + fracPart;
  let point = intPart.length + (exp ? Number(exp) : 0);
  if (point < 0) {
    digits = '0'.repeat(-point) + digits;
    point = 0;
  }
  if (point > digits.length) digits += '0'.repeat(point - digits.length);
  const int = digits.slice(0, point).replace(/^0+/, '') || '0';
  const frac = digits.slice(point).replace(/0+$/, '');
  const body = frac ? `${int}.${frac}` : int;
  return sign === '-' && body !== '0' ? `-${body}` : body;
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

/** Inverse of {@link decimalToScaled} for any scale: a scaled integer back to canonical text. */
export function scaledToDecimal(scaled: bigint, scale: number): string {
  const negative = scaled < 0n;
  const digits = (negative ? -scaled : scaled).toString().padStart(scale + 1, '0');
  const int = digits.slice(0, digits.length - scale);
  const frac = digits.slice(digits.length - scale).replace(/0+$/, '');
  const body = frac ? `${int}.${frac}` : int;
  return negative && body !== '0' ? `-${body}` : body;
}
