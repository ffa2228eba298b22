/**
 * The Cloud Function (gen2) entry: a CloudEvent function registered with the Functions
 * Framework, triggered by Eventarc with `google.cloud.pubsub.topic.v1.messagePublished`
 * (binary or structured content mode) or called by a push subscription with the legacy body.
 *
 * Acknowledgement is the HTTP status: the Functions Framework answers 204 when the handler
 * resolves, 500 when it throws. The handler resolves only once the message is committed as a
 * row or as a dead letter (a poison message is acknowledged: it is stored in the dead-letter
 * table), and throws on a transient warehouse failure that outlived ingest's retry budget, so
 * Pub/Sub redelivers with backoff. Concurrent deliveries in one instance share the ingest
 * MicroBatcher and so are written as one batch, each answered when that batch commits.
 */
import * as functions from '@google-cloud/functions-framework';
import type { StreamRegistry } from '../core/schema.js';
import type { Ingest } from './ingest.js';
import { readDelivery, resolveStream } from './pubsub-message.js';

/** What the handler needs; built once per instance. */
export interface FunctionDeps {
  readonly registry: StreamRegistry;
  readonly ingest: Ingest;
  /** Topic of a stream = prefix + stream name. */
  readonly topicPrefix: string;
  /** Called when a delivery is refused (malformed, transient failure); for logs. */
  readonly onError?: (err: unknown) => void;
  /**
   * Writes one structured log entry per committed message (default: a JSON line on stdout,
   * which Cloud Logging reads as `jsonPayload` with its `severity`). The log-based metrics of
   * `infra/modules/observability` count `event="message_stored"` with `freshness_ms` (publish →
   * committed) for the freshness SLO, and `event="message_dead_lettered"` for the alert.
   */
  readonly log?: (entry: Record<string, unknown>) => void;
}

function stdoutLog(entry: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(entry)}\n`);
}

/** The CloudEvent handler: ingest one Pub/Sub message, resolve once it is committed. */
export function createIngestHandler(deps: () => Promise<FunctionDeps>): (event: unknown) => Promise<void> {
  return async (event: unknown) => {
    const d = await deps();
    try {
      const delivery = readDelivery(event);
      const stream = resolveStream(d.registry, d.topicPrefix, delivery);
      const [outcome] = await d.ingest.ingest(stream, [delivery.message]);
      const log = d.log ?? stdoutLog;
      const base = { stream: stream.name, message_id: delivery.message.messageId };
      if (outcome?.status === 'dead_lettered') {
        log({ severity: 'WARNING', event: 'message_dead_lettered', ...base, reason: outcome.reason, message: `dead-lettered ${outcome.reason}: ${outcome.detail ?? ''}` });
      } else if (outcome) {
        const freshnessMs = Date.now() - Number(delivery.message.publishTime / 1000n);
        log({ severity: 'INFO', event: 'message_stored', ...base, duplicate: outcome.status === 'duplicate', freshness_ms: freshnessMs, message: `stored (${freshnessMs} ms after publish)` });
      }
    } catch (err) {
      d.onError?.(err);
      throw err;
    }
  };
}

/** Registers the handler under `name` with the Functions Framework (signature type cloudevent). */
export function registerIngestFunction(name: string, deps: () => Promise<FunctionDeps>): void {
  functions.cloudEvent(name, createIngestHandler(deps));
}
