/**
 * The error registry: every error Tributary reports to a client carries one of these stable
 * codes. The HTTP status and whether a caller should retry are properties of the code, never
 * of the message text. `docs/errors.md` documents every code; a test keeps the two in step.
 */
export const ERROR_CODES = {
  INVALID_REQUEST: { status: 400, retryable: false, summary: 'The request is malformed: a parameter or the body does not match what the endpoint accepts.' },
  INVALID_PARAMETER: { status: 400, retryable: false, summary: 'A query parameter has a value of the wrong type or out of range.' },
  UNKNOWN_PARAMETER: { status: 400, retryable: false, summary: 'A query parameter is not a known option nor a filterable field of the stream.' },
  INVALID_CURSOR: { status: 400, retryable: false, summary: 'The pagination cursor is malformed, or belongs to a different query.' },
  TOO_MANY_MESSAGES: { status: 400, retryable: false, summary: 'A publish request carries more messages than the per-request limit.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, retryable: false, summary: 'The request body has a content type the endpoint does not accept.' },
  HEADERS_TOO_LARGE: { status: 431, retryable: false, summary: 'The request line or headers exceed the HTTP server\'s limit (16 KiB): shorten the URL (fewer or shorter filters) or the headers.' },
  REQUEST_TIMEOUT: { status: 408, retryable: true, summary: 'The client did not send a complete request in time; the connection is closed.' },
  PAYLOAD_TOO_LARGE: { status: 413, retryable: false, summary: 'The request body exceeds the configured body limit.' },
  UNKNOWN_STREAM: { status: 404, retryable: false, summary: 'No stream with that name is defined.' },
  ROW_NOT_FOUND: { status: 404, retryable: false, summary: 'No row with that message_id is stored in the stream.' },
  DEAD_LETTER_NOT_FOUND: { status: 404, retryable: false, summary: 'No dead letter with that message_id is stored in the stream (it may have been replayed).' },
  RESULT_TOO_LARGE: { status: 400, retryable: false, summary: 'An aggregate would return more rows (groups times time buckets) than the configured maximum; narrow the time range, widen the interval or group by fewer fields.' },
  TIME_RANGE_TOO_LARGE: { status: 400, retryable: false, summary: 'The query covers more publish_time than the deployment allows (--max-time-range-days, for warehouses that bill by bytes scanned), or has no `from` where one is required.' },
  QUERY_REJECTED: { status: 422, retryable: false, summary: 'The warehouse refused the query for the data it met (for example a sum out of the numeric range); narrow the query.' },
  QUERY_TIMEOUT: { status: 504, retryable: false, summary: 'The warehouse query ran longer than the configured query timeout and was stopped; narrow the time range or the filters.' },
  UNAUTHENTICATED: { status: 401, retryable: false, summary: 'The request carries no API key, or a key that is not configured. Send `Authorization: Bearer <key>`.' },
  FORBIDDEN: { status: 403, retryable: false, summary: 'The API key is valid but lacks the scope this route needs (read or write on the stream, or admin).' },
  RATE_LIMITED: { status: 429, retryable: true, summary: 'Too many requests from this API key (or, without a key, this IP address) in the current window; wait for the seconds in `Retry-After`.' },
  NOT_FOUND: { status: 404, retryable: false, summary: 'No such route.' },
  METHOD_NOT_ALLOWED: { status: 405, retryable: false, summary: 'The route exists but not for this HTTP method.' },
  WAREHOUSE_UNAVAILABLE: { status: 503, retryable: true, summary: 'The warehouse could not be written or read just now; nothing was acknowledged. Retry with backoff.' },
  TOPIC_UNAVAILABLE: { status: 503, retryable: true, summary: 'The topic (Pub/Sub) did not accept every message of the publish request. Retry with backoff; a message accepted twice is stored once.' },
  OVERLOADED: { status: 503, retryable: true, summary: 'The server holds as many request bodies as --max-body-bytes-in-flight allows, and this request waited 30 s for room without getting it. Retry after the seconds in `Retry-After`.' },
  SHUTTING_DOWN: { status: 503, retryable: true, summary: 'The server is shutting down and accepts no new work. Retry against another instance or later.' },
  INTERNAL: { status: 500, retryable: true, summary: 'An unexpected error. The response hides the details; the server log keeps them under the request id.' },
  INVALID_CONFIG: { status: 500, retryable: false, summary: 'Start-up configuration is invalid (reported at start-up, not over HTTP).' },
  INVALID_STREAM_DEFINITION: { status: 500, retryable: false, summary: 'A stream definition file is invalid (reported at start-up, not over HTTP).' },
} as const satisfies Record<string, { status: number; retryable: boolean; summary: string }>;

/** A stable error code; see {@link ERROR_CODES}. */
export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * An error with a stable code. Messages are written for people; programs branch on `code`.
 * `details` carries structured context (the offending parameter, the allowed values...).
 */
export class TributaryError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TributaryError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.retryable = ERROR_CODES[code].retryable;
    this.details = details;
  }
}

/** True when `err` is a {@link TributaryError} with one of the given codes (or any code). */
export function isTributaryError(err: unknown, ...codes: ErrorCode[]): err is TributaryError {
  return err instanceof TributaryError && (codes.length === 0 || codes.includes(err.code));
}

/**
 * Dead-letter reason codes: why a message was not stored as a row. Stable; documented in
 * `docs/errors.md`. Every one of them is permanent (retrying the same bytes gives the same
 * answer), which is why the message is dead-lettered and acknowledged rather than retried.
 */
export const DEAD_LETTER_REASONS = {
  INVALID_ENCODING: 'The payload is not valid base64 or not valid UTF-8.',
  INVALID_JSON: 'The payload is not a JSON document.',
  SCHEMA_VIOLATION: 'A field is missing, null where required, or of the wrong type; `field_path` names it and `detail` says what was expected.',
  UNKNOWN_FIELD: 'The message has a field the stream does not define and the stream rejects unknown fields.',
  MESSAGE_TOO_LARGE: 'The payload is larger than the stream\'s maximum message size.',
  WAREHOUSE_REJECTED: 'The warehouse refused the row although it passed validation (for example a value out of the engine\'s range, or, embedded, a string value over 200 KiB); `detail` has the engine\'s message.',
} as const;

/** A dead-letter reason code; see {@link DEAD_LETTER_REASONS}. */
export type DeadLetterReason = keyof typeof DEAD_LETTER_REASONS;
