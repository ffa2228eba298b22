/** The console's client of the HTTP API (same origin). Keys live in sessionStorage only. */
import type { ApiField as FieldDef, ApiRowsPage, ApiStreamDetail as StreamDetail, ApiStreamList, ApiStreamSummary as StreamSummary } from '../../src/api/wire.js';

const KEY = 'tributary.apiKey';
const ADMIN_KEY = 'tributary.adminKey';

export const keys = {
  get: (): string => sessionStorage.getItem(KEY) ?? '',
  set: (k: string): void => (k ? sessionStorage.setItem(KEY, k) : sessionStorage.removeItem(KEY)),
  admin: (): string => sessionStorage.getItem(ADMIN_KEY) ?? '',
  setAdmin: (k: string): void => (k ? sessionStorage.setItem(ADMIN_KEY, k) : sessionStorage.removeItem(ADMIN_KEY)),
};

/** An error answer of the API (its standard error shape), or a network failure (status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
  override toString(): string {
    return this.status ? `${this.code} (${this.status}): ${this.message}` : this.message;
  }
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  /** Send this key instead of the session's key (admin actions). */
  key?: string;
  accept?: string;
  signal?: AbortSignal;
}

let onAuthProblem: (e: ApiError) => void = () => undefined;
/** Called on 401/403 answers (the header shows a hint about keys). */
export function setAuthListener(f: (e: ApiError) => void): void {
  onAuthProblem = f;
}

export async function request(path: string, o: RequestOptions = {}): Promise<Response> {
  const headers: Record<string, string> = {};
  const key = o.key ?? keys.get();
  if (key) headers.authorization = `Bearer ${key}`;
  if (o.accept) headers.accept = o.accept;
  let body: string | undefined;
  if (o.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
  }
  let res: Response;
  try {
    res = await fetch(path, { method: o.method ?? 'GET', headers, body, signal: o.signal ?? null, cache: 'no-store' });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(0, 'NETWORK', `the server did not answer (${(err as Error).message})`);
  }
  if (!res.ok) {
    let code = 'HTTP_' + res.status;
    let message = res.statusText;
    let details: Record<string, unknown> | undefined;
    try {
      const e = (await res.json()) as { error?: { code?: string; message?: string; details?: Record<string, unknown> } };
      if (e.error) {
        code = e.error.code ?? code;
        message = e.error.message ?? message;
        details = e.error.details;
      }
    } catch {
      // not our error shape
    }
    const err = new ApiError(res.status, code, message, details);
    if (res.status === 401 || res.status === 403) onAuthProblem(err);
    throw err;
  }
  return res;
}

export async function getJson<T>(path: string, o: RequestOptions = {}): Promise<T> {
  return (await (await request(path, o)).json()) as T;
}

export async function postJson<T>(path: string, body: unknown, o: RequestOptions = {}): Promise<T> {
  return (await (await request(path, { ...o, method: 'POST', body })).json()) as T;
}

/** `/v1/streams/{stream}` + suffix, with the name escaped. */
export const streamPath = (stream: string, suffix = ''): string => `/v1/streams/${encodeURIComponent(stream)}${suffix}`;

// Shapes of the API's answers (docs/http-api.md): the server's own types (src/api/wire.ts), so
// that the console cannot drift from what the routes send.

export type {
  ApiAggregate as AggregateAnswer,
  ApiDeadLetter as DeadLetter,
  ApiDeadLettersPage as DeadLettersPage,
  ApiField as FieldDef,
  ApiPublishAnswer as PublishAnswer,
  ApiPublishResult as PublishResult,
  ApiReplayAnswer as ReplayAnswer,
  ApiStats as Stats,
  ApiStreamDetail as StreamDetail,
  ApiStreamSummary as StreamSummary,
} from '../../src/api/wire.js';

/**
 * A row as the console reads it: the console never asks for `fields=`, so every row has its
 * envelope (message_id, publish_time, ingest_time) beside the stream's fields.
 */
export type Row = Record<string, unknown> & { message_id: string; publish_time: string; ingest_time?: string };

/** A page of rows, with the console's {@link Row}. */
export type RowsPage = Omit<ApiRowsPage, 'rows'> & { readonly rows: readonly Row[] };

/** Dead-letter reasons (docs/errors.md#dead-letter-reasons). */
export const DEAD_LETTER_REASONS = ['INVALID_ENCODING', 'INVALID_JSON', 'SCHEMA_VIOLATION', 'UNKNOWN_FIELD', 'MESSAGE_TOO_LARGE', 'WAREHOUSE_REJECTED'];

const detailCache = new Map<string, Promise<StreamDetail>>();
/** A stream's definition (cached for the page's life: definitions change only on restart). */
export function streamDetail(name: string): Promise<StreamDetail> {
  let p = detailCache.get(name);
  if (!p) {
    p = getJson<StreamDetail>(streamPath(name));
    p.catch(() => detailCache.delete(name));
    detailCache.set(name, p);
  }
  return p;
}

/** Every stream's name and counts. */
export async function listStreams(): Promise<readonly StreamSummary[]> {
  return (await getJson<ApiStreamList>('/v1/streams')).streams;
}

/** The definition of a field path (`location.site`, envelope fields too), or undefined. */
export function fieldAt(detail: StreamDetail, path: string): FieldDef | undefined {
  let fields: readonly FieldDef[] | undefined = [...detail.envelope, ...detail.fields];
  let found: FieldDef | undefined;
  for (const part of path.split('.')) {
    found = fields?.find((f) => f.name === part);
    if (!found) return undefined;
    fields = found.fields;
  }
  return found;
}
