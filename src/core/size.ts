/**
 * Byte sizes as the settings write them (`--duckdb-memory-limit 192MB`, `--body-limit 10MiB`): one
 * parser for the configuration and the DuckDB adapter. KB, MB, GB, TB are powers of 1000 and KiB,
 * MiB, GiB, TiB powers of 1024, as DuckDB reads them; a bare number is bytes.
 */

const UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  byte: 1,
  bytes: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

/**
 * Bytes of a size such as `4096`, `256MB`, `1.5GiB` or ` 512 kb ` (whole bytes, rounded down);
 * undefined for anything else (no number, an unknown unit, a percentage, a sign).
 */
export function parseSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  if (!m) return undefined;
  const unit = UNITS[m[2]!.toLowerCase()];
  if (unit === undefined) return undefined;
  const bytes = Math.floor(Number(m[1]) * unit);
  return Number.isFinite(bytes) ? bytes : undefined;
}
