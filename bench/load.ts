/**
 * Small fetch-based load generators for the benchmarks that need their own latency
 * percentiles (autocannon reports no p95) or an open-loop shape: a closed loop with a fixed
 * number of requests in flight, and a fixed-rate (open-loop) schedule whose latencies are
 * measured from each request's scheduled time, so a stalled server cannot hide its queue
 * (no coordinated omission). Requests ask for uncompressed answers (`accept-encoding: identity`,
 * which fetch would otherwise set to gzip), as autocannon does in bench/reads.ts and
 * bench/ingest.ts, so the figures compare with theirs.
 */

/** What one request of a load run is: a URL and optional init (method, headers, body). */
export interface LoadRequest {
  readonly url: string;
  readonly init?: RequestInit;
}

/** Outcome of a load run: latencies of the answered-2xx requests (ms), failures, duration. */
export interface LoadResult {
  readonly latencies: number[];
  readonly errors: number;
  readonly seconds: number;
  /** First failure seen (status or error message), for the report. */
  readonly firstError?: string;
}

/** Reads the answer and checks it is 2xx; `check` may inspect the body (JSON) too. */
async function exchange(r: LoadRequest, check?: (status: number, body: string) => string | undefined): Promise<string | undefined> {
  try {
    const res = await fetch(r.url, { ...r.init, headers: { 'accept-encoding': 'identity', ...(r.init?.headers as Record<string, string> | undefined) } });
    const body = await res.text();
    if (res.status < 200 || res.status >= 300) return `status ${res.status}: ${body.slice(0, 200)}`;
    return check?.(res.status, body);
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** `connections` senders, each sending its next request when the previous one is answered. */
export async function closedLoop(next: (i: number) => LoadRequest, connections: number, seconds: number, check?: (status: number, body: string) => string | undefined): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let i = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        const err = await exchange(next(i++), check);
        if (err === undefined) latencies.push(performance.now() - t0);
        else {
          errors++;
          firstError ??= err;
        }
      }
    }),
  );
  return { latencies, errors, seconds: (performance.now() - started) / 1000, ...(firstError ? { firstError } : {}) };
}

/**
 * Open loop: request k is due at start + k / rate seconds and is sent then, whatever is still
 * in flight; its latency counts from that due time.
 */
export async function fixedRate(next: (i: number) => LoadRequest, rate: number, seconds: number, check?: (status: number, body: string) => string | undefined): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const total = Math.floor(rate * seconds);
  const started = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let k = 0; k < total; k++) {
    const due = started + (k * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    inFlight.push(
      exchange(next(k), check).then((err) => {
        if (err === undefined) latencies.push(performance.now() - due);
        else {
          errors++;
          firstError ??= err;
        }
      }),
    );
  }
  await Promise.all(inFlight);
  return { latencies, errors, seconds: (performance.now() - started) / 1000, ...(firstError ? { firstError } : {}) };
}

/**
 * Node flags for a server child: with `BENCH_CPU_PROF=<dir>` set, the server writes a
 * `node --cpu-prof` profile into that directory when it exits (what the figures' "what limits
 * it" notes are based on).
 */
export function serverNodeFlags(): string[] {
  const dir = process.env.BENCH_CPU_PROF;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
}
