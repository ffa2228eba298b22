import type { DeadLetterReason } from './errors.js';
import { JsonTooDeepError, MAX_JSON_DEPTH, MAX_PARSE_DEPTH, parseJson } from './json.js';
import type { StreamDef } from './schema.js';
import { type StoredRecord, type Validator, Violation } from './validate.js';

/**
 * A message as delivered to ingest, whatever the transport (embedded topic, Pub/Sub push,
 * CloudEvent, pull worker): Pub/Sub's message model.
 */
export interface InboundMessage {
  /** The idempotency key: a redelivery carries the same id. */
  readonly messageId: string;
  /** Epoch microseconds at which the topic accepted the message. */
  readonly publishTime: bigint;
  /** The raw payload bytes (already base64-decoded when the transport used base64). */
  readonly data: Uint8Array;
  readonly attributes: Readonly<Record<string, string>>;
  readonly orderingKey: string | null;
  /** Set when the transport could not even decode the payload (for example bad base64). */
  readonly undecodable?: string;
}

/** A valid message, ready to be written as a row. */
export interface StoredRow {
  readonly messageId: string;
  readonly publishTime: bigint;
  readonly attributes: Readonly<Record<string, string>>;
  readonly orderingKey: string | null;
  readonly values: StoredRecord;
  /** The raw payload, kept in case the warehouse refuses the row and it must be dead-lettered. */
  readonly payload: Uint8Array;
}

/** A message that cannot be stored as a row, with the reason; written to `<stream>_dead_letters`. */
export interface DeadLetter {
  readonly messageId: string;
  readonly publishTime: bigint;
  readonly reason: DeadLetterReason;
  readonly detail: string;
  readonly fieldPath: string | null;
  readonly payload: Uint8Array;
  readonly attributes: Readonly<Record<string, string>>;
  readonly orderingKey: string | null;
  readonly replayCount: number;
}

/** The outcome of decoding and validating one message. */
export type Prepared = { readonly kind: 'row'; readonly row: StoredRow } | { readonly kind: 'dead'; readonly deadLetter: DeadLetter };

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Default largest payload: 1 MiB (Pub/Sub allows 10 MB; streams may raise theirs). */
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;

/**
 * Decodes, parses and validates one message. Never throws for bad input: every failure becomes
 * a dead letter with a stable reason, the raw payload and the attributes.
 */
export function prepareMessage(stream: StreamDef, validate: Validator, msg: InboundMessage, maxBytes: number, replayCount = 0): Prepared {
  const dead = (reason: DeadLetterReason, detail: string, fieldPath: string | null = null): Prepared => ({
    kind: 'dead',
    deadLetter: {
      messageId: msg.messageId,
      publishTime: msg.publishTime,
      reason,
      detail,
      fieldPath,
      payload: msg.data,
      attributes: msg.attributes,
      orderingKey: msg.orderingKey,
      replayCount,
    },
  });
  if (msg.undecodable !== undefined) return dead('INVALID_ENCODING', msg.undecodable);
  const limit = stream.maxMessageBytes ?? maxBytes;
  if (msg.data.byteLength > limit) {
    return dead('MESSAGE_TOO_LARGE', `the payload is ${msg.data.byteLength} bytes; stream "${stream.name}" accepts at most ${limit}`);
  }
  let text: string;
  try {
    text = utf8.decode(msg.data);
  } catch {
    return dead('INVALID_ENCODING', 'the payload is not valid UTF-8');
  }
  let parsed: unknown;
  try {
    parsed = parseJson(text);
  } catch (err) {
    if (err instanceof JsonTooDeepError) {
      return dead('SCHEMA_VIOLATION', `expected JSON nested at most ${MAX_JSON_DEPTH} levels deep (BigQuery's limit); this payload nests over ${MAX_PARSE_DEPTH} levels and was not parsed`);
    }
    return dead('INVALID_JSON', `the payload is not JSON: ${(err as Error).message}`);
  }
  try {
    const values = validate(parsed);
    return {
      kind: 'row',
      row: { messageId: msg.messageId, publishTime: msg.publishTime, attributes: msg.attributes, orderingKey: msg.orderingKey, values, payload: msg.data },
    };
  } catch (err) {
    if (err instanceof Violation) return dead(err.reason, err.detail, err.path || null);
    throw err;
  }
}
