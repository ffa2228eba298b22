import { PubSub, type Topic as PubSubTopicHandle } from '@google-cloud/pubsub';
import { OAuth2Client } from 'google-auth-library';
import { TributaryError } from '../../core/errors.js';
import type { PublishMessage, PublishOutcome, Topic } from '../../core/ports.js';
import { attributesForPublish } from '../../core/pubsub-wire.js';
import type { StreamDef } from '../../core/schema.js';

/** Settings of the Pub/Sub topic adapter. */
export interface PubSubTopicOptions {
  /** Topic of a stream = prefix + stream name. */
  readonly topicPrefix: string;
  /** Publisher batching: most messages per publish call. */
  readonly batchMaxMessages: number;
  /** Publisher batching: longest a message waits for batch-mates (ms). */
  readonly batchMaxMs: number;
}

/** A Pub/Sub client: Application Default Credentials, or plaintext to an emulator. */
export function createPubSubClient(options: { projectId: string; emulatorHost?: string | undefined }): PubSub {
  // apiEndpoint host:port that is not *.googleapis.com puts the client in emulator mode
  // (insecure channel, no credentials); PUBSUB_EMULATOR_HOST reaches here through the config.
  // A fixed token keeps google-auth-library from probing for credentials (metadata server).
  if (!options.emulatorHost) return new PubSub({ projectId: options.projectId });
  const authClient = new OAuth2Client();
  authClient.setCredentials({ access_token: 'emulator', expiry_date: Date.now() + 100 * 365 * 86_400_000 });
  return new PubSub({ projectId: options.projectId, apiEndpoint: options.emulatorHost, emulatorMode: true, authClient });
}

/**
 * The Google Cloud topic: each stream publishes to its Pub/Sub topic with the client's
 * batching (bounded by count and milliseconds) and message ordering on, so messages with the
 * same ordering key are delivered in order. `publish` resolves once Pub/Sub has accepted every
 * message (status `accepted`); ingest stores them asynchronously. A publisher-chosen messageId
 * travels as the `tributary-message-id` attribute and stays the idempotency key (and the
 * returned ID); otherwise Pub/Sub's message ID is. Data the HTTP API could not base64-decode
 * travels as is, flagged by the `tributary-undecodable` attribute (see `src/core/pubsub-wire.ts`).
 */
export class PubSubTopic implements Topic {
  readonly kind = 'pubsub';
  private readonly topics = new Map<string, PubSubTopicHandle>();

  constructor(
    private readonly client: PubSub,
    private readonly options: PubSubTopicOptions,
  ) {}

  /** The topic name of a stream. */
  topicName(stream: StreamDef): string {
    return `${this.options.topicPrefix}${stream.name}`;
  }

  private handle(stream: StreamDef): PubSubTopicHandle {
    let t = this.topics.get(stream.name);
    if (!t) {
      t = this.client.topic(this.topicName(stream), {
        batching: { maxMessages: this.options.batchMaxMessages, maxMilliseconds: this.options.batchMaxMs },
        messageOrdering: true,
      });
      this.topics.set(stream.name, t);
    }
    return t;
  }

  async publish(stream: StreamDef, messages: readonly PublishMessage[]): Promise<PublishOutcome[]> {
    const topic = this.handle(stream);
    const results = await Promise.allSettled(
      messages.map((m) => topic.publishMessage({ data: Buffer.from(m.data), attributes: attributesForPublish(m), ...(m.orderingKey ? { orderingKey: m.orderingKey } : {}) })),
    );
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) {
      // A failed publish pauses its ordering key; resume so later publishes are not refused.
      for (const m of messages) if (m.orderingKey) topic.resumePublishing(m.orderingKey);
      const accepted = results.filter((r) => r.status === 'fulfilled').length;
      throw new TributaryError(
        'TOPIC_UNAVAILABLE',
        `Pub/Sub did not accept ${messages.length - accepted} of ${messages.length} messages for topic ${this.topicName(stream)}; retry the request (accepted ones may be delivered twice and are stored once)`,
        { accepted },
        { cause: failed.reason },
      );
    }
    // The ID ingest will store the message under: the publisher's when it chose one.
    return results.map((r, i) => ({ messageId: messages[i]!.messageId ?? (r as PromiseFulfilledResult<string>).value, status: 'accepted' as const }));
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.topics.values()].map((t) => t.flush()));
    await this.client.close();
  }
}
