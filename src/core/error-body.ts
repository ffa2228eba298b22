/**
 * The one JSON error body of every HTTP surface: the API's error handler, the HTTP server's
 * client-error handler (requests Node refuses before Fastify sees them) and the push Cloud
 * Function. All three build it with {@link errorBody}; `test/api/error-body.test.ts` checks
 * each surface against {@link errorBodySchema}.
 */
import { ERROR_CODES, type ErrorCode, TributaryError } from './errors.js';

/**
 * `{"error": {"code": "UNKNOWN_STREAM", "message": "...", "status": 404, "requestId": "...", "details": {...}}}`:
 * `code` is stable (see `docs/errors.md`), `status` is the code's HTTP status, `requestId`
 * names the request in the server's log, `details` is structured context when there is any.
 */
export interface ErrorBody {
  error: {
    code: ErrorCode;
    message: string;
    status: number;
    requestId: string;
    details?: Record<string, unknown>;
  };
}

/** JSON Schema of {@link ErrorBody}, for route response schemas, OpenAPI and tests. */
export const errorBodySchema = {
  $id: 'Error',
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'status', 'requestId'],
      properties: {
        code: { type: 'string', enum: Object.keys(ERROR_CODES) },
        message: { type: 'string' },
        status: { type: 'integer' },
        requestId: { type: 'string' },
        details: { type: 'object', additionalProperties: true },
      },
    },
  },
} as const;

/** The error body of `err` (its code, message, status and details) for the request `requestId`. */
export function errorBody(err: TributaryError, requestId: string): ErrorBody {
  const body: ErrorBody = { error: { code: err.code, message: err.message, status: err.status, requestId } };
  if (err.details) body.error.details = err.details;
  return body;
}

/** {@link errorBody} of a code and message, for surfaces that have no {@link TributaryError} at hand. */
export function errorBodyOf(code: ErrorCode, message: string, requestId: string, details?: Record<string, unknown>): ErrorBody {
  return errorBody(new TributaryError(code, message, details), requestId);
}
