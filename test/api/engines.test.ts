/**
 * The engine loop's own rules: which engines TRIBUTARY_TEST_ENGINES selects, the documented
 * exceptions kept in step with docs/emulators.md, and the reporter's count per engine (with the
 * rule bigquery >= duckdb - exceptions) on events as the runner sends them.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { TestEvent } from 'node:test/reporters';
import { EngineCounter } from '../engine-reporter.js';
import { ROOT } from '../helpers.js';
import { ENGINE_EXCEPTIONS, engineTag, EXCEPTION_DIAGNOSTIC, selectedApiEngines } from './engines.js';

describe('engine loop of the API suites', () => {
  it('selects engines from TRIBUTARY_TEST_ENGINES as the warehouse suites do', () => {
    assert.deepEqual(selectedApiEngines({}), ['duckdb', 'bigquery']);
    assert.deepEqual(selectedApiEngines({ TRIBUTARY_TEST_ENGINES: 'bigquery' }), ['bigquery']);
    assert.deepEqual(selectedApiEngines({ TRIBUTARY_TEST_ENGINES: 'bigquery, duckdb' }), ['duckdb', 'bigquery']);
    assert.deepEqual(selectedApiEngines({ TRIBUTARY_TEST_WAREHOUSES: 'duckdb' }), ['duckdb']);
    assert.deepEqual(selectedApiEngines({ TRIBUTARY_TEST_ENGINES: 'duckdb-large' }), [], 'a warehouse-level variant selects no API engine');
    assert.throws(() => selectedApiEngines({ TRIBUTARY_TEST_ENGINES: 'postgres' }), /unknown engine "postgres"/);
  });

  it('lists the same exceptions, word for word, as docs/emulators.md', async () => {
    const doc = await readFile(join(ROOT, 'docs', 'emulators.md'), 'utf8');
    const section = doc.slice(doc.indexOf('### Documented exceptions'));
    assert.ok(section.length > 0, 'docs/emulators.md has a "Documented exceptions" section');
    const rows = [...section.matchAll(/^\| `([a-z-]+)` \| (.*) \|$/gm)].map((m) => [m[1]!, m[2]!.split(' | ').map((c) => c.replaceAll('\\|', '|'))] as const);
    assert.deepEqual(rows.map(([name]) => name), Object.keys(ENGINE_EXCEPTIONS));
    for (const [name, cells] of rows) {
      const e = ENGINE_EXCEPTIONS[name as keyof typeof ENGINE_EXCEPTIONS];
      assert.deepEqual(cells, [e.kind, e.bigquery, e.emulator, e.instead], name);
    }
  });

  const start = (name: string, nesting: number): TestEvent => ({ type: 'test:start', data: { name, nesting, file: 'f.js', line: 1, column: 1 } }) as TestEvent;
  const pass = (name: string, nesting: number, type?: 'suite'): TestEvent =>
    ({ type: 'test:pass', data: { name, nesting, file: 'f.js', testNumber: 1, details: { duration_ms: 1, ...(type ? { type } : {}) } } }) as TestEvent;
  const diagnostic = (message: string, nesting: number): TestEvent => ({ type: 'test:diagnostic', data: { message, nesting, file: 'f.js' } }) as TestEvent;
  const suite = (engine: 'duckdb' | 'bigquery', tests: string[], exceptions: Record<string, string[]> = {}): TestEvent[] => [
    start(`read API ${engineTag(engine)}`, 0),
    ...tests.flatMap((t) => [start(t, 1), pass(t, 1), ...(exceptions[t] ?? []).map((n) => diagnostic(`${EXCEPTION_DIAGNOSTIC} ${engine} ${n}`, 1))]),
    pass(`read API ${engineTag(engine)}`, 0, 'suite'),
  ];

  it('counts tests per engine, exception paths apart, and holds bigquery >= duckdb - exceptions', () => {
    const c = new EngineCounter();
    for (const e of [
      ...suite('duckdb', ['a', 'b', 'c']),
      ...suite('bigquery', ['a', 'b', 'c', 'sql'], { b: ['duplicate-status', 'insert-id-dedup'], sql: ['partition-filter'] }),
      start('not engine-bound', 0),
      pass('not engine-bound', 0),
    ]) c.observe(e);
    assert.deepEqual(Object.fromEntries(c.tests), { duckdb: 3, bigquery: 2 });
    assert.deepEqual(Object.fromEntries(c.exceptions), { bigquery: 2 });
    assert.deepEqual(c.summary(), {
      line: 'engine tests: duckdb 3, bigquery 2, documented exceptions 2 (duplicate-status x1, insert-id-dedup x1, partition-filter x1)',
      ok: true,
    });
  });

  it('fails the run when a suite stopped running on bigquery', () => {
    const c = new EngineCounter();
    for (const e of [...suite('duckdb', ['a', 'b', 'c']), ...suite('bigquery', ['a'])]) c.observe(e);
    const s = c.summary()!;
    assert.equal(s.ok, false);
    assert.match(s.line, /FAILED: bigquery 1 < duckdb 3 - exceptions 0/);
    const one = new EngineCounter();
    for (const e of suite('duckdb', ['a', 'b'])) one.observe(e);
    assert.deepEqual(one.summary(), { line: 'engine tests: duckdb 2, documented exceptions 0', ok: true }, 'one engine alone is no failure');
    assert.equal(new EngineCounter().summary(), undefined, 'nothing to say without engine tests');
  });
});
