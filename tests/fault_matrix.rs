//! The fault matrix: every fault the API (or the machine) can throw at an import, through
//! every front end — the real `woosmap-import` binary, the provider's resource and its action
//! (`-invoke`) under real Terraform, and the GitHub Action under real `act` — against one
//! in-process sandbox with short windows. Each cell gets its own dataset, so all cells run at
//! once.
//!
//! For each cell the run records the outcome (exit code / apply result / job result, and for a
//! success whether the run reported is the one the sandbox started last), a key phrase of the
//! message and the line it was found in, and what the sandbox saw for the dataset: trigger
//! requests (any answer) and runs started. The observations go to `target/fault-matrix.json`;
//! `FAULTS.md` at the root is rendered from them and must equal the committed file
//! (`WOOSMAP_UPDATE_FAULTS=1` rewrites it). Every output, log and Terraform state of every cell
//! is also scanned for the keys, and the sandbox must have seen no key in a query string and
//! no 429 provoked by our own pacing.
//!
//! The Rocket.Chat section (`fault_matrix/rocketchat.rs`: its CLI, resource, Terraform action
//! and GitHub Action, each cell on its own Rocket.Chat sandbox) runs once the Woosmap act run
//! has ended and is rendered at the end of FAULTS.md.

mod common;
#[path = "fault_matrix/rocketchat.rs"]
mod rocketchat;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::terraform::{Import, Terraform};
use common::{KEY, OTHER_KEYS, assert_no_secrets, assert_no_secrets_in_dir, dataset};
use serde::Serialize;
use woosmap_sandbox::{
    DatasetConfig, Fault, FaultBody, FaultEndpoint, FaultKind, KeyState, Outcome, SandboxHandle,
};

const WRONG_KEY: &str = OTHER_KEYS[0];
const NO_QUOTA_KEY: &str = OTHER_KEYS[1];
/// Start delay and import duration of the sandbox (see `common::fast_config`).
const START_DELAY: Duration = Duration::from_millis(500);
/// Longest a single cell may take before the suite gives up on it.
const CELL_LIMIT: Duration = Duration::from_secs(120);
const FAULTS_MD: &str = "FAULTS.md";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
enum Front {
    Cli,
    Terraform,
    /// The Terraform action, invoked by hand (`terraform apply -invoke=action...`).
    TfAction,
    Action,
}

impl Front {
    const ALL: [Front; 4] = [Front::Cli, Front::Terraform, Front::TfAction, Front::Action];
    fn title(self) -> &'static str {
        match self {
            Front::Cli => "CLI",
            Front::Terraform => "Terraform",
            Front::TfAction => "Terraform action",
            Front::Action => "GitHub Action",
        }
    }
}

/// How a cell is driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Driver {
    /// Run to the end.
    Plain,
    /// SIGKILL mid-wait (Terraform: the terraform process, then what is left of its process
    /// group), then run again.
    KillAndRerun,
    /// SIGINT mid-wait (Ctrl-C).
    Interrupt,
}

/// What a cell must show.
#[derive(Debug, Clone, Copy)]
struct Expect {
    outcome: &'static str,
    /// A phrase the output must contain (the observed line containing it is recorded).
    phrase: &'static str,
    triggers: u64,
    runs: usize,
    /// The phrase must appear exactly once (outside debug lines), not just appear.
    once: bool,
}

const fn ex(outcome: &'static str, phrase: &'static str, triggers: u64, runs: usize) -> Expect {
    Expect {
        outcome,
        phrase,
        triggers,
        runs,
        once: false,
    }
}

impl Expect {
    /// The phrase must appear once (a warning given once, not on every request).
    const fn once(self) -> Expect {
        Expect { once: true, ..self }
    }
}

/// One fault, with what each front end must make of it (`None`: not applicable, `na` says why).
struct Row {
    id: &'static str,
    title: &'static str,
    setup_text: &'static str,
    setup: fn(&SandboxHandle, &str, Front),
    key: &'static str,
    request_timeout: Option<&'static str>,
    /// The overall wait (`--timeout`, `timeouts.create`, `timeout` input); default 2m.
    timeout: Option<&'static str>,
    driver: Driver,
    cli: Option<Expect>,
    terraform: Option<Expect>,
    action: Option<Expect>,
    na: &'static str,
}

impl Row {
    fn expect(&self, front: Front) -> Option<Expect> {
        match front {
            Front::Cli => self.cli,
            Front::Terraform => self.terraform,
            Front::TfAction => self.terraform.map(tf_action_expect),
            Front::Action => self.action,
        }
    }
}

/// The Terraform action's column, derived from the resource's: the same provider and engine
/// behind another RPC, so the same triggers, runs and provider-log phrases. Only the outcome's
/// wording differs (`invoke` for `apply`), and a success is found in the action's own
/// progress line instead of the apply summary.
fn tf_action_expect(resource: Expect) -> Expect {
    let outcome = match resource.outcome {
        TF_OK => TF_INVOKE_OK,
        "apply exit 1" => "invoke exit 1",
        "killed; re-apply exit 0 · newest run" => "killed; re-invoke exit 0 · newest run",
        other => other,
    };
    let phrase = match resource.phrase {
        "Apply complete! Resources: 1 added" => "ended: success",
        other => other,
    };
    Expect {
        outcome,
        phrase,
        ..resource
    }
}

fn nothing(_: &SandboxHandle, _: &str, _: Front) {}

/// The future-dated row's setup: a first run (the CLI, `--no-wait`) triggers the dataset with
/// the cell's pacer folder and leaves its trigger record there (an accepted claim, and the run
/// that was latest before it); every time in the record is then moved an hour ahead, as a wall
/// clock stepped back since (or a corrupt write) would leave it.
fn future_dated_record(sb: &SandboxHandle, id: &str, _: Front) {
    let dir = cell_pacer_dir(id);
    let first = common::cli(sb)
        .env("WOOSMAP_PACER_DIR", &dir)
        .args(["run", "--dataset-id", id, "--no-wait"])
        .output()
        .unwrap();
    assert!(first.status.success(), "the first run: {first:?}");
    let dated = common::pacer::date_slot_records_ahead(&dir, Duration::from_secs(3600));
    assert!(
        dated > 0,
        "the first run left no record in {}",
        dir.display()
    );
}

/// The phrase of the silent-server row.
const SILENT: &str = "accepted the connection but sent no answer in";
/// The password of the `url_password` row: scanned for like the keys.
const URL_PASSWORD: &str = "pw-0c0ffee-in-a-url";

/// The pacer folder of one cell, for the rows whose cells need one of their own (the
/// local-record rows): inside the test binary's private folder, removed at its exit.
fn cell_pacer_dir(id: &str) -> PathBuf {
    common::pacer::root().join(format!("cell-{id}"))
}

/// The read-only row's folder: one of this user in which nobody can create a file (mode
/// 500), or `/proc/self/fdinfo` when the tests run as root, who writes through modes (each
/// process's own: of its user, mode 500, and nothing can be created in it, even by root).
fn read_only_pacer_dir(id: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = cell_pacer_dir(id);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o500)).unwrap();
    let probe = dir.join("probe");
    if std::fs::write(&probe, "").is_ok() {
        let _ = std::fs::remove_file(&probe);
        PathBuf::from("/proc/self/fdinfo")
    } else {
        dir
    }
}

/// The pacer folder (`WOOSMAP_PACER_DIR`) a row's cell uses instead of the test binary's
/// shared one, if its row needs its own.
fn row_pacer_dir(row: &Row, id: &str) -> Option<PathBuf> {
    match row.id {
        "future_record" => Some(cell_pacer_dir(id)),
        "pacer_read_only" => Some(read_only_pacer_dir(id)),
        _ => None,
    }
}

/// Environment a row sets for its front end's process, on top of the usual (`base_url`: the
/// sandbox's; `id`: the cell's dataset). The GitHub Action cells of the settings rows run the
/// step directly (a workflow file cannot hold every value), with the action's inputs as
/// `INPUT_*` variables; the act cells of rows with a pacer folder of their own get it in the
/// step's `env` (see [`workflow`]).
fn row_env(row: &Row, front: Front, base_url: &str, id: &str) -> Vec<(&'static str, OsString)> {
    if let Some(dir) = row_pacer_dir(row, id) {
        return vec![("WOOSMAP_PACER_DIR", dir.into_os_string())];
    }
    let name = match front {
        Front::Action => "INPUT_BASE-URL",
        _ => "WOOSMAP_BASE_URL",
    };
    match row.id {
        "setting_not_utf8" => {
            let mut bytes = b"http://127.0.0.1:1/".to_vec();
            bytes.push(0xe9);
            vec![(name, OsString::from_vec(bytes))]
        }
        "url_password" => vec![(
            name,
            base_url
                .replacen("http://", &format!("http://user:{URL_PASSWORD}@"), 1)
                .into(),
        )],
        _ => vec![],
    }
}

/// Whether the row's GitHub Action cell runs under act (else the step is run directly).
fn via_act(row: &Row) -> bool {
    row.driver == Driver::Plain && !matches!(row.id, "setting_not_utf8" | "url_password")
}

