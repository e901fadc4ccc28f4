//! The Rocket.Chat section of the fault matrix: the faults of the bulk user import, through
//! `rocketchat-import run`, the `rocketchat_user_import` resource and action (`-invoke`) under
//! real Terraform and the GitHub Action (`service: rocketchat`) under real `act`. Every cell
//! gets its own Rocket.Chat sandbox (the server has one current import operation, so cells
//! cannot share one), which is what lets all cells run at once, beside the Woosmap cells.
//!
//! A cell records its outcome (exit code / apply or invoke result / job result), the final
//! state and counts the front end reported, the one output line holding the cell's phrase (a
//! phrase that matches several lines fails the cell), and what the sandbox counted: operations
//! created (by anyone) and operations aborted while running.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use woosmap_sandbox::rocketchat::{
    DEFAULT_AUTH_TOKEN, DEFAULT_USER_ID, ForeignOperation, RcFault, RcFaultKind, RcStats,
    RocketChatConfig, RocketChatHandle, RocketChatSandbox,
};

use super::CELL_LIMIT;

/// A token the sandbox does not accept.
const WRONG_TOKEN: &str = "rc-wrong-token-7Hq2";
/// How long the sandbox's imports take unless a row says otherwise.
const IMPORT: Duration = Duration::from_secs(1);
/// Longer than any cell: an import (ours or someone else's) that does not end by itself.
const FOREVER: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RcFront {
    Cli,
    Terraform,
    /// The provider's action, invoked by hand (`terraform apply -invoke=action...`).
    TfAction,
    Action,
}

impl RcFront {
    const ALL: [RcFront; 4] = [
        RcFront::Cli,
        RcFront::Terraform,
        RcFront::TfAction,
        RcFront::Action,
    ];
    fn title(self) -> &'static str {
        match self {
            RcFront::Cli => "CLI",
            RcFront::Terraform => "Terraform",
            RcFront::TfAction => "Terraform action",
            RcFront::Action => "GitHub Action",
        }
    }
}

/// What a cell must show.
#[derive(Debug, Clone, Copy)]
struct Expect {
    outcome: &'static str,
    /// `STATE · TOTAL/COMPLETED/ERROR` as the front end reported it, `—` when it reports none.
    counts: &'static str,
    /// A phrase exactly one output line must hold.
    phrase: &'static str,
    /// Operations the sandbox created (by anyone) / operations aborted while running.
    operations: u64,
    aborts: u64,
}

const fn ex(
    outcome: &'static str,
    counts: &'static str,
    phrase: &'static str,
    operations: u64,
    aborts: u64,
) -> Expect {
    Expect {
        outcome,
        counts,
        phrase,
        operations,
        aborts,
    }
}

/// The users a cell imports.
#[derive(Debug, Clone, Copy)]
enum Users {
    /// ann, bob, cy: all import.
    Good,
    /// ann, bob and `will-fail`, whom the sandbox fails.
    OneFails,
}

impl Users {
    fn json(self) -> String {
        let third = match self {
            Users::Good => "cy",
            Users::OneFails => "will-fail",
        };
        serde_json::json!(["ann", "bob", third]
            .iter()
            .map(|n| serde_json::json!({"username": n, "emails": [format!("{n}@example.com")], "importIds": [n]}))
            .collect::<Vec<_>>())
        .to_string()
    }
}

/// One fault of the Rocket.Chat import, with what each front end must make of it.
struct Row {
    id: &'static str,
    title: &'static str,
    setup_text: &'static str,
    users: Users,
    token: &'static str,
    abort_running: bool,
    allow_user_errors: bool,
    /// The overall wait (`--timeout`, `timeouts.create`, `timeout` input); default 2m.
    timeout: Option<&'static str>,
    /// How long the sandbox's imports take.
    import: Duration,
    /// How far the sandbox's clock is ahead of the real one (negative: behind), in ms.
    clock_offset_ms: i64,
    /// Before the front end starts.
    setup: fn(&RocketChatHandle),
    /// While the front end runs (in its own thread; returns when its part is done).
    during: Option<fn(&RocketChatHandle)>,
    cli: Expect,
    terraform: Expect,
    tf_action: Expect,
    action: Expect,
}

impl Row {
    fn expect(&self, front: RcFront) -> Expect {
        match front {
            RcFront::Cli => self.cli,
            RcFront::Terraform => self.terraform,
            RcFront::TfAction => self.tf_action,
            RcFront::Action => self.action,
        }
    }
}

fn nothing(_: &RocketChatHandle) {}

fn fault(endpoint: &str, kind: RcFaultKind, count: u32) -> RcFault {
    RcFault {
        endpoint: endpoint.to_owned(),
        kind,
        count,
    }
}

/// Someone else's operation, importing until [`RocketChatHandle::finish_current`] ends it.
fn foreign_importing(sb: &RocketChatHandle) {
    sb.start_foreign(&ForeignOperation {
        state: "importing".into(),
        duration_ms: Some(FOREVER.as_millis() as u64),
        users: Some(4),
        user: None,
    })
    .unwrap();
}

