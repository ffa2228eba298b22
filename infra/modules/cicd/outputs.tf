output "trigger_id" {
  description = "Cloud Build trigger ID."
  value       = google_cloudbuild_trigger.this.trigger_id
}

output "service_account_email" {
  description = "Service account the builds run as."
  value       = google_service_account.this.email
}
