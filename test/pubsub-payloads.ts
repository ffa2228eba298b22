/**
 * Real Pub/Sub delivery payloads, as Eventarc and push subscriptions send them, for tests that
 * POST them to the Functions Framework server (and for the wire module's unit tests). They are
 * typed by the documented wire types of `src/core/pubsub-wire.ts`.
 */
import { type BinaryCloudEventHeaders, MESSAGE_PUBLISHED_TYPE, type MessagePublishedCloudEvent, type PubsubMessageJson, type PushBody } from '../src/core/pubsub-wire.js';

export interface WireMessage {
  id: string;
  /** Raw payload bytes, or a JSON value (serialised). */
  data?: Uint8Array | unknown;
  /** The literal `data` field instead of base64 of `data` (for bad base64). */
  rawData?: string;
  attributes?: Record<string, string>;
  orderingKey?: string;
  publishTime?: string;
}

/** The message as Pub/Sub's REST JSON, with Eventarc's snake_case repeats of the id and time. */
export function pubsubMessageJson(m: WireMessage): PubsubMessageJson {
  const bytes = m.data instanceof Uint8Array ? m.data : m.data === undefined ? undefined : Buffer.from(JSON.stringify(m.data));
  const publishTime = m.publishTime ?? new Date().toISOString();
  return {
    ...(m.rawData !== undefined ? { data: m.rawData } : bytes ? { data: Buffer.from(bytes).toString('base64') } : {}),
    attributes: m.attributes ?? {},
    messageId: m.id,
    message_id: m.id,
    publishTime,
    publish_time: publishTime,
    ...(m.orderingKey ? { orderingKey: m.orderingKey } : {}),
  };
}

/** A request to send: path, headers, body. */
export interface WireRequest {
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** CloudEvent in structured content mode (`application/cloudevents+json`). */
export function structuredCloudEvent(project: string, topic: string, m: WireMessage, subscription = `projects/${project}/subscriptions/eventarc-${topic}`): WireRequest {
  const event: MessagePublishedCloudEvent = {
    specversion: '1.0',
    id: m.id,
    source: `//pubsub.googleapis.com/projects/${project}/topics/${topic}`,
    type: MESSAGE_PUBLISHED_TYPE,
    time: m.publishTime ?? new Date().toISOString(),
    datacontenttype: 'application/json',
    data: { message: pubsubMessageJson(m), subscription },
  };
  return { path: '/', headers: { 'content-type': 'application/cloudevents+json' }, body: JSON.stringify(event) };
}

/** CloudEvent in binary content mode (context in `ce-*` headers, data as the body): what Eventarc sends. */
export function binaryCloudEvent(project: string, topic: string, m: WireMessage, subscription = `projects/${project}/subscriptions/eventarc-${topic}`): WireRequest {
  return {
    path: '/',
    headers: {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': m.id,
      'ce-source': `//pubsub.googleapis.com/projects/${project}/topics/${topic}`,
      'ce-type': MESSAGE_PUBLISHED_TYPE,
      'ce-time': m.publishTime ?? new Date().toISOString(),
    } satisfies BinaryCloudEventHeaders,
    body: JSON.stringify({ message: pubsubMessageJson(m), subscription }),
  };
}

/**
 * The body a push subscription POSTs (its endpoint path names the topic, as `infra/` sets it).
 * `deliveryAttempt` is present when the subscription has a dead-letter policy.
 */
export function legacyPush(project: string, topic: string, m: WireMessage, subscription = `projects/${project}/subscriptions/${topic}-push`, deliveryAttempt?: number): WireRequest {
  return {
    path: `/projects/${project}/topics/${topic}`,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ message: pubsubMessageJson(m), subscription, ...(deliveryAttempt !== undefined ? { deliveryAttempt } : {}) } satisfies PushBody),
  };
}

/** POSTs a wire request; returns the status and the parsed JSON body (undefined when empty). */
export async function sendForBody(baseUrl: string, req: WireRequest): Promise<{ status: number; body: unknown }> {
  const res = await fetch(baseUrl + req.path, { method: 'POST', headers: req.headers, body: req.body });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
}

/** POSTs a wire request; returns the status. */
export async function send(baseUrl: string, req: WireRequest): Promise<number> {
  const res = await fetch(baseUrl + req.path, { method: 'POST', headers: req.headers, body: req.body });
  await res.arrayBuffer();
  return res.status;
}
