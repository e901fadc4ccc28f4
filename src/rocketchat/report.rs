//! The `--json` report of `rocketchat-import run`: one object with the same keys, in the same
//! order, in every outcome (unknown values are `null`), described by
//! `guide/rocketchat-cli-json.schema.json`. The GitHub Action's outputs and job summary are read
//! from it.

use serde::Serialize;

use super::api::Counts;
use super::ownership::{Foreign, Leftover};
use super::run::{Outcome, RunError, describe};
use crate::frontend::ExitCode;

/// One report (field order is the printed key order).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `success`, `user_errors`, `failed`, `timed_out`, `interrupted`, `error`, `usage`.
    pub outcome: &'static str,
    pub message: String,
    pub operation_id: Option<String>,
    pub state: Option<String>,
    pub status: Option<String>,
    pub count: Option<Counts>,
    pub aborted_operation_id: Option<String>,
    pub waited_for_operation_id: Option<String>,
    pub waiting_for: Option<Foreign>,
    pub leftover: Option<Leftover>,
    pub user_errors_allowed: Option<bool>,
}

impl Report {
    fn empty(outcome: &'static str, message: String) -> Report {
        Report {
            outcome,
            message,
            operation_id: None,
            state: None,
            status: None,
            count: None,
            aborted_operation_id: None,
            waited_for_operation_id: None,
            waiting_for: None,
            leftover: None,
            user_errors_allowed: None,
        }
    }

    /// A run that reached an outcome, exiting with `code`.
    pub fn of_outcome(outcome: &Outcome, code: ExitCode) -> Report {
        let status = match (code, outcome.state.as_str()) {
            (ExitCode::Success, _) => "success",
            (_, "done") => "user_errors",
            _ => "failed",
        };
        Report {
            operation_id: Some(outcome.operation_id.clone()).filter(|id| !id.is_empty()),
            state: Some(outcome.state.clone()),
            status: Some(outcome.status.clone()),
            count: Some(outcome.count),
            aborted_operation_id: outcome.aborted_operation_id.clone(),
            waited_for_operation_id: outcome.waited_for_operation_id.clone(),
            user_errors_allowed: Some(outcome.user_errors_allowed),
            ..Report::empty(status, describe(outcome))
        }
    }

    /// A run that stopped without an outcome, exiting with `code`.
    pub fn of_error(e: &RunError, code: ExitCode) -> Report {
        let status = match code {
            ExitCode::TimedOut => "timed_out",
            ExitCode::Interrupted => "interrupted",
            ExitCode::Usage => "usage",
            _ => "error",
        };
        Report {
            operation_id: e.operation_id().map(str::to_owned),
            state: e.state().map(str::to_owned),
            waited_for_operation_id: e.waiting_for().map(|f| f.id.clone()),
            waiting_for: e.waiting_for().cloned(),
            leftover: e.leftover().cloned(),
            ..Report::empty(status, e.to_string())
        }
    }

    /// A run refused before anything was sent (bad input or settings).
    pub fn of_usage(message: &str) -> Report {
        Report::empty("usage", message.to_owned())
    }

    /// The report as one JSON line.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a report serializes")
    }
}
