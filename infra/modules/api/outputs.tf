output "service_name" {
  description = "Cloud Run service name."
  value       = google_cloud_run_v2_service.this.name
}

output "service_id" {
  description = "Cloud Run service ID (projects/P/locations/L/services/S)."
  value       = google_cloud_run_v2_service.this.id
}

output "url" {
  description = "HTTPS URL of the API."
  value       = google_cloud_run_v2_service.this.uri
}

output "service_account_email" {
  description = "Runtime service account of the API."
  value       = google_service_account.this.email
}

output "api_keys_secret_id" {
  description = "Secret Manager secret that holds the API keys; add a version with gcloud (the value is never in Terraform state); null unless exposure = \"public\"."
  value       = one(google_secret_manager_secret.api_keys[*].secret_id)
}
