# Enables the APIs Tributary uses and exposes the project's number and the
# Pub/Sub service agent, which other modules grant narrowly scoped roles to.

resource "google_project_service" "this" {
  for_each = toset(var.services)
  project  = var.project_id
  service  = each.value
  # Leave APIs on when this configuration is destroyed: other workloads in the
  # project may depend on them.
  disable_on_destroy         = false
  disable_dependent_services = false
}

data "google_project" "this" {
  project_id = var.project_id
  depends_on = [google_project_service.this]
}
