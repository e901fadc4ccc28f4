# A self-contained demo against the local sandbox (woosmap-sandbox), which accepts any dataset
# id. The provider block is empty: the key and the API root come from the environment. Start
# the sandbox with short windows and tell the provider about them:
#
#   woosmap-sandbox --listen 127.0.0.1:8787 --trigger-window 10s --status-window 1s \
#     --import-duration 5s &
#   export WOOSMAP_PRIVATE_KEY=sandbox-private-key WOOSMAP_BASE_URL=http://127.0.0.1:8787
#   export WOOSMAP_TRIGGER_INTERVAL=10s WOOSMAP_STATUS_INTERVAL=1s
#
# then `terraform apply`; apply again with -var catalog_version=2 to run new imports in place.

terraform {
  required_providers {
    woosmap = {
      source = "woosmap/woosmap"
    }
  }
}

provider "woosmap" {}

variable "catalog_version" {
  description = "Changing it runs new imports of both datasets."
  type        = string
  default     = "1"
}

resource "woosmap_dataset_import" "stores" {
  dataset_id    = "0d4b6a8e-3c21-4f9b-a7e5-1b2c3d4e5f60"
  triggers      = { version = var.catalog_version }
  poll_interval = "1s"

  timeouts {
    create = "5m"
    update = "5m"
  }
}

resource "woosmap_dataset_import" "pois" {
  dataset_id    = "7a9c1e3f-5b2d-4e60-8f14-a2b3c4d5e6f7"
  triggers      = { version = var.catalog_version }
  poll_interval = "1s"
}

# Read after the imports above (it references a resource with changes).
data "woosmap_dataset_status" "stores" {
  dataset_id = woosmap_dataset_import.stores.dataset_id
}

output "stores_run_id" {
  value = woosmap_dataset_import.stores.run_id
}

output "stores_status" {
  value = woosmap_dataset_import.stores.status
}

output "pois_run_id" {
  value = woosmap_dataset_import.pois.run_id
}

output "pois_status" {
  value = woosmap_dataset_import.pois.status
}

output "stores_latest_run_id" {
  description = "What the status endpoint reports now: the same run as stores_run_id."
  value       = data.woosmap_dataset_status.stores.run_id
}

output "stores_steps" {
  value = [for s in woosmap_dataset_import.stores.steps : "${s.name}: ${s.status}"]
}
