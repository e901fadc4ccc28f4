# The team's directory is kept in users.json (a JSON array of the documented user objects:
# emails and importIds required). Whenever the file changes, the next apply runs a new bulk
# import and waits for Rocket.Chat to finish it.
resource "rocketchat_user_import" "team" {
  users_json = file("${path.module}/users.json")

  # An import operation someone else started is waited on, never aborted, unless this is true.
  abort_running = false

  # Fail the apply when a user cannot be imported (count_error > 0); true accepts it.
  allow_user_errors = false

  timeouts {
    create = "45m"
  }
}

# A few users written out as blocks instead of JSON; changing triggers imports them again.
resource "rocketchat_user_import" "admins" {
  users {
    emails     = ["ann@example.com"]
    import_ids = ["ldap-ann"]
    username   = "ann"
    name       = "Ann Example"
    roles      = ["user", "admin"]
  }

  users {
    emails     = ["bob@example.com"]
    import_ids = ["ldap-bob"]
    username   = "bob"
  }

  triggers = {
    review = "2026-q4"
  }
}

output "team_import" {
  value = {
    operation = rocketchat_user_import.team.operation_id
    state     = rocketchat_user_import.team.state
    imported  = rocketchat_user_import.team.count_completed
    failed    = rocketchat_user_import.team.count_error
  }
}
