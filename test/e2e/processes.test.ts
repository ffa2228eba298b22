/**
 * The deployable entry points as real processes, configured only by environment variables as
 * on Google Cloud: the Cloud Function started by the `functions-framework` command on
 * `dist/src/main/function.js`, and `tributary worker`. Both against pstest and the
 * BigQuery emulator.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { PubSub } from '@google-cloud/pubsub';
import { parseStreamDefinition, type StreamDef } from '../../src/core/schema.js';
import { createPubSubClient } from '../../src/topic/pubsub/topic.js';
import { createBigQueryApi } from '../../src/warehouse/bigquery/index.js';
import { BigQueryWarehouse } from '../../src/warehouse/bigquery/index.js';
import { type BigQueryEmulator, freePort, type PubSubEmulator, startBigQueryEmulator, startPubSubEmulator } from '../emulators.js';
import { LENIENT_STREAM, reading, ROOT, streamsDir, tempDir } from '../helpers.js';
import { legacyPush, structuredCloudEvent, send } from '../pubsub-payloads.js';
import { readFile } from 'node:fs/promises';
import { getRow, queryDeadLetters } from '../warehouse/api-form.js';

const PROJECT = 'tributary-test';
const sensor: StreamDef = parseStreamDefinition(JSON.parse(await readFile(join(ROOT, 'streams', 'sensor_readings.json'), 'utf8')), 'sensor_readings.json');
const lenient: StreamDef = parseStreamDefinition(LENIENT_STREAM, 'lenient_events.json');

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function spawnLogged(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env } });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function stop(p: { child: ChildProcess; exited: Promise<number | null> }): Promise<number | null> {
  if (p.child.exitCode === null) p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
  const code = await p.exited;
  clearTimeout(timer);
  return code;
}

describe('deployable entry points as processes', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let bq: BigQueryEmulator;
  let ps: PubSubEmulator;
  let client: PubSub;
  let env: Record<string, string>;
  let warehouse: BigQueryWarehouse;

  before(async () => {
    tmp = await tempDir('tributary-proc-');
    [bq, ps] = await Promise.all([startBigQueryEmulator(tmp.dir, PROJECT), startPubSubEmulator()]);
    env = {
      TRIBUTARY_MODE: 'gcp',
      TRIBUTARY_GCP_PROJECT: PROJECT,
      TRIBUTARY_GCP_REGION: 'local',
      TRIBUTARY_BIGQUERY_DATASET: 'procs',
      TRIBUTARY_PUBSUB_TOPIC_PREFIX: 'trib-',
      TRIBUTARY_STREAMS_DIR: await streamsDir(tmp.dir),
      TRIBUTARY_LOG_LEVEL: 'warn',
      BIGQUERY_EMULATOR_HOST: bq.url,
      PUBSUB_EMULATOR_HOST: ps.host,
      NODE_ENV: 'production',
    };
    client = createPubSubClient({ projectId: PROJECT, emulatorHost: ps.host });
    const [t] = await client.createTopic('trib-lenient_events');
    await t.createSubscription('trib-lenient_events-worker', { ackDeadlineSeconds: 10 });
    await client.createTopic('trib-sensor_readings').then(([x]) => x.createSubscription('trib-sensor_readings-worker', { ackDeadlineSeconds: 10 }));
    warehouse = new BigQueryWarehouse(createBigQueryApi({ projectId: PROJECT, apiEndpoint: bq.url }), { projectId: PROJECT, dataset: 'procs', maxBytesBilled: 1024 ** 3, lookbackDays: 30, emulator: true });
    await warehouse.init([sensor, lenient]);
  });
  after(async () => {
    await client?.close();
    await Promise.all([bq?.stop(), ps?.stop()]);
    await tmp?.cleanup();
  });

  it('functions-framework serves tributaryIngest from main/function.js, configured by the environment', async () => {
    const port = await freePort();
    const fn = spawnLogged(
      [join(ROOT, 'node_modules', '@google-cloud', 'functions-framework', 'build', 'src', 'main.js'), '--target=tributaryIngest', '--signature-type=cloudevent', `--source=${join(ROOT, 'dist', 'src', 'main', 'function.js')}`, `--port=${port}`],
      env,
    );
    try {
      const url = `http://127.0.0.1:${port}`;
      await until('the function server', async () => ((await fetch(url, { method: 'GET' })).status > 0 ? true : undefined));
      const ok = structuredCloudEvent(PROJECT, 'trib-sensor_readings', { id: 'proc-fn-1', data: reading(1, { device_id: 'proc-fn' }) });
      assert.equal(await send(url, ok), 204, fn.output());
      assert.equal((await getRow(warehouse, sensor, 'proc-fn-1'))?.device_id, 'proc-fn');
      const poison = structuredCloudEvent(PROJECT, 'trib-sensor_readings', { id: 'proc-fn-poison', data: Buffer.from('nope') });
      assert.equal(await send(url, poison), 204);
      const dl = await queryDeadLetters(warehouse, sensor, { limit: 10 });
      assert.equal(dl.find((d) => d.message_id === 'proc-fn-poison')?.reason, 'INVALID_JSON');
    } finally {
      await stop(fn);
    }
  });

  it('functions-framework serves tributaryIngestPush (the push deployment\'s target) with its declared HTTP signature', async () => {
    const port = await freePort();
    const fn = spawnLogged(
      [join(ROOT, 'node_modules', '@google-cloud', 'functions-framework', 'build', 'src', 'main.js'), '--target=tributaryIngestPush', `--source=${join(ROOT, 'dist', 'src', 'main', 'function.js')}`, `--port=${port}`],
      env,
    );
    try {
      const url = `http://127.0.0.1:${port}`;
      await until('the function server', async () => ((await fetch(url, { method: 'GET' })).status > 0 ? true : undefined));
      const ok = legacyPush(PROJECT, 'trib-sensor_readings', { id: 'proc-push-1', data: reading(1, { device_id: 'proc-push' }), orderingKey: 'k-1' }, `projects/${PROJECT}/subscriptions/trib-sensor-readings-ingest`, 1);
      assert.equal(await send(url, ok), 204, fn.output());
      const row = await getRow(warehouse, sensor, 'proc-push-1');
      assert.equal(row?.device_id, 'proc-push');
      assert.equal(row?.ordering_key, 'k-1');
      assert.equal(await send(url, { ...ok, body: '{"not": "a push body"}' }), 400);
    } finally {
      await stop(fn);
    }
  });

  it('the function answers an error, not a crash, when its configuration is incomplete', async () => {
    const port = await freePort();
    const { TRIBUTARY_BIGQUERY_DATASET: _omitted, ...partial } = env;
    const fn = spawnLogged(
      [join(ROOT, 'node_modules', '@google-cloud', 'functions-framework', 'build', 'src', 'main.js'), '--target=tributaryIngest', '--signature-type=cloudevent', `--source=${join(ROOT, 'dist', 'src', 'main', 'function.js')}`, `--port=${port}`],
      partial,
    );
    try {
      const url = `http://127.0.0.1:${port}`;
      await until('the function server', async () => ((await fetch(url, { method: 'GET' })).status > 0 ? true : undefined));
      const req = structuredCloudEvent(PROJECT, 'trib-sensor_readings', { id: 'proc-fn-2', data: reading(2) });
      assert.equal(await send(url, req), 500);
      assert.equal(await send(url, req), 500, 'still refusing (and still running) on the next delivery');
      assert.match(fn.output(), /--bigquery-dataset .*required/);
    } finally {
      await stop(fn);
    }
  });

  it('tributary worker stores what is published and exits 0 on SIGTERM', async () => {
    const worker = spawnLogged([join(ROOT, 'bin', 'tributary.js'), 'worker'], env);
    try {
      await until('the worker to pull', async () => (/pulling trib-lenient_events-worker, trib-sensor_readings-worker/.test(worker.output()) ? true : undefined));
      const id = await client.topic('trib-lenient_events').publishMessage({ data: Buffer.from('{"kind":"pulled"}'), attributes: { via: 'worker' } });
      const row = await until('the pulled row', () => getRow(warehouse, lenient, id));
      assert.equal(row.kind, 'pulled');
      assert.deepEqual(row.attributes, { via: 'worker' });
    } finally {
      assert.equal(await stop(worker), 0, worker.output());
    }
  });
});
