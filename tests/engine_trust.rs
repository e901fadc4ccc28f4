//! Engine promises at the edges, through the real `woosmap-import` binary against the sandbox:
//! undocumented run statuses never hang, and their value is reported verbatim; a trigger whose
//! answer was lost is never reported as "nothing was triggered"; a run is taken for this
//! invocation's only with server evidence (README "When is a run mine").

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{cli, dataset, run, sandbox};
use woosmap_sandbox::{DatasetConfig, Fault, FaultEndpoint, FaultKind, Outcome};

#[tokio::test(flavor = "multi_thread")]
async fn an_undocumented_final_status_is_reported_verbatim_at_once_with_exit_1() {
    let sb = sandbox().await;
    let id = dataset();
    sb.configure_dataset(&id, DatasetConfig::default().outcome(Outcome::Cancelled))
        .unwrap();
    let pacer = tempfile::tempdir().unwrap();
    let mut cmd = cli(&sb);
    cmd.env("WOOSMAP_PACER_DIR", pacer.path()).args([
        "run",
        "--dataset-id",
        &id,
        "--poll-interval",
        "300ms",
        "--json",
        "--timeout=60s",
    ]);
    let started = Instant::now();
    let ran = run(cmd).await;
    assert_eq!(ran.code, 1, "{ran:?}");
    let out = &ran.json()[0];
    assert_eq!(out["status"], "cancelled", "{ran:?}");
    assert_eq!(
        out["run_id"],
        sb.stats().dataset(&id).unwrap().runs[0].as_str()
    );
    // Not waited on until the timeout: the sandbox's run lasts 1.5 s after a 0.5 s delay.
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );

    // A later run triggers at once (the cancelled run does not count as running).
    sb.configure_dataset(&id, DatasetConfig::default().outcome(Outcome::Success))
        .unwrap();
    let mut cmd = cli(&sb);
    cmd.env("WOOSMAP_PACER_DIR", pacer.path()).args([
        "run",
        "--dataset-id",
        &id,
        "--poll-interval",
        "300ms",
        "--json",
    ]);
    let ran = run(cmd).await;
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(ran.json()[0]["status"], "success");
    let stats = sb.stats();
    assert_eq!(stats.dataset(&id).unwrap().triggers_while_running, 0);
    assert_eq!(stats.rate_limited, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_undocumented_status_with_open_steps_is_said_once_and_waited_on() {
    let sb = sandbox().await;
    let id = dataset();
    sb.configure_dataset(&id, DatasetConfig::default().outcome(Outcome::Queued))
        .unwrap();
    let mut cmd = cli(&sb);
    cmd.args([
        "run",
        "--dataset-id",
        &id,
        "--poll-interval",
        "300ms",
        "--json",
        "--timeout=5s",
    ]);
    let ran = run(cmd).await;
    assert_eq!(ran.code, 3, "{ran:?}");
    assert_eq!(ran.json()[0]["status"], "timed_out");
    assert_eq!(
        ran.stderr.matches("undocumented status \"queued\"").count(),
        1,
        "{ran:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deadline_before_the_trigger_slot_reports_not_triggered_exit_7() {
    let sb = sandbox().await;
    let id = dataset();
    // The first run shows only after 5 s, so the second invocation does not take it for its
    // own (README "when is a run mine").
    sb.configure_dataset(
        &id,
        DatasetConfig::default().start_delay(Duration::from_secs(5)),
    )
    .unwrap();
    let pacer = tempfile::tempdir().unwrap();
    let mut cmd = cli(&sb);
    cmd.env("WOOSMAP_PACER_DIR", pacer.path()).args([
        "run",
        "--dataset-id",
        &id,
        "--no-wait",
        "--json",
    ]);
    let ran = run(cmd).await;
    assert_eq!(ran.code, 0, "{ran:?}");
    // The next trigger slot opens a window (2 s) + margin after that trigger; the shared pacer
    // tells the next process so.
    let mut cmd = cli(&sb);
    cmd.env("WOOSMAP_PACER_DIR", pacer.path()).args([
        "run",
        "--dataset-id",
        &id,
        "--json",
        "--poll-interval=300ms",
        "--timeout=1s",
    ]);
    let ran = run(cmd).await;
    assert_eq!(ran.code, 7, "{ran:?}");
    let out = &ran.json()[0];
    assert_eq!(out["status"], "not_triggered", "{ran:?}");
    let error = out["error"].as_str().unwrap();
    assert!(
        error.starts_with("Nothing was triggered for dataset"),
        "{error}"
    );
    assert!(error.contains("The next trigger slot opens in"), "{error}");
    let stats = sb.stats();
    assert_eq!(stats.dataset(&id).unwrap().triggers, 1);
    assert_eq!(stats.rate_limited, 0);
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_mid_wait_writes_the_report_before_exiting() {
    let sb = sandbox().await;
    let id = dataset();
    sb.configure_dataset(&id, DatasetConfig::default().outcome(Outcome::Never))
        .unwrap();
    let mut cmd = cli(&sb);
    cmd.args([
        "run",
        "--dataset-id",
        &id,
        "--poll-interval",
        "300ms",
        "--json",
    ])
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    let pid = child.id();
    // Wait until the import is triggered and followed, then terminate as CI would.
    let until = Instant::now() + Duration::from_secs(30);
    // (one status read before the trigger; the run shows after its 0.5 s start delay)
    while sb
        .stats()
        .dataset(&id)
        .is_none_or(|d| d.runs.is_empty() || d.status_calls < 5)
    {
        assert!(Instant::now() < until, "never followed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let killed = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let ran = common::Ran::from(out);
    assert_eq!(ran.code, 130, "{ran:?}");
    let report = &ran.json()[0];
    assert_eq!(report["status"], "interrupted", "{ran:?}");
    assert_eq!(
        report["run_id"],
        sb.stats().dataset(&id).unwrap().runs[0].as_str()
    );
    assert!(ran.stderr.contains("Interrupted"), "{ran:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trigger_whose_answer_never_comes_is_reported_as_lost_not_as_nothing_triggered() {
    let sb = sandbox().await;
    let id = dataset();
    // The trigger is handled (the import starts) but its answer is held past the timeout.
    sb.inject(
        Fault::new(FaultKind::Slow)
            .on(FaultEndpoint::Trigger)
            .for_dataset(&id)
            .delay(Duration::from_secs(60)),
    );
    let pacer = tempfile::tempdir().unwrap();
    let mut cmd = cli(&sb);
    cmd.env("WOOSMAP_PACER_DIR", pacer.path()).args([
        "run",
        "--dataset-id",
        &id,
        "--poll-interval=300ms",
        "--json",
        "--timeout=3s",
    ]);
    let ran = run(cmd).await;
    assert_eq!(
        ran.code, 3,
        "did not finish (not 7, nothing triggered): {ran:?}"
    );
    let out = &ran.json()[0];
    assert_eq!(out["status"], "timed_out", "{ran:?}");
    assert_eq!(out["triggered"], true, "{ran:?}");
    let error = out["error"].as_str().unwrap();
    assert!(
        error.contains("a trigger was sent but its answer was lost: an import may be running"),
        "{error}"
    );
    assert_eq!(sb.stats().dataset(&id).unwrap().triggers, 1);
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_while_confirming_an_unclear_trigger_says_an_import_may_be_running() {
    let sb = sandbox().await;
    let id = dataset();
    // The trigger starts an import (shown only after 30 s) but answers 502: the engine reads
    // the status to confirm it before anything else, and is interrupted meanwhile.
    sb.configure_dataset(
        &id,
        DatasetConfig::default().start_delay(Duration::from_secs(30)),
    )
    .unwrap();
    sb.inject(
        Fault::new(FaultKind::Http502)
            .after_processing()
            .on(FaultEndpoint::Trigger)
            .for_dataset(&id),
    );
    let pacer = tempfile::tempdir().unwrap();
    let mut cmd = cli(&sb);
    cmd.env("WOOSMAP_PACER_DIR", pacer.path())
        .args([
            "run",
            "--dataset-id",
            &id,
            "--poll-interval=300ms",
            "--json",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    let pid = child.id();
    // Wait for the trigger and two confirming status reads after it.
    let until = Instant::now() + Duration::from_secs(30);
    while sb
        .stats()
        .dataset(&id)
        .is_none_or(|d| d.triggers == 0 || d.status_calls < 3)
    {
        assert!(Instant::now() < until, "never confirmed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let killed = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let ran = common::Ran::from(out);
    assert_eq!(ran.code, 130, "{ran:?}");
    let report = &ran.json()[0];
    assert_eq!(report["status"], "interrupted", "{ran:?}");
    assert_eq!(report["triggered"], true, "{ran:?}");
    let error = report["error"].as_str().unwrap();
    assert!(
        error.contains("its answer was lost: an import may be running"),
        "{error}"
    );
    assert!(!error.contains("nothing was started"), "{error}");
}

/// README "When is a run mine": a run that had already ended when the invocation first read
/// the status is never its result, even when the server's `Date` header lags the clock that
/// stamps the steps (the run then looks newer than the invocation).
#[tokio::test(flavor = "multi_thread")]
async fn an_ended_run_is_never_adopted_even_when_the_date_header_lags() {
    let sb = sandbox().await;
    let id = dataset();
    sb.configure_dataset(
        &id,
        DatasetConfig::default()
            .duration(Duration::from_millis(200))
            .running(),
    )
    .unwrap();
    // Wait until that run has ended, reading the status as any client would.
    let http = reqwest::Client::new();
    let url = format!("{}/datasets/{id}/status", sb.base_url());
    let until = Instant::now() + Duration::from_secs(30);
    let old_run = loop {
        let text = http
            .get(&url)
            .header("X-Api-Key", common::KEY)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        if body["status"] == "success" {
            break body["id"].as_str().unwrap().to_owned();
        }
        assert!(Instant::now() < until, "the seeded run never ended: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    sb.configure_dataset(
        &id,
        DatasetConfig::default().date_lag(Duration::from_secs(120)),
    )
    .unwrap();
    let pacer = tempfile::tempdir().unwrap();
    let mut cmd = cli(&sb);
    cmd.env("WOOSMAP_PACER_DIR", pacer.path()).args([
        "run",
        "--dataset-id",
        &id,
        "--poll-interval=300ms",
        "--json",
        "--timeout=60s",
    ]);
    let ran = run(cmd).await;
    assert_eq!(ran.code, 0, "{ran:?}");
    let out = &ran.json()[0];
    assert_eq!(out["triggered"], true, "the old run was adopted: {ran:?}");
    assert_ne!(out["run_id"], old_run.as_str(), "{ran:?}");
    assert_eq!(out["previous_run_id"], old_run.as_str(), "{ran:?}");
    assert_eq!(sb.stats().dataset(&id).unwrap().triggers, 1);
}
