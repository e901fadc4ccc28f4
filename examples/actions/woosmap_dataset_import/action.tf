# The dataset's source URL is set on the dataset in Woosmap; here a pipeline publishes
# stores.json to that URL. The action imports the dataset and shows the import's progress
# in the Terraform run; it keeps no state.
#
# By hand:            terraform apply -invoke=action.woosmap_dataset_import.stores
# After a publish:    terraform apply (the action_trigger below runs it when the file changed)
variable "stores_file" {
  description = "Path of the stores file that is published at the dataset's source URL."
  type        = string
  default     = "data/stores.json"
}

action "woosmap_dataset_import" "stores" {
  config {
    dataset_id    = "6f1d3c2a-8b4e-4f7a-9c1d-2e5b8a7f0c13"
    timeout       = "45m"
    poll_interval = "10s"
  }
}

# Stands for the publish step (an upload to a bucket, a CDN, ...): its input is the file's
# checksum, so it is replaced whenever the file changes, and the action runs after that.
resource "terraform_data" "stores_published" {
  input = filemd5(var.stores_file)

  lifecycle {
    action_trigger {
      events  = [after_create, after_update]
      actions = [action.woosmap_dataset_import.stores]
    }
  }
}
