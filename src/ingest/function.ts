/**
 * The Cloud Function (gen2) entry points, registered with the Functions Framework:
 *
 * - `tributaryIngest`, a CloudEvent function, for an Eventarc trigger
 *   (`google.cloud.pubsub.topic.v1.messagePublished`, binary or structured content mode). The
 *   Framework also turns a raw push body into a CloudEvent for it, but that conversion drops the
 *   message's `orderingKey` and does not recognise a message without data.
 * - `tributaryIngestPush`, an HTTP function, for a push subscription (the default delivery of
 *   `infra/`): it reads the push body `{"message": ..., "subscription": ...}` itself, so every
 *   field of the message is kept and a message without data is ingested (and dead-lettered for
 *   its empty payload) instead of failing.
 *
 * Acknowledgement is the HTTP status: 2xx only once the message is committed as a row or as a
 * dead letter (a poison message is acknowledged: it is stored in the dead-letter table); an error
 * status on a transient warehouse failure that outlived ingest's retry budget, so Pub/Sub
 * redelivers with backoff. Concurrent deliveries in one instance share the ingest MicroBatcher
 * and so are written as one batch, each answered when that batch commits.
 */
import { randomUUID } from 'node:crypto';
import * as functions from '@google-cloud/functions-framework';
import { errorBody } from '../core/error-body.js';
import { TributaryError } from '../core/errors.js';
import { type Delivery, readDelivery, readPushBody } from '../core/pubsub-wire.js';
import type { StreamRegistry } from '../core/schema.js';
import type { Ingest } from './ingest.js';
import { resolveStream } from './resolve-stream.js';

/** What the handler needs; built once per instance. */
export interface FunctionDeps {
  readonly registry: StreamRegistry;
  readonly ingest: Ingest;
  /** Topic of a stream = prefix + stream name. */
  readonly topicPrefix: string;
  /**
   * Called when a delivery is refused (malformed, transient failure); for logs. The push handler
   * passes the request id its error answer carries, so that the answer and the log line meet.
   */
  readonly onError?: (err: unknown, requestId?: string) => void;
  /**
   * Writes one structured log entry per committed message (default: a JSON line on stdout,
   * which Cloud Logging reads as `jsonPayload` with its `severity`). The log-based metrics of
   * `infra/modules/observability` count `event="message_stored"` with `freshness_ms` (publish →
   * committed) for the freshness SLO, and `event="message_dead_lettered"` for the alert.
   */
  readonly log?: (entry: Record<string, unknown>) => void;
}

function stdoutLog(entry: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(entry)}\n`);
}

/** Ingests one delivery; resolves once its row or dead letter is committed. */
async function ingestDelivery(d: FunctionDeps, delivery: Delivery): Promise<void> {
  const stream = resolveStream(d.registry, d.topicPrefix, delivery);
  const [outcome] = await d.ingest.ingest(stream, [delivery.message]);
  const log = d.log ?? stdoutLog;
  const base = { stream: stream.name, message_id: delivery.message.messageId };
  if (outcome?.status === 'dead_lettered') {
    log({ severity: 'WARNING', event: 'message_dead_lettered', ...base, reason: outcome.reason, message: `dead-lettered ${outcome.reason}: ${outcome.detail ?? ''}` });
  } else if (outcome) {
    const freshnessMs = Date.now() - Number(delivery.message.publishTime / 1000n);
    log({ severity: 'INFO', event: 'message_stored', ...base, duplicate: outcome.status === 'duplicate', freshness_ms: freshnessMs, message: `stored (${freshnessMs} ms after publish)` });
  }
}

/** The CloudEvent handler: ingest one Pub/Sub message, resolve once it is committed. */
export function createIngestHandler(deps: () => Promise<FunctionDeps>): (event: unknown) => Promise<void> {
  return async (event: unknown) => {
    const d = await deps();
    try {
      await ingestDelivery(d, readDelivery(event));
    } catch (err) {
      d.onError?.(err);
      throw err;
    }
  };
}

/** The slice of the Functions Framework's (Express) request and response the push handler uses. */
export interface PushRequest {
  readonly method: string;
  readonly path: string;
  readonly body: unknown;
  /** Request headers (lowercase names), for the request id; see {@link pushRequestId}. */
  readonly headers?: Readonly<Record<string, string | string[] | undefined>>;
}
export interface PushResponse {
  status(code: number): PushResponse;
  set(field: string, value: string): PushResponse;
  json(body: unknown): unknown;
  end(): unknown;
}

/**
 * The push handler: reads a push subscription's body, ingests its message, and answers 204 once
 * it is committed. Errors answer with the API's error body and the code's status: 400
 * `INVALID_REQUEST` (not a push body), 404 `UNKNOWN_STREAM`, 503 `WAREHOUSE_UNAVAILABLE`, 500
 * `INTERNAL`. Pub/Sub treats every non-2xx as a nack: it redelivers with the subscription's
 * backoff, then forwards the message to the dead-letter topic after its maximum attempts.
 * The topic comes from the endpoint path (`.../projects/P/topics/T`), as with the CloudEvent
 * function, else from the subscription name, else the only stream.
 */
export function createPushHandler(deps: () => Promise<FunctionDeps>): (req: PushRequest, res: PushResponse) => Promise<void> {
  return async (req, res) => {
    let d: FunctionDeps | undefined;
    try {
      if (req.method !== 'POST') {
        res.set('allow', 'POST');
        throw new TributaryError('METHOD_NOT_ALLOWED', `${req.method} is not allowed: Pub/Sub pushes with POST`);
      }
      d = await deps();
      await ingestDelivery(d, readPushBody(req.body, req.path));
      res.status(204).end();
    } catch (err) {
      const requestId = pushRequestId(req.headers);
      d?.onError?.(err, requestId);
      // An unexpected error keeps its details in the log (onError), not in the answer.
      const e = err instanceof TributaryError ? err : new TributaryError('INTERNAL', 'an unexpected error; the function log has the details');
      res.status(e.status).set('x-request-id', requestId).json(errorBody(e, requestId));
    }
  };
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The id of a push request, as the API's: the `Function-Execution-Id` Cloud Functions sets,
 * else a sane `X-Request-Id`, else the trace id of `X-Cloud-Trace-Context`, else a new UUID.
 */
export function pushRequestId(headers: PushRequest['headers']): string {
  for (const name of ['function-execution-id', 'x-request-id']) {
    const v = headers?.[name];
    if (typeof v === 'string' && REQUEST_ID.test(v)) return v;
  }
  const trace = headers?.['x-cloud-trace-context'];
  const m = typeof trace === 'string' ? /^([0-9a-f]{32})/.exec(trace) : null;
  return m ? m[1]! : randomUUID();
}

/** Registers the CloudEvent handler under `name` with the Functions Framework (signature type cloudevent). */
export function registerIngestFunction(name: string, deps: () => Promise<FunctionDeps>): void {
  functions.cloudEvent(name, createIngestHandler(deps));
}

/** Registers the push handler under `name` with the Functions Framework (signature type http). */
export function registerPushFunction(name: string, deps: () => Promise<FunctionDeps>): void {
  const handle = createPushHandler(deps);
  functions.http(name, (req, res) => handle(req, res));
}
