/**
 * Baseline server: a bare Fastify route that accepts a JSON body and answers a fixed body. The
 * ingest benchmark compares one-message publishes against it (same machine, same run, same
 * load generator).
 */
import Fastify from 'fastify';

const app = Fastify({ logger: false });
const answer = { messageIds: ['1'], counts: { stored: 1, duplicate: 0, dead_lettered: 0, accepted: 0 } };
app.post('/v1/streams/:stream/messages', async () => answer);
await app.listen({ host: '127.0.0.1', port: 0 });
const addr = app.server.address();
process.stdout.write(`listening on http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}\n`);
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
