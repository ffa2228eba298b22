/** DuckDB's connections and the locks around them: a pool of read connections, a mutex, a shared/exclusive gate. */
import type { DuckDBConnection, DuckDBPreparedStatement, DuckDBValue } from '@duckdb/node-api';

/** How many prepared read statements each read connection keeps (least recently used out). */
const STATEMENT_CACHE_SIZE = 64;

/**
 * A small pool of connections, handed out one query at a time. Each connection keeps its
 * recently used prepared statements: the read routes build a handful of SQL texts (values are
 * always parameters), so parsing and planning are paid once per text instead of per request.
 */
export class ConnectionPool {
  private readonly statements = new Map<DuckDBConnection, Map<string, DuckDBPreparedStatement>>();

  private readonly idle: DuckDBConnection[];
  private readonly waiting: ((c: DuckDBConnection) => void)[] = [];
  /** Uses in progress or waiting for a connection. */
  private busy = 0;
  /** Called when `busy` drops to 0 (see {@link settled}). */
  private settledWaiters: (() => void)[] = [];

  constructor(connections: DuckDBConnection[]) {
    this.idle = connections;
  }

  /** Uses in progress or waiting for a connection. */
  get inUse(): number {
    return this.busy;
  }

  /**
   * Resolves once no use is in progress or waiting, or after `maxMs`, whichever comes first (at
   * once when none is).
   */
  settled(maxMs: number): Promise<void> {
    if (this.busy === 0 || maxMs <= 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        const i = this.settledWaiters.indexOf(done);
        if (i >= 0) this.settledWaiters.splice(i, 1);
        resolve();
      };
      const timer = setTimeout(done, maxMs);
      this.settledWaiters.push(done);
    });
  }

  async use<T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
    this.busy++;
    try {
      const c = this.idle.pop() ?? (await new Promise<DuckDBConnection>((r) => this.waiting.push(r)));
      try {
        return await fn(c);
      } finally {
        this.release(c);
      }
    } finally {
      this.busy--;
      if (this.busy === 0) for (const done of [...this.settledWaiters]) done();
    }
  }

  private release(c: DuckDBConnection): void {
    const next = this.waiting.shift();
    if (next) next(c);
    else this.idle.push(c);
  }

  /**
   * Runs `sql` with `params` on `c` through its cached prepared statement. A statement without
   * parameters is planned anew each time: DuckDB 1.5 folds `count(*)` and `max(col)` of a table
   * read from the database file, without in-memory changes, into constants when it plans them,
   * so a cached `SELECT count(*), max(publish_time) FROM t` kept answering the counts of the
   * moment it was prepared (stream and dead-letter counts frozen after a restart).
   */
  async run(c: DuckDBConnection, sql: string, params: DuckDBValue[]): Promise<DuckDBValue[][]> {
    if (params.length === 0) return (await c.runAndReadAll(sql)).getRows();
    let cache = this.statements.get(c);
    if (!cache) this.statements.set(c, (cache = new Map()));
    let ps = cache.get(sql);
    if (ps) {
      cache.delete(sql);
    } else {
      ps = await c.prepare(sql);
      if (cache.size >= STATEMENT_CACHE_SIZE) {
        const [oldest, old] = cache.entries().next().value!;
        cache.delete(oldest);
        old.destroySync();
      }
    }
    cache.set(sql, ps);
    ps.clearBindings();
    if (params.length > 0) ps.bind(params);
    return (await ps.runAndReadAll()).getRows();
  }

  closeAll(): void {
    for (const cache of this.statements.values()) for (const ps of cache.values()) ps.destroySync();
    this.statements.clear();
    for (const c of this.idle) c.closeSync();
  }
}

/**
 * A shared/exclusive gate within this process: `shared` work runs concurrently; `exclusive` work
 * waits for the shared work in progress, holds off new shared work, and runs alone.
 */
export class SharedGate {
  private active = 0;
  private closing: Promise<void> | undefined;
  private drained: (() => void) | undefined;

  async shared<T>(fn: () => Promise<T>): Promise<T> {
    while (this.closing) await this.closing;
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      if (this.active === 0) this.drained?.();
    }
  }

  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    while (this.closing) await this.closing;
    let open!: () => void;
    this.closing = new Promise<void>((r) => (open = r));
    try {
      if (this.active > 0) await new Promise<void>((r) => (this.drained = r));
      this.drained = undefined;
      return await fn();
    } finally {
      this.closing = undefined;
      open();
    }
  }
}

/** Serialises async work (DuckDB allows one writer transaction per connection). */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
}
