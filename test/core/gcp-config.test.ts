/** The gcp-mode settings: defaults, environment names, and every missing or bad value reported at once. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/core/config.js';
import { isTributaryError } from '../../src/core/errors.js';

const GCP_ENV = {
  TRIBUTARY_MODE: 'gcp',
  GOOGLE_CLOUD_PROJECT: 'my-project',
  TRIBUTARY_GCP_REGION: 'europe-west1',
  TRIBUTARY_BIGQUERY_DATASET: 'tributary',
  TRIBUTARY_PUBSUB_TOPIC_PREFIX: 'tributary-',
};

describe('gcp configuration', () => {
  it('defaults to the embedded mode with no Google Cloud setting needed', () => {
    const { config } = parseConfig([], {});
    assert.equal(config.mode, 'embedded');
    assert.equal(config.gcpProject, undefined);
    assert.equal(config.bigqueryMaxBytesBilled, 10_000_000_000);
    assert.equal(config.bigqueryLookbackDays, 90);
    assert.equal(config.pubsubSubscriptionSuffix, '-worker');
  });

  it('reads the gcp settings and the emulator hosts from the environment', () => {
    const { config } = parseConfig([], { ...GCP_ENV, BIGQUERY_EMULATOR_HOST: 'http://127.0.0.1:9050/', PUBSUB_EMULATOR_HOST: '127.0.0.1:8085', TRIBUTARY_BIGQUERY_MAX_BYTES_BILLED: '1GiB' });
    assert.equal(config.mode, 'gcp');
    assert.equal(config.gcpProject, 'my-project');
    assert.equal(config.gcpRegion, 'europe-west1');
    assert.equal(config.bigqueryDataset, 'tributary');
    assert.equal(config.pubsubTopicPrefix, 'tributary-');
    assert.equal(config.bigqueryApiEndpoint, 'http://127.0.0.1:9050');
    assert.equal(config.pubsubEmulatorHost, '127.0.0.1:8085');
    assert.equal(config.bigqueryMaxBytesBilled, 1024 ** 3);
  });

  const bad: [string, string[], Record<string, string>, RegExp[]][] = [
    ['every missing required setting, at once', ['--mode', 'gcp'], {}, [/--gcp-project .* required/, /--gcp-region .* required/, /--bigquery-dataset .* required/, /--pubsub-topic-prefix .* required/]],
    ['an unknown mode', ['--mode', 'aws'], {}, [/--mode: expected one of embedded, gcp/]],
    ['a dataset name that is not an identifier', [], { ...GCP_ENV, TRIBUTARY_BIGQUERY_DATASET: 'a.b`; DROP' }, [/TRIBUTARY_BIGQUERY_DATASET: expected a dataset name/]],
    ['an endpoint that is not a URL', [], { ...GCP_ENV, BIGQUERY_EMULATOR_HOST: '127.0.0.1:9050' }, [/BIGQUERY_EMULATOR_HOST: expected an http\(s\) base URL/]],
    ['an emulator host without a port', [], { ...GCP_ENV, PUBSUB_EMULATOR_HOST: 'localhost' }, [/PUBSUB_EMULATOR_HOST: expected host:port/]],
    ['a bytes cap below 10 MiB', [], { ...GCP_ENV, TRIBUTARY_BIGQUERY_MAX_BYTES_BILLED: '1MB' }, [/TRIBUTARY_BIGQUERY_MAX_BYTES_BILLED: expected a size/]],
  ];
  for (const [name, argv, env, messages] of bad) {
    it(`refuses ${name}`, () => {
      assert.throws(
        () => parseConfig(argv, env),
        (err: unknown) => isTributaryError(err, 'INVALID_CONFIG') && messages.every((m) => m.test(err.message)),
      );
    });
  }
});
