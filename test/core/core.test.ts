/**
 * The core as tables of cases: configuration parsing, stream definitions, the validator, and
 * the DuckDB schema migration across restarts.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/core/config.js';
import { decimalToScaled, decimalToScaledText, normalizeDecimal } from '../../src/core/decimal.js';
import { isTributaryError } from '../../src/core/errors.js';
import { parseSize } from '../../src/core/size.js';
import { parseJson, textNestsDeeperThan } from '../../src/core/json.js';
import { parseStreamDefinition, type StreamDef } from '../../src/core/schema.js';
import { formatTimestamp, parseTimestamp, parseTimestampByPattern } from '../../src/core/time.js';
import { compileValidator, Violation } from '../../src/core/validate.js';
import { DuckDBWarehouse } from '../../src/warehouse/duckdb/index.js';
import { tempDir } from '../helpers.js';
import { getRow } from '../warehouse/api-form.js';

describe('configuration', () => {
  it('takes flags over environment over defaults', () => {
    const { config } = parseConfig(['--port=9000'], { TRIBUTARY_PORT: '7000', TRIBUTARY_BATCH_LINGER_MS: '2', TRIBUTARY_BODY_LIMIT: '2MiB' });
    assert.equal(config.port, 9000);
    assert.equal(config.batchLingerMs, 2);
    assert.equal(config.bodyLimitBytes, 2 * 1024 * 1024);
    assert.equal(config.batchMaxRows, 1000);
    assert.ok(Object.isFrozen(config));
    assert.equal(parseConfig([], { PORT: '8081' }).config.port, 8081, 'Cloud Run PORT is honoured');
  });

  const bad: [string[], Record<string, string>, RegExp][] = [
    [['--port', '70000'], {}, /--port: expected a whole number from 0 to 65535, got 70000/],
    [[], { TRIBUTARY_BATCH_MAX_ROWS: 'many' }, /TRIBUTARY_BATCH_MAX_ROWS: expected a whole number/],
    [['--body-limit', '12 parsecs'], {}, /--body-limit: expected a size/],
    [['--log-level'], {}, /--log-level: needs a value/],
    [['--default-page-size', '500', '--max-page-size', '100'], {}, /--default-page-size \(500\) must not exceed --max-page-size \(100\)/],
    [['--verbose', 'yes'], {}, /--verbose: unknown option/],
  ];
  for (const [argv, env, message] of bad) {
    it(`refuses ${JSON.stringify([...argv, ...Object.entries(env).flat()])} with a clear message`, () => {
      assert.throws(() => parseConfig(argv, env), (err: unknown) => isTributaryError(err, 'INVALID_CONFIG') && message.test(err.message));
    });
  }

  it('reads sizes with the same units as the DuckDB settings', () => {
    const cases: [string, number | undefined][] = [
      ['4096', 4096],
      [' 512 kb ', 512_000],
      ['1.5GiB', 1.5 * 1024 ** 3],
      ['2MB', 2_000_000],
      ['3 bytes', 3],
      ['1TiB', 1024 ** 4],
      ['MB', undefined],
      ['80%', undefined],
      ['-1MB', undefined],
      ['12 parsecs', undefined],
    ];
    for (const [text, bytes] of cases) assert.equal(parseSize(text), bytes, text);
    assert.equal(parseConfig(['--body-limit', '1.5MB'], {}).config.bodyLimitBytes, 1_500_000);
    assert.equal(parseConfig(['--duckdb-cache-limit', '1TB'], {}).config.duckdbCacheLimit, 1e12);
  });

  it('reports every problem at once', () => {
    assert.throws(
      () => parseConfig(['--port', 'x', '--batch-linger-ms', '-1'], { TRIBUTARY_MAX_PAGE_SIZE: '0' }),
      (err: unknown) => isTributaryError(err, 'INVALID_CONFIG') && (err.details?.problems as string[]).length === 3,
    );
  });
});

describe('stream definitions', () => {
  const base = { name: 's', fields: [{ name: 'a', type: 'STRING' }] };
  it('defaults mode to NULLABLE and unknownFields to reject, accepts BigQuery aliases', () => {
    const s = parseStreamDefinition({ ...base, fields: [{ name: 'a', type: 'integer' }, { name: 'b', type: 'STRUCT', fields: [{ name: 'c', type: 'BOOLEAN' }] }] }, 't');
    assert.equal(s.unknownFields, 'reject');
    assert.deepEqual(s.fields.map((f) => [f.type, f.mode]), [['INT64', 'NULLABLE'], ['RECORD', 'NULLABLE']]);
    assert.equal(s.fields[1]!.fields![0]!.type, 'BOOL');
  });
  const bad: [unknown, RegExp][] = [
    [{ ...base, name: 'Bad-Name' }, /name: must match/],
    [{ ...base, fields: [] }, /fields: must be a non-empty array/],
    [{ ...base, fields: [{ name: 'publish_time', type: 'STRING' }] }, /"publish_time" is reserved/],
    [{ ...base, fields: [{ name: 'a', type: 'STRING' }, { name: 'a', type: 'INT64' }] }, /fields\.a: duplicate field name/],
    [{ ...base, fields: [{ name: 'r', type: 'RECORD' }] }, /fields\.r\.fields: must be a non-empty array/],
    [{ ...base, clustering: ['a', 'nope'] }, /clustering: "nope" is not a top-level field/],
    [{ ...base, fields: [{ name: 'j', type: 'JSON' }], clustering: ['j'] }, /clustering: "j" is JSON/],
    [{ ...base, unknownFields: 'ignore' }, /unknownFields: must be "reject" or "drop"/],
    [{ ...base, maxMessageBytes: 20_000_000 }, /maxMessageBytes: must be an integer from 1 to 10000000/],
    [{ ...base, colour: 'blue' }, /unknown property "colour"/],
  ];
  for (const [raw, message] of bad) {
    it(`refuses ${JSON.stringify(raw).slice(0, 90)}`, () => {
      assert.throws(() => parseStreamDefinition(raw, 'test.json'), (err: unknown) => isTributaryError(err, 'INVALID_STREAM_DEFINITION') && message.test(err.message));
    });
  }
});

describe('the validator', () => {
  const stream: StreamDef = parseStreamDefinition(
    {
      name: 'v',
      fields: [
        { name: 'i', type: 'INT64' },
        { name: 'f', type: 'FLOAT64' },
        { name: 'n', type: 'NUMERIC' },
        { name: 't', type: 'TIMESTAMP' },
        { name: 'd', type: 'DATE' },
        { name: 'b', type: 'BOOL' },
        { name: 's', type: 'STRING' },
        { name: 'r', type: 'RECORD', mode: 'REPEATED', fields: [{ name: 'x', type: 'INT64', mode: 'REQUIRED' }] },
      ],
    },
    'v.json',
  );
  const validate = compileValidator(stream);
  const check = (json: string) => validate(parseJson(json));
  const good: [string, string, unknown][] = [
    ['{"i": 9223372036854775807}', 'i', 9223372036854775807n],
    ['{"i": "-9223372036854775808"}', 'i', -9223372036854775808n],
    ['{"i": 1e3}', 'i', 1000n],
    ['{"f": 1e308}', 'f', 1e308],
    ['{"n": 0.1}', 'n', '0.1'],
    ['{"n": "-00012.500"}', 'n', '-12.5'],
    ['{"t": "2026-11-24T10:00:00.5+01:00"}', 't', parseTimestamp('2026-11-24T09:00:00.5Z')],
    ['{"d": "2024-02-29"}', 'd', 19782],
    ['{"s": "\\u00e9\\ud83d\\ude80"}', 's', 'é🚀'],
    ['{"r": null}', 'r', []],
  ];
  for (const [json, field, want] of good) {
    it(`accepts ${json}`, () => assert.deepEqual(check(json)[field], want));
  }
  const bad: [string, string, RegExp][] = [
    ['{"i": 9223372036854775808}', 'i', /out of the 64-bit range/],
    ['{"i": 1.5}', 'i', /expected INT64, got number 1.5/],
    ['{"i": true}', 'i', /expected INT64, got boolean/],
    ['{"f": 1e400}', 'f', /out of the double range/],
    ['{"f": "1"}', 'f', /expected FLOAT64, got string/],
    ['{"n": 1e40}', 'n', /more than 29 digits before the decimal point/],
    ['{"n": "0.0000000001"}', 'n', /more than 9 digits after the decimal point/],
    ['{"t": "2026-11-24T10:00:00"}', 't', /RFC 3339 with a time zone/],
    ['{"t": 1700000000}', 't', /expected TIMESTAMP, got number/],
    ['{"d": "2023-02-29"}', 'd', /expected DATE/],
    ['{"b": "true"}', 'b', /expected BOOL, got string/],
    ['{"s": "\\ud800"}', 's', /unpaired UTF-16 surrogate/],
    ['{"r": [{"x": 1}, {"x": null}]}', 'r[1].x', /the field is REQUIRED/],
    ['{"r": [{"x": 1}, null]}', 'r[1]', /arrays cannot hold nulls/],
    ['{"r": {"x": 1}}', 'r', /expected ARRAY<RECORD>/],
    ['[1, 2]', '', /expected RECORD/],
  ];
  for (const [json, path, message] of bad) {
    it(`refuses ${json} at "${path}"`, () => {
      assert.throws(() => check(json), (err: unknown) => err instanceof Violation && err.path === path && message.test(err.detail));
    });
  }

  it('normalises decimals and round-trips timestamps at the edges', () => {
    assert.equal(normalizeDecimal('1.50e2'), '150');
    assert.equal(normalizeDecimal('-0.0'), '0');
    assert.equal(normalizeDecimal('abc'), null);
    for (const t of ['0001-01-01T00:00:00.000000Z', '1969-12-31T23:59:59.999999Z', '9999-12-31T23:59:59.999999Z']) {
      assert.equal(formatTimestamp(parseTimestamp(t)!), t);
    }
    assert.equal(parseTimestamp('10000-01-01T00:00:00Z'), null);
    // Days from the civil date, checked against Date across leap rules and the range's ends.
    for (const [t, ok] of [['2024-02-29T00:00:00Z', true], ['2023-02-29T00:00:00Z', false], ['1900-02-29T00:00:00Z', false], ['2000-02-29T23:59:59Z', true], ['2026-04-31T00:00:00Z', false], ['0001-01-01T00:00:00Z', true], ['9999-12-31T23:59:59.999999Z', true], ['0000-12-31T23:59:59Z', false]] as const) {
      assert.equal(parseTimestamp(t) === null, !ok, t);
      if (ok) assert.equal(parseTimestamp(t), BigInt(Date.parse(t.replace(/\.\d+/, ''))) * 1000n + (t.includes('.') ? 999999n : 0n), t);
    }
  });

  it('reads timestamps by hand exactly as the RFC 3339 pattern does, on generated text', () => {
    // Near-valid text: every part drawn from digits and the separators, so that most inputs get
    // deep into the grammar before they fail (or pass).
    // Mostly in range, sometimes just out of it (month 13, day 32, hour 24...).
    const num = (max: number, width = 2) => fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 10 ** width - 1 }) }).map((v) => String(v).padStart(width, '0'));
    const part = (valid: fc.Arbitrary<string>) => fc.oneof({ weight: 8, arbitrary: valid }, { weight: 1, arbitrary: fc.string({ maxLength: 3, unit: fc.constantFrom('0', '9', '-', ':', 'T', 'Z', '.', '+', ' ', 'x') }) });
    const zone = fc.oneof(fc.constantFrom('Z', 'z', ''), fc.tuple(fc.constantFrom('+', '-'), num(23), fc.constantFrom(':', ':', ''), num(59)).map((x) => x.join('')));
    const fraction = fc.oneof(fc.constant(''), fc.stringMatching(/^\.[0-9]{0,11}$/));
    const text = fc.tuple(part(num(9999, 4)), part(fc.constant('-')), part(num(12)), part(fc.constant('-')), part(num(31)), part(fc.constantFrom('T', 't', ' ')), part(num(23)), part(fc.constant(':')), part(num(59)), part(fc.constant(':')), part(num(59)), fraction, part(zone)).map((x) => x.join(''));
    fc.assert(fc.property(fc.oneof({ weight: 9, arbitrary: text }, { weight: 1, arbitrary: fc.string({ maxLength: 40 }) }), (t) => parseTimestamp(t) === parseTimestampByPattern(t)), { numRuns: 20_000 });
    let valid = 0;
    fc.assert(fc.property(text, (t) => { if (parseTimestamp(t) !== null) valid++; }), { numRuns: 2_000 });
    assert.ok(valid > 100, `the generator reaches valid timestamps (${valid} of 2,000)`);
  });
});

describe('DuckDB schema changes across restarts', () => {
  it('adds a new NULLABLE field, keeps a removed one, and refuses a changed type', async () => {
    const { dir, cleanup } = await tempDir();
    const path = join(dir, 'db.duckdb');
    const v1 = parseStreamDefinition({ name: 'evolve', fields: [{ name: 'a', type: 'STRING', mode: 'REQUIRED' }, { name: 'gone', type: 'INT64', mode: 'REQUIRED' }] }, 'v1');
    const v2 = parseStreamDefinition({ name: 'evolve', fields: [{ name: 'a', type: 'STRING', mode: 'REQUIRED' }, { name: 'added', type: 'DATE' }] }, 'v2');
    const v3 = parseStreamDefinition({ name: 'evolve', fields: [{ name: 'a', type: 'INT64', mode: 'REQUIRED' }] }, 'v3');
    const row = (id: string, values: Record<string, string | bigint | number | null>) => ({
      messageId: id, publishTime: BigInt(Date.now()) * 1000n, attributes: {}, orderingKey: null, values, payload: new Uint8Array(),
    });
    try {
      let w = await DuckDBWarehouse.open({ path });
      await w.init([v1]);
      await w.write(v1, { rows: [row('1', { a: 'x', gone: 5n })], deadLetters: [], ingestTime: BigInt(Date.now()) * 1000n });
      await w.close();

      w = await DuckDBWarehouse.open({ path });
      await w.init([v2]);
      // The removed REQUIRED column no longer blocks inserts.
      const r = await w.write(v2, { rows: [row('2', { a: 'y', added: 19000 })], deadLetters: [], ingestTime: BigInt(Date.now()) * 1000n });
      assert.deepEqual([...r.inserted], ['2']);
      const old = await getRow(w, v2, '1');
      assert.equal(old?.added, null);
      assert.equal((await getRow(w, v2, '2'))?.added, '2022-01-08');
      await w.close();

      w = await DuckDBWarehouse.open({ path });
      await assert.rejects(w.init([v3]), (err: unknown) => isTributaryError(err, 'INVALID_STREAM_DEFINITION') && /field "a" is VARCHAR in the database but the definition makes it BIGINT/.test(err.message));
      await w.close();
    } finally {
      await cleanup();
    }
  });
});

describe('DuckDB file layout', () => {
  it('writes row groups of the configured size, in a directory whose name has a quote, and keeps them across a reopen', async () => {
    const { dir, cleanup } = await tempDir();
    const path = join(dir, "it's here", 'db.duckdb');
    const def = parseStreamDefinition({ name: 'layout', fields: [{ name: 'a', type: 'INT64', mode: 'REQUIRED' }] }, 'layout');
    const now = BigInt(Date.now()) * 1000n;
    const rows = (from: number, n: number) =>
      Array.from({ length: n }, (_, i) => ({ messageId: `m${from + i}`, publishTime: now + BigInt(from + i), attributes: {}, orderingKey: null, values: { a: BigInt(from + i) }, payload: new Uint8Array() }));
    const rowGroups = async (w: DuckDBWarehouse) =>
      (await w.readForTest(`SELECT row_group_id, max(count) FROM pragma_storage_info('layout') GROUP BY row_group_id ORDER BY row_group_id`)).map((r) => Number(r[1]));
    try {
      let w = await DuckDBWarehouse.open({ path, rowGroupSize: 2048 });
      await w.init([def]);
      for (let b = 0; b < 5; b++) await w.write(def, { rows: rows(b * 1000, 1000), deadLetters: [], ingestTime: now + BigInt(b) });
      await w.close();
      w = await DuckDBWarehouse.open({ path, rowGroupSize: 2048 });
      await w.init([def]);
      const sizes = await rowGroups(w);
      assert.deepEqual(sizes, [2048, 2048, 904], `row groups of 2,048 rows: ${sizes.join(', ')}`);
      assert.equal((await w.stats(def)).rowCount, 5000);
      await w.close();
    } finally {
      await cleanup();
    }
  });

describe('textNestsDeeperThan', () => {
  it('counts brackets outside strings only, across escaped quotes and backslashes', () => {
    const deep = '['.repeat(30) + ']'.repeat(30);
    assert.equal(textNestsDeeperThan(deep, 20), true);
    assert.equal(textNestsDeeperThan(`"${'['.repeat(30)}"`, 20), false, 'brackets inside a string');
    assert.equal(textNestsDeeperThan(`["a\\\\"${'['.repeat(30)}`, 20), true, 'an escaped backslash ends before the closing quote');
    assert.equal(textNestsDeeperThan(`["a\\\"${'['.repeat(30)}"]`, 20), false, 'an escaped quote does not close the string');
    assert.equal(textNestsDeeperThan(`["${'x'.repeat(40)}`, 20), false, 'an unterminated string');
    assert.equal(textNestsDeeperThan(`{"k":"v\\\\"}${deep}`, 20), true);
  });
});

describe('decimalToScaledText', () => {
  it('is decimalToScaled as text, without BigInt', () => {
    const texts = ['0', '-0.5', '1234.567', '0.000000001', '-1.123456789', '99999999999999999999999999999.999999999', '-99999999999999999999999999999.999999999', '7', '-7', '10.1', '0.1', '100'];
    for (let i = 0; i < 2000; i++) texts.push(`${i % 2 ? '-' : ''}${(i * 7919) % 100000}.${String((i * 104729) % 1_000_000_000).padStart(1 + (i % 9), '0')}`);
    for (const t of texts) {
      const canonical = normalizeDecimal(t)!;
      assert.equal(decimalToScaledText(canonical), decimalToScaled(canonical).toString(), t);
    }
  });
});
});
