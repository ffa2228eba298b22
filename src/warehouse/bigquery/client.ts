/**
 * The BigQuery REST transport on `@google-cloud/bigquery`: Application Default Credentials
 * against Google, or no credentials against an emulator (`apiEndpoint`).
 */
import { BigQuery } from '@google-cloud/bigquery';
import { OAuth2Client } from 'google-auth-library';
import type { BigQueryApi } from './warehouse.js';

export interface BigQueryClientOptions {
  readonly projectId: string;
  /** Emulator base URL (e.g. http://127.0.0.1:9050); undefined for Google's endpoint. */
  readonly apiEndpoint?: string;
  readonly location?: string;
  /** Per-request timeout in milliseconds (default 30 s): a hung endpoint is a transient failure, not a hung function. */
  readonly timeoutMs?: number;
}

/**
 * Builds the transport. Automatic retries of the client library are off: ingest retries
 * transient failures itself with backoff (and answers an error status to Pub/Sub beyond its
 * budget), and reads answer 503 promptly rather than hang.
 */
export function createBigQueryApi(options: BigQueryClientOptions): BigQueryApi {
  const emulator = options.apiEndpoint !== undefined;
  const timeoutMs = options.timeoutMs ?? 30_000;
  // An emulator takes any bearer token; a fixed one keeps google-auth-library off the network.
  const authClient = emulator ? new OAuth2Client() : undefined;
  authClient?.setCredentials({ access_token: 'emulator', expiry_date: Date.now() + 100 * 365 * 86_400_000 });
  // `timeout` is read by @google-cloud/common's Service (per request) but missing from BigQueryOptions' type.
  const settings: ConstructorParameters<typeof BigQuery>[0] & { timeout: number } = {
    projectId: options.projectId,
    ...(options.apiEndpoint ? { apiEndpoint: options.apiEndpoint } : {}),
    ...(options.location ? { location: options.location } : {}),
    ...(authClient ? { authClient } : {}),
    retryOptions: { autoRetry: false, maxRetries: 0 },
    timeout: timeoutMs,
  };
  const client = new BigQuery(settings);
  return {
    request<T>(req: { method: 'GET' | 'POST' | 'PATCH' | 'DELETE'; path: string; body?: unknown; query?: Record<string, string> }): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        // Our own deadline as well: the library's timeout does not cover every stage of a request.
        const timer = setTimeout(() => reject(Object.assign(new Error(`BigQuery did not answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), timeoutMs);
        client.request(
          { method: req.method, uri: req.path, ...(req.body !== undefined ? { json: req.body } : {}), ...(req.query ? { qs: req.query } : {}) },
          (err: Error | null, body?: unknown) => {
            clearTimeout(timer);
            if (err) reject(err);
            else resolve(body as T);
          },
        );
      });
    },
  };
}
