/**
 * Baseline for the rows API: a bare Fastify route that runs the naive query per request,
 * `SELECT * ... WHERE <range and filter> ORDER BY publish_time DESC LIMIT 100`, on the same
 * DuckDB file (opened read-only), and answers the rows as JSON.
 *
 * Usage: node dist/bench/servers/naive-rows.js <data-dir>
 */
import { join } from 'node:path';
import { DuckDBInstance, DuckDBTimestampValue } from '@duckdb/node-api';
import Fastify from 'fastify';

const dataDir = process.argv[2];
if (!dataDir) throw new Error('usage: naive-rows.js <data-dir>');
const instance = await DuckDBInstance.create(join(dataDir, 'tributary.duckdb'), { access_mode: 'READ_ONLY' });
const connections = [await instance.connect(), await instance.connect()];
let next = 0;
const app = Fastify({ logger: false });
app.get<{ Querystring: { device_id: string; from: string } }>('/rows', async (req) => {
  const c = connections[next++ % connections.length]!;
  const r = await c.runAndReadAll('SELECT * FROM sensor_readings WHERE publish_time >= $1 AND device_id = $2 ORDER BY publish_time DESC LIMIT 100', [
    new DuckDBTimestampValue(BigInt(Date.parse(req.query.from)) * 1000n),
    req.query.device_id,
  ]);
  return JSON.stringify({ rows: r.getRowObjectsJson() });
});
await app.listen({ host: '127.0.0.1', port: 0 });
const addr = app.server.address();
process.stdout.write(`listening on http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}\n`);
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
