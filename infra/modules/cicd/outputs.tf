output "trigger_id" {
  description = "Cloud Build trigger ID."
  value       = google_cloudbuild_trigger.this.trigger_id
}

output "service_account_email" {
  description = "Service account the builds run as."
  # Built from arguments (known at plan time) rather than the computed `email`, so
  # callers can use it in for_each (e.g. the API's invokers) on the first apply.
  value = "${google_service_account.this.account_id}@${google_service_account.this.project}.iam.gserviceaccount.com"
}
