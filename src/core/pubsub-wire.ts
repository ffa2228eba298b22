/**
 * The Pub/Sub wire format, in one place: the shapes Pub/Sub and Eventarc send (push body,
 * CloudEvent `messagePublished` in binary and structured content mode), the publish body of the
 * HTTP API, the attributes Tributary adds to a message, and their decoding into
 * {@link InboundMessage}s. Everything that reads or writes Pub/Sub messages uses this module: the
 * Cloud Functions (`src/ingest/function.ts`), the topic and the pull worker
 * (`src/topic/pubsub/`), and the publish route (`src/api/publish.ts`).
 *
 * References: PubsubMessage (https://cloud.google.com/pubsub/docs/reference/rest/v1/PubsubMessage),
 * push delivery (https://cloud.google.com/pubsub/docs/push#receive_push), the Pub/Sub CloudEvent
 * (https://github.com/googleapis/google-cloudevents/blob/main/proto/google/events/cloud/pubsub/v1/data.proto).
 */
import { TributaryError } from './errors.js';
import type { InboundMessage } from './message.js';
import type { PublishMessage } from './ports.js';
import { parseTimestamp } from './time.js';

// ---------------------------------------------------------------------------------------------
// Attributes Tributary adds to a message

/**
 * Attribute that carries a publisher-chosen message ID (the `messageId` of the HTTP publish body,
 * which `tributary publish` always sets): ingest uses it as the idempotency key instead of
 * Pub/Sub's own ID, so a publish retried after a timeout is stored once, as with the embedded
 * topic. Ingest removes it from the stored attributes.
 */
export const MESSAGE_ID_ATTRIBUTE = 'tributary-message-id';

/**
 * Attribute that carries why the HTTP API could not decode a message's data (bad base64): the
 * raw text is published as is (gcp mode) and ingest dead-letters it as INVALID_ENCODING, with
 * this attribute's value as the detail. Ingest removes it from the stored attributes.
 */
export const UNDECODABLE_ATTRIBUTE = 'tributary-undecodable';

/** The dead-letter detail of a message whose `data` is not base64 (reason INVALID_ENCODING). */
export const INVALID_BASE64_DETAIL = 'the data field is not valid base64';

// ---------------------------------------------------------------------------------------------
// What Pub/Sub sends

/**
 * A Pub/Sub message in REST JSON, as it appears in a push body and in the data of a
 * `messagePublished` CloudEvent.
 *
 * {@link https://cloud.google.com/pubsub/docs/reference/rest/v1/PubsubMessage}
 */
export interface PubsubMessageJson {
  /**
   * The payload, standard base64 (padding optional). Absent (or `""`) for an empty payload: a
   * message may carry attributes only. Tributary dead-letters a payload that is not base64 as
   * INVALID_ENCODING rather than refusing the delivery.
   */
  data?: string;
  /**
   * Attributes, a map of string to string (at most 100; keys up to 256 bytes, values up to 1024
   * bytes). May hold {@link MESSAGE_ID_ATTRIBUTE} and {@link UNDECODABLE_ATTRIBUTE}, which ingest
   * reads and removes.
   */
  attributes?: Record<string, string>;
  /**
   * ID assigned by Pub/Sub when the message was published, unique within the topic; a redelivery
   * carries the same ID. Required: it is the idempotency key (unless the publisher chose one).
   */
  messageId?: string;
  /** {@link messageId} as Eventarc repeats it (snake_case); either spelling is accepted. */
  message_id?: string;
  /**
   * When Pub/Sub accepted the message: RFC 3339 UTC ("Zulu"), with up to nine fractional digits
   * (`2026-11-24T10:00:00.123456789Z`). Required; stored to the microsecond (the rest truncated).
   */
  publishTime?: string;
  /** {@link publishTime} as Eventarc repeats it (snake_case); either spelling is accepted. */
  publish_time?: string;
  /**
   * If non-empty, messages with the same key are delivered in publish order (when the
   * subscription enables ordering). Absent or `""` when the message has none.
   */
  orderingKey?: string;
  /** {@link orderingKey}, snake_case; either spelling is accepted. */
  ordering_key?: string;
}

/**
 * The body a push subscription POSTs to its endpoint (`content-type: application/json`). The
 * endpoint's path may name the topic (`.../projects/P/topics/T`), as `infra/` sets it.
 *
 * {@link https://cloud.google.com/pubsub/docs/push#receive_push}
 */
