/** The publish body's parser (`src/api/publish.ts`): what it accepts, and the 400s of what it refuses. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseJsonPublishBody } from '../../src/api/publish.js';
import { isTributaryError } from '../../src/core/errors.js';

const limits = { maxMessagesPerRequest: 3 };
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64');

function refused(body: unknown, code: string, message: RegExp): void {
  assert.throws(() => parseJsonPublishBody(typeof body === 'string' ? body : JSON.stringify(body), limits), (err: unknown) => isTributaryError(err, code as never) && message.test((err as Error).message));
}

describe('publish body (Pub/Sub shape)', () => {
  it('takes data, attributes, orderingKey and messageId', () => {
    const [m] = parseJsonPublishBody(JSON.stringify({ messages: [{ data: b64({ a: 1 }), attributes: { k: 'v' }, orderingKey: 'o', messageId: 'id-1' }] }), limits);
    assert.deepEqual(JSON.parse(Buffer.from(m!.data).toString()), { a: 1 });
    assert.deepEqual(m!.attributes, { k: 'v' });
    assert.equal(m!.orderingKey, 'o');
    assert.equal(m!.messageId, 'id-1');
  });

  it('refuses a message property it does not know, naming it and the allowed ones', () => {
    refused({ messages: [{ data: b64({}) }, { data: b64({}), publishTime: 'x' }] }, 'INVALID_REQUEST', /^messages\[1\]\.publishTime: unknown property \(allowed: data, attributes, orderingKey, messageId\)$/);
    // JSON.parse makes "__proto__" an own property: it is refused like any other.
    refused('{"messages":[{"__proto__":{"data":""}}]}', 'INVALID_REQUEST', /^messages\[0\]\.__proto__: unknown property/);
  });

  it('refuses attributes that are not strings, and too many messages', () => {
    refused({ messages: [{ data: b64({}), attributes: { n: 1 } }] }, 'INVALID_REQUEST', /^messages\[0\]\.attributes\.n: attribute values must be strings$/);
    refused({ messages: [{}, {}, {}, {}] }, 'TOO_MANY_MESSAGES', /holds 4 messages; at most 3/);
  });
});
