/**
 * cloudbuild.yaml has the named steps issue 5 lists, in order, deploys the API by
 * digest, and agrees with the Terraform on the runtime contract; docs/deploy.md only
 * names Terraform outputs and build steps that exist. (check.sh validates the file
 * against the Cloud Build schema with check-jsonschema.)
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { ROOT } from '../helpers.js';
import { type Block, type Config, loadConfig } from './hcl.js';

let yaml: string;
let deploy: string;
let env: Config;
let cicd: Config;

before(async () => {
  yaml = await readFile(join(ROOT, 'cloudbuild.yaml'), 'utf8');
  deploy = await readFile(join(ROOT, 'docs', 'deploy.md'), 'utf8');
  env = await loadConfig('infra/environments/example');
  cicd = await loadConfig('infra/modules/cicd');
});

const stepIds = (): string[] => [...yaml.matchAll(/^ {2}- id: ([\w-]+)$/gm)].map((m) => m[1]!);
const substitution = (key: string): string | undefined => new RegExp(`^ {2}${key}: (.+)$`, 'm').exec(yaml)?.[1]?.trim();

describe('cloudbuild.yaml', () => {
  it('has the named steps, in order', () => {
    assert.deepEqual(stepIds(), ['install', 'lint', 'test', 'build-image', 'push-image', 'deploy-api', 'deploy-function', 'smoke-test']);
  });

  it('has substitutions for region, service, repository and functions, which the trigger also sets', () => {
    for (const k of ['_REGION', '_SERVICE', '_REPOSITORY', '_FUNCTIONS']) assert.ok(substitution(k), `no ${k}`);
    const trigger = cicd.resources.google_cloudbuild_trigger!.this!;
    for (const k of ['_REGION', '_REPOSITORY', '_SERVICE']) assert.ok(String(trigger.substitutions).includes(`${k} `) || String(trigger.substitutions).includes(k), `trigger does not set ${k}`);
    const envSubs = JSON.stringify((env.modules.cicd as Block).substitutions);
    assert.ok(envSubs.includes('_FUNCTIONS'), 'the example environment does not set _FUNCTIONS');
  });

  it('uses every substitution the trigger sets, and defines every one it uses (Cloud Build fails a build otherwise)', () => {
    const defined = new Set([...yaml.matchAll(/^ {2}(_[A-Z0-9_]+):/gm)].map((m) => m[1]!));
    const used = new Set([...yaml.matchAll(/\$\{(_[A-Z0-9_]+)\}/g)].map((m) => m[1]!));
    for (const k of used) assert.ok(defined.has(k), `cloudbuild.yaml uses ${k} without a default`);
    const trigger = cicd.resources.google_cloudbuild_trigger!.this!;
    const fromTrigger = [...String(trigger.substitutions).matchAll(/\b(_[A-Z0-9_]+)\b/g)].map((m) => m[1]!);
    const fromEnv = Object.keys((env.modules.cicd as Block).substitutions as Block);
    assert.ok(fromTrigger.length >= 3 && fromEnv.length >= 1);
    for (const k of [...fromTrigger, ...fromEnv]) assert.ok(used.has(k), `the trigger sets ${k}, which cloudbuild.yaml does not use`);
  });

  it('deploys every function of _FUNCTIONS with its own bucket and entry point (script run with stub tools)', async () => {
    const step = yaml.slice(yaml.indexOf('  - id: deploy-function'), yaml.indexOf('  - id: smoke-test'));
    const script = step.slice(step.indexOf('      - |\n') + '      - |\n'.length).split('\n').map((l) => l.slice(8)).join('\n')
      .replaceAll('${_FUNCTIONS}', 'trib-a-ingest:proj-trib-a-src:tributaryIngestPush trib-b-ingest:proj-trib-b-src:tributaryIngest')
      .replaceAll('${_REGION}', 'europe-west1')
      .replaceAll('${COMMIT_SHA}', 'abc123')
      .replaceAll('$$', '$');
    assert.doesNotMatch(script, /\$\{_/, 'every substitution replaced');
    const dir = await mkdtemp(join(tmpdir(), 'cloudbuild-'));
    try {
      const log = join(dir, 'calls.log');
      for (const tool of ['gcloud', 'python3']) {
        await writeFile(join(dir, tool), `#!/bin/sh\necho "${tool} $*" >> "${log}"\n`, { mode: 0o755 });
      }
      const run = (s: string) => spawnSync('bash', ['-euo', 'pipefail', '-c', s], { env: { ...process.env, PATH: `${dir}:${process.env.PATH ?? ''}` }, encoding: 'utf8' });
      const ok = run(script);
      assert.equal(ok.status, 0, ok.stderr);
      const calls = (await readFile(log, 'utf8')).trim().split('\n');
      assert.deepEqual(calls.filter((c) => c.startsWith('gcloud storage')), [
        'gcloud storage cp /tmp/source.zip gs://proj-trib-a-src/ingest-abc123.zip',
        'gcloud storage cp /tmp/source.zip gs://proj-trib-b-src/ingest-abc123.zip',
      ]);
      const deploys = calls.filter((c) => c.startsWith('gcloud functions deploy'));
      assert.equal(deploys.length, 2);
      assert.match(deploys[0]!, /^gcloud functions deploy trib-a-ingest --gen2 --region=europe-west1 .*--entry-point=tributaryIngestPush --source=gs:\/\/proj-trib-a-src\/ingest-abc123\.zip/);
      assert.match(deploys[1]!, /^gcloud functions deploy trib-b-ingest .*--entry-point=tributaryIngest --source=gs:\/\/proj-trib-b-src\/ingest-abc123\.zip/);
      const bad = run(script.replace('trib-a-ingest:proj-trib-a-src:tributaryIngestPush', 'trib-a-ingest:proj-trib-a-src'));
      assert.notEqual(bad.status, 0, 'an incomplete entry fails the build');
      assert.match(bad.stderr, /is not function:source_bucket:entry_point/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('tags the image with the commit and deploys the API by digest', () => {
    assert.match(yaml, /--tag=\$\{_REGION\}-docker\.pkg\.dev\/\$\{PROJECT_ID\}\/\$\{_REPOSITORY\}\/\$\{_IMAGE\}:\$\{COMMIT_SHA\}/);
    assert.match(yaml, /gcloud run deploy "\$\{_SERVICE\}" .*--image="\$\$image@\$\$digest"/);
  });

  it('escapes shell variables ($$name) so Cloud Build does not take them for substitutions', () => {
    const scripts = yaml.split('\n').filter((l) => /^ {8}\S/.test(l)).join('\n');
    const bare = [...scripts.matchAll(/(?<!\$)\$([a-z_][a-z0-9_]*)/g)].map((m) => m[1]);
    assert.deepEqual(bare, [], `unescaped shell variables: ${bare.join(', ')}`);
  });

  it('deploys with the entry points of the runtime contract (infra/environments/example/locals.tf)', () => {
    const entryPoints = (env.locals.runtime as Block).entry_points as Block;
    assert.match(substitution('_FUNCTIONS')!, new RegExp(`:${String(entryPoints.push)}$`));
    assert.match(yaml, new RegExp(`tributaryIngestPush for push delivery .*\\n.*${String(entryPoints.cloudevent)} for an Eventarc trigger`));
  });

  it('sends logs to Cloud Logging only (required with a user-managed service account)', () => {
    assert.match(yaml, /^ {2}logging: CLOUD_LOGGING_ONLY$/m);
  });
});

describe('docs/deploy.md', () => {
  it('names only Terraform outputs that exist', () => {
    const used = [...deploy.matchAll(/output (?:-raw |-json )?([a-z_]+)/g)].map((m) => m[1]!);
    assert.ok(used.length >= 3);
    for (const o of used) assert.ok(env.outputs[o], `docs/deploy.md uses terraform output ${o}, which does not exist`);
  });

  it('lists every build step', () => {
    for (const id of stepIds()) assert.ok(deploy.includes(`\`${id}\``), `docs/deploy.md does not mention step ${id}`);
  });
});
