//! `woosmap-import action`: the CLI in GitHub Action mode, run by `action.yml`.
//!
//! In order: mask the keys (`::add-mask::`, before any other output), read and check the
//! inputs (`INPUT_DATASET-ID`… — a bad value is an `::error::` naming the input, exit 2,
//! nothing sent), run every dataset through [`import::run_many`] with the step log folded per
//! dataset, then write the step outputs (`$GITHUB_OUTPUT`), the job summary
//! (`$GITHUB_STEP_SUMMARY`) and an `::error` annotation per import that did not succeed. The
//! exit code ranks the datasets' results as the CLI does (`cli::exit`).
//!
//! - `inputs`: reading and checking the inputs.
//! - `log`: the live step log, one group per dataset.
//! - `outputs`: per-dataset results and the step outputs they set.
//! - `summary`: the Markdown job summary.
//!
//! Workflow commands, the `$GITHUB_OUTPUT` format and Markdown escaping are the service-free
//! [`crate::frontend::github`].

pub mod inputs;
pub mod log;
pub mod outputs;
pub mod summary;

use std::path::PathBuf;

use tokio_util::sync::CancellationToken;

use crate::frontend::ExitCode;
use crate::frontend::github::outputs::{self as files, RunnerFileError};
use crate::frontend::github::{OUTPUT_ENV, SUMMARY_ENV, commands, say};
use crate::woosmap::import;
use inputs::{Inputs, ProcessEnv, Source};
use outputs::DatasetResult;

/// Runs the action with the process environment.
pub async fn run() -> ExitCode {
    run_with(&ProcessEnv).await
}

/// Runs the action with inputs and file paths from `src`.
pub async fn run_with(src: &dyn Source) -> ExitCode {
    // Masks first: nothing may be printed before the runner knows the keys.
    for secret in inputs::secrets_to_mask(src) {
        say(&commands::add_mask(&secret));
    }

    // The variables the action also reads (WOOSMAP_*), checked as the CLI checks them.
    let checked = crate::woosmap::settings::check_utf8(|n| src.var_os(n))
        .and_then(|()| crate::woosmap::settings::check_with(|n| src.var(n)));
    if let Err(e) = checked {
        return usage_error(src, "Invalid environment variable", &format!("{e}."));
    }
    let inputs = match Inputs::read(src) {
        Ok(i) => i,
        Err(e) => {
            let title = format!("Invalid input `{}`", e.input);
            return usage_error(src, &title, &e.to_string());
        }
    };
    let client =
        match crate::woosmap::settings::client(&inputs.base_url, inputs.private_key.clone()) {
            Ok(c) => c,
            Err(e) => {
                let message = crate::woosmap::knobs::Knobs::ACTION.word(&e);
                return usage_error(src, "Invalid configuration", &message);
            }
        };

    let cancel = CancellationToken::new();
    cancel_on_signal(cancel.clone());
    let log = log::grouped(std::io::stdout(), &inputs.dataset_ids);
    let results = import::run_many(&client, inputs.specs(), log::sink(&log), cancel).await;
    log.finish();

    let results: Vec<DatasetResult> = results
        .iter()
        .map(|(id, r)| DatasetResult::new(id, r))
        .collect();
    let mut code = results
        .iter()
        .fold(ExitCode::Success, |code, r| code.worst(r.exit));

    for r in &results {
        say(&commands::neutralize(&result_line(r)));
    }
    for r in results.iter().filter(|r| !r.ok()) {
        say(&commands::error(
            Some(&format!(
                "Woosmap import {}: {}",
                r.status.replace('_', " "),
                r.dataset_id
            )),
            r.error.as_deref().unwrap_or(r.status),
        ));
    }
    if let Err(e) = report(src, &results) {
        say(&commands::error(Some("Woosmap import"), &e.to_string()));
        code = code.worst(ExitCode::ApiError);
    }
    code
}

/// Refuses to start: an `::error` annotation, and `status=error` plus the reason as step
/// outputs, so that a later step (`if: failure()`) can tell why. Nothing was sent.
fn usage_error(src: &dyn Source, title: &str, message: &str) -> ExitCode {
    say(&commands::error(Some(title), message));
    if let Some(path) = src.var(OUTPUT_ENV).filter(|p| !p.trim().is_empty()) {
        let outputs = [
            ("status", "error".to_owned()),
            ("error", format!("{title}: {message}")),
        ];
        if let Err(e) = files::append(&PathBuf::from(path), |buf| {
            files::write_outputs(buf, &outputs)
        }) {
            eprintln!("could not write the step outputs: {e}");
        }
    }
    let summary = summary::usage(title, message);
    if let Err(e) = files::append_to_runner_file(
        |n| src.var(n),
        SUMMARY_ENV,
        "job summary",
        |buf| {
            buf.extend_from_slice(summary.as_bytes());
            Ok(())
        },
    ) {
        eprintln!("{e}");
    }
    ExitCode::Usage
}

/// One line per dataset at the end of the log.
fn result_line(r: &DatasetResult) -> String {
    let run = r.run_id.as_deref().unwrap_or("-");
    let took = r
        .duration_text()
        .map(|d| format!(", took {d}"))
        .unwrap_or_default();
    match r.status {
        "success" => format!("{}: import succeeded (run {run}{took})", r.dataset_id),
        "triggered" => format!(
            "{}: import triggered; not waiting for it (wait: false)",
            r.dataset_id
        ),
        "failed" => format!("{}: import FAILED (run {run}{took})", r.dataset_id),
        other => format!("{}: {}", r.dataset_id, r.error.as_deref().unwrap_or(other)),
    }
}

/// Writes the step outputs and the job summary to the runner's files (skipped, with a note on
/// stderr, when the variables are not set: the action run by hand).
fn report(src: &dyn Source, results: &[DatasetResult]) -> Result<(), RunnerFileError> {
    let lookup = |name: &str| src.var(name);
    files::append_to_runner_file(lookup, OUTPUT_ENV, "step outputs", |buf| {
        files::write_outputs(buf, &outputs::step_outputs(results))
    })?;
    files::append_to_runner_file(lookup, SUMMARY_ENV, "job summary", |buf| {
        buf.extend_from_slice(summary::render(results).as_bytes());
        Ok(())
    })
}

/// Cancels on Ctrl-C, and on SIGTERM (a cancelled workflow run) where there is one.
fn cancel_on_signal(cancel: CancellationToken) {
    tokio::spawn(async move {
        crate::frontend::signals::interrupted().await;
        say(
            "Interrupted: stopped waiting. Imports already triggered keep running on Woosmap's side.",
        );
        cancel.cancel();
    });
}
