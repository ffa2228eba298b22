/**
 * Prometheus metrics of one process, kept by prom-client (https://github.com/siimon/prom-client)
 * in a registry of their own (not prom-client's global one, so that two apps in one process,
 * as in the tests, do not share counts) and rendered on `GET /metrics` in the text exposition
 * format (version 0.0.4).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { MetricFamily, MetricsSink } from '../core/ports.js';
import type { BatchReport } from '../ingest/ingest.js';
import type { AdmissionOutcome } from './admission.js';
import { FastHistogram, type HistogramSeries, SeriesCounter } from './series.js';

const SECONDS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** What the HTTP server's body budget (BodyBudget) shows to /metrics. */
export interface AdmissionStatus {
  readonly capacity: number;
  readonly inFlight: number;
  readonly waiting: number;
  readonly outcomes: Readonly<Record<AdmissionOutcome, number>>;
}

/** The metrics of one process. */
export class Metrics implements MetricsSink {
  /** The registry rendered on `/metrics`. */
  readonly registry = new Registry();
  // Registered in the order they are rendered.
  // The request counter and latency, and freshness, are observed for every message: their series
  // are found by label values through maps and observed without building a key (series.ts). The
  // counter shows the count of each latency series.
  private readonly requests = new SeriesCounter('tributary_http_requests_total', 'HTTP requests by method, route and status.', () => this.latency.seriesList, this.registry);
  private readonly latency = new FastHistogram('tributary_http_request_duration_seconds', 'HTTP request latency by method, route and status.', SECONDS, this.registry);
  readonly ingested = new Counter({ name: 'tributary_ingest_messages_total', help: 'Messages ingested by stream and outcome (stored, duplicate, dead_lettered).', labelNames: ['stream', 'outcome'] as const, registers: [this.registry] });
  readonly deadLettered = new Counter({ name: 'tributary_ingest_dead_letters_total', help: 'Messages dead-lettered by stream and reason.', labelNames: ['stream', 'reason'] as const, registers: [this.registry] });
  readonly writeFailures = new Counter({ name: 'tributary_ingest_write_failures_total', help: 'Failed warehouse writes by stream and what followed: retried, or gave_up (the batch was not acknowledged; its publishers got 503 or Pub/Sub redelivers).', labelNames: ['stream', 'outcome'] as const, registers: [this.registry] });
  readonly batchSize = new Histogram({ name: 'tributary_ingest_batch_messages', help: 'Messages per committed micro-batch.', labelNames: ['stream'] as const, buckets: [1, 5, 10, 50, 100, 500, 1000, 5000], registers: [this.registry] });
  readonly writeLatency = new Histogram({ name: 'tributary_ingest_write_duration_seconds', help: 'Warehouse write latency per batch (with retries).', labelNames: ['stream'] as const, buckets: SECONDS, registers: [this.registry] });
  private readonly freshness = new FastHistogram('tributary_ingest_freshness_seconds', 'publish_time to ingest_time lag of stored rows.', [...SECONDS, 60, 300], this.registry);
  /** Request series by method, route and status code. */
  private readonly requestSeries = new Map<string, Map<string, Map<number, HistogramSeries>>>();
  /** Freshness series by stream. */
  private readonly freshnessSeries = new Map<string, HistogramSeries>();

  /** The runtime's onWriteError hook. */
  readonly onWriteError = (stream: string, _err: unknown, willRetry: boolean): void => {
    this.writeFailures.inc({ stream, outcome: willRetry ? 'retried' : 'gave_up' });
  };

  /** The runtime's onBatch hook. */
  readonly onBatch = (r: BatchReport): void => {
    const stream = r.stream;
    let dead = 0;
    for (const [reason, n] of Object.entries(r.deadLettered)) {
      this.deadLettered.inc({ stream, reason }, n ?? 0);
      dead += n ?? 0;
    }
    this.ingested.inc({ stream, outcome: 'stored' }, r.inserted);
    this.ingested.inc({ stream, outcome: 'duplicate' }, r.duplicates);
    this.ingested.inc({ stream, outcome: 'dead_lettered' }, dead);
    const labels = { stream };
    this.batchSize.observe(labels, r.messages);
    this.writeLatency.observe(labels, r.writeMs / 1000);
    let fresh = this.freshnessSeries.get(stream);
    if (!fresh) this.freshnessSeries.set(stream, (fresh = this.freshness.series(labels)));
    for (const lag of r.lagsMs) fresh.observe(lag / 1000);
  };

