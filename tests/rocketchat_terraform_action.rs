//! Action `rocketchat_user_import` under real Terraform (`scripts/terraform`) running
//! `terraform-provider-rocketchat` through `dev_overrides` against the Rocket.Chat mode of the
//! sandbox: `-invoke` succeeds with counts in the progress lines; user errors fail it unless
//! `allow_user_errors`; a bad token fails with the server's message; a running operation is
//! waited on (no abort) unless `abort_running = true` (one abort, reported); an invalid
//! configuration fails at validate and plan, naming the attribute, without calling the API (for
//! the resource too). The docs page lists exactly the action's schema and embeds the example,
//! and every example under `providers/rocketchat/examples/` validates and is formatted. Each case has its own sandbox and directory; libtest runs them on parallel
//! threads.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use woosmap_sandbox::rocketchat::{DEFAULT_AUTH_TOKEN, RocketChatHandle};

use common::rocketchat::start_foreign;
use common::rocketchat_tf::{APPLY, two_users};
use common::terraform::{command_in, interrupt_when};

/// `terraform apply -invoke` of the action `team`.
const INVOKE: &[&str] = &[
    "apply",
    "-auto-approve",
    "-input=false",
    "-no-color",
    "-invoke=action.rocketchat_user_import.team",
];

/// The provider under real Terraform (`tests/common/rocketchat.rs`).
type Tf = common::rocketchat::RcTerraform;
type Ran = common::rocketchat::TfRun;

