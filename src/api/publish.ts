/**
 * The bodies `POST /v1/streams/{stream}/messages` accepts, turned into messages for the topic.
 *
 * - `application/json`, Pub/Sub's publish shape: `{"messages": [{"data": "<base64>",
 *   "attributes": {...}, "orderingKey": "...", "messageId": "..."}]}` (`PublishRequestBody`,
 *   documented field by field in `src/core/pubsub-wire.ts`).
 * - `application/json`, plain: one JSON object (one message) or an array of objects.
 * - `application/x-ndjson`: one JSON message per line.
 *
 * A malformed request (not JSON, wrong envelope types) is refused whole with 400 and nothing is
 * stored. A malformed *message* (bad base64, invalid JSON on an NDJSON line, schema violation)
 * is not a request error: it is dead-lettered with its reason, and its batch-mates are stored.
 */
import { TributaryError } from '../core/errors.js';
import { MAX_JSON_DEPTH, mayHoldInexactNumbers, nestsDeeperThan, parseJson, parseJsonNative, stringifyJson } from '../core/json.js';
import type { PublishMessage } from '../core/ports.js';
import { decodeData, MAX_MESSAGE_ID_LENGTH, PUBLISH_MESSAGE_FIELDS, PUBSUB_LIMITS } from '../core/pubsub-wire.js';

/** Request limits (from the configuration), following Pub/Sub's. */
export interface PublishLimits {
  readonly maxMessagesPerRequest: number;
}

const { maxAttributes: MAX_ATTRIBUTES, maxAttributeKeyBytes: MAX_ATTRIBUTE_KEY_BYTES, maxAttributeValueBytes: MAX_ATTRIBUTE_VALUE_BYTES, maxOrderingKeyBytes: MAX_ORDERING_KEY_BYTES } = PUBSUB_LIMITS;

const MESSAGE_FIELDS: ReadonlySet<string> = new Set(PUBLISH_MESSAGE_FIELDS);

function invalid(message: string, details: Record<string, unknown> = {}): TributaryError {
  return new TributaryError('INVALID_REQUEST', message, details);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseAttributes(v: unknown, at: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isObject(v)) throw invalid(`${at}.attributes: must be an object of string values`);
  const entries = Object.entries(v);
  if (entries.length > MAX_ATTRIBUTES) throw invalid(`${at}.attributes: at most ${MAX_ATTRIBUTES} attributes per message`);
  const out: Record<string, string> = {};
  for (const [k, value] of entries) {
    if (typeof value !== 'string') throw invalid(`${at}.attributes.${k}: attribute values must be strings`);
    if (k === '' || Buffer.byteLength(k) > MAX_ATTRIBUTE_KEY_BYTES) throw invalid(`${at}.attributes: keys must be 1 to ${MAX_ATTRIBUTE_KEY_BYTES} bytes`);
    if (Buffer.byteLength(value) > MAX_ATTRIBUTE_VALUE_BYTES) throw invalid(`${at}.attributes.${k}: values must be at most ${MAX_ATTRIBUTE_VALUE_BYTES} bytes`);
    if (!(k as unknown as { isWellFormed(): boolean }).isWellFormed() || !(value as unknown as { isWellFormed(): boolean }).isWellFormed()) {
      throw invalid(`${at}.attributes: keys and values must be valid Unicode`);
    }
    out[k] = value;
  }
  return out;
}

