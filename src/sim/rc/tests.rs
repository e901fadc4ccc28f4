//! Scripted simulations: one invocation on a calm server with faults forced on given
//! requests, for the bugs the seeded simulation found.

use super::scenario::Scenario;
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

#[test]
fn a_calm_import_succeeds() {
    let e = run(Scenario::calm());
    assert_eq!(e.report.outcome, "success", "{}", e.report.to_json());
    assert_eq!(e.report.operation_id.as_deref(), Some("op0"));
}
