# Example environment: one project, the streams in var.streams, their ingest
# functions, the API, the image registry, the Cloud Build trigger and monitoring.
# docs/deploy.md walks through it from an empty project.

module "project" {
  source     = "../../modules/project"
  project_id = var.project_id
}

module "registry" {
  source     = "../../modules/registry"
  project_id = module.project.project_id
  location   = var.region
  prefix     = var.prefix
  labels     = local.labels
}

module "dataset" {
  source                     = "../../modules/dataset"
  project_id                 = module.project.project_id
  prefix                     = var.prefix
  location                   = var.bigquery_location
  delete_contents_on_destroy = !var.deletion_protection
  labels                     = local.labels
}

module "stream" {
  source                  = "../../modules/stream"
  for_each                = var.streams
  project_id              = module.project.project_id
  prefix                  = var.prefix
  name                    = each.key
  dataset_id              = module.dataset.dataset_id
  schema_file             = "${local.schemas_dir}/${each.key}.json"
  dead_letter_schema_file = "${local.schemas_dir}/${each.key}_dead_letters.json"
  # Clustering comes from the stream definition unless overridden here.
  clustering          = coalesce(each.value.clustering, try(jsondecode(file("${local.streams_dir}/${each.key}.json")).clustering, []))
  retention           = each.value.retention
  deletion_protection = var.deletion_protection
  labels              = local.labels
}

module "ingest" {
  source                = "../../modules/ingest"
  for_each              = var.streams
  project_id            = module.project.project_id
  region                = var.region
  prefix                = var.prefix
  stream                = each.key
  topic_id              = module.stream[each.key].topic_id
  dead_letter_topic_id  = module.stream[each.key].dead_letter_topic_id
  dataset_id            = module.dataset.dataset_id
  pubsub_service_agent  = module.project.pubsub_service_agent
  source_zip            = var.function_source_zip
  docker_repository     = module.registry.id
  entry_points          = local.runtime.entry_points
  environment_variables = local.function_env[each.key]
  function              = each.value.function
  delivery              = each.value.delivery
  deletion_protection   = var.deletion_protection
  labels                = local.labels
}

module "api" {
  source                = "../../modules/api"
  project_id            = module.project.project_id
  region                = var.region
  prefix                = var.prefix
  image                 = var.api.image
  dataset_id            = module.dataset.dataset_id
  topic_ids             = { for k, s in module.stream : k => s.topic_id }
  exposure              = var.api.exposure
  invokers              = concat(var.api.invokers, ["serviceAccount:${module.cicd.service_account_email}"])
  service               = var.api.service
  environment_variables = local.api_env
  deletion_protection   = var.deletion_protection
  labels                = local.labels
}

module "cicd" {
  source            = "../../modules/cicd"
  project_id        = module.project.project_id
  region            = var.region
  prefix            = var.prefix
  source_repository = var.cicd.source_repository
  registry = {
    location = module.registry.location
    name     = module.registry.name
  }
  api_service_name = module.api.service_name
  function_names   = { for k, m in module.ingest : k => m.function_name }
  source_buckets   = { for k, m in module.ingest : k => m.source_bucket }
  runtime_service_accounts = merge(
    { api = module.api.service_account_email },
    { for k, m in module.ingest : "${k}-runtime" => m.service_account_email },
    { for k, m in module.ingest : "${k}-build" => m.build_service_account_email },
  )
  # Every key must be used in cloudbuild.yaml: a trigger substitution the build
  # does not use fails the build (substitution checks MUST_MATCH).
  substitutions = {
    _FUNCTIONS = local.cloudbuild_functions
  }
}

module "observability" {
  source           = "../../modules/observability"
  project_id       = module.project.project_id
  prefix           = var.prefix
  notification     = var.notification
  api_service_name = module.api.service_name
  streams = {
    for k, m in module.ingest : k => {
      function_name     = m.function_name
      subscription_name = m.subscription_name
    }
  }
  labels = local.labels
}
