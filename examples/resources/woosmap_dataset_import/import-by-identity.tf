# Terraform 1.12+: adopt the latest run of a dataset by the resource's identity (its dataset
# id, in canonical form). Importing never triggers an import.
import {
  to       = woosmap_dataset_import.stores
  identity = { dataset_id = "6f1d3c2a-8b4e-4f7a-9c1d-2e5b8a7f0c13" }
}
