/**
 * The engines the API suites run on, as Kysely's tests loop over `DIALECTS`: each suite is
 * declared once inside {@link forEachEngine} and runs on every engine selected by
 * `TRIBUTARY_TEST_ENGINES` (the variable the warehouse contract suites read; API names: `duckdb`,
 * `bigquery`; `duckdb-large` is a warehouse-level variant and selects no API engine).
 *
 * {@link startEngineServer} builds the real app for a named engine and listens on 127.0.0.1:0:
 * - `duckdb`: today's embedded runtime (`startServer`, as `startTestServer` does);
 * - `bigquery`: the BigQuery adapter on goccy/bigquery-emulator, composed with the real Ingest
 *   and the embedded topic, so that a publish answers `stored` after the insertAll returned.
 *   One emulator process per test file (started on first use, stopped after the file's last
 *   test), one dataset per data dir (a server restarted on the same dir sees the same tables).
 *
 * Where the emulator cannot express a BigQuery behaviour, or BigQuery by design answers
 * differently, a test says so through {@link engineException} with a name from
 * {@link ENGINE_EXCEPTIONS} (the one list; docs/emulators.md repeats it, test/api/engines.test.ts
 * keeps both in step) and checks the SQL sent instead. The count of tests per engine is printed
 * at the end of `npm test` by test/engine-reporter.ts.
 */
