//! The shared pacer across real processes: several `woosmap-import` binaries on one dataset at
//! once, sharing a pacer folder (and the dataset's status answers), against the sandbox; a
//! folder that must not be trusted; slot files that are garbage or claim holds far in the
//! future; and status answers that must not serve a call that began after they were read.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::pacer::{date_slot_records_ahead, dated_ahead, files_with};
use common::scenario::{Running, Scenario, lines_until};
use common::{KEY, run};
use woosmap_sandbox::DatasetConfig;

/// The arguments of `run` here: JSON, polled at the status window, a timeout that only a
/// failure reaches.
const RUN: [&str; 4] = ["--poll-interval", "300ms", "--json", "--timeout=120s"];

fn with_pacer_dir(mut cmd: Command, dir: &Path) -> Command {
    cmd.env("WOOSMAP_PACER_DIR", dir);
    cmd
}

/// A new folder `name` in `base` with the permission bits `mode`.
#[cfg(unix)]
fn folder_with_mode(base: &Path, name: &str, mode: u32) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = base.join(name);
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).unwrap();
    dir
}

/// Runs `cmd` (a `run`) to its end, which must be a success; returns its report.
async fn succeeds(cmd: Command) -> serde_json::Value {
    let report = common::scenario::report(cmd, 0).await;
    assert_eq!(report["status"], "success", "{report}");
    report
}

/// Starts `n` CLIs on one dataset at once and returns their run ids (all must succeed).
async fn concurrent_runs(n: usize) -> (Vec<String>, woosmap_sandbox::Stats, String, Duration) {
    // The run starts 2 s after the trigger (the status shows the previous run meanwhile): a
    // process that starts up to then (a loaded machine staggers the spawns) may rely on it,
    // as README's "when is a run mine" says; one started later would rightly trigger anew.
    let sc = Scenario::with(DatasetConfig::default().start_delay(Duration::from_secs(2)))
        .await
        .own_pacer();
    let started = Instant::now();
    let mut children = Vec::new();
    for _ in 0..n {
        children.push(tokio::spawn(run(sc.run_command(&RUN))));
    }
    let mut runs = Vec::new();
    for child in children {
        let ran = child.await.unwrap();
        assert_eq!(ran.code, 0, "{ran:?}");
        runs.push(ran.json()[0]["run_id"].as_str().unwrap().to_owned());
    }
    (runs, sc.sb.stats(), sc.id, started.elapsed())
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
    let sc = Scenario::new().await;
    let base = tempfile::tempdir().unwrap();
    let open = folder_with_mode(base.path(), "world-writable", 0o777);
    let link = base.path().join("link");
    let target = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(target.path(), &link).unwrap();
    for (dir, why) in [
        (&open, "can be written by other users"),
        (&link, "is a symbolic link"),
    ] {
        warns_once_not_sharing(&sc, dir, why).await;
        assert_eq!(
            std::fs::read_dir(dir).unwrap().count(),
            0,
            "nothing written to {}",
            dir.display()
        );
    }
    succeeds(with_pacer_dir(sc.run_command(&RUN), &open)).await;
}

/// `status` with the pacer folder `dir` succeeds, warning once that it does not share pacing
/// because the folder `why`.
async fn warns_once_not_sharing(sc: &Scenario, dir: &Path, why: &str) {
    let ran = run(with_pacer_dir(sc.status_command(), dir)).await;
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(
        ran.stderr.matches("not sharing rate-limit pacing").count(),
        1,
        "one warning: {ran:?}"
    );
    assert!(ran.stderr.contains(why), "{ran:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_or_far_future_slot_files_cost_at_most_a_window() {
    let sc = Scenario::new().await.own_pacer();
    // A first run creates the dataset's slot files.
    let first = Instant::now();
    succeeds(sc.run_command(&RUN)).await;
    let single = first.elapsed();
    let files: Vec<_> = std::fs::read_dir(sc.pacer_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let slot_files = files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "pace"))
        .count();
    assert_eq!(slot_files, 2, "one trigger and one status file: {files:?}");
    assert_eq!(files.len(), 3, "and the last status answer: {files:?}");

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
        let mut cmd = sc.run_command(&RUN);
        // The request timeout bounds how long a (claimed) request in flight is waited for; a
        // hold recorded without Retry-After is bounded by the window.
        cmd.env("WOOSMAP_REQUEST_TIMEOUT", "3s");
        let started = Instant::now();
        succeeds(cmd).await;
        let took = started.elapsed();
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
            assert_eq!(sc.sb.stats().rate_limited, 0);
        }
        // An unreadable file is forgotten: the window it held may then cost one 429, which
        // is waited out like any other.
    }
}

