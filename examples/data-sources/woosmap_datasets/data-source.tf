data "woosmap_datasets" "all" {}

# Dataset ids by name, leaving out datasets whose deletion is scheduled.
output "dataset_ids_by_name" {
  value = {
    for d in data.woosmap_datasets.all.datasets : d.name => d.id
    if d.scheduled_for_deletion_after == null
  }
}
