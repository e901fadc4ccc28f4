//! The invariants every simulated Rocket.Chat trace must keep (issue 21):
//! - `ownership`: no `import.new` or `import.clear` of an invocation aborts an operation it did
//!   not create that its last status read showed in progress, unless it was asked to abort
//!   (`abort_running`); an operation created after that read is a race no client can see;
//!   and no `import.run` (which runs the current operation, whoever's) unless a status read
//!   after the last `import.addUsers` showed the invocation's own operation current;
//! - `truth`: the reported outcome is the server's: `success` only if the invocation's own
//!   operation reached `done`; "aborted" only if it was; an outcome names only the invocation's own operation; "nothing
//!   was started" only if none of its `import.new` reached the server; when one did, the report
//!   names the operation or says that one may have been created;
//! - `staging`: an operation of the invocation still staged (`new`, `ready`) when it ended is
//!   named in its report (or, its `import.new` answer lost, said to be possibly created), and
//!   one reported cleared is not staged any more;
//! - `rate`: no request before the reset of a 429 answered to the same invocation and route,
//!   and no 429 drawn by the invocation's own pacing;
//! - `deadline`: every invocation ends no later than its deadline plus the leftover clean-up
//!   and one request timeout;
//! - `determinism` (checked by the caller): the same seed gives the same trace.

use std::time::Duration;

use super::Ended;
use super::scenario::Scenario;
use super::server::{Creator, Record};
use crate::rocketchat::ownership::Cleanup;
use crate::sim::Violation;

/// The longest clean-up of a leftover after a deadline or a cancel (`ownership::CLEAR_LIMIT`).
const CLEANUP: Duration = Duration::from_secs(20);

/// Words by which a report says that nothing of the invocation was started.
const NOTHING_STARTED: [&str; 3] = [
    "no import was started",
    "nothing of ours was started",
    "nothing was started",
];

/// Words by which a report says that an operation may have been created.
const MAYBE_CREATED: &str = "may have been created";

pub(crate) fn all(scenario: &Scenario, record: &Record, ended: &[Ended]) -> Vec<Violation> {
    let mut out = Vec::new();
    for a in &record.aborts {
        let plan = &scenario.invocations[a.inv];
        if a.seen && !plan.abort_running {
            out.push(Violation::new(
                "ownership",
                format!(
                    "inv{} aborted {} ({:?}'s, seen in progress) with {} at {:.3}s, not asked to",
                    a.inv,
                    a.op,
                    a.creator,
                    a.route,
                    a.at_ms as f64 / 1e3
                ),
            ));
        }
    }
    for line in &record.unverified_runs {
        out.push(Violation::new(
            "ownership",
            format!("import.run without reading that the current operation is ours: {line}"),
        ));
    }
    for line in &record.early_retries {
        out.push(Violation::new("rate", format!("retried early: {line}")));
    }
    for line in &record.pacing_429 {
        out.push(Violation::new(
            "rate",
            format!("429 drawn by our own pacing: {line}"),
        ));
    }
    for e in ended {
        truth(record, e, &mut out);
        staging(record, e, &mut out);
        let plan = &scenario.invocations[e.inv];
        let bound = plan.offset + plan.timeout + CLEANUP + plan.request_timeout;
        let after = "after its deadline plus clean-up and one request timeout";
        out.extend(Violation::late(e.inv, e.ended, bound, after));
    }
    out
}

/// Whether the report names operation `id` (its fields or its message).
fn names(e: &Ended, id: &str) -> bool {
    let r = &e.report;
    r.operation_id.as_deref() == Some(id)
        || r.leftover.as_ref().is_some_and(|l| l.operation_id == id)
        || r.message
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| w == id)
}

fn truth(record: &Record, e: &Ended, out: &mut Vec<Violation>) {
    let r = &e.report;
    let created = record.created.get(&e.inv).cloned().unwrap_or_default();
    let mut bad = |what: String| {
        out.push(Violation::new(
            "truth",
            format!("inv{}: {what}; report: {}", e.inv, r.to_json()),
        ))
    };
    if e.ok {
        let id = r.operation_id.clone().unwrap_or_default();
        match record.ops.iter().find(|o| o.id == id) {
            Some(op) if op.creator == Creator::Inv(e.inv) => {
                let aborted = !op.valid && op.state != "done";
                let says = "Another import.new or import.clear aborted this operation.";
                if r.message.contains(says) && !aborted {
                    bad(format!("says {id} was aborted, but it is {}", op.state));
                }
                if r.outcome == "success" && !(op.valid && op.state == "done") {
                    bad(format!(
                        "success, but {id} is {} (valid {})",
                        op.state, op.valid
                    ));
                }
            }
            Some(op) => bad(format!(
                "the outcome names {id}, created by {:?}",
                op.creator
            )),
            None => bad(format!("the outcome names {id:?}, unknown to the server")),
        }
    }
    let says_nothing = NOTHING_STARTED.iter().any(|w| r.message.contains(w));
    if says_nothing && !created.is_empty() {
        bad(format!(
            "says nothing was started, but it created {created:?}"
        ));
    }
    let maybe = r.message.contains(MAYBE_CREATED);
    if !created.is_empty() && !maybe && !created.iter().any(|id| names(e, id)) {
        bad(format!(
            "created {created:?} but neither names it nor says one may have been created"
        ));
    }
}

fn staging(record: &Record, e: &Ended, out: &mut Vec<Violation>) {
    let r = &e.report;
    let maybe = r.message.contains(MAYBE_CREATED);
    for op in record.at_end.get(&e.inv).into_iter().flatten() {
        let staged = op.valid && matches!(op.state, "new" | "ready");
        if staged && !names(e, &op.id) && !maybe {
            out.push(Violation::new(
                "staging",
                format!(
                    "inv{} left {} {} and does not say so; report: {}",
                    e.inv,
                    op.id,
                    op.state,
                    r.to_json()
                ),
            ));
        }
        let cleared = r
            .leftover
            .as_ref()
            .is_some_and(|l| l.operation_id == op.id && l.cleanup == Cleanup::Cleared);
        if staged && cleared {
            out.push(Violation::new(
                "staging",
                format!(
                    "inv{} reports {} cleared, but it is {}",
                    e.inv, op.id, op.state
                ),
            ));
        }
    }
}