/// N processes on one dataset (N = 1, 5, 20): 429s drawn, triggers sent, status calls, and
/// wall time against one process; the invariants hold at every N. (BENCHMARKS.md's figures
/// come from `scripts/bench.sh`, with release builds and the real trigger window.)
///
/// The status limit (one read per window per dataset, whoever reads) is shared by all the
/// processes; each reading for itself, 20 processes took 3.5 times as long as one and made
/// more status calls than there were processes. Sharing the answers, the dataset is read about
/// as often as by one process, and 20 finish about when one does.
#[tokio::test(flavor = "multi_thread")]
async fn n_processes_on_one_dataset_bench() {
    let mut single = None;
    for n in [1usize, 5, 20] {
        let (runs, stats, id, elapsed) = concurrent_runs(n).await;
        let ds = stats.dataset(&id).unwrap();
        assert_eq!(stats.rate_limited, 0, "N={n}: {stats:?}");
        assert_eq!(ds.triggers, 1, "N={n}: {ds:?}");
        assert!(runs.iter().all(|r| r == &ds.runs[0]), "N={n}: {runs:?}");
        let (base, base_calls) = *single.get_or_insert((elapsed, ds.status_calls));
        eprintln!(
            "bench N={n}: 429s {}, triggers {}, status calls {}, wall {:.2} s ({:.2}x one process)",
            stats.rate_limited,
            ds.triggers,
            ds.status_calls,
            elapsed.as_secs_f64(),
            elapsed.as_secs_f64() / base.as_secs_f64()
        );
        if n == 20 {
            // Each process needs at least one answer: fewer calls than processes means they
            // shared them. One process made `base_calls`; the window paces all of them.
            assert!(
                ds.status_calls < n as u64 && ds.status_calls <= base_calls * 2,
                "N={n}: {} status calls (one process: {base_calls}): {ds:?}",
                ds.status_calls
            );
            // Their wall time against one process (ideally one status window more) is a
            // figure of scripts/bench.sh (BENCHMARKS.md, "N processes × one dataset"), not an
            // assertion here: it depends on the machine's load.
        }
    }
}

/// A process that starts after another finished triggers anew and reports its own run (the
/// earlier process's answers, in the folder, show the old one). One answer file per dataset;
/// the private key is in no file name and no file.
#[tokio::test(flavor = "multi_thread")]
async fn a_later_process_reports_its_own_run_and_no_file_holds_the_key() {
    let sc = Scenario::new().await.own_pacer();
    let first = succeeds(sc.run_command(&RUN)).await;
    let second = succeeds(sc.run_command(&RUN)).await;
    assert_ne!(
        second["run_id"], first["run_id"],
        "the second process reported the old run"
    );
    let ds = sc.stats();
    assert_eq!(ds.triggers, 2, "{ds:?}");
    assert_eq!(ds.runs.len(), 2, "{ds:?}");
    let mut answers = 0;
    for entry in std::fs::read_dir(sc.pacer_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).unwrap();
        assert!(!name.contains(KEY), "{name}");
        assert!(
            !String::from_utf8_lossy(&bytes).contains(KEY),
            "the private key is in {name}"
        );
        answers += usize::from(name.ends_with(".answer"));
    }
    assert_eq!(answers, 1, "one answer file for the dataset");
}

/// A status read never takes an answer older than itself, even one only moments old: right
/// after another process read the dataset (an old, finished run), someone else starts an
/// import; a `run` that starts now must see that import running (its own read, once its slot
/// opens) and wait for it, not trigger over it on the strength of the earlier answer.
#[tokio::test(flavor = "multi_thread")]
async fn an_answer_read_before_the_call_is_not_used_for_it() {
    let sc = Scenario::new().await.own_pacer();
    let ran = sc.status_ok().await;
    assert_eq!(ran.json()[0]["status"], "success", "the seeded old run");
    // Another client starts an import now (before the next process begins).
    let running = sc
        .configure(DatasetConfig::default().running())
        .stats()
        .runs
        .last()
        .cloned()
        .unwrap();
    // A poll interval of 3 s keeps this process's first status slot closed well after it
    // starts, so an answer from before its call would be there to take.
    let report =
        succeeds(sc.run_command(&["--poll-interval", "3s", "--json", "--timeout=120s"])).await;
    let ds = sc.stats();
    assert_eq!(
        ds.triggers_while_running, 0,
        "triggered over a running import: {ds:?}"
    );
    assert_eq!(ds.triggers, 1, "{ds:?}");
    assert_ne!(
        report["run_id"].as_str().unwrap(),
        running,
        "the other client's run is not this invocation's"
    );
}

