# The dataset's source URL is set on the dataset in Woosmap; here a pipeline publishes
# stores.json to that URL. Whenever the file (or the catalog version) changes, the next
# apply runs a new import and waits for Woosmap to finish it.
variable "stores_file" {
  description = "Path of the stores file that is published at the dataset's source URL."
  type        = string
  default     = "data/stores.json"
}

variable "catalog_version" {
  description = "Bump to re-import even when the file is unchanged."
  type        = string
  default     = "2024-06"
}

resource "woosmap_dataset_import" "stores" {
  dataset_id = "6f1d3c2a-8b4e-4f7a-9c1d-2e5b8a7f0c13"

  # Any change here runs a new import (an in-place update).
  triggers = {
    stores_md5 = filemd5(var.stores_file)
    version    = var.catalog_version
  }

  timeouts {
    create = "45m"
    update = "45m"
  }
}

# A second dataset triggered through its reimport webhook, without waiting for the result.
variable "pois_reimport_key" {
  description = "Reimport key of the points-of-interest dataset."
  type        = string
  sensitive   = true
  ephemeral   = true # kept out of plan files; reimport_key is write-only
}

resource "woosmap_dataset_import" "pois" {
  dataset_id   = "b27c9e41-0d5f-4a63-8e2b-7c4f1a9d6e58"
  reimport_key = var.pois_reimport_key
  wait         = false

  triggers = {
    version = var.catalog_version
  }
}

output "stores_import" {
  value = {
    run_id      = woosmap_dataset_import.stores.run_id
    status      = woosmap_dataset_import.stores.status
    finished_at = woosmap_dataset_import.stores.finished_at
  }
}
