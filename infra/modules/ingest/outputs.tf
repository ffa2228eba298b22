output "function_name" {
  description = "Function name (also the name of its Cloud Run service)."
  value       = google_cloudfunctions2_function.this.name
}

output "function_id" {
  description = "Function ID (projects/P/locations/L/functions/F)."
  value       = google_cloudfunctions2_function.this.id
}

output "entry_point" {
  description = "The function the deployment serves (entry_points.push or entry_points.cloudevent, by delivery.trigger); Cloud Build redeploys the function with it."
  value       = local.entry_point
}

output "function_uri" {
  description = "HTTPS endpoint of the function (only the push identity may invoke it)."
  value       = google_cloudfunctions2_function.this.service_config[0].uri
}

output "subscription_name" {
  description = "Push subscription that feeds the function; null in eventarc mode (Eventarc names its own subscription, which the provider does not expose)."
  value       = local.push ? google_pubsub_subscription.ingest[0].name : null
}

output "service_account_email" {
  description = "Runtime service account of the function."
  value       = google_service_account.runtime.email
}

output "build_service_account_email" {
  description = "Service account Cloud Build uses to build the function."
  value       = google_service_account.build.email
}

output "push_service_account_email" {
  description = "Identity in the push requests' OIDC tokens."
  value       = google_service_account.push.email
}

output "source_bucket" {
  description = "Bucket holding the function source zips."
  value       = google_storage_bucket.source.name
}
