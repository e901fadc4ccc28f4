//! What the Rocket.Chat Terraform tests (`rocketchat_terraform.rs`,
//! `rocketchat_terraform_action.rs`) share besides [`super::rocketchat::RcTerraform`]: the
//! apply arguments and the users blocks.

/// `terraform apply -auto-approve -input=false -no-color`.
pub const APPLY: &[&str] = &["apply", "-auto-approve", "-input=false", "-no-color"];

/// Two `users` blocks: `full` with an email, an import id, a username and the role `user`;
/// `bare` with only an email and an import id.
pub fn two_users(full: &str, bare: &str) -> String {
    format!(
        r#"  users {{
    emails     = ["{full}@example.com"]
    import_ids = ["{full}"]
    username   = "{full}"
    roles      = ["user"]
  }}
  users {{
    emails     = ["{bare}@example.com"]
    import_ids = ["{bare}"]
  }}
"#
    )
}
