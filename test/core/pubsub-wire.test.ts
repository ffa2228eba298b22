/**
 * The Pub/Sub wire module on a table of real payloads (those the Functions Framework tests POST:
 * push body, CloudEvent binary and structured), plus base64, publish times and Tributary's
 * attributes, both ways (topic publish → ingest decode).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Message } from '@google-cloud/pubsub';
import type { InboundMessage } from '../../src/core/message.js';
import {
  attributesForPublish,
  decodeBase64,
  decodeData,
  decodePubSubMessage,
  type Delivery,
  INVALID_BASE64_DETAIL,
  MESSAGE_ID_ATTRIBUTE,
  parsePublishTime,
  readDelivery,
  readPushBody,
  toInboundMessage,
  UNDECODABLE_ATTRIBUTE,
} from '../../src/core/pubsub-wire.js';
import { inboundFromPulled } from '../../src/topic/pubsub/worker.js';
import { binaryCloudEvent, legacyPush, structuredCloudEvent, type WireMessage, type WireRequest } from '../pubsub-payloads.js';

const P = 'proj';
const T = 'trib-sensor_readings';
const TIME = '2026-11-24T10:00:00.123456789Z';
const MICROS = 1795514400123456n;

/** What the Functions Framework hands a CloudEvent function for a request (binary or structured mode). */
function asCloudEvent(req: WireRequest, data: 'text' | 'bytes' | 'parsed' = 'parsed'): Record<string, unknown> {
  if (req.headers['content-type'] === 'application/cloudevents+json') return JSON.parse(req.body) as Record<string, unknown>;
  const body = data === 'text' ? req.body : data === 'bytes' ? Buffer.from(req.body) : (JSON.parse(req.body) as unknown);
  return { specversion: req.headers['ce-specversion'], id: req.headers['ce-id'], source: req.headers['ce-source'], type: req.headers['ce-type'], time: req.headers['ce-time'], data: body };
}

function plain(d: Delivery): { message: Omit<InboundMessage, 'data'> & { data: string }; topic: string | undefined; subscription: string | undefined } {
  return { ...d, message: { ...d.message, data: Buffer.from(d.message.data).toString('latin1') } };
}

