import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { fillBuckets } from '../../core/aggregate.js';
import { TributaryError } from '../../core/errors.js';
import { bigQueryDeadLetterSchema, bigQueryTableSchema, DEAD_LETTER_FIELDS, messageJsonSchema } from '../../core/export.js';
import type { ReadRow } from '../../core/ports.js';
import { ENVELOPE_FIELDS, type StreamDef } from '../../core/schema.js';
import { formatTimestamp, nowMicros, parseTimeParam } from '../../core/time.js';
import { replayDeadLetters, type ReplayResult } from '../../ingest/replay.js';
import { apiAggregateRows, apiDeadLetter, apiRow, sendTable, sendTableStream } from '../output.js';
import type { ApiAggregate, ApiDeadLettersPage, ApiReplayAnswer, ApiRowsPage, ApiStats, ApiStreamDetail, ApiStreamList, ApiStreamSummary } from '../wire.js';
import {
  checkTimeRange,
  chooseFormat,
  encodeCursor,
  filterableFields,
  nextLink,
  parseAggregateQuery,
  parseDeadLetterQuery,
  parseRowQuery,
  parseStatsQuery,
  type RawQuery,
} from '../query.js';
import {
  aggregateQuerystring,
  aggregateSchema,
  deadLetterSchema,
  deadLettersPageSchema,
  deadLettersQuerystring,
  errorResponses,
  messageParams,
  replayBodySchema,
  replayResultSchema,
  rowsPageSchema,
  rowsQuerystring,
  statsQuerystring,
  statsSchema,
  streamDetailSchema,
  streamListSchema,
  streamParams,
} from '../schemas.js';

interface StreamParams {
  stream: string;
}

/** Marks a response as cacheable when its time range is closed (ends before now minus the grace). */
function markClosedRange(req: FastifyRequest, to: bigint | undefined, graceSeconds: number): void {
  if (to !== undefined && to <= nowMicros() - BigInt(graceSeconds) * 1_000_000n) req.closedRange = true;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by a read route whose answer cannot change any more (see app.ts: ETag, Cache-Control). */
    closedRange?: boolean;
  }
}

