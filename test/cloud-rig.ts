/**
 * The cloud path for reliability tests, in one process: the Cloud Function on the real
 * Functions Framework server (getTestServer) writing to the BigQuery emulator (directly, or
 * through a fault proxy), and the HTTP API (gcp mode) reading from the emulator. Also the
 * delivery drivers (storms of redeliveries, a Pub/Sub-like redeliverer) and the API checks
 * (every row page, aggregates) the reliability tests share.
 */
import assert from 'node:assert/strict';
import { createServer, type RequestListener, type Server } from 'node:http';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { startServer, type RunningServer } from '../src/main/server.js';
import { parseConfig } from '../src/core/config.js';
import type { Ingest } from '../src/ingest/ingest.js';
import type { StreamRegistry } from '../src/core/schema.js';
import { registerIngestFunction, registerPushFunction } from '../src/ingest/function.js';
import { createRuntime, type Runtime } from '../src/runtime.js';
import { type BigQueryEmulator, type PubSubEmulator, startBigQueryEmulator, startPubSubEmulator } from './emulators.js';
import { getJson, reading, streamsDir } from './helpers.js';
import { binaryCloudEvent, legacyPush, send, structuredCloudEvent, type WireMessage, type WireRequest } from './pubsub-payloads.js';

export const PROJECT = 'tributary-test';
export const PREFIX = 'trib-';
export const SENSOR_TOPIC = `${PREFIX}sensor_readings`;

/** A seeded PRNG (mulberry32), so a failing order can be replayed with its seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function shuffle<T>(xs: T[], random: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

/** `n` distinct sensor messages tagged `tag`, as Pub/Sub would deliver them (a fixed publishTime each). */
export function stormMessages(tag: string, n: number): WireMessage[] {
  const t0 = Date.now() - 60_000;
  return Array.from({ length: n }, (_, i) => ({
    id: `${tag}-${i}`,
    data: reading(i, { device_id: tag, seq: i * 7 + 3 }),
    attributes: { i: String(i) },
    publishTime: new Date(t0 + i).toISOString(),
  }));
}

/** The expected sum of `seq` over the distinct messages. */
export function expectedSeqSum(messages: readonly WireMessage[]): bigint {
  return messages.reduce((s, m) => s + BigInt((m.data as { seq: number }).seq), 0n);
}

/** One of the three real wire formats, chosen by `k` (the push body goes to the push function, see startFunctionServer). */
export function wireRequest(m: WireMessage, k: number): WireRequest {
  switch (k % 3) {
    case 0: return binaryCloudEvent(PROJECT, SENSOR_TOPIC, m);
    case 1: return structuredCloudEvent(PROJECT, SENSOR_TOPIC, m);
    default: return legacyPush(PROJECT, SENSOR_TOPIC, m);
  }
}

/** Runs `tasks` with at most `concurrency` at a time. */
export async function pool(concurrency: number, tasks: (() => Promise<void>)[]): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, tasks.length) }, async () => {
    while (next < tasks.length) await tasks[next++]!();
  }));
}

/** The function's answer to a delivery: an HTTP status, or 0 when the connection failed. */
export async function deliver(fnUrl: string, req: WireRequest): Promise<number> {
  return send(fnUrl, req).catch(() => 0);
}

/**
 * A redelivery storm: every message `copies` times, in all three wire formats, shuffled, with
 * `concurrency` deliveries in flight. Returns the status of each delivery.
 */
export async function storm(fnUrl: string, messages: readonly WireMessage[], copies: number, concurrency: number, random: () => number): Promise<number[]> {
  const deliveries = shuffle(messages.flatMap((m) => Array.from({ length: copies }, (_, k) => wireRequest(m, k + Math.floor(random() * 3)))), random);
  const statuses: number[] = [];
  await pool(concurrency, deliveries.map((req) => async () => {
    statuses.push(await deliver(fnUrl, req));
  }));
  return statuses;
}

/** Every row of `device_id=tag`, paging through with the API's `next` links; message_id → copies. */
export async function rowIds(apiUrl: string, tag: string, pageSize = 70): Promise<{ ids: Map<string, number>; pages: number }> {
  const ids = new Map<string, number>();
  let pages = 0;
  let next: string | null = `/v1/streams/sensor_readings/rows?device_id=${encodeURIComponent(tag)}&limit=${pageSize}`;
  while (next) {
    const page: { status: number; body: { rows: { message_id: string }[]; next: string | null } } = await getJson(apiUrl + next);
    assert.equal(page.status, 200, JSON.stringify(page.body));
    pages++;
    for (const r of page.body.rows) ids.set(r.message_id, (ids.get(r.message_id) ?? 0) + 1);
    next = page.body.next;
    assert.ok(pages < 1000, 'paging ends');
  }
  return { ids, pages };
}

/** `count`, `count_distinct:seq` and `sum:seq` of `device_id=tag` through the API. */
export async function aggregateOf(apiUrl: string, tag: string): Promise<{ count: number; distinct: number; sum: bigint }> {
  const r = await getJson(`${apiUrl}/v1/streams/sensor_readings/aggregate?device_id=${encodeURIComponent(tag)}&metric=count,count_distinct:seq,sum:seq`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.rows.length, 1, JSON.stringify(r.body));
  const row = r.body.rows[0];
  return { count: row.count, distinct: row.count_distinct_seq, sum: BigInt(row.sum_seq ?? 0) };
}

