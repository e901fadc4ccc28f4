//! Action `rocketchat_user_import` under real Terraform (`scripts/terraform`) running
//! `terraform-provider-rocketchat` through `dev_overrides` against the Rocket.Chat mode of the
//! sandbox: `-invoke` succeeds with counts in the progress lines; user errors fail it unless
//! `allow_user_errors`; a bad token fails with the server's message; a running operation is
//! waited on (no abort) unless `abort_running = true` (one abort, reported); an invalid
//! configuration fails at validate and plan, naming the attribute, without calling the API (for
//! the resource too). Each case has its own sandbox and directory; libtest runs them on parallel
//! threads.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use woosmap_sandbox::rocketchat::{
    DEFAULT_AUTH_TOKEN, DEFAULT_USER_ID, ForeignOperation, RocketChatConfig, RocketChatHandle,
    RocketChatSandbox,
};

const INVOKE: &str = "-invoke=action.rocketchat_user_import.team";

/// A Terraform directory wired to the provider binary and one sandbox.
struct Tf {
    dir: tempfile::TempDir,
    base_url: String,
}

/// One Terraform run: exit code, and stdout + stderr with the diagnostic boxes flattened to
/// single-spaced words (diagnostics wrap their lines).
#[derive(Debug)]
struct Ran {
    code: i32,
    text: String,
}

impl Tf {
    fn new(sb: &RocketChatHandle) -> Tf {
        let dir = tempfile::tempdir().unwrap();
        let bin_dir = Path::new(env!("CARGO_BIN_EXE_terraform-provider-rocketchat"))
            .parent()
            .unwrap()
            .to_path_buf();
        std::fs::write(
            dir.path().join("cli.tfrc"),
            format!(
                "provider_installation {{\n  dev_overrides {{\n    \"registry.terraform.io/rocketchat/rocketchat\" = \"{}\"\n  }}\n  direct {{}}\n}}\n",
                bin_dir.display()
            ),
        )
        .unwrap();
        Tf {
            dir,
            base_url: sb.base_url(),
        }
    }

    fn write(&self, token: &str, body: &str) {
        let main = format!(
            "terraform {{\n  required_providers {{\n    rocketchat = {{ source = \"rocketchat/rocketchat\" }}\n  }}\n}}\n\
             provider \"rocketchat\" {{\n  url = \"{}\"\n  user_id = \"{DEFAULT_USER_ID}\"\n  auth_token = \"{token}\"\n}}\n{body}",
            self.base_url
        );
        std::fs::write(self.dir.path().join("main.tf"), main).unwrap();
    }

    async fn run(&self, args: &[&str]) -> Ran {
        let mut cmd = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/terraform"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("TF_CLI_CONFIG_FILE", self.dir.path().join("cli.tfrc"))
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .env("XDG_RUNTIME_DIR", self.dir.path())
            .env_remove("ROCKETCHAT_AUTH_TOKEN")
            .stdin(Stdio::null());
        let out = tokio::task::spawn_blocking(move || cmd.output().expect("terraform runs"))
            .await
            .unwrap();
        let raw = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("$ terraform {}\n{raw}", args.join(" "));
        let text = raw
            .replace('│', " ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        Ran {
            code: out.status.code().unwrap_or(-1),
            text,
        }
    }

    async fn invoke(&self) -> Ran {
        self.run(&[
            "apply",
            "-auto-approve",
            "-input=false",
            "-no-color",
            INVOKE,
        ])
        .await
    }
}

