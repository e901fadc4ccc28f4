data "woosmap_dataset_status" "stores" {
  dataset_id = "6f1d3c2a-8b4e-4f7a-9c1d-2e5b8a7f0c13"

  # Stop the plan when the dataset's latest import failed.
  lifecycle {
    postcondition {
      condition     = self.status != "failed"
      error_message = "The latest import of the stores dataset (run ${self.run_id}) failed."
    }
  }
}

output "stores_latest_run" {
  value = {
    run_id      = data.woosmap_dataset_status.stores.run_id
    status      = data.woosmap_dataset_status.stores.status
    started_at  = data.woosmap_dataset_status.stores.started_at
    finished_at = data.woosmap_dataset_status.stores.finished_at
  }
}

# The error entries the run logged, as "step: detail" lines.
output "stores_import_errors" {
  value = flatten([
    for step in data.woosmap_dataset_status.stores.steps : [
      for entry in step.entries : "${step.name}: ${entry.detail}" if entry.level == "error"
    ]
  ])
}