/** Asserts that the API shows each message exactly once, in rows and in aggregates. */
export async function assertExactlyOnce(apiUrl: string, tag: string, messages: readonly WireMessage[]): Promise<{ rows: number; pages: number }> {
  const { ids, pages } = await rowIds(apiUrl, tag);
  const want = messages.map((m) => m.id).sort();
  assert.deepEqual([...ids.keys()].sort(), want, 'every message_id is in the rows');
  for (const [id, n] of ids) assert.equal(n, 1, `${id} appears once in the rows`);
  const agg = await aggregateOf(apiUrl, tag);
  assert.deepEqual(agg, { count: messages.length, distinct: messages.length, sum: expectedSeqSum(messages) }, 'aggregates count each message once');
  return { rows: ids.size, pages };
}

/**
 * A function instance on `deps`: both entry points on the real Functions Framework (one
 * getTestServer app each) behind one port. Requests to `/projects/P/topics/T` (push bodies, as
 * the push subscription infra/ creates posts them) go to the push (HTTP) function, the rest
 * (CloudEvents) to the CloudEvent function; both share `deps.ingest`, as in one instance.
 */
export async function startFunctionServer(name: string, deps: { registry: StreamRegistry; ingest: Ingest }): Promise<{ url: string; close: () => Promise<void> }> {
  const fnDeps = async () => ({ registry: deps.registry, ingest: deps.ingest, topicPrefix: PREFIX, log: () => undefined });
  registerIngestFunction(name, fnDeps);
  registerPushFunction(`${name}Push`, fnDeps);
  const app = (fn: string) => getTestServer(fn).listeners('request')[0] as RequestListener;
  const cloudEvent = app(name);
  const push = app(`${name}Push`);
  const server: Server = createServer((req, res) => (req.url?.startsWith('/projects/') ? push : cloudEvent)(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  return {
    url: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`,
    close: async () => {
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The cloud path: BigQuery emulator, pstest (for the API's topic), function, API. */
export interface CloudRig {
  readonly bq: BigQueryEmulator;
  readonly fnUrl: string;
  readonly fnRuntime: Runtime;
  readonly api: RunningServer;
  /** Raw copies in the BigQuery table (no dedup) of `device_id=tag`: shows what reads must dedup. */
  rawCopies(tag: string): Promise<number>;
  close(): Promise<void>;
}

/**
 * Starts the cloud path under `dir`. The function's BigQuery client uses `fnEndpoint(bq.url)`
 * (a fault proxy in front of the emulator, say); the API reads from the emulator directly.
 */
export async function startCloudRig(dir: string, opts: { name: string; dataset: string; writeRetryMs: number; fnEndpoint?: (bqUrl: string) => Promise<string>; onWriteError?: (err: unknown, willRetry: boolean) => void }): Promise<CloudRig> {
  let ps: PubSubEmulator | undefined;
  let bq: BigQueryEmulator | undefined;
  let fnRuntime: Runtime | undefined;
  let fn: { url: string; close: () => Promise<void> } | undefined;
  let api: RunningServer | undefined;
  const close = async () => {
    await api?.close();
    await fn?.close();
    await fnRuntime?.close().catch(() => undefined);
    await Promise.all([bq?.stop(), ps?.stop()]);
  };
  try {
    [bq, ps] = await Promise.all([startBigQueryEmulator(dir, PROJECT), startPubSubEmulator()]);
    const streams = await streamsDir(dir);
    const cfg = (endpoint: string) => parseConfig(
      [
        '--mode', 'gcp', '--gcp-project', PROJECT, '--gcp-region', 'local', '--bigquery-dataset', opts.dataset,
        '--bigquery-api-endpoint', endpoint, '--pubsub-topic-prefix', PREFIX, '--pubsub-emulator-host', ps!.host,
        '--streams-dir', streams, '--port', '0', '--log-level', 'silent', '--write-retry-ms', String(opts.writeRetryMs),
      ],
      {},
    ).config;
    // The API first: it creates the dataset and tables, so the function starts on a ready warehouse.
    api = await startServer(cfg(bq.url), { logger: false });
    fnRuntime = await createRuntime(cfg(opts.fnEndpoint ? await opts.fnEndpoint(bq.url) : bq.url), { onWriteError: (_s, err, willRetry) => opts.onWriteError?.(err, willRetry) });
    fn = await startFunctionServer(opts.name, fnRuntime);
  } catch (err) {
    await close();
    throw err;
  }
  const emulator = bq;
  return {
    bq: emulator,
    fnUrl: fn.url,
    fnRuntime,
    api,
    async rawCopies(tag: string) {
      const res = await fetch(`${emulator.url}/bigquery/v2/projects/${PROJECT}/queries`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ useLegacySql: false, query: `SELECT COUNT(*) FROM \`${PROJECT}.${opts.dataset}.sensor_readings\` WHERE publish_time >= TIMESTAMP('2000-01-01') AND device_id = '${tag}'` }),
      });
      const body = (await res.json()) as { rows?: { f: { v: string }[] }[] };
      assert.equal(res.status, 200, JSON.stringify(body));
      return Number(body.rows?.[0]?.f[0]?.v ?? 0);
    },
    close,
  };
}
