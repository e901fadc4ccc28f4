//! The invariants every simulated trace must keep (issue 20):
//! - `mine`: a reported run started at or after the invocation began (on the server's clock);
//! - `not_triggered`: only when no trigger request left the invocation; and a timed-out or
//!   interrupted outcome says a trigger may be running whenever one left;
//! - `pacing`: among invocations of one machine, at most one trigger per dataset per window,
//!   and no 429 drawn by the machine's own pacing;
//! - `deadline`: every invocation ends, once, no later than its deadline plus one request
//!   timeout;
//! - `determinism` (checked by the caller): the same seed gives the same trace.

use std::fmt;
use std::time::Duration;

use super::Ended;
use super::scenario::Scenario;
use super::server::{Record, Server};
use crate::woosmap::import::EngineError;

/// One broken invariant.
#[derive(Debug, Clone)]
pub struct Violation {
    pub invariant: &'static str,
    pub detail: String,
}

impl Violation {
    pub(crate) fn new(invariant: &'static str, detail: String) -> Violation {
        Violation { invariant, detail }
    }

    /// `deadline`: invocation `inv` ended at `ended`, later than `bound` (`None` when in time).
    /// `after` words the bound ("after its deadline plus one request timeout").
    pub(crate) fn late(inv: usize, ended: Duration, bound: Duration, after: &str) -> Option<Self> {
        (ended > bound).then(|| {
            Violation::new(
                "deadline",
                format!(
                    "inv{inv} ended at {:.3}s, {after} ({:.3}s)",
                    ended.as_secs_f64(),
                    bound.as_secs_f64()
                ),
            )
        })
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.invariant, self.detail)
    }
}

/// The `--json` status word of an error outcome.
pub(crate) fn status_word(err: &EngineError) -> &'static str {
    match err {
        EngineError::TimedOut { .. } => "timed_out",
        EngineError::NotTriggered { .. } => "not_triggered",
        EngineError::Cancelled { .. } => "interrupted",
        EngineError::Api(_) => "error",
    }
}

/// Every invariant over one trace.
pub(crate) fn all(scenario: &Scenario, server: &Server, ended: &[Ended]) -> Vec<Violation> {
    let mut out = Vec::new();
    server.with_record(|record| {
        for e in ended {
            invocation(scenario, record, e, &mut out);
        }
        pacing(record, &mut out);
    });
    out
}

/// `mine`, `not_triggered` and `deadline` for one invocation.
fn invocation(scenario: &Scenario, record: &Record, e: &Ended, out: &mut Vec<Violation>) {
    let plan = &scenario.invocations[e.inv];
    let left = record.trigger_left.contains(&e.inv);
    match &e.result {
        Ok(outcome) => {
            if let Some(run) = &outcome.run {
                let began = e.began.as_millis() as i64;
                match record.runs.iter().find(|r| r.id == run.id) {
                    Some(r) if r.start_ms >= began && r.dataset == plan.dataset => {}
                    Some(r) => out.push(Violation::new(
                        "mine",
                        format!(
                            "inv{} reported run {} (dataset {}, started at {:.3}s) but began at \
                             {:.3}s (dataset {})",
                            e.inv,
                            r.id,
                            r.dataset,
                            r.start_ms as f64 / 1e3,
                            began as f64 / 1e3,
                            plan.dataset
                        ),
                    )),
                    None => out.push(Violation::new(
                        "mine",
                        format!(
                            "inv{} reported run {}, unknown to the server",
                            e.inv, run.id
                        ),
                    )),
                }
            }
        }
        Err(err @ EngineError::NotTriggered { .. }) if left => out.push(Violation::new(
            "not_triggered",
            format!("inv{} sent a trigger but reported: {err}", e.inv),
        )),
        Err(err @ (EngineError::TimedOut { .. } | EngineError::Cancelled { .. }))
            if left && !err.trigger_sent() =>
        {
            out.push(Violation::new(
                "not_triggered",
                format!(
                    "inv{} sent a trigger but its outcome says none left: {err}",
                    e.inv
                ),
            ))
        }
        Err(_) => {}
    }
    let bound = plan.offset + plan.timeout + plan.request_timeout;
    let after = "after its deadline plus one request timeout";
    out.extend(Violation::late(e.inv, e.ended, bound, after));
}

/// `pacing`: no 429 drawn by a machine's own pacing, one accepted trigger per dataset and
/// window per machine.
fn pacing(record: &Record, out: &mut Vec<Violation>) {
    for p in &record.pacing_429 {
        out.push(Violation::new(
            "pacing",
            format!("429 drawn by our own pacing: {p}"),
        ));
    }
    let mut ours: Vec<_> = record
        .accepted
        .iter()
        .filter(|a| a.machine.is_some())
        .collect();
    ours.sort_by_key(|a| (a.machine, a.dataset, a.at_ms));
    for pair in ours.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if a.machine == b.machine && a.dataset == b.dataset && b.at_ms - a.at_ms < 90_000 {
            out.push(Violation::new(
                "pacing",
                format!(
                    "machine {:?} triggered dataset {} at {:.3}s and {:.3}s",
                    a.machine,
                    a.dataset,
                    a.at_ms as f64 / 1e3,
                    b.at_ms as f64 / 1e3
                ),
            ));
        }
    }
}
