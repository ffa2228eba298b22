output "api_url" {
  description = "HTTPS URL of the API."
  value       = module.api.url
}

output "topics" {
  description = "Stream => topic name to publish to (gcloud pubsub topics publish NAME)."
  value       = { for k, s in module.stream : k => s.topic_name }
}

output "dead_letter_topics" {
  description = "Stream => Pub/Sub dead-letter topic name."
  value       = { for k, s in module.stream : k => s.dead_letter_topic_name }
}

output "tables" {
  description = "Stream => BigQuery table and dead-letter table (project.dataset.table)."
  value = {
    for k, s in module.stream : k => {
      table       = s.table_id
      dead_letter = s.dead_letter_table_id
    }
  }
}

output "functions" {
  description = "Stream => ingest function name."
  value       = { for k, m in module.ingest : k => m.function_name }
}

output "image_repository" {
  description = "Docker image prefix for the API image."
  value       = module.registry.url
}

output "api_keys_secret" {
  description = "Secret Manager secret to add API keys to (null unless api.exposure = \"public\")."
  value       = module.api.api_keys_secret_id
}

output "cloudbuild_service_account" {
  description = "Service account the Cloud Build trigger runs as."
  value       = module.cicd.service_account_email
}

output "function_source_buckets" {
  description = "Stream => bucket of its ingest function's source zips."
  value       = { for k, m in module.ingest : k => m.source_bucket }
}

output "cloudbuild_functions" {
  description = "cloudbuild.yaml's _FUNCTIONS: the ingest functions the build redeploys, \"function:source_bucket:entry_point\" per stream (the trigger sets it; pass it to a manual gcloud builds submit)."
  value       = local.cloudbuild_functions
}
