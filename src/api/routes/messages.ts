import type { FastifyPluginAsync } from 'fastify';
import { TributaryError } from '../../core/errors.js';
import type { PublishMessage } from '../../core/ports.js';
import type { PublishRequestMessage } from '../../core/pubsub-wire.js';
import { parseJsonPublishBody, parseNdjsonPublishBody } from '../publish.js';
import { errorResponses, publishResultSchema, streamParams } from '../schemas.js';
import type { ApiPublishAnswer } from '../wire.js';

/** The properties of a Pub/Sub-shaped message, one per field of the wire type (checked by the compiler). */
const publishMessageProperties = {
  data: { type: 'string', description: 'Base64 payload.' },
  attributes: { type: 'object', additionalProperties: { type: 'string' } },
  orderingKey: { type: 'string' },
  messageId: { type: 'string' },
} satisfies Record<keyof PublishRequestMessage, unknown>;

/** The JSON publish body, for the OpenAPI description (parsed by hand, losslessly, in `../publish.ts`). */
const publishJsonBody = {
  oneOf: [
    {
      type: 'object',
      required: ['messages'],
      properties: {
        messages: {
          type: 'array',
          items: {
            type: 'object',
            properties: publishMessageProperties,
          },
        },
      },
    },
    { type: 'object', description: 'One message as a plain JSON object.' },
    { type: 'array', items: { type: 'object' }, description: 'Messages as plain JSON objects.' },
  ],
};

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * `POST /v1/streams/{stream}/messages`: publish. With the embedded topic the answer comes once
 * every message is committed (as a row or a dead letter); with Pub/Sub once Pub/Sub accepted them.
 */
export const messageRoutes: FastifyPluginAsync = async (app) => {
  const { registry, topic, config } = app.deps;
  const limits = { maxMessagesPerRequest: config.maxMessagesPerRequest };

  // Bodies are kept raw: JSON is parsed losslessly here (integers beyond 2^53 survive), and an
  // NDJSON line that is not UTF-8 or not JSON becomes a dead letter, not a failed request.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(['application/json', 'application/x-ndjson', 'application/ndjson', 'application/jsonl'], { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.post<{ Params: { stream: string }; Body: Buffer }>('/streams/:stream/messages', {
    config: { scope: 'write' },
    // The answer is never compressed: it is read by publishers (a Pub/Sub push ignores it), and
    // compressing the answer to 1,000 messages (about 60 KB of ids) cost about 15% of batched
    // ingest throughput on 2 cores (docs/performance.md).
    compress: false,
    schema: {
      summary: 'Publish messages to the stream',
      tags: ['messages'],
      params: streamParams,
      'x-body': {
        'application/json': { schema: publishJsonBody },
        'application/x-ndjson': { schema: { type: 'string', description: 'One JSON message per line.' } },
      },
      response: { 200: publishResultSchema, ...errorResponses },
    },
  }, async (req) => {
    const stream = registry.get(req.params.stream);
    const body = req.body;
    if (!Buffer.isBuffer(body)) throw new TributaryError('INVALID_REQUEST', 'the request has no body; send application/json or application/x-ndjson');
    let messages: PublishMessage[];
    const header = req.headers['content-type'] ?? '';
    const type = header === 'application/json' ? header : header.split(';')[0]!.trim().toLowerCase();
    if (type === 'application/json') {
      let text: string;
      try {
        text = utf8.decode(body);
      } catch {
        throw new TributaryError('INVALID_REQUEST', 'the body is not valid UTF-8');
      }
      messages = parseJsonPublishBody(text, limits);
    } else {
      messages = parseNdjsonPublishBody(body, limits);
    }
    const outcomes = await topic.publish(stream, messages);
    const counts = { stored: 0, duplicate: 0, dead_lettered: 0, accepted: 0 };
    for (const o of outcomes) counts[o.status]++;
    return { messageIds: outcomes.map((o) => o.messageId), counts, results: outcomes } satisfies ApiPublishAnswer;
  });
};
