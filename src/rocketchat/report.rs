//! The `--json` report of `rocketchat-import run`: one object with the same keys in every
//! outcome (unknown values are `null`), described by `docs/rocketchat-cli-json.schema.json`.
//! The GitHub Action's outputs and job summary are read from it.

use serde_json::{Value, json};

use super::run::{Outcome, RunError, describe};
use crate::frontend::ExitCode;

/// Every key of a report, in order.
pub const KEYS: [&str; 11] = [
    "outcome",
    "message",
    "operation_id",
    "state",
    "status",
    "count",
    "aborted_operation_id",
    "waited_for_operation_id",
    "waiting_for",
    "leftover",
    "user_errors_allowed",
];

/// The report of a run that reached an outcome, exiting with `code`.
pub fn of_outcome(outcome: &Outcome, code: ExitCode) -> Value {
    let status = match (code, outcome.state.as_str()) {
        (ExitCode::Success, _) => "success",
        (_, "done") => "user_errors",
        _ => "failed",
    };
    json!({
        "outcome": status,
        "message": describe(outcome),
        "operation_id": outcome.operation_id,
        "state": outcome.state,
        "status": outcome.status,
        "count": outcome.count,
        "aborted_operation_id": outcome.aborted_operation_id,
        "waited_for_operation_id": outcome.waited_for_operation_id,
        "waiting_for": null,
        "leftover": null,
        "user_errors_allowed": outcome.user_errors_allowed,
    })
}

/// The report of a run that stopped without an outcome, exiting with `code`.
pub fn of_error(e: &RunError, code: ExitCode) -> Value {
    let status = match code {
        ExitCode::TimedOut => "timed_out",
        ExitCode::Interrupted => "interrupted",
        _ => "error",
    };
    json!({
        "outcome": status,
        "message": e.to_string(),
        "operation_id": e.operation_id(),
        "state": e.state(),
        "status": null,
        "count": null,
        "aborted_operation_id": null,
        "waited_for_operation_id": e.waiting_for().map(|f| f.id.clone()),
        "waiting_for": e.waiting_for(),
        "leftover": e.leftover(),
        "user_errors_allowed": null,
    })
}

/// The report of a run refused before anything was sent (bad input or settings).
pub fn of_usage(message: &str) -> Value {
    let mut report = json!({});
    for key in KEYS {
        report[key] = Value::Null;
    }
    report["outcome"] = json!("usage");
    report["message"] = json!(message);
    report
}