/// Issue 20, "a local record taken as evidence": the trigger record left by a run, dated an
/// hour ahead (a wall clock stepped back since, another version's file, a corrupt write), is
/// not a trigger of this invocation: the next run triggers and reports its own run instead of
/// the old one.
#[tokio::test(flavor = "multi_thread")]
async fn a_future_dated_trigger_record_is_not_taken_as_evidence() {
    let sc = Scenario::new().await.own_pacer();
    let first = succeeds(sc.run_command(&RUN)).await;
    assert!(date_slot_records_ahead(sc.pacer_dir(), Duration::from_secs(3600)) > 0);
    let report = succeeds(sc.run_command(&RUN)).await;
    let ds = sc.stats();
    assert_ne!(
        report["run_id"], first["run_id"],
        "the old run was reported as this invocation's: {ds:?}"
    );
    assert_eq!(ds.runs_triggered, 2, "{ds:?}");
}

/// Issue 20: a status answer planted in the folder, dated a few seconds ahead so that it looks
/// sent after the next invocation asked, with a reservation that keeps that invocation waiting
/// for another process's read, does not make `run` report success without asking the server.
#[tokio::test(flavor = "multi_thread")]
async fn a_planted_answer_and_reservation_do_not_make_run_report_success() {
    let sc = Scenario::new().await.own_pacer();
    sc.status_ok().await;
    let ahead = Duration::from_secs(3);
    let planted_run = common::dataset();
    let answers = files_with(sc.pacer_dir(), "answer");
    let [answer] = &answers[..] else {
        panic!("one answer file: {answers:?}")
    };
    let bytes = std::fs::read(answer).unwrap();
    let newline = bytes.iter().position(|b| *b == b'\n').unwrap();
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[..newline]).unwrap();
    dated_ahead(&mut header, ahead);
    let mut body: serde_json::Value = serde_json::from_slice(&bytes[newline + 1..]).unwrap();
    body["id"] = planted_run.clone().into();
    let later = humantime::format_rfc3339_millis(std::time::SystemTime::now() + ahead).to_string();
    for step in body["steps"].as_array_mut().unwrap() {
        for (_, value) in step.as_object_mut().unwrap() {
            let time = |s: &str| {
                s.get(..19)
                    .is_some_and(|t| humantime::parse_rfc3339_weak(t).is_ok())
            };
            if value.as_str().is_some_and(time) {
                *value = later.clone().into();
            }
        }
    }
    let body = body.to_string();
    header["body_len"] = body.len().into();
    std::fs::write(answer, format!("{header}\n{body}")).unwrap();
    // The status slot: a read of this (live) test process in flight for an hour.
    for path in files_with(sc.pacer_dir(), "pace") {
        let mut record: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        dated_ahead(&mut record, ahead);
        for (last, until, hour) in [
            ("last_ms", "inflight_until_ms", 3_600_000u64),
            ("last_ns", "inflight_until_ns", 3_600_000_000_000),
        ] {
            if let Some(t) = record[last].as_u64() {
                record[until] = (t + hour).into();
            }
        }
        record["inflight_pid"] = std::process::id().into();
        std::fs::write(&path, record.to_string()).unwrap();
    }
    let ran = run(sc.run_command(&RUN)).await;
    let ds = sc.stats();
    let reported = ran
        .json()
        .first()
        .and_then(|r| r["run_id"].as_str().map(str::to_owned));
    assert_ne!(reported.as_deref(), Some(planted_run.as_str()), "{ran:?}");
    assert!(ds.triggers >= 1, "no trigger was sent: {ds:?}\n{ran:?}");
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(ds.runs.contains(&reported.unwrap()), "{ds:?}");
}

/// Issue 20, "pacing silently off": a pacer folder that cannot be written is warned about,
/// once, and the command still works (pacing within the process).
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread")]
async fn a_read_only_pacer_folder_is_warned_about_once() {
    let sc = Scenario::new().await;
    let base = tempfile::tempdir().unwrap();
    let read_only = folder_with_mode(base.path(), "read-only", 0o500);
    // Root writes through mode 500: then a folder nobody can create a file in, of this user.
    let dir = if std::fs::write(read_only.join("probe"), "").is_ok() {
        std::path::PathBuf::from("/proc/self/fdinfo")
    } else {
        read_only
    };
    warns_once_not_sharing(&sc, &dir, "cannot be written").await;
}