/// The action with three users (the third named `third`: a name containing `fail` fails) and
/// `extra` settings in its `config` block.
fn action(third: &str, extra: &str) -> String {
    format!(
        r#"
action "rocketchat_user_import" "team" {{
  config {{
    users_json = jsonencode([
      {{ username = "ann", emails = ["ann@example.com"], importIds = ["ann"] }},
      {{ username = "bob", emails = ["bob@example.com"], importIds = ["bob"] }},
      {{ username = "{third}", emails = ["c@example.com"], importIds = ["c"] }},
    ])
    timeout = "2m"
{extra}
  }}
}}
"#
    )
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
async fn invoke_imports_with_counts_in_the_progress_lines() {
    let sb = sandbox().await;
    let tf = Tf::new(&sb);
    tf.write(DEFAULT_AUTH_TOKEN, &action("cy", ""));
    let ran = tf.invoke().await;
    assert_eq!(ran.code, 0, "{ran:?}");
    for line in [
        "Created import operation",
        "Staged 3/3 users.",
        "started.",
        "3 of 3 users done, 0 failed",
        "users total 3, completed 3, error 0.",
    ] {
        assert!(ran.text.contains(line), "no {line:?} in {ran:?}");
    }
    let stats = sb.stats();
    assert_eq!(
        (
            stats.operations,
            stats.runs,
            stats.aborts,
            stats.rate_limited
        ),
        (1, 1, 0, 0),
        "{stats:?}"
    );
    // Nothing is recorded: a second invocation imports again; `users` blocks work as well.
    tf.write(
        DEFAULT_AUTH_TOKEN,
        r#"
action "rocketchat_user_import" "team" {
  config {
    users {
      emails     = ["dan@example.com"]
      import_ids = ["dan"]
      username   = "dan"
      roles      = ["user"]
    }
    users {
      emails     = ["eve@example.com"]
      import_ids = ["eve"]
    }
  }
}
"#,
    );
    let ran = tf.invoke().await;
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(ran.text.contains("Staged 2/2 users."), "{ran:?}");
    assert!(
        ran.text.contains("users total 2, completed 2, error 0."),
        "{ran:?}"
    );
    assert_eq!(sb.stats().operations, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_errors_fail_the_invoke_unless_allowed() {
    let sb = sandbox().await;
    let tf = Tf::new(&sb);
    tf.write(DEFAULT_AUTH_TOKEN, &action("will-fail", ""));
    let ran = tf.invoke().await;
    assert_ne!(ran.code, 0, "{ran:?}");
    for part in [
        "Rocket.Chat import did not succeed",
        "users total 3, completed 2, error 1.",
        "1 user(s) failed to import",
        "set allow_user_errors = true to accept this",
    ] {
        assert!(ran.text.contains(part), "no {part:?} in {ran:?}");
    }
    tf.write(
        DEFAULT_AUTH_TOKEN,
        &action("will-fail", "    allow_user_errors = true"),
    );
    let ran = tf.invoke().await;
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(
        ran.text
            .contains("users total 3, completed 2, error 1. 1 user(s) failed and stay in the staging area (allowed by allow_user_errors = true)."),
        "{ran:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_token_fails_with_the_documented_message_and_no_secret() {
    let sb = sandbox().await;
    let tf = Tf::new(&sb);
    let token = "bad-token-Qz81";
    tf.write(token, &action("cy", ""));
    let ran = tf.invoke().await;
    assert_ne!(ran.code, 0, "{ran:?}");
    assert!(
        ran.text.contains("Rocket.Chat refused the credentials"),
        "{ran:?}"
    );
    assert!(
        ran.text.contains("You must be logged in to do this."),
        "{ran:?}"
    );
    assert!(!ran.text.contains(token), "the token leaked: {ran:?}");
    assert_eq!(sb.stats().operations, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_operation_is_waited_on_unless_abort_running() {
    let sb = sandbox().await;
    let tf = Tf::new(&sb);
    let first = sb
        .start_foreign(&ForeignOperation {
            state: "importing".into(),
            duration_ms: Some(1500),
            users: Some(3),
        })
        .unwrap();
    tf.write(DEFAULT_AUTH_TOKEN, &action("cy", ""));
    let ran = tf.invoke().await;
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(
        ran.text.contains(&format!(
            "Another import operation ({first}) is importing: waiting for it to end; it is not aborted"
        )),
        "{ran:?}"
    );
    assert!(
        ran.text.contains(&format!(
            "Waited for the running operation {first} to end first (not aborted)."
        )),
        "{ran:?}"
    );
    assert_eq!(sb.stats().aborts, 0, "waited on, not aborted");

    let second = sb
        .start_foreign(&ForeignOperation {
            state: "importing".into(),
            duration_ms: Some(600_000),
            users: Some(3),
        })
        .unwrap();
    tf.write(
        DEFAULT_AUTH_TOKEN,
        &action("cy", "    abort_running = true"),
    );
    let ran = tf.invoke().await;
    assert_eq!(ran.code, 0, "{ran:?}");
    for part in [
        format!(
            "Aborting the running import operation {second} (importing) as asked by abort_running = true."
        ),
        format!("The running operation {second} was aborted first (abort_running = true)."),
        "users total 3, completed 3, error 0.".to_owned(),
    ] {
        assert!(ran.text.contains(&part), "no {part:?} in {ran:?}");
    }
    assert_eq!(sb.stats().aborts, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_config_fails_before_any_api_call_naming_the_attribute() {
    let sb = sandbox().await;
    let tf = Tf::new(&sb);
    // users_json: the second user lacks importIds; timeout is no duration.
    let bad_json = r#"
action "rocketchat_user_import" "team" {
  config {
    users_json = jsonencode([
      { emails = ["ann@example.com"], importIds = ["ann"] },
      { emails = ["bob@example.com"] },
    ])
    timeout = "soon"
  }
}
"#;
    tf.write(DEFAULT_AUTH_TOKEN, bad_json);
    for args in [
        &["validate", "-no-color"][..],
        &[
            "apply",
            "-auto-approve",
            "-input=false",
            "-no-color",
            INVOKE,
        ][..],
    ] {
        let ran = tf.run(args).await;
        assert_ne!(ran.code, 0, "{ran:?}");
        for part in [
            "Invalid users_json",
            "user #2 (index 1): `importIds` is required",
            "Invalid timeout",
            "\"soon\"",
        ] {
            assert!(ran.text.contains(part), "{args:?}: no {part:?} in {ran:?}");
        }
    }
    // users blocks: an empty emails list names the block's index; both sources at once.
    let bad_blocks = r#"
action "rocketchat_user_import" "team" {
  config {
    users {
      emails     = ["ann@example.com"]
      import_ids = ["ann"]
    }
    users {
      emails     = []
      import_ids = ["bob"]
    }
  }
}
"#;
    tf.write(DEFAULT_AUTH_TOKEN, bad_blocks);
    let ran = tf.run(&["validate", "-no-color"]).await;
    assert_ne!(ran.code, 0, "{ran:?}");
    assert!(ran.text.contains("Invalid users[1].emails"), "{ran:?}");
    assert!(
        ran.text
            .contains("user #2 (users[1]): `emails` must not be empty"),
        "{ran:?}"
    );
    tf.write(
        DEFAULT_AUTH_TOKEN,
        &bad_blocks.replace("  config {\n", "  config {\n    users_json = \"[]\"\n"),
    );
    let ran = tf.run(&["validate", "-no-color"]).await;
    assert_ne!(ran.code, 0, "{ran:?}");
    assert!(
        ran.text.contains("Conflicting users_json and users"),
        "{ran:?}"
    );

    // The resource checks the same at plan time.
    let resource = r#"
resource "rocketchat_user_import" "team" {
  users_json = jsonencode([{ emails = ["ann@example.com"] }])
  timeouts {
    create = "later"
  }
}
"#;
    tf.write(DEFAULT_AUTH_TOKEN, resource);
    let ran = tf.run(&["plan", "-input=false", "-no-color"]).await;
    assert_ne!(ran.code, 0, "{ran:?}");
    for part in [
        "Invalid users_json",
        "user #1 (index 0): `importIds` is required",
        "Invalid timeouts.create",
    ] {
        assert!(ran.text.contains(part), "no {part:?} in {ran:?}");
    }
    assert_eq!(sb.stats().requests, 0, "the API was called");
}
