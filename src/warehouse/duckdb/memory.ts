/**
 * DuckDB's memory limit and the message_id indexes.
 *
 * Every stream table (and its dead-letter table) has a PRIMARY KEY on message_id: that index (an
 * ART) is how a redelivered message is never stored twice. DuckDB counts it in `memory_limit`
 * and cannot evict the parts that writes have touched since the last checkpoint (a checkpoint
 * writes it to the file and lets it go; the next writes load back what they touch, which with
 * random IDs is most of it). Its size depends on the IDs: about 8 bytes per row for
 * the embedded topic's IDs (increasing decimal numbers share their prefixes) and about 90 for
 * random UUIDs (measured on DuckDB 1.5, docs/performance.md). With a fixed limit the index
 * eventually takes all of it: at 256 MB, writes of rows with UUID message IDs failed from about
 * 2.6M rows on ("could not allocate block"), and nothing more could be ingested.
 *
 * So the configured limit is what queries and caches get, and the index is budgeted on top: the
 * limit in force is `configured + max(0, index - configured / 2)`. Up to half of the configured
 * limit the index shares it; beyond, every byte of index raises the limit by a byte, so queries
 * never have less than half of what was configured.
 */

/** DuckDB's units: KB, MB... are powers of 1000, KiB, MiB... powers of 1024 (as DuckDB reads them). */
const UNITS: Readonly<Record<string, number>> = {
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
 * Bytes of a DuckDB size such as `256MB`, `1.5GiB` or `512 KB`; undefined for anything else
 * (the setting is then left entirely to DuckDB).
 */
export function parseByteSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+)?\s*$/i.exec(text);
  if (!m) return undefined;
  const unit = UNITS[(m[2] ?? 'b').toLowerCase()];
  if (unit === undefined) return undefined;
  const bytes = Math.floor(Number(m[1]) * unit);
  return Number.isFinite(bytes) && bytes > 0 ? bytes : undefined;
}

/** The memory figures of the DuckDB adapter, for `/metrics` and the log. */
export interface MemoryStatus {
  /** `--duckdb-memory-limit` in bytes. */
  readonly configuredLimitBytes: number;
  /** The limit in force: the configured one, raised by the index beyond half of it. */
  readonly limitBytes: number;
  /** Memory of the message_id indexes (DuckDB's `ART_INDEX` in `duckdb_memory()`): the largest reading since start. */
  readonly indexBytes: number;
}

/** The limit in force for an index of `indexBytes` under a configured limit. */
export function budgetedLimit(configuredBytes: number, indexBytes: number): number {
  return configuredBytes + Math.max(0, indexBytes - Math.floor(configuredBytes / 2));
}

/** Raised limits are rounded up to whole MiB, so that small growths of the index do not each cost a SET. */
const STEP = 1024 ** 2;

/**
 * Keeps DuckDB's `memory_limit` at {@link budgetedLimit} of the index memory it reads. The caller
 * runs {@link IndexMemoryBudget.adjust} on the writer's connection: after writes (at most once
 * per `intervalMs`), and after a write that failed for memory, before the write is retried.
 */
export class IndexMemoryBudget {
  private limit: number;
  private index = 0;
  private lastCheck = -Infinity;
  /** The limit last reported through `onRaise`: the next report is due at 1.5 times it. */
  private reported: number;

  constructor(
    private readonly configured: number,
    private readonly onRaise: ((status: MemoryStatus) => void) | undefined,
    private readonly intervalMs = 1000,
  ) {
    this.limit = configured;
    this.reported = configured;
  }

  status(): MemoryStatus {
    return { configuredLimitBytes: this.configured, limitBytes: this.limit, indexBytes: this.index };
  }

  /** Whether the next periodic adjustment is due (one per interval; a failed write adjusts at once). */
  due(now = performance.now()): boolean {
    return now - this.lastCheck >= this.intervalMs;
  }

  /**
   * Reads the index memory through `query` (which runs SQL on the writer's connection and
   * returns its rows) and raises the limit if the index needs it; returns whether it did.
   */
  async adjust(query: (sql: string) => Promise<unknown[][]>, set: (sql: string) => Promise<void>): Promise<boolean> {
    this.lastCheck = performance.now();
    const [[bytes] = []] = await query(`SELECT memory_usage_bytes FROM duckdb_memory() WHERE tag = 'ART_INDEX'`);
    // A checkpoint writes the indexes to the file and lets them go (duckdb_memory() then reads
    // 0 until a write loads them again), so the budget follows the largest reading.
    this.index = Math.max(this.index, Number(bytes ?? 0));
    const need = budgetedLimit(this.configured, this.index);
    if (need <= this.limit) return false;
    const want = Math.ceil(need / STEP) * STEP;
    // Whole KiB: DuckDB reads "KiB" as 1024 bytes (docs: memory_limit accepts KiB, MiB, GiB...).
    await set(`SET memory_limit = '${Math.ceil(want / 1024)}KiB'`);
    this.limit = want;
    if (this.limit >= this.reported * 1.5 || this.reported === this.configured) {
      this.reported = this.limit;
      this.onRaise?.(this.status());
    }
    return true;
  }
}

/** Whether a DuckDB error is its buffer manager refusing memory (the limit, not the machine). */
export function isOutOfMemory(err: unknown): boolean {
  const message = err instanceof Error ? err.message : String(err);
  return /Out of Memory Error|could not allocate block|failed to pin block/i.test(message);
}
