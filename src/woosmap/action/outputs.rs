//! What the action reports for each dataset ([`DatasetResult`]) and which step outputs it
//! sets ([`step_outputs`]); the `$GITHUB_OUTPUT` file format is
//! [`crate::frontend::github::outputs`].

use std::time::Duration;

use serde::Serialize;

use crate::frontend::ExitCode;
use crate::woosmap::api::{DatasetId, RunStatus};
use crate::woosmap::exit::exit_code;
use crate::woosmap::import::{EngineError, Outcome};
use crate::woosmap::report::DatasetReport;

/// One error entry of a failed step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedEntry {
    pub step: String,
    pub created_at: String,
    pub detail: String,
}

/// The end of one dataset's import, as the outputs, the summary and the annotations show it.
#[derive(Debug, Clone, Serialize)]
pub struct DatasetResult {
    pub dataset_id: String,
    pub run_id: Option<String>,
    /// success | failed | in_progress | triggered | timed_out | not_triggered | interrupted |
    /// error, or an undocumented run status verbatim
    pub status: &'static str,
    pub previous_run_id: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// Whole seconds from the run's start to its end.
    pub duration_seconds: Option<u64>,
    /// Why the import did not succeed (`None` on success or when not waiting).
    pub error: Option<String>,
    /// The error entries of the failed steps of a failed run.
    #[serde(skip)]
    pub failed_entries: Vec<FailedEntry>,
    #[serde(skip)]
    pub exit: ExitCode,
}

