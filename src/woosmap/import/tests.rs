//! Engine tests against the sandbox, in process (short windows, real time).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use woosmap_sandbox::{
    DatasetConfig, Fault, FaultEndpoint, FaultKind, Outcome as RunOutcome, SandboxHandle,
};

use super::*;
use crate::woosmap::api::test_support::{
    PRIVATE_KEY, STATUS_WINDOW, TRIGGER_WINDOW, add_dataset, imported_dataset, new_dataset_id,
    rejected_429, requests_with, start_with_test_windows, test_client, triggers_accepted,
};

const START_DELAY: Duration = Duration::from_millis(300);
const DURATION: Duration = Duration::from_millis(800);

fn new_dataset() -> DatasetId {
    new_dataset_id()
}

async fn server() -> SandboxHandle {
    start_with_test_windows(START_DELAY, DURATION).await
}

fn client(srv: &SandboxHandle, key: Option<&str>) -> Client {
    test_client(srv.base_url(), key, Duration::from_secs(5))
}

/// A dataset on `srv` set up as [`imported_dataset`] does, then configured with `config`.
fn imported_with(srv: &SandboxHandle, config: DatasetConfig) -> DatasetId {
    let id = imported_dataset(srv);
    srv.configure_dataset(id.as_str(), config).unwrap();
    id
}

/// `run_import` of `spec` with no events and no cancellation.
async fn quietly(c: &Client, spec: ImportSpec) -> Result<Outcome, EngineError> {
    run_import(c, spec, EventSink::none(), CancellationToken::new()).await
}

fn spec(id: &DatasetId) -> ImportSpec {
    ImportSpec {
        poll_interval: Duration::from_millis(100),
        timeout: Duration::from_secs(20),
        ..ImportSpec::new(id.clone())
    }
}

fn recorder() -> (EventSink, Arc<Mutex<Vec<Event>>>) {
    let out = Arc::new(Mutex::new(Vec::new()));
    let o = out.clone();
    (EventSink::new(move |e| o.lock().unwrap().push(e)), out)
}

/// A compact trace of the events, for order checks.
fn names(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .map(|e| match e {
            Event::Observed { previous, .. } => {
                format!(
                    "observed {}",
                    if previous.is_some() { "run" } else { "none" }
                )
            }
            Event::WaitingForRunning { .. } => "waiting".into(),
            Event::Triggered { via_webhook, .. } => format!("triggered webhook={via_webhook}"),
            Event::Joined { .. } => "joined".into(),
            Event::RunIdentified { .. } => "identified".into(),
            Event::StepStarted { step, .. } => format!("start {step}"),
            Event::StepFinished { step, status, .. } => format!("end {step} {status}"),
            Event::Entry { step, .. } => format!("entry {step}"),
            Event::Retrying { .. } => "retrying".into(),
            Event::Finished { status, .. } => format!("finished {status}"),
        })
        .collect()
}

#[tokio::test]
async fn imports_and_follows_the_new_run() {
    let srv = server().await;
    let id = imported_dataset(&srv);
    let c = client(&srv, Some(PRIVATE_KEY));
    let (sink, events) = recorder();
    let t0 = Instant::now();
    let out = run_import(&c, spec(&id), sink, CancellationToken::new())
        .await
        .unwrap();
    let elapsed = t0.elapsed();

    let run = out.run.clone().expect("waited");
    assert_eq!(run.status, RunStatus::Success);
    assert!(out.triggered && out.succeeded());
    let prev = out.previous_run_id.clone().expect("had a previous run");
    assert_ne!(prev, run.id);
    assert_eq!(run.steps.len(), 2);

    let events = events.lock().unwrap();
    let trace = names(&events);
    assert_eq!(trace[0], "observed run");
    assert_eq!(trace[1], "triggered webhook=false");
    assert_eq!(trace[2], "identified");
    assert_eq!(trace.last().unwrap(), "finished success");
    assert!(trace.contains(&"end fetch success".to_owned()), "{trace:?}");
    assert!(
        trace.contains(&"end import success".to_owned()),
        "{trace:?}"
    );
    // each log entry of the finished run once
    let entries: usize = run.steps.iter().map(|s| s.entries.len()).sum();
    assert!(entries >= 4, "{entries}");
    assert_eq!(
        trace.iter().filter(|t| t.starts_with("entry")).count(),
        entries
    );
    assert!(events.iter().all(|e| e.dataset_id() == &id));
    match &events[2] {
        Event::RunIdentified { run_id, .. } => assert_eq!(run_id, &run.id),
        e => panic!("{e:?}"),
    }

    assert_eq!(rejected_429(&srv), 0);
    assert_eq!(triggers_accepted(&srv), 1);
    // status calls ≤ ⌈T / interval⌉ + 2, the interval being the status window plus margin
    let status_calls = requests_with(&srv, "GET").len();
    let interval = STATUS_WINDOW + crate::woosmap::api::STATUS_MARGIN;
    let bound = (elapsed.as_secs_f64() / interval.as_secs_f64()).ceil() as usize + 2;
    assert!(status_calls <= bound, "{status_calls} > {bound}");
}

