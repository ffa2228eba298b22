/**
 * Filters, field selection, aggregates and stats over a published data set, each checked
 * against an answer computed here in JavaScript from the data as published (not by SQL), and
 * every output format parsed back and compared with the JSON answer.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { getJson, publish } from '../helpers.js';
import { type EngineServer, engineException, exceptionApplies, forEachEngine, itSentBoundedQueries, startEngineServer } from './engines.js';

type Server = EngineServer;
type Msg = Record<string, any>;

const N = 60;
function message(i: number): { id: string; data: Msg; attributes?: Record<string, string> } {
  const data: Msg = {
    device_id: i % 13 === 0 ? `=cmd|calc ${i}` : `dev-${i % 5}`,
    seq: i * 1000 - 20000,
    temperature_c: i % 4 === 0 ? null : Math.round((i * 0.37 - 5) * 100) / 100,
    energy_kwh: i % 3 === 0 ? null : `${i}.${i % 10}25`,
    ok: i % 5 === 0 ? null : i % 2 === 0,
    measured_at: `2026-11-${10 + (i % 10)}T0${i % 10}:00:00Z`,
    calibration_date: i % 6 === 0 ? null : `2026-0${1 + (i % 9)}-1${i % 10}`,
    location: i % 7 === 0 ? null : { lat: i, lon: -i, site: i % 2 ? 'north-1' : 'south-2' },
    tags: ['a', `t${i % 3}`],
  };
  const attributes = i % 4 === 3 ? undefined : { region: i % 2 ? 'eu' : 'us', 'team/x': `t${i % 3}` };
  return { id: `q-${String(i).padStart(3, '0')}`, data, ...(attributes ? { attributes } : {}) };
}
const MESSAGES = Array.from({ length: N }, (_, i) => message(i));
const BY_ID = new Map(MESSAGES.map((m) => [m.id, m]));

/** Minimal RFC 4180 parser (quotes, doubled quotes, CRLF). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += c;
  }
  if (cell !== '' || row.length) rows.push([...row, cell]);
  return rows;
}

/** What a CSV cell of a JSON value must read, formula neutralisation included. */
function expectedCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const text = typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /^[=+\-@]/.test(text) && !/^[+-]?\d+(\.\d+)?$/.test(text) ? `'${text}` : text;
}

function quantile(values: number[], p: number): number {
  const v = [...values].sort((a, b) => a - b);
  const h = (v.length - 1) * p;
  const lo = Math.floor(h);
  return lo + 1 < v.length ? v[lo]! + (h - lo) * (v[lo + 1]! - v[lo]!) : v[lo]!;
}

function micros(ts: string): bigint {
  const m = /^(.*)\.(\d{6})Z$/.exec(ts)!;
  return BigInt(Date.parse(`${m[1]}Z`)) * 1000n + BigInt(m[2]!);
}

