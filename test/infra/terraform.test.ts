/**
 * Properties issue 5 asks of the Terraform, read from the HCL itself (no provider, no
 * network): dead-letter policy with max delivery attempts, retry policy, no public
 * invoker on ingest, BigQuery access on the dataset (never project-wide), deletion
 * protection, partition filter, typed and validated variables, pinned providers.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { ROOT } from '../helpers.js';
import { type Block, type Config, block, commentAbove, loadAll, resourcesOf } from './hcl.js';

let all: Config[];
const byDir = (dir: string): Config => {
  const c = all.find((x) => x.dir === dir);
  assert.ok(c, `${dir} is missing`);
  return c;
};
const str = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

before(async () => {
  all = await loadAll();
});

describe('layout', () => {
  it('has a module per logical entity and an example environment', () => {
    for (const m of ['project', 'registry', 'dataset', 'stream', 'ingest', 'api', 'cicd', 'observability']) {
      const c = byDir(`infra/modules/${m}`);
      for (const f of ['main.tf', 'variables.tf', 'outputs.tf', 'versions.tf']) assert.ok(c.files[f], `${c.dir}/${f} is missing`);
    }
    const env = byDir('infra/environments/example');
    for (const f of ['terraform.tfvars.example', 'backend.tf.example']) {
      assert.ok(existsSync(join(ROOT, env.dir, f)), `${env.dir}/${f} is missing`);
    }
    for (const o of ['api_url', 'topics', 'tables']) assert.ok(env.outputs[o], `example environment lacks output ${o}`);
  });

  it('the backend example is a GCS remote state', async () => {
    const text = await readFile(join(ROOT, 'infra/environments/example/backend.tf.example'), 'utf8');
    assert.match(text, /backend "gcs"\s*{/);
  });
});

describe('ingest delivery', () => {
  it('the push subscription has a dead-letter policy with max delivery attempts (default 10, validated 5-100)', () => {
    const ingest = byDir('infra/modules/ingest');
    const sub = ingest.resources.google_pubsub_subscription?.ingest;
    assert.ok(sub, 'google_pubsub_subscription.ingest is missing');
    const dlp = block(sub, 'dead_letter_policy');
    assert.ok(dlp, 'no dead_letter_policy on the ingest subscription');
    assert.equal(dlp.dead_letter_topic, '${var.dead_letter_topic_id}');
    assert.equal(dlp.max_delivery_attempts, '${var.delivery.max_delivery_attempts}');
    const delivery = ingest.variables.delivery!;
    assert.match(str(delivery.type), /max_delivery_attempts\s*=\s*optional\(number, 10\)/);
    const conds = (delivery.validation as Block[]).map((v) => str(v.condition)).join('\n');
    assert.match(conds, /max_delivery_attempts >= 5 && var\.delivery\.max_delivery_attempts <= 100/);
  });

  it('the push subscription retries with exponential backoff and authenticates with OIDC', () => {
    const sub = byDir('infra/modules/ingest').resources.google_pubsub_subscription!.ingest!;
    const retry = block(sub, 'retry_policy');
    assert.ok(retry?.minimum_backoff && retry.maximum_backoff, 'no retry_policy with backoff bounds');
    const push = block(sub, 'push_config');
    assert.ok(block(push, 'oidc_token')?.service_account_email, 'push requests carry no OIDC token');
  });

  it('the Eventarc trigger mode retries failed deliveries', () => {
    const fn = byDir('infra/modules/ingest').resources.google_cloudfunctions2_function!.this!;
    const trig = block(fn.dynamic as Block, 'event_trigger'); // `dynamic` is an object of lists
    const content = block(trig, 'content');
    assert.equal(content?.retry_policy, 'RETRY_POLICY_RETRY');
    assert.equal(content?.event_type, 'google.cloud.pubsub.topic.v1.messagePublished');
  });

  it('the stream has a dead-letter topic with a subscription that keeps its messages', () => {
    const stream = byDir('infra/modules/stream');
    assert.ok(stream.resources.google_pubsub_topic?.dead_letter);
    assert.equal(stream.resources.google_pubsub_subscription?.dead_letter?.topic, '${google_pubsub_topic.dead_letter.id}');
  });

  it('the function is gen2, Node.js 22, and its entry point (by delivery mode) comes from the one runtime contract', async () => {
    const ingest = byDir('infra/modules/ingest');
    const build = block(ingest.resources.google_cloudfunctions2_function!.this!, 'build_config')!;
    assert.equal(build.runtime, 'nodejs22');
    assert.equal(build.entry_point, '${local.entry_point}');
    assert.equal(ingest.locals.entry_point, '${local.push ? var.entry_points.push : var.entry_points.cloudevent}');
    const env = byDir('infra/environments/example');
    assert.deepEqual((env.locals.runtime as Block).entry_points, { push: 'tributaryIngestPush', cloudevent: 'tributaryIngest' });
    assert.equal(env.modules.ingest!.entry_points, '${local.runtime.entry_points}');
    // The names are the ones the function module registers.
    const entry = await readFile(join(ROOT, 'src', 'main', 'function.ts'), 'utf8');
    assert.match(entry, /registerPushFunction\('tributaryIngestPush'/);
    assert.match(entry, /registerIngestFunction\('tributaryIngest'/);
  });
});

describe('least privilege', () => {
  const PUBLIC = /allUsers|allAuthenticatedUsers/;

  it('nothing in the ingest module is public: invokers are the push identity only', () => {
    const ingest = byDir('infra/modules/ingest');
    assert.doesNotMatch(ingest.text.replace(/^\s*#.*$/gm, ''), PUBLIC);
    const invokers = Object.values(ingest.resources).flatMap((byName) => Object.values(byName)).filter((b) => /invoker/.test(str(b.role)));
    assert.ok(invokers.length > 0);
    for (const b of invokers) assert.equal(b.member, '${google_service_account.push.member}', `invoker granted to ${str(b.member)}`);
    assert.equal(ingest.resources.google_cloudfunctions2_function_iam_member, undefined);
    const fnType = str(ingest.variables.function!.validation);
    assert.match(fnType, /contains\(\[\\?"ALLOW_INTERNAL_ONLY\\?", \\?"ALLOW_INTERNAL_AND_GCLB\\?"\]/, 'ingest ingress may be ALLOW_ALL');
  });

  it('only the API can be public, and only when exposure = "public"', () => {
    for (const c of all) {
      if (c.dir === 'infra/modules/api') continue;
      assert.doesNotMatch(c.text.replace(/^\s*#.*$/gm, ''), PUBLIC, `${c.dir} grants to the public`);
    }
    const api = byDir('infra/modules/api');
    assert.match(str(api.locals.invokers), /local\.public \? \["allUsers"\] : var\.invokers/);
    assert.match(str(api.variables.exposure!.default), /^iam$/);
  });

  it('BigQuery data roles are granted on the dataset, never on the project', () => {
    const dataGrants = resourcesOf(all, 'google_bigquery_dataset_iam_member');
    assert.ok(dataGrants.length >= 2, 'expected dataset-level grants for the ingest and the API');
    for (const g of dataGrants) assert.match(str(g.body.role), /^roles\/bigquery\.data(Editor|Viewer)$/);
    for (const type of ['google_project_iam_member', 'google_project_iam_binding', 'google_project_iam_policy']) {
      for (const g of resourcesOf(all, type)) assert.doesNotMatch(str(g.body.role), /bigquery\.data|owner|editor|admin/i, `${g.dir}: project-wide ${str(g.body.role)}`);
    }
  });

  it('every project-level grant is one GCP requires, with a comment saying why', () => {
    const allowed = new Set(['roles/bigquery.jobUser', 'roles/logging.logWriter']);
    const grants = resourcesOf(all, 'google_project_iam_member');
    assert.equal(resourcesOf(all, 'google_project_iam_binding').length + resourcesOf(all, 'google_project_iam_policy').length, 0, 'authoritative project IAM');
    for (const g of grants) {
      assert.ok(allowed.has(str(g.body.role)), `${g.dir}: unexpected project-level ${str(g.body.role)}`);
      const why = commentAbove(byDir(g.dir), 'google_project_iam_member', g.name);
      assert.match(why, /project/i, `${g.dir}: google_project_iam_member.${g.name} needs a comment saying why it is project-level`);
    }
  });

  it('the Pub/Sub service agent publishes to the dead-letter topic only', () => {
    const ingest = byDir('infra/modules/ingest');
    const agent = Object.entries(ingest.resources).flatMap(([type, byName]) =>
      Object.entries(byName).filter(([, b]) => b.member === '${var.pubsub_service_agent}').map(([name, b]) => ({ type, name, b })),
    );
    const publish = agent.filter((a) => a.b.role === 'roles/pubsub.publisher');
    assert.equal(publish.length, 1);
    assert.equal(publish[0]!.type, 'google_pubsub_topic_iam_member');
    assert.equal(publish[0]!.b.topic, '${var.dead_letter_topic_id}');
    // Besides publishing dead letters, Pub/Sub requires the agent to acknowledge them on
    // the source subscription and to mint the push OIDC token; nothing else, and
    // nothing on the project.
    const rest = agent.filter((a) => a !== publish[0]).map((a) => `${a.type}:${str(a.b.role)}`).sort();
    assert.deepEqual(rest, [
      'google_pubsub_subscription_iam_member:roles/pubsub.subscriber',
      'google_service_account_iam_member:roles/iam.serviceAccountTokenCreator',
    ]);
  });

  it('one service account per service', () => {
    const accounts = resourcesOf(all, 'google_service_account').map((a) => `${a.dir}:${a.name}`).sort();
    assert.deepEqual(accounts, [
      'infra/modules/api:this',
      'infra/modules/cicd:this',
      'infra/modules/ingest:build',
      'infra/modules/ingest:push',
      'infra/modules/ingest:runtime',
    ]);
  });
});

describe('BigQuery tables', () => {
  for (const name of ['messages', 'dead_letters']) {
    it(`${name}: day-partitioned on publish_time, partition filter required, clustered, deletion-protected`, () => {
      const stream = byDir('infra/modules/stream');
      const t = stream.resources.google_bigquery_table?.[name];
      assert.ok(t);
      assert.equal(t.require_partition_filter, true);
      const part = block(t, 'time_partitioning');
      assert.equal(part?.type, 'DAY');
      assert.equal(part?.field, 'publish_time');
      assert.ok(t.clustering, 'not clustered');
      assert.equal(t.deletion_protection, '${var.deletion_protection}');
      assert.equal(stream.variables.deletion_protection!.default, true);
      assert.match(str(t.schema), /^\$\{jsonencode\(local\.(dead_letter_)?schema\)\}$/);
    });
  }

  it('schemas are read with file()/jsondecode from infra/schemas (tributary schema export output)', () => {
    const stream = byDir('infra/modules/stream');
    assert.equal(stream.locals.schema, '${jsondecode(file(var.schema_file))}');
    assert.equal(stream.locals.dead_letter_schema, '${jsondecode(file(var.dead_letter_schema_file))}');
    const env = byDir('infra/environments/example');
    assert.equal(env.modules.stream!.schema_file, '${local.schemas_dir}/${each.key}.json');
    assert.equal(env.locals.schemas_dir, '${path.module}/../../schemas');
  });

  it('the example environment keeps deletion protection on by default', () => {
    const env = byDir('infra/environments/example');
    assert.equal(env.variables.deletion_protection!.default, true);
    assert.equal(byDir('infra/modules/dataset').variables.delete_contents_on_destroy!.default, false);
  });
});

describe('other resources the issue names', () => {
  it('Artifact Registry has a cleanup policy; the source bucket has uniform access and public access prevention', () => {
    const repo = byDir('infra/modules/registry').resources.google_artifact_registry_repository!.this!;
    assert.ok(Array.isArray(repo.cleanup_policies) && repo.cleanup_policies.length >= 2);
    const bucket = byDir('infra/modules/ingest').resources.google_storage_bucket!.source!;
    assert.equal(bucket.uniform_bucket_level_access, true);
    assert.equal(bucket.public_access_prevention, 'enforced');
  });

  it('Cloud Run v2 for the API, a Cloud Build trigger, and the APIs to enable', () => {
    assert.ok(byDir('infra/modules/api').resources.google_cloud_run_v2_service?.this);
    assert.ok(byDir('infra/modules/cicd').resources.google_cloudbuild_trigger?.this);
    const services = str(byDir('infra/modules/project').variables.services!.default);
    for (const s of ['run', 'cloudfunctions', 'cloudbuild', 'eventarc', 'pubsub', 'bigquery', 'artifactregistry', 'monitoring']) {
      assert.ok(services.includes(`${s}.googleapis.com`), `${s}.googleapis.com is not enabled`);
    }
  });

  it('observability: SLOs of the reference design, and alerts on dead letters, backlog age and API 5xx', () => {
    const obs = byDir('infra/modules/observability');
    const slo = str(obs.variables.slo!.type);
    assert.match(slo, /freshness_ms\s*=\s*optional\(number, 5000\)/);
    assert.match(slo, /freshness_goal\s*=\s*optional\(number, 0\.99\)/);
    assert.match(slo, /latency_ms\s*=\s*optional\(number, 500\)/);
    assert.match(slo, /latency_goal\s*=\s*optional\(number, 0\.95\)/);
    const alerts = obs.resources.google_monitoring_alert_policy ?? {};
    for (const a of ['freshness_burn', 'api_latency_burn', 'dead_letters', 'oldest_unacked', 'api_5xx']) assert.ok(alerts[a], `alert ${a} missing`);
    assert.match(obs.text, /subscription\/dead_letter_message_count/);
    assert.match(obs.text, /subscription\/oldest_unacked_message_age/);
    assert.match(obs.text, /response_code_class\\"=\\"5xx/);
    for (const a of Object.values(alerts)) assert.equal(a.notification_channels, '${local.channels}');
    assert.ok(obs.variables.notification, 'no notification channel variable');
  });
});

describe('house style', () => {
  it('every variable has a type and a description; required ones are nullable = false', () => {
    for (const c of all) {
      for (const [name, v] of Object.entries(c.variables)) {
        assert.ok(v.type, `${c.dir}: variable ${name} has no type`);
        assert.ok(typeof v.description === 'string' && v.description.length > 10, `${c.dir}: variable ${name} has no description`);
        if (v.default !== null) assert.equal(v.nullable, false, `${c.dir}: variable ${name} should be nullable = false`);
      }
    }
  });

  it('validation messages say how to fix the input', () => {
    let n = 0;
    for (const c of all) {
      for (const [name, v] of Object.entries(c.variables)) {
        for (const val of (v.validation ?? []) as Block[]) {
          n++;
          assert.match(str(val.error_message), /must|set|remove|pass|e\.g\.|such as/i, `${c.dir}: variable ${name}: the message should say what to do`);
        }
      }
    }
    assert.ok(n >= 20, `only ${n} validation blocks`);
  });

  it('every checkov skip says why, next to the resource', async () => {
    const texts = [...all.map((c) => c.text), await readFile(join(ROOT, 'Dockerfile'), 'utf8')];
    const skips = texts.flatMap((t) => [...t.matchAll(/checkov:skip=([A-Z0-9_]+)(.*)$/gm)]);
    assert.ok(skips.length > 0);
    for (const m of skips) assert.match(m[2]!, /^: \S.{20,}/, `checkov:skip=${m[1]} has no reason`);
  });

  it('names come from a prefix', () => {
    for (const m of ['registry', 'dataset', 'stream', 'ingest', 'api', 'cicd', 'observability']) {
      assert.ok(byDir(`infra/modules/${m}`).variables.prefix, `module ${m} has no prefix variable`);
    }
  });

  it('the provider is pinned: exactly in the environment, within one major version in the modules', () => {
    const pin = (c: Config): string => {
      const rp = block(c.terraform.find((t) => t.required_providers) as Block, 'required_providers');
      return str((rp?.google as Block | undefined)?.version);
    };
    assert.match(pin(byDir('infra/environments/example')), /^\d+\.\d+\.\d+$/);
    for (const c of all.filter((x) => x.dir.startsWith('infra/modules/'))) assert.match(pin(c), /^>= 8\.\d+\.\d+, < 9\.0\.0$/, c.dir);
  });
});
