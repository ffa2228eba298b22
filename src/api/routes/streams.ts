import type { FastifyPluginAsync } from 'fastify';
import { TributaryError } from '../../core/errors.js';
import { bigQueryDeadLetterSchema, bigQueryTableSchema, messageJsonSchema } from '../../core/export.js';
import { ENVELOPE_FIELDS, type StreamDef } from '../../core/schema.js';
import { formatTimestamp, parseTimestamp } from '../../core/time.js';
import { encodeCursor, filterableFields, nextLink, parseDeadLetterQuery, parseRowQuery, type RawQuery } from '../query.js';

interface StreamParams {
  stream: string;
}

/** Read endpoints: streams, rows, one row, dead letters, schemas. */
export const streamRoutes: FastifyPluginAsync = async (app) => {
  const { registry, warehouse, config } = app.deps;
  const limits = { defaultPageSize: config.defaultPageSize, maxPageSize: config.maxPageSize };

  const summary = async (s: StreamDef) => {
    const st = await warehouse.stats(s);
    return {
      name: s.name,
      description: s.description,
      rowCount: st.rowCount,
      deadLetterCount: st.deadLetterCount,
      newestPublishTime: st.newestPublishTime === null ? null : formatTimestamp(st.newestPublishTime),
      links: {
        self: `/v1/streams/${s.name}`,
        rows: `/v1/streams/${s.name}/rows`,
        deadLetters: `/v1/streams/${s.name}/dead-letters`,
        publish: `/v1/streams/${s.name}/messages`,
      },
    };
  };

  app.get('/streams', async () => ({ streams: await Promise.all(registry.all().map(summary)) }));

  app.get<{ Params: StreamParams }>('/streams/:stream', async (req) => {
    const s = registry.get(req.params.stream);
    return {
      ...(await summary(s)),
      unknownFields: s.unknownFields,
      clustering: s.clustering,
      maxMessageBytes: s.maxMessageBytes ?? config.maxMessageBytes,
      envelope: ENVELOPE_FIELDS,
      fields: s.fields,
      filterable: filterableFields(s),
    };
  });

  app.get<{ Params: StreamParams; Querystring: { format?: string } }>('/streams/:stream/schema', async (req) => {
    const s = registry.get(req.params.stream);
    const format = req.query.format ?? 'bigquery';
    switch (format) {
      case 'bigquery': return bigQueryTableSchema(s);
      case 'bigquery-dead-letters': return bigQueryDeadLetterSchema();
      case 'json-schema': return messageJsonSchema(s);
      default:
        throw new TributaryError('INVALID_PARAMETER', `format: expected bigquery, bigquery-dead-letters or json-schema, got ${JSON.stringify(format)}`, { parameter: 'format' });
    }
  });

  app.get<{ Params: StreamParams; Querystring: RawQuery }>('/streams/:stream/rows', async (req) => {
    const s = registry.get(req.params.stream);
    const { query, fingerprint } = parseRowQuery(s, req.query, limits);
    // One row more than asked tells whether there is a next page.
    const rows = await warehouse.queryRows(s, { ...query, limit: query.limit + 1 });
    let nextCursor: string | null = null;
    if (rows.length > query.limit) {
      rows.length = query.limit;
      const last = rows[rows.length - 1]!;
      nextCursor = encodeCursor({ publishTime: toMicros(last.publish_time as string), messageId: last.message_id as string }, query.order, fingerprint);
      return { rows, nextCursor, next: nextLink(`/v1/streams/${s.name}/rows`, req.query, nextCursor) };
    }
    return { rows, nextCursor, next: null };
  });

  app.get<{ Params: StreamParams & { messageId: string } }>('/streams/:stream/rows/:messageId', async (req) => {
    const s = registry.get(req.params.stream);
    const row = await warehouse.getRow(s, req.params.messageId);
    if (!row) throw new TributaryError('ROW_NOT_FOUND', `stream "${s.name}" has no row with message_id ${JSON.stringify(req.params.messageId)}`, { messageId: req.params.messageId });
    return row;
  });

  app.get<{ Params: StreamParams; Querystring: RawQuery }>('/streams/:stream/dead-letters', async (req) => {
    const s = registry.get(req.params.stream);
    const { query, fingerprint } = parseDeadLetterQuery(s, req.query, limits);
    const deadLetters = await warehouse.queryDeadLetters(s, { ...query, limit: query.limit + 1 });
    if (deadLetters.length > query.limit) {
      deadLetters.length = query.limit;
      const last = deadLetters[deadLetters.length - 1]!;
      const nextCursor = encodeCursor({ publishTime: toMicros(last.publish_time), messageId: last.message_id }, 'desc', fingerprint);
      return { deadLetters, nextCursor, next: nextLink(`/v1/streams/${s.name}/dead-letters`, req.query, nextCursor) };
    }
    return { deadLetters, nextCursor: null, next: null };
  });
};

/** Epoch microseconds of a timestamp the API itself formatted. */
function toMicros(formatted: string): bigint {
  const t = parseTimestamp(formatted);
  if (t === null) throw new Error(`unexpected timestamp from the warehouse: ${formatted}`);
  return t;
}
