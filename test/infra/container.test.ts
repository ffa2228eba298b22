/**
 * No Docker engine runs here, so this runs the API image's exact start command
 * (the final stage's ENTRYPOINT/CMD, with its ENV and PORT set as Cloud Run does)
 * against the built output in the repository, which has the layout the image copies
 * to its WORKDIR (bin/, dist/src/, streams/, package.json). It checks the process
 * serves /healthz on $PORT, listens on 0.0.0.0, and exits 0 on SIGTERM.
 * Besides the image's ENV it sets what the deployment adds: PORT (Cloud Run) and
 * TRIBUTARY_ALLOW_UNAUTHENTICATED=true (infra, with exposure = "iam": Cloud Run IAM
 * authenticates). The only deviation from the image: TRIBUTARY_DATA_DIR points at a
 * temporary directory instead of the image's /tmp/tributary. Also checks the
 * Dockerfile's shape (multi-stage, production dependencies, non-root) and that the
 * image alone (no keys, no IAM flag) refuses to serve on 0.0.0.0.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT, tempDir } from '../helpers.js';

interface Stage {
  from: string;
  env: Record<string, string>;
  workdir?: string;
  user?: string;
  entrypoint: string[];
  cmd: string[];
  runs: string[];
}

/** Parses the Dockerfile instructions we use (continuations, comments, JSON-form CMD). */
export function parseDockerfile(text: string): Stage[] {
  const logical = text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages: Stage[] = [];
  for (const line of logical) {
    const m = /^(\w+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const [, op, rest] = [m[0], m[1]!.toUpperCase(), m[2]!];
    if (op === 'FROM') {
      stages.push({ from: rest, env: {}, entrypoint: [], cmd: [], runs: [] });
      continue;
    }
    const s = stages.at(-1);
    assert.ok(s, `${op} before FROM`);
    if (op === 'ENV') for (const kv of rest.trim().split(/\s+/)) { const i = kv.indexOf('='); s.env[kv.slice(0, i)] = kv.slice(i + 1); }
    if (op === 'WORKDIR') s.workdir = rest.trim();
    if (op === 'USER') s.user = rest.trim();
    if (op === 'RUN') s.runs.push(rest);
    if (op === 'CMD' || op === 'ENTRYPOINT') {
      assert.ok(rest.trim().startsWith('['), `${op} must use the JSON (exec) form so signals reach node`);
      const argv = JSON.parse(rest) as string[];
      if (op === 'CMD') s.cmd = argv;
      else s.entrypoint = argv;
    }
  }
  return stages;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Local addresses in LISTEN state for a port, from /proc/net/tcp{,6} (Linux). */
async function listeners(port: number): Promise<string[]> {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const out: string[] = [];
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(f, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[3] === '0A' && cols[1]?.endsWith(`:${hexPort}`)) out.push(cols[1].split(':')[0]!);
    }
  }
  return out;
}

const dockerfile = await readFile(join(ROOT, 'Dockerfile'), 'utf8');
const stages = parseDockerfile(dockerfile);
const final = stages.at(-1)!;

/** The image's environment as this test runs it (data dir moved to `tmp`). */
function imageEnv(tmp: string): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '', HOME: tmp, ...final.env, TRIBUTARY_DATA_DIR: join(tmp, 'data') };
}

describe('Dockerfile', () => {
  it('is multi-stage on node:22 slim, installs production dependencies only, runs as non-root', () => {
    assert.ok(stages.length >= 2, 'expected a build stage and a runtime stage');
    for (const s of stages) assert.match(s.from, /^node:22[-.\w]*slim\b/);
    assert.ok(final.runs.some((r) => /npm ci\b.*--omit=dev/.test(r)), 'runtime stage must install with npm ci --omit=dev');
    assert.ok(final.user && !/^(root|0)(:|$)/.test(final.user), `runtime USER is ${final.user ?? 'unset (root)'}`);
    assert.equal(final.env.NODE_ENV, 'production');
    assert.deepEqual([...final.entrypoint, ...final.cmd].slice(0, 2), ['node', 'bin/tributary.js']);
  });
});

describe("the image's start command without API keys or the IAM flag", () => {
  it('refuses to serve on 0.0.0.0 and says how to fix it', async () => {
    const tmp = await tempDir('tributary-container-');
    try {
      const argv = [...final.entrypoint, ...final.cmd];
      const child = spawn(process.execPath, argv.slice(1), { cwd: ROOT, env: { ...imageEnv(tmp.dir), PORT: String(await freePort()) }, stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
      assert.notEqual(code, 0);
      assert.match(err, /API keys|allow-unauthenticated/i);
    } finally {
      await tmp.cleanup();
    }
  });
});

describe("the image's start command, run against the built output", () => {
  let port: number;
  let child: ReturnType<typeof spawn>;
  let stderr = '';
  let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  let cleanup: () => Promise<void>;

  before(async () => {
    const argv = [...final.entrypoint, ...final.cmd];
    assert.equal(argv[0], 'node');
    const tmp = await tempDir('tributary-container-');
    cleanup = tmp.cleanup;
    port = await freePort();
    child = spawn(process.execPath, argv.slice(1), {
      cwd: ROOT, // = the image's WORKDIR (same layout)
      env: { ...imageEnv(tmp.dir), PORT: String(port), TRIBUTARY_ALLOW_UNAUTHENTICATED: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.resume();
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    const deadline = Date.now() + 30_000;
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
      if (ok) break;
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`did not serve /healthz on $PORT=${port}: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await cleanup();
  });

  it('serves GET /healthz on $PORT', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'ok' });
  });

  it('listens on 0.0.0.0 (all interfaces), as Cloud Run requires', async () => {
    const addrs = await listeners(port);
    assert.ok(
      addrs.includes('00000000') || addrs.includes('00000000000000000000000000000000'),
      `listening on ${JSON.stringify(addrs)} (hex), not on 0.0.0.0`,
    );
  });

  it('exits 0 promptly on SIGTERM', async () => {
    const t0 = Date.now();
    child.kill('SIGTERM');
    const { code, signal } = await exited;
    assert.equal(signal, null, `killed by ${signal}: ${stderr}`);
    assert.equal(code, 0, stderr);
    assert.ok(Date.now() - t0 < 10_000, `took ${Date.now() - t0} ms to stop (Cloud Run allows 10 s)`);
  });
});
