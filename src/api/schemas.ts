/**
 * JSON Schemas of the API's requests and responses. Routes declare them; Fastify validates
 * requests with them, `/openapi.json` is generated from them, and a test validates real
 * responses against them. One source for all three.
 */
import { DEAD_LETTER_REASONS } from '../core/errors.js';
import { ENVELOPE_FIELDS, type FieldDef, type StreamDef } from '../core/schema.js';

const str = { type: 'string' } as const;
const nullableStr = { type: ['string', 'null'] } as const;
const timestamp = { type: 'string', format: 'date-time', description: 'RFC 3339, UTC, microseconds.' } as const;

/** Path parameters `{stream}`. */
export const streamParams = {
  type: 'object',
  required: ['stream'],
  properties: { stream: { type: 'string', description: 'Stream name.', maxLength: 256 } },
} as const;

/** Path parameters `{stream}/.../{messageId}`. */
export const messageParams = {
  type: 'object',
  required: ['stream', 'messageId'],
  properties: { ...streamParams.properties, messageId: { type: 'string', maxLength: 1024 } },
} as const;

const filterNote = 'Any other parameter is a filter: `field=value`, `field__OP=value` with OP one of eq, in, gt, gte, lt, lte, prefix, isnull; `attributes.KEY=value`. See docs/http-api.md.';

const timeParams = {
  from: { type: 'string', description: 'Inclusive lower bound on publish_time: RFC 3339 or YYYY-MM-DD.' },
  to: { type: 'string', description: 'Exclusive upper bound on publish_time.' },
} as const;

const formatParam = { type: 'string', enum: ['json', 'ndjson', 'csv'], description: 'Output format; overrides the Accept header.' } as const;

/** Query of `GET /v1/streams/{stream}/rows`. */
export const rowsQuerystring = {
  type: 'object',
  description: filterNote,
  properties: {
    ...timeParams,
    limit: { type: 'string', pattern: '^[0-9]+$', description: 'Rows per page (1 to the configured maximum).' },
    order: { type: 'string', enum: ['asc', 'desc'], description: 'Order by publish_time (then message_id). Default desc.' },
    cursor: { type: 'string', description: 'Opaque cursor from a previous page (nextCursor).' },
    fields: { type: 'array', items: { type: 'string' }, description: 'Top-level columns to return: comma-separated and/or repeated.' },
    format: formatParam,
  },
  additionalProperties: { type: 'string' },
} as const;

/** Query of `GET /v1/streams/{stream}/aggregate`. */
export const aggregateQuerystring = {
  type: 'object',
  description: filterNote,
  properties: {
    ...timeParams,
    metric: { type: 'array', items: { type: 'string' }, description: 'Metrics, comma-separated and/or repeated: count, count_distinct:F, sum:F, avg:F, min:F, max:F, pNN:F (percentile). Default count.' },
    interval: { type: 'string', description: 'Time bucket on publish_time, 1s to 1d dividing a day (30s, 5m, 1h, 1d).' },
    group_by: { type: 'array', items: { type: 'string' }, description: 'Fields to group by (at most 3), comma-separated and/or repeated.' },
    format: formatParam,
  },
  additionalProperties: { type: 'string' },
} as const;

/** Query of `GET /v1/streams/{stream}/stats`. */
export const statsQuerystring = {
  type: 'object',
  properties: {
    ...timeParams,
    window: { type: 'string', description: 'Window ending now (or at `to`): 15m, 1h, 24h, 7d. Default 1h.' },
  },
} as const;

/** Query of `GET /v1/streams/{stream}/dead-letters`. */
export const deadLettersQuerystring = {
  type: 'object',
  properties: {
    ...timeParams,
    limit: { type: 'string', pattern: '^[0-9]+$' },
    cursor: str,
    reason: { type: 'string', enum: Object.keys(DEAD_LETTER_REASONS) },
    format: formatParam,
  },
} as const;

/** A stored row: envelope plus the stream's fields (see `GET /v1/streams/{stream}`). */
export const rowSchema = {
  $id: 'Row',
  type: 'object',
  description: 'A stored row: envelope columns and the stream\'s fields. INT64 and NUMERIC values are strings; timestamps RFC 3339.',
  properties: {
    message_id: str,
    publish_time: timestamp,
    ingest_time: timestamp,
    attributes: { type: ['object', 'null'], additionalProperties: { type: 'string' } },
    ordering_key: nullableStr,
  },
  // With `fields=`, any column may be left out.
  additionalProperties: true,
} as const;

