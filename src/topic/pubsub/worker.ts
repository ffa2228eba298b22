import type { Message, PubSub, Subscription } from '@google-cloud/pubsub';
import { TributaryError } from '../../core/errors.js';
import type { InboundMessage } from '../../core/message.js';
import { parsePublishTime, toInboundMessage } from '../../core/pubsub-wire.js';
import type { StreamRegistry } from '../../core/schema.js';
import type { Ingest } from '../../ingest/ingest.js';

/** Settings of the pull worker. */
export interface PullWorkerOptions {
  /** Topic of a stream = prefix + stream name; its subscription = topic + suffix. */
  readonly topicPrefix: string;
  readonly subscriptionSuffix: string;
  /** Most messages outstanding (unacknowledged) per stream. */
  readonly maxOutstanding: number;
  readonly onError?: (stream: string, err: unknown) => void;
}

/** A running pull worker. */
export interface PullWorker {
  /** Subscription names, by stream. */
  readonly subscriptions: ReadonlyMap<string, string>;
  /** Stops pulling, waits for the messages in flight to be acknowledged or nacked. */
  close(): Promise<void>;
}

/**
 * A pulled message as ingest's InboundMessage: the client library hands the payload as bytes,
 * passed through as is; Tributary's attributes are read as for push deliveries.
 */
export function inboundFromPulled(m: Message): InboundMessage {
  const text = m.publishTime.toISOString();
  const publishTime = parsePublishTime(text);
  if (publishTime === null) throw new TributaryError('INVALID_REQUEST', `not a Pub/Sub message: publishTime is not RFC 3339: ${JSON.stringify(text)}`);
  return toInboundMessage({ messageId: m.id, publishTime, data: m.data, attributes: m.attributes, orderingKey: m.orderingKey });
}

/**
 * `tributary worker`: runs ingest from one pull subscription per stream (streaming pull), for
 * deployments on Cloud Run or GKE instead of Cloud Functions. Each message is acknowledged only
 * once its row or dead letter is committed, and nacked (redelivered) on a transient failure;
 * concurrent messages are coalesced by the ingest MicroBatcher.
 */
export function startPullWorker(client: PubSub, registry: StreamRegistry, ingest: Ingest, options: PullWorkerOptions): PullWorker {
  const subs: Subscription[] = [];
  const names = new Map<string, string>();
  for (const stream of registry.all()) {
    const name = `${options.topicPrefix}${stream.name}${options.subscriptionSuffix}`;
    names.set(stream.name, name);
    const sub = client.subscription(name, { flowControl: { maxMessages: options.maxOutstanding, allowExcessMessages: false } });
    sub.on('message', (m: Message) => {
      let inbound: InboundMessage;
      try {
        inbound = inboundFromPulled(m);
      } catch (err) {
        options.onError?.(stream.name, err);
        m.nack();
        return;
      }
      ingest.ingest(stream, [inbound]).then(
        () => m.ack(),
        (err: unknown) => {
          options.onError?.(stream.name, err);
          m.nack();
        },
      );
    });
    sub.on('error', (err: unknown) => options.onError?.(stream.name, err));
    subs.push(sub);
  }
  return {
    subscriptions: names,
    async close() {
      await Promise.allSettled(subs.map((s) => s.close()));
    },
  };
}
