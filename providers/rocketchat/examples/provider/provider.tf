terraform {
  required_providers {
    rocketchat = {
      source = "rocketchat/rocketchat"
    }
  }
}

# Leave auth_token unset to read it from the ROCKETCHAT_AUTH_TOKEN environment variable, which
# keeps the token out of your configuration files. url and user_id fall back to ROCKETCHAT_URL
# and ROCKETCHAT_USER_ID the same way.
provider "rocketchat" {
  url        = "https://chat.example.com"
  user_id    = var.rocketchat_user_id
  auth_token = var.rocketchat_auth_token
}

variable "rocketchat_user_id" {
  description = "Id of a user with the run-import permission (null: use ROCKETCHAT_USER_ID)."
  type        = string
  default     = null
}

variable "rocketchat_auth_token" {
  description = "Personal access token of that user (null: use ROCKETCHAT_AUTH_TOKEN)."
  type        = string
  sensitive   = true
  default     = null
}
