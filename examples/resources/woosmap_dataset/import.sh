# Import an existing dataset by its id (a UUID). List the ids with `woosmap-import datasets`.
terraform import woosmap_dataset.stores 6f1d3c2a-8b4e-4f7a-9c1d-2e5b8a7f0c13
