/** Dead letters read back, shared by every dialect: the decoding of one dead-letter record. */
import type { ApiDeadLetter } from '../../core/ports.js';
import { formatTimestamp } from '../../core/time.js';

/** A dead-letter record as read from any engine, decoded to plain values. */
export interface DeadLetterRecord {
  readonly messageId: string;
  readonly publishTime: bigint;
  readonly deadLetteredAt: bigint;
  readonly reason: string;
  readonly detail: string | null;
  readonly fieldPath: string | null;
  readonly payload: Uint8Array;
  readonly payloadSize: number;
  /** The attributes' JSON text, or null for none. */
  readonly attributes: string | null;
  readonly orderingKey: string | null;
  readonly replayCount: number;
}

/** The attributes of a record: its JSON object, or {} for NULL. */
export function attributesOf(text: string | null): Record<string, string> {
  return text === null ? {} : (JSON.parse(text) as Record<string, string>);
}

export function apiDeadLetter(d: DeadLetterRecord): ApiDeadLetter {
  let text: string | null;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(d.payload);
  } catch {
    text = null;
  }
  return {
    message_id: d.messageId,
    publish_time: formatTimestamp(d.publishTime),
    dead_lettered_at: formatTimestamp(d.deadLetteredAt),
    reason: d.reason,
    detail: d.detail,
    field_path: d.fieldPath,
    payload: text,
    payload_base64: Buffer.from(d.payload).toString('base64'),
    payload_size: d.payloadSize,
    attributes: attributesOf(d.attributes),
    ordering_key: d.orderingKey,
    replay_count: d.replayCount,
  };
}