forEachEngine('read API: filters, fields, aggregates, stats, formats', (engine) => {
  let server: Server;
  let stored: Msg[] = [];
  const api = (path: string) => getJson(`${server.url}/v1/streams/sensor_readings${path}`);

  before(async () => {
    server = await startEngineServer(engine);
    const res = await publish(server.url, 'sensor_readings', MESSAGES.map((m) => ({ data: m.data, messageId: m.id, ...(m.attributes ? { attributes: m.attributes } : {}) })));
    assert.equal(res.body.counts.stored, N, JSON.stringify(res.body.results.filter((r: { status: string }) => r.status !== 'stored')));
    stored = (await api('/rows?limit=1000&order=asc')).body.rows;
    assert.equal(stored.length, N);
  });
  after(async () => {
    await server.stop();
  });

  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  const FILTERS: [string, (m: { data: Msg; attributes?: Record<string, string> }) => boolean][] = [
    ['device_id=dev-1', (m) => m.data.device_id === 'dev-1'],
    ['device_id__eq=dev-2', (m) => m.data.device_id === 'dev-2'],
    ['device_id__in=dev-1,dev-2', (m) => ['dev-1', 'dev-2'].includes(m.data.device_id)],
    ['device_id__in=' + encodeURIComponent('["dev-3","=cmd|calc 13"]'), (m) => ['dev-3', '=cmd|calc 13'].includes(m.data.device_id)],
    ['device_id__prefix=dev-', (m) => m.data.device_id.startsWith('dev-')],
    ['seq__gte=0&seq__lt=10000', (m) => m.data.seq >= 0 && m.data.seq < 10000],
    ['seq__in=-20000,5000,999', (m) => [-20000, 5000, 999].includes(m.data.seq)],
    ['temperature_c__isnull=true', (m) => m.data.temperature_c === null],
    ['temperature_c__gt=3.5', (m) => m.data.temperature_c !== null && m.data.temperature_c > 3.5],
    ['energy_kwh__lte=20.5', (m) => m.data.energy_kwh !== null && Number(m.data.energy_kwh) <= 20.5],
    ['ok=false', (m) => m.data.ok === false],
    ['ok__isnull=false&device_id__in=dev-3,dev-4', (m) => m.data.ok !== null && ['dev-3', 'dev-4'].includes(m.data.device_id)],
    ['measured_at__gte=2026-11-15T00:00:00Z', (m) => m.data.measured_at >= '2026-11-15T00:00:00Z'],
    ['measured_at__lt=2026-11-12T03:00:00%2B01:00', (m) => m.data.measured_at < '2026-11-12T02:00:00Z'],
    ['calibration_date__lt=2026-05-01', (m) => m.data.calibration_date !== null && m.data.calibration_date < '2026-05-01'],
    ['location.site=north-1', (m) => m.data.location?.site === 'north-1'],
    ['location.lat__gt=30', (m) => m.data.location !== null && m.data.location.lat > 30],
    ['location__isnull=true', (m) => m.data.location === null],
    ['attributes.region=eu', (m) => m.attributes?.region === 'eu'],
    [`${encodeURIComponent('attributes.team/x')}__in=t0,t2`, (m) => ['t0', 't2'].includes(m.attributes?.['team/x'] ?? '')],
    ['attributes.region__isnull=true', (m) => m.attributes === undefined],
    ['attributes.region__prefix=u', (m) => (m.attributes?.region ?? '').startsWith('u')],
  ];

  for (const [query, predicate] of FILTERS) {
    it(`filters ${decodeURIComponent(query)}`, async () => {
      const res = await api(`/rows?limit=1000&${query}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const got = res.body.rows.map((r: Msg) => r.message_id).sort();
      const want = MESSAGES.filter(predicate).map((m) => m.id).sort();
      assert.ok(want.length > 0 && want.length < N, `case selects some but not all (${want.length})`);
      assert.deepEqual(got, want);
    });
  }

  it('pages a filtered query both ways with cursors', async () => {
    const want = MESSAGES.filter((m) => m.data.device_id.startsWith('dev-')).map((m) => m.id);
    for (const order of ['asc', 'desc']) {
      const seen: string[] = [];
      let next: string | null = `/v1/streams/sensor_readings/rows?device_id__prefix=dev-&limit=7&order=${order}`;
      while (next) {
        const page: { body: { rows: Msg[]; next: string | null } } = await getJson(server.url + next);
        seen.push(...page.body.rows.map((r) => r.message_id));
        next = page.body.next;
      }
      const expected = stored.filter((r) => want.includes(r.message_id)).map((r) => r.message_id);
      assert.deepEqual(seen, order === 'asc' ? expected : [...expected].reverse());
    }
  });

  it('returns only the selected fields', async () => {
    const res = await api('/rows?fields=seq,device_id&limit=3');
    assert.equal(res.status, 200);
    for (const r of res.body.rows) assert.deepEqual(Object.keys(r).sort(), ['device_id', 'seq']);
    assert.equal((await api('/rows?fields=nope')).body.error.code, 'INVALID_PARAMETER');
  });

  it('rejects bad filters with stable 4xx codes', async () => {
    const cases: [string, string][] = [
      ['colour=red', 'UNKNOWN_PARAMETER'],
      ['device_id__gt=a', 'INVALID_PARAMETER'],
      ['seq__prefix=1', 'INVALID_PARAMETER'],
      ['seq=abc', 'INVALID_PARAMETER'],
      ['tags=a', 'INVALID_PARAMETER'],
      ['metadata=1', 'INVALID_PARAMETER'],
      ['ok__isnull=maybe', 'INVALID_PARAMETER'],
      ['device_id__in=' + encodeURIComponent('[1, {"x": 2}]'), 'INVALID_PARAMETER'],
      ['format=xml', 'INVALID_PARAMETER'],
    ];
    for (const [q, code] of cases) {
      const res = await api(`/rows?${q}`);
      assert.equal(res.status, 400, q);
      assert.equal(res.body.error.code, code, q);
    }
  });

  // Aggregates, computed here from the published data.
  const groupsOf = (key: (m: Msg) => unknown) => {
    const g = new Map<string, Msg[]>();
    for (const r of stored) {
      const m = BY_ID.get(r.message_id)!;
      const k = JSON.stringify(key({ ...m.data, attributes: m.attributes, publish_time: r.publish_time }));
      g.set(k, [...(g.get(k) ?? []), { ...m.data, publish_time: r.publish_time }]);
    }
    return g;
  };

  it('aggregates metrics grouped by a field', async () => {
    const res = await api('/aggregate?group_by=device_id&metric=count,sum:seq,avg:temperature_c,min:measured_at,max:energy_kwh,count_distinct:ok,p50:temperature_c,p90:seq,sum:energy_kwh');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const groups = groupsOf((m) => m.device_id);
    assert.equal(res.body.rows.length, groups.size);
    for (const row of res.body.rows) {
      const ms = groups.get(JSON.stringify(row.device_id))!;
      assert.ok(ms, `group ${row.device_id}`);
      const temps = ms.map((m) => m.temperature_c).filter((t): t is number => t !== null);
      const energies = ms.map((m) => m.energy_kwh).filter((e): e is string => e !== null).map(Number);
      assert.equal(row.count, ms.length);
      assert.equal(row.sum_seq, String(ms.reduce((a, m) => a + BigInt(m.seq), 0n)));
      if (temps.length) assert.ok(Math.abs(row.avg_temperature_c - temps.reduce((a, b) => a + b, 0) / temps.length) < 1e-9);
      else assert.equal(row.avg_temperature_c, null);
      assert.equal(Date.parse(row.min_measured_at), Math.min(...ms.map((m) => Date.parse(m.measured_at))));
      if (energies.length) assert.equal(num(row.max_energy_kwh), Math.max(...energies));
      if (energies.length) assert.ok(Math.abs(num(row.sum_energy_kwh)! - energies.reduce((a, b) => a + b, 0)) < 1e-6);
      assert.equal(row.count_distinct_ok, new Set(ms.map((m) => m.ok).filter((o) => o !== null)).size);
      if (temps.length) assert.ok(Math.abs(row.p50_temperature_c - quantile(temps, 0.5)) < 1e-9);
      assert.ok(Math.abs(row.p90_seq - quantile(ms.map((m) => m.seq), 0.9)) < 1e-6);
    }
  });

  it('aggregates by two fields with a filter (lists comma-separated or repeated)', async () => {
    const res = await api('/aggregate?group_by=ok,location.site&metric=count&device_id__prefix=dev-');
    const repeated = await api('/aggregate?group_by=ok&group_by=location.site&metric=count&device_id__prefix=dev-');
    assert.deepEqual(repeated.body, res.body);
    const fields = await api('/rows?fields=seq&fields=ok&limit=1');
    assert.deepEqual(Object.keys(fields.body.rows[0]).sort(), ['ok', 'seq']);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const want = new Map<string, number>();
    for (const m of MESSAGES) {
      if (!m.data.device_id.startsWith('dev-')) continue;
      const k = JSON.stringify([m.data.ok, m.data.location?.site ?? null]);
      want.set(k, (want.get(k) ?? 0) + 1);
    }
    const got = new Map(res.body.rows.map((r: Msg) => [JSON.stringify([r.ok, r['location.site']]), r.count]));
    assert.deepEqual(got, want);
    // Ordered by the group values, nulls first (docs/http-api.md), the same on every engine.
    const rank = (v: unknown) => (v === null ? '0' : `1${String(v)}`);
    const keys = res.body.rows.map((r: Msg) => [rank(r.ok), rank(r['location.site'])].join('|'));
    assert.deepEqual(keys, [...keys].sort(), JSON.stringify(res.body.rows));
  });

  it('buckets by time, aligned, with empty buckets filled', async () => {
    const times = stored.map((r) => micros(r.publish_time));
    const min = times.reduce((a, b) => (a < b ? a : b));
    const max = times.reduce((a, b) => (a > b ? a : b));
    const from = new Date(Number(min / 1000n) - 3000).toISOString();
    const to = new Date(Number(max / 1000n) + 3000).toISOString();
    const res = await api(`/aggregate?interval=1s&metric=count,sum:seq&from=${from}&to=${to}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const step = 1_000_000n;
    const floor = (t: bigint) => t - (((t % step) + step) % step);
    const first = floor(micros(from.replace('Z', '000Z')));
    const last = floor(micros(to.replace('Z', '000Z')) - 1n);
    const expected: { time: bigint; count: number }[] = [];
    for (let t = first; t <= last; t += step) expected.push({ time: t, count: times.filter((x) => floor(x) === t).length });
    assert.deepEqual(res.body.rows.map((r: Msg) => ({ time: micros(r.time), count: r.count })), expected);
    assert.ok(res.body.rows.some((r: Msg) => r.count === 0 && r.sum_seq === null), 'empty buckets are filled with count 0');
    assert.equal(expected.reduce((a, b) => a + b.count, 0), N);
  });

  it('aggregates with attribute and nested-field filters', async () => {
    for (const [q, pred] of [
      ['attributes.region=eu', (m: (typeof MESSAGES)[number]) => m.attributes?.region === 'eu'],
      ['location.site=south-2&ok=true', (m: (typeof MESSAGES)[number]) => m.data.location?.site === 'south-2' && m.data.ok === true],
    ] as const) {
      const res = await api(`/aggregate?metric=count,sum:seq,max:temperature_c&${q}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const ms = MESSAGES.filter(pred);
      assert.ok(ms.length > 0 && ms.length < N, `${q} selects some but not all`);
      const temps = ms.map((m) => m.data.temperature_c).filter((x): x is number => x !== null);
      assert.deepEqual(res.body.rows, [{ count: ms.length, sum_seq: String(ms.reduce((a, m) => a + BigInt(m.data.seq), 0n)), max_temperature_c: temps.length ? Math.max(...temps) : null }], q);
    }
  });

  it('buckets by time and groups at once: percentiles and distinct counts per bucket and group, empty ones filled', async () => {
    // Three publishes in three consecutive seconds, into another stream (the data above stay as they are).
    const sent: { kind: string; n: number; t: bigint }[] = [];
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 30));
    for (let round = 0; round < 3; round++) {
      const batch = Array.from({ length: 6 + round }, (_, i) => ({ kind: ['a', 'b', 'c'][(i + round) % (round === 1 ? 2 : 3)]!, n: (i * 7 + round * 3) % 10 }));
      const res = await publish(server.url, 'lenient_events', batch.map((data) => ({ data })));
      assert.equal(res.body.counts.stored, batch.length);
      const rows = (await getJson(`${server.url}/v1/streams/lenient_events/rows?limit=100&order=asc&kind__in=a,b,c`)).body.rows as Msg[];
      rows.slice(sent.length).forEach((r) => sent.push({ kind: r.kind, n: Number(r.n), t: micros(r.publish_time) }));
      assert.equal(sent.length, rows.length);
      if (round < 2) await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 30));
    }
    const step = 1_000_000n;
    const floor = (t: bigint) => t - (t % step);
    const first = floor(sent[0]!.t) - step;
    const last = floor(sent[sent.length - 1]!.t) + step;
    const from = new Date(Number(first / 1000n)).toISOString();
    const to = new Date(Number((last + step) / 1000n)).toISOString();
    const res = await getJson(`${server.url}/v1/streams/lenient_events/aggregate?interval=1s&group_by=kind&metric=count,count_distinct:n,p50:n,p90:n,sum:n&from=${from}&to=${to}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const kinds = [...new Set(sent.map((x) => x.kind))].sort();
    const want: Msg[] = [];
    for (let t = first; t <= last; t += step) {
      for (const kind of kinds) {
        const ns = sent.filter((x) => x.kind === kind && floor(x.t) === t).map((x) => x.n);
        want.push({ time: new Date(Number(t / 1000n)).toISOString().replace('Z', '000Z'), kind, count: ns.length, count_distinct_n: new Set(ns).size, p50_n: ns.length ? quantile(ns, 0.5) : null, p90_n: ns.length ? quantile(ns, 0.9) : null, sum_n: ns.length ? String(ns.reduce((a, b) => a + b, 0)) : null });
      }
    }
    assert.ok(want.filter((w) => w.count > 0).length >= 6, 'several buckets and groups have rows');
    assert.ok(want.some((w) => w.count === 0), 'some are empty (filled)');
    const got = (res.body.rows as Msg[]).map((r) => ({ ...r, p50_n: r.p50_n === null ? null : Math.round(r.p50_n * 1e9) / 1e9, p90_n: r.p90_n === null ? null : Math.round(r.p90_n * 1e9) / 1e9 }));
    assert.deepEqual(got, want.map((w) => ({ ...w, p50_n: w.p50_n === null ? null : Math.round(w.p50_n * 1e9) / 1e9, p90_n: w.p90_n === null ? null : Math.round(w.p90_n * 1e9) / 1e9 })));
  });

  it('rejects bad aggregates with stable codes', async () => {
    const cases: [string, string][] = [
      ['metric=avg:device_id', 'INVALID_PARAMETER'],
      ['metric=median:seq', 'INVALID_PARAMETER'],
      ['interval=7s', 'INVALID_PARAMETER'],
      ['interval=2d', 'INVALID_PARAMETER'],
      ['group_by=a,b,c,d', 'INVALID_PARAMETER'],
      ['group_by=tags', 'INVALID_PARAMETER'],
      ['interval=1s&from=2000-01-01&to=2026-01-01', 'RESULT_TOO_LARGE'],
      ['wat=1', 'UNKNOWN_PARAMETER'],
    ];
    for (const [q, code] of cases) {
      const res = await api(`/aggregate?${q}`);
      assert.equal(res.body.error?.code, code, q);
      assert.equal(res.status, 400, q);
    }
  });

  it('reports stats over a window, freshness computed from the rows', async () => {
    const res = await api('/stats?window=1h');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.rowCount, N);
    assert.equal(res.body.window.rowCount, N);
    const lags = stored.map((r) => Number(micros(r.ingest_time) - micros(r.publish_time)) / 1000);
    for (const [k, p] of [['p50', 0.5], ['p95', 0.95], ['p99', 0.99]] as const) {
      assert.ok(Math.abs(res.body.window.freshnessMs[k] - quantile(lags, p)) < 1e-6, k);
    }
    assert.equal(res.body.window.freshnessMs.max, Math.max(...lags));
    assert.equal(res.body.newestPublishTime, stored[stored.length - 1]!.publish_time);
    const old = await api('/stats?from=2001-01-01&to=2001-01-02');
    assert.equal(old.body.window.rowCount, 0);
    assert.equal(old.body.window.freshnessMs, null);
    assert.equal((await api('/stats?window=forever')).body.error.code, 'INVALID_PARAMETER');
  });

  it('answers rows as NDJSON and CSV equal to the JSON answer', async () => {
    const q = '/rows?limit=25&order=asc';
    const json = (await api(q)).body.rows as Msg[];
    for (const how of [{ q: '&format=ndjson' }, { accept: 'application/x-ndjson' }]) {
      const res = await fetch(`${server.url}/v1/streams/sensor_readings${q}${how.q ?? ''}`, { headers: how.accept ? { accept: how.accept } : {} });
      assert.match(res.headers.get('content-type')!, /application\/x-ndjson/);
      assert.match(res.headers.get('link')!, /rel="next"/);
      const lines = (await res.text()).trimEnd().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual(lines, json);
    }
    for (const how of [{ q: '&format=csv' }, { accept: 'text/csv' }]) {
      const res = await fetch(`${server.url}/v1/streams/sensor_readings${q}${how.q ?? ''}`, { headers: how.accept ? { accept: how.accept } : {} });
      assert.match(res.headers.get('content-type')!, /text\/csv/);
      const [header, ...rows] = parseCsv(await res.text());
      assert.equal(header![0], 'message_id');
      assert.equal(rows.length, json.length);
      rows.forEach((cells, i) => header!.forEach((col, j) => assert.equal(cells[j], expectedCell(json[i]![col]), `${col} of row ${i}`)));
    }
    const csv = await (await fetch(`${server.url}/v1/streams/sensor_readings/rows?format=csv&device_id__prefix=%3D&fields=device_id,seq`)).text();
    const parsed = parseCsv(csv);
    assert.deepEqual(parsed[0], ['device_id', 'seq']);
    assert.ok(parsed.slice(1).every((r) => r[0]!.startsWith("'=cmd")), 'formula-like cells are neutralised');
    assert.ok(parsed.slice(1).some((r) => r[1]!.startsWith('-')), 'negative numbers stay numbers');
  });

  it('answers aggregates as CSV and NDJSON equal to the JSON answer', async () => {
    const q = '/aggregate?group_by=device_id&metric=count,avg:temperature_c';
    const json = (await api(q)).body.rows as Msg[];
    const nd = (await (await fetch(`${server.url}/v1/streams/sensor_readings${q}&format=ndjson`)).text()).trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(nd, json);
    const [header, ...rows] = parseCsv(await (await fetch(`${server.url}/v1/streams/sensor_readings${q}&format=csv`)).text());
    assert.deepEqual(header, ['device_id', 'count', 'avg_temperature_c']);
    rows.forEach((cells, i) => header!.forEach((col, j) => assert.equal(cells[j], expectedCell(json[i]![col]))));
  });

  it('sends ETag and 304 for closed time ranges, and compresses', async () => {
    const url = `${server.url}/v1/streams/sensor_readings/rows?from=2020-01-01&to=2021-01-01`;
    const first = await fetch(url);
    const etag = first.headers.get('etag');
    assert.ok(etag, 'closed range has an ETag');
    assert.match(first.headers.get('cache-control')!, /max-age/);
    const again = await fetch(url, { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
    const open = await fetch(`${server.url}/v1/streams/sensor_readings/rows?limit=5`);
    assert.equal(open.headers.get('etag'), null);
    assert.equal(open.headers.get('cache-control'), 'no-store');
    const gz = await fetch(`${server.url}/v1/streams/sensor_readings/rows?limit=50`, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(gz.headers.get('content-encoding'), 'gzip');
    assert.equal(((await gz.json()) as { rows: unknown[] }).rows.length, 50);
    // Streamed formats are compressed too, and decode to the same rows.
    const { request } = await import('node:http');
    const { gunzipSync } = await import('node:zlib');
    const raw = await new Promise<{ encoding: string | undefined; body: Buffer }>((resolve, reject) => {
      request(`${server.url}/v1/streams/sensor_readings/rows?format=ndjson&limit=50`, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => resolve({ encoding: res.headers['content-encoding'], body: Buffer.concat(chunks) }));
      }).on('error', reject).end();
    });
    assert.equal(raw.encoding, 'gzip');
    assert.equal(gunzipSync(raw.body).toString().trimEnd().split('\n').length, 50);
  });

  it('filters on attributes whatever characters their keys hold', async (t) => {
    const keys = ['a b', 'a.b', 'a[0]', 'ключ', "it's", '$x', 'k.e"y'];
    const res = await publish(server.url, 'lenient_events', keys.map((k, i) => ({ data: { kind: 'attr', n: i }, attributes: { [k]: `v${i}`, other: 'o' } })));
    assert.equal(res.body.counts.stored, keys.length);
    // Keys with quotes or `$` break the emulator's JSON subscript; BigQuery takes any key.
    const unsafe = (k: string) => /['"$]/.test(k);
    const skipped = exceptionApplies(engine, 'attribute-key-characters') ? keys.filter(unsafe) : [];
    if (skipped.length) engineException(t, engine, 'attribute-key-characters');
    for (const [i, k] of keys.entries()) {
      const sent = server.queries.length;
      const r = await getJson(`${server.url}/v1/streams/lenient_events/rows?kind=attr&fields=n&${encodeURIComponent(`attributes.${k}`)}=v${i}`);
      if (skipped.includes(k)) {
        const q = server.queries.slice(sent).find((x) => x.sql.includes('JSON_VALUE(attributes['));
        assert.ok(q, `a row query was sent for ${k}`);
        const p = q.params.find((x) => x.parameterValue.value === k);
        assert.ok(p && p.parameterType.type === 'STRING', `the key ${k} is a STRING parameter`);
        assert.ok(q.sql.includes(`JSON_VALUE(attributes[@${p.name}]) = @`), q.sql);
        assert.ok(!q.sql.includes(k), `the key is not in the SQL text: ${q.sql}`);
        continue;
      }
      assert.equal(r.status, 200, `${k}: ${JSON.stringify(r.body)}`);
      assert.deepEqual(r.body.rows, [{ n: String(i) }], k);
      const none = await getJson(`${server.url}/v1/streams/lenient_events/rows?kind=attr&fields=n&${encodeURIComponent(`attributes.${k}`)}__isnull=true`);
      assert.equal(none.body.rows.length, keys.length - 1, `${k}: the others have no such attribute`);
    }
  });

  it('groups by a TIMESTAMP field to the microsecond', async (t) => {
    const at = ['2026-11-24T10:00:00.000001Z', '2026-11-24T10:00:00.000002Z', '2026-11-24T10:00:00.000002Z', '2026-11-24T10:00:00.5Z'];
    const res = await publish(server.url, 'sensor_readings', at.map((m, i) => ({ data: { device_id: 'ts-group', seq: i, measured_at: m } })));
    assert.equal(res.body.counts.stored, at.length);
    const sent = server.queries.length;
    const agg = await api('/aggregate?group_by=measured_at&metric=count&device_id=ts-group');
    assert.equal(agg.status, 200, JSON.stringify(agg.body));
    assert.equal(agg.body.rows.reduce((a: number, r: Msg) => a + r.count, 0), at.length);
    if (engineException(t, engine, 'timestamp-group-by')) {
      const q = server.queries.slice(sent).find((x) => x.sql.includes('GROUP BY'));
      assert.ok(q, 'an aggregate query was sent');
      assert.match(q.sql, /^SELECT k0, COUNT\(\*\) FROM \(SELECT `measured_at` AS k0 FROM /, q.sql);
      assert.match(q.sql, / GROUP BY k0 ORDER BY k0 ASC NULLS FIRST /, q.sql);
      return;
    }
    assert.deepEqual(agg.body.rows, [
      { measured_at: '2026-11-24T10:00:00.000001Z', count: 1 },
      { measured_at: '2026-11-24T10:00:00.000002Z', count: 2 },
      { measured_at: '2026-11-24T10:00:00.500000Z', count: 1 },
    ]);
  });

  if (exceptionApplies(engine, 'bytes-billed-cap')) {
    it('answers 422 QUERY_REJECTED when BigQuery refuses a query for the bytes it would bill', async (t) => {
      engineException(t, engine, 'bytes-billed-cap');
      // The emulator never refuses: BigQuery's answer is replayed on the REST client, as BigQuery sends it.
      const message = 'Query exceeded limit for bytes billed: 10000000000. 20000000000 or higher required.';
      server.bigquery!.failNextQuery({ code: 400, errors: [{ reason: 'bytesBilledLimitExceeded', message }], message });
      const res = await api('/aggregate?metric=count,p50:seq&group_by=device_id');
      assert.equal(res.status, 422, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'QUERY_REJECTED');
      assert.ok(!JSON.stringify(res.body).includes('20000000000'), "BigQuery's message stays in the log");
      assert.equal((await api('/aggregate?metric=count')).status, 200, 'the next query goes through');
    });
  }

  itSentBoundedQueries(engine, () => server);
});
