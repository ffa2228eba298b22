/**
 * The test reporter of `npm test`: Node's default output (spec on a terminal, TAP otherwise,
 * as `node --test` chooses), then one line with the count of API tests run per engine:
 *
 *   engine tests: duckdb N, bigquery M, documented exceptions K (names...)
 *
 * A test counts for an engine when a suite above it is titled `... [engine:<name>]` (see
 * test/api/engines.ts `forEachEngine`); a test that took a documented exception path (the
 * diagnostic `engine-exception <engine> <name>`) counts among the exceptions instead of its
 * engine. When both engines ran and bigquery < duckdb - exceptions, the line says so and the run
 * fails (exit code 1): a suite that stopped running on BigQuery does not go unnoticed.
 */
import { Readable } from 'node:stream';
import type { TestEvent } from 'node:test/reporters';
import { spec, tap } from 'node:test/reporters';

const TAG = /\[engine:([a-z0-9-]+)\]$/;
const EXCEPTION = /^engine-exception (\S+) (\S+)$/;

/** Counts tests per engine from the runner's events (`--test-concurrency=1`: one file at a time). */
export class EngineCounter {
  /** Full tests per engine (exception paths excluded). */
  readonly tests = new Map<string, number>();
  /** Tests that took an exception path, per engine. */
  readonly exceptions = new Map<string, number>();
  /** How often each exception name was taken. */
  readonly exceptionNames = new Map<string, number>();
  /** Titles of the tests started and not yet finished, by nesting (files run one at a time). */
  private readonly stack: string[] = [];
  private last: { engine: string; key: string } | undefined;
  private readonly marked = new Set<string>();
  private seq = 0;

  observe(event: TestEvent): void {
    if (event.type === 'test:start') {
      this.stack.length = event.data.nesting;
      this.stack.push(event.data.name);
    } else if (event.type === 'test:pass' || event.type === 'test:fail') {
      const d = event.data;
      if (d.details.type === 'suite' || d.skip || d.todo) return;
      const stack = this.stack.slice(0, d.nesting);
      const engine = stack.map((n) => TAG.exec(n)?.[1]).find((e) => e !== undefined);
      this.last = undefined;
      if (!engine) return;
      this.tests.set(engine, (this.tests.get(engine) ?? 0) + 1);
      this.last = { engine, key: `${d.file ?? ''}#${this.seq++}` };
    } else if (event.type === 'test:diagnostic') {
      const m = EXCEPTION.exec(event.data.message);
      if (!m || !this.last || this.last.engine !== m[1]) return;
      this.exceptionNames.set(m[2]!, (this.exceptionNames.get(m[2]!) ?? 0) + 1);
      if (this.marked.has(this.last.key)) return;
      this.marked.add(this.last.key);
      const { engine } = this.last;
      this.tests.set(engine, this.tests.get(engine)! - 1);
      this.exceptions.set(engine, (this.exceptions.get(engine) ?? 0) + 1);
    }
  }

  /** The summary line, and whether the rule bigquery >= duckdb - exceptions holds (or does not apply). */
  summary(): { line: string; ok: boolean } | undefined {
    if (this.tests.size === 0 && this.exceptions.size === 0) return undefined;
    const duckdb = this.tests.get('duckdb') ?? 0;
    const bigquery = this.tests.get('bigquery') ?? 0;
    const k = this.exceptions.get('bigquery') ?? 0;
    const engines = [...new Set([...this.tests.keys(), ...this.exceptions.keys()])].map((e) => `${e} ${this.tests.get(e) ?? 0}`);
    const names = [...this.exceptionNames].map(([n, c]) => `${n} x${c}`).join(', ');
    const both = this.tests.has('duckdb') && (this.tests.has('bigquery') || this.exceptions.has('bigquery'));
    const ok = !both || bigquery >= duckdb - k;
    const line =
      `engine tests: ${engines.join(', ')}, documented exceptions ${[...this.exceptions.values()].reduce((a, b) => a + b, 0)}${names ? ` (${names})` : ''}` +
      (ok ? '' : ` -- FAILED: bigquery ${bigquery} < duckdb ${duckdb} - exceptions ${k}`);
    return { line, ok };
  }
}

/**
 * Passes the events on, counting them; the summary goes out as a diagnostic of the run just
 * before the run's own totals (`tests N`, ...), which are the last events: with
 * --test-force-exit the process may exit before a reporter's code after the last event runs.
 */
async function* observed(source: AsyncIterable<TestEvent>, counter: EngineCounter): AsyncGenerator<TestEvent, void> {
  let told = false;
  for await (const event of source) {
    if (!told && event.type === 'test:diagnostic' && event.data.nesting === 0 && event.data.file === undefined && /^tests \d+$/.test(event.data.message)) {
      told = true;
      const s = counter.summary();
      if (s) {
        if (!s.ok) process.exitCode = 1;
        yield { type: 'test:diagnostic', data: { ...event.data, message: s.line } };
      }
    }
    counter.observe(event);
    yield event;
  }
}

export default async function* engineReporter(source: AsyncGenerator<TestEvent, void>): AsyncGenerator<string, void> {
  const counter = new EngineCounter();
  const events = observed(source, counter);
  if (process.stdout.isTTY === true) {
    for await (const chunk of Readable.from(events).pipe(new spec())) yield String(chunk);
  } else {
    for await (const line of tap(events)) yield line;
  }
}
