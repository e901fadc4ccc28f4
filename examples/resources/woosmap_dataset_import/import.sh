# Import by dataset id (a UUID). The latest run of the dataset becomes the recorded run;
# importing never triggers a new import.
terraform import woosmap_dataset_import.stores 6f1d3c2a-8b4e-4f7a-9c1d-2e5b8a7f0c13
