//! Deterministic simulation of Rocket.Chat bulk user imports: the real run
//! (`rocketchat::run`: the engine, the ownership rule, staging and clean-up) and the real
//! client (`rocketchat::api`: pacing by `X-RateLimit-*`, 429 waits on the server's clock,
//! retries) on tokio's paused clock against a simulated import API in the same process
//! (`server`), with faults, other administrators and clock skew drawn from a seed
//! (`scenario`). Every trace, and the report each invocation would print (`--json`), is
//! checked against the invariants (`check`).
//!
//! Each invocation is its own machine (its own budgets and rate-limit window); the per-server
//! lock of one machine lives in the pacer folder, which is off here, so the guard between
//! invocations is the one across machines: the status read right before `import.new`.

mod check;
mod scenario;
mod server;

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;

use super::SeedRun;
use crate::frontend::ExitCode;
use crate::rocketchat::api::{RcClient, RcConfig};
use crate::rocketchat::cli::{code_of_error, event_line};
use crate::rocketchat::report::Report;
use crate::rocketchat::run::{Event, ImportSpec, import_with};
use crate::secret::Secret;
use scenario::Scenario;
use server::{Server, Tagged};

/// How one invocation ended.
#[derive(Debug)]
pub(crate) struct Ended {
    pub inv: usize,
    pub ended: Duration,
    /// It reached an outcome (`Ok`).
    pub ok: bool,
    /// What `rocketchat-import run --json` would print.
    pub report: Report,
}

/// Runs Rocket.Chat seed `seed` once.
pub fn run_seed(seed: u64, _rep: u32) -> SeedRun {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime starts");
    runtime.block_on(simulate(seed))
}

async fn simulate(seed: u64) -> SeedRun {
    simulate_scenario(Scenario::draw(seed), seed).await.0
}

/// Runs `scenario`; the seed's run and how each invocation ended.
async fn simulate_scenario(scenario: Scenario, seed: u64) -> (SeedRun, Vec<Ended>) {
    let scenario = Arc::new(scenario);
    let t0 = Instant::now();
    let server = Arc::new(Server::new(&scenario, t0, seed));
    server.schedule_others(&scenario);
    let tasks: Vec<_> = (0..scenario.invocations.len())
        .map(|inv| tokio::spawn(invocation(server.clone(), scenario.clone(), inv, t0)))
        .collect();
    let mut ended = Vec::new();
    for task in tasks {
        ended.push(task.await.expect("an invocation never panics"));
    }
    let mut trace = server.take_trace();
    let _ = writeln!(trace, "scenario: {scenario:?}");
    let violations = server.with_record(|record| check::all(&scenario, record, &ended));
    let into_other = server.with_record(|record| record.into_other.clone());
    let outcomes = ended
        .iter()
        .map(|e| {
            let leftover = e.report.leftover.as_ref().map_or("", |_| "+leftover");
            let other = if into_other.contains(&e.inv) {
                "+into_other"
            } else {
                ""
            };
            format!("{}{leftover}{other}", e.report.outcome)
        })
        .collect();
    let run = SeedRun {
        trace,
        violations,
        outcomes,
    };
    (run, ended)
}

/// One invocation of the run, as `rocketchat-import run --json` makes it.
async fn invocation(
    server: Arc<Server>,
    scenario: Arc<Scenario>,
    inv: usize,
    t0: Instant,
) -> Ended {
    let plan = scenario.invocations[inv].clone();
    tokio::time::sleep_until(t0 + plan.offset).await;
    let config = RcConfig {
        base_url: "http://chat.sim.invalid".to_owned(),
        user_id: plan.user.clone(),
        auth_token: Secret::new("sim-token"),
        request_timeout: plan.request_timeout,
    };
    let transport = Arc::new(Tagged {
        server: server.clone(),
        scenario: scenario.clone(),
        inv,
    });
    let client = RcClient::new(config)
        .expect("a simulated client builds")
        .with_transport(transport);
    let spec = ImportSpec {
        users: (0..plan.users)
            .map(|i| json!({"emails": [format!("user{i}@example.com")], "importIds": [format!("u{i}")]}))
            .collect(),
        batch_size: plan.batch_size,
        abort_running: plan.abort_running,
        allow_user_errors: false,
        poll_interval: plan.poll_interval,
        keep_staged: plan.keep_staged,
    };
    let cancel = super::cancelled_after(plan.cancel_after);
    let noted = server.clone();
    let mut events = move |e: Event| noted.note(inv, &event_line(&e));
    let result = import_with(
        &client,
        &spec,
        plan.timeout,
        &cancel,
        plan.wait,
        &mut events,
    )
    .await;
    server.ended(inv);
    let report = match &result {
        Ok(outcome) => {
            let code = if outcome.succeeded() {
                ExitCode::Success
            } else {
                ExitCode::ImportFailed
            };
            Report::of_outcome(outcome, code)
        }
        Err(e) => Report::of_error(e, code_of_error(e)),
    };
    server.note(inv, &format!("outcome: {}", report.to_json()));
    Ended {
        inv,
        ended: t0.elapsed(),
        ok: result.is_ok(),
        report,
    }
}

#[cfg(test)]
mod tests;
