# Imports the users of team.json into Rocket.Chat (bulk user import) and shows the import's
# progress and counts in the Terraform run; the action keeps no state.
#
# By hand:              terraform apply -invoke=action.rocketchat_user_import.team
# After a file change:  terraform apply (the action_trigger below runs it when team.json changed)
#
# The provider reads ROCKETCHAT_URL, ROCKETCHAT_USER_ID and ROCKETCHAT_AUTH_TOKEN.
terraform {
  required_providers {
    rocketchat = {
      source = "rocketchat/rocketchat"
    }
  }
}

provider "rocketchat" {}

variable "team_file" {
  description = "JSON array of user objects (emails and importIds required)."
  type        = string
  default     = "team.json"
}

action "rocketchat_user_import" "team" {
  config {
    users_json        = file(var.team_file)
    timeout           = "45m"
    allow_user_errors = false
  }
}

# One user written out as a block instead of a JSON file.
action "rocketchat_user_import" "ops" {
  config {
    users {
      emails     = ["ann@example.com"]
      import_ids = ["ldap-42"]
      username   = "ann"
      name       = "Ann Example"
      roles      = ["user"]
    }
  }
}

# Runs the import after each change of the file: its checksum replaces this resource, and
# the action runs after that.
resource "terraform_data" "team_published" {
  input = filemd5(var.team_file)

  lifecycle {
    action_trigger {
      events  = [after_create, after_update]
      actions = [action.rocketchat_user_import.team]
    }
  }
}