fn on(kind: FaultKind, endpoint: FaultEndpoint, id: &str) -> Fault {
    Fault::new(kind).on(endpoint).for_dataset(id)
}

const OK: &str = "exit 0 · newest run";
const TF_OK: &str = "apply exit 0 · newest run";
const TF_INVOKE_OK: &str = "invoke exit 0 · newest run";
const JOB_OK: &str = "job ok · newest run";

fn rows() -> Vec<Row> {
    vec![
        Row {
            id: "none",
            title: "No fault (control)",
            setup_text: "—",
            setup: nothing,
            key: KEY,
            request_timeout: None,
            timeout: None,
            driver: Driver::Plain,
            cli: Some(ex(OK, "import succeeded", 1, 1)),
            terraform: Some(ex(TF_OK, "Apply complete! Resources: 1 added", 1, 1)),
            action: Some(ex(JOB_OK, "ended: success", 1, 1)),
            na: "",
        },
        Row {
            id: "undocumented_final_status",
            title: "A run ends with a status the docs do not list",
            setup_text: "outcome cancelled (run and import step `cancelled`, every step ended)",
            setup: |sb, id, _| {
                sb.configure_dataset(id, DatasetConfig::default().outcome(Outcome::Cancelled))
                    .unwrap()
            },
            key: KEY,
            request_timeout: None,
            timeout: None,
            driver: Driver::Plain,
            cli: Some(ex("exit 1", "cancelled", 1, 1)),
            terraform: Some(ex("apply exit 1", "ended with status \"cancelled\"", 1, 1)),
            action: Some(ex("job failed, exit 1", "ended: cancelled", 1, 1)),
            na: "",
        },
        Row {
            id: "not_triggered",
            title: "The timeout passes before a trigger could be sent",
            setup_text: "someone else's import runs forever; timeout 2s",
            setup: |sb, id, _| {
                sb.configure_dataset(
                    id,
                    DatasetConfig::default().outcome(Outcome::Never).running(),
                )
                .unwrap()
            },
            key: KEY,
            request_timeout: None,
            timeout: Some("2s"),
            driver: Driver::Plain,
            cli: Some(ex("exit 7", "Nothing was triggered", 0, 1)),
            terraform: Some(ex("apply exit 1", "Nothing was triggered", 0, 1)),
            action: Some(ex("job failed, exit 7", "Nothing was triggered", 0, 1)),
            na: "",
        },
        Row {
            id: "status_5xx_burst",
            title: "5xx burst on the status",
            setup_text: "status: 503, 502 (HTML), 500 (JSON), 503",
            setup: |sb, id, _| {
                sb.inject(on(FaultKind::Http503, FaultEndpoint::Status, id));
                sb.inject(on(FaultKind::Http502, FaultEndpoint::Status, id));
                sb.inject(on(FaultKind::Http500, FaultEndpoint::Status, id).body(FaultBody::Json));
                sb.inject(on(FaultKind::Http503, FaultEndpoint::Status, id));
            },
            key: KEY,
            request_timeout: None,
            timeout: None,
            driver: Driver::Plain,
            cli: Some(ex(OK, "server error (HTTP 502)", 1, 1)),
            terraform: Some(ex(TF_OK, "server error (HTTP 502)", 1, 1)),
            action: Some(ex(JOB_OK, "server error (HTTP 502)", 1, 1)),
            na: "",
        },
        Row {
            id: "trigger_5xx",
            title: "5xx on the trigger (lost trigger)",
            setup_text: "trigger: 503 (no import started); the engine confirms through the status before triggering again",
            setup: |sb, id, _| sb.inject(on(FaultKind::Http503, FaultEndpoint::Trigger, id)),
            key: KEY,
            request_timeout: None,
            timeout: None,
            driver: Driver::Plain,
            cli: Some(ex(OK, "the trigger's outcome is unknown (HTTP 503)", 2, 1)),
            terraform: Some(ex(
                TF_OK,
                "the trigger's outcome is unknown (HTTP 503)",
                2,
                1,
            )),
            action: Some(ex(
                JOB_OK,
                "the trigger's outcome is unknown (HTTP 503)",
                2,
                1,
            )),
            na: "",
        },
        Row {
            id: "status_reset",
            title: "Connection resets on the status",
            setup_text: "status: cut mid-body, then closed before any byte",
            setup: |sb, id, _| {
                sb.inject(on(FaultKind::Reset, FaultEndpoint::Status, id));
                sb.inject(on(FaultKind::Reset, FaultEndpoint::Status, id).body(FaultBody::Empty));
            },
            key: KEY,
            request_timeout: None,
            timeout: None,
            driver: Driver::Plain,
            cli: Some(ex(OK, "connection failed", 1, 1)),
            terraform: Some(ex(TF_OK, "connection failed", 1, 1)),
            action: Some(ex(JOB_OK, "connection failed", 1, 1)),
            na: "",
        },
        Row {
            id: "trigger_reset",
            title: "Connection reset on the trigger",
            setup_text: "trigger: closed before any byte (no import started)",
            setup: |sb, id, _| {
                sb.inject(on(FaultKind::Reset, FaultEndpoint::Trigger, id).body(FaultBody::Empty))
            },
            key: KEY,
            request_timeout: None,
            timeout: None,
            driver: Driver::Plain,
            cli: Some(ex(OK, "import succeeded", 2, 1)),
            terraform: Some(ex(TF_OK, "Apply complete! Resources: 1 added", 2, 1)),
            action: Some(ex(JOB_OK, "ended: success", 2, 1)),
            na: "",
        },
        Row {
            id: "status_slow",
            title: "Slow status past the request timeout",
            setup_text: "status: answer held 3 s; WOOSMAP_REQUEST_TIMEOUT=1s",
            setup: |sb, id, _| {
                sb.inject(
                    on(FaultKind::Slow, FaultEndpoint::Status, id).delay(Duration::from_secs(3)),
                )
            },
            key: KEY,
            request_timeout: Some("1s"),
            timeout: None,
            driver: Driver::Plain,
            cli: Some(ex(OK, "no answer within 1s", 1, 1)),
            terraform: Some(ex(TF_OK, "no answer within 1s", 1, 1)),
            action: Some(ex(JOB_OK, "no answer within 1s", 1, 1)),
            na: "",
        },
        Row {
            id: "trigger_answer_lost",
            title: "Trigger answer lost at the deadline",
            setup_text: "trigger: handled (the import starts), answer held 60 s; timeout 3s",
            setup: |sb, id, _| {
                sb.inject(
                    on(FaultKind::Slow, FaultEndpoint::Trigger, id).delay(Duration::from_secs(60)),
                )
            },
            key: KEY,
            request_timeout: None,
            timeout: Some("3s"),
            driver: Driver::Plain,
            cli: Some(ex("exit 3", "its answer was lost", 1, 1)),
            terraform: Some(ex("apply exit 1", "its answer was lost", 1, 1)),
            action: Some(ex("job failed, exit 3", "its answer was lost", 1, 1)),
            na: "",
        },
        Row {
            id: "date_lag",
            title: "Lagging Date header",
            setup_text: "a run started (and soon ended) just before; every answer's Date 8 s behind the steps' clock",
            setup: |sb, id, _| {
                sb.configure_dataset(
                    id,
                    DatasetConfig::default()
                        .duration(Duration::from_millis(200))
                        .running()
                        .date_lag(Duration::from_secs(8)),
                )
                .unwrap()
            },
            key: KEY,
            request_timeout: None,
            timeout: None,
            driver: Driver::Plain,
            cli: Some(ex(OK, "import succeeded", 1, 2)),
            terraform: Some(ex(TF_OK, "Apply complete! Resources: 1 added", 1, 2)),
            action: Some(ex(JOB_OK, "ended: success", 1, 2)),
            na: "",
        },
        Row {
            id: "trigger_slow",
            title: "Slow trigger past the request timeout",
            setup_text: "trigger: handled (the import starts), answer held 3 s; WOOSMAP_REQUEST_TIMEOUT=1s",
            setup: |sb, id, _| {
                sb.inject(
                    on(FaultKind::Slow, FaultEndpoint::Trigger, id).delay(Duration::from_secs(3)),
                )
            },
            key: KEY,
            request_timeout: Some("1s"),
            timeout: None,
            driver: Driver::Plain,
            cli: Some(ex(OK, "import succeeded", 1, 1)),
            terraform: Some(ex(TF_OK, "Apply complete! Resources: 1 added", 1, 1)),
            action: Some(ex(JOB_OK, "ended: success", 1, 1)),
            na: "",
        },
        Row {
            id: "garbage",
            title: "Garbage JSON",
            setup_text: "status: 200 with HTML, truncated JSON, wrong-shape JSON, empty body",
            setup: |sb, id, _| {
                for body in [
                    FaultBody::Html,
                    FaultBody::Truncated,
                    FaultBody::Json,
                    FaultBody::Empty,
                ] {
                    sb.inject(on(FaultKind::Garbage, FaultEndpoint::Status, id).body(body));
                }
            },
            key: KEY,
            request_timeout: None,
            timeout: None,
            driver: Driver::Plain,
            cli: Some(ex(OK, "unreadable response", 1, 1)),
            terraform: Some(ex(TF_OK, "unreadable response", 1, 1)),
            action: Some(ex(JOB_OK, "unreadable response", 1, 1)),
            na: "",
        },
        Row {
            id: "rate_limit_retry_after",
            title: "429 with Retry-After",
            setup_text: "trigger: 429 + Retry-After: 1; status: 429 + Retry-After: 1, twice",
            setup: |sb, id, _| {
                sb.inject(on(FaultKind::RateLimit, FaultEndpoint::Trigger, id).retry_after(1));
                sb.inject(
                    on(FaultKind::RateLimit, FaultEndpoint::Status, id)
                        .retry_after(1)
                        .times(2),
                );
            },
            key: KEY,
            request_timeout: None,
            timeout: None,
            driver: Driver::Plain,
            cli: Some(ex(OK, "rate limited (HTTP 429)", 2, 1)),
            terraform: Some(ex(TF_OK, "rate limited (HTTP 429)", 2, 1)),
            action: Some(ex(JOB_OK, "rate limited (HTTP 429)", 2, 1)),
            na: "",
        },
        Row {
            id: "rate_limit_no_retry_after",
            title: "429 without Retry-After",
            setup_text: "trigger: 429; status: 429, twice (the documented window is waited out)",
            setup: |sb, id, _| {
                sb.inject(on(FaultKind::RateLimit, FaultEndpoint::Trigger, id));
                sb.inject(on(FaultKind::RateLimit, FaultEndpoint::Status, id).times(2));
            },
            key: KEY,
            request_timeout: None,
            timeout: None,
            driver: Driver::Plain,
            cli: Some(ex(OK, "rate limited (HTTP 429)", 2, 1)),
            terraform: Some(ex(TF_OK, "rate limited (HTTP 429)", 2, 1)),
            action: Some(ex(JOB_OK, "rate limited (HTTP 429)", 2, 1)),
            na: "",
        },
        Row {
            id: "status_stale",
            title: "Status shows the previous run for many polls",
            setup_text: "trigger: status_stale, the new run stays hidden 2.5 s (8+ polls)",
            setup: |sb, id, _| {
                sb.inject(
                    on(FaultKind::StatusStale, FaultEndpoint::Trigger, id)
                        .delay(Duration::from_millis(2500)),
                )
            },
            key: KEY,
            request_timeout: None,
            timeout: None,
            driver: Driver::Plain,
            cli: Some(ex(OK, "import succeeded", 1, 1)),
            terraform: Some(ex(TF_OK, "Apply complete! Resources: 1 added", 1, 1)),
            action: Some(ex(JOB_OK, "ended: success", 1, 1)),
            na: "",
        },
        Row {
            id: "first_run_404",
            title: "404 before a first run",
            setup_text: "dataset never imported: the status answers 404 until the run appears",
            setup: |sb, id, _| {
                sb.configure_dataset(id, DatasetConfig::never_imported())
                    .unwrap()
            },
            key: KEY,
            request_timeout: None,
            timeout: None,
            driver: Driver::Plain,
            cli: Some(ex(OK, "no import has run yet", 1, 1)),
            terraform: Some(ex(TF_OK, "no import has run yet", 1, 1)),
            action: Some(ex(JOB_OK, "no import has run yet", 1, 1)),
            na: "",
        },
        Row {
            id: "already_running",
            title: "An import already running when we start",
            setup_text: "a run is in progress (3 s; 20 s for Terraform and the GitHub Action, as they take longer to start on loaded cores); we wait for it, then trigger ours (1.5 s)",
            setup: |sb, id, front| {
                let secs = match front {
                    Front::Cli => 3,
                    Front::Terraform | Front::TfAction | Front::Action => 20,
                };
                sb.configure_dataset(
                    id,
                    DatasetConfig::default()
                        .duration(Duration::from_secs(secs))
                        .running(),
                )
                .unwrap();
                // The runs started from now on (ours) take the usual time.
                sb.configure_dataset(
                    id,
                    DatasetConfig::default().duration(common::fast_config().import_duration),
                )
                .unwrap()
            },
            key: KEY,
            request_timeout: None,
            timeout: None,
            driver: Driver::Plain,
            cli: Some(ex(OK, "already running", 1, 2)),
            terraform: Some(ex(TF_OK, "already running", 1, 2)),
            action: Some(ex(JOB_OK, "already running", 1, 2)),
            na: "",
        },
        Row {
            id: "never_ending",
            title: "A never-ending import",
            // 3 s: on two loaded cores a process may take over a second to start, and the run
            // (shown 0.5 s after the trigger) must have shown up by the deadline.
            setup_text: "outcome never; timeout 3s",
            setup: |sb, id, _| {
                sb.configure_dataset(id, DatasetConfig::default().outcome(Outcome::Never))
                    .unwrap()
            },
            key: KEY,
            request_timeout: None,
            timeout: Some("3s"),
            driver: Driver::Plain,
            cli: Some(ex("exit 3", "did not finish within 3s", 1, 1)),
            terraform: Some(ex("apply exit 1", "did not finish in time", 1, 1)),
            action: Some(ex("job failed, exit 3", "did not finish within 3s", 1, 1)),
            na: "",
        },
        Row {
            id: "import_failed",
            title: "The import fails",
            setup_text: "outcome failed (error entries in the import step)",
            setup: |sb, id, _| {
                sb.configure_dataset(id, DatasetConfig::default().outcome(Outcome::Failed))
                    .unwrap()
            },
            key: KEY,
            request_timeout: None,
            timeout: None,
            driver: Driver::Plain,
            cli: Some(ex("exit 1", "missing required property 'storeId'", 1, 1)),
            terraform: Some(ex(
                "apply exit 1",
                "missing required property 'storeId'",
                1,
                1,
            )),
            action: Some(ex(
                "job failed, exit 1",
                "missing required property 'storeId'",
                1,
                1,
            )),
            na: "",
        },
        Row {
            id: "http_401",
            title: "401 Unable to locate credentials",
            setup_text: "every request: http_401",
            setup: |sb, id, _| sb.inject(Fault::new(FaultKind::Http401).for_dataset(id).times(10)),
            key: KEY,
            request_timeout: None,
            timeout: None,
            driver: Driver::Plain,
            cli: Some(ex("exit 4", "HTTP 401", 0, 0)),
            terraform: Some(ex("apply exit 1", "HTTP 401", 0, 0)),
            action: Some(ex("job failed, exit 4", "HTTP 401", 0, 0)),
            na: "",
        },
        Row {
            id: "http_402",
            title: "402 Out of free quota",
            setup_text: "a key whose quota is spent",
            setup: |sb, _, _| sb.set_key_state(NO_QUOTA_KEY, KeyState::NoQuota),
            key: NO_QUOTA_KEY,
            request_timeout: None,
            timeout: None,
            driver: Driver::Plain,
            cli: Some(ex("exit 5", "HTTP 402", 0, 0)),
            terraform: Some(ex("apply exit 1", "HTTP 402", 0, 0)),
            action: Some(ex("job failed, exit 5", "HTTP 402", 0, 0)),
            na: "",
        },
        Row {
            id: "http_403",
            title: "403 Credentials found, but not matching",
            setup_text: "a key the API does not know",
            setup: nothing,
            key: WRONG_KEY,
            request_timeout: None,
            timeout: None,
            driver: Driver::Plain,
            cli: Some(ex("exit 4", "HTTP 403", 0, 0)),
            terraform: Some(ex("apply exit 1", "HTTP 403", 0, 0)),
            action: Some(ex("job failed, exit 4", "HTTP 403", 0, 0)),
            na: "",
        },
        Row {
            id: "http_404",
            title: "404 Dataset was not found",
            setup_text: "a dataset that does not exist (status and trigger answer 404)",
            setup: |sb, id, _| sb.configure_dataset(id, DatasetConfig::missing()).unwrap(),
            key: KEY,
            request_timeout: None,
            timeout: None,
            driver: Driver::Plain,
            cli: Some(ex("exit 2", "not found", 1, 0)),
            terraform: Some(ex("apply exit 1", "not found", 1, 0)),
            action: Some(ex("job failed, exit 2", "not found", 1, 0)),
            na: "",
        },
        Row {
            id: "http_422",
            title: "422 validation error",
            setup_text: "trigger: http_422 (FastAPI body: body.source Field required)",
            setup: |sb, id, _| sb.inject(on(FaultKind::Http422, FaultEndpoint::Trigger, id)),
            key: KEY,
            request_timeout: None,
            timeout: None,
            driver: Driver::Plain,
            cli: Some(ex("exit 2", "body.source: Field required", 1, 0)),
            terraform: Some(ex("apply exit 1", "body.source: Field required", 1, 0)),
            action: Some(ex(
                "job failed, exit 2",
                "body.source: Field required",
                1,
                0,
            )),
            na: "",
        },
        Row {
            id: "silent_server",
            title: "A silent server (the connection is accepted, no answer ever comes)",
            setup_text: "status: `silent` (no byte of an answer); timeout 5s, request timeout 30s (default)",
            setup: |sb, id, _| {
                sb.inject(on(FaultKind::Silent, FaultEndpoint::Status, id).times(1000))
            },
            key: KEY,
            request_timeout: None,
            timeout: Some("5s"),
            driver: Driver::Plain,
            cli: Some(ex("exit 6", SILENT, 0, 0)),
            terraform: Some(ex("apply exit 1", SILENT, 0, 0)),
            action: Some(ex("job failed, exit 6", SILENT, 0, 0)),
            na: "",
        },
        Row {
            id: "future_record",
            title: "A future-dated local record",
            setup_text: "a first run (`woosmap-import run --no-wait`, with the cell's own pacer folder) triggers the dataset and leaves its trigger record; every time in the record is then moved an hour ahead (a wall clock stepped back since). The record is a hint, never evidence: ignored, not clamped to now, so the front end triggers and reports its own run, not the first one",
            setup: future_dated_record,
            key: KEY,
            request_timeout: None,
            timeout: None,
            driver: Driver::Plain,
            cli: Some(ex(OK, "import succeeded", 2, 2)),
            terraform: Some(ex(TF_OK, "Apply complete! Resources: 1 added", 2, 2)),
            action: Some(ex(JOB_OK, "ended: success", 2, 2)),
            na: "",
        },
        Row {
            id: "pacer_read_only",
            title: "A read-only pacer folder",
            setup_text: "the cell's pacer folder (`WOOSMAP_PACER_DIR`; for the GitHub Action, the step's `env`) cannot be written (mode 500; `/proc/self/fdinfo` when the tests run as root). Pacing falls back to the process, with one warning (Terraform: a warning diagnostic), and no 429 follows",
            setup: nothing,
            key: KEY,
            request_timeout: None,
            timeout: None,
            driver: Driver::Plain,
            cli: Some(ex(OK, "not sharing rate-limit pacing", 1, 1).once()),
            terraform: Some(ex(TF_OK, "Rate-limit pacing is not shared", 1, 1).once()),
            action: Some(ex(JOB_OK, "not sharing rate-limit pacing", 1, 1).once()),
            na: "",
        },
        Row {
            id: "setting_not_utf8",
            title: "A setting that is not UTF-8",
            setup_text: "WOOSMAP_BASE_URL (GitHub Action: the `base-url` input, the step run as action.yml runs it, since a workflow file cannot hold such bytes) ends with a Latin-1 byte",
            setup: nothing,
            key: KEY,
            request_timeout: None,
            timeout: None,
            driver: Driver::Plain,
            cli: Some(ex(
                "exit 2",
                "WOOSMAP_BASE_URL=(not UTF-8) is not valid",
                0,
                0,
            )),
            terraform: Some(ex(
                "apply exit 1",
                "WOOSMAP_BASE_URL=(not UTF-8) is not valid",
                0,
                0,
            )),
            action: Some(ex("exit 2", "input `base-url`: expected UTF-8 text", 0, 0)),
            na: "",
        },
        Row {
            id: "url_password",
            title: "A password in the base URL",
            setup_text: "WOOSMAP_BASE_URL (GitHub Action: the `base-url` input, the step run as action.yml runs it) is `http://user:PASSWORD@` the sandbox; the password appears in no output, log or state",
            setup: nothing,
            key: KEY,
            request_timeout: None,
            timeout: None,
            driver: Driver::Plain,
            cli: Some(ex("exit 2", "must not hold credentials", 0, 0)),
            terraform: Some(ex("apply exit 1", "must not hold credentials", 0, 0)),
            action: Some(ex("exit 2", "must not hold credentials", 0, 0)),
            na: "",
        },
        Row {
            id: "killed_rerun",
            title: "Killed mid-wait (SIGKILL), then run again",
            setup_text: "imports last 4 s (Terraform: 10 s, as it takes longer to start on loaded cores); SIGKILL once our run shows, run again at once: it waits for that import, then triggers its own",
            setup: |sb, id, front| {
                let secs = if front == Front::Cli { 4 } else { 10 };
                sb.configure_dataset(
                    id,
                    DatasetConfig::default().duration(Duration::from_secs(secs)),
                )
                .unwrap()
            },
            key: KEY,
            request_timeout: None,
            timeout: None,
            driver: Driver::KillAndRerun,
            cli: Some(ex(
                "killed; rerun exit 0 · newest run",
                "already running",
                2,
                2,
            )),
            terraform: Some(ex(
                "killed; re-apply exit 0 · newest run",
                "already running",
                2,
                2,
            )),
            action: None,
            na: "the action step is the CLI process (`woosmap-import action`); a killed runner is the CLI row",
        },
        Row {
            id: "interrupted",
            title: "Ctrl-C mid-wait",
            setup_text: "outcome never; SIGINT once our run shows",
            setup: |sb, id, _| {
                sb.configure_dataset(id, DatasetConfig::default().outcome(Outcome::Never))
                    .unwrap()
            },
            key: KEY,
            request_timeout: None,
            timeout: None,
            driver: Driver::Interrupt,
            cli: Some(ex("exit 130", "keep running on Woosmap's side", 1, 1)),
            terraform: Some(ex("apply exit 1", "Stopped waiting", 1, 1)),
            action: Some(ex("exit 130", "keep running on Woosmap's side", 1, 1)),
            na: "",
        },
    ]
}

