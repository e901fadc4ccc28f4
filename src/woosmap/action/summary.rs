//! The Markdown job summary (`$GITHUB_STEP_SUMMARY`): one table row per dataset (dataset, run
//! id, status, duration), then for each import that did not succeed the reason and the error
//! entries of its failed step; or, when the step stopped on a bad input, what was wrong
//! ([`usage`]). Server text is escaped so it cannot break the table or inject HTML.

use std::fmt::Write;

use super::outputs::DatasetResult;
use crate::frontend::github::summary::{cell, text};

/// The summary of a step that stopped on a bad input or setting: nothing was sent.
pub fn usage(title: &str, message: &str) -> String {
    format!(
        "### ❌ Woosmap dataset import: not started\n\n**{}**: {}\n\nNothing was sent to \
         Woosmap. Fix the input or setting named above, then run the step again.\n",
        text(title),
        text(message)
    )
}

/// Renders the summary.
pub fn render(results: &[DatasetResult]) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "### Woosmap dataset import\n");
    let _ = writeln!(md, "| Dataset | Run | Status | Duration |");
    let _ = writeln!(md, "| --- | --- | --- | --- |");
    for r in results {
        let _ = writeln!(
            md,
            "| `{}` | {} | {} {} | {} |",
            r.dataset_id,
            r.run_id
                .as_deref()
                .map_or("–".to_owned(), |id| format!("`{}`", cell(id))),
            icon(r.status),
            r.status,
            r.duration_text().unwrap_or_else(|| "–".to_owned()),
        );
    }
    for r in results.iter().filter(|r| !r.ok()) {
        let _ = writeln!(
            md,
            "\n#### {} `{}`: {}\n",
            icon(r.status),
            r.dataset_id,
            r.status
        );
        if r.failed_entries.is_empty() {
            if let Some(e) = &r.error {
                let _ = writeln!(md, "{}", text(e));
            }
            continue;
        }
        let mut step = "";
        for e in &r.failed_entries {
            if e.step != step {
                step = &e.step;
                let _ = writeln!(md, "Step `{}` failed:\n", cell(step));
            }
            let _ = writeln!(
                md,
                "- {} **error**: {}",
                text(&e.created_at),
                text(&e.detail)
            );
        }
    }
    md
}

fn icon(status: &str) -> &'static str {
    match status {
        "success" => "✅",
        "triggered" | "in_progress" => "⏳",
        "timed_out" | "interrupted" => "⏱️",
        // Nothing was started: neither a failure of the import nor a success.
        "not_triggered" => "⏸️",
        _ => "❌",
    }
}

#[cfg(test)]
mod tests {
    use super::super::outputs::FailedEntry;
    use super::*;
    use crate::frontend::ExitCode;

    fn result(status: &'static str, exit: ExitCode) -> DatasetResult {
        DatasetResult {
            dataset_id: "8c4c51f1-f6f3-43bc-b65d-7415e8ef22c0".into(),
            run_id: Some("r-1".into()),
            status,
            previous_run_id: None,
            started_at: None,
            finished_at: None,
            duration_seconds: Some(65),
            error: Some("Import run r-1 failed".into()),
            failed_entries: vec![],
            exit,
        }
    }

    #[test]
    fn a_bad_input_is_summarised_escaped() {
        let md = usage("Invalid input dataset-id", "expected a UUID, got \"<b>|x\"");
        assert!(
            md.starts_with("### ❌ Woosmap dataset import: not started"),
            "{md}"
        );
        assert!(md.contains("Invalid input dataset-id"), "{md}");
        assert!(
            !md.contains("<b>"),
            "server or user text cannot inject HTML: {md}"
        );
        assert!(md.contains("Nothing was sent"), "{md}");
    }

    #[test]
    fn table_and_failure_details() {
        let ok = result("success", ExitCode::Success);
        let mut failed = result("failed", ExitCode::ImportFailed);
        failed.failed_entries = vec![FailedEntry {
            step: "import".into(),
            created_at: "2026-01-01T10:00:00Z".into(),
            detail: "bad <b>row</b> | col\n2".into(),
        }];
        let md = render(&[ok, failed]);
        assert!(md.contains("| Dataset | Run | Status | Duration |"), "{md}");
        assert!(md.contains("| `r-1` | ✅ success | 1m 5s |"), "{md}");
        assert!(md.contains("Step `import` failed:"), "{md}");
        assert!(
            md.contains("**error**: bad &lt;b&gt;row&lt;/b&gt; \\| col 2"),
            "{md}"
        );
        assert_eq!(md.matches("####").count(), 1, "{md}");
    }

    #[test]
    fn an_error_without_a_run_shows_its_message() {
        let mut r = result("error", ExitCode::Auth);
        r.run_id = None;
        r.error = Some("The private key was rejected.".into());
        let md = render(&[r]);
        assert!(md.contains("| – | ❌ error | 1m 5s |"), "{md}");
        assert!(md.contains("The private key was rejected."), "{md}");
    }
}
