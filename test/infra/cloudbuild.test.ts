/**
 * cloudbuild.yaml has the named steps issue 5 lists, in order, deploys the API by
 * digest, and agrees with the Terraform on the runtime contract; docs/deploy.md only
 * names Terraform outputs and build steps that exist. (check.sh validates the file
 * against the Cloud Build schema with check-jsonschema.)
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
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

  it('has substitutions for region, service and repository, which the trigger also sets', () => {
    for (const k of ['_REGION', '_SERVICE', '_REPOSITORY', '_FUNCTION', '_ENTRY_POINT', '_SOURCE_BUCKET']) assert.ok(substitution(k), `no ${k}`);
    const trigger = cicd.resources.google_cloudbuild_trigger!.this!;
    for (const k of ['_REGION', '_REPOSITORY', '_SERVICE']) assert.ok(String(trigger.substitutions).includes(`${k} `) || String(trigger.substitutions).includes(k), `trigger does not set ${k}`);
    const envSubs = JSON.stringify((env.modules.cicd as Block).substitutions);
    for (const k of ['_ENTRY_POINT', '_FUNCTION', '_SOURCE_BUCKET']) assert.ok(envSubs.includes(k), `the example environment does not set ${k}`);
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

  it('uses the entry point of the runtime contract (infra/environments/example/locals.tf)', () => {
    assert.equal(substitution('_ENTRY_POINT'), (env.locals.runtime as Block).entry_point);
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
