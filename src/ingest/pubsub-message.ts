/**
 * Pub/Sub's wire formats as ingest receives them, decoded into {@link InboundMessage}s.
 *
 * - **CloudEvent** `google.cloud.pubsub.topic.v1.messagePublished` (what Eventarc pushes to a
 *   gen2 Cloud Function), in either content mode:
 *   - *binary*: attributes in `ce-*` headers (`ce-id`, `ce-source`, `ce-type`, `ce-specversion`,
 *     `ce-time`), the body is the event data, `content-type: application/json`;
 *   - *structured*: `content-type: application/cloudevents+json`, one JSON object with
 *     `specversion`, `id`, `source` (`//pubsub.googleapis.com/projects/P/topics/T`), `type`,
 *     `time` and `data`.
 *   In both, `data` is `MessagePublishedData`: `{"message": PubsubMessage, "subscription": "projects/P/subscriptions/S"}`.
 * - **Legacy push body** (a push subscription pointed straight at an HTTP endpoint):
 *   `{"message": PubsubMessage, "subscription": "projects/P/subscriptions/S"}`.
 *
 * `PubsubMessage` (REST JSON): `data` (base64, may be absent for an empty payload),
 * `attributes` (string map), `messageId`, `publishTime` (RFC 3339, up to nanoseconds),
 * `orderingKey` (optional). Eventarc also repeats the id and time as `message_id` and
 * `publish_time`; both spellings are accepted.
 */
import { TributaryError } from '../core/errors.js';
import type { InboundMessage } from '../core/message.js';
import type { StreamDef, StreamRegistry } from '../core/schema.js';
import { parseTimestamp } from '../core/time.js';
import { decodeBase64 } from '../api/publish.js';

/**
 * Attribute that carries why the HTTP API could not decode a message's data (bad base64): the
 * raw text is published as is (gcp mode) and ingest dead-letters it as INVALID_ENCODING.
 */
export const UNDECODABLE_ATTRIBUTE = 'tributary-undecodable';

/**
 * Attribute that carries a publisher-chosen message ID (the `messageId` of the HTTP publish body,
 * which `tributary publish` always sets): ingest uses it as the idempotency key instead of
 * Pub/Sub's own ID, so a publish retried after a timeout is stored once, as with the embedded
 * topic.
 */
export const MESSAGE_ID_ATTRIBUTE = 'tributary-message-id';

/** A Pub/Sub message in REST JSON. */
export interface PubsubMessageJson {
  data?: string;
  attributes?: Record<string, string>;
  messageId?: string;
  message_id?: string;
  publishTime?: string;
  publish_time?: string;
  orderingKey?: string;
  ordering_key?: string;
}

