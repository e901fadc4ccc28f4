//! Real Terraform (`scripts/terraform`) running `terraform-provider-rocketchat` through
//! `dev_overrides` against the Rocket.Chat mode of the sandbox: an apply imports the users and
//! records the operation and counts; user errors fail the apply unless allowed; a bad token
//! fails with the server's message.

mod common;

use std::time::Duration;

use woosmap_sandbox::rocketchat::DEFAULT_AUTH_TOKEN;

use common::rocketchat::TfRun;
use common::rocketchat::start_foreign;
use common::rocketchat_tf::{APPLY, two_users};

/// The provider under real Terraform (`tests/common/rocketchat.rs`).
type Tf = common::rocketchat::RcTerraform;

const RESOURCE: &str = r#"
resource "rocketchat_user_import" "team" {
  users_json = jsonencode([
    { username = "ann", emails = ["ann@example.com"], importIds = ["ann"] },
    { username = "bob", emails = ["bob@example.com"], importIds = ["bob"] },
    { username = "%THIRD%", emails = ["c@example.com"], importIds = ["c"] },
  ])
  allow_user_errors = %ALLOW%
  timeouts {
    create = "2m"
  }
}
output "state" { value = rocketchat_user_import.team.state }
output "operation_id" { value = rocketchat_user_import.team.operation_id }
output "total" { value = rocketchat_user_import.team.count_total }
output "completed" { value = rocketchat_user_import.team.count_completed }
output "errors" { value = rocketchat_user_import.team.count_error }
"#;

fn resource(third: &str, allow: bool) -> String {
    RESOURCE
        .replace("%THIRD%", third)
        .replace("%ALLOW%", &allow.to_string())
}

async fn sandbox() -> woosmap_sandbox::rocketchat::RocketChatHandle {
    common::rocketchat::sandbox_2s_window(Duration::from_millis(300)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_imports_users_and_records_the_operation_and_counts() {
    let sb = sandbox().await;
    let tf = Tf::new(&sb);
    tf.write(DEFAULT_AUTH_TOKEN, &resource("cy", false));
    let TfRun { code, .. } = tf.run(APPLY).await;
    assert_eq!(code, 0);
    let out = tf.outputs().await;
    assert_eq!(out["state"]["value"], "done");
    assert_eq!(out["total"]["value"], 3);
    assert_eq!(out["completed"]["value"], 3);
    assert_eq!(out["errors"]["value"], 0);
    assert!(
        out["operation_id"]["value"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    // A second apply with nothing changed imports nothing.
    let TfRun { code, .. } = tf.run(APPLY).await;
    assert_eq!(code, 0);
    let stats = sb.stats();
    assert_eq!(
        (stats.operations, stats.aborts, stats.rate_limited),
        (1, 0, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_errors_fail_the_apply_unless_allowed() {
    let sb = sandbox().await;
    let tf = Tf::new(&sb);
    tf.write(DEFAULT_AUTH_TOKEN, &resource("will-fail", false));
    let TfRun { code, text } = tf.run(APPLY).await;
    assert_ne!(code, 0);
    assert!(
        text.contains("allow-user-errors") || text.contains("failed to import"),
        "{text}"
    );
    tf.write(DEFAULT_AUTH_TOKEN, &resource("will-fail", true));
    let TfRun { code, .. } = tf.run(APPLY).await;
    assert_eq!(code, 0);
    let out = tf.outputs().await;
    assert_eq!(out["errors"]["value"], 1);
    assert_eq!(out["completed"]["value"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_token_fails_with_the_documented_message_and_no_secret() {
    let sb = sandbox().await;
    let tf = Tf::new(&sb);
    let token = "bad-token-Xy72";
    tf.write(token, &resource("cy", false));
    let TfRun { code, text } = tf.run(APPLY).await;
    assert_ne!(code, 0);
    assert!(text.contains("You must be logged in to do this."), "{text}");
    assert!(!text.contains(token), "the token leaked");
    assert_eq!(sb.stats().operations, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_blocks_import_like_users_json_and_both_at_once_is_refused() {
    let sb = sandbox().await;
    let tf = Tf::new(&sb);
    let blocks = format!(
        r#"
resource "rocketchat_user_import" "team" {{
{}  triggers = {{ batch = "1" }}
}}
output "completed" {{ value = rocketchat_user_import.team.count_completed }}
"#,
        two_users("ann", "bob")
    );
    tf.write(DEFAULT_AUTH_TOKEN, &blocks);
    let TfRun { code, .. } = tf.run(APPLY).await;
    assert_eq!(code, 0);
    assert_eq!(tf.outputs().await["completed"]["value"], 2);
    // A new trigger value runs a new import.
    tf.write(DEFAULT_AUTH_TOKEN, &blocks.replace("\"1\"", "\"2\""));
    let TfRun { code, .. } = tf.run(APPLY).await;
    assert_eq!(code, 0);
    assert_eq!(sb.stats().operations, 2);

    let both = blocks.replace(
        "  triggers = { batch = \"1\" }",
        "  users_json = \"[]\"\n  triggers = { batch = \"3\" }",
    );
    tf.write(DEFAULT_AUTH_TOKEN, &both);
    let TfRun { code, text } = tf.run(APPLY).await;
    assert_ne!(code, 0);
    assert!(text.contains("not both"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_operation_is_waited_on_unless_abort_running() {
    let sb = sandbox().await;
    let tf = Tf::new(&sb);
    start_foreign(&sb, "importing", 1500, 3, None);
    tf.write(DEFAULT_AUTH_TOKEN, &resource("cy", false));
    let TfRun { code, .. } = tf.run(APPLY).await;
    assert_eq!(code, 0);
    assert_eq!(tf.outputs().await["state"]["value"], "done");
    assert_eq!(sb.stats().aborts, 0, "waited on, not aborted");

    let foreign = start_foreign(&sb, "importing", 600_000, 3, None);
    let body = resource("cy", false).replace(
        "allow_user_errors = false",
        "allow_user_errors = false\n  abort_running = true\n  triggers = { run = \"2\" }",
    );
    tf.write(DEFAULT_AUTH_TOKEN, &body);
    let TfRun { code, text } = tf.run(APPLY).await;
    assert_eq!(code, 0);
    assert!(
        text.contains(&format!("Operation {foreign} was aborted")),
        "{text}"
    );
    assert_eq!(sb.stats().aborts, 1);
}
