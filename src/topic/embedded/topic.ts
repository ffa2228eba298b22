import type { InboundMessage } from '../../core/message.js';
import type { PublishMessage, PublishOutcome, Topic } from '../../core/ports.js';
import type { StreamDef } from '../../core/schema.js';
import type { Ingest } from '../../ingest/ingest.js';

/**
 * A clock of epoch microseconds that never repeats nor goes back, even across restarts when
 * started from the newest stored publish_time. The embedded topic derives message IDs from it.
 */
export class MonotonicClock {
  private last: bigint;
  constructor(floorMicros = 0n) {
    this.last = floorMicros;
  }

  next(): bigint {
    const now = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000));
    this.last = now > this.last ? now : this.last + 1n;
    return this.last;
  }
}

/**
 * The embedded topic: an in-process topic whose one subscription is the ingest pipeline.
 * `publish` stamps each message with a publish_time and a message ID (the decimal publish_time
 * in microseconds, unique because the clock never repeats), hands the messages to ingest and
 * resolves only when each is committed as a row or a dead letter: acknowledged means stored.
 */
export class EmbeddedTopic implements Topic {
  readonly kind = 'embedded';

  constructor(
    private readonly ingest: Ingest,
    private readonly clock: MonotonicClock,
  ) {}

  publish(stream: StreamDef, messages: readonly PublishMessage[]): Promise<PublishOutcome[]> {
    const inbound: InboundMessage[] = messages.map((m) => {
      const publishTime = this.clock.next();
      return {
        messageId: m.messageId ?? publishTime.toString(),
        publishTime,
        data: m.data,
        attributes: m.attributes ?? {},
        orderingKey: m.orderingKey ?? null,
        ...(m.undecodable !== undefined ? { undecodable: m.undecodable } : {}),
      };
    });
    return this.ingest.ingest(stream, inbound);
  }

  async close(): Promise<void> {
    await this.ingest.drain();
  }
}