  /** Records one answered request. */
  request(method: string, route: string, status: number, seconds: number): void {
    let byRoute = this.requestSeries.get(method);
    if (!byRoute) this.requestSeries.set(method, (byRoute = new Map()));
    let byStatus = byRoute.get(route);
    if (!byStatus) byRoute.set(route, (byStatus = new Map()));
    let series = byStatus.get(status);
    if (!series) byStatus.set(status, (series = this.latency.series({ method, route, status: String(status) })));
    series.observe(seconds);
  }

  /** Shows the HTTP server's body budget (BodyBudget): its gauges are read at every scrape. */
  watchAdmission(a: AdmissionStatus): void {
    const registers = [this.registry];
    new Gauge({ name: 'tributary_http_body_bytes_in_flight', help: 'Request body bytes reserved by the requests in flight (declared Content-Length; the body limit when none is declared).', registers, collect() { this.set(a.inFlight); } });
    new Gauge({ name: 'tributary_http_body_bytes_in_flight_limit', help: 'Most request body bytes held at once (--max-body-bytes-in-flight).', registers, collect() { this.set(a.capacity); } });
    new Gauge({ name: 'tributary_http_requests_waiting_for_body_room', help: 'Requests waiting, unread, for room under --max-body-bytes-in-flight.', registers, collect() { this.set(a.waiting); } });
    new Counter({
      name: 'tributary_http_body_waits_total',
      help: 'Requests that had to wait for room under --max-body-bytes-in-flight, by outcome: admitted after waiting, or timed_out (answered 503 OVERLOADED).',
      labelNames: ['outcome'] as const,
      registers,
      collect() {
        this.reset();
        this.inc({ outcome: 'admitted' }, a.outcomes.waited);
        this.inc({ outcome: 'timed_out' }, a.outcomes.timed_out);
      },
    });
  }

  /** Families the adapters publish (DuckDB's rollups and index memory), read at every scrape. */
  private readonly collectors: (() => readonly MetricFamily[])[] = [];
  /** The prom-client metric of each adapter family, by name, made at the first scrape that has samples of it. */
  private readonly adapterMetrics = new Map<string, { readonly labelNames: readonly string[]; readonly metric: Gauge | Counter }>();

  /** {@link MetricsSink}: the warehouse adapter's own metrics. */
  collect(collector: () => readonly MetricFamily[]): void {
    this.collectors.push(collector);
  }

  /** The registry's content type, for the answer to `/metrics`. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** The text exposition of every metric. */
  async render(): Promise<string> {
    for (const c of this.collectors) for (const f of c()) this.adapterFamily(f);
    return this.registry.metrics();
  }

  /** Copies one adapter family into its prom-client metric (made, or remade if its label names changed). */
  private adapterFamily(f: MetricFamily): void {
    const names = [...new Set(f.samples.flatMap(([labels]) => Object.keys(labels)))].sort();
    let entry = this.adapterMetrics.get(f.name);
    if (!entry || !names.every((n) => entry!.labelNames.includes(n))) {
      if (!entry && f.samples.length === 0) return; // label names unknown until a sample comes
      if (entry) this.registry.removeSingleMetric(f.name);
      const config = { name: f.name, help: f.help, labelNames: names, registers: [this.registry] };
      entry = { labelNames: names, metric: f.type === 'gauge' ? new Gauge(config) : new Counter(config) };
      this.adapterMetrics.set(f.name, entry);
    }
    const m = entry.metric;
    m.reset();
    for (const [labels, value] of f.samples) {
      if (m instanceof Gauge) m.set(labels, value);
      else m.inc(labels, value);
    }
  }
}