import assert from 'node:assert/strict';
import { after, describe, it, type TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/api/app.js';
import { checkExposure, loadKeys } from '../../src/api/auth.js';
import { Metrics } from '../../src/api/metrics.js';
import { loadStreams } from '../../src/core/schema.js';
import { embeddedRuntimeOn, type Runtime } from '../../src/runtime.js';
import { type BigQueryApi, createBigQueryApi } from '../../src/warehouse/bigquery/driver.js';
import { BigQueryWarehouse } from '../../src/warehouse/bigquery/index.js';
import { type BigQueryEmulator, startBigQueryEmulator } from '../emulators.js';
import { startTestServer, tempDir, testConfig } from '../helpers.js';
import { type SentQuery, selectedEngines } from '../warehouse/engines.js';

/** Engines the API suites know, in the order they run. */
export const API_ENGINES = ['duckdb', 'bigquery'] as const;
export type ApiEngine = (typeof API_ENGINES)[number];

/** The API engines in TRIBUTARY_TEST_ENGINES (default: all); unknown names are an error there. */
export function selectedApiEngines(env: Readonly<Record<string, string | undefined>> = process.env): ApiEngine[] {
  const chosen = new Set<string>(selectedEngines(env));
  return API_ENGINES.filter((e) => chosen.has(e));
}

export const ENGINES = selectedApiEngines();

/** Suffix of the suite title of an engine; test/engine-reporter.ts counts tests by it. */
export const engineTag = (engine: ApiEngine): string => `[engine:${engine}]`;

/** Declares the suite once per selected engine: `describe('<title> [engine:<name>]', ...)`. */
export function forEachEngine(title: string, body: (engine: ApiEngine) => void): void {
  if (ENGINES.includes('bigquery')) stopEmulatorAfterFile();
  for (const engine of ENGINES) describe(`${title} ${engineTag(engine)}`, () => body(engine));
}

/** One documented difference between an engine (as tested here) and the DuckDB reference. */
export interface EngineException {
  /** Engines the difference applies to. */
  readonly engines: readonly ApiEngine[];
  /** `emulator`: BigQuery does it but the emulator cannot show it; `engine`: BigQuery itself differs, by design. */
  readonly kind: 'emulator' | 'engine';
  /** What BigQuery does. */
  readonly bigquery: string;
  /** What the emulator (or the adapter on it) does. */
  readonly emulator: string;
  /** What the test checks instead. */
  readonly instead: string;
}

/**
 * Every place where an API test on BigQuery cannot assert what it asserts on DuckDB. Keyed by
 * stable names (used by the tests and listed in docs/emulators.md, "Documented exceptions").
 */
export const ENGINE_EXCEPTIONS = {
  'insert-id-dedup': {
    engines: ['bigquery'],
    kind: 'emulator',
    bigquery: 'insertAll drops a row whose insertId (the message_id) it saw in about the last minute (best effort)',
    emulator: 'ignores insertId: every copy is stored',
    instead: 'a raw query shows that the table really holds the copies; the API still shows one row per message_id (row pages, row by id: the first copy), and the row queries sent carry QUALIFY ROW_NUMBER() OVER (PARTITION BY message_id ORDER BY ingest_time) = 1',
  },
  'duplicate-status': {
    engines: ['bigquery'],
    kind: 'engine',
    bigquery: 'a streaming insert cannot tell a new row from a redelivered one, so a publish answers `stored` for a message_id already stored by an earlier batch (docs/reliability.md: exactly once in reads)',
    emulator: 'the same (the adapter reports every row of a batch as inserted)',
    instead: 'copies within one batch still answer `duplicate`; across batches the test accepts `stored` and checks that reads show one row, the first write',
  },
  'schema-update': {
    engines: ['bigquery'],
    kind: 'emulator',
    bigquery: 'tables.patch appends a NULLABLE field; inserts and queries then use it',
    emulator: 'tables.patch changes the table metadata only: inserts and queries of the new column then fail (`Column colour is not present`), and ALTER TABLE ADD COLUMN does not help',
    instead: 'a test checks the request: a restart with a new NULLABLE field sends tables.patch with the existing fields plus the new one; the replay test creates the table with the fixed definition first, so that the emulator has the column, then starts with the old definition',
  },
  'attribute-key-characters': {
    engines: ['bigquery'],
    kind: 'emulator',
    bigquery: "`JSON_VALUE(attributes[@key])` reads an attribute whatever characters its key holds (`$`, quotes, dots)",
    emulator: "turns the subscript into a JSONPath with the key in quotes: keys holding `'`, `\"` or `$` fail the query (`invalid path format`), which the API answers 503",
    instead: 'keys of other characters (space, dot, slash, brackets, non-ASCII) are filtered on both engines; for the others the test checks the SQL sent: the key travels only as a STRING parameter of `JSON_VALUE(attributes[@fN])`',
  },
  'timestamp-group-by': {
    engines: ['bigquery'],
    kind: 'emulator',
    bigquery: 'GROUP BY a TIMESTAMP column groups by its exact value (microseconds)',
    emulator: 'groups TIMESTAMP keys by whole seconds: 10:00:00.000001 and 10:00:00.5 fall into one group, keyed by the first (COUNT(DISTINCT), PARTITION BY and time buckets are right)',
    instead: 'the test checks that the counts add up and that the SQL sent groups by the column itself, untruncated (`measured_at` AS k0 ... GROUP BY k0)',
  },
  'partition-filter': {
    engines: ['bigquery'],
    kind: 'emulator',
    bigquery: 'tables have requirePartitionFilter: a query without a filter on publish_time fails',
    emulator: 'keeps requirePartitionFilter as metadata and does not enforce it',
    instead: 'every query the API sent to a stream or dead-letter table carries `publish_time >= @range_from`',
  },
  'bytes-billed-cap': {
    engines: ['bigquery'],
    kind: 'emulator',
    bigquery: 'a query that would bill more than maximumBytesBilled fails with bytesBilledLimitExceeded (the API answers 422 QUERY_REJECTED)',
    emulator: 'ignores maximumBytesBilled',
    instead: "every query the API sent carries maximumBytesBilled equal to --bigquery-max-bytes-billed; BigQuery's refusal, replayed on the REST client as BigQuery sends it (400, reason bytesBilledLimitExceeded), reaches the caller as 422 QUERY_REJECTED",
  },
} as const satisfies Record<string, EngineException>;
export type EngineExceptionName = keyof typeof ENGINE_EXCEPTIONS;

/** Whether the named exception applies to the engine (no diagnostic: for hooks that prepare a test). */
export function exceptionApplies(engine: ApiEngine, name: EngineExceptionName): boolean {
  return (ENGINE_EXCEPTIONS[name].engines as readonly ApiEngine[]).includes(engine);
}

/** Diagnostic a test emits when it takes an exception path; test/engine-reporter.ts counts them. */
export const EXCEPTION_DIAGNOSTIC = 'engine-exception';

/**
 * Whether the named exception applies to this engine. When it does, the test is told (a
 * diagnostic `engine-exception <engine> <name>`, so that the reporter counts it among the
 * documented exceptions rather than the engine's full tests) and must check the SQL instead.
 */
export function engineException(t: TestContext, engine: ApiEngine, name: EngineExceptionName): boolean {
  const applies = exceptionApplies(engine, name);
  if (applies) t.diagnostic(`${EXCEPTION_DIAGNOSTIC} ${engine} ${name}`);
  return applies;
}

/** A real server of one engine on 127.0.0.1, and how to stop it. */
export interface EngineServer {
  readonly engine: ApiEngine;
  readonly app: FastifyInstance;
  readonly runtime: Runtime;
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** The data dir (streams, keys, DuckDB file); a server started again on it sees the same data. */
  readonly base: string;
  /** Queries sent to BigQuery by every server on this data dir (bigquery only; empty on duckdb). */
  readonly queries: SentQuery[];
  /** BigQuery only: the REST API the adapter talks to, its dataset, and the requests this server's adapter sent. */
  readonly bigquery?: {
    readonly api: BigQueryApi;
    readonly project: string;
    readonly dataset: string;
    readonly requests: readonly SentRequest[];
    /** Makes the adapter's next query (jobs.query) fail with this error, as the REST client would throw it. */
    failNextQuery(error: { code: number; errors: { reason: string; message: string }[]; message: string }): void;
  };
  /** Stops the server (data kept). Idempotent. */
  close(): Promise<void>;
  /** Stops the server and removes the data dir it made (not one it was given). */
  stop(): Promise<void>;
}

/** A REST request the BigQuery adapter sent (tables.patch, insertAll, ...). */
export interface SentRequest {
  readonly method: string;
  readonly path: string;
  readonly body?: unknown;
}

let emulator: Promise<{ emulator: BigQueryEmulator; cleanup: () => Promise<void> }> | undefined;

/** The one BigQuery emulator of this test file (this process), started on first use. */
function sharedEmulator(): Promise<BigQueryEmulator> {
  emulator ??= (async () => {
    const tmp = await tempDir('tributary-api-bq-');
    try {
      return { emulator: await startBigQueryEmulator(tmp.dir), cleanup: tmp.cleanup };
    } catch (err) {
      await tmp.cleanup();
      throw err;
    }
  })();
  return emulator.then((e) => e.emulator);
}

let cleanupRegistered = false;

/**
 * Stops this file's emulator (if one was started) after the file's last test. Called at module
 * level by {@link forEachEngine} (and by suites that start BigQuery servers otherwise) only when
 * the file has BigQuery tests: Node 22's runner with --test-force-exit never ends a file whose
 * root has an `after` hook but no test.
 */
export function stopEmulatorAfterFile(): void {
  if (cleanupRegistered) return;
  cleanupRegistered = true;
  after(async () => {
    if (!emulator) return;
    const e = await emulator.catch(() => undefined);
    await e?.emulator.stop();
    await e?.cleanup();
  });
}

const datasets = new Map<string, string>();
const queriesOf = new Map<string, SentQuery[]>();

/** The dataset of a data dir: one per app, the same again for a restart on the same dir. */
function datasetFor(base: string): string {
  let d = datasets.get(base);
  if (!d) {
    d = `api_${process.pid}_${datasets.size}`;
    datasets.set(base, d);
  }
  return d;
}

/**
 * Builds and starts the API of `engine` with the test configuration (`testConfig`: streams of
 * `base`, quiet, no rate limit) plus `flags`. Without `base`, a fresh temporary dir.
 */
export async function startEngineServer(engine: ApiEngine, flags: string[] = [], base?: string): Promise<EngineServer> {
  const tmp = base ? { dir: base, cleanup: async () => undefined } : await tempDir();
  try {
    return await SERVERS[engine](tmp.dir, flags, tmp.cleanup);
  } catch (err) {
    await tmp.cleanup();
    throw err;
  }
}

/** Starts the app of one engine on a data dir; `cleanup` removes the dir (for `stop`). */
type ServerStarter = (base: string, flags: string[], cleanup: () => Promise<void>) => Promise<EngineServer>;

/** How each engine's app is built: adding an engine is one entry here and its name in API_ENGINES. */
const SERVERS: Record<ApiEngine, ServerStarter> = {
  duckdb: async (base, flags, cleanup) => {
    const s = await startTestServer(flags, base);
    return {
      engine: 'duckdb',
      app: s.app,
      runtime: s.runtime,
      url: s.url,
      base,
      queries: [],
      close: s.close,
      stop: async () => {
        await s.close();
        await cleanup();
      },
    };
  },
  bigquery: (base, flags, cleanup) => startBigQueryServer(base, flags, cleanup),
};

async function startBigQueryServer(base: string, flags: string[], cleanup: () => Promise<void>): Promise<EngineServer> {
  const config = await testConfig(base, flags);
  // As startServer: refuse an exposed, unauthenticated server before opening anything.
  const keys = await loadKeys(config);
  checkExposure(config, keys);
  const bq = await sharedEmulator();
  const registry = await loadStreams(config.streamsDir);
  const queries = queriesOf.get(base) ?? [];
  queriesOf.set(base, queries);
  const requests: SentRequest[] = [];
  const api = createBigQueryApi({ projectId: bq.project, apiEndpoint: bq.url });
  const failures: object[] = [];
  const recorded: BigQueryApi = {
    request: (req) => {
      requests.push({ method: req.method, path: req.path, ...(req.body !== undefined ? { body: req.body } : {}) });
      const failure = req.method === 'POST' && req.path === '/queries' ? failures.shift() : undefined;
      if (failure) return Promise.reject(Object.assign(new Error((failure as { message: string }).message), failure));
      return api.request(req);
    },
  };
  const dataset = datasetFor(base);
  const warehouse = new BigQueryWarehouse(recorded, {
    projectId: bq.project,
    dataset,
    maxBytesBilled: config.bigqueryMaxBytesBilled,
    emulator: true,
    lookbackDays: config.bigqueryLookbackDays,
    onQuery: (q) => queries.push(q),
  });
  const metrics = new Metrics();
  // The embedded runtime's own composition (tables, message-id clock, ingest, topic) over BigQuery.
  const runtime = await embeddedRuntimeOn(config, registry, warehouse, {
    onBatch: metrics.onBatch,
    onWriteError: (stream, err, willRetry) => {
      metrics.onWriteError(stream, err, willRetry);
      if (process.env.TRIBUTARY_TEST_DEBUG) console.error(`write to ${stream} failed (retry: ${willRetry}):`, err);
    },
  });
  let app: FastifyInstance;
  try {
    app = await buildApp({ ...runtime, keys, metrics, logger: false });
    await app.listen({ host: '127.0.0.1', port: 0 });
  } catch (err) {
    await runtime.close();
    throw err;
  }
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      await app.close();
      await runtime.close();
    })();
    return closing;
  };
  return {
    engine: 'bigquery',
    app,
    runtime,
    url: `http://127.0.0.1:${port}`,
    base,
    queries,
    bigquery: { api, project: bq.project, dataset, requests, failNextQuery: (e) => void failures.push(e) },
    close,
    stop: async () => {
      await close();
      await cleanup();
    },
  };
}

