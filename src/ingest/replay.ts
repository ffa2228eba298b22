/**
 * Replay of dead letters after a schema fix: each dead letter goes through ingest again with
 * its original message_id, publish_time, attributes and ordering key. A stored (or already
 * stored) message leaves the dead-letter table; one that fails again stays there with its new
 * reason and an incremented replay_count. Works with any warehouse adapter.
 */
import type { PublishOutcome, Warehouse } from '../core/ports.js';
import type { StreamDef } from '../core/schema.js';
import type { Ingest } from './ingest.js';

/** What one replay did, message by message. */
export interface ReplayResult {
  readonly replayed: number;
  readonly stored: number;
  readonly duplicates: number;
  readonly failed: number;
  /** Requested ids that are not in the dead-letter table. */
  readonly notFound: string[];
  readonly results: PublishOutcome[];
}

/** Replays the dead letters with these message_ids. */
export async function replayDeadLetters(deps: { ingest: Ingest; warehouse: Warehouse }, stream: StreamDef, messageIds: readonly string[]): Promise<ReplayResult> {
  const { ingest, warehouse } = deps;
  const raw = await warehouse.getRawDeadLetters(stream, [...new Set(messageIds)]);
  const found = new Set(raw.map((d) => d.messageId));
  const prepared = raw.map((d) =>
    ingest.prepare(stream, { messageId: d.messageId, publishTime: d.publishTime, data: d.payload, attributes: d.attributes, orderingKey: d.orderingKey }, d.replayCount + 1),
  );
  const results = prepared.length ? await ingest.submit(stream, prepared) : [];
  const resolved = results.filter((o) => o.status === 'stored' || o.status === 'duplicate').map((o) => o.messageId);
  // After the rows are committed: a crash in between leaves a dead letter whose row exists,
  // and replaying it again is a duplicate that removes it.
  await warehouse.deleteDeadLetters(stream, resolved);
  return {
    replayed: results.length,
    stored: results.filter((o) => o.status === 'stored').length,
    duplicates: results.filter((o) => o.status === 'duplicate').length,
    failed: results.filter((o) => o.status === 'dead_lettered').length,
    notFound: [...new Set(messageIds)].filter((id) => !found.has(id)),
    results,
  };
}