/// What one cell showed.
#[derive(Debug, Clone, Serialize)]
struct Observed {
    row: &'static str,
    front: Front,
    outcome: String,
    phrase: &'static str,
    /// The first output line holding the phrase, normalised (ids, times, delays masked).
    message: Option<String>,
    /// How many output lines (debug lines left out) hold the phrase.
    phrase_lines: usize,
    triggers: u64,
    runs: usize,
    triggers_while_running: u64,
    seconds: f64,
}

impl Observed {
    fn passed(&self, e: &Expect) -> bool {
        self.outcome == e.outcome
            && self.message.is_some()
            && (!e.once || self.phrase_lines == 1)
            && self.triggers == e.triggers
            && self.runs == e.runs
            && self.triggers_while_running == 0
    }
}

/// What a driven front end gave back, before the sandbox's counters are read.
struct Ran {
    outcome: String,
    text: String,
    reported_run: Option<String>,
    /// Paths to scan for keys (Terraform working directories).
    dirs: Vec<PathBuf>,
}

/// A duration in seconds, to the tenth.
fn tenths(took: Duration) -> f64 {
    (took.as_secs_f64() * 10.0).round() / 10.0
}

/// A cell (`row / front`) observed as `observed`, with its output `text`: printed when
/// `WOOSMAP_FAULT_MATRIX_DEBUG` is set; added to `report` with its `failure` (expected,
/// observed and what helps tell why), if any.
fn record_cell(
    report: &mut String,
    cell: &str,
    observed: &dyn std::fmt::Debug,
    failure: Option<String>,
    text: &str,
) {
    if std::env::var_os("WOOSMAP_FAULT_MATRIX_DEBUG").is_some() {
        eprintln!("=== {cell}: {observed:?}\n{text}");
    }
    if let Some(failure) = failure {
        let _ = writeln!(report, "\n=== {cell}: {failure}\n--- output\n{text}");
    }
}

