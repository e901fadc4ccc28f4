data "woosmap_dataset" "stores" {
  id = "6f1d3c2a-8b4e-4f7a-9c1d-2e5b8a7f0c13"

  # Stop the plan when the dataset is about to be deleted.
  lifecycle {
    postcondition {
      condition     = self.scheduled_for_deletion_after == null
      error_message = "Dataset ${self.name} is scheduled for deletion after ${self.scheduled_for_deletion_after}."
    }
  }
}

output "stores_source_url" {
  value = data.woosmap_dataset.stores.url
}
