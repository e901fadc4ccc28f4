//! The `woosmap-import` command line (`run`, `status`, `completions`, `man`): checks the parsed
//! arguments and the environment, runs the engine for every dataset at once, shows progress
//! and ends with one exit code. The binary (`src/bin/woosmap-import.rs`) parses and
//! dispatches.

pub mod args;
pub mod datasets;
pub mod progress;

use std::io::Write;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::frontend::ExitCode;
use crate::woosmap::api::{DatasetId, RunStatus};
use crate::woosmap::exit::{exit_code, exit_code_of_kind};
use crate::woosmap::import::{self, ImportSpec, TriggerVia};
use crate::woosmap::knobs::Knobs;
use crate::woosmap::report::{self, DatasetReport};
use crate::woosmap::settings::{self as env, PRIVATE_KEY_ENV, client, private_key_from_env};
pub use args::{Cli, Command, RunArgs, StatusArgs};
use progress::Progress;

/// A usage error found after argument parsing: printed like clap's, exit code 2.
fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::Usage
}

/// Checks every environment variable the program reads (see `woosmap::settings`); a bad value
/// is a usage error naming the variable. Called before anything else by `run` and `status`.
pub fn check_env() -> Result<(), ExitCode> {
    env::check().map_err(|e| usage_error(&e.to_string()))
}

/// "once", "twice", "3 times".
fn times(n: usize) -> String {
    match n {
        1 => "once".to_owned(),
        2 => "twice".to_owned(),
        n => format!("{n} times"),
    }
}

/// Builds the per-dataset specs of `run`, checking that every dataset can be triggered and
/// followed with the credentials at hand.
fn specs(args: &RunArgs, have_private_key: bool) -> Result<Vec<ImportSpec>, String> {
    let ids = &args.dataset_ids;
    for (i, id) in ids.iter().enumerate() {
        if ids[..i].contains(id) {
            return Err(format!("--dataset-id {id} is given twice"));
        }
    }
    let keys = args.reimport_keys();
    if !keys.is_empty() && keys.len() != ids.len() {
        let given = if args.reimport_key_flags.is_empty() {
            "WOOSMAP_REIMPORT_KEY holds one key".to_owned()
        } else {
            format!("--reimport-key is given {}", times(keys.len()))
        };
        let datasets = match ids.len() {
            1 => "one --dataset-id".to_owned(),
            n => format!("{n} --dataset-id"),
        };
        return Err(format!(
            "{given} for {datasets}: give --reimport-key once per dataset, in the same order"
        ));
    }
    let needs_key = keys.is_empty() || !args.no_wait;
    if needs_key && !have_private_key {
        return Err(format!(
            "{PRIVATE_KEY_ENV} is not set: a private key with write permission is needed to {} \
             (only --reimport-key with --no-wait works without it)",
            if keys.is_empty() {
                "trigger imports"
            } else {
                "read the import status"
            }
        ));
    }
    Ok(ids
        .iter()
        .enumerate()
        .map(|(i, id)| ImportSpec {
            dataset_id: id.clone(),
            via: keys
                .get(i)
                .map_or(TriggerVia::Api, |k| TriggerVia::Webhook(k.clone())),
            wait: !args.no_wait,
            poll_interval: args.poll_interval,
            timeout: args.timeout,
        })
        .collect())
}

/// Cancels `cancel` on the first Ctrl-C or SIGTERM and says what that means for the imports
/// (the report is then written as usual).
fn cancel_on_ctrl_c(cancel: CancellationToken) {
    tokio::spawn(async move {
        crate::frontend::signals::interrupted().await;
        eprintln!(
            "\nInterrupted: stopped waiting. Imports already triggered keep running on \
             Woosmap's side; check them with `woosmap-import status --dataset-id ID`."
        );
        cancel.cancel();
    });
}

/// What the engine's events told about each dataset's trigger, for the final report.
/// `woosmap-import run`.
pub async fn run(args: RunArgs) -> ExitCode {
    let base_url = match args.api.base_url() {
        Ok(u) => u,
        Err(e) => return usage_error(&e),
    };
    let key = private_key_from_env();
    let specs = match specs(&args, key.is_some()) {
        Ok(s) => s,
        Err(e) => return usage_error(&e),
    };
    let client = match client(&base_url, key) {
        Ok(c) => c,
        Err(e) => return usage_error(&Knobs::CLI.word(&e)),
    };
    let cancel = CancellationToken::new();
    cancel_on_ctrl_c(cancel.clone());
    let progress = Arc::new(Progress::for_stderr(args.api.json));
    progress.start(&args.dataset_ids);
    let results = import::run_many(&client, specs, progress.sink(), cancel).await;
    progress.finish();

    let mut out = std::io::stdout().lock();
    let mut code = ExitCode::Success;
    for (id, result) in &results {
        code = code.worst(exit_code(result));
        let report = DatasetReport::new(id, result).named_for(&Knobs::CLI);
        let written = if args.api.json {
            report::write_json(&mut out, &report)
        } else {
            report::write_text(&mut out, &report)
        };
        if written.is_err() {
            // stdout is gone (a closed pipe): the exit code still tells the outcome.
            break;
        }
    }
    let _ = out.flush();
    code
}