/// Issue 20, "pacing silently off": while another process holds a slot's lock, a request
/// waits for it (saying so, once) instead of going out unreserved; it leaves once the lock
/// is released.
#[tokio::test(flavor = "multi_thread")]
async fn a_busy_lock_makes_the_request_wait_instead_of_going_out_unreserved() {
    let sc = Scenario::new().await.own_pacer();
    sc.status_ok().await;
    let before = sc.stats().status_calls;
    // This test process holds every slot's lock, as a stuck process would.
    let held: Vec<std::fs::File> = files_with(sc.pacer_dir(), "pace")
        .into_iter()
        .map(|path| {
            let file = std::fs::File::open(path).unwrap();
            file.lock().unwrap();
            file
        })
        .collect();
    assert!(!held.is_empty());
    let mut cli = Running::spawn(sc.status_command());
    // Wait for the line that says it waits (the end of its output, if it never does, fails).
    lines_until(
        &cli.stderr_lines(),
        "locked by another process",
        Duration::from_secs(60),
        "no wait was reported",
    );
    assert!(cli.is_running(), "it ended with the lock held");
    assert_eq!(
        sc.stats().status_calls,
        before,
        "a status read went out unreserved"
    );
    drop(held);
    let ran = cli.finish().await;
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(sc.stats().status_calls, before + 1);
}

/// The user's default pacer folders in `tmp` (`woosmap-pacer-$UID`, `rocketchat-import-$UID`,
/// the names the code uses without XDG_RUNTIME_DIR), with the files in each.
fn default_folders_in(tmp: &Path) -> Vec<(String, usize)> {
    std::fs::read_dir(tmp)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("woosmap-pacer-") || n.starts_with("rocketchat-import-"))
        .map(|n| {
            let files = std::fs::read_dir(tmp.join(&n)).map_or(0, |d| d.count());
            (n, files)
        })
        .collect()
}

/// The suite's runners keep the product out of the user's default pacer folders: the CLI as
/// every CLI test starts it (`common::cli`) and Terraform with the provider as every Terraform
/// test does (`common::terraform`), run with the temporary directory pointed at an empty
/// folder and no XDG_RUNTIME_DIR, create no default folder there and pace in the test
/// binary's private one. The same CLI run without the private folder does create the default
/// folder there, so this test fails if the runners stop setting it.
#[tokio::test(flavor = "multi_thread")]
async fn the_suites_runners_leave_the_default_pacer_folders_alone() {
    let sc = Scenario::new().await;
    let private = common::pacer::woosmap_dir();
    let private_files = || std::fs::read_dir(&private).map_or(0, |d| d.count());
    let before = private_files();

    // The temporary directory is `tmp`, and there is no XDG_RUNTIME_DIR.
    let tmp = tempfile::tempdir().unwrap();
    let in_tmp = |mut cmd: Command| {
        cmd.env("TMPDIR", tmp.path()).env_remove("XDG_RUNTIME_DIR");
        cmd
    };
    succeeds(in_tmp(sc.run_command(&RUN))).await;
    assert_eq!(
        default_folders_in(tmp.path()),
        vec![],
        "the CLI as the tests run it"
    );
    assert!(private_files() > before, "nothing in {}", private.display());

    let id = common::dataset();
    let tf = common::terraform::Terraform::new(&sc.sb.base_url());
    tf.write(&format!(
        "provider \"woosmap\" {{}}\nresource \"woosmap_dataset_import\" \"x\" {{\n  dataset_id    = \"{id}\"\n  poll_interval = \"300ms\"\n}}\n"
    ));
    let ran = run(in_tmp(tf.command(&["apply", "-auto-approve", "-no-color"]))).await;
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(sc.sb.stats().dataset(&id).map(|d| d.triggers), Some(1));
    assert_eq!(
        default_folders_in(tmp.path()),
        vec![],
        "Terraform as the tests run it"
    );

    // Without the private folder the same run paces in the default one: the check above can
    // see a test that writes there.
    let other = Scenario::new().await;
    let mut cmd = in_tmp(other.run_command(&RUN));
    cmd.env_remove("WOOSMAP_PACER_DIR");
    succeeds(cmd).await;
    let found = default_folders_in(tmp.path());
    assert!(
        found.len() == 1 && found[0].0.starts_with("woosmap-pacer-") && found[0].1 > 0,
        "{found:?}"
    );
}
