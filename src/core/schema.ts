import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TributaryError } from './errors.js';

/** Scalar field types, named as in BigQuery's GoogleSQL. */
export const SCALAR_TYPES = ['STRING', 'INT64', 'FLOAT64', 'NUMERIC', 'BOOL', 'TIMESTAMP', 'DATE', 'JSON'] as const;
export type ScalarType = (typeof SCALAR_TYPES)[number];
/** A field type: a scalar, or a RECORD with nested fields. */
export type FieldType = ScalarType | 'RECORD';
/** REQUIRED: never null. NULLABLE: may be null or absent. REPEATED: an array (absent means empty). */
export type FieldMode = 'REQUIRED' | 'NULLABLE' | 'REPEATED';

/** One field of a stream (or of a RECORD). */
export interface FieldDef {
  readonly name: string;
  readonly type: FieldType;
  readonly mode: FieldMode;
  readonly description?: string;
  /** Present exactly when `type` is RECORD. */
  readonly fields?: readonly FieldDef[];
}

/** What to do with a message field the stream does not define. */
export type UnknownFieldPolicy = 'reject' | 'drop';

/**
 * A stream: one topic, one table, one schema. Parsed from `streams/<name>.json`; the single
 * source of the validator, the DuckDB DDL, the BigQuery schema and the API's filters.
 */
export interface StreamDef {
  readonly name: string;
  readonly description: string;
  readonly fields: readonly FieldDef[];
  /** Up to four top-level fields the table is clustered (BigQuery) / sorted by. */
  readonly clustering: readonly string[];
  /** `reject` (default) dead-letters a message with an unknown field; `drop` ignores the field. */
  readonly unknownFields: UnknownFieldPolicy;
  /** Largest accepted payload in bytes, or undefined for the deployment default. */
  readonly maxMessageBytes?: number;
}

/** The delivery metadata every stored row carries beside the stream's own fields. */
export const ENVELOPE_FIELDS: readonly FieldDef[] = [
  { name: 'message_id', type: 'STRING', mode: 'REQUIRED', description: 'Message ID given by the topic; the idempotency key: one row per message_id.' },
  { name: 'publish_time', type: 'TIMESTAMP', mode: 'REQUIRED', description: 'When the topic accepted the message. Partitioning column.' },
  { name: 'ingest_time', type: 'TIMESTAMP', mode: 'REQUIRED', description: 'When ingest stored the row.' },
  { name: 'attributes', type: 'JSON', mode: 'NULLABLE', description: 'The message attributes (string to string map).' },
  { name: 'ordering_key', type: 'STRING', mode: 'NULLABLE', description: 'The ordering key the message was published with, if any.' },
];

/** Query parameters of the rows API; no stream field may take these names. */
export const RESERVED_FIELD_NAMES = new Set([
  ...ENVELOPE_FIELDS.map((f) => f.name),
  'from', 'to', 'limit', 'cursor', 'order', 'fields', 'format', 'interval', 'group_by', 'metric', 'window', 'reason',
]);

