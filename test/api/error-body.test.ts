/**
 * One error body on every HTTP surface: the API's error handler, the HTTP server's client-error
 * handler (malformed HTTP on a raw socket, which Fastify never sees) and the push Cloud Function
 * (through the real Functions Framework). Each answer is validated with ajv against
 * `errorBodySchema`, `requestId` included, and all three come from `core/error-body.ts`.
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { Ajv } from 'ajv';
import { errorBodySchema } from '../../src/core/error-body.js';
import { ERROR_CODES } from '../../src/core/errors.js';
import { registerPushFunction } from '../../src/ingest/function.js';
import { type RunningServer } from '../../src/main/server.js';
import { startTestServer } from '../helpers.js';

const ajv = new Ajv({ strict: false, allErrors: true });
const validate = ajv.compile(errorBodySchema);

/** Asserts that `body` is the one error body with `code`, its status, and a non-empty requestId. */
function assertErrorBody(body: unknown, code: keyof typeof ERROR_CODES, status: number, surface: string): string {
  assert.ok(validate(body), `${surface}: ${ajv.errorsText(validate.errors)} in ${JSON.stringify(body)}`);
  const e = (body as { error: { code: string; status: number; requestId: string; message: string } }).error;
  assert.equal(e.code, code, surface);
  assert.equal(e.status, ERROR_CODES[code].status, surface);
  assert.equal(status, e.status, `${surface}: HTTP status is the body's`);
  assert.ok(e.requestId.length > 0, `${surface}: requestId`);
  assert.ok(e.message.length > 0, `${surface}: message`);
  return e.requestId;
}

/** Sends raw bytes and reads the whole answer until the server closes the connection. */
function rawExchange(url: string, bytes: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let out = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (out += d));
    socket.on('end', () => resolve(out));
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer in 10 s')));
    socket.write(bytes);
  });
}

describe('one error body on every surface', () => {
  let server: RunningServer & { stop: () => Promise<void> };
  let push: Server;
  let pushUrl: string;

  before(async () => {
    server = await startTestServer();
    // A push function whose deps never resolve a stream: every delivery here is refused before.
    registerPushFunction('errorBodyPush', async () => {
      throw new Error('not reached: the requests of this test are refused before ingest');
    });
    push = getTestServer('errorBodyPush');
    await new Promise<void>((resolve) => push.listen(0, '127.0.0.1', resolve));
    const addr = push.address();
    pushUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  });
  after(async () => {
    push?.closeAllConnections?.();
    await new Promise<void>((resolve) => (push ? push.close(() => resolve()) : resolve()));
    await server?.stop();
  });

  it('API: a 4xx from a route and from the not-found handler', async () => {
    const res = await fetch(`${server.url}/v1/streams/no_such_stream/rows`, { headers: { 'x-request-id': 'shape-test-1' } });
    const id = assertErrorBody(await res.json(), 'UNKNOWN_STREAM', res.status, 'API route');
    assert.equal(id, 'shape-test-1', 'the caller\'s request id is kept');
    assert.equal(res.headers.get('x-request-id'), id);
    const missing = await fetch(`${server.url}/v2/nothing`);
    assertErrorBody(await missing.json(), 'NOT_FOUND', missing.status, 'API not found');
  });

  it('client-error handler: malformed HTTP on a raw socket', async () => {
    const answer = await rawExchange(server.url, 'GARBAGE / HTTP/1.1\r\nHost: x\r\n\r\n');
    const [head, body] = answer.split('\r\n\r\n');
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head ?? '')?.[1]);
    assert.match(head ?? '', /content-type: application\/json/i);
    assertErrorBody(JSON.parse(body ?? ''), 'INVALID_REQUEST', status, 'client error');
  });

  it('push function: a 4xx through the Functions Framework, with the request id in the answer and its header', async () => {
    const get = await fetch(`${pushUrl}/`, { headers: { 'x-request-id': 'shape-test-2' } });
    const id = assertErrorBody(await get.json(), 'METHOD_NOT_ALLOWED', get.status, 'push function');
    assert.equal(id, 'shape-test-2');
    assert.equal(get.headers.get('x-request-id'), 'shape-test-2');
    // Without any id header, one is made.
    const bare = await fetch(`${pushUrl}/`, { method: 'PUT', body: '{}', headers: { 'content-type': 'application/json' } });
    const made = assertErrorBody(await bare.json(), 'METHOD_NOT_ALLOWED', bare.status, 'push function, no id header');
    assert.match(made, /^[0-9a-f-]{36}$/);
  });

  it('push function: an unexpected error is INTERNAL in the same body, details hidden', async () => {
    const res = await fetch(`${pushUrl}/projects/p/topics/t`, { method: 'POST', body: JSON.stringify({ message: { data: '' } }), headers: { 'content-type': 'application/json', 'function-execution-id': 'exec-42' } });
    const id = assertErrorBody(await res.json(), 'INTERNAL', res.status, 'push function, unexpected');
    assert.equal(id, 'exec-42');
  });
});
