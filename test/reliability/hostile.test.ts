/**
 * Hostile and random input through the real server: a corpus of known-nasty inputs, and
 * property-based generation (fast-check). Whatever comes in, the server answers with a
 * documented status and code, never a 5xx; every message of an accepted publish is accounted
 * for (stored or dead-lettered with a known reason); valid messages round-trip exactly.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { DEAD_LETTER_REASONS, ERROR_CODES } from '../../src/core/errors.js';
import { getJson, postJson, publish, startTestServer } from '../helpers.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;

const SEED = Number(process.env.TRIBUTARY_FC_SEED ?? Date.now() % 1_000_000);
const RUNS = Number(process.env.TRIBUTARY_FC_RUNS ?? 60);
const params = { seed: SEED, numRuns: RUNS };

function assertErrorShape(status: number, body: any, allowed: number[]): void {
  assert.ok(allowed.includes(status), `status ${status} not in ${allowed.join(',')}: ${JSON.stringify(body).slice(0, 300)}`);
  if (status >= 400) {
    assert.ok(body?.error?.code in ERROR_CODES, `documented error code, got ${JSON.stringify(body).slice(0, 200)}`);
    assert.equal(body.error.status, status);
  }
}

describe(`hostile input (fast-check seed ${SEED}, ${RUNS} runs per property)`, () => {
  let server: Server;
  let sent = 0;
  let stored = 0;
  let dead = 0;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.stop();
  });

  const publishRaw = async (messages: { data: string; attributes?: Record<string, string> }[]) => {
    const res = await postJson(`${server.url}/v1/streams/sensor_readings/messages`, { messages });
    assertErrorShape(res.status, res.body, [200, 400]);
    if (res.status === 200) {
      assert.equal(res.body.results.length, messages.length);
      for (const r of res.body.results) {
        assert.ok(['stored', 'dead_lettered'].includes(r.status), `status ${r.status}`);
        if (r.status === 'dead_lettered') assert.ok(r.reason in DEAD_LETTER_REASONS, `reason ${r.reason}`);
      }
      sent += messages.length;
      stored += res.body.counts.stored;
      dead += res.body.counts.dead_lettered;
    }
    return res;
  };

  it('accounts for every message of a corpus of nasty payloads, and dead-letters each with its reason', async () => {
    const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
    const base = '"device_id":"h","seq":1,"measured_at":"2026-11-24T00:00:00Z"';
    const corpus: [string, string | null][] = [
      [b64('['.repeat(100_000) + ']'.repeat(100_000)), 'SCHEMA_VIOLATION'],
      [b64(`{${base},"metadata":${'['.repeat(600)}1${']'.repeat(600)}}`), 'SCHEMA_VIOLATION'],
      [b64(`{${base},"metadata":${'['.repeat(50_000)}12345678901234567890${']'.repeat(50_000)}}`), 'SCHEMA_VIOLATION'], // refused unparsed over MAX_PARSE_DEPTH, like line 59
      [b64(`{${base},"energy_kwh":"1e-999999"}`), 'SCHEMA_VIOLATION'],
      [b64(`{${base},"energy_kwh":"0.${'0'.repeat(200_000)}1"}`), 'SCHEMA_VIOLATION'],
      [b64(`{"device_id":"h","seq":NaN,"measured_at":"2026-11-24T00:00:00Z"}`), 'INVALID_JSON'],
      [b64(`{"device_id":"h","seq":1,"temperature_c":Infinity,"measured_at":"2026-11-24T00:00:00Z"}`), 'INVALID_JSON'],
      [b64(`{${base},"temperature_c":1e999999}`), 'SCHEMA_VIOLATION'],
      [b64(`{"device_id":"h","seq":${'9'.repeat(5000)},"measured_at":"2026-11-24T00:00:00Z"}`), 'SCHEMA_VIOLATION'],
      [b64(`{${base},"tags":["${'x'.repeat(200_000)}"]}`), null],
      [b64(Buffer.from([0x7b, 0xc3, 0x28, 0x7d])), 'INVALID_ENCODING'],
      // A UTF-8 byte order mark is skipped, as JSON parsers may: `{}` then lacks the required fields.
      [b64(Buffer.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d])), 'SCHEMA_VIOLATION'],
      [b64(`{"device_id":"h\\ud800","seq":1,"measured_at":"2026-11-24T00:00:00Z"}`), 'SCHEMA_VIOLATION'],
      [b64(`{${base},"__proto__":{"polluted":true}}`), 'UNKNOWN_FIELD'],
      [b64(`{${base},"constructor":{"prototype":{"x":1}}}`), 'UNKNOWN_FIELD'],
      [b64(`{"device_id":"'; DROP TABLE sensor_readings; --","seq":1,"measured_at":"2026-11-24T00:00:00Z"}`), null],
      [b64(`{"device_id":"=HYPERLINK(\\"http://x\\")","seq":1,"measured_at":"2026-11-24T00:00:00Z"}`), null],
      ['', 'INVALID_JSON'],
      ['@@@@', 'INVALID_ENCODING'],
    ];
    const res = await publishRaw(corpus.map(([data], i) => ({ data, attributes: { case: String(i) } })));
    assert.equal(res.status, 200, JSON.stringify(res.body).slice(0, 300));
    res.body.results.forEach((r: { status: string; reason?: string }, i: number) => {
      const want = corpus[i]![1];
      if (want === null) assert.equal(r.status, 'stored', `case ${i}: ${JSON.stringify(r)}`);
      else assert.equal(r.reason, want, `case ${i}: ${JSON.stringify(r)}`);
    });
    // The injected string is stored as data, and the table is still there.
    const inj = await getJson(`${server.url}/v1/streams/sensor_readings/rows?device_id=${encodeURIComponent("'; DROP TABLE sensor_readings; --")}`);
    assert.equal(inj.status, 200);
    assert.equal(inj.body.rows.length, 1);
    assert.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype pollution');
  });

  it('answers nasty query strings with 200 or a documented 4xx, never a 5xx', async () => {
    const cursor = Buffer.from(JSON.stringify({ v: 1, t: '1', id: 'x', o: 'desc', h: 'nope' })).toString('base64url');
    const queries = [
      "device_id=' OR 1=1 --", 'device_id=%00', 'seq=1;DROP TABLE x', 'seq=99999999999999999999', 'seq=-0', 'seq=1e3',
      'temperature_c=NaN', 'temperature_c=Infinity', 'temperature_c=1e999', 'energy_kwh=1e-999999', 'ok=TRUE', 'ok=1',
      'measured_at=2026-13-01T00:00:00Z', 'calibration_date=0000-01-01', 'location.site=x&location.site=y', 'location=x',
      'location.nope=1', 'metadata=1', 'tags=a', 'readings.name=x', 'limit=0', 'limit=1001', 'limit=-1', 'limit=1e2',
      'limit=%20', 'order=sideways', 'from=yesterday', 'from=2026-11-24&to=2026-11-23', `cursor=${cursor}`,
      'cursor=' + 'A'.repeat(10_000), 'cursor=%F0%9F%9A%80', '__proto__=1', 'constructor=x', 'a'.repeat(5000) + '=1',
      'message_id=' + 'x'.repeat(100_000), 'attributes=1', 'publish_time=now', 'ingest_time=2026-11-24T00:00:00Z',
    ];
    for (const q of queries) {
      const res = await fetch(`${server.url}/v1/streams/sensor_readings/rows?${q}`);
      const text = await res.text();
      assertErrorShape(res.status, text ? JSON.parse(text) : undefined, [200, 400, 414, 431]);
    }
    for (const path of ['/v1/streams/nope/rows', '/v1/streams/..%2F..%2Fetc/rows', '/v1/streams/sensor_readings/rows/%00', '/v1/streams/sensor_readings/dead-letters?reason=DROP']) {
      const res = await getJson(server.url + path);
      assertErrorShape(res.status, res.body, [200, 400, 404]);
    }
  });

  it('property: any bytes as message data are stored or dead-lettered with a known reason', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 20 }), async (payloads) => {
        const res = await publishRaw(payloads.map((p) => ({ data: Buffer.from(p).toString('base64') })));
        assert.equal(res.status, 200);
      }),
      params,
    );
  });

  it('property: any JSON value with any attributes is accounted for, never a 5xx', async () => {
    const attrs = fc.dictionary(fc.string({ minLength: 1, maxLength: 20 }), fc.string({ maxLength: 50 }), { maxKeys: 5 });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ v: fc.jsonValue({ maxDepth: 4 }), a: attrs }), { minLength: 1, maxLength: 10 }), async (msgs) => {
        await publishRaw(msgs.map(({ v, a }) => ({ data: Buffer.from(JSON.stringify(v)).toString('base64'), attributes: a })));
      }),
      params,
    );
  });

  it('property: any request body with any content type gets a documented answer', async () => {
    const types = fc.constantFrom('application/json', 'application/x-ndjson', 'text/plain', 'application/octet-stream', 'application/json; charset=latin1', '');
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 500 }), fc.json({ maxDepth: 3 }), fc.uint8Array({ maxLength: 500 })), types, async (body, type) => {
        const res = await fetch(`${server.url}/v1/streams/sensor_readings/messages`, {
          method: 'POST',
          headers: type ? { 'content-type': type } : {},
          body: typeof body === 'string' ? body : Buffer.from(body),
        });
        const text = await res.text();
        const parsed = text ? JSON.parse(text) : undefined;
        assertErrorShape(res.status, parsed, [200, 400, 413, 415]);
        if (res.status === 200) {
          sent += parsed.results.length;
          stored += parsed.counts.stored;
          dead += parsed.counts.dead_lettered;
        }
      }),
      params,
    );
  });

  it('property: any query parameters get 200 or a documented 4xx', async () => {
    const key = fc.oneof(fc.constantFrom('from', 'to', 'limit', 'order', 'cursor', 'device_id', 'seq', 'temperature_c', 'energy_kwh', 'ok', 'measured_at', 'calibration_date', 'location.site', 'tags'), fc.string({ minLength: 1, maxLength: 10 }));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(key, fc.string({ maxLength: 40 })), { maxLength: 4 }), async (pairs) => {
        const qs = new URLSearchParams(pairs).toString();
        const res = await fetch(`${server.url}/v1/streams/sensor_readings/rows?${qs}`);
        const text = await res.text();
        assertErrorShape(res.status, text ? JSON.parse(text) : undefined, [200, 400]);
      }),
      params,
    );
  });

  it('property: valid messages round-trip exactly', async () => {
    const int64 = fc.bigInt(-(2n ** 63n), 2n ** 63n - 1n);
    const text = fc.string({ unit: 'grapheme', maxLength: 30 });
    const decimal = fc.tuple(fc.bigInt(-(10n ** 29n) + 1n, 10n ** 29n - 1n), fc.integer({ min: 0, max: 999_999_999 })).map(([i, f]) => {
      const frac = String(f).padStart(9, '0').replace(/0+$/, '');
      const sign = i < 0n || (i === 0n && f > 0 && false) ? '-' : '';
      const body = `${i < 0n ? -i : i}${frac ? `.${frac}` : ''}`;
      return sign + body;
    });
    const instant = fc.integer({ min: -62135596800000, max: 253402300799999 }).map((ms) => new Date(ms).toISOString().replace(/(\.\d{3})Z$/, '$1000Z'));
    const day = fc.integer({ min: -719162, max: 2932896 }).map((d) => new Date(d * 86_400_000).toISOString().slice(0, 10));
    const finite = fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => (Object.is(d, -0) ? 0 : d));
    const message = fc.record(
      {
        device_id: text,
        seq: int64.map(String),
        temperature_c: fc.option(finite),
        energy_kwh: fc.option(decimal),
        ok: fc.option(fc.boolean()),
        measured_at: instant,
        calibration_date: fc.option(day),
        metadata: fc.option(fc.jsonValue({ maxDepth: 3 }).filter((v) => v !== null)),
        tags: fc.array(text, { maxLength: 4 }),
        location: fc.option(fc.record({ lat: fc.option(finite), lon: fc.option(finite), site: fc.option(text) })),
        readings: fc.array(fc.record({ name: text, value: fc.option(finite), unit: fc.option(text) }), { maxLength: 3 }),
      },
      { requiredKeys: ['device_id', 'seq', 'measured_at'] },
    );
    let n = 0;
    await fc.assert(
      fc.asyncProperty(message, async (m) => {
        const id = `prop-${SEED}-${n++}`;
        const res = await publish(server.url, 'sensor_readings', [{ data: m, messageId: id }]);
        assert.equal(res.body.results[0].status, 'stored', JSON.stringify(res.body.results[0]));
        sent++;
        stored++;
        const row = (await getJson(`${server.url}/v1/streams/sensor_readings/rows/${id}`)).body;
        const want = JSON.parse(JSON.stringify({ temperature_c: null, energy_kwh: null, ok: null, calibration_date: null, metadata: null, tags: [], location: null, readings: [], ...m }));
        for (const [k, v] of Object.entries(want)) assert.deepEqual(row[k], v, `field ${k}`);
      }),
      params,
    );
  });

  it('stored and dead-lettered add up to everything accepted', async () => {
    const detail = await getJson(`${server.url}/v1/streams/sensor_readings`);
    assert.ok(sent > 0);
    assert.equal(stored + dead, sent, 'every accepted message is a row or a dead letter');
    assert.equal(detail.body.rowCount, stored);
    assert.equal(detail.body.deadLetterCount, dead);
  });
});