/// `woosmap-import status`.
pub async fn status(args: StatusArgs) -> ExitCode {
    let base_url = match args.api.base_url() {
        Ok(u) => u,
        Err(e) => return usage_error(&e),
    };
    let Some(key) = private_key_from_env() else {
        return usage_error(&format!(
            "{PRIVATE_KEY_ENV} is not set: a private key is needed to read the import status"
        ));
    };
    let client = match client(&base_url, Some(key)) {
        Ok(c) => c,
        Err(e) => return usage_error(&Knobs::CLI.word(&e)),
    };
    let mut set = tokio::task::JoinSet::new();
    for (i, id) in args.dataset_ids.iter().enumerate() {
        let (client, id) = (client.clone(), id.clone());
        set.spawn(async move { (i, import::latest_run(&client, &id).await) });
    }
    let mut found = set.join_all().await;
    found.sort_by_key(|(i, _)| *i);

    let mut out = std::io::stdout().lock();
    let mut code = ExitCode::Success;
    for ((_, result), id) in found.into_iter().zip(&args.dataset_ids) {
        code = code.worst(write_status(&mut out, id, result, &args));
    }
    let _ = out.flush();
    code
}

/// Prints one dataset's latest run (stdout) or why it could not be read (stderr, and the
/// JSON line on stdout with `--json`); returns the dataset's exit code.
fn write_status(
    out: &mut impl Write,
    id: &DatasetId,
    result: Result<Option<crate::woosmap::api::Run>, crate::woosmap::api::ApiError>,
    args: &StatusArgs,
) -> ExitCode {
    let (report, code) = match &result {
        Ok(Some(run)) => {
            let result = Ok(import::Outcome {
                dataset_id: id.clone(),
                previous_run_id: None,
                run: Some(run.clone()),
                triggered: false,
            });
            let report = DatasetReport::new(id, &result);
            let code = match run.status {
                RunStatus::Failed if args.exit_status => ExitCode::ImportFailed,
                RunStatus::InProgress if args.exit_status => ExitCode::TimedOut,
                _ => ExitCode::Success,
            };
            let _ = if args.api.json {
                report::write_json(out, &report)
            } else {
                report::write_text(out, &report)
            };
            return code;
        }
        Ok(None) => (DatasetReport::no_run(id), ExitCode::Usage),
        Err(e) => (
            DatasetReport::api_error(id, e).named_for(&Knobs::CLI),
            exit_code_of_kind(e.kind()),
        ),
    };
    eprintln!("{id}: {}", report.error.as_deref().unwrap_or(report.status));
    if args.api.json {
        let _ = report::write_json(out, &report);
    }
    code
}

/// `woosmap-import completions SHELL`: the completion script on stdout.
pub fn completions(shell: clap_complete::Shell) -> ExitCode {
    use clap::CommandFactory;
    crate::frontend::cli_docs::completions(Cli::command(), "woosmap-import", shell)
}

/// `woosmap-import man`: the manual page (roff) on stdout, or every page into `dir`.
pub fn man(dir: Option<&std::path::Path>) -> ExitCode {
    use clap::CommandFactory;
    crate::frontend::cli_docs::man(Cli::command(), dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn run_args(extra: &[&str]) -> RunArgs {
        let mut argv = vec![
            "woosmap-import",
            "run",
            "--dataset-id",
            "8c4c51f1-f6f3-43bc-b65d-7415e8ef22c0",
        ];
        argv.extend_from_slice(extra);
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Run(r) => r,
            _ => unreachable!(),
        }
    }

    #[test]
    fn a_missing_private_key_is_a_usage_error_naming_the_variable() {
        let err = specs(&run_args(&[]), false).unwrap_err();
        assert!(err.contains("WOOSMAP_PRIVATE_KEY"), "{err}");
        // With a reimport key and --no-wait no private key is needed.
        let ok = specs(&run_args(&["--reimport-key", "rk", "--no-wait"]), false).unwrap();
        assert!(matches!(ok[0].via, TriggerVia::Webhook(_)));
        let err = specs(&run_args(&["--reimport-key", "rk"]), false).unwrap_err();
        assert!(err.contains("status"), "{err}");
    }

    #[test]
    fn reimport_keys_pair_with_dataset_ids() {
        let err = specs(
            &run_args(&[
                "--dataset-id",
                "9c4c51f1-f6f3-43bc-b65d-7415e8ef22c0",
                "--reimport-key",
                "rk",
            ]),
            true,
        )
        .unwrap_err();
        assert!(err.contains("--reimport-key"), "{err}");
    }
}
