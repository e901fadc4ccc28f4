//! The action with `service: rocketchat` (`action.yml`) run by real `act` in host mode against
//! an in-process Rocket.Chat sandbox, through `tests/act/rocketchat.yml`: `success` imports two
//! users and a later step reads the outputs; `user-errors` fails the job (exit 1) with an
//! error annotation; `allowed` passes with `allow-user-errors`; `bad-token` exits 4 with the server's message;
//! `bad-input` exits 2 with an error annotation naming the input, nothing sent, and its
//! `outcome` output says `usage`; `wrong-service-input` (a `dataset-id` with `service:
//! rocketchat`) and `unknown-service` stop at the first step with exit 2, naming the input.
//! The tokens never appear; the action's install step finds `rocketchat-import` itself.
//!
//! Nothing left behind (`tests/act/rocketchat-no-trace.yml`): users given inline, holding a
//! marker no other file holds, imported once with success and once with a refused token; after
//! both jobs no file under /tmp, `$TMPDIR`, act's home and caches or `$RUNNER_TEMP` (all under
//! the scratch folder) contains the marker. The action writes no user record to disk; nor,
//! with the Woosmap service, the reimport key (a third job, against a Woosmap sandbox).

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use common::act;
use common::rocketchat::sandbox_2s_window;
use woosmap_sandbox::rocketchat::{DEFAULT_AUTH_TOKEN, DEFAULT_USER_ID};

const WORKFLOW: &str = "tests/act/rocketchat.yml";
const NO_TRACE_WORKFLOW: &str = "tests/act/rocketchat-no-trace.yml";
const WRONG_TOKEN: &str = "wrong-token-Kd03";

#[tokio::test(flavor = "multi_thread")]
async fn the_rocketchat_action_runs_under_act() {
    let sb = sandbox_2s_window(Duration::from_millis(300)).await;
    let scratch = tempfile::tempdir().unwrap();
    let mut cmd = act::command(std::path::Path::new(WORKFLOW), scratch.path());
    cmd.args(["-s", &format!("ROCKETCHAT_AUTH_TOKEN={DEFAULT_AUTH_TOKEN}")])
        .args(["-s", &format!("WRONG_TOKEN={WRONG_TOKEN}")])
        .args(["--var", &format!("ROCKETCHAT_URL={}", sb.base_url())])
        .args(["--var", &format!("ROCKETCHAT_USER_ID={DEFAULT_USER_ID}")])
        .args([
            "--env",
            &format!("XDG_RUNTIME_DIR={}", scratch.path().display()),
        ])
        .arg("-j");
    let run = |job: &'static str, mut cmd: std::process::Command| async move {
        cmd.arg(job);
        tokio::task::spawn_blocking(move || act::run_with_limit(cmd, Duration::from_secs(180)))
            .await
            .unwrap()
    };
    let clone = |c: &std::process::Command| {
        let mut n = std::process::Command::new(c.get_program());
        n.args(c.get_args())
            .current_dir(c.get_current_dir().unwrap());
        for (k, v) in c.get_envs() {
            match v {
                Some(v) => n.env(k, v),
                None => n.env_remove(k),
            };
        }
        n
    };

    let (code, log) = run("success", clone(&cmd)).await;
    let _log1 = act::ShowOnPanic(log.clone());
    assert!(!log.contains(DEFAULT_AUTH_TOKEN), "the token leaked");
    assert_eq!(code, 0);
    let lines = act::job_lines(&log, "rocketchat-under-act", "success");
    assert!(lines.contains("seen outcome=success operation="), "{lines}");
    assert!(lines.contains("completed=2 errors=0"), "{lines}");
    // The action's install step found the binary of this build (scripts/action-install.sh).
    assert!(
        lines.contains("rocketchat-import: using "),
        "the install step did not run: {lines}"
    );

    let (code, log) = run("user-errors", clone(&cmd)).await;
    let _log2 = act::ShowOnPanic(log.clone());
    assert_ne!(code, 0);
    let lines = act::job_lines(&log, "rocketchat-under-act", "user-errors");
    assert_eq!(act::job_exit(&lines), Some(1), "{lines}");
    assert!(lines.contains("allow-user-errors"), "{lines}");

    let (code, log) = run("allowed", clone(&cmd)).await;
    let _log3 = act::ShowOnPanic(log.clone());
    assert_eq!(code, 0);
    let lines = act::job_lines(&log, "rocketchat-under-act", "allowed");
    assert!(
        lines.contains("allowed outcome=success errors=1"),
        "{lines}"
    );

    let requests = sb.stats().requests;
    let (code, log) = run("bad-input", clone(&cmd)).await;
    let _log4 = act::ShowOnPanic(log.clone());
    assert_ne!(code, 0);
    assert!(!log.contains(DEFAULT_AUTH_TOKEN), "the token leaked");
    let lines = act::job_lines(&log, "rocketchat-under-act", "bad-input");
    assert_eq!(act::job_exit(&lines), Some(2), "{lines}");
    assert!(lines.contains("Invalid input `abort-running`"), "{lines}");
    assert!(lines.contains("bad input outcome=usage"), "{lines}");
    assert_eq!(sb.stats().requests, requests, "nothing sent");

    // The first step refuses an input of the other service, and an unknown service, naming
    // the input; nothing is installed or sent.
    for (job, input, says) in [
        (
            "wrong-service-input",
            "dataset-id",
            "dataset-id is an input of service woosmap, but service is rocketchat",
        ),
        (
            "unknown-service",
            "service",
            "service must be woosmap or rocketchat, not 'slack'",
        ),
    ] {
        let (code, log) = run(job, clone(&cmd)).await;
        let _log5 = act::ShowOnPanic(log.clone());
        assert_ne!(code, 0);
        let lines = act::job_lines(&log, "rocketchat-under-act", job);
        assert_eq!(act::job_exit(&lines), Some(2), "{lines}");
        assert!(
            lines.contains(&format!("Invalid input `{input}`")) && lines.contains(says),
            "{lines}"
        );
        assert!(!lines.contains("Find or install"), "{lines}");
    }

    let stats = sb.stats();
    assert_eq!(
        (stats.operations, stats.aborts, stats.rate_limited),
        (3, 0, 0)
    );
}

