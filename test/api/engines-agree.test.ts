/**
 * Differential check: every selected engine answers the same data set with the same rows and
 * aggregates, over a matrix of filters (each filterable type with each operator it takes) and
 * metrics (each function on each scalar type, ungrouped, grouped by two fields, bucketed). The
 * per-engine suites check answers against JavaScript; this one catches a difference they did
 * not think of (it found the emulator's TIMESTAMP grouping, exception `timestamp-group-by`,
 * which is why no TIMESTAMP group key is asked here). Floats are compared to 12 significant
 * digits: the engines sum in different orders. Runs when two or more engines are selected.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { getJson, publish } from '../helpers.js';
import { type ApiEngine, ENGINES, type EngineServer, startEngineServer, stopEmulatorAfterFile } from './engines.js';

function message(i: number) {
  return {
    messageId: `d-${String(i).padStart(3, '0')}`,
    attributes: { region: i % 2 ? 'eu' : 'us' },
    data: {
      device_id: i % 13 === 0 ? `=cmd|calc ${i}` : `dev-${i % 5}`,
      seq: i * 1000 - 20000,
      temperature_c: i % 4 === 0 ? null : Math.round((i * 0.37 - 5) * 100) / 100,
      energy_kwh: i % 3 === 0 ? null : `${i}.${i % 10}25`,
      ok: i % 5 === 0 ? null : i % 2 === 0,
      measured_at: `2026-11-${10 + (i % 10)}T0${i % 10}:00:00.${String(i * 12345).padStart(6, '0').slice(0, 6)}Z`,
      calibration_date: i % 6 === 0 ? null : `2026-0${1 + (i % 9)}-1${i % 10}`,
      location: i % 7 === 0 ? null : { lat: i, lon: -i, site: i % 2 ? 'north-1' : 'south-2' },
      tags: ['a', `t${i % 3}`],
      readings: [{ name: 'x', value: i, unit: null }],
    },
  };
}
const MESSAGES = Array.from({ length: 60 }, (_, i) => message(i));

const VALUES: Record<string, { kind: 'string' | 'ordered'; values: string[] }> = {
  device_id: { kind: 'string', values: ['dev-1', '=cmd|calc 13', 'dev-'] },
  'location.site': { kind: 'string', values: ['north-1', 'nope'] },
  'attributes.region': { kind: 'string', values: ['eu', 'x'] },
  seq: { kind: 'ordered', values: ['-20000', '5000', '9223372036854775807'] },
  temperature_c: { kind: 'ordered', values: ['-4.63', '3.5', '1e1'] },
  energy_kwh: { kind: 'ordered', values: ['1.1250', '20.5', '12345678901234567890.5'] },
  ok: { kind: 'ordered', values: ['true', 'false'] },
  measured_at: { kind: 'ordered', values: ['2026-11-12T03:00:00+01:00', '2026-11-11T01:00:00.012345Z', '2026-11-10'] },
  calibration_date: { kind: 'ordered', values: ['2026-05-01', '2026-09-18'] },
  'location.lat': { kind: 'ordered', values: ['30', '7.5'] },
};
// `__gte` and `__lt` compile as `__gt` and `__lte` do, with the other operator.
const OPERATORS = { string: ['', '__eq', '__in', '__prefix', '__isnull'], ordered: ['', '__gt', '__lte', '__in', '__isnull'] };
const METRIC_FIELDS = ['seq', 'temperature_c', 'energy_kwh', 'measured_at', 'calibration_date', 'location.lat', 'device_id', 'ok', 'location.site'];
const FUNCTIONS = ['count_distinct', 'sum', 'avg', 'min', 'max', 'p99.9'];

/** Floats to 12 significant digits, everything else as is. */
function rounded(v: unknown): unknown {
  if (typeof v === 'number') return Number.isInteger(v) ? v : Number(v.toPrecision(12));
  if (Array.isArray(v)) return v.map(rounded);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, rounded(x)]));
  return v;
}

if (ENGINES.length >= 2) {
  if (ENGINES.includes('bigquery')) stopEmulatorAfterFile();
  describe(`engines agree: ${ENGINES.join(', ')}`, () => {
    const servers = new Map<ApiEngine, EngineServer>();
    before(async () => {
      for (const e of ENGINES) {
        const s = await startEngineServer(e);
        servers.set(e, s);
        const res = await publish(s.url, 'sensor_readings', MESSAGES);
        assert.equal(res.body.counts.stored, MESSAGES.length, e);
      }
    });
    after(async () => {
      for (const s of servers.values()) await s.stop();
    });

    /** Asks every engine; returns how many answers were compared. */
    async function agree(paths: string[]): Promise<number> {
      for (const path of paths) {
        const answers = await Promise.all(ENGINES.map(async (e) => {
          const r = await getJson(`${servers.get(e)!.url}/v1/streams/sensor_readings${path}`);
          return { status: r.status, body: rounded(r.body.rows ?? r.body.error?.code) };
        }));
        for (let i = 1; i < answers.length; i++) assert.deepEqual(answers[i], answers[0], `${ENGINES[i]} and ${ENGINES[0]} differ on ${path}`);
      }
      return paths.length;
    }

    for (const [field, { kind, values }] of Object.entries(VALUES)) {
      it(`filters on ${field} with every operator`, async () => {
        const paths = OPERATORS[kind].flatMap((op) => {
          const list = op === '__isnull' ? ['true', 'false'] : op === '__in' ? [values.join(',')] : values;
          return list.map((v) => `/rows?limit=1000&order=asc&fields=seq,measured_at&${encodeURIComponent(field)}${op}=${encodeURIComponent(v)}`);
        });
        assert.ok((await agree(paths)) >= 5);
      });
    }

    for (const field of METRIC_FIELDS) {
      it(`aggregates ${field} with every function, ungrouped, grouped and bucketed`, async () => {
        // Day buckets: the engines' copies were published a second or so apart, never across a day but at midnight.
        const from = new Date(Date.now() - 2 * 86_400_000).toISOString();
        const to = new Date(Date.now() + 86_400_000).toISOString();
        const shapes = ['', `&interval=1d&group_by=location.site,ok&from=${from}&to=${to}`];
        const numeric = !['device_id', 'ok', 'location.site', 'measured_at', 'calibration_date'].includes(field);
        const fns = FUNCTIONS.filter((f) => numeric || ['count_distinct', 'min', 'max'].includes(f));
        const paths = fns.flatMap((fn) => shapes.map((g) => `/aggregate?metric=count,${fn}:${field}${g}`));
        assert.ok((await agree(paths)) >= 6);
      });
    }

    it('renders the same CSV and NDJSON (ids and times aside)', async () => {
      const strip = (t: string) => t.replace(/"?\d{4}-\d\d-\d\dT[0-9:.]+Z"?/g, 'T');
      for (const path of ['/rows?limit=1000&format=csv&order=asc', '/rows?limit=1000&format=ndjson', '/rows?limit=1000&format=csv&fields=readings,tags,location,metadata,energy_kwh', '/aggregate?group_by=device_id&metric=count,p50:seq&format=csv']) {
        const texts = await Promise.all(ENGINES.map(async (e) => {
          const r = await fetch(`${servers.get(e)!.url}/v1/streams/sensor_readings${path}`);
          return `${r.status} ${r.headers.get('content-type')}\n${strip(await r.text())}`;
        }));
        for (let i = 1; i < texts.length; i++) assert.equal(texts[i], texts[0], `${ENGINES[i]} and ${ENGINES[0]} differ on ${path}`);
      }
    });
  });
}
