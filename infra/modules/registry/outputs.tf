output "id" {
  description = "Repository ID (projects/P/locations/L/repositories/R)."
  # Built from arguments (known at plan time) rather than the computed `id`, so
  # callers can use it in conditions and for_each on the first apply.
  value = "projects/${google_artifact_registry_repository.this.project}/locations/${google_artifact_registry_repository.this.location}/repositories/${google_artifact_registry_repository.this.repository_id}"
}

output "name" {
  description = "Repository name (repository_id)."
  value       = google_artifact_registry_repository.this.repository_id
}

output "location" {
  description = "Repository location."
  value       = google_artifact_registry_repository.this.location
}

output "url" {
  description = "Docker image prefix: LOCATION-docker.pkg.dev/PROJECT/REPO."
  value       = "${google_artifact_registry_repository.this.location}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.this.repository_id}"
}
