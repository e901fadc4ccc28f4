# Terraform 1.12+: bring an existing dataset under Terraform by the resource's identity (its
# id). `terraform query` with the woosmap_dataset list resource writes such blocks for you.
import {
  to       = woosmap_dataset.stores
  identity = { id = "6f1d3c2a-8b4e-4f7a-9c1d-2e5b8a7f0c13" }
}
