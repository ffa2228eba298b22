/** Dead letters read back, shared by every dialect: the decoding of one dead-letter record. */
import type { StoredDeadLetter } from '../../core/ports.js';

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

/** The dead letter of a record. */
export function storedDeadLetter(d: DeadLetterRecord): StoredDeadLetter {
  return { ...d, attributes: attributesOf(d.attributes) };
}