/// Waits until `done` holds for the sandbox's counters (or [`CELL_LIMIT`] passes).
fn wait_until(sb: &RocketChatHandle, done: impl Fn(&RcStats) -> bool) -> bool {
    let deadline = Instant::now() + CELL_LIMIT;
    while Instant::now() < deadline {
        if done(&sb.stats()) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn status_reads(s: &RcStats) -> u64 {
    s.per_route.get("import.status").copied().unwrap_or(0)
}

const OK: &str = "exit 0";
const TF_OK: &str = "apply exit 0";
const INVOKE_OK: &str = "invoke exit 0";
const JOB_OK: &str = "job ok";
const DONE: &str = "done · 3/3/0";
const NONE: &str = "—";
/// The waiting line for another user's operation being staged.
const STAGING_FOREIGN: &str = "(new, created by user another-admin) is in progress";
/// Our operation, created and not run, cleared.
const LEFT_CLEARED: &str = "was created and left in state new: cleared it";
/// A 429 waited out on the server's clock.
const SERVER_CLOCK: &str = "(X-RateLimit-Reset, on the server's clock)";

fn rows() -> Vec<Row> {
    let base = Row {
        id: "",
        title: "",
        setup_text: "",
        users: Users::Good,
        token: DEFAULT_AUTH_TOKEN,
        abort_running: false,
        allow_user_errors: false,
        timeout: None,
        import: IMPORT,
        clock_offset_ms: 0,
        setup: nothing,
        during: None,
        cli: ex(OK, DONE, "", 1, 0),
        terraform: ex(TF_OK, DONE, "", 1, 0),
        tf_action: ex(INVOKE_OK, DONE, "", 1, 0),
        action: ex(JOB_OK, DONE, "", 1, 0),
    };
    vec![
        Row {
            id: "rc_none",
            title: "No fault (control)",
            setup_text: "three users, all valid",
            cli: ex(OK, DONE, "users total 3, completed 3, error 0", 1, 0),
            terraform: ex(TF_OK, DONE, "Apply complete! Resources: 1 added", 1, 0),
            tf_action: ex(INVOKE_OK, DONE, "users total 3, completed 3, error 0", 1, 0),
            action: ex(JOB_OK, DONE, "users total 3, completed 3, error 0", 1, 0),
            ..base
        },
        Row {
            id: "rc_user_errors",
            title: "Users fail to import (count.error > 0)",
            setup_text: "three users, one of whom the server fails (`will-fail`)",
            users: Users::OneFails,
            cli: ex(
                "exit 1",
                "done · 3/2/1",
                "failed to import (they stay in the staging area)",
                1,
                0,
            ),
            terraform: ex(
                "apply exit 1",
                NONE,
                "failed to import (they stay in the staging area)",
                1,
                0,
            ),
            tf_action: ex(
                "invoke exit 1",
                "done · 3/2/1",
                "failed to import (they stay in the staging area)",
                1,
                0,
            ),
            action: ex(
                "job failed, exit 1",
                "done · 3/2/1",
                "failed to import (they stay in the staging area)",
                1,
                0,
            ),
            ..base
        },
        Row {
            id: "rc_user_errors_allowed",
            title: "Users fail to import, allowed",
            setup_text: "as above, with `--allow-user-errors` / `allow_user_errors = true` / `allow-user-errors: true`",
            users: Users::OneFails,
            allow_user_errors: true,
            cli: ex(OK, "done · 3/2/1", "(allowed by --allow-user-errors)", 1, 0),
            terraform: ex(
                TF_OK,
                "done · 3/2/1",
                "Apply complete! Resources: 1 added",
                1,
                0,
            ),
            tf_action: ex(
                INVOKE_OK,
                "done · 3/2/1",
                "(allowed by allow_user_errors = true)",
                1,
                0,
            ),
            action: ex(
                JOB_OK,
                "done · 3/2/1",
                "(allowed by --allow-user-errors)",
                1,
                0,
            ),
            ..base
        },
        Row {
            id: "rc_bad_token",
            title: "Bad token (401)",
            setup_text: "an auth token the server does not know",
            token: WRONG_TOKEN,
            cli: ex("exit 4", NONE, "You must be logged in to do this.", 0, 0),
            terraform: ex(
                "apply exit 1",
                NONE,
                "You must be logged in to do this.",
                0,
                0,
            ),
            tf_action: ex(
                "invoke exit 1",
                NONE,
                "You must be logged in to do this.",
                0,
                0,
            ),
            action: ex(
                "job failed, exit 4",
                NONE,
                "You must be logged in to do this.",
                0,
                0,
            ),
            ..base
        },
        Row {
            id: "rc_already_importing",
            title: "An operation already importing is waited on",
            setup_text: "someone else's operation is importing; it ends once we have read its status twice",
            setup: foreign_importing,
            during: Some(|sb| {
                if wait_until(sb, |s| status_reads(s) >= 2) {
                    sb.finish_current();
                }
            }),
            cli: ex(OK, DONE, "it is not aborted", 2, 0),
            terraform: ex(TF_OK, DONE, "provider log: WaitingForRunning", 2, 0),
            tf_action: ex(INVOKE_OK, DONE, "it is not aborted", 2, 0),
            action: ex(JOB_OK, DONE, "it is not aborted", 2, 0),
            ..base
        },
        Row {
            id: "rc_staging_foreign",
            title: "Another user's operation being staged is waited on",
            setup_text: "another admin's operation is `new` (created, no user added yet); it ends once we have read its status twice",
            setup: |sb| {
                sb.start_foreign(&ForeignOperation {
                    state: "new".into(),
                    duration_ms: Some(FOREVER.as_millis() as u64),
                    users: Some(4),
                    user: Some("another-admin".into()),
                })
                .unwrap();
            },
            during: Some(|sb| {
                if wait_until(sb, |s| status_reads(s) >= 2) {
                    sb.end_current();
                }
            }),
            cli: ex(OK, DONE, STAGING_FOREIGN, 2, 0),
            terraform: ex(TF_OK, DONE, "provider log: WaitingForRunning", 2, 0),
            tf_action: ex(INVOKE_OK, DONE, STAGING_FOREIGN, 2, 0),
            action: ex(JOB_OK, DONE, STAGING_FOREIGN, 2, 0),
            ..base
        },
        Row {
            id: "rc_staging_error",
            title: "An error while staging our users",
            setup_text: "import.addUsers: 500; our operation (created, nothing staged) is cleared and reported",
            setup: |sb| sb.inject(fault("import.addUsers", RcFaultKind::Http500, 1)),
            cli: ex("exit 6", NONE, LEFT_CLEARED, 1, 0),
            terraform: ex("apply exit 1", NONE, LEFT_CLEARED, 1, 0),
            tf_action: ex("invoke exit 1", NONE, LEFT_CLEARED, 1, 0),
            action: ex("job failed, exit 6", "new", LEFT_CLEARED, 1, 0),
            ..base
        },
        Row {
            id: "rc_staging_timeout",
            title: "The timeout strikes while staging",
            setup_text: "import.addUsers: 429 (reset 1 s ahead) again and again; timeout 6s; our operation is cleared and reported",
            setup: |sb| sb.inject(fault("import.addUsers", RcFaultKind::RateLimit, 1000)),
            timeout: Some("6s"),
            cli: ex("exit 3", NONE, LEFT_CLEARED, 1, 0),
            terraform: ex("apply exit 1", NONE, LEFT_CLEARED, 1, 0),
            tf_action: ex("invoke exit 1", NONE, LEFT_CLEARED, 1, 0),
            action: ex("job failed, exit 3", "new", LEFT_CLEARED, 1, 0),
            ..base
        },
        Row {
            id: "rc_clock_behind",
            title: "429s from a server whose clock is 10 minutes behind",
            setup_text: "the server's `Date` and `X-RateLimit-Reset` are 10 min behind; import.new: 429 (reset 1 s ahead on its clock), 5 times",
            clock_offset_ms: -600_000,
            setup: |sb| sb.inject(fault("import.new", RcFaultKind::RateLimit, 5)),
            cli: ex(OK, DONE, SERVER_CLOCK, 1, 0),
            terraform: ex(TF_OK, DONE, SERVER_CLOCK, 1, 0),
            tf_action: ex(INVOKE_OK, DONE, SERVER_CLOCK, 1, 0),
            action: ex(JOB_OK, DONE, SERVER_CLOCK, 1, 0),
            ..base
        },
        Row {
            id: "rc_abort_running",
            title: "An operation already importing, aborted on request",
            setup_text: "someone else's operation imports forever; `--abort-running` / `abort_running = true` / `abort-running: true`",
            abort_running: true,
            setup: foreign_importing,
            cli: ex(OK, DONE, "as asked by --abort-running", 2, 1),
            terraform: ex(TF_OK, DONE, "was aborted (abort_running = true)", 2, 1),
            tf_action: ex(INVOKE_OK, DONE, "as asked by abort_running = true", 2, 1),
            action: ex(JOB_OK, DONE, "as asked by --abort-running", 2, 1),
            ..base
        },
        Row {
            id: "rc_rate_limited",
            title: "429 answered by the server",
            setup_text: "import.new: 429 `error-too-many-requests`, `X-RateLimit-Remaining: 0`, reset 1 s ahead; waited out to `X-RateLimit-Reset`, then called again",
            setup: |sb| sb.inject(fault("import.new", RcFaultKind::RateLimit, 1)),
            cli: ex(OK, DONE, "429 from Rocket.Chat; waiting", 1, 0),
            terraform: ex(TF_OK, DONE, "429 from Rocket.Chat; waiting", 1, 0),
            tf_action: ex(INVOKE_OK, DONE, "429 from Rocket.Chat; waiting", 1, 0),
            action: ex(JOB_OK, DONE, "429 from Rocket.Chat; waiting", 1, 0),
            ..base
        },
        Row {
            id: "rc_status_5xx",
            title: "Transient 5xx on the status",
            setup_text: "import.status: 500, twice",
            setup: |sb| sb.inject(fault("import.status", RcFaultKind::Http500, 2)),
            cli: ex(OK, DONE, "HTTP 500 Internal Server Error; retrying", 1, 0),
            terraform: ex(
                TF_OK,
                DONE,
                "HTTP 500 Internal Server Error; retrying",
                1,
                0,
            ),
            tf_action: ex(
                INVOKE_OK,
                DONE,
                "HTTP 500 Internal Server Error; retrying",
                1,
                0,
            ),
            action: ex(
                JOB_OK,
                DONE,
                "HTTP 500 Internal Server Error; retrying",
                1,
                0,
            ),
            ..base
        },
        Row {
            id: "rc_invalidated",
            title: "Our operation invalidated by someone else",
            setup_text: "imports take 10 min; once our import.run is accepted, another client's import.new aborts our operation",
            import: FOREVER,
            during: Some(|sb| {
                if wait_until(sb, |s| s.runs >= 1) {
                    std::thread::sleep(Duration::from_millis(300));
                    sb.start_foreign(&ForeignOperation {
                        state: "ready".into(),
                        duration_ms: Some(FOREVER.as_millis() as u64),
                        users: Some(1),
                        user: None,
                    })
                    .unwrap();
                }
            }),
            cli: ex("exit 1", "invalidated", "aborted this operation", 2, 1),
            terraform: ex("apply exit 1", NONE, "aborted this operation", 2, 1),
            tf_action: ex(
                "invoke exit 1",
                "invalidated",
                "aborted this operation",
                2,
                1,
            ),
            action: ex(
                "job failed, exit 1",
                "invalidated",
                "aborted this operation",
                2,
                1,
            ),
            ..base
        },
        Row {
            id: "rc_timeout",
            title: "The import outlasts the timeout",
            setup_text: "imports take 10 min; timeout 10s",
            import: FOREVER,
            timeout: Some("10s"),
            cli: ex("exit 3", NONE, "timed out after 10s while operation", 1, 0),
            terraform: ex(
                "apply exit 1",
                NONE,
                "timed out after 10s while operation",
                1,
                0,
            ),
            tf_action: ex(
                "invoke exit 1",
                NONE,
                "Timed out after 10s while operation",
                1,
                0,
            ),
            action: ex(
                "job failed, exit 3",
                "importing",
                "timed out after 10s while operation",
                1,
                0,
            ),
            ..base
        },
    ]
}

/// What one cell showed.
#[derive(Debug, Clone, Serialize)]
pub struct Observed {
    row: &'static str,
    front: RcFront,
    outcome: String,
    counts: String,
    phrase: &'static str,
    /// The one output line holding the phrase, normalised.
    message: Option<String>,
    /// How many distinct output lines held the phrase.
    matches: usize,
    operations: u64,
    aborts: u64,
    /// 429s the sandbox's own limiter answered (our pacing must provoke none).
    rate_limited: u64,
    seconds: f64,
}

impl Observed {
    fn passed(&self, e: &Expect) -> bool {
        self.outcome == e.outcome
            && self.counts == e.counts
            && self.matches == 1
            && self.operations == e.operations
            && self.aborts == e.aborts
            && self.rate_limited == 0
    }
}

/// What a driven front end gave back.
struct Ran {
    outcome: String,
    counts: String,
    /// The lines a reader sees (Terraform: paragraphs, then the provider's log).
    lines: Vec<String>,
    text: String,
    dirs: Vec<PathBuf>,
}

async fn sandbox(row: &Row) -> RocketChatHandle {
    RocketChatSandbox::start(RocketChatConfig {
        limit_calls: 10,
        limit_window: Duration::from_secs(2),
        import_duration: row.import,
        clock_offset_ms: row.clock_offset_ms,
        ..RocketChatConfig::default()
    })
    .await
    .expect("the Rocket.Chat sandbox starts")
}

/// Runs `cmd` to its end (or kills it after [`CELL_LIMIT`]); returns (exit code, output).
fn drive(cmd: Command) -> (i32, String) {
    let out = tempfile::NamedTempFile::new().unwrap();
    let mut child = super::spawn_into(cmd, &out);
    let code = super::common::wait::exit_within(&mut child, CELL_LIMIT).unwrap_or(-1);
    (
        code,
        std::fs::read_to_string(out.path()).unwrap_or_default(),
    )
}

/// `STATE · T/C/E` from the sentence every front end's message ends with
/// (`Operation ID: STATE (STATUS); users total T, completed C, error E.`).
fn counts_of_message(text: &str) -> String {
    let Some(line) = text.lines().find(|l| l.contains("; users total ")) else {
        return NONE.to_owned();
    };
    let state = line
        .split_once("Operation ")
        .and_then(|(_, r)| r.split_once(": "))
        .and_then(|(_, r)| r.split_once(' '))
        .map(|(s, _)| s.to_owned())
        .unwrap_or_default();
    let number = |label: &str| {
        line.split_once(label)
            .map(|(_, r)| {
                r.chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
            })
            .unwrap_or_default()
    };
    let (t, c, e) = (
        number("users total "),
        number("completed "),
        number("error "),
    );
    if state == "invalidated" {
        return state;
    }
    format!("{state} · {t}/{c}/{e}")
}

fn run_cli(sb: &RocketChatHandle, row: &Row) -> Ran {
    let scratch = tempfile::tempdir().unwrap();
    let users = scratch.path().join("users.json");
    std::fs::write(&users, row.users.json()).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rocketchat-import"));
    cmd.env_clear();
    super::common::pacer::private_pacer(&mut cmd)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("ROCKETCHAT_URL", sb.base_url())
        .env("ROCKETCHAT_USER_ID", DEFAULT_USER_ID)
        .env("ROCKETCHAT_AUTH_TOKEN", row.token)
        .env("XDG_RUNTIME_DIR", scratch.path())
        .arg("run")
        .arg("--users")
        .arg(&users)
        .args(["--poll-interval", "300ms"])
        .args(["--timeout", row.timeout.unwrap_or("2m")]);
    if row.abort_running {
        cmd.arg("--abort-running");
    }
    if row.allow_user_errors {
        cmd.arg("--allow-user-errors");
    }
    let (code, text) = drive(cmd);
    Ran {
        outcome: format!("exit {code}"),
        counts: counts_of_message(&text),
        lines: text.lines().map(str::to_owned).collect(),
        text,
        dirs: vec![],
    }
}

/// The `terraform` block every Terraform cell's configuration starts with.
const TF_HEADER: &str = r#"terraform {
  required_providers {
    rocketchat = { source = "rocketchat/rocketchat" }
  }
}

provider "rocketchat" {}
"#;

/// The row's users and switches, as attribute lines indented by `indent` (of the resource,
/// or of the action's `config` block).
fn tf_settings(row: &Row, indent: &str) -> String {
    format!(
        "{indent}users_json        = {users:?}\n{indent}abort_running     = {abort}\n{indent}allow_user_errors = {allow}\n",
        users = row.users.json(),
        abort = row.abort_running,
        allow = row.allow_user_errors,
    )
}

fn tf_config(row: &Row) -> String {
    format!(
        r#"{TF_HEADER}
resource "rocketchat_user_import" "this" {{
{settings}  timeouts {{
    create = "{timeout}"
  }}
}}
"#,
        settings = tf_settings(row, "  "),
        timeout = row.timeout.unwrap_or("2m"),
    )
}

/// The action with the row's settings (it has no poll interval: the provider's own, 2 s).
fn tf_action_config(row: &Row) -> String {
    format!(
        r#"{TF_HEADER}
action "rocketchat_user_import" "this" {{
  config {{
{settings}    timeout           = "{timeout}"
  }}
}}
"#,
        settings = tf_settings(row, "    "),
        timeout = row.timeout.unwrap_or("2m"),
    )
}

const TF_INVOKE: &str = "-invoke=action.rocketchat_user_import.this";

/// The provider's own log lines (info and above) from Terraform's log.
fn provider_log(log: &str) -> Vec<String> {
    super::provider_log_of(log, "provider.terraform-provider-rocketchat: ")
        .split("\n\n")
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A Terraform working directory wired to the provider binary, holding `main_tf`.
fn tf_dir(main_tf: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    crate::common::terraform::write_dev_overrides(
        dir.path(),
        "registry.terraform.io/rocketchat/rocketchat",
        "terraform-provider-rocketchat",
    );
    std::fs::write(dir.path().join("main.tf"), main_tf).unwrap();
    dir
}

/// `terraform apply -auto-approve ... EXTRA` in `dir`, against the cell's sandbox.
fn tf_apply(dir: &Path, sb: &RocketChatHandle, row: &Row, extra: &[&str]) -> Command {
    let mut cmd = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/terraform"));
    super::common::pacer::private_pacer(&mut cmd)
        .args(["apply", "-auto-approve", "-input=false", "-no-color"])
        .args(extra)
        .current_dir(dir)
        .env("TF_CLI_CONFIG_FILE", dir.join("cli.tfrc"))
        .env("TF_IN_AUTOMATION", "1")
        .env("CHECKPOINT_DISABLE", "1")
        .env("TF_LOG", "debug")
        .env("TF_LOG_PATH", dir.join("terraform.log"))
        .env("XDG_RUNTIME_DIR", dir)
        .env("ROCKETCHAT_URL", sb.base_url())
        .env("ROCKETCHAT_USER_ID", DEFAULT_USER_ID)
        .env("ROCKETCHAT_AUTH_TOKEN", row.token);
    cmd
}

/// Keeps `dir` until the token scan (the caller removes it); returns its path.
fn keep(dir: tempfile::TempDir) -> PathBuf {
    let path = dir.path().to_path_buf();
    let kept = dir.keep();
    assert_eq!(kept, path);
    path
}

/// Terraform's output as paragraphs, each on one line (it wraps its diagnostics).
fn paragraphs(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty())
}

/// Applies `config` (with the `extra` arguments) in a directory of its own, kept for the key
/// scan; `read(output, log, dir)` gives the counts and lines the cell records. The outcome is
/// `"{verb} exit {code}"`.
fn run_tf_cell(
    sb: &RocketChatHandle,
    row: &Row,
    config: String,
    extra: &[&str],
    verb: &str,
    read: impl FnOnce(&str, &str, &Path) -> (String, Vec<String>),
) -> Ran {
    let dir = tf_dir(&config);
    let (code, text) = drive(tf_apply(dir.path(), sb, row, extra));
    let log = std::fs::read_to_string(dir.path().join("terraform.log")).unwrap_or_default();
    let (counts, lines) = read(&text, &log, dir.path());
    Ran {
        outcome: format!("{verb} exit {code}"),
        counts,
        lines,
        text,
        dirs: vec![keep(dir)],
    }
}

fn run_terraform(sb: &RocketChatHandle, row: &Row) -> Ran {
    run_tf_cell(sb, row, tf_config(row), &[], "apply", terraform_cell)
}

/// The resource's cell: the output's paragraphs and the provider's log; the counts the state
/// records.
fn terraform_cell(text: &str, log: &str, dir: &Path) -> (String, Vec<String>) {
    let mut lines: Vec<String> = paragraphs(text).collect();
    lines.extend(provider_log(log));
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("terraform.tfstate")).unwrap_or_default(),
    )
    .unwrap_or_default();
    let attrs = &state["resources"][0]["instances"][0]["attributes"];
    let counts = match attrs["state"].as_str() {
        Some(s) => format!(
            "{s} · {}/{}/{}",
            attrs["count_total"], attrs["count_completed"], attrs["count_error"]
        ),
        None => NONE.to_owned(),
    };
    (counts, lines)
}

