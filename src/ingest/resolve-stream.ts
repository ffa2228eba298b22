/**
 * Which stream a Pub/Sub delivery belongs to. The wire format itself (push body, CloudEvent,
 * attributes, decoding) lives in `src/core/pubsub-wire.ts`.
 */
import { TributaryError } from '../core/errors.js';
import type { Delivery } from '../core/pubsub-wire.js';
import type { StreamDef, StreamRegistry } from '../core/schema.js';

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