#[tokio::test]
async fn first_import_of_a_dataset_never_imported() {
    let srv = server().await;
    let id = new_dataset();
    add_dataset(&srv, id.as_str(), false, None);
    let c = client(&srv, Some(PRIVATE_KEY));
    let (sink, events) = recorder();
    let out = run_import(&c, spec(&id), sink, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(out.previous_run_id, None);
    assert_eq!(out.status(), Some(RunStatus::Success));
    assert_eq!(names(&events.lock().unwrap())[0], "observed none");
}

#[tokio::test]
async fn waits_for_a_running_import_before_triggering() {
    let srv = server().await;
    // someone else's import, running for DURATION
    let id = imported_with(&srv, DatasetConfig::default().running());
    let running_until = Instant::now() + DURATION;
    let c = client(&srv, Some(PRIVATE_KEY));
    let (sink, events) = recorder();
    let out = run_import(&c, spec(&id), sink, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(out.status(), Some(RunStatus::Success));
    let trace = names(&events.lock().unwrap());
    assert_eq!(
        &trace[..3],
        ["observed run", "waiting", "triggered webhook=false"]
    );
    assert_eq!(trace.iter().filter(|t| *t == "waiting").count(), 1);
    let trigger = requests_with(&srv, "POST").remove(0);
    assert!(
        trigger.at.unwrap() >= running_until,
        "triggered while a run was running"
    );
    // the previous run, someone else's and ours
    assert_eq!(srv.stats().dataset(id.as_str()).unwrap().runs.len(), 2);
    assert_eq!(triggers_accepted(&srv), 1);
}

#[tokio::test]
async fn a_429_on_the_trigger_means_look_again_and_join_their_import() {
    let srv = server().await;
    // Someone else triggered just after we began: our trigger is refused with a 429, and their
    // run shows up (started after our invocation began) while we wait the 429 out. It imports
    // data published before we began, so it is ours to report: no second trigger.
    let id = imported_with(
        &srv,
        DatasetConfig::default().run_starts_in(Duration::from_secs(2)),
    );
    srv.inject(
        Fault::new(FaultKind::RateLimit)
            .on(FaultEndpoint::Trigger)
            .retry_after(3),
    );
    let c = client(&srv, Some(PRIVATE_KEY));
    let (sink, events) = recorder();
    let out = run_import(&c, spec(&id), sink, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(out.status(), Some(RunStatus::Success));
    assert!(!out.triggered);
    let theirs = srv.stats().dataset(id.as_str()).unwrap().runs[0].clone();
    assert_eq!(out.run.unwrap().id, theirs);
    let trace = names(&events.lock().unwrap());
    assert_eq!(
        &trace[..4],
        ["observed run", "retrying", "observed run", "joined"],
        "{trace:?}"
    );
    assert_eq!(requests_with(&srv, "POST").len(), 1, "the refused one only");
    assert_eq!(triggers_accepted(&srv), 0);
    assert_eq!(rejected_429(&srv), 0);
}

#[tokio::test]
async fn overlapping_invocations_send_one_trigger_and_report_one_run() {
    let srv = server().await;
    let id = imported_dataset(&srv);
    let c = client(&srv, Some(PRIVATE_KEY));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..3 {
        let (c, spec) = (c.clone(), spec(&id));
        set.spawn(async move { quietly(&c, spec).await });
    }
    let mut runs = Vec::new();
    let mut triggered = 0;
    while let Some(r) = set.join_next().await {
        let out = r.unwrap().unwrap();
        triggered += usize::from(out.triggered);
        runs.push(out.run.unwrap().id);
    }
    assert_eq!(triggers_accepted(&srv), 1);
    assert_eq!(triggered, 1);
    assert!(runs.iter().all(|r| r == &runs[0]), "{runs:?}");
    assert_eq!(rejected_429(&srv), 0);
}

#[tokio::test]
async fn no_wait_triggers_and_returns() {
    let srv = server().await;
    let id = imported_dataset(&srv);
    let c = client(&srv, Some(PRIVATE_KEY));
    let out = quietly(
        &c,
        ImportSpec {
            wait: false,
            ..spec(&id)
        },
    )
    .await
    .unwrap();
    assert!(out.triggered && out.run.is_none() && out.previous_run_id.is_some());
    let methods: Vec<String> = srv.requests().into_iter().map(|r| r.method).collect();
    assert_eq!(methods, ["GET", "POST"]);
}

#[tokio::test]
async fn failed_import_is_an_outcome() {
    let srv = server().await;
    let id = imported_with(&srv, DatasetConfig::default().outcome(RunOutcome::Failed));
    let c = client(&srv, Some(PRIVATE_KEY));
    let out = quietly(&c, spec(&id)).await.unwrap();
    let run = out.run.as_ref().unwrap();
    assert_eq!(run.status, RunStatus::Failed);
    assert!(!out.succeeded());
    let failed = run.failed_entries();
    assert!(!failed.is_empty());
    assert!(
        failed.iter().all(|(step, _)| step.name == "import"),
        "{failed:?}"
    );
    assert!(
        failed[0].1.detail.contains("missing required property"),
        "{failed:?}"
    );
}

#[tokio::test]
async fn times_out_with_the_last_snapshot() {
    let srv = start_with_test_windows(Duration::from_millis(100), Duration::from_secs(60)).await;
    let id = imported_dataset(&srv);
    let c = client(&srv, Some(PRIVATE_KEY));
    let err = quietly(
        &c,
        ImportSpec {
            timeout: Duration::from_millis(1500),
            ..spec(&id)
        },
    )
    .await
    .unwrap_err();
    // That it ends by its deadline is the simulation's `deadline` invariant (every seed, on
    // tokio's paused clock, src/sim/check.rs) and, for a slot past the deadline, the paused
    // `api::loopback_tests::paused::next_slot_past_deadline_fails_fast`.
    match &err {
        EngineError::TimedOut {
            run,
            waited,
            previous_run_id,
            ..
        } => {
            assert_eq!(run.as_ref().unwrap().status, RunStatus::InProgress);
            assert_eq!(*waited, Duration::from_millis(1500));
            // The run seen before the trigger is known, and reported.
            let previous = previous_run_id.as_deref().expect("the previous run");
            assert_ne!(previous, run.as_ref().unwrap().id);
        }
        e => panic!("{e:?}"),
    }
    let text = err.to_string();
    assert!(text.contains("did not finish within 1s 500ms"), "{text}");
    assert!(text.contains("in_progress"), "{text}");
}

#[tokio::test]
async fn cancellation_is_prompt() {
    let srv = start_with_test_windows(Duration::from_millis(100), Duration::from_secs(60)).await;
    let id = imported_dataset(&srv);
    let c = client(&srv, Some(PRIVATE_KEY));
    let cancel = CancellationToken::new();
    let (sink, mut rx) = EventSink::channel();
    let task = tokio::spawn({
        let cancel = cancel.clone();
        let spec = ImportSpec {
            poll_interval: Duration::from_secs(2),
            ..spec(&id)
        };
        async move { run_import(&c, spec, sink, cancel).await }
    });
    // Wait until the run is identified, then cancel in the middle of a long pacing wait.
    loop {
        match rx.recv().await.unwrap() {
            Event::RunIdentified { .. } => break,
            _ => continue,
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let reads = requests_with(&srv, "GET").len();
    // From here on tokio's clock is paused: it moves only if something waits on a timer (the
    // runtime then jumps to it), so any wait before the engine ends shows in the elapsed
    // (virtual) time, whatever the machine's load.
    tokio::time::pause();
    let t0 = Instant::now();
    cancel.cancel();
    let err = task.await.unwrap().unwrap_err();
    // It stops inside the pacing wait, at once, not at its end (the next poll is 2 s away),
    // and the read that wait led to is never sent. How soon on a real machine is a figure of
    // scripts/bench.sh (BENCHMARKS.md, "Ctrl-C → exit").
    assert_eq!(t0.elapsed(), Duration::ZERO, "no wait after the cancel");
    assert_eq!(
        requests_with(&srv, "GET").len(),
        reads,
        "no read after the cancel"
    );
    match err {
        EngineError::Cancelled {
            run,
            previous_run_id,
            ..
        } => {
            let previous = previous_run_id.as_deref().expect("the previous run");
            assert_ne!(previous, run.expect("the run").id);
        }
        e => panic!("{e:?}"),
    }
}

#[tokio::test]
async fn lost_trigger_response_is_confirmed_not_repeated() {
    let srv = server().await;
    let id = imported_dataset(&srv);
    // The import is scheduled, but the connection breaks before the answer arrives.
    srv.inject(
        Fault::new(FaultKind::Reset)
            .on(FaultEndpoint::Trigger)
            .after_processing(),
    );
    let c = client(&srv, Some(PRIVATE_KEY));
    let (sink, events) = recorder();
    let out = run_import(&c, spec(&id), sink, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(out.status(), Some(RunStatus::Success));
    assert_eq!(triggers_accepted(&srv), 1);
    let posts = requests_with(&srv, "POST").len();
    assert_eq!(posts, 1, "never triggered twice");
    let trace = names(&events.lock().unwrap());
    assert_eq!(
        &trace[..3],
        ["observed run", "retrying", "triggered webhook=false"]
    );
}

#[tokio::test]
async fn failed_trigger_is_retried_after_confirming_no_run() {
    let srv = server().await;
    let id = imported_dataset(&srv);
    // A 502 that did not schedule anything.
    srv.inject(Fault::new(FaultKind::Http502).on(FaultEndpoint::Trigger));
    let c = client(&srv, Some(PRIVATE_KEY));
    let t0 = Instant::now();
    let out = quietly(
        &c,
        ImportSpec {
            timeout: Duration::from_secs(30),
            ..spec(&id)
        },
    )
    .await
    .unwrap();
    assert_eq!(out.status(), Some(RunStatus::Success));
    assert!(t0.elapsed() >= CONFIRM_MIN, "looked for a new run first");
    let posts = requests_with(&srv, "POST").len();
    assert_eq!(posts, 2);
    assert_eq!(triggers_accepted(&srv), 1);
    assert_eq!(rejected_429(&srv), 0);
}

#[tokio::test]
async fn webhook_import_and_blind_webhook_without_private_key() {
    let srv = server().await;
    let id = new_dataset();
    add_dataset(&srv, id.as_str(), true, Some("rk-0123456789"));
    let c = client(&srv, Some(PRIVATE_KEY));
    let (sink, events) = recorder();
    let out = run_import(
        &c,
        ImportSpec {
            via: TriggerVia::Webhook(Secret::new("rk-0123456789")),
            ..spec(&id)
        },
        sink,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(out.status(), Some(RunStatus::Success));
    assert!(names(&events.lock().unwrap()).contains(&"triggered webhook=true".to_owned()));

    // No private key, no wait: trigger without observing.
    let blind = client(&srv, None);
    let out = run_import(
        &blind,
        ImportSpec {
            via: TriggerVia::Webhook(Secret::new("rk-0123456789")),
            wait: false,
            ..spec(&id)
        },
        EventSink::none(),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert!(out.triggered && out.run.is_none() && out.previous_run_id.is_none());
    assert_eq!(triggers_accepted(&srv), 2);
    assert_eq!(rejected_429(&srv), 0);

    // No private key but asked to wait: a clear error, nothing sent.
    let before = srv.requests().len();
    let err = run_import(
        &blind,
        ImportSpec {
            via: TriggerVia::Webhook(Secret::new("rk-0123456789")),
            ..spec(&id)
        },
        EventSink::none(),
        CancellationToken::new(),
    )
    .await
    .unwrap_err();
    assert!(matches!(
        err,
        EngineError::Api(ApiError::MissingPrivateKey { .. })
    ));
    assert_eq!(srv.requests().len(), before);
}

#[tokio::test]
async fn auth_errors_end_the_import() {
    let srv = server().await;
    let id = imported_dataset(&srv);
    let c = client(&srv, Some("not-the-right-key"));
    let err = quietly(&c, spec(&id)).await.unwrap_err();
    match err {
        EngineError::Api(e) => {
            assert!(matches!(e, ApiError::Forbidden { .. }), "{e:?}");
            assert_eq!(e.kind(), crate::woosmap::api::ErrorKind::Auth);
        }
        e => panic!("{e:?}"),
    }
}

#[tokio::test]
async fn many_datasets_at_once() {
    let srv = server().await;
    let c = client(&srv, Some(PRIVATE_KEY));
    let ids: Vec<DatasetId> = (0..100).map(|_| new_dataset()).collect();
    for (i, id) in ids.iter().enumerate() {
        add_dataset(&srv, id.as_str(), i % 2 == 0, None);
    }
    let mut specs: Vec<ImportSpec> = ids.iter().map(spec).collect();
    specs.push(spec(&ids[3])); // listed twice: runs once
    let (sink, events) = recorder();
    let results = run_many(&c, specs, sink, CancellationToken::new()).await;
    assert_eq!(results.len(), 100);
    for ((id, result), want) in results.iter().zip(&ids) {
        assert_eq!(id, want, "results in the order of the specs");
        assert_eq!(result.as_ref().unwrap().status(), Some(RunStatus::Success));
    }
    assert_eq!(triggers_accepted(&srv), 100);
    assert_eq!(rejected_429(&srv), 0);
    let events = events.lock().unwrap();
    for id in &ids {
        let finished = events
            .iter()
            .filter(|e| matches!(e, Event::Finished { dataset_id, .. } if dataset_id == id))
            .count();
        assert_eq!(finished, 1);
    }
    // All at once, not one after the other: every dataset was looked at before any import
    // finished (one run alone lasts START_DELAY + DURATION after its trigger).
    let first_finished = events
        .iter()
        .position(|e| matches!(e, Event::Finished { .. }))
        .unwrap();
    let observed_before: std::collections::HashSet<&DatasetId> = events[..first_finished]
        .iter()
        .filter(|e| matches!(e, Event::Observed { .. }))
        .map(Event::dataset_id)
        .collect();
    assert_eq!(observed_before.len(), 100, "datasets ran concurrently");
}

#[tokio::test]
async fn latest_run_reads_the_status() {
    let srv = server().await;
    let id = new_dataset();
    let c = client(&srv, Some(PRIVATE_KEY));
    assert_eq!(latest_run(&c, &id).await.unwrap(), None);
    add_dataset(&srv, id.as_str(), true, None);
    let run = latest_run(&c, &id).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Success);
}

#[tokio::test]
async fn an_undocumented_status_with_every_step_ended_is_final_at_once() {
    let srv = server().await;
    let id = imported_with(
        &srv,
        DatasetConfig::default().outcome(RunOutcome::Cancelled),
    );
    let c = client(&srv, Some(PRIVATE_KEY));
    let (sink, events) = recorder();
    let out = run_import(&c, spec(&id), sink, CancellationToken::new())
        .await
        .unwrap();
    let run = out.run.clone().unwrap();
    assert_eq!(run.status, RunStatus::Undocumented("cancelled"));
    assert!(!out.succeeded());
    let trace = names(&events.lock().unwrap());
    assert_eq!(trace.last().unwrap(), "finished cancelled", "{trace:?}");
    // Reported by the first status read that shows every step ended: the read before it
    // arrived before the run's end (its last step's end), read on the sandbox's clock. The
    // millisecond allows for the stamp's precision and the wall/monotonic conversion.
    let reads = requests_with(&srv, "GET");
    let before_last = reads[reads.len() - 2].at.unwrap();
    let end = crate::woosmap::api::clock::parse_rfc3339(
        run.steps.last().unwrap().end.as_deref().unwrap(),
    )
    .unwrap();
    let since_end = std::time::SystemTime::now()
        .duration_since(end)
        .unwrap_or_default();
    let end_at = Instant::now() - since_end;
    assert!(
        before_last < end_at + Duration::from_millis(1),
        "a read after the end did not report it: {:?} after",
        before_last - end_at
    );

    // It never blocks a later trigger: the next import is triggered without waiting.
    srv.configure_dataset(
        id.as_str(),
        DatasetConfig::default().outcome(RunOutcome::Success),
    )
    .unwrap();
    let (sink, events) = recorder();
    let out = run_import(&c, spec(&id), sink, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(out.status(), Some(RunStatus::Success));
    assert_eq!(out.previous_run_id.as_deref(), Some(run.id.as_str()));
    let trace = names(&events.lock().unwrap());
    assert!(!trace.contains(&"waiting".to_owned()), "{trace:?}");
    assert_eq!(triggers_accepted(&srv), 2);
}

#[tokio::test]
async fn an_undocumented_status_with_open_steps_is_waited_on() {
    let srv = server().await;
    let id = imported_with(&srv, DatasetConfig::default().outcome(RunOutcome::Queued));
    let c = client(&srv, Some(PRIVATE_KEY));
    let err = quietly(
        &c,
        ImportSpec {
            timeout: Duration::from_secs(3),
            ..spec(&id)
        },
    )
    .await
    .unwrap_err();
    match &err {
        EngineError::TimedOut { run, .. } => {
            assert_eq!(run.as_ref().unwrap().status.as_str(), "queued")
        }
        e => panic!("{e:?}"),
    }
}

#[tokio::test]
async fn a_deadline_before_the_trigger_slot_means_nothing_was_triggered() {
    let srv = server().await;
    let id = imported_dataset(&srv);
    let c = client(&srv, Some(PRIVATE_KEY));
    // Its run shows only after 5 s: the second invocation does not see it (a run started
    // after that invocation began would be its result, see README "when is a run mine").
    srv.configure_dataset(
        id.as_str(),
        DatasetConfig::default().start_delay(Duration::from_secs(5)),
    )
    .unwrap();
    let no_wait = ImportSpec {
        wait: false,
        ..spec(&id)
    };
    quietly(&c, no_wait).await.unwrap();
    // The next trigger slot opens a window + margin (1.4 s) after that trigger: past a 1 s
    // timeout, while the status read before it fits (a slot 300 ms away).
    let sent_before = srv.requests().len();
    let err = quietly(
        &c,
        ImportSpec {
            timeout: Duration::from_secs(1),
            ..spec(&id)
        },
    )
    .await
    .unwrap_err();
    // Its status read only: nothing was tried once the slot was known to be too late. That a
    // slot past the deadline fails at once, not at the deadline, is proven on the paused clock
    // (`api::loopback_tests::paused::next_slot_past_deadline_fails_fast`).
    let methods: Vec<String> = srv.requests()[sent_before..]
        .iter()
        .map(|r| r.method.clone())
        .collect();
    assert_eq!(methods, ["GET"]);
    match &err {
        EngineError::NotTriggered {
            reason,
            next_slot_in,
            ..
        } => match reason {
            NotTriggeredReason::TriggerWindow => {
                let next = next_slot_in.expect("when the next slot opens");
                assert!(
                    next > Duration::ZERO
                        && next <= TRIGGER_WINDOW + crate::woosmap::api::TRIGGER_MARGIN
                );
                let text = err.to_string();
                assert!(text.contains("trigger rate limit"), "{text}");
                assert!(text.contains("The next trigger slot opens in"), "{text}");
            }
            // On a loaded machine the first read can come after the first run started: then
            // the run still going is the reason, which is as true.
            NotTriggeredReason::RunningImport { .. } => {}
            other => panic!("unexpected reason {other:?}"),
        },
        e => panic!("{e:?}"),
    }
    let text = err.to_string();
    assert!(
        text.starts_with("Nothing was triggered for dataset"),
        "{text}"
    );
    assert_eq!(triggers_accepted(&srv), 1);
}

#[tokio::test]
async fn a_running_import_past_the_deadline_means_nothing_was_triggered() {
    let srv = start_with_test_windows(Duration::from_millis(100), Duration::from_secs(60)).await;
    let id = imported_with(&srv, DatasetConfig::default().running());
    let running = srv.stats().dataset(id.as_str()).unwrap().runs[0].clone();
    let c = client(&srv, Some(PRIVATE_KEY));
    let err = quietly(
        &c,
        ImportSpec {
            timeout: Duration::from_secs(1),
            ..spec(&id)
        },
    )
    .await
    .unwrap_err();
    match &err {
        EngineError::NotTriggered { reason, .. } => assert_eq!(
            reason,
            &NotTriggeredReason::RunningImport {
                run_id: running.clone()
            }
        ),
        e => panic!("{e:?}"),
    }
    assert!(err.to_string().contains(&running), "{err}");
    assert_eq!(triggers_accepted(&srv), 0);
}
