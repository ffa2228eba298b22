# The runtime contract between this configuration and the application code, in one
# place: the function's entry point and the environment variables that select the
# Google Cloud mode. If the code renames any of them, change them here only
# (cloudbuild.yaml's _ENTRY_POINT default must match entry_point).

locals {
  runtime = {
    # Functions Framework target: the CloudEvent function registered by the module
    # package.json's "main" points at.
    entry_point = "ingestPubSub"
    env_names = {
      mode    = "TRIBUTARY_MODE"
      project = "GOOGLE_CLOUD_PROJECT"
      dataset = "TRIBUTARY_BQ_DATASET"
      stream  = "TRIBUTARY_STREAM"
      # The API publishes to "<prefix><stream>" (the stream module's topic name).
      topic_prefix = "TRIBUTARY_PUBSUB_TOPIC_PREFIX"
      # "true" when Cloud Run IAM authenticates callers (api.exposure = "iam"); the
      # app refuses to serve on 0.0.0.0 without API keys otherwise (docs/auth.md).
      allow_unauthenticated = "TRIBUTARY_ALLOW_UNAUTHENTICATED"
    }
    mode = "gcp"
  }

  common_env = {
    (local.runtime.env_names.mode)    = local.runtime.mode
    (local.runtime.env_names.project) = var.project_id
    (local.runtime.env_names.dataset) = module.dataset.dataset_id
  }

  # Per stream: the ingest function's environment.
  function_env = {
    for name in keys(var.streams) : name => merge(var.extra_env, local.common_env, {
      (local.runtime.env_names.stream) = name
    })
  }

  # The API serves every stream of the dataset; it binds 0.0.0.0 via the image.
  api_env = merge(var.extra_env, local.common_env, {
    (local.runtime.env_names.topic_prefix)          = "${var.prefix}-"
    (local.runtime.env_names.allow_unauthenticated) = var.api.exposure == "iam" ? "true" : "false"
  })

  # Repository layout: schemas exported by `tributary schema export --format
  # bigquery --out infra/schemas`, stream definitions in streams/.
  schemas_dir = "${path.module}/../../schemas"
  streams_dir = "${path.module}/../../../streams"

  labels = merge(var.labels, { app = "tributary", prefix = var.prefix })
}
