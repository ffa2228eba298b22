/**
 * The Cloud Function under test: the ingest CloudEvent function registered with the real
 * Functions Framework (its `getTestServer` builds the same Express app the `functions-framework`
 * CLI serves), on the BigQuery warehouse adapter pointed at the goccy BigQuery emulator, wired
 * as `createGcpRuntime` wires it (same client, same adapter options) minus the Pub/Sub client,
 * which the function does not use.
 *
 * The warehouse is wrapped to count writes (one per ingest flush), rows, insertAll calls and
 * write time. The per-message log entries are serialised as in production but written to
 * /dev/null (the parent does not read them). On SIGTERM the server stops, ingest drains, and the
 * counts are written as JSON to `<stats-file>`.
 *
 * Usage: node dist/bench/servers/function.js <bigquery-url> <project> <dataset> <batch-max-rows> <linger-ms> <regroup-ms> <stats-file>
 */
import { createWriteStream, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import type { Warehouse } from '../../src/core/ports.js';
import { loadStreams } from '../../src/core/schema.js';
import { registerIngestFunction } from '../../src/ingest/function.js';
import { Ingest } from '../../src/ingest/ingest.js';
import { createBigQueryApi } from '../../src/warehouse/bigquery/index.js';
import { BigQueryWarehouse } from '../../src/warehouse/bigquery/index.js';
import { ROOT } from '../lib.js';

/** What the parent reads back after stopping the server. */
export interface FunctionStats {
  /** `Warehouse.write` calls (one per ingest flush). */
  writes: number;
  /** Rows in those writes. */
  rows: number;
  /** Largest write, in rows. */
  maxRows: number;
  /** insertAll requests sent to the emulator (a write of more than 500 rows takes several). */
  insertAllCalls: number;
  /** Sum of the write durations, in milliseconds. */
  writeMs: number;
  /** Log entries (`message_stored` / `message_dead_lettered`). */
  logged: number;
  /** Deliveries refused (error status). */
  refused: number;
}

const [bqUrl, project, dataset, maxRowsRaw, lingerRaw, regroupRaw, statsFile] = process.argv.slice(2);
if (!bqUrl || !project || !dataset || !maxRowsRaw || !lingerRaw || !regroupRaw || !statsFile) {
  throw new Error('usage: function.js <bigquery-url> <project> <dataset> <batch-max-rows> <linger-ms> <regroup-ms> <stats-file>');
}

const stats: FunctionStats = { writes: 0, rows: 0, maxRows: 0, insertAllCalls: 0, writeMs: 0, logged: 0, refused: 0 };
const api = createBigQueryApi({ projectId: project, apiEndpoint: bqUrl, location: 'local' });
const countingApi: typeof api = {
  request(req) {
    if (req.path.endsWith('/insertAll')) stats.insertAllCalls++;
    return api.request(req);
  },
};
const registry = await loadStreams(join(ROOT, 'streams'));
const bq = new BigQueryWarehouse(countingApi, { projectId: project, dataset, location: 'local', maxBytesBilled: 10 * 1000 ** 3, emulator: true, lookbackDays: 90 });
await bq.init(registry.all());
const warehouse: Warehouse = Object.create(bq) as Warehouse;
warehouse.write = async (stream, batch) => {
  const started = performance.now();
  try {
    return await bq.write(stream, batch);
  } finally {
    stats.writes++;
    const n = batch.rows.length + batch.deadLetters.length;
    stats.rows += n;
    stats.maxRows = Math.max(stats.maxRows, n);
    stats.writeMs += performance.now() - started;
  }
};
const ingest = new Ingest({ warehouse, options: { batchMaxRows: Number(maxRowsRaw), batchLingerMs: Number(lingerRaw), batchRegroupMs: Number(regroupRaw), maxMessageBytes: 1024 * 1024, writeRetryMs: 5000 } });
const devNull = createWriteStream('/dev/null');
registerIngestFunction('benchIngest', async () => ({
  registry,
  ingest,
  topicPrefix: 'trib-',
  log: (entry) => {
    stats.logged++;
    devNull.write(`${JSON.stringify(entry)}\n`);
  },
  onError: () => void stats.refused++,
}));
const server = getTestServer('benchIngest');
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const addr = server.address();
process.stdout.write(`listening on http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}\n`);
process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close();
  void ingest.drain().then(() => {
    writeFileSync(statsFile, JSON.stringify(stats));
    process.exit(0);
  });
});
