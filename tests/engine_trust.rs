//! Engine promises at the edges, through the real `woosmap-import` binary against the sandbox:
//! undocumented run statuses never hang, and their value is reported verbatim; a trigger whose
//! answer was lost is never reported as "nothing was triggered"; a run is taken for this
//! invocation's only with server evidence (README "When is a run mine").

mod common;

use std::time::{Duration, Instant};

use common::scenario::{POLL_JSON, Running, Scenario, report};
use common::wait::reads_after_trigger;
use woosmap_sandbox::{DatasetConfig, Fault, FaultEndpoint, FaultKind, Outcome};

#[tokio::test(flavor = "multi_thread")]
async fn an_undocumented_final_status_is_reported_verbatim_at_once_with_exit_1() {
    let sc = Scenario::ending(Outcome::Cancelled).await.own_pacer();
    let out = report(
        sc.run_command(&[&POLL_JSON[..], &["--timeout=60s"]].concat()),
        1,
    )
    .await;
    assert_eq!(out["status"], "cancelled", "{out}");
    assert_eq!(out["run_id"], sc.stats().runs[0].as_str());
    // Not waited on until the timeout: the sandbox's run lasts 1.5 s after a 0.5 s delay, so
    // polling every 300 ms (the status window too) sees it end by the 2000/300 + 1st read after
    // the trigger; one more may be on its way. Polling on towards the 60 s timeout would read
    // on; a loaded machine only reads less.
    let polls = reads_after_trigger(&sc.sb, &sc.id);
    assert!(polls <= 2000 / 300 + 2, "{polls} status reads: {out}");

    // A later run triggers at once (the cancelled run does not count as running).
    sc.configure(DatasetConfig::default().outcome(Outcome::Success));
    let out = report(sc.run_command(&POLL_JSON), 0).await;
    assert_eq!(out["status"], "success");
    assert_eq!(sc.stats().triggers_while_running, 0);
    assert_eq!(sc.sb.stats().rate_limited, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_undocumented_status_with_open_steps_is_said_once_and_waited_on() {
    let sc = Scenario::ending(Outcome::Queued).await;
    let ran = sc.run(&[&POLL_JSON[..], &["--timeout=5s"]].concat()).await;
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
    // The first run shows only after 5 s, so the second invocation does not take it for its
    // own (README "when is a run mine").
    let sc = Scenario::with(DatasetConfig::default().start_delay(Duration::from_secs(5)))
        .await
        .own_pacer();
    report(sc.run_command(&["--no-wait", "--json"]), 0).await;
    // The next trigger slot opens a window (2 s) + margin after that trigger; the shared pacer
    // tells the next process so.
    let args = ["--json", "--poll-interval=300ms", "--timeout=1s"];
    let out = report(sc.run_command(&args), 7).await;
    assert_eq!(out["status"], "not_triggered", "{out}");
    let error = out["error"].as_str().unwrap();
    assert!(
        error.starts_with("Nothing was triggered for dataset"),
        "{error}"
    );
    assert!(error.contains("The next trigger slot opens in"), "{error}");
    assert_eq!(sc.stats().triggers, 1);
    assert_eq!(sc.sb.stats().rate_limited, 0);
}

/// Starts `run --json` on the scenario's dataset, waits until the sandbox's counters for it
/// satisfy `reached` (named `what`), sends `signal` and returns the process's interrupted
/// report (exit 130).
async fn interrupted_report(
    sc: &Scenario,
    args: &[&str],
    what: &str,
    reached: impl Fn(&woosmap_sandbox::DatasetStats) -> bool,
    signal: &str,
) -> (common::Ran, serde_json::Value) {
    let cli = Running::spawn(sc.run_command(args));
    cli.until(what, Duration::from_secs(30), || {
        sc.sb.stats().dataset(&sc.id).is_some_and(&reached)
    });
    cli.signal(signal);
    let ran = cli.finish().await;
    assert_eq!(ran.code, 130, "{ran:?}");
    let report = ran.json()[0].clone();
    assert_eq!(report["status"], "interrupted", "{ran:?}");
    (ran, report)
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_mid_wait_writes_the_report_before_exiting() {
    let sc = Scenario::ending(Outcome::Never).await;
    // Wait until the import is triggered and followed, then terminate as CI would.
    // (one status read before the trigger; the run shows after its 0.5 s start delay)
    let (ran, report) = interrupted_report(
        &sc,
        &POLL_JSON,
        "never followed",
        |d| !d.runs.is_empty() && d.status_calls >= 5,
        "TERM",
    )
    .await;
    assert_eq!(report["run_id"], sc.stats().runs[0].as_str());
    assert!(ran.stderr.contains("Interrupted"), "{ran:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trigger_whose_answer_never_comes_is_reported_as_lost_not_as_nothing_triggered() {
    let sc = Scenario::new().await.own_pacer();
    // The trigger is handled (the import starts) but its answer is held past the timeout.
    sc.inject(
        Fault::new(FaultKind::Slow)
            .on(FaultEndpoint::Trigger)
            .for_dataset(&sc.id)
            .delay(Duration::from_secs(60)),
    );
    let ran = sc
        .run(&["--poll-interval=300ms", "--json", "--timeout=3s"])
        .await;
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
    assert_eq!(sc.stats().triggers, 1);
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_while_confirming_an_unclear_trigger_says_an_import_may_be_running() {
    // The trigger starts an import (shown only after 30 s) but answers 502: the engine reads
    // the status to confirm it before anything else, and is interrupted meanwhile.
    let sc = Scenario::with(DatasetConfig::default().start_delay(Duration::from_secs(30)))
        .await
        .own_pacer();
    sc.inject(
        Fault::new(FaultKind::Http502)
            .after_processing()
            .on(FaultEndpoint::Trigger)
            .for_dataset(&sc.id),
    );
    // Wait for the trigger and two confirming status reads after it.
    let (ran, report) = interrupted_report(
        &sc,
        &["--poll-interval=300ms", "--json"],
        "never confirmed",
        |d| d.triggers > 0 && d.status_calls >= 3,
        "INT",
    )
    .await;
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
    let sc = Scenario::with(
        DatasetConfig::default()
            .duration(Duration::from_millis(200))
            .running(),
    )
    .await
    .own_pacer();
    // Wait until that run has ended, reading the status as any client would.
    let until = Instant::now() + Duration::from_secs(30);
    let old_run = loop {
        let body = status_over_http(&sc).await;
        if body["status"] == "success" {
            break body["id"].as_str().unwrap().to_owned();
        }
        assert!(Instant::now() < until, "the seeded run never ended: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    sc.configure(DatasetConfig::default().date_lag(Duration::from_secs(120)));
    let args = ["--poll-interval=300ms", "--json", "--timeout=60s"];
    let out = report(sc.run_command(&args), 0).await;
    assert_eq!(out["triggered"], true, "the old run was adopted: {out}");
    assert_ne!(out["run_id"], old_run.as_str(), "{out}");
    assert_eq!(out["previous_run_id"], old_run.as_str(), "{out}");
    assert_eq!(sc.stats().triggers, 1);
}

/// The dataset's status as an HTTP client reads it (with the test key): the JSON body, or
/// `null` when the answer is not JSON.
async fn status_over_http(sc: &Scenario) -> serde_json::Value {
    let url = format!("{}/datasets/{}/status", sc.sb.base_url(), sc.id);
    let answer = reqwest::Client::new()
        .get(&url)
        .header("X-Api-Key", common::KEY)
        .send()
        .await
        .unwrap();
    serde_json::from_str(&answer.text().await.unwrap()).unwrap_or_default()
}
