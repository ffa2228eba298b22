/**
 * Baseline for the aggregate API: a bare Fastify route that runs, per request, the raw SQL the
 * DuckDB adapter builds for `interval=1m&metric=count,avg:temperature_c` over `from`..`to`
 * before it kept minute rollups (a plain scan of the table, same GROUP BY / ORDER BY / LIMIT), on
 * the same DuckDB file opened read-only with two connections (as the adapter's read pool), and
 * answers the rows as JSON. `?prefix=` adds `starts_with(device_id, prefix)`.
 *
 * Usage: node dist/bench/servers/raw-aggregate.js <data-dir>
 */
import { join } from 'node:path';
import { DuckDBInstance, DuckDBTimestampValue } from '@duckdb/node-api';
import Fastify from 'fastify';

const dataDir = process.argv[2];
if (!dataDir) throw new Error('usage: raw-aggregate.js <data-dir>');
const instance = await DuckDBInstance.create(join(dataDir, 'tributary.duckdb'), { access_mode: 'READ_ONLY' });
const connections = [await instance.connect(), await instance.connect()];
let next = 0;
// The scan as the adapter built it before rollups (a timestamp per row); with `prefix`, only the
// rows whose device_id starts with it.
const sql = (filtered: boolean) =>
  'SELECT make_timestamp(((epoch_us(publish_time) // $1::BIGINT) * $1::BIGINT)::BIGINT), count(*), avg("temperature_c")::DOUBLE FROM "sensor_readings" ' +
  `WHERE publish_time >= $2 AND publish_time < $3${filtered ? ' AND starts_with(device_id, $5)' : ''} GROUP BY 1 ORDER BY 1 ASC NULLS FIRST LIMIT $4`;
const app = Fastify({ logger: false });
app.get<{ Querystring: { from: string; to: string; prefix?: string } }>('/aggregate', async (req) => {
  const c = connections[next++ % connections.length]!;
  const prefix = req.query.prefix;
  const r = await c.runAndReadAll(sql(prefix !== undefined), [
    60_000_000n,
    new DuckDBTimestampValue(BigInt(Date.parse(req.query.from)) * 1000n),
    new DuckDBTimestampValue(BigInt(Date.parse(req.query.to)) * 1000n),
    10_001n,
    ...(prefix !== undefined ? [prefix] : []),
  ]);
  return JSON.stringify({ rows: r.getRowObjectsJson() });
});
await app.listen({ host: '127.0.0.1', port: 0 });
const addr = app.server.address();
process.stdout.write(`listening on http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}\n`);
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
