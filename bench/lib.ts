/**
 * Shared helpers of the benchmarks: servers in child processes (so the load generator does not
 * share their event loop), percentiles, memory readings, and the profile (short for CI, full
 * for the figures in docs/performance.md).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (benchmarks run from dist/bench/). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** `short` (CI: seconds, checks the harness and prints indicative ratios) or `full`. */
export type Profile = 'short' | 'full';

export function profile(): Profile {
  const p = process.env.BENCH_PROFILE ?? (process.argv.includes('--full') ? 'full' : 'short');
  if (p !== 'short' && p !== 'full') throw new Error(`BENCH_PROFILE must be short or full, got ${p}`);
  return p;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export async function tempDir(prefix = 'tributary-bench-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export interface ChildServer {
  readonly url: string;
  readonly pid: number;
  /** Peak resident memory so far (VmHWM), in MiB. */
  peakRssMiB(): number;
  stop(): Promise<void>;
}

/** Starts a node script that prints `listening on <url>` (or Tributary's banner) on stderr/stdout. */
export async function startChild(args: readonly string[], env: Record<string, string> = {}): Promise<ChildServer> {
  const child: ChildProcess = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /(?:running on|listening on) (http:\/\/[^\s)]+)/.exec(out);
      if (m) resolve(m[1]!);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => reject(new Error(`${args.join(' ')} exited with ${code}: ${out}`)));
  });
  child.stdout!.resume();
  child.stderr!.resume();
  return {
    url,
    pid: child.pid!,
    peakRssMiB() {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
      return kb / 1024;
    },
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The embedded default in a child process, on a free port. */
export function startTributary(dataDir: string, extra: readonly string[] = []): Promise<ChildServer> {
  return startChild([join(ROOT, 'bin', 'tributary.js'), 'dev', '--port', '0', '--data-dir', dataDir, '--log-level', 'warn', ...extra]);
}

/** A bench message of the demo stream (~200 bytes of JSON), deterministic in `i`. */
export function demoMessage(i: number): Record<string, unknown> {
  return {
    device_id: `dev-${String(i % 500).padStart(4, '0')}`,
    seq: i,
    temperature_c: 15 + ((i * 7919) % 2000) / 100,
    energy_kwh: `${1000 + (i % 9000)}.${String((i * 31) % 1000).padStart(3, '0')}`,
    ok: i % 13 !== 0,
    measured_at: new Date(Date.UTC(2026, 10, 24) + i * 1000).toISOString(),
    tags: i % 3 === 0 ? ['indoor'] : ['outdoor', 'roof'],
    location: { lat: 48.85, lon: 2.35, site: `site-${i % 20}` },
  };
}

/** Prints a result line in a fixed, greppable format. */
export function report(name: string, value: string, note = ''): void {
  process.stdout.write(`${name.padEnd(58)} ${value.padStart(14)}  ${note}\n`);
}

export const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** Gross-regression floors that failed in this run (see `gate`). */
export const regressions: string[] = [];

/**
 * Flags a ratio to its in-run baseline that falls below `floor`. Floors sit far below the
 * measured ratios (about a third of them), so only a gross regression fails the run on a noisy
 * machine; `.ci/run` runs the short profile. Call `exitOnRegressions` at the end of the benchmark.
 */
export function gate(name: string, ratio: number, floor: number): void {
  if (Number.isFinite(ratio) && ratio >= floor) return;
  regressions.push(`${name}: ratio ${fmt(ratio, 2)} < floor ${fmt(floor, 2)}`);
  process.stdout.write(`REGRESSION ${name}: ratio ${fmt(ratio, 2)} is below the gross-regression floor ${fmt(floor, 2)}\n`);
}

/** Exits 1 if any `gate` failed (the process exit code is what `npm run bench` and CI check). */
export function exitOnRegressions(): void {
  if (regressions.length > 0) {
    process.stdout.write(`${regressions.length} gross regression(s)\n`);
    process.exitCode = 1;
  }
}