/**
 * The SQL check that stands in for what the emulator does not enforce (exceptions
 * `partition-filter` and `bytes-billed-cap`): every query sent reads stream and dead-letter
 * tables only under a lower bound on publish_time, and carries the configured cap.
 */
export function assertQueriesBoundedAndCapped(server: EngineServer): void {
  assert.ok(server.queries.length > 0, 'the API sent queries');
  const cap = String(server.runtime.config.bigqueryMaxBytesBilled);
  for (const q of server.queries) {
    assert.equal(q.maximumBytesBilled, cap, `maximumBytesBilled of ${q.sql}`);
    if (q.sql === 'SELECT 1') continue;
    // Every FROM of a table (not of a subquery) is followed, in its WHERE, by the partition bound.
    const tableReads = q.sql.match(/FROM `[^`]+`/g) ?? [];
    assert.ok(tableReads.length > 0, `reads a table: ${q.sql}`);
    const bounds = q.sql.match(/FROM `[^`]+` WHERE publish_time >= @range_from/g) ?? [];
    assert.equal(bounds.length, tableReads.length, `every table read is bounded on publish_time: ${q.sql}`);
    assert.ok(q.params.some((p) => p.name === 'range_from' && p.parameterType.type === 'TIMESTAMP'), `range_from is a TIMESTAMP parameter: ${q.sql}`);
  }
}