const STREAM_NAME = /^[a-z][a-z0-9_]{0,62}$/;
const FIELD_NAME = /^[a-z][a-z0-9_]{0,127}$/;
const TYPE_ALIASES: Record<string, FieldType> = {
  STRING: 'STRING', INT64: 'INT64', INTEGER: 'INT64', FLOAT64: 'FLOAT64', FLOAT: 'FLOAT64',
  NUMERIC: 'NUMERIC', DECIMAL: 'NUMERIC', BOOL: 'BOOL', BOOLEAN: 'BOOL', TIMESTAMP: 'TIMESTAMP',
  DATE: 'DATE', JSON: 'JSON', RECORD: 'RECORD', STRUCT: 'RECORD',
};
const CLUSTERABLE: ReadonlySet<FieldType> = new Set(['STRING', 'INT64', 'NUMERIC', 'BOOL', 'TIMESTAMP', 'DATE']);
const MAX_DEPTH = 15;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseFields(raw: unknown, path: string, depth: number, problems: string[]): FieldDef[] {
  if (!Array.isArray(raw) || raw.length === 0) {
    problems.push(`${path}: must be a non-empty array of fields`);
    return [];
  }
  if (depth > MAX_DEPTH) {
    problems.push(`${path}: records nest deeper than ${MAX_DEPTH} levels (BigQuery's limit)`);
    return [];
  }
  const seen = new Set<string>();
  const out: FieldDef[] = [];
  raw.forEach((f, i) => {
    const at = `${path}[${i}]`;
    if (!isObject(f)) {
      problems.push(`${at}: must be an object with name, type and mode`);
      return;
    }
    for (const key of Object.keys(f)) {
      if (!['name', 'type', 'mode', 'description', 'fields'].includes(key)) problems.push(`${at}: unknown property "${key}"`);
    }
    const name = f.name;
    if (typeof name !== 'string' || !FIELD_NAME.test(name) || name.includes('__')) {
      problems.push(`${at}.name: must be lowercase snake_case (a-z, 0-9, _; no double underscore), starting with a letter, at most 128 characters; got ${JSON.stringify(name)}`);
      return;
    }
    const fieldPath = `${path}.${name}`;
    if (seen.has(name)) problems.push(`${fieldPath}: duplicate field name`);
    seen.add(name);
    if (depth === 0 && RESERVED_FIELD_NAMES.has(name)) {
      problems.push(`${fieldPath}: "${name}" is reserved (envelope column or query parameter); rename the field`);
    }
    const type = typeof f.type === 'string' ? TYPE_ALIASES[f.type.toUpperCase()] : undefined;
    if (!type) {
      problems.push(`${fieldPath}.type: must be one of ${[...SCALAR_TYPES, 'RECORD'].join(', ')}; got ${JSON.stringify(f.type)}`);
      return;
    }
    const mode = f.mode === undefined ? 'NULLABLE' : f.mode;
    if (mode !== 'REQUIRED' && mode !== 'NULLABLE' && mode !== 'REPEATED') {
      problems.push(`${fieldPath}.mode: must be REQUIRED, NULLABLE or REPEATED; got ${JSON.stringify(f.mode)}`);
      return;
    }
    if (f.description !== undefined && typeof f.description !== 'string') problems.push(`${fieldPath}.description: must be a string`);
    const def: { -readonly [K in keyof FieldDef]: FieldDef[K] } = { name, type, mode };
    if (typeof f.description === 'string') def.description = f.description;
    if (type === 'RECORD') {
      def.fields = parseFields(f.fields, `${fieldPath}.fields`, depth + 1, problems);
    } else if (f.fields !== undefined) {
      problems.push(`${fieldPath}.fields: only RECORD fields have nested fields`);
    }
    out.push(def);
  });
  return out;
}

/**
 * Parses and checks a stream definition (the parsed JSON of a stream file). Every problem is
 * collected; if there is any, throws INVALID_STREAM_DEFINITION listing all of them.
 */
