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
});
