# Run with `terraform query` (Terraform 1.14+); add -generate-config-out=generated.tf to write
# a `resource` and an `import` block for each dataset.
list "woosmap_dataset" "all" {
  provider = woosmap
}
