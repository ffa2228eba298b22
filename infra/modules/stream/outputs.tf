output "name" {
  description = "Stream name."
  value       = var.name
}

output "topic_id" {
  description = "Source topic ID (projects/P/topics/T)."
  value       = google_pubsub_topic.this.id
}

output "topic_name" {
  description = "Source topic name."
  value       = google_pubsub_topic.this.name
}

output "dead_letter_topic_id" {
  description = "Dead-letter topic ID (projects/P/topics/T)."
  value       = google_pubsub_topic.dead_letter.id
}

output "dead_letter_topic_name" {
  description = "Dead-letter topic name."
  value       = google_pubsub_topic.dead_letter.name
}

output "dead_letter_subscription_name" {
  description = "Pull subscription that keeps dead-lettered messages."
  value       = google_pubsub_subscription.dead_letter.name
}

output "table_id" {
  description = "Stream table as project.dataset.table."
  value       = "${google_bigquery_table.messages.project}.${google_bigquery_table.messages.dataset_id}.${google_bigquery_table.messages.table_id}"
}

output "dead_letter_table_id" {
  description = "Dead-letter table as project.dataset.table."
  value       = "${google_bigquery_table.dead_letters.project}.${google_bigquery_table.dead_letters.dataset_id}.${google_bigquery_table.dead_letters.table_id}"
}
