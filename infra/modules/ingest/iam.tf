# Every grant is on the narrowest resource that supports it.

# --- runtime identity ----------------------------------------------------------

# Write rows into the stream's tables: dataset-level, not project-level.
resource "google_bigquery_dataset_iam_member" "runtime_data_editor" {
  project    = var.project_id
  dataset_id = var.dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = google_service_account.runtime.member
}

# Run BigQuery jobs (queries, loads). BigQuery jobs belong to a project, not to
# a dataset, so roles/bigquery.jobUser can only be granted at project level; it
# gives no access to data by itself.
resource "google_project_iam_member" "runtime_job_user" {
  project = var.project_id
  role    = "roles/bigquery.jobUser"
  member  = google_service_account.runtime.member
}

# --- push invoker ----------------------------------------------------------------

# A gen2 function runs as a Cloud Run service with the same name; invoking it
# requires roles/run.invoker on that service. Only the push identity (the
# push subscription's OIDC identity, or the Eventarc trigger's identity) gets
# it: the function is not publicly invokable (no allUsers/allAuthenticatedUsers
# binding exists anywhere in this module; test/infra checks that).
resource "google_cloud_run_v2_service_iam_member" "push_invoker" {
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.this.name
  role     = "roles/run.invoker"
  member   = google_service_account.push.member
}

# Pub/Sub mints the push request's OIDC token for the push identity. Projects
# created before 2021-04-08 need this grant explicitly; it is scoped to this one
# service account.
resource "google_service_account_iam_member" "agent_push_token_creator" {
  service_account_id = google_service_account.push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = var.pubsub_service_agent
}

# --- Pub/Sub service agent: dead lettering ---------------------------------------

# Forward undeliverable messages to the dead-letter topic (this topic only).
resource "google_pubsub_topic_iam_member" "agent_dead_letter_publisher" {
  project = var.project_id
  topic   = var.dead_letter_topic_id
  role    = "roles/pubsub.publisher"
  member  = var.pubsub_service_agent
}

# Acknowledge the forwarded messages on the source subscription (this
# subscription only).
resource "google_pubsub_subscription_iam_member" "agent_subscriber" {
  count        = local.push ? 1 : 0
  project      = var.project_id
  subscription = google_pubsub_subscription.ingest[0].name
  role         = "roles/pubsub.subscriber"
  member       = var.pubsub_service_agent
}

# --- build identity ----------------------------------------------------------------

# Cloud Build writes build logs. Log writing is granted on the project (log
# buckets are not a grantable resource for this role's use by Cloud Build).
resource "google_project_iam_member" "build_log_writer" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = google_service_account.build.member
}

# Read the source zip from this function's bucket only.
resource "google_storage_bucket_iam_member" "build_source_reader" {
  bucket = google_storage_bucket.source.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.build.member
}

# Push the built image to our repository only (when one is given; otherwise the
# default gcf-artifacts repository and its default permissions are used).
resource "google_artifact_registry_repository_iam_member" "build_writer" {
  for_each   = local.registry == null ? {} : { repository = local.registry }
  project    = each.value.project
  location   = each.value.location
  repository = each.value.name
  role       = "roles/artifactregistry.writer"
  member     = google_service_account.build.member
}
