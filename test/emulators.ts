/**
 * Starts the Google Cloud emulators built by `tools/emulators/build.sh` as child processes on
 * free 127.0.0.1 ports, and stops them. A missing binary is a test failure that says how to
 * build it, never a skip.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ROOT } from './helpers.js';

export const EMULATOR_BIN_DIR = join(ROOT, 'tools', 'emulators', 'bin');

/** The path of an emulator binary; throws a message saying how to build it when it is missing. */
export function emulatorBinary(name: 'bigquery-emulator' | 'pstest'): string {
  const path = join(EMULATOR_BIN_DIR, name);
  if (!existsSync(path)) {
    throw new Error(`${path} is missing: run tools/emulators/build.sh (needs Go >= 1.26 and the Go module proxy) before the tests, or narrow TRIBUTARY_TEST_ENGINES to duckdb`);
  }
  return path;
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function waitFor(check: () => Promise<boolean>, what: string, output: () => string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not become ready within ${timeoutMs} ms; output:\n${output()}`);
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** A running BigQuery emulator (goccy/bigquery-emulator). */
export interface BigQueryEmulator {
  readonly project: string;
  /** REST base URL, e.g. http://127.0.0.1:PORT. */
  readonly url: string;
  /** Stops the process (data in its database file survive for {@link start}). */
  stop(): Promise<void>;
  /** Starts it again on the same port and database file. */
  start(): Promise<void>;
}

/** Starts goccy/bigquery-emulator with a database file under `dir`, on a free port. */
export async function startBigQueryEmulator(dir: string, project = 'tributary-test'): Promise<BigQueryEmulator> {
  const bin = emulatorBinary('bigquery-emulator');
  const port = await freePort();
  const grpcPort = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let output = '';
  const start = async () => {
    output = '';
    child = spawn(bin, [`--project=${project}`, '--host=127.0.0.1', `--port=${port}`, `--grpc-port=${grpcPort}`, `--database=${join(dir, 'bigquery.db')}`, '--log-level=error'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const c = child;
    await waitFor(async () => {
      if (c.exitCode !== null) throw new Error(`bigquery-emulator exited with ${c.exitCode}: ${output}`);
      const res = await fetch(`${url}/bigquery/v2/projects/${project}/datasets`);
      return res.ok;
    }, 'bigquery-emulator', () => output);
  };
  await start();
  return {
    project,
    url,
    stop: async () => {
      if (child) await stopChild(child);
    },
    start,
  };
}

/** A running Pub/Sub fake (pstest). */
export interface PubSubEmulator {
  /** host:port for PUBSUB_EMULATOR_HOST. */
  readonly host: string;
  stop(): Promise<void>;
}

/** Starts pstest on a free port; `minAckDeadline` e.g. `1s` lets tests use short ack deadlines. */
export async function startPubSubEmulator(minAckDeadline = '1s'): Promise<PubSubEmulator> {
  const bin = emulatorBinary('pstest');
  const child = spawn(bin, ['-host', '127.0.0.1', '-port', '0', '-min-ack-deadline', minAckDeadline], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const host = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pstest did not start within 30 s: ${output}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      output += d.toString();
      const m = /pstest listening on (\S+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`pstest exited with ${code}: ${output}`));
    });
  });
  return { host, stop: () => stopChild(child) };
}