/** Read endpoints: streams, rows, aggregates, stats, dead letters (and their replay), schemas. */
export const streamRoutes: FastifyPluginAsync = async (app) => {
  const { registry, warehouse, config, ingest } = app.deps;
  const limits = {
    defaultPageSize: config.defaultPageSize,
    maxPageSize: config.maxPageSize,
    maxExportRows: config.maxExportRows,
    ...(config.maxTimeRangeDays > 0 ? { maxTimeRangeMicros: BigInt(config.maxTimeRangeDays) * 86_400_000_000n } : {}),
  };

  const summary = async (s: StreamDef): Promise<ApiStreamSummary> => {
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
        aggregate: `/v1/streams/${s.name}/aggregate`,
        stats: `/v1/streams/${s.name}/stats`,
        deadLetters: `/v1/streams/${s.name}/dead-letters`,
        publish: `/v1/streams/${s.name}/messages`,
      },
    };
  };

  app.get('/streams', {
    config: { scope: 'any' },
    schema: { summary: 'List the streams (those the API key may read)', tags: ['streams'], response: { 200: streamListSchema, ...errorResponses } },
  }, async (req): Promise<ApiStreamList> => ({ streams: await Promise.all(registry.all().filter((s) => req.auth?.canRead(s.name) ?? true).map(summary)) }));

  app.get<{ Params: StreamParams }>('/streams/:stream', {
    config: { scope: 'read' },
    schema: { summary: 'One stream: counters, schema, filterable fields', tags: ['streams'], params: streamParams, response: { 200: streamDetailSchema, ...errorResponses } },
  }, async (req): Promise<ApiStreamDetail> => {
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

  app.get<{ Params: StreamParams; Querystring: { format?: string } }>('/streams/:stream/schema', {
    config: { scope: 'read' },
    schema: {
      summary: 'The stream schema as BigQuery table JSON, dead-letter table JSON, or the message JSON Schema',
      tags: ['streams'],
      params: streamParams,
      querystring: { type: 'object', properties: { format: { type: 'string', enum: ['bigquery', 'bigquery-dead-letters', 'json-schema'] } } },
      response: { 200: { description: 'The schema in the requested format.' }, ...errorResponses },
    },
  }, async (req) => {
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

  app.get<{ Params: StreamParams; Querystring: RawQuery }>('/streams/:stream/rows', {
    config: { scope: 'read', formats: true },
    schema: {
      summary: 'Rows, filtered, newest first (or oldest first), one page at a time',
      tags: ['rows'],
      params: streamParams,
      querystring: rowsQuerystring,
      response: { 200: rowsPageSchema, ...errorResponses },
    },
  }, async (req, reply) => {
    const s = registry.get(req.params.stream);
    const format = chooseFormat(req.query, req.headers.accept);
    const { query, fingerprint } = parseRowQuery(s, req.query, limits, format, nowMicros());
    markClosedRange(req, query.to, config.closedRangeGraceSeconds);
    const table = [...ENVELOPE_FIELDS, ...s.fields];
    const columns = query.fields ?? table.map((f) => f.name);
    const only = query.fields ? new Set(columns) : undefined;
    const serialise = (rows: readonly ReadRow[]) => rows.map((r) => apiRow(table, r, only));
    if (format !== 'json' && query.limit > config.maxPageSize) {
      // A long export: chunks of maxPageSize rows, walked with the keyset, streamed as they come.
      // The first chunk is read before answering, so that a failing query still gets its error.
      const chunk = config.maxPageSize;
      const first = await warehouse.queryRows(s, { ...query, limit: chunk });
      async function* chunks(): AsyncGenerator<Record<string, unknown>[]> {
        let rows = first;
        let sent = 0;
        for (;;) {
          const last = rows[rows.length - 1];
          const after = last ? { publishTime: last.publish_time, messageId: last.message_id } : undefined;
          const take = rows.slice(0, query.limit - sent);
          sent += take.length;
          yield serialise(take);
          if (!after || rows.length < chunk || sent >= query.limit) return;
          rows = await warehouse.queryRows(s, { ...query, after, limit: Math.min(chunk, query.limit - sent) });
        }
      }
      return sendTableStream(reply, format, columns, chunks());
    }
    // One row more than asked tells whether there is a next page.
    const found = await warehouse.queryRows(s, { ...query, limit: query.limit + 1 });
    let nextCursor: string | null = null;
    let next: string | null = null;
    if (found.length > query.limit) {
      found.length = query.limit;
      const last = found[found.length - 1]!;
      nextCursor = encodeCursor({ publishTime: last.publish_time, messageId: last.message_id }, query.order, fingerprint);
      next = nextLink(`/v1/streams/${s.name}/rows`, req.query, nextCursor);
    }
    const rows = serialise(found);
    return sendTable(reply, format, columns, rows, { rows, nextCursor, next } satisfies ApiRowsPage, next);
  });

  app.get<{ Params: StreamParams & { messageId: string } }>('/streams/:stream/rows/:messageId', {
    config: { scope: 'read' },
    schema: { summary: 'One row by message_id', tags: ['rows'], params: messageParams, response: { 200: { $ref: 'Row#' }, ...errorResponses } },
  }, async (req) => {
    const s = registry.get(req.params.stream);
    const row = await warehouse.getRow(s, req.params.messageId);
    if (!row) throw new TributaryError('ROW_NOT_FOUND', `stream "${s.name}" has no row with message_id ${JSON.stringify(req.params.messageId)}`, { messageId: req.params.messageId });
    return apiRow([...ENVELOPE_FIELDS, ...s.fields], row);
  });

  app.get<{ Params: StreamParams; Querystring: RawQuery }>('/streams/:stream/aggregate', {
    config: { scope: 'read', formats: true },
    schema: {
      summary: 'Metrics over the rows, by time bucket and/or up to 3 fields',
      tags: ['rows'],
      params: streamParams,
      querystring: aggregateQuerystring,
      response: { 200: aggregateSchema, ...errorResponses },
    },
  }, async (req, reply) => {
    const s = registry.get(req.params.stream);
    const format = chooseFormat(req.query, req.headers.accept);
    const { query, groupNames } = parseAggregateQuery(s, req.query, config.maxAggregateRows, limits, nowMicros());
    markClosedRange(req, query.to, config.closedRangeGraceSeconds);
    const found = await warehouse.aggregate(s, query);
    if (found.length > config.maxAggregateRows) {
      throw new TributaryError('RESULT_TOO_LARGE', `the aggregate has more than ${config.maxAggregateRows} rows; narrow the range, widen the interval or group by fewer fields`, { max: config.maxAggregateRows });
    }
    const rows = fillBuckets(query, groupNames, apiAggregateRows(query, found), config.maxAggregateRows);
    const metrics = query.metrics.map((m) => m.name);
    const columns = [...(query.intervalMicros !== undefined ? ['time'] : []), ...groupNames, ...metrics];
    const interval = typeof req.query.interval === 'string' ? req.query.interval : null;
    return sendTable(reply, format, columns, rows, { interval, groupBy: groupNames, metrics, rows } satisfies ApiAggregate, null);
  });

  app.get<{ Params: StreamParams; Querystring: RawQuery }>('/streams/:stream/stats', {
    config: { scope: 'read' },
    schema: {
      summary: 'Row count, dead letters by reason, newest publish_time and freshness over a window',
      tags: ['streams'],
      params: streamParams,
      querystring: statsQuerystring,
      response: { 200: statsSchema, ...errorResponses },
    },
  }, async (req): Promise<ApiStats> => {
    const s = registry.get(req.params.stream);
    const window = parseStatsQuery(req.query, nowMicros());
    checkTimeRange(window, limits, window.to);
    const [total, w] = await Promise.all([warehouse.stats(s), warehouse.windowStats(s, window)]);
    return {
      stream: s.name,
      rowCount: total.rowCount,
      deadLetterCount: total.deadLetterCount,
      newestPublishTime: total.newestPublishTime === null ? null : formatTimestamp(total.newestPublishTime),
      window: {
        from: formatTimestamp(window.from),
        to: formatTimestamp(window.to),
        rowCount: w.rowCount,
        deadLettersByReason: w.deadLettersByReason,
        freshnessMs: w.freshnessMs,
      },
    };
  });

  app.get<{ Params: StreamParams; Querystring: RawQuery }>('/streams/:stream/dead-letters', {
    config: { scope: 'read', formats: true },
    schema: {
      summary: 'Dead letters, newest first, filtered by reason and time',
      tags: ['dead letters'],
      params: streamParams,
      querystring: deadLettersQuerystring,
      response: { 200: deadLettersPageSchema, ...errorResponses },
    },
  }, async (req, reply) => {
    const s = registry.get(req.params.stream);
    const format = chooseFormat(req.query, req.headers.accept);
    const q = { ...req.query };
    delete q.format;
    const { query, fingerprint } = parseDeadLetterQuery(s, q, limits);
    const found = await warehouse.queryDeadLetters(s, { ...query, limit: query.limit + 1 });
    let nextCursor: string | null = null;
    let next: string | null = null;
    if (found.length > query.limit) {
      found.length = query.limit;
      const last = found[found.length - 1]!;
      nextCursor = encodeCursor({ publishTime: last.publishTime, messageId: last.messageId }, 'desc', fingerprint);
      next = nextLink(`/v1/streams/${s.name}/dead-letters`, req.query, nextCursor);
    }
    const columns = [...DEAD_LETTER_FIELDS.map((f) => f.name).filter((n) => n !== 'payload'), 'payload', 'payload_base64'];
    const deadLetters = found.map(apiDeadLetter);
    return sendTable(reply, format, columns, deadLetters as unknown as Record<string, unknown>[], { deadLetters, nextCursor, next } satisfies ApiDeadLettersPage, next);
  });

  app.get<{ Params: StreamParams & { messageId: string } }>('/streams/:stream/dead-letters/:messageId', {
    config: { scope: 'read' },
    schema: { summary: 'One dead letter with its raw payload', tags: ['dead letters'], params: messageParams, response: { 200: deadLetterSchema, ...errorResponses } },
  }, async (req) => {
    const s = registry.get(req.params.stream);
    const [d] = await warehouse.getRawDeadLetters(s, [req.params.messageId]);
    if (!d) throw deadLetterNotFound(s, req.params.messageId);
    return apiDeadLetter(d);
  });

  const replayResponse = (r: ReplayResult, remaining: boolean): ApiReplayAnswer => ({ ...r, remaining });

  app.post<{ Params: StreamParams & { messageId: string } }>('/streams/:stream/dead-letters/:messageId/replay', {
    config: { scope: 'admin' },
    schema: { summary: 'Replay one dead letter through ingest', tags: ['dead letters'], params: messageParams, response: { 200: replayResultSchema, ...errorResponses } },
  }, async (req) => {
    const s = registry.get(req.params.stream);
    const r = await replayDeadLetters({ ingest, warehouse }, s, [req.params.messageId]);
    if (r.notFound.length > 0) throw deadLetterNotFound(s, req.params.messageId);
    return replayResponse(r, false);
  });

  app.post<{ Params: StreamParams; Body: { messageIds?: string[]; reason?: string; from?: string; to?: string } }>('/streams/:stream/dead-letters/replay', {
    config: { scope: 'admin' },
    schema: {
      summary: 'Replay a selection of dead letters, or all of one reason',
      tags: ['dead letters'],
      params: streamParams,
      body: replayBodySchema,
      response: { 200: replayResultSchema, ...errorResponses },
    },
  }, async (req) => {
    const s = registry.get(req.params.stream);
    const body = req.body ?? {};
    if ((body.messageIds === undefined) === (body.reason === undefined)) {
      throw new TributaryError('INVALID_REQUEST', 'give either messageIds (a list) or reason (every dead letter of that reason), not both and not neither');
    }
    if (body.messageIds) {
      if (body.from !== undefined || body.to !== undefined) throw new TributaryError('INVALID_REQUEST', 'from and to go with reason, not with messageIds');
      if (body.messageIds.length > config.maxReplay) throw new TributaryError('INVALID_REQUEST', `at most ${config.maxReplay} messageIds per request`, { max: config.maxReplay });
      return replayResponse(await replayDeadLetters({ ingest, warehouse }, s, body.messageIds), false);
    }
    const range: { from?: bigint; to?: bigint } = {};
    for (const k of ['from', 'to'] as const) {
      const raw = body[k];
      if (raw === undefined) continue;
      const t = parseTimeParam(raw);
      if (t === null) throw new TributaryError('INVALID_REQUEST', `${k}: expected an RFC 3339 timestamp or a date, got ${JSON.stringify(raw)}`);
      range[k] = t;
    }
    // Walk the matching dead letters with a keyset, so those that fail again (rewritten in
    // place) are not visited twice.
    const total = { replayed: 0, stored: 0, duplicates: 0, failed: 0, notFound: [] as string[], results: [] as ReplayResult['results'] };
    let after: { publishTime: bigint; messageId: string } | undefined;
    let remaining = false;
    for (;;) {
      const room = config.maxReplay - total.replayed;
      const page = await warehouse.queryDeadLetters(s, { ...range, reason: body.reason as never, limit: Math.min(500, room) + 1, ...(after ? { after } : {}) });
      const take = page.slice(0, Math.min(500, room));
      if (take.length === 0) break;
      const r = await replayDeadLetters({ ingest, warehouse }, s, take.map((d) => d.messageId));
      total.replayed += r.replayed;
      total.stored += r.stored;
      total.duplicates += r.duplicates;
      total.failed += r.failed;
      total.results.push(...r.results);
      const last = take[take.length - 1]!;
      after = { publishTime: last.publishTime, messageId: last.messageId };
      if (page.length <= take.length) break;
      if (total.replayed >= config.maxReplay) {
        remaining = true;
        break;
      }
    }
    return replayResponse(total, remaining);
  });
};

function deadLetterNotFound(s: StreamDef, id: string): TributaryError {
  return new TributaryError('DEAD_LETTER_NOT_FOUND', `stream "${s.name}" has no dead letter with message_id ${JSON.stringify(id)}`, { messageId: id });
}
