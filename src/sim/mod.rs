//! Deterministic simulation of imports (`scripts/simulate.sh`, feature `sim`), of both
//! services: Rocket.Chat's in [`rc`]; Woosmap's here: the real
//! engine, the real Woosmap backend and the real API client (pacing, retries, interpretation,
//! server clock) run on tokio's paused clock against a simulated Datasets API in the same
//! process (`server`), whose faults and timings are drawn from a seed (`scenario`). Every
//! trace is checked against the invariants (`check`), and every seed is run twice: the same
//! seed must give the same trace.
//!
//! Machines are told apart by their base URL: invocations on one machine share the process's
//! pacer; pacer files are off (the folder is real time on a real disk, which a paused clock
//! cannot drive).

mod check;
pub mod rc;
mod scenario;
mod server;

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::secret::Secret;
use crate::woosmap::api::{Client, ClientConfig, RateLimits};
use crate::woosmap::import::{EngineError, EventSink, ImportSpec, Outcome, run_import};

pub use check::Violation;
use scenario::Scenario;
use server::{Server, Tagged};

/// How one invocation ended, with what the invariants need.
#[derive(Debug)]
pub(crate) struct Ended {
    pub inv: usize,
    /// When it began and ended, since the simulation's start.
    pub began: Duration,
    pub ended: Duration,
    pub result: Result<Outcome, EngineError>,
}

/// One seed's run.
pub struct SeedRun {
    pub trace: String,
    pub violations: Vec<Violation>,
    /// The outcome of each invocation, as its `--json` status (a trigger whose answer was lost
    /// is counted as `…+lost`).
    pub outcomes: Vec<String>,
}

/// Runs seed `seed` once. `rep` keeps the pacer keys of two runs of one seed apart.
pub fn run_seed(seed: u64, rep: u32) -> SeedRun {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime starts");
    fastrand::seed(seed);
    runtime.block_on(simulate(seed, rep))
}

async fn simulate(seed: u64, rep: u32) -> SeedRun {
    let scenario = Scenario::draw(seed);
    let t0 = Instant::now();
    let server = Arc::new(Server::new(&scenario, t0));
    server.schedule_others(&scenario);
    let mut tasks = Vec::new();
    for (inv, plan) in scenario.invocations.iter().enumerate() {
        let plan = plan.clone();
        let server = server.clone();
        let base_url = format!("http://s{seed}-r{rep}-m{}.sim.invalid", plan.machine);
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(t0 + plan.offset).await;
            let config = ClientConfig {
                base_url,
                private_key: Some(Secret::new("sim-key")),
                request_timeout: plan.request_timeout,
                limits: RateLimits::PUBLISHED,
            };
            let server_for_events = server.clone();
            let transport = Arc::new(Tagged {
                server,
                inv,
                machine: plan.machine,
            });
            let client = Client::new(config)
                .expect("a simulated client builds")
                .with_transport(transport);
            let cancel = cancelled_after(plan.cancel_after);
            let mut spec = ImportSpec::new(scenario::dataset(plan.dataset));
            spec.wait = plan.wait;
            spec.timeout = plan.timeout;
            let began = t0.elapsed();
            let events = {
                let server = server_for_events.clone();
                EventSink::new(move |event| server.note_event(inv, &event))
            };
            let result = run_import(&client, spec, events, cancel).await;
            Ended {
                inv,
                began,
                ended: t0.elapsed(),
                result,
            }
        }));
    }
    let mut ended = Vec::new();
    for task in tasks {
        ended.push(task.await.expect("an invocation never panics"));
    }
    let mut trace = server.take_trace();
    for e in &ended {
        let _ = writeln!(trace, "{}", describe(e));
    }
    // The run number only keeps pacer keys apart: it is not part of the trace.
    let trace = trace.replace(&format!("-r{rep}-m"), "-m");
    let violations = check::all(&scenario, &server, &ended);
    let outcomes = ended.iter().map(outcome_word).collect();
    SeedRun {
        trace,
        violations,
        outcomes,
    }
}

/// A cancellation token that a task cancels `after` this long (on the simulation's paused
/// clock), or never: an invocation's Ctrl-C.
pub(crate) fn cancelled_after(after: Option<Duration>) -> CancellationToken {
    let cancel = CancellationToken::new();
    if let Some(after) = after {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            cancel.cancel();
        });
    }
    cancel
}