/// The files under `dir` (symbolic links not followed) written at or after `since` that
/// contain `marker`. Unreadable files and folders (another user's) are skipped.
fn files_holding(dir: &Path, marker: &[u8], since: SystemTime, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(meta) = entry.metadata() else {
            continue;
        };
        let path = entry.path();
        if meta.is_dir() {
            files_holding(&path, marker, since, out);
        } else if meta.is_file()
            && meta.modified().is_ok_and(|m| m >= since)
            && let Ok(bytes) = std::fs::read(&path)
            && bytes.windows(marker.len()).any(|w| w == marker)
        {
            out.push(path);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn inline_users_leave_no_file_behind_on_success_or_failure() {
    let sb = sandbox_2s_window(Duration::from_millis(300)).await;
    // Modification times may be rounded down to the second by the file system.
    let since = SystemTime::now() - Duration::from_secs(2);
    let marker = format!("no-trace-{:016x}", fastrand::u64(..));
    let users = format!(
        r#"[{{"username":"{marker}","emails":["{marker}@example.com"],"importIds":["{marker}"]}}]"#
    );
    let woosmap = common::sandbox().await;
    let dataset = common::dataset();
    let reimport_key = format!("no-trace-key-{:016x}", fastrand::u64(..));
    woosmap
        .configure_dataset(
            &dataset,
            woosmap_sandbox::DatasetConfig::default().reimport_key(&reimport_key),
        )
        .unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let mut cmd = act::command(Path::new(NO_TRACE_WORKFLOW), scratch.path());
    cmd.args(["-s", &format!("ROCKETCHAT_AUTH_TOKEN={DEFAULT_AUTH_TOKEN}")])
        .args(["-s", &format!("WRONG_TOKEN={WRONG_TOKEN}")])
        .args(["--var", &format!("ROCKETCHAT_URL={}", sb.base_url())])
        .args(["--var", &format!("ROCKETCHAT_USER_ID={DEFAULT_USER_ID}")])
        .args(["--var", &format!("MARKER_USERS={users}")])
        .args(["-s", &format!("WOOSMAP_PRIVATE_KEY={}", common::KEY)])
        .args(["--var", &format!("WOOSMAP_BASE_URL={}", woosmap.base_url())])
        .args(["--var", &format!("MARKER_DATASET={dataset}")])
        .args(["--var", &format!("MARKER_REIMPORT_KEY={reimport_key}")])
        .args([
            "--env",
            &format!(
                "WOOSMAP_PACER_DIR={}",
                scratch.path().join("pacer").display()
            ),
        ])
        .args([
            "--env",
            &format!("XDG_RUNTIME_DIR={}", scratch.path().display()),
        ]);
    let (_, log) =
        tokio::task::spawn_blocking(move || act::run_with_limit(cmd, Duration::from_secs(180)))
            .await
            .unwrap();
    let _log6 = act::ShowOnPanic(log.clone());
    let success = act::job_lines(&log, "rocketchat-no-trace", "marker-success");
    assert_eq!(act::job_exit(&success), Some(0), "{success}");
    let failure = act::job_lines(&log, "rocketchat-no-trace", "marker-failure");
    assert_eq!(act::job_exit(&failure), Some(4), "{failure}");
    let stats = sb.stats();
    assert_eq!(
        stats.operations, 1,
        "the successful job imported: {stats:?}"
    );

    let mut found = Vec::new();
    let mut dirs = vec![
        PathBuf::from("/tmp"),
        std::env::temp_dir(),
        scratch.path().to_path_buf(),
    ];
    dirs.dedup();
    for dir in &dirs {
        files_holding(dir, marker.as_bytes(), since, &mut found);
        files_holding(dir, reimport_key.as_bytes(), since, &mut found);
    }
    found.sort();
    found.dedup();
    assert!(
        found.is_empty(),
        "the users input or the reimport key was left on disk in {found:?} (searched {dirs:?})"
    );
}
