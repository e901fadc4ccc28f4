# A dataset, the import that follows each publication of its file, and the reimport key
# handed to the publishing pipeline.
variable "stores_version" {
  description = "Version of the published stores file; a new value runs a new import."
  type        = string
  default     = "2026-01-15"
}

resource "woosmap_dataset" "stores" {
  name = "Stores"
  url  = "https://data.example.com/stores.geojson"

  # Which key of each feature fills the dataset's title (changing it replaces the dataset).
  schema_mapping = [
    { schema_key = "title", data_key = "store_name" },
  ]
}

# Chained on the new dataset's id: in the apply that creates the dataset, the import adopts
# the first import Woosmap starts by itself, if any, instead of triggering a second one.
resource "woosmap_dataset_import" "stores" {
  dataset_id = woosmap_dataset.stores.id
  triggers   = { version = var.stores_version }
}

output "stores_dataset_id" {
  value = woosmap_dataset.stores.id
}

output "stores_reimport_key" {
  value     = woosmap_dataset.stores.reimport_key
  sensitive = true
}
