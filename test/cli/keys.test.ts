/** `tributary keys create`: the printed key authenticates against the printed entry; a keyed server uses it. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { KeyStore, parseKeys } from '../../src/api/auth.js';
import { ROOT, startTestServer } from '../helpers.js';

const BIN = join(ROOT, 'bin', 'tributary.js');

function runToEnd(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

describe('tributary keys create', () => {
  it('prints a key and its hashed entry, and refuses bad scopes', async () => {
    const ok = await runToEnd(['keys', 'create', 'ci-reader', 'read:*', 'write:sensor_readings']);
    assert.equal(ok.code, 0, ok.stderr);
    const { key, entry } = JSON.parse(ok.stdout) as { key: string; entry: { id: string; sha256: string; scopes: string[] } };
    assert.match(key, /^trb_ci-reader_[A-Za-z0-9_-]{43}$/);
    assert.ok(!JSON.stringify(entry).includes(key.slice(-43)), 'the entry holds no secret');
    const keys = JSON.stringify({ keys: [entry] });
    assert.equal(new KeyStore(parseKeys(keys, 'test')).authenticate(key)?.canWrite('sensor_readings'), true);
    const server = await startTestServer(['--api-keys', keys]);
    try {
      assert.equal((await fetch(`${server.url}/v1/streams/sensor_readings/rows`, { headers: { authorization: `Bearer ${key}` } })).status, 200);
      assert.equal((await fetch(`${server.url}/v1/streams/sensor_readings/rows`)).status, 401);
    } finally {
      await server.stop();
    }
    const bad = await runToEnd(['keys', 'create', 'x', 'root']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /scope "root"/);
  });
});