/// The action invoked by hand. It keeps no state: its counts are those of the outcome
/// sentence it reported (a progress line, or the error's detail).
fn run_tf_action(sb: &RocketChatHandle, row: &Row) -> Ran {
    let config = tf_action_config(row);
    run_tf_cell(sb, row, config, &[TF_INVOKE], "invoke", tf_action_cell)
}

/// The action's cell: see [`run_tf_action`].
fn tf_action_cell(text: &str, log: &str, _dir: &Path) -> (String, Vec<String>) {
    // Progress lines (`Action action.NAME (TRIGGER): MESSAGE`) and the failure line
    // (`Action failed: action.NAME (TRIGGER) - SUMMARY: DETAIL`) come one per line, without
    // blank lines between them: each is a line of its own, the rest goes by paragraphs. The
    // paragraph under `Error: Error when invoking action` that repeats the failure line is
    // left out.
    let mut lines = Vec::new();
    let mut failed = None;
    let mut rest = String::new();
    for l in text.lines() {
        if let Some((_, message)) = l
            .strip_prefix("Action action.")
            .and_then(|p| p.split_once("): "))
        {
            lines.push(format!("progress: {message}"));
        } else if let Some((_, message)) = l
            .strip_prefix("Action failed: ")
            .and_then(|p| p.split_once(") - "))
        {
            lines.push(format!("Action failed: {message}"));
            failed = Some(message.split_whitespace().collect::<Vec<_>>().join(" "));
        } else {
            rest.push_str(l);
            rest.push('\n');
        }
    }
    lines.extend(paragraphs(&rest).filter(|p| failed.as_ref() != Some(p)));
    lines.extend(provider_log(log));
    let counts = counts_of_message(&lines.join("\n"));
    (counts, lines)
}

