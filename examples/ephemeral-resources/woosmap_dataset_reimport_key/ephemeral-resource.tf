# Read the dataset's reimport key during the run only: it is never written to a plan file or
# the state. Terraform opens the ephemeral resource at plan and again at apply.
ephemeral "woosmap_dataset_reimport_key" "stores" {
  dataset_id = "6f1d3c2a-8b4e-4f7a-9c1d-2e5b8a7f0c13"
}

# Trigger the import through the dataset's reimport webhook with that key. reimport_key is
# write-only (Terraform 1.11+), so it accepts the ephemeral value and stores nothing either.
resource "woosmap_dataset_import" "stores" {
  dataset_id   = "6f1d3c2a-8b4e-4f7a-9c1d-2e5b8a7f0c13"
  reimport_key = ephemeral.woosmap_dataset_reimport_key.stores.reimport_key

  triggers = {
    version = "2024-06"
  }
}
