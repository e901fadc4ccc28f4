//! Real Terraform (`scripts/terraform`) running `terraform-provider-rocketchat` through
//! `dev_overrides` against the Rocket.Chat mode of the sandbox: an apply imports the users and
//! records the operation and counts; user errors fail the apply unless allowed; a bad token
//! fails with the server's message.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use woosmap_sandbox::rocketchat::{
    DEFAULT_AUTH_TOKEN, DEFAULT_USER_ID, RocketChatConfig, RocketChatHandle, RocketChatSandbox,
};

struct Tf {
    dir: tempfile::TempDir,
}

impl Tf {
    fn new() -> Tf {
        let dir = tempfile::tempdir().unwrap();
        common::terraform::write_dev_overrides(
            dir.path(),
            "registry.terraform.io/rocketchat/rocketchat",
            "terraform-provider-rocketchat",
        );
        Tf { dir }
    }

    fn write(&self, sb: &RocketChatHandle, token: &str, body: &str) {
        let main = format!(
            "terraform {{\n  required_providers {{\n    rocketchat = {{ source = \"rocketchat/rocketchat\" }}\n  }}\n}}\n\
             provider \"rocketchat\" {{\n  url = \"{}\"\n  user_id = \"{DEFAULT_USER_ID}\"\n  auth_token = \"{token}\"\n}}\n{body}",
            sb.base_url()
        );
        std::fs::write(self.dir.path().join("main.tf"), main).unwrap();
    }

    async fn run(&self, args: &[&str]) -> (i32, String) {
        let mut cmd = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/terraform"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("TF_CLI_CONFIG_FILE", self.dir.path().join("cli.tfrc"))
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .env("XDG_RUNTIME_DIR", self.dir.path())
            .stdin(Stdio::null());
        let out = tokio::task::spawn_blocking(move || cmd.output().expect("terraform runs"))
            .await
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("$ terraform {}\n{text}", args.join(" "));
        // Diagnostics are wrapped in a box: join the words back for assertions.
        let flat = common::terraform::flatten(&text);
        (out.status.code().unwrap_or(-1), flat)
    }

    async fn outputs(&self) -> serde_json::Value {
        let (code, text) = self.run(&["output", "-json", "-no-color"]).await;
        assert_eq!(code, 0);
        let start = text.find('{').unwrap();
        let end = text.rfind('}').unwrap();
        serde_json::from_str(&text[start..=end]).unwrap()
    }
}

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

async fn sandbox() -> RocketChatHandle {
    RocketChatSandbox::start(RocketChatConfig {
        limit_window: Duration::from_secs(2),
        import_duration: Duration::from_millis(300),
        ..RocketChatConfig::default()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_imports_users_and_records_the_operation_and_counts() {
    let sb = sandbox().await;
    let tf = Tf::new();
    tf.write(&sb, DEFAULT_AUTH_TOKEN, &resource("cy", false));
    let (code, _) = tf
        .run(&["apply", "-auto-approve", "-input=false", "-no-color"])
        .await;
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
    let (code, _) = tf
        .run(&["apply", "-auto-approve", "-input=false", "-no-color"])
        .await;
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
    let tf = Tf::new();
    tf.write(&sb, DEFAULT_AUTH_TOKEN, &resource("will-fail", false));
    let (code, text) = tf
        .run(&["apply", "-auto-approve", "-input=false", "-no-color"])
        .await;
    assert_ne!(code, 0);
    assert!(
        text.contains("allow-user-errors") || text.contains("failed to import"),
        "{text}"
    );
    tf.write(&sb, DEFAULT_AUTH_TOKEN, &resource("will-fail", true));
    let (code, _) = tf
        .run(&["apply", "-auto-approve", "-input=false", "-no-color"])
        .await;
    assert_eq!(code, 0);
    let out = tf.outputs().await;
    assert_eq!(out["errors"]["value"], 1);
    assert_eq!(out["completed"]["value"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_token_fails_with_the_documented_message_and_no_secret() {
    let sb = sandbox().await;
    let tf = Tf::new();
    let token = "bad-token-Xy72";
    tf.write(&sb, token, &resource("cy", false));
    let (code, text) = tf
        .run(&["apply", "-auto-approve", "-input=false", "-no-color"])
        .await;
    assert_ne!(code, 0);
    assert!(text.contains("You must be logged in to do this."), "{text}");
    assert!(!text.contains(token), "the token leaked");
    assert_eq!(sb.stats().operations, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_blocks_import_like_users_json_and_both_at_once_is_refused() {
    let sb = sandbox().await;
    let tf = Tf::new();
    let blocks = r#"
resource "rocketchat_user_import" "team" {
  users {
    emails     = ["ann@example.com"]
    import_ids = ["ann"]
    username   = "ann"
    roles      = ["user"]
  }
  users {
    emails     = ["bob@example.com"]
    import_ids = ["bob"]
  }
  triggers = { batch = "1" }
}
output "completed" { value = rocketchat_user_import.team.count_completed }
"#;
    tf.write(&sb, DEFAULT_AUTH_TOKEN, blocks);
    let (code, _) = tf
        .run(&["apply", "-auto-approve", "-input=false", "-no-color"])
        .await;
    assert_eq!(code, 0);
    assert_eq!(tf.outputs().await["completed"]["value"], 2);
    // A new trigger value runs a new import.
    tf.write(&sb, DEFAULT_AUTH_TOKEN, &blocks.replace("\"1\"", "\"2\""));
    let (code, _) = tf
        .run(&["apply", "-auto-approve", "-input=false", "-no-color"])
        .await;
    assert_eq!(code, 0);
    assert_eq!(sb.stats().operations, 2);

    let both = blocks.replace(
        "  triggers = { batch = \"1\" }",
        "  users_json = \"[]\"\n  triggers = { batch = \"3\" }",
    );
    tf.write(&sb, DEFAULT_AUTH_TOKEN, &both);
    let (code, text) = tf
        .run(&["apply", "-auto-approve", "-input=false", "-no-color"])
        .await;
    assert_ne!(code, 0);
    assert!(text.contains("not both"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_operation_is_waited_on_unless_abort_running() {
    use woosmap_sandbox::rocketchat::ForeignOperation;
    let sb = sandbox().await;
    let tf = Tf::new();
    sb.start_foreign(&ForeignOperation {
        state: "importing".into(),
        duration_ms: Some(1500),
        users: Some(3),
    })
    .unwrap();
    tf.write(&sb, DEFAULT_AUTH_TOKEN, &resource("cy", false));
    let (code, _) = tf
        .run(&["apply", "-auto-approve", "-input=false", "-no-color"])
        .await;
    assert_eq!(code, 0);
    assert_eq!(tf.outputs().await["state"]["value"], "done");
    assert_eq!(sb.stats().aborts, 0, "waited on, not aborted");

    let foreign = sb
        .start_foreign(&ForeignOperation {
            state: "importing".into(),
            duration_ms: Some(600_000),
            users: Some(3),
        })
        .unwrap();
    let body = resource("cy", false).replace(
        "allow_user_errors = false",
        "allow_user_errors = false\n  abort_running = true\n  triggers = { run = \"2\" }",
    );
    tf.write(&sb, DEFAULT_AUTH_TOKEN, &body);
    let (code, text) = tf
        .run(&["apply", "-auto-approve", "-input=false", "-no-color"])
        .await;
    assert_eq!(code, 0);
    assert!(
        text.contains(&format!("Operation {foreign} was aborted")),
        "{text}"
    );
    assert_eq!(sb.stats().aborts, 1);
}
