/**
 * The Prometheus text of `Metrics` for write failures (the server passes its runtime's
 * onWriteError hook to it; test/api/openapi.test.ts reads /metrics from a running server).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Metrics } from '../../src/api/metrics.js';

describe('Metrics', () => {
  it('counts failed warehouse writes by stream and by what followed', async () => {
    const m = new Metrics();
    const err = new Error('IO Error: No space left on device');
    m.onWriteError('sensor_readings', err, true);
    m.onWriteError('sensor_readings', err, true);
    m.onWriteError('sensor_readings', err, false);
    m.onWriteError('other', err, true);
    const text = await m.render();
    assert.match(text, /^# TYPE tributary_ingest_write_failures_total counter$/m);
    assert.match(text, /^tributary_ingest_write_failures_total\{stream="sensor_readings",outcome="retried"\} 2$/m);
    assert.match(text, /^tributary_ingest_write_failures_total\{stream="sensor_readings",outcome="gave_up"\} 1$/m);
    assert.match(text, /^tributary_ingest_write_failures_total\{stream="other",outcome="retried"\} 1$/m);
  });

  it('renders the adapters\' families as they are at each scrape, label sets included', async () => {
    const m = new Metrics();
    let streams: string[] = [];
    let lag = 1.5;
    m.collect(() => [
      { name: 'tributary_rollup_lag_seconds', type: 'gauge', help: 'Lag.', samples: streams.map((s) => [{ stream: s }, lag] as const) },
      { name: 'tributary_aggregate_queries_total', type: 'counter', help: 'Aggregates.', samples: [[{ path: 'rollup' }, 3], [{ path: 'scan' }, 0]] },
      { name: 'tributary_duckdb_index_bytes', type: 'gauge', help: 'Index.', samples: [[{}, 42]] },
    ]);
    let text = await m.render();
    assert.doesNotMatch(text, /^tributary_rollup_lag_seconds/m, 'no sample, no series');
    assert.match(text, /^# TYPE tributary_aggregate_queries_total counter$/m);
    assert.match(text, /^tributary_aggregate_queries_total\{path="scan"\} 0$/m);
    assert.match(text, /^tributary_duckdb_index_bytes 42$/m);
    streams = ['a', 'b'];
    text = await m.render();
    assert.match(text, /^# HELP tributary_rollup_lag_seconds Lag\.$/m);
    assert.match(text, /^tributary_rollup_lag_seconds\{stream="b"\} 1\.5$/m);
    streams = ['b'];
    lag = 0;
    text = await m.render();
    assert.doesNotMatch(text, /^tributary_rollup_lag_seconds\{stream="a"\}/m, 'a series the adapter no longer reports is gone');
    assert.match(text, /^tributary_rollup_lag_seconds\{stream="b"\} 0$/m);
    assert.match(text, /^tributary_aggregate_queries_total\{path="rollup"\} 3$/m, 'a counter shows the adapter\'s total, not a sum of scrapes');
  });

  it('renders the per-message series (requests, latency, freshness) as prom-client renders a histogram', async () => {
    const m = new Metrics();
    m.request('POST', '/v1/streams/:stream/messages', 200, 0.00390625);
    m.request('POST', '/v1/streams/:stream/messages', 200, 0.25);
    m.request('POST', '/v1/streams/:stream/messages', 400, 0.001);
    m.onBatch({ stream: 's', messages: 3, inserted: 3, duplicates: 0, deadLettered: {}, writeMs: 12, attempts: 1, lagsMs: [3, 40, 400_000] });
    const text = await m.render();
    const route = 'method="POST",route="/v1/streams/:stream/messages"';
    assert.match(text, new RegExp(`^tributary_http_requests_total\\{${route},status="200"\\} 2$`, 'm'));
    assert.match(text, new RegExp(`^tributary_http_requests_total\\{${route},status="400"\\} 1$`, 'm'));
    assert.match(text, /^# TYPE tributary_http_request_duration_seconds histogram$/m);
    // Buckets are cumulative, le first; +Inf, _sum and _count follow.
    assert.match(text, new RegExp(`^tributary_http_request_duration_seconds_bucket\\{le="0.001",${route},status="200"\\} 0$`, 'm'));
    assert.match(text, new RegExp(`^tributary_http_request_duration_seconds_bucket\\{le="0.005",${route},status="200"\\} 1$`, 'm'));
    assert.match(text, new RegExp(`^tributary_http_request_duration_seconds_bucket\\{le="0.25",${route},status="200"\\} 2$`, 'm'));
    assert.match(text, new RegExp(`^tributary_http_request_duration_seconds_bucket\\{le="\\+Inf",${route},status="200"\\} 2$`, 'm'));
    assert.match(text, new RegExp(`^tributary_http_request_duration_seconds_sum\\{${route},status="200"\\} 0.25390625$`, 'm'));
    assert.match(text, new RegExp(`^tributary_http_request_duration_seconds_count\\{${route},status="400"\\} 1$`, 'm'));
    // Freshness: one per stored row; 400 s is beyond the last bucket (300 s), so only in +Inf.
    assert.match(text, /^tributary_ingest_freshness_seconds_bucket\{le="0.005",stream="s"\} 1$/m);
    assert.match(text, /^tributary_ingest_freshness_seconds_bucket\{le="0.05",stream="s"\} 2$/m);
    assert.match(text, /^tributary_ingest_freshness_seconds_bucket\{le="300",stream="s"\} 2$/m);
    assert.match(text, /^tributary_ingest_freshness_seconds_bucket\{le="\+Inf",stream="s"\} 3$/m);
    assert.match(text, /^tributary_ingest_freshness_seconds_count\{stream="s"\} 3$/m);
    // The families render in their order: requests, then latency.
    assert.ok(text.indexOf('# TYPE tributary_http_requests_total counter') < text.indexOf('# TYPE tributary_http_request_duration_seconds histogram'));
  });

  it('keeps each app\'s counts apart', async () => {
    const a = new Metrics();
    const b = new Metrics();
    a.request('GET', '/healthz', 200, 0.002);
    assert.match(await a.render(), /^tributary_http_requests_total\{method="GET",route="\/healthz",status="200"\} 1$/m);
    assert.match(await a.render(), /^tributary_http_request_duration_seconds_bucket\{le="0\.005",method="GET",route="\/healthz",status="200"\} 1$/m);
    assert.doesNotMatch(await b.render(), /healthz/);
  });
});