function parsePubSubMessage(m: unknown, i: number): PublishMessage {
  const at = `messages[${i}]`;
  if (!isObject(m)) throw invalid(`${at}: must be an object with data (base64) and optional attributes, orderingKey, messageId`);
  // for...in over a parsed JSON object visits its own keys only; no array of them per message.
  for (const k in m) {
    if (!MESSAGE_FIELDS.has(k)) throw invalid(`${at}.${k}: unknown property (allowed: ${PUBLISH_MESSAGE_FIELDS.join(', ')})`);
  }
  const attributes = parseAttributes(m.attributes, at);
  const out: { -readonly [K in keyof PublishMessage]: PublishMessage[K] } = { data: new Uint8Array(), attributes };
  if (m.data !== undefined && m.data !== null) {
    if (typeof m.data !== 'string') throw invalid(`${at}.data: must be a base64 string`);
    const decoded = decodeData(m.data);
    out.data = decoded.data;
    if (decoded.undecodable !== undefined) out.undecodable = decoded.undecodable;
  }
  if (m.orderingKey !== undefined && m.orderingKey !== null && m.orderingKey !== '') {
    if (typeof m.orderingKey !== 'string' || Buffer.byteLength(m.orderingKey) > MAX_ORDERING_KEY_BYTES) throw invalid(`${at}.orderingKey: must be a string of at most ${MAX_ORDERING_KEY_BYTES} bytes`);
    out.orderingKey = m.orderingKey;
  }
  if (m.messageId !== undefined && m.messageId !== null) {
    if (typeof m.messageId !== 'string' || m.messageId.length === 0 || m.messageId.length > MAX_MESSAGE_ID_LENGTH || !(m.messageId as unknown as { isWellFormed(): boolean }).isWellFormed()) {
      throw invalid(`${at}.messageId: must be a non-empty string of at most ${MAX_MESSAGE_ID_LENGTH} characters`);
    }
    out.messageId = m.messageId;
  }
  return out;
}

function checkCount(n: number, limits: PublishLimits): void {
  if (n === 0) throw invalid('the request holds no message');
  if (n > limits.maxMessagesPerRequest) {
    throw new TributaryError('TOO_MANY_MESSAGES', `the request holds ${n} messages; at most ${limits.maxMessagesPerRequest} per request`, { max: limits.maxMessagesPerRequest });
  }
}

/** Parses an `application/json` publish body (Pub/Sub shape or plain objects). */
export function parseJsonPublishBody(text: string, limits: PublishLimits): PublishMessage[] {
  let body: unknown;
  try {
    // Pub/Sub's shape holds no number a message needs (data is base64 text): parsed natively,
    // without parseJson's scan for numbers beyond a double's precision (a 370 KB body of 1,000
    // messages is mostly base64, scanned for nothing). The plain shapes are parsed losslessly.
    body = parseJsonNative(text);
  } catch (err) {
    throw invalid(`the body is not JSON: ${(err as Error).message}`);
  }
  if (isObject(body) && Array.isArray(body.messages) && Object.keys(body).length === 1) {
    checkCount(body.messages.length, limits);
    return body.messages.map(parsePubSubMessage);
  }
  if (mayHoldInexactNumbers(text)) {
    try {
      body = parseJson(text);
    } catch (err) {
      throw invalid(`the body is not JSON: ${(err as Error).message}`);
    }
  }
  const plain = Array.isArray(body) ? body : [body];
  if (!Array.isArray(body) && !isObject(body)) throw invalid('the body must be {"messages": [...]}, a JSON object, or an array of JSON objects');
  checkCount(plain.length, limits);
  return plain.map((m, i) => {
    if (nestsDeeperThan(m, MAX_JSON_DEPTH)) throw invalid(`[${i}]: nested deeper than ${MAX_JSON_DEPTH} levels`);
    return { data: Buffer.from(stringifyJson(m), 'utf8') };
  });
}

/** Parses an `application/x-ndjson` publish body: one message per non-blank line. */
export function parseNdjsonPublishBody(body: Buffer, limits: PublishLimits): PublishMessage[] {
  const out: PublishMessage[] = [];
  let start = 0;
  while (start <= body.length) {
    let end = body.indexOf(0x0a, start);
    if (end === -1) end = body.length;
    let line = body.subarray(start, end);
    if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
    if (line.some((b) => b !== 0x20 && b !== 0x09)) out.push({ data: Buffer.from(line) });
    start = end + 1;
  }
  checkCount(out.length, limits);
  return out;
}
