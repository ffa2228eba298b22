/**
 * Live smoke test against a real Google Cloud project: `npm run test:gcp`. Not part of
 * `npm test` nor `.ci/run` (the file is not named *.test.ts). Needs Application Default
 * Credentials (`gcloud auth application-default login`, or a service account) and:
 *
 *   TRIBUTARY_GCP_PROJECT   the project
 *   TRIBUTARY_GCP_REGION    BigQuery location, e.g. europe-west1
 *
 * 1. Warehouse: creates a temporary dataset `tributary_smoke_<time>`, runs the adapter through
 *    init, write (with a redelivery), reads and stats, checks what the emulator cannot
 *    (requirePartitionFilter is enforced, maximumBytesBilled is sent), and deletes the dataset.
 * 2. Pipeline (only when TRIBUTARY_SMOKE_PIPELINE=1, against a deployment made with infra/):
 *    publishes to `<TRIBUTARY_PUBSUB_TOPIC_PREFIX><stream>` and waits until the deployed Cloud
 *    Function has stored the rows in TRIBUTARY_BIGQUERY_DATASET.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { prepareMessage } from '../../src/core/message.js';
import { parseStreamDefinition } from '../../src/core/schema.js';
import { nowMicros } from '../../src/core/time.js';
import { compileValidator } from '../../src/core/validate.js';
import { createPubSubClient, PubSubTopic } from '../../src/topic/pubsub/topic.js';
import { createBigQueryApi } from '../../src/warehouse/bigquery/index.js';
import { BigQueryWarehouse } from '../../src/warehouse/bigquery/index.js';
import { reading, ROOT } from '../helpers.js';
import { getRow, queryRows } from '../warehouse/api-form.js';

const project = process.env.TRIBUTARY_GCP_PROJECT;
const region = process.env.TRIBUTARY_GCP_REGION;
if (!project || !region) {
  throw new Error('npm run test:gcp needs TRIBUTARY_GCP_PROJECT and TRIBUTARY_GCP_REGION (and Application Default Credentials); see test/live/gcp.smoke.ts');
}
const sensor = parseStreamDefinition(JSON.parse(await readFile(join(ROOT, 'streams', 'sensor_readings.json'), 'utf8')), 'sensor_readings.json');

describe('live BigQuery warehouse', () => {
  const api = createBigQueryApi({ projectId: project, location: region });
  const dataset = `tributary_smoke_${Date.now()}`;
  const w = new BigQueryWarehouse(api, { projectId: project, dataset, location: region, maxBytesBilled: 100 * 1024 ** 2, lookbackDays: 2 });
  before(async () => {
    await w.init([sensor]);
  });
  after(async () => {
    await api.request({ method: 'DELETE', path: `/datasets/${dataset}`, query: { deleteContents: 'true' } });
  });

  it('stores, deduplicates and reads rows', async () => {
    const t = nowMicros();
    const msg = (id: string, seq: number) => {
      const p = prepareMessage(sensor, compileValidator(sensor), { messageId: id, publishTime: t, data: Buffer.from(JSON.stringify(reading(seq, { device_id: 'smoke' }))), attributes: {}, orderingKey: null }, 1024 * 1024);
      assert.equal(p.kind, 'row');
      return p.kind === 'row' ? p.row : (undefined as never);
    };
    await w.write(sensor, { rows: [msg('smoke-1', 1), msg('smoke-2', 2)], deadLetters: [], ingestTime: nowMicros() });
    await w.write(sensor, { rows: [msg('smoke-1', 1)], deadLetters: [], ingestTime: nowMicros() });
    const rows = await queryRows(w, sensor, { filters: [{ chain: [sensor.fields[0]!], op: 'eq', value: 'smoke' }], order: 'asc', limit: 10 });
    assert.deepEqual(rows.map((r) => r.message_id), ['smoke-1', 'smoke-2']);
    assert.equal((await w.stats(sensor)).rowCount, 2);
  });

  it('enforces the partition filter on the tables', async () => {
    await assert.rejects(
      api.request({ method: 'POST', path: '/queries', body: { query: `SELECT COUNT(*) FROM \`${project}.${dataset}.sensor_readings\``, useLegacySql: false, location: region } }),
      /partition/i,
    );
  });
});

describe('live pipeline (TRIBUTARY_SMOKE_PIPELINE=1)', { skip: process.env.TRIBUTARY_SMOKE_PIPELINE !== '1' && 'set TRIBUTARY_SMOKE_PIPELINE=1 against a deployment' }, () => {
  it('stores what is published to Pub/Sub through the deployed Cloud Function', async () => {
    const prefix = process.env.TRIBUTARY_PUBSUB_TOPIC_PREFIX ?? 'tributary-';
    const datasetName = process.env.TRIBUTARY_BIGQUERY_DATASET ?? 'tributary';
    const topic = new PubSubTopic(createPubSubClient({ projectId: project }), { topicPrefix: prefix, batchMaxMessages: 10, batchMaxMs: 10 });
    const [out] = await topic.publish(sensor, [{ data: Buffer.from(JSON.stringify(reading(1, { device_id: 'smoke-pipeline' }))) }]);
    await topic.close();
    const w = new BigQueryWarehouse(createBigQueryApi({ projectId: project, location: region }), { projectId: project, dataset: datasetName, location: region, maxBytesBilled: 100 * 1024 ** 2, lookbackDays: 1 });
    await w.init([sensor]);
    const deadline = Date.now() + 120_000;
    let row: Record<string, unknown> | undefined;
    while (!row && Date.now() < deadline) {
      row = await getRow(w, sensor, out!.messageId);
      if (!row) await new Promise((r) => setTimeout(r, 3000));
    }
    assert.equal(row?.device_id, 'smoke-pipeline');
  });
});
