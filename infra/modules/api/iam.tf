# Every grant is on the narrowest resource that supports it.

# Read stream tables: dataset-level, not project-level.
resource "google_bigquery_dataset_iam_member" "data_viewer" {
  project    = var.project_id
  dataset_id = var.dataset_id
  role       = "roles/bigquery.dataViewer"
  member     = google_service_account.this.member
}

# Queries run as BigQuery jobs, which belong to a project rather than a
# dataset: roles/bigquery.jobUser can only be granted at project level. It gives
# no data access by itself; data access comes from the dataset grant above.
resource "google_project_iam_member" "job_user" {
  project = var.project_id
  role    = "roles/bigquery.jobUser"
  member  = google_service_account.this.member
}

# The API can publish to each stream's topic (and to nothing else).
resource "google_pubsub_topic_iam_member" "publisher" {
  for_each = var.topic_ids
  project  = var.project_id
  topic    = each.value
  role     = "roles/pubsub.publisher"
  member   = google_service_account.this.member
}

# Read the API keys (this secret only).
resource "google_secret_manager_secret_iam_member" "api_keys_accessor" {
  for_each  = { for s in google_secret_manager_secret.api_keys : "api_keys" => s.secret_id }
  project   = var.project_id
  secret_id = each.value
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.this.member
}

# Who may call the API. exposure = "public" opens it to allUsers on purpose:
# the app then requires an API key (var.api_keys_env) on every request.
resource "google_cloud_run_v2_service_iam_member" "invoker" {
  for_each = toset(local.invokers)
  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.this.name
  role     = "roles/run.invoker"
  member   = each.value
}
