/**
 * DuckDB's memory limit, the message_id indexes and the cache of the table's blocks.
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
 *
 * The cache. DuckDB keeps every block of the table it has written or read (`BASE_TABLE` in
 * `duckdb_memory()`) until the limit makes it evict some: under sustained ingest that cache grows
 * by about 26 MB per million rows until it fills what the limit leaves, and the process's RSS
 * with it. Those blocks are in the database file, and so in the operating system's page cache
 * too: DuckDB's copy saves a read from the page cache, not from the disk. DuckDB has no setting
 * for a cache smaller than the limit, and evicts only to make room under `memory_limit`; so when
 * the cache exceeds `--duckdb-cache-limit` by a quarter, the budget lowers the limit for a moment
 * (by the excess: DuckDB then evicts that much, least recently used first) and sets it back. Queries keep the whole limit
 * for their own memory; the trim runs only while no read or rollup fold is in progress, on the writer's
 * connection between two writes.
 */
import { parseSize } from '../../core/size.js';

/**
 * Bytes of a DuckDB size such as `256MB`, `1.5GiB` or `512 KB` (src/core/size.ts); undefined for
 * anything else, zero included (the setting is then left entirely to DuckDB).
 */
export function parseByteSize(text: string): number | undefined {
  const bytes = parseSize(text);
  return bytes !== undefined && bytes > 0 ? bytes : undefined;
}

/** The memory figures of the DuckDB adapter, for `/metrics` and the log. */
export interface MemoryStatus {
  /** `--duckdb-memory-limit` in bytes. */
  readonly configuredLimitBytes: number;
  /** The limit in force: the configured one, raised by the index beyond half of it. */
  readonly limitBytes: number;
  /** Memory of the message_id indexes (DuckDB's `ART_INDEX` in `duckdb_memory()`): the largest reading since start. */
  readonly indexBytes: number;
  /** `--duckdb-cache-limit` in bytes: the cache of table blocks is trimmed back to it (undefined: never). */
  readonly cacheLimitBytes: number | undefined;
  /** DuckDB's cache of the tables' blocks (`BASE_TABLE` in `duckdb_memory()`), as last read (before a trim). */
  readonly cacheBytes: number;
  /** Trims of that cache since start. */
  readonly cacheTrims: number;
}

/** The limit in force for an index of `indexBytes` under a configured limit. */
export function budgetedLimit(configuredBytes: number, indexBytes: number): number {
  return configuredBytes + Math.max(0, indexBytes - Math.floor(configuredBytes / 2));
}

/** Raised limits are rounded up to whole MiB, so that small growths of the index do not each cost a SET. */
const STEP = 1024 ** 2;

/** The cache is trimmed once it exceeds its limit by this fraction (so that a trim is not due after every write). */
const TRIM_SLACK = 0.25;

/** `SET memory_limit` in whole KiB: DuckDB reads "KiB" as 1024 bytes (docs: memory_limit accepts KiB, MiB, GiB...). */
const setLimitSql = (bytes: number): string => `SET memory_limit = '${Math.ceil(bytes / 1024)}KiB'`;

/** What {@link MemoryBudget.adjust} runs SQL with: on the writer's connection, under the write lock. */
export interface MemorySql {
  /** Runs a query and returns its rows. */
  query(sql: string): Promise<unknown[][]>;
  /** Runs a statement. */
  set(sql: string): Promise<void>;
  /** Whether the cache may be trimmed now (no read in progress: the limit goes down for a moment). */
  canTrim(): boolean;
}

/**
 * Keeps DuckDB's `memory_limit` at {@link budgetedLimit} of the index memory it reads, and trims
 * the cache of table blocks back to the cache limit (see the module's comment). The caller runs
 * {@link MemoryBudget.adjust} on the writer's connection: after writes (at most once per
 * `intervalMs`), and after a write that failed for memory, before the write is retried.
 */
export class MemoryBudget {
  private limit: number;
  private index = 0;
  private cache = 0;
  private trims = 0;
  private lastCheck = -Infinity;
  /** The limit last reported through `onRaise`: the next report is due at 1.5 times it. */
  private reported: number;

  /**
   * @param configured `--duckdb-memory-limit` in bytes.
   * @param cacheLimit `--duckdb-cache-limit` in bytes; undefined, or not below `configured`: never trimmed.
   */
  constructor(
    private readonly configured: number,
    private readonly cacheLimit: number | undefined,
    private readonly onRaise: ((status: MemoryStatus) => void) | undefined,
    private readonly intervalMs = 1000,
  ) {
    this.limit = configured;
    this.reported = configured;
  }

  status(): MemoryStatus {
    return { configuredLimitBytes: this.configured, limitBytes: this.limit, indexBytes: this.index, cacheLimitBytes: this.trimsAt() === undefined ? undefined : this.cacheLimit, cacheBytes: this.cache, cacheTrims: this.trims };
  }

  /** Whether the next periodic adjustment is due (one per interval; a failed write adjusts at once). */
  due(now = performance.now()): boolean {
    return now - this.lastCheck >= this.intervalMs;
  }

  /** The cache size from which a trim is due, or undefined when the cache is left to DuckDB. */
  private trimsAt(): number | undefined {
    if (this.cacheLimit === undefined || this.cacheLimit >= this.configured) return undefined;
    return this.cacheLimit * (1 + TRIM_SLACK);
  }

  /**
   * Reads DuckDB's memory, raises the limit if the index needs it, and trims the cache if it is
   * due and `sql.canTrim()`; returns whether it raised the limit.
   */
  async adjust(sql: MemorySql): Promise<boolean> {
    this.lastCheck = performance.now();
    let used = 0;
    let index = 0;
    let cache = 0;
    for (const [tag, bytes] of await sql.query(`SELECT tag, memory_usage_bytes FROM duckdb_memory()`)) {
      const n = Number(bytes ?? 0);
      used += n;
      if (tag === 'ART_INDEX') index = n;
      else if (tag === 'BASE_TABLE') cache = n;
    }
    this.cache = cache;
    // A checkpoint writes the indexes to the file and lets them go (duckdb_memory() then reads
    // 0 until a write loads them again), so the budget follows the largest reading.
    this.index = Math.max(this.index, index);
    const raised = await this.raise(sql);
    const at = this.trimsAt();
    if (at !== undefined && cache > at && sql.canTrim()) {
      // DuckDB evicts down to the lowered limit (or refuses, changing nothing, when it cannot:
      // the blocks are pinned by a query); the limit in force is set back either way.
      try {
        await sql.set(setLimitSql(used - (cache - this.cacheLimit!)));
        this.trims++;
      } catch {
        // Not evictable now: the next due adjustment tries again.
      } finally {
        await sql.set(setLimitSql(this.limit));
      }
    }
    return raised;
  }

  private async raise(sql: MemorySql): Promise<boolean> {
    const need = budgetedLimit(this.configured, this.index);
    if (need <= this.limit) return false;
    const want = Math.ceil(need / STEP) * STEP;
    await sql.set(setLimitSql(want));
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