fn newest(sb: &SandboxHandle, id: &str) -> Option<String> {
    sb.stats().dataset(id).and_then(|d| d.runs.last().cloned())
}

/// Waits until the front end is polling the run it triggered (a trigger was accepted, the
/// start delay passed, and it read the status showing the run), so that a signal lands
/// mid-wait.
fn wait_for_our_run(sb: &SandboxHandle, id: &str) {
    common::wait::until_polling_new_run(sb, id, START_DELAY, Duration::from_secs(30));
}

/// `kill SIG -- PID` (a negative pid names a process group); a process already gone is fine.
fn signal(pid: i32, sig: &str) {
    let _ = Command::new("kill")
        .args([sig, "--", &pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

/// Starts `cmd` (a front end) without input, its stdout and stderr going to `out` through one
/// open file description (a dup), so that their writes append in order instead of overwriting
/// each other at two independent offsets.
fn spawn_into(mut cmd: Command, out: &tempfile::NamedTempFile) -> std::process::Child {
    let file = out.reopen().unwrap();
    cmd.stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .expect("the front end starts")
}

/// Runs `cmd` to its end (or kills it after [`CELL_LIMIT`]) and returns (exit code, output).
/// `signal_when_running`: SIGKILL/SIGINT once our run shows; `group`: signal the process group.
fn drive(
    mut cmd: Command,
    sb: &SandboxHandle,
    id: &str,
    send: Option<&str>,
    group: bool,
) -> (i32, String) {
    let out = tempfile::NamedTempFile::new().unwrap();
    let invoke = cmd.get_args().any(|a| a == TF_INVOKE);
    if group {
        cmd.process_group(0);
    }
    let mut child = spawn_into(cmd, &out);
    let pid = child.id() as i32;
    if let Some(sig) = send {
        wait_for_our_run(sb, id);
        if sig == "-INT" && invoke {
            // Terraform 1.14/1.15 crash when an action's progress event reaches them after an
            // interrupt: interrupt once the never-ending run's last line is out.
            common::wait::until_printed_then_polled(
                out.path(),
                common::wait::LAST_ENTRY_OF_A_NEVER_ENDING_RUN,
                sb,
                id,
                Duration::from_secs(30),
            );
        }
        signal(pid, sig);
        if group && sig == "-KILL" {
            // Once terraform is gone (reaped; its status stays for the loop below), its
            // provider (same process group), which may outlive it a moment.
            let _ = child.wait();
            signal(-pid, "-KILL");
        }
    }
    let started = Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code().unwrap_or_else(|| {
                128 + std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0)
            });
        }
        if started.elapsed() > CELL_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break -1;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    if group {
        // Nothing of the cell may outlive it.
        signal(-pid, "-KILL");
    }
    let text = std::fs::read_to_string(out.path()).unwrap_or_default();
    (code, text)
}

fn cli_command(sb: &SandboxHandle, row: &Row, id: &str) -> Command {
    let mut cmd = common::cli(sb);
    cmd.env("WOOSMAP_PRIVATE_KEY", row.key)
        .env("WOOSMAP_LOG", "debug")
        .args(["run", "--dataset-id", id, "--poll-interval", "300ms"])
        .args(["--timeout", row.timeout.unwrap_or("2m")]);
    if let Some(t) = row.request_timeout {
        cmd.env("WOOSMAP_REQUEST_TIMEOUT", t);
    }
    cmd.envs(row_env(row, Front::Cli, &sb.base_url(), id));
    cmd
}

fn with_run(outcome: String, code: i32, reported: bool) -> String {
    if code == 0 {
        format!(
            "{outcome} · {}",
            if reported {
                "newest run"
            } else {
                "NOT the newest run"
            }
        )
    } else {
        outcome
    }
}

fn run_cli(sb: &SandboxHandle, row: &Row, id: &str) -> Ran {
    let newest_in = |text: &str| newest(sb, id).is_some_and(|r| text.contains(&r));
    match row.driver {
        Driver::Plain => {
            let (code, text) = drive(cli_command(sb, row, id), sb, id, None, false);
            Ran {
                outcome: with_run(format!("exit {code}"), code, newest_in(&text)),
                reported_run: None,
                text,
                dirs: vec![],
            }
        }
        Driver::KillAndRerun => {
            let (code, first) = drive(cli_command(sb, row, id), sb, id, Some("-KILL"), false);
            assert_eq!(code, 137, "SIGKILL: {first}");
            let (code, text) = drive(cli_command(sb, row, id), sb, id, None, false);
            Ran {
                outcome: with_run(format!("killed; rerun exit {code}"), code, newest_in(&text)),
                reported_run: None,
                text: format!("{first}\n{text}"),
                dirs: vec![],
            }
        }
        Driver::Interrupt => {
            let (code, text) = drive(cli_command(sb, row, id), sb, id, Some("-INT"), false);
            Ran {
                outcome: format!("exit {code}"),
                reported_run: None,
                text,
                dirs: vec![],
            }
        }
    }
}

fn tf_config(row: &Row, id: &str) -> String {
    Import::named("this", id)
        .fast_poll()
        .timeout("create", row.timeout.unwrap_or("2m"))
        .outputs(&["run_id"])
        .hcl()
}

fn tf_command(tf: &Terraform, row: &Row, id: &str) -> Command {
    tf_command_with(tf, row, id, &[])
}

/// `terraform apply` with the cell's key, log level and request timeout, plus `extra` args.
fn tf_command_with(tf: &Terraform, row: &Row, id: &str, extra: &[&str]) -> Command {
    let mut args = vec!["apply", "-auto-approve", "-no-color"];
    args.extend_from_slice(extra);
    let mut cmd = tf.command(&args);
    cmd.env("WOOSMAP_PRIVATE_KEY", row.key)
        .env("TF_LOG", "debug")
        .env_remove("WOOSMAP_REQUEST_TIMEOUT");
    if let Some(t) = row.request_timeout {
        cmd.env("WOOSMAP_REQUEST_TIMEOUT", t);
    }
    cmd.envs(row_env(row, Front::Terraform, &tf.base_url, id));
    cmd
}

/// The run id the state records.
fn state_run_id(tf: &Terraform) -> Option<String> {
    let state: serde_json::Value = serde_json::from_str(&tf.file("terraform.tfstate")).ok()?;
    state["resources"][0]["instances"][0]["attributes"]["run_id"]
        .as_str()
        .map(str::to_owned)
}

fn run_terraform(sb: &SandboxHandle, row: &Row, id: &str) -> Ran {
    let tf = Terraform::new(&sb.base_url());
    tf.write(&tf_config(row, id));
    let reported = |tf: &Terraform| state_run_id(tf).is_some_and(|r| newest(sb, id) == Some(r));
    let (outcome, text) = match row.driver {
        Driver::Plain => {
            let (code, text) = drive(tf_command(&tf, row, id), sb, id, None, true);
            (
                with_run(format!("apply exit {code}"), code, reported(&tf)),
                text,
            )
        }
        Driver::KillAndRerun => {
            let (code, first) = drive(tf_command(&tf, row, id), sb, id, Some("-KILL"), true);
            assert_eq!(code, 137, "SIGKILL: {first}");
            let (code, text) = drive(tf_command(&tf, row, id), sb, id, None, true);
            (
                with_run(format!("killed; re-apply exit {code}"), code, reported(&tf)),
                format!("{first}\n{text}"),
            )
        }
        Driver::Interrupt => {
            let (code, text) = drive(tf_command(&tf, row, id), sb, id, Some("-INT"), true);
            (format!("apply exit {code}"), text)
        }
    };
    let text = text + &provider_log(&tf.file("terraform.log"));
    if row.id == "none" {
        // The control cell also renders its state and a plan as JSON, for the key scan.
        let state = tf.command(&["show", "-json"]).output().unwrap();
        std::fs::write(tf.dir.path().join("state.json"), &state.stdout).unwrap();
        let plan = tf
            .command(&["plan", "-out=tfplan", "-no-color"])
            .output()
            .unwrap();
        assert!(plan.status.success(), "plan after apply failed");
        let shown = tf.command(&["show", "-json", "tfplan"]).output().unwrap();
        assert!(shown.stdout.starts_with(b"{"), "no plan JSON");
        std::fs::write(tf.dir.path().join("plan.json"), &shown.stdout).unwrap();
    }
    let run_in_state = state_run_id(&tf);
    let dir = tf.dir.path().to_path_buf();
    // Keep the directory until the key scan: leak the TempDir into a path we remove later.
    let kept = tf.dir.keep();
    assert_eq!(kept, dir);
    Ran {
        outcome,
        text,
        reported_run: run_in_state,
        dirs: vec![dir],
    }
}

fn tf_action_config(row: &Row, id: &str) -> String {
    format!(
        r#"
provider "woosmap" {{}}

action "woosmap_dataset_import" "this" {{
  config {{
    dataset_id    = "{id}"
    poll_interval = "300ms"
    timeout       = "{}"
  }}
}}
"#,
        row.timeout.unwrap_or("2m")
    )
}

const TF_INVOKE: &str = "-invoke=action.woosmap_dataset_import.this";

/// The Terraform action invoked by hand. It keeps no state: the run it reported is the one
/// its progress lines name.
fn run_tf_action(sb: &SandboxHandle, row: &Row, id: &str) -> Ran {
    let tf = Terraform::new(&sb.base_url());
    tf.write(&tf_action_config(row, id));
    let reported = |text: &str| {
        newest(sb, id).is_some_and(|r| text.contains(&format!("run {r} ended: success")))
    };
    let invoke = || tf_command_with(&tf, row, id, &[TF_INVOKE]);
    let (outcome, text) = match row.driver {
        Driver::Plain => {
            let (code, text) = drive(invoke(), sb, id, None, true);
            (
                with_run(format!("invoke exit {code}"), code, reported(&text)),
                text,
            )
        }
        Driver::KillAndRerun => {
            let (code, first) = drive(invoke(), sb, id, Some("-KILL"), true);
            assert_eq!(code, 137, "SIGKILL: {first}");
            let (code, text) = drive(invoke(), sb, id, None, true);
            (
                with_run(
                    format!("killed; re-invoke exit {code}"),
                    code,
                    reported(&text),
                ),
                format!("{first}\n{text}"),
            )
        }
        Driver::Interrupt => {
            let (code, text) = drive(invoke(), sb, id, Some("-INT"), true);
            (format!("invoke exit {code}"), text)
        }
    };
    let text = text + &provider_log(&tf.file("terraform.log"));
    let dir = tf.dir.path().to_path_buf();
    let kept = tf.dir.keep();
    assert_eq!(kept, dir);
    Ran {
        outcome,
        text,
        reported_run: None,
        dirs: vec![dir],
    }
}

/// The action's step process run directly, as action.yml runs it (`woosmap-import action`
/// with `INPUT_*`), for the cells act cannot drive (a signal to act does not reach the step
/// the way a runner's cancellation does).
fn run_action_direct(sb: &SandboxHandle, row: &Row, id: &str) -> Ran {
    let scratch = tempfile::tempdir().unwrap();
    let inputs = common::action_step::Inputs {
        dataset_id: id,
        private_key: row.key,
        reimport_key: "",
        timeout: row.timeout.unwrap_or("2m"),
        base_url: &sb.base_url(),
    };
    let mut cmd = common::action_step::command(&inputs, scratch.path());
    cmd.envs(row_env(row, Front::Action, &sb.base_url(), id));
    let send = match row.driver {
        Driver::Interrupt => Some("-INT"),
        Driver::KillAndRerun => Some("-KILL"),
        Driver::Plain => None,
    };
    let (code, raw) = drive(cmd, sb, id, send, false);
    // The runner consumes `::add-mask::` lines (and masks the value from then on); the action
    // prints them first, before anything else. What is left is what a log shows.
    let masks = raw
        .lines()
        .take_while(|l| l.starts_with("::add-mask::"))
        .count();
    assert!(
        masks >= 1,
        "the action did not mask the private key first: {raw}"
    );
    let mut text: String = raw.lines().skip(masks).map(|l| format!("{l}\n")).collect();
    for file in ["output", "summary"] {
        text.push_str(&std::fs::read_to_string(scratch.path().join(file)).unwrap_or_default());
    }
    Ran {
        outcome: format!("exit {code}"),
        text,
        reported_run: None,
        dirs: vec![],
    }
}

const WORKFLOW_NAME: &str = "fault-matrix";

/// The workflow for the action cells: one job per row, each importing its own dataset.
fn workflow(base_url: &str, cells: &[(&Row, String)]) -> String {
    let mut y = format!(
        "# Generated by tests/fault_matrix.rs for one run; not a CI workflow.\nname: {WORKFLOW_NAME}\non: push\npermissions: {{}}\n\njobs:\n"
    );
    for (row, id) in cells {
        let secret = match row.key {
            k if k == KEY => "WOOSMAP_PRIVATE_KEY",
            k if k == WRONG_KEY => "WRONG_KEY",
            k if k == NO_QUOTA_KEY => "NO_QUOTA_KEY",
            _ => unreachable!("a key the workflow does not pass"),
        };
        let env = match row.request_timeout {
            Some(t) => format!("    env:\n      WOOSMAP_REQUEST_TIMEOUT: {t}\n"),
            None => String::new(),
        };
        // A pacer folder of the cell's own goes in the step's env: act's `--env` (the test
        // binary's folder) overrides a job's env, not a step's.
        let step_env = match row_pacer_dir(row, id) {
            Some(dir) => format!(
                "        env:\n          WOOSMAP_PACER_DIR: {}\n",
                dir.display()
            ),
            None => String::new(),
        };
        let _ = write!(
            y,
            "  {job}:\n    runs-on: ubuntu-latest\n{env}    steps:\n      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2\n        with:\n          persist-credentials: false\n      - uses: ./\n{step_env}        with:\n          dataset-id: {id}\n          private-key: ${{{{ secrets.{secret} }}}}\n          poll-interval: 300ms\n          timeout: {timeout}\n          base-url: {base_url}\n",
            job = row.id,
            timeout = row.timeout.unwrap_or("2m"),
        );
    }
    y
}

/// Runs every act cell in one `act` run (jobs in parallel); returns per row: (exit, job log).
fn run_act(
    base_url: &str,
    cells: &[(&Row, String)],
) -> (BTreeMap<&'static str, (Option<i32>, String)>, String) {
    let scratch = tempfile::tempdir().unwrap();
    // act copies the repository into each job's workspace, walking the whole work tree
    // (target/ included) once per job: with twenty jobs that takes longer than the cells. A
    // minimal repository with just what `uses: ./` reads (action.yml, its service check and
    // install scripts, and Cargo.toml for the version) runs the same action in a fraction of
    // the time.
    let files = [
        "action.yml",
        "scripts/action-service.sh",
        "scripts/action-install.sh",
        "Cargo.toml",
    ];
    let workflow = ("fault-matrix.yml", workflow(base_url, cells));
    let mut cmd = act_in_minimal_repo(scratch.path(), &files, workflow);
    cmd.args(["--concurrent-jobs", "32"])
        .args(["-s", &format!("WOOSMAP_PRIVATE_KEY={KEY}")])
        .args(["-s", &format!("WRONG_KEY={WRONG_KEY}")])
        .args(["-s", &format!("NO_QUOTA_KEY={NO_QUOTA_KEY}")]);
    let (_code, log) = common::act::run_with_limit(cmd, CELL_LIMIT + Duration::from_secs(60));
    let mut out = BTreeMap::new();
    for (row, _) in cells {
        let lines = common::act::job_lines(&log, WORKFLOW_NAME, row.id);
        out.insert(row.id, (common::act::job_exit(&lines), lines));
    }
    (out, log)
}

/// `act` running `workflow` (a file name and its text) in a minimal repository under
/// `scratch` holding the `files` of the checkout that `uses: ./` reads, committed.
fn act_in_minimal_repo(scratch: &Path, files: &[&str], workflow: (&str, String)) -> Command {
    let repo = scratch.join("repo");
    let root = common::act::root();
    for file in files {
        let to = repo.join(file);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(root.join(file), &to).unwrap();
    }
    let file = repo.join(workflow.0);
    std::fs::write(&file, workflow.1).unwrap();
    git_commit_all(&repo);
    let mut cmd = common::act::command(&file, scratch);
    cmd.current_dir(&repo);
    cmd
}

/// `git init` and one commit of everything in `repo` (act wants a repository).
fn git_commit_all(repo: &Path) {
    for args in [
        &["init", "-q"][..],
        &["add", "-A"],
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@localhost",
            "commit",
            "-qm",
            "fault matrix",
        ],
    ] {
        let ok = Command::new("git")
            .args(args)
            .current_dir(repo)
            .status()
            .unwrap();
        assert!(ok.success(), "git {args:?}");
    }
}

