//! What the Rocket.Chat Terraform tests (`rocketchat_terraform.rs`,
//! `rocketchat_terraform_action.rs`) share besides [`super::rocketchat::RcTerraform`]: their
//! sandbox, an import operation started by someone else, and the apply arguments.

use std::time::Duration;

use woosmap_sandbox::rocketchat::{
    ForeignOperation, RocketChatConfig, RocketChatHandle, RocketChatSandbox,
};

/// `terraform apply -auto-approve -input=false -no-color`.
pub const APPLY: &[&str] = &["apply", "-auto-approve", "-input=false", "-no-color"];

/// A Rocket.Chat sandbox with a 2 s rate-limit window, whose imports take `import_duration`
/// once started.
pub async fn sandbox(import_duration: Duration) -> RocketChatHandle {
    RocketChatSandbox::start(RocketChatConfig {
        limit_window: Duration::from_secs(2),
        import_duration,
        ..RocketChatConfig::default()
    })
    .await
    .unwrap()
}

/// Starts an import of three users by someone else, `importing` for `duration_ms`; returns
/// the operation's id.
pub fn start_foreign_import(sb: &RocketChatHandle, duration_ms: u64) -> String {
    sb.start_foreign(&ForeignOperation {
        state: "importing".into(),
        duration_ms: Some(duration_ms),
        users: Some(3),
        user: None,
    })
    .unwrap()
}

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
