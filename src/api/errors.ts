import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errorBody, errorBodyOf } from '../core/error-body.js';
import { ERROR_CODES, type ErrorCode, TributaryError } from '../core/errors.js';
import { WarehouseError } from '../core/ports.js';

/** The one error body of the API (built in `core/error-body.ts` for every surface). */
export { type ErrorBody, errorBodySchema } from '../core/error-body.js';

/** Maps Fastify's own errors (body parsing, validation, limits) to our codes. */
function fromFastify(err: FastifyError): TributaryError | undefined {
  if (err.validation && (err.validationContext === 'querystring' || err.validationContext === 'params')) {
    const first = err.validation[0];
    const parameter = first?.instancePath.replace(/^\//, '') || String((first?.params as { missingProperty?: string } | undefined)?.missingProperty ?? '');
    return new TributaryError('INVALID_PARAMETER', `${parameter ? `${parameter}: ` : ''}${first?.message ?? err.message}`, {
      ...(parameter ? { parameter } : {}),
      validation: err.validation.map((v) => ({ path: v.instancePath, message: v.message })),
    });
  }
  if (err.validation) {
    return new TributaryError('INVALID_REQUEST', err.message, { validation: err.validation.map((v) => ({ path: v.instancePath, message: v.message })) });
  }
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new TributaryError('PAYLOAD_TOO_LARGE', 'the request body exceeds the configured body limit (--body-limit)');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new TributaryError('UNSUPPORTED_MEDIA_TYPE', 'unsupported Content-Type; send application/json or application/x-ndjson');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new TributaryError('INVALID_REQUEST', err.message);
    default:
      if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
        return new TributaryError('INVALID_REQUEST', err.message);
      }
      return undefined;
  }
}

/**
 * A warehouse failure while serving a request: transient ones (unreachable, locked) are 503
 * WAREHOUSE_UNAVAILABLE; permanent ones mean the engine refused the query for the data it met
 * (a sum out of range), QUERY_REJECTED. The engine's message stays in the log.
 */
function fromWarehouse(err: WarehouseError): TributaryError {
  return err.transient
    ? new TributaryError('WAREHOUSE_UNAVAILABLE', 'the warehouse could not be read just now; retry with backoff', undefined, { cause: err })
    : new TributaryError('QUERY_REJECTED', 'the warehouse refused this query for the data it met (for example a sum out of range); narrow the query', undefined, { cause: err });
}

/** Sends a {@link TributaryError} in the standard shape. */
export function sendError(reply: FastifyReply, request: FastifyRequest, err: TributaryError): FastifyReply {
  const body = errorBody(err, String(request.id));
  if (err.code === 'WAREHOUSE_UNAVAILABLE' || err.code === 'SHUTTING_DOWN') void reply.header('retry-after', '1');
  return reply.code(err.status).type('application/json; charset=utf-8').send(body);
}

/**
 * Answers requests Node's HTTP parser refuses before Fastify sees them (headers too large,
 * malformed HTTP, timeouts) in the standard error shape, then closes the connection.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (socket.destroyed || !socket.writable) return;
  const code: ErrorCode = err.code === 'HPE_HEADER_OVERFLOW' ? 'HEADERS_TOO_LARGE' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'REQUEST_TIMEOUT' : 'INVALID_REQUEST';
  const { status, summary } = ERROR_CODES[code];
  const body = JSON.stringify(errorBodyOf(code, code === 'INVALID_REQUEST' ? 'malformed HTTP request' : summary, randomUUID()));
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/** Installs the error and not-found handlers: every 4xx/5xx leaves in the standard shape. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const known = err instanceof TributaryError ? err : err instanceof WarehouseError ? fromWarehouse(err) : fromFastify(err);
    if (known) {
      if (known.status >= 500) request.log.error({ err, code: known.code }, known.message);
      return sendError(reply, request, known);
    }
    // Unexpected: log everything, show nothing internal.
    request.log.error({ err }, 'unhandled error');
    return sendError(reply, request, new TributaryError('INTERNAL', `internal error; quote request id ${String(request.id)} when reporting it`));
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, request, new TributaryError('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0] ?? ''}; see /v1/streams`)),
  );
}
