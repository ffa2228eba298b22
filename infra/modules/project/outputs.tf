output "project_id" {
  description = "Project ID, available once the APIs are enabled (use it to order dependent resources)."
  value       = var.project_id
  depends_on  = [google_project_service.this]
}

output "number" {
  description = "Project number."
  value       = data.google_project.this.number
}

output "pubsub_service_agent" {
  description = "IAM member string of the Pub/Sub service agent (forwards dead letters, mints push OIDC tokens)."
  value       = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

output "services" {
  description = "APIs enabled by this module."
  value       = sort(keys(google_project_service.this))
}