export interface PushBody {
  /** The delivered message. */
  message: PubsubMessageJson;
  /** The subscription that delivered it: `projects/{project}/subscriptions/{subscription}`. */
  subscription?: string;
  /**
   * How many times Pub/Sub has tried to deliver this message (1 on the first attempt). Only
   * present when the subscription has a dead-letter policy; Tributary does not need it.
   */
  deliveryAttempt?: number;
}

/** The CloudEvent `type` of a message published to a Pub/Sub topic (Eventarc). */
export const MESSAGE_PUBLISHED_TYPE = 'google.cloud.pubsub.topic.v1.messagePublished';

/**
 * The `data` of a `google.cloud.pubsub.topic.v1.messagePublished` CloudEvent
 * (`google.events.cloud.pubsub.v1.MessagePublishedData`): the same shape as a push body, without
 * `deliveryAttempt`.
 */
export interface MessagePublishedData {
  /** The published message. */
  message: PubsubMessageJson;
  /** The Eventarc trigger's subscription: `projects/{project}/subscriptions/{subscription}`. */
  subscription?: string;
}

/**
 * A `messagePublished` CloudEvent in **structured** content mode: the whole event is the body
 * (`content-type: application/cloudevents+json`).
 *
 * In **binary** content mode (what Eventarc sends) the same context attributes travel as HTTP
 * headers (`ce-specversion`, `ce-id`, `ce-source`, `ce-type`, `ce-time`; see
 * {@link BinaryCloudEventHeaders}) and the body is the {@link MessagePublishedData} itself
 * (`content-type: application/json`). The Functions Framework reads either mode and hands the
 * function an object of this shape, with `data` parsed or as raw JSON text/bytes.
 */
export interface MessagePublishedCloudEvent {
  /** CloudEvents version: `1.0`. */
  specversion: string;
  /** Event ID; for Pub/Sub, the message ID. */
  id: string;
  /** The topic: `//pubsub.googleapis.com/projects/{project}/topics/{topic}`. */
  source: string;
  /** {@link MESSAGE_PUBLISHED_TYPE}. */
  type: string;
  /** RFC 3339 time of the event (the publish time). */
  time?: string;
  /** `application/json` when present. */
  datacontenttype?: string;
  /** The message and the subscription. */
  data: MessagePublishedData;
}

/** The HTTP headers of a `messagePublished` CloudEvent in binary content mode. */
export interface BinaryCloudEventHeaders {
  'content-type': 'application/json';
  /** `1.0`. */
  'ce-specversion': string;
  /** Event ID; for Pub/Sub, the message ID. */
  'ce-id': string;
  /** `//pubsub.googleapis.com/projects/{project}/topics/{topic}`. */
  'ce-source': string;
  /** {@link MESSAGE_PUBLISHED_TYPE}. */
  'ce-type': string;
  /** RFC 3339 time of the event. */
  'ce-time'?: string;
}

// ---------------------------------------------------------------------------------------------
// What the HTTP API accepts (POST /v1/streams/{stream}/messages, Pub/Sub's publish shape)

/**
 * One message of the Pub/Sub-shaped publish body `{"messages": [PublishRequestMessage, ...]}`
 * (`application/json`), modelled on Pub/Sub's `topics.publish`. No other property is allowed.
 */
export interface PublishRequestMessage {
  /** The payload, standard base64 (padding optional); absent for an empty payload. Not base64: dead-lettered as INVALID_ENCODING. */
  data?: string | null;
  /** Attributes (at most 100; keys 1 to 256 bytes, values up to 1024 bytes, valid Unicode). */
  attributes?: Record<string, string> | null;
  /** Ordering key, at most 1024 bytes. */
  orderingKey?: string | null;
  /**
   * Publisher-chosen idempotency key, 1 to 256 characters: publishing the same ID twice stores
   * one row. With Pub/Sub it travels as {@link MESSAGE_ID_ATTRIBUTE}.
   */
  messageId?: string | null;
}

/** The Pub/Sub-shaped publish body of the HTTP API. */
export interface PublishRequestBody {
  messages: PublishRequestMessage[];
}

