/** Dead letters read back, shared by every dialect: the decoding of one dead-letter record. */
import type { StoredDeadLetter } from '../../core/ports.js';

/** A dead-letter record as read from any engine: a {@link StoredDeadLetter} with its attributes still JSON text (null for none). */
export type DeadLetterRecord = Omit<StoredDeadLetter, 'attributes'> & { readonly attributes: string | null };

/** The attributes of a record: its JSON object, or {} for NULL. */
export function attributesOf(text: string | null): Record<string, string> {
  return text === null ? {} : (JSON.parse(text) as Record<string, string>);
}

/** The dead letter of a record. */
export function storedDeadLetter(d: DeadLetterRecord): StoredDeadLetter {
  return { ...d, attributes: attributesOf(d.attributes) };
}
