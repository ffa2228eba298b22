# The runtime contract between this configuration and the application code, in one
# place: the function's entry points and the environment variables that select the
# Google Cloud mode (src/core/config.ts, docs/configuration.md, docs/google-cloud.md).
# If the code renames any of them, change them here only (cloudbuild.yaml's
# _FUNCTIONS default must use entry_points.push; test/infra checks it).

locals {
  runtime = {
    # Functions Framework targets registered by dist/src/main/function.js,
    # package.json's "main": the HTTP function for push delivery (the default)
    # and the CloudEvent function for an Eventarc trigger.
    entry_points = {
      push       = "tributaryIngestPush"
      cloudevent = "tributaryIngest"
    }
    env_names = {
      mode    = "TRIBUTARY_MODE"
      project = "TRIBUTARY_GCP_PROJECT"
      # The BigQuery location (jobs run there): the dataset's location.
      bigquery_location = "TRIBUTARY_GCP_REGION"
      dataset           = "TRIBUTARY_BIGQUERY_DATASET"
      # Topic of a stream = prefix + stream name (the stream module's topic name):
      # the API publishes there, the function finds its stream from it.
      topic_prefix = "TRIBUTARY_PUBSUB_TOPIC_PREFIX"
      # "true" when Cloud Run IAM authenticates callers (api.exposure = "iam"); the
      # app refuses to serve on 0.0.0.0 without API keys otherwise (docs/auth.md).
      allow_unauthenticated = "TRIBUTARY_ALLOW_UNAUTHENTICATED"
    }
    mode = "gcp"
  }

  common_env = {
    (local.runtime.env_names.mode)              = local.runtime.mode
    (local.runtime.env_names.project)           = var.project_id
    (local.runtime.env_names.bigquery_location) = var.bigquery_location
    (local.runtime.env_names.dataset)           = module.dataset.dataset_id
    (local.runtime.env_names.topic_prefix)      = "${var.prefix}-"
  }

  # Per stream: the ingest function's environment (the function finds its stream
  # from the topic name, so every stream gets the same settings).
  function_env = {
    for name in keys(var.streams) : name => merge(var.extra_env, local.common_env)
  }

  # The API serves every stream of the dataset; it binds 0.0.0.0 via the image.
  api_env = merge(var.extra_env, local.common_env, {
    (local.runtime.env_names.allow_unauthenticated) = var.api.exposure == "iam" ? "true" : "false"
  })

  # Repository layout: schemas exported by `tributary schema export --format
  # bigquery --out infra/schemas`, stream definitions in streams/.
  schemas_dir = "${path.module}/../../schemas"
  streams_dir = "${path.module}/../../../streams"

  # cloudbuild.yaml's _FUNCTIONS: one "function:source_bucket:entry_point" per
  # stream, space separated; the build redeploys each function with its entry point.
  cloudbuild_functions = join(" ", [for k, m in module.ingest : "${m.function_name}:${m.source_bucket}:${m.entry_point}"])

  labels = merge(var.labels, { app = "tributary", prefix = var.prefix })
}
