terraform {
  required_providers {
    woosmap = {
      source = "woosmap/woosmap"
    }
  }
}

# Leave private_key unset to read it from the WOOSMAP_PRIVATE_KEY environment variable, which
# keeps the key out of your configuration files.
provider "woosmap" {
  private_key = var.woosmap_private_key

  # Only needed to reach another API root; defaults to WOOSMAP_BASE_URL, then
  # https://api.woosmap.com.
  # base_url = "https://api.woosmap.com"
}

variable "woosmap_private_key" {
  description = "Woosmap private key with write permission (null: use WOOSMAP_PRIVATE_KEY)."
  type        = string
  sensitive   = true
  default     = null
}