/** Pub/Sub's limits on a message, which the publish body enforces too. */
export const PUBSUB_LIMITS = {
  /** Most attributes per message. */
  maxAttributes: 100,
  /** Longest attribute key, in UTF-8 bytes. */
  maxAttributeKeyBytes: 256,
  /** Longest attribute value, in UTF-8 bytes. */
  maxAttributeValueBytes: 1024,
  /** Longest ordering key, in UTF-8 bytes. */
  maxOrderingKeyBytes: 1024,
} as const;

/** Longest publisher-chosen message ID of the publish body, in characters. */
export const MAX_MESSAGE_ID_LENGTH = 256;

/** The properties a {@link PublishRequestMessage} may have, in documentation order. */
export const PUBLISH_MESSAGE_FIELDS: readonly (keyof PublishRequestMessage)[] = ['data', 'attributes', 'orderingKey', 'messageId'];

// ---------------------------------------------------------------------------------------------
// Decoding

/** 1 for the characters of the standard base64 alphabet (A-Z, a-z, 0-9, +, /), by char code. */
const BASE64_ALPHABET = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/') BASE64_ALPHABET[c.charCodeAt(0)] = 1;

/**
 * True when `text` is standard base64: groups of 4 characters of the alphabet, the last group
 * of 2 or 3 characters, padded with `==` or `=` or not at all (the language of
 * `^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$`, without a regular
 * expression: one table look per character measured about 5 times faster on 270-character
 * payloads, and this runs once per published message).
 */
export function isBase64(text: string): boolean {
  let end = text.length;
  if (end >= 2 && text.charCodeAt(end - 1) === 61 && text.charCodeAt(end - 2) === 61) {
    end -= 2;
    if (end % 4 !== 2) return false;
  } else if (end >= 1 && text.charCodeAt(end - 1) === 61) {
    end -= 1;
    if (end % 4 !== 3) return false;
  } else if (end % 4 === 1) {
    return false;
  }
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c > 127 || BASE64_ALPHABET[c] === 0) return false;
  }
  return true;
}

/**
 * Decodes standard base64 strictly (padding optional; no whitespace, no URL-safe alphabet);
 * undefined when the text is not base64. (Node's own decoder skips what it does not understand.)
 */
export function decodeBase64(text: string): Uint8Array | undefined {
  return isBase64(text) ? Buffer.from(text, 'base64') : undefined;
}

/** The payload of a message's `data` field: its bytes, and why it could not be decoded if so. */
export interface DecodedData {
  /** The decoded bytes; when the text is not base64, its UTF-8 bytes (kept as the dead letter's payload). */
  readonly data: Uint8Array;
  /** {@link INVALID_BASE64_DETAIL} when the text is not base64. */
  readonly undecodable?: string;
}

/**
 * Decodes a `data` field. Absent or `""` is an empty payload; text that is not base64 is not an
 * error here: it is kept as its UTF-8 bytes and flagged, so that ingest dead-letters it
 * (INVALID_ENCODING) with its batch-mates stored.
 */
export function decodeData(text: string | undefined): DecodedData {
  if (text === undefined || text === '') return { data: new Uint8Array() };
  const bytes = decodeBase64(text);
  return bytes ? { data: bytes } : { data: Buffer.from(text, 'utf8'), undecodable: INVALID_BASE64_DETAIL };
}

/** Parses a publish time (RFC 3339 with a zone, up to nanoseconds) into epoch microseconds; null when it is not one. */
export function parsePublishTime(text: unknown): bigint | null {
  return typeof text === 'string' ? parseTimestamp(text) : null;
}

/** The `projects/P/topics/T` inside a CloudEvent source or a push endpoint's path, if any. */
export function topicFromPath(text: string): string | undefined {
  return /projects\/[^/]+\/topics\/[^/?]+/.exec(text)?.[0];
}

/** The attributes to publish for a message: its own, plus Tributary's (message ID, undecodable). */
export function attributesForPublish(m: PublishMessage): Record<string, string> {
  const attributes: Record<string, string> = { ...(m.attributes ?? {}) };
  if (m.undecodable !== undefined) attributes[UNDECODABLE_ATTRIBUTE] = m.undecodable;
  if (m.messageId !== undefined) attributes[MESSAGE_ID_ATTRIBUTE] = m.messageId;
  return attributes;
}

/** A Pub/Sub message with its payload as bytes (as the client library hands pulled messages). */
export interface ReceivedMessage {
  /** Pub/Sub's message ID. */
  readonly messageId: string;
  /** Epoch microseconds. */
  readonly publishTime: bigint;
  readonly data: Uint8Array;
  readonly attributes: Readonly<Record<string, string>> | undefined;
  readonly orderingKey: string | undefined;
  /** Why `data` could not be decoded, if it came as text that is not base64. */
  readonly undecodable?: string;
}

