//! The shared pacer across real processes: several `woosmap-import` binaries on one dataset at
//! once, sharing a pacer folder, against the sandbox; a folder that must not be trusted; and
//! slot files that are garbage or claim holds far in the future.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{cli, dataset, run, sandbox};

fn run_args(id: &str) -> [&str; 7] {
    [
        "run",
        "--dataset-id",
        id,
        "--poll-interval",
        "300ms",
        "--json",
        "--timeout=120s",
    ]
}

fn with_pacer_dir(mut cmd: Command, dir: &Path) -> Command {
    cmd.env("WOOSMAP_PACER_DIR", dir);
    cmd
}

/// Starts `n` CLIs on one dataset at once and returns their run ids (all must succeed).
async fn concurrent_runs(n: usize) -> (Vec<String>, woosmap_sandbox::Stats, String, Duration) {
    let sb = sandbox().await;
    let id = dataset();
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut children = Vec::new();
    for _ in 0..n {
        let mut cmd = with_pacer_dir(cli(&sb), dir.path());
        cmd.args(run_args(&id));
        children.push(tokio::spawn(run(cmd)));
    }
    let mut runs = Vec::new();
    for child in children {
        let ran = child.await.unwrap();
        assert_eq!(ran.code, 0, "{ran:?}");
        runs.push(ran.json()[0]["run_id"].as_str().unwrap().to_owned());
    }
    (runs, sb.stats(), id, started.elapsed())
}

#[tokio::test(flavor = "multi_thread")]
async fn five_processes_on_one_dataset_send_one_trigger_and_draw_no_429() {
    let (runs, stats, id, elapsed) = concurrent_runs(5).await;
    let ds = stats.dataset(&id).unwrap();
    assert_eq!(
        stats.rate_limited, 0,
        "a 429 between our own processes: {stats:?}"
    );
    assert_eq!(ds.triggers, 1, "trigger requests sent: {ds:?}");
    assert_eq!(ds.runs_triggered, 1);
    assert_eq!(ds.runs.len(), 1);
    assert!(runs.iter().all(|r| r == &ds.runs[0]), "{runs:?} vs {ds:?}");
    eprintln!(
        "5 processes: {} status calls, {:?}",
        ds.status_calls, elapsed
    );
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn an_untrusted_folder_is_refused_and_the_run_still_succeeds() {
    use std::os::unix::fs::PermissionsExt;
    let sb = sandbox().await;
    let id = dataset();
    let base = tempfile::tempdir().unwrap();
    let open = base.path().join("world-writable");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let link = base.path().join("link");
    std::os::unix::fs::symlink(tempfile::tempdir().unwrap().keep(), &link).unwrap();
    for (dir, why) in [
        (&open, "can be written by other users"),
        (&link, "is a symbolic link"),
    ] {
        let mut cmd = with_pacer_dir(cli(&sb), dir);
        cmd.args(["status", "--dataset-id", &id, "--json"]);
        let ran = run(cmd).await;
        assert_eq!(ran.code, 0, "{ran:?}");
        assert_eq!(
            ran.stderr.matches("not sharing rate-limit pacing").count(),
            1,
            "one warning: {ran:?}"
        );
        assert!(ran.stderr.contains(why), "{ran:?}");
        assert_eq!(
            std::fs::read_dir(dir).unwrap().count(),
            0,
            "nothing written to {}",
            dir.display()
        );
    }
    let mut cmd = with_pacer_dir(cli(&sb), &open);
    cmd.args(run_args(&id));
    let ran = run(cmd).await;
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(ran.json()[0]["status"], "success");
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_or_far_future_slot_files_cost_at_most_a_window() {
    let sb = sandbox().await;
    let id = dataset();
    let dir = tempfile::tempdir().unwrap();
    // A first run creates the dataset's slot files.
    let mut cmd = with_pacer_dir(cli(&sb), dir.path());
    cmd.args(run_args(&id));
    let first = Instant::now();
    let ran = run(cmd).await;
    let single = first.elapsed();
    assert_eq!(ran.code, 0, "{ran:?}");
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 2, "one trigger and one status file: {files:?}");

    let far = (std::time::SystemTime::now() + Duration::from_secs(10 * 3600))
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let planted = format!(
        r#"{{"v":1,"last_ms":{far},"hold_until_ms":{far},"hold_retry_after":false,"inflight_until_ms":{far}}}"#
    );
    for contents in [planted.as_str(), "\u{0}garbage{{{"] {
        for file in &files {
            std::fs::write(file, contents).unwrap();
        }
        let mut cmd = with_pacer_dir(cli(&sb), dir.path());
        // The request timeout bounds how long a (claimed) request in flight is waited for; a
        // hold recorded without Retry-After is bounded by the window.
        cmd.env("WOOSMAP_REQUEST_TIMEOUT", "3s");
        cmd.args(run_args(&id));
        let started = Instant::now();
        let ran = run(cmd).await;
        let took = started.elapsed();
        assert_eq!(ran.code, 0, "{ran:?}");
        assert_eq!(ran.json()[0]["status"], "success");
        // A 10 h hold would run into the 120 s timeout (exit 3); bounded, the run takes at
        // most a few windows more than a normal one.
        assert!(
            took < single * 3 + Duration::from_secs(20),
            "{took:?} vs a normal run of {single:?}"
        );
        eprintln!(
            "planted {:?}: {took:?} (a normal run: {single:?})",
            &contents[..8]
        );
        if contents == planted {
            // Bounded, the far-future values still pace: no 429.
            assert_eq!(sb.stats().rate_limited, 0);
        }
        // An unreadable file is forgotten: the window it held may then cost one 429, which
        // is waited out like any other.
    }
}