const WORKFLOW_NAME: &str = "fault-matrix-rocketchat";

/// One job per row, each against its own sandbox.
fn workflow(cells: &[(&Row, String)]) -> String {
    let mut y = format!(
        "# Generated by tests/fault_matrix.rs for one run; not a CI workflow.\nname: {WORKFLOW_NAME}\non: push\npermissions: {{}}\n\njobs:\n"
    );
    for (row, url) in cells {
        let secret = if row.token == DEFAULT_AUTH_TOKEN {
            "ROCKETCHAT_AUTH_TOKEN"
        } else {
            "WRONG_TOKEN"
        };
        let users = row.users.json().replace('\'', "''");
        let _ = write!(
            y,
            "  {job}:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2\n        with:\n          persist-credentials: false\n      - uses: ./\n        with:\n          service: rocketchat\n          users: '{users}'\n          url: {url}\n          user-id: {DEFAULT_USER_ID}\n          auth-token: ${{{{ secrets.{secret} }}}}\n          abort-running: \"{abort}\"\n          allow-user-errors: \"{allow}\"\n          poll-interval: 300ms\n          timeout: {timeout}\n",
            job = row.id.replace('_', "-"),
            abort = row.abort_running,
            allow = row.allow_user_errors,
            timeout = row.timeout.unwrap_or("2m"),
        );
    }
    y
}