/** The data of a messagePublished CloudEvent, and the legacy push body. */
export interface MessagePublishedData {
  message: PubsubMessageJson;
  subscription?: string;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function malformed(message: string): TributaryError {
  return new TributaryError('INVALID_REQUEST', `not a Pub/Sub message: ${message}`);
}

/**
 * Decodes one Pub/Sub message. A payload that is not base64 is still ingested, as an
 * INVALID_ENCODING dead letter; a message without id or publish time is not a Pub/Sub message
 * at all and throws INVALID_REQUEST.
 */
export function decodePubSubMessage(m: unknown): InboundMessage {
  if (!isObject(m)) throw malformed('the message must be an object');
  const id = m.messageId ?? m.message_id;
  if (typeof id !== 'string' || id === '') throw malformed('messageId is missing');
  const timeText = m.publishTime ?? m.publish_time;
  const publishTime = typeof timeText === 'string' ? parseTimestamp(timeText) : null;
  if (publishTime === null) throw malformed(`publishTime is missing or not RFC 3339: ${JSON.stringify(timeText)}`);
  const attributes: Record<string, string> = {};
  if (isObject(m.attributes)) {
    for (const [k, v] of Object.entries(m.attributes)) if (typeof v === 'string') attributes[k] = v;
  }
  const key = m.orderingKey ?? m.ordering_key;
  const orderingKey = typeof key === 'string' && key !== '' ? key : null;
  // The HTTP API publishes data it could not base64-decode as is, flagged by this attribute.
  let data: Uint8Array = new Uint8Array();
  let undecodable: string | undefined;
  const chosenId = attributes[MESSAGE_ID_ATTRIBUTE];
  delete attributes[MESSAGE_ID_ATTRIBUTE];
  const flagged = attributes[UNDECODABLE_ATTRIBUTE];
  if (flagged !== undefined) {
    delete attributes[UNDECODABLE_ATTRIBUTE];
    undecodable = flagged;
  }
  if (typeof m.data === 'string' && m.data !== '') {
    const bytes = decodeBase64(m.data);
    if (bytes) data = bytes;
    else {
      data = Buffer.from(m.data, 'utf8');
      undecodable ??= 'the data field is not valid base64';
    }
  }
  return { messageId: chosenId !== undefined && chosenId !== '' ? chosenId : id, publishTime, data, attributes, orderingKey, ...(undecodable !== undefined ? { undecodable } : {}) };
}

/** The event (CloudEvent or legacy push body) reduced to what ingest needs. */
export interface Delivery {
  readonly message: InboundMessage;
  /** `projects/P/topics/T` when known. */
  readonly topic: string | undefined;
  /** `projects/P/subscriptions/S` when known. */
  readonly subscription: string | undefined;
}

/**
 * Reads a delivery from what the Functions Framework hands a CloudEvent function: a CloudEvent
 * (`data` already parsed, or raw JSON bytes/text), or a legacy push body that it did not convert.
 */
export function readDelivery(event: unknown): Delivery {
  if (!isObject(event)) throw malformed('the event is not an object');
  let data: unknown = 'specversion' in event || 'data' in event ? event.data : event;
  if (Buffer.isBuffer(data) || data instanceof Uint8Array) data = Buffer.from(data).toString('utf8');
  if (typeof data === 'string') {
    try {
      data = JSON.parse(data) as unknown;
    } catch {
      throw malformed('the event data is not JSON');
    }
  }
  if (!isObject(data) || !isObject(data.message)) throw malformed('the event data has no message');
  const source = typeof event.source === 'string' ? event.source : '';
  const topic = /projects\/[^/]+\/topics\/[^/?]+/.exec(source)?.[0];
  const subscription = typeof data.subscription === 'string' ? data.subscription : undefined;
  return { message: decodePubSubMessage(data.message), topic, subscription };
}

/**
 * Reads a delivery from a push subscription's body `{"message": PubsubMessage, "subscription":
 * "projects/P/subscriptions/S", "deliveryAttempt": n}` (as parsed JSON), posted to an endpoint
 * whose path may name the topic (`.../projects/P/topics/T`).
 */
export function readPushBody(body: unknown, path: string): Delivery {
  if (!isObject(body) || !isObject(body.message)) {
    throw malformed('the body must be a push subscription\'s JSON {"message": {...}, "subscription": "..."} (content-type application/json)');
  }
  const topic = /projects\/[^/]+\/topics\/[^/?]+/.exec(path)?.[0];
  const subscription = typeof body.subscription === 'string' ? body.subscription : undefined;
  return { message: decodePubSubMessage(body.message), topic, subscription };
}

/**
 * The stream a delivery belongs to: the topic named `<prefix><stream>` (from the CloudEvent
 * source or the push endpoint's path), else a subscription named `<prefix><stream>...` (the
 * stream's underscores may be hyphens), else the only stream defined.
 */
export function resolveStream(registry: StreamRegistry, prefix: string, delivery: Pick<Delivery, 'topic' | 'subscription'>): StreamDef {
  const topicName = delivery.topic?.split('/').pop();
  if (topicName?.startsWith(prefix)) {
    const s = registry.find(topicName.slice(prefix.length));
    if (s) return s;
  }
  const sub = delivery.subscription?.split('/').pop();
  if (sub?.startsWith(prefix)) {
    const rest = sub.slice(prefix.length);
    // Longest stream name first: `a_b` wins over `a` for subscription `a_b-push`. The stream's
    // name may be spelled with hyphens, as in the subscriptions infra/ creates
    // (`<prefix>sensor-readings-ingest` for sensor_readings).
    const named = (spelled: string) => rest === spelled || rest.startsWith(`${spelled}-`) || rest.startsWith(`${spelled}_`) || rest.startsWith(`${spelled}.`);
    const match = registry.all().map((s) => s.name).sort((a, b) => b.length - a.length).find((n) => named(n) || named(n.replaceAll('_', '-')));
    if (match) return registry.get(match);
  }
  const all = registry.all();
  if (all.length === 1) return all[0]!;
  throw new TributaryError('UNKNOWN_STREAM', `cannot tell the stream of this delivery (topic ${delivery.topic ?? 'unknown'}, subscription ${delivery.subscription ?? 'unknown'}); topics must be named <prefix><stream> with prefix "${prefix}"`);
}