/**
 * On BigQuery, the suite's last test: the SQL check of {@link assertQueriesBoundedAndCapped} over
 * every query the suite's server sent (exceptions `partition-filter`, `bytes-billed-cap`).
 * Nothing on other engines, which have neither.
 */
export function itSentBoundedQueries(engine: ApiEngine, server: () => EngineServer | undefined): void {
  if (engine !== 'bigquery') return;
  it('sent only queries bounded on publish_time and capped in bytes billed (the emulator enforces neither)', (t) => {
    engineException(t, engine, 'partition-filter');
    engineException(t, engine, 'bytes-billed-cap');
    const s = server();
    assert.ok(s, 'the suite started a server');
    assertQueriesBoundedAndCapped(s);
  });
}

/**
 * BigQuery only: a raw query in the server's dataset, bypassing the adapter (no dedup): e.g. to
 * check that the table really holds the copies a read shows once. `{name}` in the SQL is the
 * table `name` of the dataset; `params` are STRING query parameters (`@name`).
 */
export async function rawBigQuery(server: EngineServer, sql: string, params: Record<string, string> = {}): Promise<(string | null)[][]> {
  const bq = server.bigquery;
  if (!bq) throw new Error('rawBigQuery needs a bigquery server');
  const text = sql.replace(/\{(\w+)\}/g, (_, t: string) => `\`${bq.project}.${bq.dataset}.${t}\``);
  const queryParameters = Object.entries(params).map(([name, value]) => ({ name, parameterType: { type: 'STRING' }, parameterValue: { value } }));
  const res = await bq.api.request<{ rows?: { f: { v: string | null }[] }[] }>({ method: 'POST', path: '/queries', body: { query: text, useLegacySql: false, parameterMode: 'NAMED', queryParameters } });
  return (res.rows ?? []).map((r) => r.f.map((c) => c.v));
}
