/** Shared test helpers: temporary data dirs, configs, and real servers on ephemeral ports. */
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, type RunningServer } from '../src/main/server.js';
import { type Config, parseConfig } from '../src/core/config.js';

/** The repository root (tests run from dist/test/). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A fresh temporary directory, removed by the returned cleanup. */
export async function tempDir(prefix = 'tributary-test-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A test stream that drops unknown fields and takes small messages only. */
export const LENIENT_STREAM = {
  name: 'lenient_events',
  description: 'Test stream: unknown fields dropped, 256-byte messages.',
  unknownFields: 'drop',
  maxMessageBytes: 256,
  fields: [
    { name: 'kind', type: 'STRING', mode: 'REQUIRED' },
    { name: 'n', type: 'INT64', mode: 'NULLABLE' },
  ],
};

/** A streams dir with the shipped demo stream and the test streams. */
export async function streamsDir(base: string): Promise<string> {
  const dir = join(base, 'streams');
  await mkdir(dir, { recursive: true });
  await copyFile(join(ROOT, 'streams', 'sensor_readings.json'), join(dir, 'sensor_readings.json'));
  await writeFile(join(dir, 'lenient_events.json'), JSON.stringify(LENIENT_STREAM));
  return dir;
}

/** A config for tests: ephemeral port, data under `base`, quiet logs, no rate limit (a test that wants one passes its flags). */
export async function testConfig(base: string, flags: string[] = []): Promise<Config> {
  const streams = await streamsDir(base);
  return parseConfig(['--port', '0', '--data-dir', join(base, 'data'), '--streams-dir', streams, '--log-level', 'silent', '--rate-limit-requests', '0', ...flags], {}).config;
}

/** A real server (real socket) on an ephemeral port, plus cleanup of everything. */
export async function startTestServer(flags: string[] = [], base?: string): Promise<RunningServer & { base: string; stop: () => Promise<void> }> {
  const tmp = base ? { dir: base, cleanup: async () => undefined } : await tempDir();
  const config = await testConfig(tmp.dir, flags);
  const server = await startServer(config, { logger: false });
  return {
    ...server,
    base: tmp.dir,
    close: server.close,
    stop: async () => {
      await server.close();
      await tmp.cleanup();
    },
  };
}

/** POSTs JSON and returns status and parsed body. */
export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

/** GETs and returns status and parsed JSON body. */
export async function getJson(url: string): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(url);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

/** Publishes plain JSON objects (as Pub/Sub-shaped base64 messages) and returns the response body. */
export async function publish(
  url: string,
  stream: string,
  messages: { data: unknown; attributes?: Record<string, string>; orderingKey?: string; messageId?: string; raw?: Uint8Array }[],
): Promise<{ status: number; body: any }> {
  const body = {
    messages: messages.map((m) => ({
      data: Buffer.from(m.raw ?? (typeof m.data === 'string' ? m.data : JSON.stringify(m.data))).toString('base64'),
      ...(m.attributes ? { attributes: m.attributes } : {}),
      ...(m.orderingKey ? { orderingKey: m.orderingKey } : {}),
      ...(m.messageId ? { messageId: m.messageId } : {}),
    })),
  };
  return postJson(`${url}/v1/streams/${stream}/messages`, body);
}

/** A valid sensor_readings message. */
export function reading(seq: number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { device_id: `dev-${seq % 7}`, seq, temperature_c: 20 + (seq % 10) / 4, measured_at: '2026-11-24T10:00:00Z', ...overrides };
}

/** A `tributary dev` child process, started and listening. */
export interface DevProcess {
  readonly child: ChildProcess;
  readonly url: string;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
}

/** Starts `tributary dev` on a free port with these data and streams dirs; resolves once it listens. */
export async function startDevProcess(dataDir: string, streams: string, extra: readonly string[] = []): Promise<DevProcess> {
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'tributary.js'), 'dev', '--port', '0', '--data-dir', dataDir, '--streams-dir', streams, '--log-level', 'error', ...extra], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let err = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /running on (http:\/\/\S+)/.exec(err);
      if (m) resolve(m[1]!);
    });
    void exited.then(() => reject(new Error(`exited before listening: ${err}`)));
  });
  return { child, url, exited };
}