type Json = Record<string, unknown>;

function apiScalar(f: FieldDef): Json {
  switch (f.type) {
    case 'STRING': return { type: 'string' };
    case 'INT64': return { type: 'string', pattern: '^-?[0-9]+$', description: 'INT64 as a string (exact).' };
    case 'FLOAT64': return { type: 'number' };
    case 'NUMERIC': return { type: 'string', pattern: '^-?[0-9]+(\\.[0-9]+)?$', description: 'NUMERIC as a decimal string (exact).' };
    case 'BOOL': return { type: 'boolean' };
    case 'TIMESTAMP': return { type: 'string', format: 'date-time' };
    case 'DATE': return { type: 'string', format: 'date' };
    case 'JSON': return {};
    case 'RECORD': return {
      type: 'object',
      properties: Object.fromEntries((f.fields ?? []).map((c) => [c.name, apiField(c)])),
      required: (f.fields ?? []).map((c) => c.name),
      additionalProperties: false,
    };
  }
}

/** JSON Schema of one field's value as the API returns it. */
function apiField(f: FieldDef): Json {
  const one = apiScalar(f);
  const described = f.description ? { description: f.description } : {};
  if (f.mode === 'REPEATED') return { type: 'array', items: one, ...described };
  if (f.mode === 'REQUIRED' || f.type === 'JSON') return { ...one, ...described };
  return { ...one, type: [one.type as string, 'null'], ...described };
}

/**
 * JSON Schema of a stream's rows in the API's form, derived from the stream definition (the
 * single source of truth). Every column may be absent when `fields=` selects others.
 */
export function apiRowSchema(stream: StreamDef): Json {
  const columns = [...ENVELOPE_FIELDS, ...stream.fields];
  const properties = Object.fromEntries(columns.map((f) => [f.name, f.name === 'attributes' ? { type: 'object', additionalProperties: { type: 'string' } } : apiField(f)]));
  return { type: 'object', description: `A row of stream ${stream.name}.`, properties, additionalProperties: false };
}

/** A page of rows. */
export const rowsPageSchema = {
  type: 'object',
  required: ['rows', 'nextCursor', 'next'],
  properties: {
    rows: { type: 'array', items: { $ref: 'Row#' } },
    nextCursor: nullableStr,
    next: nullableStr,
  },
} as const;

/** A dead letter. */
export const deadLetterSchema = {
  $id: 'DeadLetter',
  type: 'object',
  required: ['message_id', 'publish_time', 'dead_lettered_at', 'reason', 'payload_base64', 'payload_size', 'attributes', 'replay_count'],
  properties: {
    message_id: str,
    publish_time: timestamp,
    dead_lettered_at: timestamp,
    reason: str,
    detail: nullableStr,
    field_path: nullableStr,
    payload: { type: ['string', 'null'], description: 'The payload as text when it is UTF-8, else null.' },
    payload_base64: str,
    payload_size: { type: 'integer' },
    attributes: { type: 'object', additionalProperties: { type: 'string' } },
    ordering_key: nullableStr,
    replay_count: { type: 'integer' },
  },
} as const;

/** A page of dead letters. */
export const deadLettersPageSchema = {
  type: 'object',
  required: ['deadLetters', 'nextCursor', 'next'],
  properties: {
    deadLetters: { type: 'array', items: { $ref: 'DeadLetter#' } },
    nextCursor: nullableStr,
    next: nullableStr,
  },
} as const;

/** The answer of an aggregate. */
export const aggregateSchema = {
  type: 'object',
  required: ['interval', 'groupBy', 'metrics', 'rows'],
  properties: {
    interval: nullableStr,
    groupBy: { type: 'array', items: str },
    metrics: { type: 'array', items: str },
    rows: {
      type: 'array',
      items: { type: 'object', description: '`time` (bucket start) when bucketed, each group_by field, each metric by name.', additionalProperties: true },
    },
  },
} as const;

const freshness = {
  type: ['object', 'null'],
  required: ['p50', 'p95', 'p99', 'max'],
  properties: { p50: { type: 'number' }, p95: { type: 'number' }, p99: { type: 'number' }, max: { type: 'number' } },
} as const;

