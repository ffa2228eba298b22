/** BigQuery's failures as {@link WarehouseError}s: transient unless BigQuery refused the content. */
import { WarehouseError } from '../../core/ports.js';

/** Reasons BigQuery gives when the data itself is refused: retrying the same rows gives the same answer. */
const DATA_REASONS = new Set(['invalid', 'invalidQuery', 'bytesBilledLimitExceeded']);

/** Fields of an error thrown by the REST client, as far as the adapter reads them. */
export interface ApiErrorLike {
  code?: number | string;
  errors?: { reason?: string; message?: string }[];
  message?: string;
}

/**
 * Classifies a failed call. Permanent only when BigQuery refused the request's content (400 with
 * reason `invalid`/`invalidQuery`...); everything else (unreachable, 5xx, 429, quota, missing
 * table or permission: an operator can fix those without changing the data) is transient, so
 * ingest never dead-letters good data because of an outage or a misconfiguration.
 */
export function classify(err: unknown, what: string): WarehouseError {
  if (err instanceof WarehouseError) return err;
  const e = (err ?? {}) as ApiErrorLike;
  const reasons = (e.errors ?? []).map((x) => x.reason ?? '');
  const status = typeof e.code === 'number' ? e.code : undefined;
  const permanent = status === 400 && (reasons.length === 0 || reasons.some((r) => DATA_REASONS.has(r)));
  const message = e.message ?? String(err);
  return new WarehouseError(`BigQuery ${what} failed${status ? ` (${status}${reasons.length ? ` ${reasons.join(',')}` : ''})` : ''}: ${message}`, !permanent, { cause: err });
}

/** The HTTP status of a failed call (404, 409...), if it has one. */
export function statusOf(err: unknown): number | string | undefined {
  return (err as ApiErrorLike | undefined)?.code;
}