describe('Pub/Sub wire format', () => {
  const full: WireMessage = { id: 'm-1', data: { device_id: 'd', seq: 1 }, attributes: { k: 'v' }, orderingKey: 'dev-1', publishTime: TIME };
  const expected = { messageId: 'm-1', publishTime: MICROS, data: '{"device_id":"d","seq":1}', attributes: { k: 'v' }, orderingKey: 'dev-1' };
  const topic = `projects/${P}/topics/${T}`;

  const cases: { name: string; read: () => Delivery; message: Record<string, unknown>; subscription: string }[] = [
    { name: 'push body (with deliveryAttempt)', read: () => { const r = legacyPush(P, T, full, undefined, 3); return readPushBody(JSON.parse(r.body), r.path); }, message: expected, subscription: `projects/${P}/subscriptions/${T}-push` },
    { name: 'CloudEvent, structured mode', read: () => readDelivery(asCloudEvent(structuredCloudEvent(P, T, full))), message: expected, subscription: `projects/${P}/subscriptions/eventarc-${T}` },
    { name: 'CloudEvent, binary mode, data parsed', read: () => readDelivery(asCloudEvent(binaryCloudEvent(P, T, full))), message: expected, subscription: `projects/${P}/subscriptions/eventarc-${T}` },
    { name: 'CloudEvent, binary mode, data as text', read: () => readDelivery(asCloudEvent(binaryCloudEvent(P, T, full), 'text')), message: expected, subscription: `projects/${P}/subscriptions/eventarc-${T}` },
    { name: 'CloudEvent, binary mode, data as bytes', read: () => readDelivery(asCloudEvent(binaryCloudEvent(P, T, full), 'bytes')), message: expected, subscription: `projects/${P}/subscriptions/eventarc-${T}` },
    {
      name: 'bad base64: kept as its UTF-8 bytes, flagged undecodable',
      read: () => readDelivery(asCloudEvent(binaryCloudEvent(P, T, { id: 'b64', rawData: '***not base64***', publishTime: TIME }))),
      message: { messageId: 'b64', publishTime: MICROS, data: '***not base64***', attributes: {}, orderingKey: null, undecodable: INVALID_BASE64_DETAIL },
      subscription: `projects/${P}/subscriptions/eventarc-${T}`,
    },
    {
      name: 'missing data: an empty payload, not an error',
      read: () => { const r = legacyPush(P, T, { id: 'empty', publishTime: TIME }); return readPushBody(JSON.parse(r.body), r.path); },
      message: { messageId: 'empty', publishTime: MICROS, data: '', attributes: {}, orderingKey: null },
      subscription: `projects/${P}/subscriptions/${T}-push`,
    },
    {
      name: "Tributary's attributes: the chosen id replaces Pub/Sub's, the undecodable flag wins, both removed",
      read: () => readDelivery(asCloudEvent(structuredCloudEvent(P, T, { id: 'ps-9', rawData: 'not*b64', publishTime: TIME, attributes: { a: '1', [MESSAGE_ID_ATTRIBUTE]: 'mine-1', [UNDECODABLE_ATTRIBUTE]: 'flagged by the API' } }))),
      message: { messageId: 'mine-1', publishTime: MICROS, data: 'not*b64', attributes: { a: '1' }, orderingKey: null, undecodable: 'flagged by the API' },
      subscription: `projects/${P}/subscriptions/eventarc-${T}`,
    },
  ];
  for (const c of cases) {
    it(`reads ${c.name}`, () => {
      assert.deepEqual(plain(c.read()), { message: c.message, topic, subscription: c.subscription });
    });
  }

  it('refuses what is not a Pub/Sub message with INVALID_REQUEST and a message that says what is missing', () => {
    const refused: [string, () => unknown, RegExp][] = [
      ['no messageId', () => decodePubSubMessage({ data: 'e30=', publishTime: TIME }), /not a Pub\/Sub message: messageId is missing/],
      ['publishTime not RFC 3339', () => decodePubSubMessage({ messageId: '1', publishTime: 'yesterday' }), /publishTime is missing or not RFC 3339: "yesterday"/],
      ['no publishTime', () => decodePubSubMessage({ messageId: '1' }), /publishTime is missing/],
      ['message not an object', () => decodePubSubMessage('e30='), /the message must be an object/],
      ['push body without message', () => readPushBody({ hello: 'world' }, '/'), /push subscription's JSON/],
      ['CloudEvent data not JSON', () => readDelivery({ specversion: '1.0', data: '{"message":' }), /the event data is not JSON/],
      ['CloudEvent data without message', () => readDelivery({ specversion: '1.0', data: { subscription: 's' } }), /the event data has no message/],
    ];
    for (const [name, fn, message] of refused) assert.throws(fn, (e: unknown) => (e as { code?: string }).code === 'INVALID_REQUEST' && message.test((e as Error).message), name);
  });

  it('decodes base64 strictly: padding optional, no whitespace, no URL-safe alphabet', () => {
    assert.equal(Buffer.from(decodeBase64('eyJhIjoxfQ==')!).toString(), '{"a":1}');
    assert.equal(Buffer.from(decodeBase64('eyJhIjoxfQ')!).toString(), '{"a":1}');
    assert.equal(decodeBase64('')?.length, 0);
    for (const bad of ['eyJhIjoxfQ= =', 'eyJh\nIjoxfQ==', '-_-_', 'e', 'e30===', '{"a":1}']) assert.equal(decodeBase64(bad), undefined, bad);
    // The alphabet check is a table, not the regular expression it replaced: the same language.
    const RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;
    const chars = 'Az09+/=-_ \u00e9';
    const texts = ['', '=', '==', 'QQ', 'QQ=', 'QQ==', 'QUI', 'QUI=', 'QUJD', 'QUJD=', 'Q===', '====', 'QUJDRA', 'QUJDRA=', 'QUJDRA=='];
    for (let n = 0; n < 3000; n++) texts.push(Array.from({ length: n % 9 }, (_, i) => chars[(n * 7 + i * 13) % chars.length]).join(''));
    for (const t of texts) assert.equal(decodeBase64(t) !== undefined, RE.test(t), JSON.stringify(t));
    assert.deepEqual(decodeData(undefined), { data: new Uint8Array() });
    assert.deepEqual(decodeData('***'), { data: Buffer.from('***'), undecodable: INVALID_BASE64_DETAIL });
  });

  it('parses publish times to the microsecond, in both spellings, with or without a fraction', () => {
    assert.equal(parsePublishTime(TIME), MICROS);
    assert.equal(parsePublishTime('2026-11-24T10:00:00Z'), 1795514400000000n);
    assert.equal(parsePublishTime('2026-11-24T11:00:00.5+01:00'), 1795514400500000n);
    assert.equal(parsePublishTime(undefined), null);
    assert.equal(parsePublishTime(1795514400), null);
    assert.equal(decodePubSubMessage({ message_id: '7', publish_time: TIME, ordering_key: 'k' }).publishTime, MICROS);
  });

  it("keeps only string attributes, and treats an empty ordering key as none", () => {
    const m = decodePubSubMessage({ messageId: '1', publishTime: TIME, attributes: { s: 'x', n: 1, o: {} }, orderingKey: '' });
    assert.deepEqual(m.attributes, { s: 'x' });
    assert.equal(m.orderingKey, null);
  });

  it('round-trips what the topic publishes: attributesForPublish, then ingest decoding', () => {
    const attributes = attributesForPublish({ data: Buffer.from('raw'), attributes: { a: 'b' }, messageId: 'chosen', undecodable: INVALID_BASE64_DETAIL });
    assert.deepEqual(attributes, { a: 'b', [MESSAGE_ID_ATTRIBUTE]: 'chosen', [UNDECODABLE_ATTRIBUTE]: INVALID_BASE64_DETAIL });
    const inbound = toInboundMessage({ messageId: 'pubsub-1', publishTime: MICROS, data: Buffer.from('raw'), attributes, orderingKey: undefined });
    assert.deepEqual({ ...inbound, data: Buffer.from(inbound.data).toString() }, { messageId: 'chosen', publishTime: MICROS, data: 'raw', attributes: { a: 'b' }, orderingKey: null, undecodable: INVALID_BASE64_DETAIL });
    assert.deepEqual(attributesForPublish({ data: new Uint8Array() }), {});
  });

  it('hands a pulled message’s bytes through without re-encoding them', () => {
    const data = Buffer.from('{"a":1}');
    const pulled = { id: 'p-1', publishTime: { toISOString: () => TIME }, data, attributes: { [MESSAGE_ID_ATTRIBUTE]: 'mine', k: 'v' }, orderingKey: 'dev' } as unknown as Message;
    const m = inboundFromPulled(pulled);
    assert.equal(m.data, data, 'the same bytes, not a copy');
    assert.deepEqual({ ...m, data: undefined }, { messageId: 'mine', publishTime: MICROS, data: undefined, attributes: { k: 'v' }, orderingKey: 'dev' });
    assert.throws(() => inboundFromPulled({ ...pulled, publishTime: { toISOString: () => 'never' } } as unknown as Message), /not RFC 3339/);
  });
});