/** The answer of `GET /v1/streams/{stream}/stats`. */
export const statsSchema = {
  type: 'object',
  required: ['stream', 'rowCount', 'deadLetterCount', 'newestPublishTime', 'window'],
  properties: {
    stream: str,
    rowCount: { type: 'integer' },
    deadLetterCount: { type: 'integer' },
    newestPublishTime: { type: ['string', 'null'] },
    window: {
      type: 'object',
      required: ['from', 'to', 'rowCount', 'deadLettersByReason', 'freshnessMs'],
      properties: {
        from: timestamp,
        to: timestamp,
        rowCount: { type: 'integer' },
        deadLettersByReason: { type: 'object', additionalProperties: { type: 'integer' } },
        freshnessMs: { ...freshness, description: 'publish_time to ingest_time lag of the window\'s rows, in milliseconds; null without rows.' },
      },
    },
  },
} as const;

const outcome = {
  type: 'object',
  required: ['messageId', 'status'],
  properties: {
    messageId: str,
    status: { type: 'string', enum: ['stored', 'duplicate', 'dead_lettered', 'accepted'] },
    reason: str,
    detail: str,
    fieldPath: nullableStr,
  },
} as const;

/** Body of `POST /v1/streams/{stream}/dead-letters/replay`. */
export const replayBodySchema = {
  type: 'object',
  additionalProperties: false,
  description: 'Either messageIds, or reason (optionally with from/to): every dead letter of that reason.',
  properties: {
    messageIds: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 1024 }, minItems: 1, maxItems: 10000 },
    reason: { type: 'string', enum: Object.keys(DEAD_LETTER_REASONS) },
    from: str,
    to: str,
  },
} as const;

/** The answer of a replay. */
export const replayResultSchema = {
  type: 'object',
  required: ['replayed', 'stored', 'duplicates', 'failed', 'notFound', 'remaining', 'results'],
  properties: {
    replayed: { type: 'integer' },
    stored: { type: 'integer' },
    duplicates: { type: 'integer' },
    failed: { type: 'integer' },
    notFound: { type: 'array', items: str },
    remaining: { type: 'boolean', description: 'True when more dead letters match than one request replays (--max-replay).' },
    results: { type: 'array', items: outcome },
  },
} as const;

/** The answer of a publish. */
export const publishResultSchema = {
  type: 'object',
  required: ['messageIds', 'counts', 'results'],
  properties: {
    messageIds: { type: 'array', items: str },
    counts: { type: 'object', additionalProperties: { type: 'integer' } },
    results: { type: 'array', items: outcome },
  },
} as const;

const links = { type: 'object', additionalProperties: { type: 'string' } } as const;

/** One stream in the list. */
export const streamSummarySchema = {
  type: 'object',
  required: ['name', 'description', 'rowCount', 'deadLetterCount', 'newestPublishTime', 'links'],
  properties: {
    name: str,
    description: str,
    rowCount: { type: 'integer' },
    deadLetterCount: { type: 'integer' },
    newestPublishTime: nullableStr,
    links,
  },
} as const;

/** `GET /v1/streams`. */
export const streamListSchema = { type: 'object', required: ['streams'], properties: { streams: { type: 'array', items: streamSummarySchema } } } as const;

/** `GET /v1/streams/{stream}`. */
export const streamDetailSchema = {
  type: 'object',
  required: [...streamSummarySchema.required, 'fields', 'envelope', 'filterable'],
  properties: {
    ...streamSummarySchema.properties,
    unknownFields: str,
    clustering: { type: 'array', items: str },
    maxMessageBytes: { type: 'integer' },
    envelope: { type: 'array', items: { type: 'object' } },
    fields: { type: 'array', items: { type: 'object' } },
    filterable: { type: 'array', items: str },
  },
} as const;

/** A table-shaped answer may also be NDJSON or CSV. */
export const tableContent = ['application/json', 'application/x-ndjson', 'text/csv'] as const;

/** Standard error responses of every route (the one error shape). */
export const errorResponses = {
  '4xx': { description: 'Client error, in the standard error shape (see docs/errors.md).', $ref: 'Error#' },
  '5xx': { description: 'Server error, in the standard error shape.', $ref: 'Error#' },
} as const;