/// Runs every action cell in one `act` run (jobs in parallel); per row: (exit, job log).
fn run_act(
    cells: &[(&'static Row, String)],
) -> (BTreeMap<&'static str, (Option<i32>, String)>, String) {
    let scratch = tempfile::tempdir().unwrap();
    // As for the Woosmap action: a minimal repository with what `uses: ./` reads.
    let root = super::common::act::root();
    let files: Vec<&str> = [
        "action.yml",
        "scripts/action-service.sh",
        "scripts/action-rocketchat.sh",
        "scripts/action-install.sh",
        "Cargo.toml",
    ]
    .into_iter()
    .filter(|file| root.join(file).exists())
    .collect();
    let workflow = ("fault-matrix-rocketchat.yml", workflow(cells));
    let mut cmd = super::act_in_minimal_repo(scratch.path(), &files, workflow);
    cmd.args(["--concurrent-jobs", "32"])
        .args(["-s", &format!("ROCKETCHAT_AUTH_TOKEN={DEFAULT_AUTH_TOKEN}")])
        .args(["-s", &format!("WRONG_TOKEN={WRONG_TOKEN}")])
        .args([
            "--env",
            &format!("XDG_RUNTIME_DIR={}", scratch.path().display()),
        ]);
    let (_code, log) =
        super::common::act::run_with_limit(cmd, CELL_LIMIT + Duration::from_secs(60));
    let mut out = BTreeMap::new();
    for (row, _) in cells {
        let lines = super::common::act::job_lines(&log, WORKFLOW_NAME, &row.id.replace('_', "-"));
        out.insert(row.id, (super::common::act::job_exit(&lines), lines));
    }
    (out, log)
}

/// A line of the job summary (a Markdown heading or table row), which act shows in the log.
fn job_summary(step: &str) -> bool {
    let step = step.trim();
    step.starts_with("### ") || step.starts_with('|') || step.ends_with(" |")
}

/// What an act job showed: the step's own lines (its JSON report, workflow commands and job
/// summary left out) and its `message` output; counts from its outputs.
fn action_ran(exit: Option<i32>, log: String) -> Ran {
    let mut lines = Vec::new();
    let mut outputs = BTreeMap::new();
    for l in log.lines() {
        if let Some(o) = l.trim().strip_prefix("⚙  ::set-output:: ") {
            if let Some((k, v)) = o.split_once('=') {
                outputs.insert(k.to_owned(), v.to_owned());
                if k == "message" {
                    lines.push(format!("output message={v}"));
                }
            }
        } else if let Some(step) = l.trim().strip_prefix("| ")
            && !step.starts_with('{')
            && !step.starts_with("::")
            && !job_summary(step)
        {
            lines.push(step.to_owned());
        }
    }
    let total = outputs.get("count-total").filter(|t| !t.is_empty());
    let counts = match outputs.get("state").filter(|s| !s.is_empty()) {
        Some(s) if s == "invalidated" || total.is_none() => s.clone(),
        Some(s) => format!(
            "{s} · {}/{}/{}",
            outputs.get("count-total").map_or("", String::as_str),
            outputs.get("count-completed").map_or("", String::as_str),
            outputs.get("count-error").map_or("", String::as_str)
        ),
        None => NONE.to_owned(),
    };
    let outcome = match exit {
        Some(0) => "job ok".to_owned(),
        Some(code) => format!("job failed, exit {code}"),
        None => "job did not end".to_owned(),
    };
    Ran {
        outcome,
        counts,
        lines,
        text: log,
        dirs: vec![],
    }
}

/// A line as FAULTS.md shows it: colours dropped, timestamps, operation ids (24 hex digits)
/// and the wait of a 429 masked, `|` escaped, and at most 150 characters around `phrase`.
fn normalise(line: &str, phrase: &str) -> String {
    let chars: Vec<char> = super::without_colours(line).trim().chars().collect();
    // Operation ids: words of 24 hex digits.
    let mut out = super::mask_times_and_ids(&chars, |chars, i| {
        let starts_word = i == 0 || !chars[i - 1].is_ascii_alphanumeric();
        let hex = chars[i..]
            .iter()
            .take_while(|c| c.is_ascii_digit() || ('a'..='f').contains(c))
            .count();
        let ends_word = chars
            .get(i + hex)
            .is_none_or(|c| !c.is_ascii_alphanumeric());
        (starts_word && ends_word && hex == 24).then_some(hex)
    });
    if let Some(at) = out.find("waiting ") {
        let start = at + "waiting ".len();
        if out[start..].starts_with(|c: char| c.is_ascii_digit()) {
            let end = out[start..].find(' ').map_or(out.len(), |e| start + e);
            out.replace_range(start..end, "<duration>");
        }
    }
    const WIDTH: usize = 150;
    let all: Vec<char> = out.chars().collect();
    if all.len() > WIDTH {
        let at = out.find(phrase).map_or(0, |b| out[..b].chars().count());
        let start = at.saturating_sub(50).min(all.len() - WIDTH);
        let mut cut: String = all[start..start + WIDTH].iter().collect();
        if start > 0 {
            cut.insert(0, '…');
        }
        if start + WIDTH < all.len() {
            cut.push('…');
        }
        out = cut;
    }
    out.replace('|', "\\|")
}

/// The distinct lines holding `phrase` (diagnostic DEBUG/TRACE lines left out).
fn matching(lines: &[String], phrase: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for l in lines {
        if l.contains(" DEBUG ") || l.contains(" TRACE ") || !l.contains(phrase) {
            continue;
        }
        let n = normalise(l, phrase);
        if !found.contains(&n) {
            found.push(n);
        }
    }
    found
}

/// The section's cells, run at once. Returns the observations, the texts to scan for
/// secrets, and the report of the cells that did not behave.
/// The row's setup, and its `during` part in a thread of its own.
fn set_up(row: &'static Row, sb: &Arc<RocketChatHandle>) {
    (row.setup)(sb);
    if let Some(during) = row.during {
        let sb = sb.clone();
        std::thread::spawn(move || during(&sb));
    }
}

/// `only`: the row ids to run (`WOOSMAP_FAULT_MATRIX_ONLY`), if not all. The cells start
/// once `act_gate` resolves (the Woosmap section's act run has ended).
pub async fn run(only: Option<&[String]>, act_gate: tokio::sync::oneshot::Receiver<()>) -> Section {
    let rows: &'static [Row] = Box::leak(
        rows()
            .into_iter()
            .filter(|r| only.is_none_or(|o| o.iter().any(|x| x == r.id)))
            .collect::<Vec<_>>()
            .into_boxed_slice(),
    );
    // After the Woosmap section's act run: beside it, these cells slow the start of its jobs,
    // and some of its cells are timed against that start (on two loaded cores).
    let _ = act_gate.await;
    let section_started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let mut act_cells: Vec<(&'static Row, String)> = Vec::new();
    let mut act_boxes = Vec::new();
    for row in rows {
        for front in RcFront::ALL {
            let sb = Arc::new(sandbox(row).await);
            if front == RcFront::Action {
                // Set up when act starts.
                act_cells.push((row, sb.base_url()));
                act_boxes.push((row, sb));
                continue;
            }
            set_up(row, &sb);
            tasks.spawn(async move {
                let t0 = Instant::now();
                let ran = tokio::task::spawn_blocking({
                    let sb = sb.clone();
                    move || match front {
                        RcFront::Cli => run_cli(&sb, row),
                        RcFront::TfAction => run_tf_action(&sb, row),
                        _ => run_terraform(&sb, row),
                    }
                })
                .await
                .expect("cell thread");
                (row, front, sb, ran, t0.elapsed())
            });
        }
    }
    // The act run goes beside the other cells (each on a sandbox of its own).
    for (row, sb) in &act_boxes {
        set_up(row, sb);
    }
    let act = (!act_cells.is_empty()).then(|| {
        tokio::task::spawn_blocking({
            let cells = act_cells.clone();
            move || {
                let t0 = Instant::now();
                (run_act(&cells), t0.elapsed())
            }
        })
    });
    let mut results = Vec::new();
    while let Some(done) = tasks.join_next().await {
        results.push(done.expect("cell task"));
    }
    let ((jobs, act_log), act_took) = match act {
        Some(act) => act.await.expect("act thread"),
        None => Default::default(),
    };
    let _ = std::fs::write(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fault-matrix-rocketchat-act.log"),
        &act_log,
    );
    for (row, sb) in act_boxes {
        let (exit, log) = jobs.get(row.id).cloned().unwrap_or((None, String::new()));
        results.push((row, RcFront::Action, sb, action_ran(exit, log), act_took));
    }

    eprintln!(
        "fault matrix, Rocket.Chat section: {} cells in {:?} (its act run {act_took:?})",
        results.len(),
        section_started.elapsed()
    );
    let mut observed = BTreeMap::new();
    let mut report = String::new();
    let mut texts = vec![("Rocket.Chat act log".to_owned(), act_log)];
    let mut dirs = Vec::new();
    for (row, front, sb, ran, took) in results {
        let e = row.expect(front);
        let stats = sb.stats();
        let found = matching(&ran.lines, e.phrase);
        let o = Observed {
            row: row.id,
            front,
            outcome: ran.outcome.clone(),
            counts: ran.counts.clone(),
            phrase: e.phrase,
            message: found.first().cloned(),
            matches: found.len(),
            operations: stats.operations,
            aborts: stats.aborts,
            rate_limited: stats.rate_limited,
            seconds: super::tenths(took),
        };
        let failure = (!o.passed(&e)).then(|| {
            format!("expected {e:?}\n    observed {o:?}\n    lines holding the phrase: {found:#?}\n    stats {stats:?}")
        });
        super::record_cell(
            &mut report,
            &format!("{} / {front:?}", row.id),
            &o,
            failure,
            &ran.text,
        );
        texts.push((format!("{} / {front:?} output", row.id), ran.text));
        dirs.extend(ran.dirs);
        observed.insert((row.id, front), o);
    }
    Section {
        rows,
        observed,
        report,
        texts,
        dirs,
    }
}

/// The Rocket.Chat section's results.
pub struct Section {
    rows: &'static [Row],
    pub observed: BTreeMap<(&'static str, RcFront), Observed>,
    pub report: String,
    /// (what, text) to scan for secrets.
    pub texts: Vec<(String, String)>,
    /// Terraform working directories to scan for secrets, then remove.
    pub dirs: Vec<PathBuf>,
}

/// The tokens this section uses, for the secret scan.
pub const TOKENS: [&str; 2] = [DEFAULT_AUTH_TOKEN, WRONG_TOKEN];

impl Section {
    /// The Markdown section appended to FAULTS.md.
    pub fn render(&self) -> String {
        let mut md = String::new();
        md.push_str("\n## Rocket.Chat\n\n");
        md.push_str(
            "The Rocket.Chat bulk user import (`import.new` → `import.addUsers` → `import.run` → \
`import.status`) through each of its front ends: `rocketchat-import run`, the `rocketchat` \
provider's `rocketchat_user_import` resource under the same Terraform (`terraform apply`), its \
`rocketchat_user_import` action under the same Terraform \
(`terraform apply -invoke=action.rocketchat_user_import.NAME`) and the GitHub Action \
(`service: rocketchat`) under real `act`. Its cells run at once, after the Woosmap \
section's, each with its own Rocket.Chat \
sandbox (`woosmap-sandbox --rocketchat`): the default limiter's 10 calls per route with a 2 s \
window, imports of 1 s unless the setup says otherwise, poll interval 300 ms (the provider's \
own, for its resource and its action: 2 s).\n\n\
- **Counts**: the state and `total/completed/error` counts the front end reported (the CLI's \
last line, the resource's state, the outcome sentence of the Terraform action (its last progress \
line or its error), the GitHub Action's outputs); `—` when it reported none.\n\
- **Operations / aborts**: operations the sandbox created, by anyone / operations `import.new` or \
`import.clear` aborted while they were loading, ready or importing. Our pacing provoked no 429 \
from the sandbox's limiter in any cell.\n\
- **Message**: the phrase the cell requires, and the one output line holding it (a phrase found \
in several lines fails the cell). For Terraform, a line is a paragraph of its output or a \
`provider log:` line; for its action, also a progress line (`progress: MESSAGE`) or the failure \
line (`Action failed: MESSAGE`; the error's paragraph repeating it is left out); for the GitHub \
Action, a line of the step's log or its `message` output.\n\
- Every output, log, act's log and Terraform working directory is scanned for the auth tokens.\n\n",
        );
        super::overview_header(&mut md, RcFront::ALL.map(RcFront::title));
        for row in self.rows {
            let _ = write!(md, "| [{}](#{}) |", row.title, row.id.replace('_', "-"));
            for front in RcFront::ALL {
                let cell = match self.observed.get(&(row.id, front)) {
                    Some(o) => format!(
                        "{} {} · {}",
                        if o.passed(&row.expect(front)) {
                            "✅"
                        } else {
                            "❌"
                        },
                        o.outcome,
                        o.counts
                    ),
                    None => "❌ not run".to_owned(),
                };
                let _ = write!(md, " {cell} |");
            }
            md.push('\n');
        }
        for row in self.rows {
            let columns = "Front end | Outcome expected | Outcome observed | Counts expected | Counts observed | Operations / aborts expected | Operations / aborts observed | Message";
            super::cell_heading(&mut md, (row.title, row.id, row.setup_text), columns);
            for front in RcFront::ALL {
                let e = row.expect(front);
                let Some(o) = self.observed.get(&(row.id, front)) else {
                    let _ = writeln!(
                        md,
                        "| {} | {} | ❌ not run | | | | | |",
                        front.title(),
                        e.outcome
                    );
                    continue;
                };
                let msg = match (&o.message, o.matches) {
                    (Some(m), 1) => format!("`{m}`"),
                    (Some(m), n) => format!("**{n} lines**, first `{m}`"),
                    (None, _) => "**phrase not found**".to_owned(),
                };
                let _ = writeln!(
                    md,
                    "| {} | {} | {} {} | {} | {} | {} / {} | {} / {} | “{}” → {} |",
                    front.title(),
                    e.outcome,
                    if o.passed(&e) { "✅" } else { "❌" },
                    o.outcome,
                    e.counts,
                    o.counts,
                    e.operations,
                    e.aborts,
                    o.operations,
                    o.aborts,
                    e.phrase.replace('|', "\\|"),
                    msg
                );
            }
        }
        md
    }
}
