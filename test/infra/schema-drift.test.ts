/**
 * The BigQuery schema JSON committed under infra/schemas/ (read by Terraform with
 * file()/jsondecode in infra/modules/stream) must be exactly what
 * `tributary schema export --format bigquery` writes from streams/*.json. If this
 * fails, regenerate: `node bin/tributary.js schema export --format bigquery --out infra/schemas`.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ROOT, tempDir } from '../helpers.js';

const run = promisify(execFile);
const COMMITTED = join(ROOT, 'infra', 'schemas');
const FIX = 'regenerate with `node bin/tributary.js schema export --format bigquery --out infra/schemas` and commit';

describe('infra/schemas matches `tributary schema export --format bigquery`', () => {
  let out: string;
  let cleanup: () => Promise<void>;

  before(async () => {
    ({ dir: out, cleanup } = await tempDir('tributary-schema-'));
    await run(process.execPath, [join(ROOT, 'bin', 'tributary.js'), 'schema', 'export', '--format', 'bigquery', '--out', out, '--streams-dir', join(ROOT, 'streams')], { cwd: ROOT });
  });
  after(async () => cleanup());

  it('has the same files: <stream>.json and <stream>_dead_letters.json for every stream', async () => {
    const streams = (await readdir(join(ROOT, 'streams'))).filter((f) => f.endsWith('.json')).sort();
    assert.ok(streams.length > 0, 'no stream definitions in streams/');
    const exported = (await readdir(out)).sort();
    const committed = (await readdir(COMMITTED)).filter((f) => f.endsWith('.json')).sort();
    assert.deepEqual(committed, exported, `infra/schemas has different files than the export: ${FIX}`);
    for (const s of streams) {
      const name = s.replace(/\.json$/, '');
      assert.ok(exported.includes(`${name}.json`) && exported.includes(`${name}_dead_letters.json`));
    }
  });

  it('has byte-identical content', async () => {
    for (const f of await readdir(out)) {
      const want = await readFile(join(out, f), 'utf8');
      const got = await readFile(join(COMMITTED, f), 'utf8');
      assert.deepEqual(JSON.parse(got), JSON.parse(want), `infra/schemas/${f} drifted from the stream definition: ${FIX}`);
      assert.equal(got, want, `infra/schemas/${f} differs only in formatting: ${FIX}`);
    }
  });

  it('every table schema has the partitioning column publish_time (TIMESTAMP, REQUIRED)', async () => {
    for (const f of await readdir(COMMITTED)) {
      if (!f.endsWith('.json')) continue;
      const cols = JSON.parse(await readFile(join(COMMITTED, f), 'utf8')) as { name: string; type: string; mode?: string }[];
      const pt = cols.find((c) => c.name === 'publish_time');
      assert.ok(pt, `${f} has no publish_time column, which the tables are partitioned on`);
      assert.equal(pt.type, 'TIMESTAMP');
      assert.equal(pt.mode, 'REQUIRED');
    }
  });
});
