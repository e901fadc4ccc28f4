//! The final word on each dataset, once its import is over (or, for `status`, its latest run
//! read): a few text lines for people, or one JSON object per line for machines (`--json`).
//! Every JSON line has the same keys in the same order, `null` where a value is unknown; the
//! shape is documented by `guide/cli-json.schema.json`. Progress while waiting lives in
//! `src/woosmap/cli/progress.rs`.

use std::io::Write;

use serde::Serialize;

use crate::woosmap::api::{ApiError, DatasetId, Run, RunStatus, Step};
use crate::woosmap::import::{EngineError, Outcome};
use crate::woosmap::knobs::Knobs;

/// What `--json` prints for one dataset (one object per line). The field order is the key
/// order of the JSON object; keep it in step with `guide/cli-json.schema.json`.
#[derive(Debug, Serialize)]
pub struct DatasetReport<'a> {
    pub dataset_id: &'a str,
    pub run_id: Option<&'a str>,
    /// success | failed | in_progress | triggered | timed_out | not_triggered | interrupted |
    /// error | no_run, or an undocumented run status verbatim (see the schema: new values may
    /// be added, so readers must accept others).
    pub status: &'static str,
    pub previous_run_id: Option<&'a str>,
    pub triggered: bool,
    pub started_at: Option<&'a str>,
    pub finished_at: Option<&'a str>,
    pub error: Option<String>,
    pub steps: &'a [Step],
}

impl<'a> DatasetReport<'a> {
    pub fn new(id: &'a DatasetId, result: &'a Result<Outcome, EngineError>) -> Self {
        let (run, status, error, previous, triggered) = match result {
            Ok(o) => (
                o.run.as_ref(),
                match o.run.as_ref().map(|r| r.status) {
                    None => "triggered",
                    Some(s) => status_word(s),
                },
                None,
                o.previous_run_id.as_deref(),
                o.triggered,
            ),
            Err(e) => {
                let (run, word) = match e {
                    EngineError::TimedOut { run, .. } => (run.as_ref(), "timed_out"),
                    EngineError::NotTriggered { .. } => (None, "not_triggered"),
                    EngineError::Cancelled { run, .. } => (run.as_ref(), "interrupted"),
                    EngineError::Api(_) => (None, "error"),
                };
                (run, word, Some(e.to_string()), e.previous_run_id(), false)
            }
        };
        DatasetReport {
            dataset_id: id.as_str(),
            run_id: run.map(|r| r.id.as_str()),
            status,
            previous_run_id: previous,
            triggered,
            started_at: run.and_then(Run::started_at),
            finished_at: run.and_then(Run::finished_at),
            error,
            steps: run.map(|r| r.steps.as_slice()).unwrap_or_default(),
        }
    }
}

impl<'a> DatasetReport<'a> {
    /// A report that has no run: every run field `null`, no steps.
    fn without_run(id: &'a DatasetId, status: &'static str, error: String) -> Self {
        DatasetReport {
            dataset_id: id.as_str(),
            run_id: None,
            status,
            previous_run_id: None,
            triggered: false,
            started_at: None,
            finished_at: None,
            error: Some(error),
            steps: &[],
        }
    }

    /// `status` found no run: the dataset was never imported, or does not exist.
    pub fn no_run(id: &'a DatasetId) -> Self {
        Self::without_run(
            id,
            "no_run",
            "No import run found: the dataset was never imported, or it does not exist (check \
             the id, and that the private key belongs to the dataset's project)."
                .to_owned(),
        )
    }

    /// `status` could not read the latest run.
    pub fn api_error(id: &'a DatasetId, e: &ApiError) -> Self {
        Self::without_run(id, "error", e.to_string())
    }

    /// Records whether an import was triggered (known from the engine's events: an error
    /// carries no such field), and says so when an interruption came before any trigger:
    /// nothing was started then. `waiting_for`: the running import waited for at the time.
    pub fn triggered(mut self, seen: bool, waiting_for: Option<&str>) -> Self {
        self.triggered |= seen;
        if !self.triggered && self.status == "interrupted" {
            self.error = Some(match waiting_for {
                Some(run) => format!(
                    "Interrupted while waiting for the running import (run {run}) to end: no \
                     import was triggered."
                ),
                None => {
                    "Interrupted before an import was triggered: nothing was started.".to_owned()
                }
            });
        }
        self
    }

    /// The report with its error message naming the settings as this front end calls them.
    pub fn named_for(mut self, knobs: &Knobs) -> Self {
        self.error = self.error.map(|e| knobs.word(&e));
        self
    }
}

/// The API's word for a run status.
pub fn status_word(s: RunStatus) -> &'static str {
    // An undocumented status is reported verbatim.
    s.as_str()
}

/// Writes one JSON line per dataset.
pub fn write_json(out: &mut impl Write, report: &DatasetReport<'_>) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, report)?;
    writeln!(out)
}

/// Writes the human summary of one dataset: its outcome line, and for a failed import the
/// error entries of the failed step.
pub fn write_text(out: &mut impl Write, report: &DatasetReport<'_>) -> std::io::Result<()> {
    let run = report.run_id.unwrap_or("-");
    match report.status {
        "success" => writeln!(
            out,
            "{}: import succeeded (run {run}{})",
            report.dataset_id,
            duration_suffix(report)
        )?,
        "failed" => {
            writeln!(
                out,
                "{}: import FAILED (run {run}{})",
                report.dataset_id,
                duration_suffix(report)
            )?;
            for step in report
                .steps
                .iter()
                .filter(|s| s.status == RunStatus::Failed)
            {
                let errors: Vec<_> = step.entries.iter().filter(|e| e.level == "error").collect();
                writeln!(out, "  step {} failed:", step.name)?;
                if errors.is_empty() {
                    writeln!(out, "    (the step logged no error entry)")?;
                }
                for e in errors {
                    writeln!(out, "    {} error: {}", e.created_at, e.detail)?;
                }
            }
        }
        "triggered" => writeln!(
            out,
            "{}: import triggered; not waiting for it (--no-wait)",
            report.dataset_id
        )?,
        "in_progress" => writeln!(out, "{}: import in progress (run {run})", report.dataset_id)?,
        _ => writeln!(
            out,
            "{}: {}",
            report.dataset_id,
            report.error.as_deref().unwrap_or(report.status)
        )?,
    }
    Ok(())
}

fn duration_suffix(report: &DatasetReport<'_>) -> String {
    let (Some(start), Some(end)) = (report.started_at, report.finished_at) else {
        return String::new();
    };
    // Any RFC 3339 offset (`+00:00` as well as `Z`).
    match (
        crate::woosmap::api::clock::parse_rfc3339(start),
        crate::woosmap::api::clock::parse_rfc3339(end),
    ) {
        (Some(s), Some(e)) => match e.duration_since(s) {
            Ok(d) => format!(
                ", took {}",
                humantime::format_duration(std::time::Duration::from_secs(d.as_secs()))
            ),
            Err(_) => String::new(),
        },
        _ => String::new(),
    }
}