export function parseStreamDefinition(raw: unknown, source: string): StreamDef {
  const problems: string[] = [];
  if (!isObject(raw)) throw new TributaryError('INVALID_STREAM_DEFINITION', `${source}: a stream definition must be a JSON object`);
  for (const key of Object.keys(raw)) {
    if (!['$schema', 'name', 'description', 'fields', 'clustering', 'unknownFields', 'maxMessageBytes'].includes(key)) {
      problems.push(`unknown property "${key}"`);
    }
  }
  const name = raw.name;
  if (typeof name !== 'string' || !STREAM_NAME.test(name)) {
    problems.push(`name: must match ${STREAM_NAME.source} (lowercase letters, digits, _; at most 63); got ${JSON.stringify(name)}`);
  }
  if (raw.description !== undefined && typeof raw.description !== 'string') problems.push('description: must be a string');
  const fields = parseFields(raw.fields, 'fields', 0, problems);
  const unknownFields = raw.unknownFields ?? 'reject';
  if (unknownFields !== 'reject' && unknownFields !== 'drop') problems.push(`unknownFields: must be "reject" or "drop"; got ${JSON.stringify(raw.unknownFields)}`);
  const clustering = raw.clustering ?? [];
  if (!Array.isArray(clustering) || clustering.length > 4 || !clustering.every((c) => typeof c === 'string')) {
    problems.push('clustering: must be an array of at most 4 field names');
  } else {
    for (const c of clustering as string[]) {
      const f = fields.find((x) => x.name === c) ?? (c === 'ordering_key' ? ENVELOPE_FIELDS[4] : undefined);
      if (!f) problems.push(`clustering: "${c}" is not a top-level field of the stream`);
      else if (f.mode === 'REPEATED' || !CLUSTERABLE.has(f.type)) {
        problems.push(`clustering: "${c}" is ${f.mode === 'REPEATED' ? 'REPEATED' : f.type}; BigQuery clusters only on non-repeated STRING, INT64, NUMERIC, BOOL, TIMESTAMP or DATE fields`);
      }
    }
    if (new Set(clustering).size !== clustering.length) problems.push('clustering: lists a field twice');
  }
  const maxMessageBytes = raw.maxMessageBytes;
  if (maxMessageBytes !== undefined && (typeof maxMessageBytes !== 'number' || !Number.isInteger(maxMessageBytes) || maxMessageBytes < 1 || maxMessageBytes > 10_000_000)) {
    problems.push('maxMessageBytes: must be an integer from 1 to 10000000 (Pub/Sub\'s limit)');
  }
  if (problems.length > 0) {
    throw new TributaryError('INVALID_STREAM_DEFINITION', `${source}: invalid stream definition:\n  - ${problems.join('\n  - ')}`, { problems, source });
  }
  const def: StreamDef = {
    name: name as string,
    description: (raw.description as string | undefined) ?? '',
    fields,
    clustering: clustering as string[],
    unknownFields: unknownFields as UnknownFieldPolicy,
    ...(maxMessageBytes !== undefined ? { maxMessageBytes: maxMessageBytes as number } : {}),
  };
  return deepFreeze(def);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** The streams of a deployment, by name. */
export class StreamRegistry {
  private readonly byName: ReadonlyMap<string, StreamDef>;

  constructor(streams: readonly StreamDef[]) {
    const map = new Map<string, StreamDef>();
    for (const s of streams) {
      if (map.has(s.name)) throw new TributaryError('INVALID_STREAM_DEFINITION', `two definitions name the stream "${s.name}"`);
      map.set(s.name, s);
    }
    this.byName = map;
  }

  /** The stream, or undefined. */
  find(name: string): StreamDef | undefined {
    return this.byName.get(name);
  }

  /** The stream, or an UNKNOWN_STREAM error naming the streams that exist. */
  get(name: string): StreamDef {
    const s = this.byName.get(name);
    if (!s) {
      throw new TributaryError('UNKNOWN_STREAM', `no stream named "${name}"; defined streams: ${[...this.byName.keys()].join(', ') || '(none)'}`, {
        stream: name,
        streams: [...this.byName.keys()],
      });
    }
    return s;
  }

  all(): StreamDef[] {
    return [...this.byName.values()].sort((a, b) => a.name.localeCompare(b.name));
  }
}

/**
 * Loads every `*.json` file of a directory as a stream definition. Reports the problems of
 * all files at once.
 */
export async function loadStreams(dir: string): Promise<StreamRegistry> {
  let files: string[];
  try {
    files = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
  } catch (err) {
    throw new TributaryError('INVALID_STREAM_DEFINITION', `cannot read the streams directory ${dir}: ${(err as Error).message}`, undefined, { cause: err });
  }
  const problems: string[] = [];
  const defs: StreamDef[] = [];
  for (const f of files) {
    const path = join(dir, f);
    try {
      const def = parseStreamDefinition(JSON.parse(await readFile(path, 'utf8')), path);
      if (`${def.name}.json` !== f) problems.push(`${path}: the file must be named after its stream: ${def.name}.json`);
      else defs.push(def);
    } catch (err) {
      problems.push(err instanceof SyntaxError ? `${path}: not valid JSON: ${err.message}` : (err as Error).message);
    }
  }
  if (problems.length > 0) throw new TributaryError('INVALID_STREAM_DEFINITION', problems.join('\n'), { problems });
  if (defs.length === 0) throw new TributaryError('INVALID_STREAM_DEFINITION', `no stream definitions (*.json) in ${dir}`);
  return new StreamRegistry(defs);
}

/** Finds a field by dotted path (`location.site`) through non-repeated records. */
export function findFieldPath(stream: StreamDef, path: string): FieldDef[] | undefined {
  const parts = path.split('.');
  let fields: readonly FieldDef[] = [...ENVELOPE_FIELDS, ...stream.fields];
  const chain: FieldDef[] = [];
  for (const [i, part] of parts.entries()) {
    const f = fields.find((x) => x.name === part);
    if (!f) return undefined;
    chain.push(f);
    if (i < parts.length - 1) {
      if (f.type !== 'RECORD' || f.mode === 'REPEATED' || !f.fields) return undefined;
      fields = f.fields;
    }
  }
  return chain;
}
