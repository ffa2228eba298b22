# The Cloud Build service account's grants, each on the narrowest resource.

# Push images to the Tributary repository (and no other repository).
resource "google_artifact_registry_repository_iam_member" "writer" {
  project    = var.project_id
  location   = var.registry.location
  repository = var.registry.name
  role       = "roles/artifactregistry.writer"
  member     = google_service_account.this.member
}

# Deploy new revisions of the API service (this service only).
resource "google_cloud_run_v2_service_iam_member" "developer" {
  project  = var.project_id
  location = var.region
  name     = var.api_service_name
  role     = "roles/run.developer"
  member   = google_service_account.this.member
}

# Deploy new versions of each ingest function (these functions only).
resource "google_cloudfunctions2_function_iam_member" "developer" {
  for_each       = var.function_names
  project        = var.project_id
  location       = var.region
  cloud_function = each.value
  role           = "roles/cloudfunctions.developer"
  member         = google_service_account.this.member
}

# Upload function source zips to each ingest function's source bucket. Deploying
# from gs:// avoids `gcloud functions deploy --source=.`, whose upload URL is a
# project-level permission. objectCreator cannot overwrite or delete: each build
# writes a new object named after its commit.
resource "google_storage_bucket_iam_member" "source_uploader" {
  for_each = var.source_buckets
  bucket   = each.value
  role     = "roles/storage.objectCreator"
  member   = google_service_account.this.member
}

# Deploying a service or function that runs as a service account requires
# iam.serviceAccounts.actAs on that account: granted per account, not on the
# project, so the build cannot impersonate anything else.
resource "google_service_account_iam_member" "act_as" {
  for_each           = var.runtime_service_accounts
  service_account_id = "projects/${var.project_id}/serviceAccounts/${each.value}"
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.this.member
}

# Write build logs to Cloud Logging. Log entries are written to the project, so
# this role is granted at project level; it allows writing logs only.
resource "google_project_iam_member" "log_writer" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = google_service_account.this.member
}