/// The read-only row's folder and the system's reason in "the folder F cannot be written
/// (WHY)": they depend on who runs the tests (a mode-500 folder in the temporary directory,
/// or `/proc/self/fdinfo` for root).
fn mask_unwritable_folder(out: &mut String) {
    const FOLDER: &str = "the folder ";
    const UNWRITABLE: &str = " cannot be written (";
    let Some(at) = out.find(FOLDER).map(|at| at + FOLDER.len()) else {
        return;
    };
    let Some(end) = out[at..].find(UNWRITABLE).map(|e| at + e) else {
        return;
    };
    let why = end + UNWRITABLE.len();
    let mut depth = 1;
    let close = out[why..].char_indices().find_map(|(i, c)| {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        (depth == 0).then_some(why + i)
    });
    out.replace_range(why..close.unwrap_or(out.len()), "<why>");
    out.replace_range(at..end, "<folder>");
}

/// `line` without its ANSI colour sequences (ESC [ ... letter): act gives the step a
/// terminal, so its log lines are coloured.
fn without_colours(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        if chars.next() == Some('[') {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        }
    }
    out
}

/// `chars` with the RFC 3339 timestamps masked as `<time>`, and as `<id>` the ids that
/// `id_at(chars, i)` finds (it gives the length of the one starting at `chars[i]`).
fn mask_times_and_ids(chars: &[char], id_at: impl Fn(&[char], usize) -> Option<usize>) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if let Some(len) = timestamp_at(chars, i) {
            out.push_str("<time>");
            i += len;
        } else if let Some(len) = id_at(chars, i) {
            out.push_str("<id>");
            i += len;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// The length of the RFC 3339 timestamp (`2026-01-01T00:00:00(.fff)Z`) at `chars[i]`, if one
/// starts there.
fn timestamp_at(chars: &[char], i: usize) -> Option<usize> {
    let ts: String = chars[i..].iter().take(19).collect();
    if ts.len() != 19 || humantime::parse_rfc3339_weak(&ts).is_err() {
        return None;
    }
    let mut j = i + 19;
    while j < chars.len() && (chars[j].is_ascii_digit() || chars[j] == '.' || chars[j] == 'Z') {
        j += 1;
    }
    Some(j - i)
}

/// A line as FAULTS.md shows it: colours dropped, ids, timestamps, the sandbox's port and waits masked, `|`
/// escaped.
fn normalise(line: &str) -> String {
    let line = without_colours(line);
    let line = line.trim();
    // act's decorations of the step log and of step outputs.
    let line = line.strip_prefix("| ").unwrap_or(line);
    let line = line
        .strip_prefix("⚙  ::set-output:: ")
        .map_or_else(|| line.to_owned(), |o| format!("output {o}"));
    let chars: Vec<char> = line.chars().collect();
    let mut out = mask_times_and_ids(&chars, |chars, i| {
        let rest: String = chars[i..].iter().take(36).collect();
        (rest.len() == 36 && uuid::Uuid::parse_str(&rest).is_ok()).then_some(36)
    });
    // The sandbox's port, and how long a silent server was waited for.
    if let Some(at) = out.find("127.0.0.1:") {
        let start = at + "127.0.0.1:".len();
        let end = out[start..]
            .find(|c: char| !c.is_ascii_digit())
            .map_or(out.len(), |e| start + e);
        out.replace_range(start..end, "<port>");
    }
    if let Some(at) = out.find("no answer in ") {
        let start = at + "no answer in ".len();
        if let Some(end) = out[start..].find(" while").map(|e| start + e) {
            out.replace_range(start..end, "<duration>");
        }
    }
    mask_unwritable_folder(&mut out);
    for marker in ["retrying in ", "took ", "after "] {
        if let Some(at) = out.find(marker) {
            let start = at + marker.len();
            let end = out[start..]
                .find([')', ',', ';'])
                .map_or(out.len(), |e| start + e);
            out.replace_range(start..end, "<duration>");
        }
    }
    let mut out = out.replace('|', "\\|");
    if out.chars().count() > 150 {
        out = out.chars().take(150).collect::<String>() + "…";
    }
    out
}

/// The first line holding `phrase`, normalised. Diagnostic log lines (`DEBUG`, `TRACE`)
/// carry timings and are skipped. Terraform wraps its diagnostics at 78 columns, so for it
/// each paragraph counts as one line; for its action, a progress line (`progress: MESSAGE`) or
/// the failure line (`Action failed: SUMMARY`) comes first. For the GitHub Action, the `error` output (read by act from
/// the step's output file) comes first: act may drop the last lines a quick step printed.
fn message_line(text: &str, phrase: &str, front: Front) -> Option<String> {
    let plain = |l: &&str| !l.contains(" DEBUG ") && !l.contains(" TRACE ");
    match front {
        // The action's progress lines come one per line, without blank lines between them.
        Front::TfAction => text
            .lines()
            .filter(plain)
            .filter(|l| l.contains(phrase))
            .find_map(|l| {
                if l.starts_with("Action action.") {
                    l.split_once("): ").map(|(_, m)| format!("progress: {m}"))
                } else if l.starts_with("Action failed: ") {
                    l.split_once(") - ")
                        .map(|(_, m)| format!("Action failed: {m}"))
                } else {
                    None
                }
            })
            .map(|l| normalise(&l))
            .or_else(|| message_line(text, phrase, Front::Terraform)),
        Front::Terraform => text
            .split("\n\n")
            .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
            .find(|p| p.contains(phrase))
            .map(|p| normalise(&p)),
        Front::Action => text
            .lines()
            .filter(|l| l.contains("::set-output:: error=") && l.contains(phrase))
            .chain(text.lines().filter(plain).filter(|l| l.contains(phrase)))
            .next()
            .map(normalise),
        Front::Cli => text
            .lines()
            .filter(plain)
            .find(|l| l.contains(phrase))
            .map(normalise),
    }
}

/// How many lines of `text` hold `phrase`, diagnostic log lines (`DEBUG`, `TRACE`) left out.
fn phrase_lines(text: &str, phrase: &str) -> usize {
    text.lines()
        .filter(|l| !l.contains(" DEBUG ") && !l.contains(" TRACE "))
        .filter(|l| l.contains(phrase))
        .count()
}

/// The provider's own log lines (info and above) from Terraform's log, one paragraph each
/// as `provider log: MESSAGE` (hclog's key=value fields dropped).
fn provider_log(log: &str) -> String {
    provider_log_of(log, "provider.terraform-provider-woosmap: ")
}

/// A markdown table's header: the `columns` and the `|---|` line under them.
fn table_header<'a>(md: &mut String, columns: impl IntoIterator<Item = &'a str>) {
    let mut count = 0;
    md.push('|');
    for column in columns {
        let _ = write!(md, " {column} |");
        count += 1;
    }
    md.push_str("\n|");
    md.push_str(&"---|".repeat(count));
    md.push('\n');
}