impl DatasetResult {
    pub fn new(id: &DatasetId, result: &Result<Outcome, EngineError>) -> DatasetResult {
        let report =
            DatasetReport::new(id, result).named_for(&crate::woosmap::knobs::Knobs::ACTION);
        let run = match result {
            Ok(o) => o.run.as_ref(),
            Err(e) => e.run(),
        };
        let failed_entries: Vec<FailedEntry> = run
            .filter(|r| r.status == RunStatus::Failed)
            .map(|r| {
                r.failed_entries()
                    .into_iter()
                    .map(|(s, e)| FailedEntry {
                        step: s.name.clone(),
                        created_at: e.created_at.clone(),
                        detail: e.detail.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let duration = match (report.started_at, report.finished_at) {
            (Some(s), Some(e)) => duration_between(s, e),
            _ => None,
        };
        let error = match (&report.error, report.status) {
            (Some(e), _) => Some(e.clone()),
            (None, "failed") => Some(failure_reason(
                report.run_id.unwrap_or("?"),
                run.map(|r| r.steps.as_slice()).unwrap_or_default(),
                &failed_entries,
            )),
            _ => None,
        };
        DatasetResult {
            dataset_id: report.dataset_id.to_owned(),
            run_id: report.run_id.map(str::to_owned),
            status: report.status,
            previous_run_id: report.previous_run_id.map(str::to_owned),
            started_at: report.started_at.map(str::to_owned),
            finished_at: report.finished_at.map(str::to_owned),
            duration_seconds: duration.map(|d| d.as_secs()),
            error,
            failed_entries,
            exit: exit_code(result),
        }
    }

    /// True when the import succeeded (or was triggered, without waiting).
    pub fn ok(&self) -> bool {
        self.exit == ExitCode::Success
    }

    /// The duration for people: `1m 5s`.
    pub fn duration_text(&self) -> Option<String> {
        self.duration_seconds
            .map(|s| humantime::format_duration(Duration::from_secs(s)).to_string())
    }
}

/// "Import run R failed at step import: detail; detail".
fn failure_reason(
    run_id: &str,
    steps: &[crate::woosmap::api::Step],
    entries: &[FailedEntry],
) -> String {
    let failed_steps: Vec<&str> = steps
        .iter()
        .filter(|s| s.status == RunStatus::Failed)
        .map(|s| s.name.as_str())
        .collect();
    let at = if failed_steps.is_empty() {
        String::new()
    } else {
        format!(" at step {}", failed_steps.join(", "))
    };
    let details: Vec<&str> = entries.iter().map(|e| e.detail.as_str()).collect();
    if details.is_empty() {
        format!("Import run {run_id} failed{at} (no error entry was logged).")
    } else {
        format!("Import run {run_id} failed{at}: {}", details.join("; "))
    }
}

/// The time between two RFC 3339 timestamps (any offset), if both parse and are in order.
pub fn duration_between(start: &str, end: &str) -> Option<Duration> {
    let s = crate::woosmap::api::clock::parse_rfc3339(start)?;
    let e = crate::woosmap::api::clock::parse_rfc3339(end)?;
    e.duration_since(s).ok()
}

/// The step outputs: those of the first (or only) dataset, plus `results`, a JSON array with
/// one object per dataset.
pub fn step_outputs(results: &[DatasetResult]) -> Vec<(&'static str, String)> {
    let first = results.first();
    let text = |f: fn(&DatasetResult) -> Option<String>| first.and_then(f).unwrap_or_default();
    vec![
        ("dataset-id", text(|r| Some(r.dataset_id.clone()))),
        ("run-id", text(|r| r.run_id.clone())),
        ("status", text(|r| Some(r.status.to_owned()))),
        ("started-at", text(|r| r.started_at.clone())),
        ("finished-at", text(|r| r.finished_at.clone())),
        (
            "duration",
            text(|r| r.duration_seconds.map(|s| s.to_string())),
        ),
        ("error", text(|r| r.error.clone())),
        (
            "results",
            serde_json::to_string(results).expect("results serialize"),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frontend::github::outputs::write_outputs;
    use crate::woosmap::api::{Entry, Run, Step};

    const ID: &str = "8c4c51f1-f6f3-43bc-b65d-7415e8ef22c0";

    fn run(status: RunStatus) -> Run {
        Run {
            id: "run-1".into(),
            status,
            steps: vec![
                Step {
                    name: "fetch".into(),
                    status: RunStatus::Success,
                    start: Some("2026-01-01T10:00:00Z".into()),
                    end: Some("2026-01-01T10:00:05Z".into()),
                    entries: vec![],
                },
                Step {
                    name: "import".into(),
                    status,
                    start: Some("2026-01-01T10:00:05Z".into()),
                    end: Some("2026-01-01T10:01:10Z".into()),
                    entries: vec![Entry {
                        created_at: "2026-01-01T10:01:09Z".into(),
                        level: "error".into(),
                        detail: "missing 'storeId'".into(),
                    }],
                },
            ],
        }
    }

    fn outcome(status: RunStatus) -> Result<Outcome, EngineError> {
        Ok(Outcome {
            dataset_id: DatasetId::parse(ID).unwrap(),
            previous_run_id: Some("run-0".into()),
            run: Some(run(status)),
            triggered: true,
        })
    }

    #[test]
    fn a_failed_run_carries_its_error_entries_and_reason() {
        let id = DatasetId::parse(ID).unwrap();
        let r = DatasetResult::new(&id, &outcome(RunStatus::Failed));
        assert_eq!(r.status, "failed");
        assert_eq!(r.exit, ExitCode::ImportFailed);
        assert_eq!(r.duration_seconds, Some(70));
        assert_eq!(r.duration_text().unwrap(), "1m 10s");
        assert_eq!(r.failed_entries.len(), 1);
        let reason = r.error.unwrap();
        assert!(
            reason.contains("at step import: missing 'storeId'"),
            "{reason}"
        );
    }

    #[test]
    fn outputs_use_heredocs_only_for_multi_line_values() {
        let id = DatasetId::parse(ID).unwrap();
        let results = vec![DatasetResult::new(&id, &outcome(RunStatus::Success))];
        let mut outputs = step_outputs(&results);
        outputs.push(("note", "two\nlines".into()));
        let mut buf = Vec::new();
        write_outputs(&mut buf, &outputs).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert!(text.contains("run-id=run-1\n"), "{text}");
        assert!(text.contains("status=success\n"), "{text}");
        assert!(text.contains("duration=70\n"), "{text}");
        assert!(text.contains("started-at=2026-01-01T10:00:00Z\n"), "{text}");
        let heredoc = text.split("note<<").nth(1).unwrap();
        let (delimiter, rest) = heredoc.split_once('\n').unwrap();
        assert!(delimiter.starts_with("ghadelimiter_"));
        assert_eq!(rest, format!("two\nlines\n{delimiter}\n"));
        let results_line = text.lines().find(|l| l.starts_with("results=")).unwrap();
        let json: serde_json::Value =
            serde_json::from_str(results_line.trim_start_matches("results=")).unwrap();
        assert_eq!(json[0]["dataset_id"], ID);
        assert_eq!(json[0]["status"], "success");
        assert_eq!(json[0]["duration_seconds"], 70);
    }
}
