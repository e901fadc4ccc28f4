//! Scripted simulations: one invocation on a calm server with faults forced on given
//! requests, for the bugs the seeded simulation found.

use super::scenario::{Foreign, Scenario};
use super::{Ended, simulate_scenario};

/// Runs `scenario` on a paused clock; its one invocation's end, after checking that no
/// invariant was broken.
fn run(scenario: Scenario) -> Ended {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a runtime");
    let (run, mut ended) = runtime.block_on(simulate_scenario(scenario, 1));
    assert!(
        run.violations.is_empty(),
        "{:?}\n{}",
        run.violations,
        run.trace
    );
    ended.remove(0)
}

/// Asserts that `message` says every one of `parts`.
fn assert_says(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(message.contains(part), "{part:?} is not in: {message}");
    }
}

/// Asserts that `message` does not say `part`.
fn assert_says_not(message: &str, part: &str) {
    assert!(!message.contains(part), "{part:?} is in: {message}");
}

/// Another administrator's `import.new` at `at`, its operation at once in `state`.
fn other_admin_at(at: std::time::Duration, state: &'static str) -> Foreign {
    Foreign {
        user: "u-other-admin".to_owned(),
        at,
        steps: vec![(std::time::Duration::ZERO, state)],
    }
}

#[test]
fn a_calm_import_succeeds() {
    let e = run(Scenario::calm());
    assert_eq!(e.report.outcome, "success", "{}", e.report.to_json());
    assert_eq!(e.report.operation_id.as_deref(), Some("op0"));
}

/// Found by the simulation: `import.new` processed, its answer lost; the report said only
/// "could not reach Rocket.Chat for import.new" and the operation stayed `new`, unnamed,
/// blocking every later run.
#[test]
fn a_lost_answer_to_import_new_is_reported_naming_the_operation() {
    let mut scenario = Scenario::calm();
    scenario.forced = vec![("import.new", 0, "lost")];
    let e = run(scenario);
    let r = &e.report;
    assert_eq!(r.outcome, "error", "{}", r.to_json());
    assert_says(
        &r.message,
        &[
            "an import operation may have been created",
            "the current one is operation op0 (new",
        ],
    );
}

/// The same when Ctrl-C comes while `import.new` has no answer yet: it said "interrupted: no
/// import was started".
#[test]
fn an_interrupt_while_import_new_is_unanswered_says_one_may_have_been_created() {
    let mut scenario = Scenario::calm();
    scenario.forced = vec![("import.new", 0, "hang")];
    scenario.invocations[0].cancel_after = Some(std::time::Duration::from_secs(5));
    let e = run(scenario);
    let r = &e.report;
    assert_eq!(r.outcome, "interrupted", "{}", r.to_json());
    assert_says(&r.message, &["may have been created", "op0"]);
    assert_says_not(&r.message, "no import was started");
}

/// Found by the simulation: once our import was started, status reads that kept failing
/// ended the run with "could not reach Rocket.Chat for import.status" and no operation id,
/// though our import keeps running.
#[test]
fn failing_status_reads_after_the_start_name_our_running_operation() {
    let mut scenario = Scenario::calm();
    // reads 0 and 1 come before import.new, 2 before import.run; every retry of the next
    // one fails
    scenario.forced = (3..8).map(|n| ("import.status", n, "reset")).collect();
    scenario.per_user = std::time::Duration::from_secs(60);
    let e = run(scenario);
    let r = &e.report;
    assert_eq!(r.outcome, "error", "{}", r.to_json());
    assert_eq!(r.operation_id.as_deref(), Some("op0"), "{}", r.to_json());
    assert_says(
        &r.message,
        &[
            "import operation op0 was started",
            "keeps running on the server",
        ],
    );
}

/// Found by the simulation (seed 25): our import reached `done`, then another
/// administrator's `import.new` replaced it before our next read, and the report said
/// "Another import.new or import.clear aborted this operation".
#[test]
fn an_operation_replaced_after_it_ended_is_not_said_to_be_aborted() {
    let mut scenario = Scenario::calm();
    scenario.invocations[0].poll_interval = std::time::Duration::from_secs(30);
    scenario.others = vec![other_admin_at(std::time::Duration::from_secs(10), "new")];
    let e = run(scenario);
    let r = &e.report;
    assert_eq!(r.state.as_deref(), Some("invalidated"), "{}", r.to_json());
    assert_says(&r.message, &["replaced it before its end could be read"]);
}

/// Found by the simulation's ownership check: `import.run` runs the current operation,
/// whoever's; when another administrator's `import.new` replaced ours while its users were
/// staged, our `import.run` started their import. Now a status read right before it must show
/// our operation, still ready.
#[test]
fn another_operation_that_replaced_ours_while_staging_is_not_run() {
    let mut scenario = Scenario::calm();
    // after our last import.addUsers (0.18 s), before import.run
    scenario.others = vec![other_admin_at(
        std::time::Duration::from_millis(190),
        "ready",
    )];
    let e = run(scenario);
    let r = &e.report;
    assert_eq!(r.outcome, "error", "{}", r.to_json());
    assert!(
        r.message
            .starts_with("did not send import.run: the current operation is operation op1"),
        "{}",
        r.message
    );
}