/**
 * Turns a received message into ingest's {@link InboundMessage}: reads and removes Tributary's
 * attributes (a publisher-chosen ID replaces Pub/Sub's; an undecodable flag makes it an
 * INVALID_ENCODING dead letter), keeps string attributes only, an empty ordering key is none.
 */
export function toInboundMessage(m: ReceivedMessage): InboundMessage {
  const attributes: Record<string, string> = {};
  if (m.attributes) for (const [k, v] of Object.entries(m.attributes)) if (typeof v === 'string') attributes[k] = v;
  const chosenId = attributes[MESSAGE_ID_ATTRIBUTE];
  delete attributes[MESSAGE_ID_ATTRIBUTE];
  // The HTTP API publishes data it could not base64-decode as is, flagged by this attribute.
  let undecodable = attributes[UNDECODABLE_ATTRIBUTE];
  delete attributes[UNDECODABLE_ATTRIBUTE];
  undecodable ??= m.undecodable;
  return {
    messageId: chosenId !== undefined && chosenId !== '' ? chosenId : m.messageId,
    publishTime: m.publishTime,
    data: m.data,
    attributes,
    orderingKey: m.orderingKey !== undefined && m.orderingKey !== '' ? m.orderingKey : null,
    ...(undecodable !== undefined ? { undecodable } : {}),
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function malformed(message: string): TributaryError {
  return new TributaryError('INVALID_REQUEST', `not a Pub/Sub message: ${message}`);
}

/**
 * Decodes one {@link PubsubMessageJson} (push body or CloudEvent data). A payload that is not
 * base64 is still a message, flagged undecodable (an INVALID_ENCODING dead letter); a message
 * without ID or publish time is not a Pub/Sub message at all and throws INVALID_REQUEST.
 */
export function decodePubSubMessage(m: unknown): InboundMessage {
  if (!isObject(m)) throw malformed('the message must be an object');
  const id = m.messageId ?? m.message_id;
  if (typeof id !== 'string' || id === '') throw malformed('messageId is missing');
  const timeText = m.publishTime ?? m.publish_time;
  const publishTime = parsePublishTime(timeText);
  if (publishTime === null) throw malformed(`publishTime is missing or not RFC 3339: ${JSON.stringify(timeText)}`);
  const key = m.orderingKey ?? m.ordering_key;
  const decoded = decodeData(typeof m.data === 'string' ? m.data : undefined);
  return toInboundMessage({
    messageId: id,
    publishTime,
    data: decoded.data,
    attributes: isObject(m.attributes) ? (m.attributes as Record<string, string>) : undefined,
    orderingKey: typeof key === 'string' ? key : undefined,
    ...(decoded.undecodable !== undefined ? { undecodable: decoded.undecodable } : {}),
  });
}

/** A delivery (CloudEvent or push body) reduced to what ingest needs. */
export interface Delivery {
  readonly message: InboundMessage;
  /** `projects/P/topics/T` when known. */
  readonly topic: string | undefined;
  /** `projects/P/subscriptions/S` when known. */
  readonly subscription: string | undefined;
}

/**
 * Reads a delivery from what the Functions Framework hands a CloudEvent function: a
 * {@link MessagePublishedCloudEvent} (`data` already parsed, or raw JSON bytes/text), or a push
 * body that it did not convert.
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
  const topic = topicFromPath(typeof event.source === 'string' ? event.source : '');
  const subscription = typeof data.subscription === 'string' ? data.subscription : undefined;
  return { message: decodePubSubMessage(data.message), topic, subscription };
}

/**
 * Reads a delivery from a {@link PushBody} (as parsed JSON), posted to an endpoint whose path may
 * name the topic (`.../projects/P/topics/T`).
 */
export function readPushBody(body: unknown, path: string): Delivery {
  if (!isObject(body) || !isObject(body.message)) {
    throw malformed('the body must be a push subscription\'s JSON {"message": {...}, "subscription": "..."} (content-type application/json)');
  }
  const subscription = typeof body.subscription === 'string' ? body.subscription : undefined;
  return { message: decodePubSubMessage(body.message), topic: topicFromPath(path), subscription };
}