fn outcome_word(e: &Ended) -> String {
    match &e.result {
        Ok(o) if o.triggered => "ok/triggered".to_owned(),
        Ok(_) => "ok/joined".to_owned(),
        Err(
            err @ (EngineError::TimedOut {
                sent: crate::woosmap::import::Sent::AnswerUnknown,
                ..
            }
            | EngineError::Cancelled {
                sent: crate::woosmap::import::Sent::AnswerUnknown,
                ..
            }),
        ) => format!("{}+lost", check::status_word(err)),
        Err(err) => check::status_word(err).to_owned(),
    }
}

/// One line for an outcome.
fn describe(e: &Ended) -> String {
    let what = match &e.result {
        Ok(o) => format!(
            "ok run={} status={} triggered={}",
            o.run.as_ref().map_or("-", |r| r.id.as_str()),
            o.run.as_ref().map_or("triggered", |r| r.status.as_str()),
            o.triggered
        ),
        Err(err) => format!(
            "{} trigger_sent={}: {err}",
            check::status_word(err),
            err.trigger_sent()
        ),
    };
    format!(
        "{:>9.3}s inv{} outcome (began {:.3}s): {what}",
        e.ended.as_secs_f64(),
        e.inv,
        e.began.as_secs_f64()
    )
}

/// A simulated service: its name and how one seed runs.
#[derive(Clone, Copy)]
pub struct Service {
    pub name: &'static str,
    pub run_seed: fn(u64, u32) -> SeedRun,
}

/// The services `scripts/simulate.sh` runs, in order.
pub const SERVICES: [Service; 2] = [
    Service {
        name: "woosmap",
        run_seed,
    },
    Service {
        name: "rocketchat",
        run_seed: rc::run_seed,
    },
];

/// Runs seeds `from..from + count` of every service in `services` (each seed twice), prints a
/// line per service and the closing line, or the first failing seed with its service,
/// invariant and trace (`show_trace`: every seed's trace). Returns whether every seed passed.
pub fn main_loop(
    services: &[Service],
    from: u64,
    count: u64,
    show_trace: bool,
    out: &mut impl std::io::Write,
) -> bool {
    let started = std::time::Instant::now();
    for service in services {
        if !service_loop(*service, from, count, show_trace, out) {
            return false;
        }
    }
    let names: Vec<&str> = services.iter().map(|s| s.name).collect();
    let _ = writeln!(
        out,
        "simulation: {count} seeds, 0 invariant violations ({}; {:.1} s)",
        names.join(", "),
        started.elapsed().as_secs_f64()
    );
    true
}

/// [`main_loop`] for one service.
fn service_loop(
    service: Service,
    from: u64,
    count: u64,
    show_trace: bool,
    out: &mut impl std::io::Write,
) -> bool {
    let name = service.name;
    let started = std::time::Instant::now();
    let mut outcomes = std::collections::BTreeMap::<String, u64>::new();
    for seed in from..from + count {
        let first = (service.run_seed)(seed, 0);
        if show_trace {
            let _ = writeln!(out, "--- {name} trace of seed {seed}\n{}", first.trace);
        }
        let mut violations = first.violations;
        let second = (service.run_seed)(seed, 1);
        if second.trace != first.trace {
            violations.push(Violation::new(
                "determinism",
                "the same seed gave another trace".to_owned(),
            ));
        }
        if !violations.is_empty() {
            let _ = writeln!(out, "simulation: {name} seed {seed} FAILED");
            for v in &violations {
                let _ = writeln!(out, "invariant violated: {v}");
            }
            let _ = writeln!(out, "--- {name} trace of seed {seed}\n{}", first.trace);
            if second.trace != first.trace {
                let _ = writeln!(out, "--- second trace of seed {seed}\n{}", second.trace);
            }
            let _ = writeln!(
                out,
                "replay: scripts/simulate.sh --only {name} --seed {seed}"
            );
            return false;
        }
        for o in first.outcomes {
            *outcomes.entry(o).or_default() += 1;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let shown: Vec<String> = outcomes.iter().map(|(k, n)| format!("{k} {n}")).collect();
    let _ = writeln!(out, "{name} outcomes: {}", shown.join(", "));
    let _ = writeln!(
        out,
        "{name}: {count} seeds, 0 invariant violations ({:.1} s, {:.1} seeds/s, each seed run twice)",
        secs,
        count as f64 / secs.max(1e-9)
    );
    true
}