/// The header of an overview table: the fault, then one column per front end (`titles`).
fn overview_header<'a>(md: &mut String, titles: impl IntoIterator<Item = &'a str>) {
    table_header(md, std::iter::once("Fault").chain(titles));
}

/// A row's heading in the cells part (its title, the anchor the overview links to, its
/// setup) and the header of its table, whose `columns` are separated by ` | `.
fn cell_heading(md: &mut String, (title, id, setup): (&str, &str, &str), columns: &str) {
    let anchor = id.replace('_', "-");
    let _ = write!(
        md,
        "\n### {title}\n\n<a id=\"{anchor}\"></a>Setup: {setup}.\n\n"
    );
    table_header(md, columns.split(" | "));
}

/// [`provider_log`] for the provider whose log lines carry `mark` (`provider.NAME: `).
fn provider_log_of(log: &str, mark: &str) -> String {
    let mut out = String::new();
    for line in log.lines() {
        if !(line.contains("[INFO]") || line.contains("[WARN]") || line.contains("[ERROR]")) {
            continue;
        }
        let Some(at) = line.find(mark) else { continue };
        let rest = &line[at + mark.len()..];
        let fields_at = rest
            .match_indices(": ")
            .map(|(i, _)| i)
            .find(|&i| {
                let after = &rest[i + 2..];
                let key: String = after
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '@')
                    .collect();
                !key.is_empty() && after[key.len()..].starts_with('=')
            })
            .unwrap_or(rest.len());
        let message = &rest[..fields_at];
        if message.starts_with("Plugin ") {
            continue;
        }
        let _ = write!(out, "\n\nprovider log: {message}");
    }
    out
}

