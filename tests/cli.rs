//! `woosmap-import` end to end: the real binary against the sandbox over loopback HTTP.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::scenario::{POLL, POLL_JSON, Running, Scenario, dataset_with, lines_until};
use common::wait::{self, reads_after_trigger};
use common::{KEY, cli, dataset, run, sandbox};
use woosmap_sandbox::{DatasetConfig, Fault, FaultEndpoint, FaultKind, KeyState, Outcome};

#[tokio::test(flavor = "multi_thread")]
async fn success_reports_the_new_run() {
    let sc = Scenario::new().await;
    let ran = sc.run(&POLL_JSON).await;
    assert_eq!(ran.code, 0, "{ran:?}");
    let out = ran.json();
    let stats = sc.sb.stats();
    let ds = sc.stats();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0]["status"], "success");
    assert_eq!(out[0]["dataset_id"], sc.id);
    assert_eq!(out[0]["run_id"], ds.runs[0].as_str());
    assert_ne!(out[0]["previous_run_id"], out[0]["run_id"]);
    assert_eq!(ds.triggers, 1);
    assert_eq!(stats.rate_limited, 0, "our pacing provoked a 429");
    assert!(out[0]["steps"].as_array().unwrap().len() == 2, "{out:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn failure_shows_the_error_entries_and_exits_1() {
    let sc = Scenario::ending(Outcome::Failed).await;
    let ran = sc.run(&POLL).await;
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(ran.stdout.contains("import FAILED"), "{ran:?}");
    assert!(ran.stdout.contains("step import failed"), "{ran:?}");
    assert!(
        ran.stdout.contains("missing required property 'storeId'"),
        "{ran:?}"
    );
    assert_eq!(sc.sb.stats().rate_limited, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_stale_previous_run_is_not_taken_for_the_new_one() {
    // The previous (successful) run stays visible for 2.5 s, many polls long.
    let sc =
        Scenario::with(DatasetConfig::default().start_delay(Duration::from_millis(2500))).await;
    let started = Instant::now();
    let ran = sc.run(&POLL_JSON).await;
    assert_eq!(ran.code, 0, "{ran:?}");
    let out = &ran.json()[0];
    let ds = sc.stats();
    assert_eq!(out["run_id"], ds.runs[0].as_str(), "{ran:?}");
    assert!(!out["previous_run_id"].is_null());
    assert!(started.elapsed() >= Duration::from_millis(2500 + 1500));
    assert!(ds.status_calls >= 5, "expected several polls: {ds:?}");
    assert_eq!(sc.sb.stats().rate_limited, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_never_imported_dataset_is_followed_from_its_first_run() {
    let sc = Scenario::with(DatasetConfig::never_imported()).await;
    let ran = sc.run(&POLL_JSON).await;
    assert_eq!(ran.code, 0, "{ran:?}");
    let out = &ran.json()[0];
    assert!(out["previous_run_id"].is_null(), "{out}");
    assert_eq!(out["status"], "success");
    assert_eq!(sc.stats().runs.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_running_import_is_waited_on_and_not_doubled() {
    let sc = Scenario::running_for(Duration::from_secs(2)).await;
    let ran = sc.run(&POLL).await;
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(ran.stderr.contains("already running"), "{ran:?}");
    let ds = sc.stats();
    assert_eq!(
        ds.triggers_while_running, 0,
        "triggered over a running import"
    );
    assert_eq!(ds.triggers, 1);
    assert_eq!(ds.runs.len(), 2, "the running one, then ours: {ds:?}");
    assert_eq!(sc.sb.stats().rate_limited, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_runs_back_to_back_ride_out_the_trigger_window() {
    let sc = Scenario::with(
        DatasetConfig::default()
            .duration(Duration::from_millis(300))
            .start_delay(Duration::from_millis(100)),
    )
    .await;
    let mut runs = Vec::new();
    for _ in 0..2 {
        let ran = sc.run(&POLL_JSON).await;
        assert_eq!(ran.code, 0, "{ran:?}");
        runs.push(ran.json()[0]["run_id"].as_str().unwrap().to_owned());
    }
    assert_ne!(runs[0], runs[1]);
    let ds = sc.stats();
    assert_eq!(ds.runs, runs);
    assert_eq!(ds.triggers_while_running, 0);
    // The second process starts with the first one's windows (the pacer shares them across
    // processes): it waits instead of drawing a 429.
    assert_eq!(ds.rate_limited, 0, "{ds:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_never_ending_import_times_out_with_exit_3() {
    let sc = Scenario::ending(Outcome::Never).await;
    let ran = sc.run(&[&POLL[..], &["--timeout", "2s"]].concat()).await;
    assert_eq!(ran.code, 3, "{ran:?}");
    assert!(ran.stdout.contains("did not finish within 2s"), "{ran:?}");
    // The wait ended at the timeout: polling every 300 ms (the status window too), 2 s hold at
    // most 2000/300 + 1 reads after the trigger, one more for a read in flight at the end.
    // Waiting on past the timeout would read on; a loaded machine only reads less.
    let polls = reads_after_trigger(&sc.sb, &sc.id);
    assert!(polls <= 2000 / 300 + 2, "{polls} status reads: {ran:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn documented_errors_read_as_sentences_with_their_exit_codes() {
    let sc = Scenario::new().await;
    // 403: a key the API does not know.
    let mut cmd = sc.run_command(&[]);
    cmd.env("WOOSMAP_PRIVATE_KEY", "not-the-right-key");
    let ran = run(cmd).await;
    assert_eq!(ran.code, 4, "{ran:?}");
    assert!(ran.stdout.contains("403"), "{ran:?}");
    assert!(!ran.all().contains("not-the-right-key"), "{ran:?}");

    // 402: out of quota.
    sc.sb.set_key_state("quota-gone-key", KeyState::NoQuota);
    let mut cmd = sc.run_command(&[]);
    cmd.env("WOOSMAP_PRIVATE_KEY", "quota-gone-key");
    let ran = run(cmd).await;
    assert_eq!(ran.code, 5, "{ran:?}");
    assert!(ran.stdout.to_lowercase().contains("quota"), "{ran:?}");

    // 404: the dataset does not exist.
    let missing = Scenario::with(DatasetConfig::missing()).await;
    let ran = missing.run(&[]).await;
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(ran.stdout.contains(&missing.id), "{ran:?}");
    assert!(ran.stdout.to_lowercase().contains("not found"), "{ran:?}");
    assert_eq!(missing.stats().runs.len(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_429_from_someone_else_is_waited_out() {
    let sc = Scenario::new().await;
    sc.inject(Fault {
        endpoint: FaultEndpoint::Trigger,
        retry_after: Some(1),
        ..Fault::new(FaultKind::RateLimit)
    })
    .inject(Fault {
        endpoint: FaultEndpoint::Status,
        count: 2,
        ..Fault::new(FaultKind::RateLimit)
    });
    let ran = sc.run(&POLL_JSON).await;
    assert_eq!(ran.code, 0, "{ran:?}");
    let stats = sc.sb.stats();
    assert_eq!(stats.injected, 3);
    assert_eq!(stats.rate_limited, 0);
    assert_eq!(sc.stats().runs.len(), 1);
}

/// Runs the CLI once against `status_faults` in a row on the status endpoint (each retried
/// with backoff: 0.5 s, 1 s, 2 s, … so a long row costs seconds of real time; the kinds are
/// split over two cases that run concurrently) and, with `lose_trigger`, a trigger whose
/// connection is reset after the server took it. Exactly one import runs, and it is reported.
async fn ride_through(status_faults: &[FaultKind], lose_trigger: bool) {
    let sc = Scenario::new().await;
    for kind in status_faults {
        sc.inject(Fault::new(*kind).on(FaultEndpoint::Status));
    }
    if lose_trigger {
        // A lost trigger: the engine must look before triggering again.
        sc.inject(Fault::new(FaultKind::Reset).on(FaultEndpoint::Trigger));
    }
    let ran = sc.run(&POLL_JSON).await;
    assert_eq!(ran.code, 0, "{ran:?}");
    let stats = sc.sb.stats();
    let ds = sc.stats();
    let injected = status_faults.len() as u64 + u64::from(lose_trigger);
    assert_eq!(stats.injected, injected, "every fault was met: {stats:?}");
    assert_eq!(ds.runs.len(), 1, "exactly one import ran: {ds:?}");
    assert_eq!(ds.triggers_while_running, 0);
    assert_eq!(ran.json()[0]["run_id"], ds.runs[0].as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn server_errors_and_resets_are_ridden_through() {
    ride_through(
        &[FaultKind::Http503, FaultKind::Http500, FaultKind::Reset],
        false,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_a_502_and_a_lost_trigger_are_ridden_through() {
    ride_through(&[FaultKind::Garbage, FaultKind::Http502], true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn several_datasets_run_at_once_and_the_worst_outcome_sets_the_exit_code() {
    let sb = sandbox().await;
    let failed = dataset_with(&sb, DatasetConfig::default().outcome(Outcome::Failed));
    let ids = [dataset(), dataset(), failed, dataset()];
    let mut cmd = cli(&sb);
    cmd.arg("run").args(POLL_JSON);
    for id in &ids {
        cmd.args(["--dataset-id", id]);
    }
    let ran = run(cmd).await;
    assert_eq!(ran.code, 1, "{ran:?}");
    // Concurrent: every dataset was triggered before any other stopped being polled (one by
    // one, each is polled to its end before the next is triggered).
    let requests = sb.requests();
    let arrivals = |path: String| -> Vec<_> {
        requests
            .iter()
            .filter(|r| r.path == path)
            .map(|r| r.at.expect("an in-process sandbox dates its requests"))
            .collect()
    };
    let last_trigger = ids
        .iter()
        .map(|id| {
            let triggers = arrivals(format!("/datasets/{id}/import"));
            triggers
                .into_iter()
                .max()
                .unwrap_or_else(|| panic!("{id} never triggered"))
        })
        .max()
        .expect("four datasets");
    for id in &ids {
        let last_poll = arrivals(format!("/datasets/{id}/status")).into_iter().max();
        assert!(
            last_poll.is_some_and(|at| at > last_trigger),
            "{id} was polled to its end before the last trigger: {ran:?}"
        );
    }
    let out = ran.json();
    let statuses: Vec<_> = out.iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["success", "success", "failed", "success"]);
    for (o, id) in out.iter().zip(&ids) {
        assert_eq!(o["dataset_id"], id.as_str());
    }
    assert_eq!(sb.stats().rate_limited, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_reimport_webhook_triggers_without_the_private_key() {
    let rk = "rk-4d9f-only-for-this-test";
    let sc = Scenario::with(DatasetConfig::default().reimport_key(rk)).await;
    let mut cmd = sc.run_command(&["--no-wait", "--json"]);
    cmd.env_remove("WOOSMAP_PRIVATE_KEY")
        .env("WOOSMAP_REIMPORT_KEY", rk);
    let ran = run(cmd).await;
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(ran.json()[0]["status"], "triggered");
    assert!(!ran.all().contains(rk));
    let ds = sc.stats();
    assert_eq!(ds.triggers, 1);
    assert_eq!(ds.runs.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn status_prints_the_latest_run() {
    let sc = Scenario::new().await;
    let out = &sc.status_ok().await.json()[0];
    assert_eq!(out["status"], "success");
    assert!(out["run_id"].is_string());
    assert_eq!(sc.stats().triggers, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_input_fails_before_any_request_naming_the_field() {
    let sb = sandbox().await;
    let id = dataset();
    let cases: Vec<(Vec<&str>, Option<&str>, &str)> = vec![
        (
            vec!["run", "--dataset-id", "stores-2024"],
            None,
            "--dataset-id",
        ),
        (
            vec!["run", "--dataset-id", &id, "--timeout", "ten minutes"],
            None,
            "--timeout",
        ),
        (
            vec!["run", "--dataset-id", &id, "--poll-interval", "5"],
            None,
            "--poll-interval",
        ),
        (
            vec!["run", "--dataset-id", &id],
            Some(""),
            "WOOSMAP_PRIVATE_KEY",
        ),
        (
            vec!["status", "--dataset-id", &id],
            Some("  "),
            "WOOSMAP_PRIVATE_KEY",
        ),
    ];
    for (args, key, field) in cases {
        let mut cmd = cli(&sb);
        if let Some(k) = key {
            cmd.env("WOOSMAP_PRIVATE_KEY", k);
        }
        cmd.args(&args);
        let ran = run(cmd).await;
        assert_eq!(ran.code, 2, "{args:?}: {ran:?}");
        assert!(
            ran.stderr.contains(field),
            "{args:?} should name {field}: {ran:?}"
        );
    }
    assert_eq!(
        sb.stats().requests,
        0,
        "a request was sent for invalid input"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_stops_the_wait_at_once() {
    let sc = Scenario::ending(Outcome::Never).await;
    let mut cli = Running::spawn(sc.run_command(&POLL));
    let stderr = cli.stderr_lines();
    let seen = lines_until(
        &stderr,
        "step fetch started",
        Duration::from_secs(10),
        "the run never started",
    );
    let sent = Instant::now();
    cli.signal("INT");
    // The run never ends and no timeout was given: only the interrupt can end the process
    // (the limit only stops a hang).
    tokio::task::block_in_place(|| {
        wait::until(
            "the CLI's end after Ctrl-C",
            Duration::from_secs(60),
            || !cli.is_running(),
        )
    });
    let ran = cli.finish().await;
    assert_eq!(ran.code, 130, "{ran:?}");
    // It stopped waiting at once: no status read was sent after the signal, but for one that
    // may have been on its way.
    let after = wait::status_reads_since(&sc.sb, &sc.id, sent);
    assert!(after.len() <= 1, "polled on after Ctrl-C: {after:?}");
    let rest: Vec<String> = stderr.try_iter().collect();
    assert!(
        rest.iter()
            .any(|l| l.contains("keep running on Woosmap's side")),
        "{seen:?} {rest:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_key_appears_in_trace_logs() {
    let sb = sandbox().await;
    let rk = "reimport-key-7f3e-never-print-me";
    let ok = dataset();
    let failed = dataset_with(&sb, DatasetConfig::default().outcome(Outcome::Failed));
    let hooked = dataset_with(&sb, DatasetConfig::default().reimport_key(rk));
    sb.inject(Fault::new(FaultKind::Http500));
    sb.inject(Fault {
        endpoint: FaultEndpoint::Webhook,
        ..Fault::new(FaultKind::Reset)
    });
    // Three runs at once (none depends on another's faults or outcome).
    let mut first = cli(&sb);
    first
        .env("WOOSMAP_LOG", "trace")
        .args(["run", "--poll-interval", "300ms", "--dataset-id", &ok])
        .args(["--dataset-id", &failed]);
    let mut hook = cli(&sb);
    hook.env("WOOSMAP_LOG", "trace")
        .env("WOOSMAP_REIMPORT_KEY", rk)
        .args(["run", "--poll-interval", "300ms", "--dataset-id", &hooked]);
    let mut wrong = cli(&sb);
    wrong
        .env("WOOSMAP_LOG", "trace")
        .env("WOOSMAP_PRIVATE_KEY", format!("{KEY}-wrong"))
        .args(["status", "--dataset-id", &ok]);
    let (a, b, c) = tokio::join!(run(first), run(hook), run(wrong));
    let outputs = [a, b, c];
    for ran in &outputs {
        let all = ran.all();
        assert!(all.contains("TRACE") || all.contains("DEBUG"), "{ran:?}");
        assert!(!all.contains(KEY), "private key leaked: {ran:?}");
        assert!(!all.contains(rk), "reimport key leaked: {ran:?}");
    }
    assert_eq!(outputs[1].code, 0, "{:?}", outputs[1]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_terminal_gets_a_live_line_per_dataset() {
    // `script` (util-linux) gives the CLI a pseudo-terminal, as a person's shell would.
    let sb = sandbox().await;
    let ok = dataset();
    let failed = dataset_with(&sb, DatasetConfig::default().outcome(Outcome::Failed));
    let inner = format!(
        "{} run --poll-interval 300ms --dataset-id {ok} --dataset-id {failed}",
        common::bin("woosmap-import").display()
    );
    let typescript = tempfile::NamedTempFile::new().unwrap();
    let mut cmd = cli(&sb);
    cmd.current_dir(std::env::temp_dir());
    let mut script = std::process::Command::new("script");
    script
        .args(["-qec", &inner])
        .arg(typescript.path())
        .envs(cmd.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
        .stdin(Stdio::null());
    let ran = run(script).await;
    assert_eq!(ran.code, 1, "{ran:?}");
    let screen = std::fs::read_to_string(typescript.path()).unwrap();
    // Spinner lines redrawn in place (cursor movements), one per dataset, each closed with
    // its outcome mark; log entries scroll above them; the summary follows.
    assert!(screen.contains("\u{1b}[2K"), "no live redraw: {screen}");
    assert!(screen.contains(&format!("✓ \u{1b}[1m{ok}")), "{screen}");
    assert!(screen.contains(&format!("✗ \u{1b}[1m{failed}")), "{screen}");
    assert!(
        screen.contains(&format!("  {failed}: [import] error: Feature 17")),
        "{screen}"
    );
    assert!(screen.contains("import FAILED"), "{screen}");
}
