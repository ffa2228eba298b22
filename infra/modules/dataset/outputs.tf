output "dataset_id" {
  description = "Dataset ID (without project)."
  value       = google_bigquery_dataset.this.dataset_id
}

output "id" {
  description = "Fully qualified dataset resource ID (projects/P/datasets/D)."
  value       = google_bigquery_dataset.this.id
}

output "location" {
  description = "Dataset location."
  value       = google_bigquery_dataset.this.location
}