fn render(rows: &[Row], observed: &BTreeMap<(&'static str, Front), Observed>) -> String {
    let mut md = String::new();
    md.push_str("# Fault matrix\n\n");
    md.push_str(
        "Every fault the API or the machine can throw at an import, through each front end: the \
`woosmap-import` CLI, the provider's resource under real Terraform 1.15 (`terraform apply`), \
its action under the same Terraform (`terraform apply -invoke=action.woosmap_dataset_import.NAME`) \
and the GitHub Action under real `act` (host mode), against the sandbox with short windows (trigger 2 s, status 300 ms, start \
delay 500 ms, imports 1.5 s, poll interval 300 ms). The [Rocket.Chat](#rocketchat) section at the \
end does the same for the Rocket.Chat bulk user import.\n\n",
    );
    md.push_str(
        "**Generated** by `tests/fault_matrix.rs` from what the run observed — do not edit. \
The test fails when this file and a run disagree; `WOOSMAP_UPDATE_FAULTS=1 cargo test --test \
fault_matrix` rewrites it. The raw observations are in `target/fault-matrix.json`.\n\n",
    );
    md.push_str(
        "- **Outcome**: the CLI's exit code (see README), `terraform apply`'s exit code (with \
`-invoke` for the action), the act job's result and the exit code of its failed step. *newest run* means the run the front end \
reported is the one the sandbox started last (never a stale previous run).\n\
- **Triggers / runs**: trigger requests the sandbox received for the cell's dataset (any answer, \
faults included) / imports it started. No cell may trigger while an import runs \
(`triggers_while_running` is 0 everywhere).\n\
- **Message**: the phrase the test requires (*once*: on exactly one line, debug lines left \
out), and the first output line holding it (ids, times and retry delays masked).\n\
- Every cell's output, logs (`WOOSMAP_LOG=debug`, `TF_LOG=debug`) and Terraform state (and, \
for the control row, `terraform show -json` of the state and of a plan) are scanned for the \
private and reimport keys; no request carried a key in its query string; our \
pacing provoked no 429.\n\n",
    );
    md.push_str("## Overview\n\n");
    overview_header(&mut md, Front::ALL.map(Front::title));
    for row in rows {
        let _ = write!(md, "| [{}](#{}) |", row.title, row.id.replace('_', "-"));
        for front in Front::ALL {
            let cell = match (row.expect(front), observed.get(&(row.id, front))) {
                (None, _) => "n/a".to_owned(),
                (Some(e), Some(o)) => {
                    format!("{} {}", if o.passed(&e) { "✅" } else { "❌" }, o.outcome)
                }
                (Some(_), None) => "❌ not run".to_owned(),
            };
            let _ = write!(md, " {cell} |");
        }
        md.push('\n');
    }
    md.push_str("\n## Cells\n");
    for row in rows {
        let columns = "Front end | Outcome expected | Outcome observed | Triggers / runs expected | Triggers / runs observed | Message";
        cell_heading(&mut md, (row.title, row.id, row.setup_text), columns);
        for front in Front::ALL {
            let Some(e) = row.expect(front) else {
                let _ = writeln!(md, "| {} | n/a: {} | | | | |", front.title(), row.na);
                continue;
            };
            let (outcome, tr, msg) = match observed.get(&(row.id, front)) {
                Some(o) => (
                    format!("{} {}", if o.passed(&e) { "✅" } else { "❌" }, o.outcome),
                    format!(
                        "{} / {}{}",
                        o.triggers,
                        o.runs,
                        if o.triggers_while_running > 0 {
                            format!(" ({} while running)", o.triggers_while_running)
                        } else {
                            String::new()
                        }
                    ),
                    o.message
                        .clone()
                        .map_or("**phrase not found**".to_owned(), |m| format!("`{m}`")),
                ),
                None => ("❌ not run".into(), "—".into(), "—".into()),
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} / {} | {} | “{}”{} → {} |",
                front.title(),
                e.outcome,
                outcome,
                e.triggers,
                e.runs,
                tr,
                e.phrase.replace('|', "\\|"),
                if e.once { " once" } else { "" },
                msg
            );
        }
    }
    md
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fault_matrix() {
    let started = Instant::now();
    let sb = Arc::new(common::sandbox().await);
    // WOOSMAP_FAULT_MATRIX_ONLY=row,row runs some rows only (FAULTS.md is then not checked).
    let only: Option<Vec<String>> = std::env::var("WOOSMAP_FAULT_MATRIX_ONLY")
        .ok()
        .map(|v| v.split(',').map(|s| s.trim().to_owned()).collect());
    let rows: &'static [Row] = Box::leak(
        rows()
            .into_iter()
            .filter(|r| only.as_ref().is_none_or(|o| o.iter().any(|x| x == r.id)))
            .collect::<Vec<_>>()
            .into_boxed_slice(),
    );

    // The Rocket.Chat section runs beside the Woosmap cells, each cell on its own sandbox.
    let rc_only = only.clone();
    let (woosmap_act_done, rc_act_gate) = tokio::sync::oneshot::channel();
    let rc = tokio::spawn(async move { rocketchat::run(rc_only.as_deref(), rc_act_gate).await });

    // A dataset for every cell; the act cells are set up now (all at once: a setup may run
    // a first import), the others as they start.
    let mut cells: Vec<(&'static Row, Front, String)> = Vec::new();
    let mut act_setups = tokio::task::JoinSet::new();
    for row in rows {
        for front in Front::ALL {
            if row.expect(front).is_some() {
                let id = dataset();
                if front == Front::Action && via_act(row) {
                    let (sb, id) = (sb.clone(), id.clone());
                    act_setups.spawn_blocking(move || (row.setup)(&sb, &id, front));
                }
                cells.push((row, front, id));
            }
        }
    }
    while let Some(done) = act_setups.join_next().await {
        done.expect("act cell setup");
    }
    let act_cells: Vec<(&Row, String)> = cells
        .iter()
        .filter(|(row, front, _)| *front == Front::Action && via_act(row))
        .map(|(row, _, id)| (*row, id.clone()))
        .collect();

    let base_url = sb.base_url();
    let act = tokio::task::spawn_blocking(move || {
        let t0 = Instant::now();
        let ran = if act_cells.is_empty() {
            Default::default()
        } else {
            run_act(&base_url, &act_cells)
        };
        // The Rocket.Chat section starts as soon as this act run ends, beside the Woosmap
        // cells still running.
        let _ = woosmap_act_done.send(());
        (ran, t0.elapsed())
    });
    // Terraform is the heaviest process: bounded, though most of a cell is waiting on the
    // sandbox's windows (12 at a time made these cells the longest path; 24 keeps two loaded
    // cores busy without starving the timed cells).
    let tf_slots = Arc::new(tokio::sync::Semaphore::new(24));
    let mut tasks = tokio::task::JoinSet::new();
    for (row, front, id) in cells.iter().cloned() {
        if front == Front::Action && via_act(row) {
            continue;
        }
        let sb = sb.clone();
        let slots = tf_slots.clone();
        tasks.spawn(async move {
            let _slot = if matches!(front, Front::Terraform | Front::TfAction) {
                Some(slots.acquire_owned().await.unwrap())
            } else {
                None
            };
            let (ran, took) = tokio::task::spawn_blocking({
                let sb = sb.clone();
                let id = id.clone();
                move || {
                    (row.setup)(&sb, &id, front);
                    let t0 = Instant::now();
                    let ran = match front {
                        Front::Cli => run_cli(&sb, row, &id),
                        Front::Terraform => run_terraform(&sb, row, &id),
                        Front::TfAction => run_tf_action(&sb, row, &id),
                        Front::Action => run_action_direct(&sb, row, &id),
                    };
                    (ran, t0.elapsed())
                }
            })
            .await
            .expect("cell thread");
            (row, front, id, ran, took)
        });
    }
    let mut results: Vec<(&Row, Front, String, Ran, Duration)> = Vec::new();
    while let Some(done) = tasks.join_next().await {
        results.push(done.expect("cell task"));
    }
    let ((act_jobs, act_log), act_took) = act.await.expect("act thread");
    eprintln!(
        "fault matrix, Woosmap section: {} cells in {:?} (its act run {act_took:?})",
        cells.len(),
        started.elapsed()
    );
    let _ = std::fs::write(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fault-matrix-act.log"),
        &act_log,
    );
    for (row, front, id) in &cells {
        if *front == Front::Action && via_act(row) {
            let (exit, lines) = act_jobs
                .get(row.id)
                .cloned()
                .unwrap_or((None, String::new()));
            let outcome = match exit {
                Some(0) => with_run(
                    "job ok".into(),
                    0,
                    newest(&sb, id).is_some_and(|r| lines.contains(&r)),
                ),
                Some(code) => format!("job failed, exit {code}"),
                None => "job did not end".into(),
            };
            results.push((
                row,
                *front,
                id.clone(),
                Ran {
                    outcome,
                    text: lines,
                    reported_run: None,
                    dirs: vec![],
                },
                // The whole act run: its jobs run at once.
                act_took,
            ));
        }
    }

    // Observations.
    let stats = sb.stats();
    let mut observed = BTreeMap::new();
    let mut report = String::new();
    for (row, front, id, ran, took) in &results {
        let ds = stats.dataset(id).cloned().unwrap_or_default();
        let e = row.expect(*front).unwrap();
        let o = Observed {
            row: row.id,
            front: *front,
            outcome: ran.outcome.clone(),
            phrase: e.phrase,
            message: message_line(&ran.text, e.phrase, *front),
            phrase_lines: phrase_lines(&ran.text, e.phrase),
            triggers: ds.triggers,
            runs: ds.runs.len(),
            triggers_while_running: ds.triggers_while_running,
            seconds: tenths(*took),
        };
        let failure = (!o.passed(&e)).then(|| {
            let run = &ran.reported_run;
            format!("expected {e:?}\n    observed {o:?}\n    state run {run:?}")
        });
        let cell = format!("{} / {front:?}", row.id);
        record_cell(&mut report, &cell, &o, failure, &ran.text);
        observed.insert((row.id, *front), o);
    }

    let rc = rc.await.expect("Rocket.Chat section");
    report.push_str(&rc.report);
    for (what, text) in &rc.texts {
        assert_no_secrets(what, text, &rocketchat::TOKENS);
    }
    for dir in &rc.dirs {
        assert_no_secrets_in_dir(dir, &rocketchat::TOKENS);
        let _ = std::fs::remove_dir_all(dir);
    }

    // Secrets: no key in any output, log or state; none ever in a query string.
    let mut scanned_files = 0;
    for (row, front, _, ran, _) in &results {
        let password = [URL_PASSWORD];
        assert_no_secrets(
            &format!("{} / {front:?} output", row.id),
            &ran.text,
            &password,
        );
        for dir in &ran.dirs {
            scanned_files += assert_no_secrets_in_dir(dir, &password);
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    assert_no_secrets("act's log", &act_log, &[URL_PASSWORD]);
    assert!(
        scanned_files > 0 || rows.is_empty(),
        "no Terraform file was scanned"
    );
    assert_eq!(stats.query_keys, 0, "a key travelled in a query string");
    assert_eq!(
        stats.rate_limited, 0,
        "our pacing provoked a 429: {stats:?}"
    );

    // Observations → target/fault-matrix.json and FAULTS.md.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let json = serde_json::json!({
        "woosmap": observed.values().collect::<Vec<&Observed>>(),
        "rocketchat": rc.observed.values().collect::<Vec<_>>(),
    });
    let target = root.join("target");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(
        target.join("fault-matrix.json"),
        serde_json::to_string_pretty(&json).unwrap(),
    )
    .unwrap();
    let rc_md = rc.render();
    std::fs::write(target.join("fault-matrix-rocketchat.md"), &rc_md).unwrap();
    let md = render(rows, &observed) + &rc_md;
    let path = root.join(FAULTS_MD);
    let update = std::env::var("WOOSMAP_UPDATE_FAULTS").is_ok_and(|v| v == "1");
    if update {
        std::fs::write(&path, &md).unwrap();
    }
    eprintln!(
        "fault matrix: {} cells in {:?}",
        results.len(),
        started.elapsed()
    );
    assert!(report.is_empty(), "cells that did not behave:{report}");
    if only.is_some() {
        eprintln!("WOOSMAP_FAULT_MATRIX_ONLY is set: {FAULTS_MD} not checked");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == md,
        "{FAULTS_MD} does not match this run: rerun with WOOSMAP_UPDATE_FAULTS=1 and commit it.\n--- would write\n{md}"
    );
}