/// Runs [`INVOKE`], which must succeed if `ok` and fail otherwise.
async fn invoke(tf: &Tf, ok: bool) -> Ran {
    let ran = tf.run(INVOKE).await;
    assert_eq!(ran.code == 0, ok, "{ran:?}");
    ran
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

/// What an invoke importing three users prints.
const THREE_IMPORTED: &[&str] = &[
    "Created import operation",
    "Staged 3/3 users.",
    "started.",
    "3 of 3 users done, 0 failed",
    "users total 3, completed 3, error 0.",
];

/// A sandbox with 300 ms imports and a directory on it with `body` behind the provider block.
async fn start(body: &str) -> (RocketChatHandle, Tf) {
    let sb = common::rocketchat::sandbox_2s_window(Duration::from_millis(300)).await;
    let tf = Tf::new(&sb);
    tf.write(DEFAULT_AUTH_TOKEN, body);
    (sb, tf)
}

/// Asserts that the run's output says each of `parts`.
fn assert_says(ran: &Ran, parts: &[&str]) {
    for part in parts {
        assert!(ran.text.contains(part), "no {part:?} in {ran:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoke_imports_with_counts_in_the_progress_lines() {
    let (sb, tf) = start(&action("cy", "")).await;
    let ran = invoke(&tf, true).await;
    assert_says(&ran, THREE_IMPORTED);
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
    let body = format!(
        r#"
action "rocketchat_user_import" "team" {{
  config {{
{}  }}
}}
"#,
        two_users("dan", "eve")
    );
    tf.write(DEFAULT_AUTH_TOKEN, &body);
    let ran = invoke(&tf, true).await;
    assert!(ran.text.contains("Staged 2/2 users."), "{ran:?}");
    assert!(
        ran.text.contains("users total 2, completed 2, error 0."),
        "{ran:?}"
    );
    assert_eq!(sb.stats().operations, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_errors_fail_the_invoke_unless_allowed() {
    let (_sb, tf) = start(&action("will-fail", "")).await;
    let ran = invoke(&tf, false).await;
    assert_says(
        &ran,
        &[
            "Rocket.Chat import did not succeed",
            "users total 3, completed 2, error 1.",
            "1 user(s) failed to import",
            "set allow_user_errors = true to accept this",
        ],
    );
    tf.write(
        DEFAULT_AUTH_TOKEN,
        &action("will-fail", "    allow_user_errors = true"),
    );
    let ran = invoke(&tf, true).await;
    assert!(
        ran.text
            .contains("users total 3, completed 2, error 1. 1 user(s) failed and stay in the staging area (allowed by allow_user_errors = true)."),
        "{ran:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_token_fails_with_the_documented_message_and_no_secret() {
    let (sb, tf) = start("").await;
    let token = "bad-token-Qz81";
    tf.write(token, &action("cy", ""));
    let ran = invoke(&tf, false).await;
    assert!(
        ran.text.contains("Rocket.Chat import failed: Rocket.Chat refused the credentials on import.status (HTTP 401: \"You must be logged in to do this.\")"),
        "{ran:?}"
    );
    assert!(
        ran.text
            .contains("or user_id and auth_token in the provider block."),
        "{ran:?}"
    );
    assert!(!ran.text.contains(token), "the token leaked: {ran:?}");
    assert_eq!(sb.stats().operations, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_operation_is_waited_on_unless_abort_running() {
    let (sb, tf) = start(&action("cy", "")).await;
    // Long enough for Terraform to start and plan on loaded cores, short enough to wait for.
    let first = start_foreign(&sb, "importing", 10_000, 3, None);
    let ran = invoke(&tf, true).await;
    assert!(
        ran.text.contains(&format!(
            "Another import operation {first} (importing, created by user someone-else) is in progress: waiting for it to end; it is not aborted"
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

    let second = start_foreign(&sb, "importing", 600_000, 3, None);
    tf.write(
        DEFAULT_AUTH_TOKEN,
        &action("cy", "    abort_running = true"),
    );
    let ran = invoke(&tf, true).await;
    for part in [
        format!(
            "Aborting the import operation {second} (importing, created by user someone-else) as asked by abort_running = true."
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
    let (sb, tf) = start(bad_json).await;
    for args in [&["validate", "-no-color"][..], INVOKE] {
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
    assert_says(
        &ran,
        &[
            "Invalid users_json",
            "user #1 (index 0): `importIds` is required",
            "Invalid timeouts.create",
        ],
    );
    assert_eq!(sb.stats().requests, 0, "the API was called");
}

/// A sandbox whose imports take ten minutes once started.
async fn slow_sandbox() -> RocketChatHandle {
    common::rocketchat::sandbox_2s_window(Duration::from_secs(600)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_false_ends_once_the_import_runs() {
    let sb = slow_sandbox().await;
    let tf = Tf::new(&sb);
    tf.write(DEFAULT_AUTH_TOKEN, &action("cy", "    wait = false"));
    let ran = invoke(&tf, true).await;
    assert!(
        ran.text
            .contains("Not waiting for the import to end (wait = false)."),
        "{ran:?}"
    );
    assert!(ran.text.contains(": importing ("), "{ran:?}");
    let stats = sb.stats();
    assert_eq!(
        (stats.operations, stats.runs, stats.aborts),
        (1, 1, 0),
        "{stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupt_ends_the_invoke_promptly_and_leaves_the_import_running() {
    use std::time::Instant;
    let sb = slow_sandbox().await;
    let tf = Tf::new(&sb);
    // Without cancellation the invoke would wait for the whole timeout.
    tf.write(
        DEFAULT_AUTH_TOKEN,
        &action("cy", "    timeout = \"10m\"").replace("    timeout = \"2m\"\n", ""),
    );
    let (ended, sb) = tokio::task::spawn_blocking(move || {
        let launcher = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/terraform");
        let mut cmd = command_in(tf.dir.path(), &launcher, INVOKE);
        common::pacer::private_pacer(&mut cmd).env("XDG_RUNTIME_DIR", tf.dir.path());
        // Interrupt once the import runs and its first status line is out: the next line
        // would come when its counts change, minutes later. (Terraform 1.14/1.15 crash when a
        // progress event reaches them after an interrupt, a race the provider can only narrow.)
        let ended = interrupt_when(cmd, |out| {
            let deadline = Instant::now() + Duration::from_secs(60);
            while sb.stats().runs == 0
                || !std::fs::read_to_string(out)
                    .unwrap_or_default()
                    .contains("users done")
            {
                assert!(Instant::now() < deadline, "the import never started");
                std::thread::sleep(Duration::from_millis(50));
            }
            std::thread::sleep(Duration::from_millis(500));
        });
        (ended, sb)
    })
    .await
    .unwrap();
    let (code, text, waited) = (ended.code, ended.text, ended.waited);
    eprintln!("terraform ended {waited:?} after SIGINT, exit {code}:\n{text}");
    assert_ne!(code, -2, "terraform did not end after Ctrl-C:\n{text}");
    assert!(!text.contains("TERRAFORM CRASH"), "{text}");
    assert_ne!(code, 0, "{text}");
    let flat = common::terraform::flatten(&text);
    assert!(
        flat.contains("Stopped waiting for the Rocket.Chat import"),
        "{text}"
    );
    assert!(flat.contains("it keeps running on the server"), "{text}");
    // Generous: the import itself takes ten minutes, so anything but a prompt stop hits it.
    assert!(waited < Duration::from_secs(60), "took {waited:?}:\n{text}");
    let stats = sb.stats();
    assert_eq!((stats.runs, stats.aborts), (1, 0), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn action_trigger_runs_once_per_file_change() {
    let body = r#"
action "rocketchat_user_import" "team" {
  config {
    users_json = file("${path.module}/team.json")
  }
}

resource "terraform_data" "published" {
  input = filemd5("${path.module}/team.json")

  lifecycle {
    action_trigger {
      events  = [after_create, after_update]
      actions = [action.rocketchat_user_import.team]
    }
  }
}
"#;
    let (sb, tf) = start(body).await;
    let file = tf.dir.path().join("team.json");
    std::fs::write(
        &file,
        r#"[{"emails":["ann@example.com"],"importIds":["ann"]}]"#,
    )
    .unwrap();
    let ran = tf.run(APPLY).await;
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(sb.stats().operations, 1, "create invokes the action once");
    let ran = tf.run(APPLY).await;
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(ran.text.contains("No changes"), "{ran:?}");
    assert_eq!(sb.stats().operations, 1, "no change, no import");
    std::fs::write(
        &file,
        r#"[{"emails":["ann@example.com"],"importIds":["ann"]},{"emails":["bob@example.com"],"importIds":["bob"]}]"#,
    )
    .unwrap();
    let ran = tf.run(APPLY).await;
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(
        ran.text.contains("users total 2, completed 2, error 0."),
        "{ran:?}"
    );
    assert_eq!(
        sb.stats().operations,
        2,
        "the changed file invokes the action once"
    );
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// A base URL nothing listens on: validate and schema never call the API.
const NO_API: &str = "http://127.0.0.1:9";

/// The documented items of a schema block: `prefix.name` → description, nested blocks too.
fn schema_items(block: &serde_json::Value, prefix: &str, out: &mut BTreeMap<String, String>) {
    let desc = |v: &serde_json::Value| v["description"].as_str().unwrap_or_default().to_owned();
    for (name, a) in block["attributes"].as_object().into_iter().flatten() {
        out.insert(format!("{prefix}{name}"), desc(a));
    }
    for (name, b) in block["block_types"].as_object().into_iter().flatten() {
        out.insert(format!("{prefix}{name}"), desc(&b["block"]));
        schema_items(&b["block"], &format!("{prefix}{name}."), out);
    }
}

/// The bullets of a page's `## Schema` part: `prefix.name` → text after the label, the
/// prefix taken from the `### Nested Schema for` headings.
fn page_items(page: &str) -> BTreeMap<String, String> {
    let schema = &page[page.find("\n## Schema\n").expect("a Schema section")..];
    let mut out = BTreeMap::new();
    let mut prefix = String::new();
    for line in schema.lines() {
        if let Some(rest) = line.strip_prefix("### Nested Schema for `") {
            prefix = format!("{}.", rest.trim_end_matches('`'));
        } else if let Some(rest) = line.strip_prefix("- `") {
            let (name, rest) = rest.split_once("` (").expect("- `name` (Type) text");
            let text = rest.split_once(") ").map(|(_, t)| t).unwrap_or_default();
            out.insert(format!("{prefix}{name}"), text.to_owned());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docs_page_lists_the_action_schema_and_embeds_the_example() {
    let tf = Tf::at(NO_API);
    tf.write("x", "");
    let ran = tf.run(&["providers", "schema", "-json", "-no-color"]).await;
    assert_eq!(ran.code, 0, "{ran:?}");
    let start = ran.text.find('{').unwrap();
    let all: serde_json::Value = serde_json::from_str(&ran.text[start..]).expect("schema JSON");
    let action = &all["provider_schemas"]["registry.terraform.io/rocketchat/rocketchat"]["action_schemas"]
        ["rocketchat_user_import"]["block"];
    assert!(action.is_object(), "no action schema: {ran:?}");
    let mut expected = BTreeMap::new();
    schema_items(action, "", &mut expected);
    let page = read("providers/rocketchat/docs/actions/user_import.md");
    let documented = page_items(&page);
    assert_eq!(
        documented.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "the page's Schema section and the action's schema differ"
    );
    for (name, desc) in &expected {
        assert!(
            documented[name].starts_with(desc.as_str()),
            "{name}: the page says {:?}, the schema {desc:?}",
            documented[name]
        );
    }
    let description = action["description"].as_str().unwrap();
    assert!(
        page.contains(&format!("\n{description}\n")),
        "the page lacks the schema's description"
    );
    for file in ["action.tf", "team.json"] {
        let example = read(&format!(
            "providers/rocketchat/examples/actions/rocketchat_user_import/{file}"
        ));
        assert!(
            page.contains(&example),
            "the page does not embed {file} verbatim"
        );
    }
}
