/**
 * The docs are the contract: every error code, dead-letter reason, setting and route is
 * documented, and the README holds the two commands CI and newcomers rely on.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildApp } from '../../src/api/app.js';
import { SETTINGS } from '../../src/core/config.js';
import { DEAD_LETTER_REASONS, ERROR_CODES } from '../../src/core/errors.js';
import { createEmbeddedRuntime } from '../../src/runtime.js';
import { ROOT, tempDir, testConfig } from '../helpers.js';

const doc = (name: string) => readFile(join(ROOT, name), 'utf8');

describe('documentation', () => {
  it('documents every API error code with its status in docs/errors.md', async () => {
    const text = await doc('docs/errors.md');
    for (const [code, { status }] of Object.entries(ERROR_CODES)) {
      assert.match(text, new RegExp('`' + code + '` \\| ' + status + ' \\|'), `${code} (${status}) is in the table of docs/errors.md`);
    }
  });

  it('documents every dead-letter reason in docs/errors.md', async () => {
    const text = await doc('docs/errors.md');
    for (const reason of Object.keys(DEAD_LETTER_REASONS)) assert.ok(text.includes('`' + reason + '`'), `${reason} is documented`);
  });

  it('documents every setting, its flag, variables and default in docs/configuration.md', async () => {
    const text = await doc('docs/configuration.md');
    for (const s of SETTINGS) {
      assert.ok(text.includes(`### ${s.flag.slice(2)}\n`), `${s.flag} has its own section`);
      for (const env of s.env) assert.ok(text.includes('`' + env + '`'), `${env} is documented`);
      if (s.default !== undefined) assert.ok(text.includes('`' + String(s.default) + '`'), `default of ${s.flag} is documented`);
    }
  });

  it('documents every HTTP route in docs/http-api.md', async () => {
    const text = await doc('docs/http-api.md');
    const { dir, cleanup } = await tempDir();
    const runtime = await createEmbeddedRuntime(await testConfig(dir));
    let routes: readonly string[];
    try {
      const app = await buildApp({ ...runtime, logger: false });
      routes = app.routeTable;
      await app.close();
    } finally {
      await runtime.close();
      await cleanup();
    }
    assert.ok(routes.length >= 9, `routes collected: ${routes.join(', ')}`);
    for (const r of routes) {
      const [method, url] = r.split(' ') as [string, string];
      if (method === 'HEAD') continue;
      const path = url.replace(/:([A-Za-z]+)/g, '{$1}');
      assert.ok(text.includes(`| ${method} | \`${path}\` |`), `${method} ${path} is in the route table of docs/http-api.md`);
    }
  });

  it('keeps the two README commands, and .ci/run calls the test command', async () => {
    const readme = await doc('README.md');
    assert.ok(readme.includes('npm ci && npm start'), 'README has the run command');
    assert.ok(readme.includes('npm ci && npm test'), 'README has the test command');
    const ci = await doc('.ci/run');
    assert.match(ci, /^npm test\b/m, '.ci/run runs npm test');
    for (const [, link] of readme.matchAll(/\]\(((?:docs|streams|examples)\/[^)#]+)/g)) {
      assert.ok(existsSync(join(ROOT, link!)), `README links to ${link}, which exists`);
    }
  });
});
