import { ENVELOPE_FIELDS, type FieldDef, type StreamDef } from './schema.js';

/** A column in BigQuery's own table-schema JSON (what `google_bigquery_table.schema` reads). */
export interface BigQueryField {
  name: string;
  type: string;
  mode: string;
  description?: string;
  fields?: BigQueryField[];
}

function toBigQuery(f: FieldDef): BigQueryField {
  const out: BigQueryField = { name: f.name, type: f.type, mode: f.mode };
  if (f.description) out.description = f.description;
  if (f.fields) out.fields = f.fields.map(toBigQuery);
  return out;
}

/** The stream's table schema: envelope columns, then the stream's fields. */
export function bigQueryTableSchema(stream: StreamDef): BigQueryField[] {
  return [...ENVELOPE_FIELDS, ...stream.fields].map(toBigQuery);
}

/** Columns of every stream's dead-letter table (`<stream>_dead_letters`). */
export const DEAD_LETTER_FIELDS: readonly Readonly<BigQueryField>[] = [
  { name: 'message_id', type: 'STRING', mode: 'REQUIRED', description: 'Message ID of the dead-lettered message.' },
  { name: 'publish_time', type: 'TIMESTAMP', mode: 'REQUIRED', description: 'When the topic accepted the message. Partitioning column.' },
  { name: 'dead_lettered_at', type: 'TIMESTAMP', mode: 'REQUIRED', description: 'When ingest (last) rejected the message.' },
  { name: 'reason', type: 'STRING', mode: 'REQUIRED', description: 'Stable reason code (see docs/errors.md).' },
  { name: 'detail', type: 'STRING', mode: 'NULLABLE', description: 'What exactly was wrong, for people.' },
  { name: 'field_path', type: 'STRING', mode: 'NULLABLE', description: 'Path of the offending field, when one is to blame.' },
  { name: 'payload', type: 'BYTES', mode: 'NULLABLE', description: 'The raw message data, byte for byte.' },
  { name: 'payload_size', type: 'INT64', mode: 'REQUIRED', description: 'Size of the raw payload in bytes.' },
  { name: 'attributes', type: 'JSON', mode: 'NULLABLE', description: 'The message attributes.' },
  { name: 'ordering_key', type: 'STRING', mode: 'NULLABLE', description: 'The ordering key, if any.' },
  { name: 'replay_count', type: 'INT64', mode: 'REQUIRED', description: 'How many replays have been attempted.' },
];

/** The dead-letter table schema in BigQuery's JSON format. */
export function bigQueryDeadLetterSchema(): BigQueryField[] {
  return DEAD_LETTER_FIELDS.map((f) => ({ ...f }));
}

/** Clustering of the dead-letter table: by reason, so listing one reason reads little. */
export const DEAD_LETTER_CLUSTERING = ['reason'] as const;

/** JSON Schema (2020-12) of a message of the stream, as the validator enforces it. */
export function messageJsonSchema(stream: StreamDef): Record<string, unknown> {
  const scalar = (f: FieldDef): Record<string, unknown> => {
    switch (f.type) {
      case 'STRING': return { type: 'string' };
      case 'INT64': return { oneOf: [{ type: 'integer' }, { type: 'string', pattern: '^-?[0-9]+$' }], description: '64-bit integer; send values beyond 2^53 as strings or as exact JSON integers' };
      case 'FLOAT64': return { type: 'number' };
      case 'NUMERIC': return { oneOf: [{ type: 'number' }, { type: 'string', pattern: '^-?[0-9]+(\\.[0-9]+)?$' }], description: 'decimal, up to 29 integer and 9 fraction digits' };
      case 'BOOL': return { type: 'boolean' };
      case 'TIMESTAMP': return { type: 'string', format: 'date-time' };
      case 'DATE': return { type: 'string', format: 'date' };
      case 'JSON': return {};
      case 'RECORD': return record(f.fields ?? []);
    }
  };
  const field = (f: FieldDef): Record<string, unknown> => {
    const base = { ...scalar(f), ...(f.description ? { description: f.description } : {}) };
    if (f.mode === 'REPEATED') return { type: ['array', 'null'], items: scalar(f) };
    if (f.mode === 'NULLABLE') return { anyOf: [base, { type: 'null' }] };
    return base;
  };
  const record = (fields: readonly FieldDef[]): Record<string, unknown> => ({
    type: 'object',
    properties: Object.fromEntries(fields.map((f) => [f.name, field(f)])),
    required: fields.filter((f) => f.mode === 'REQUIRED').map((f) => f.name),
    additionalProperties: stream.unknownFields === 'drop',
  });
  return { $schema: 'https://json-schema.org/draft/2020-12/schema', title: stream.name, description: stream.description, ...record(stream.fields) };
}
