//! The `rocketchat-import` command line: `run --users FILE|-` imports users and waits for the
//! import, `status` shows the current operation. Credentials come from `ROCKETCHAT_URL`,
//! `ROCKETCHAT_USER_ID`, `ROCKETCHAT_AUTH_TOKEN`. Exit codes match `woosmap-import`
//! (`frontend::ExitCode`): 0 success, 1 import failed (or user errors not allowed), 2 usage,
//! 3 timed out, 4 credentials or permission, 6 API or network error, 130 interrupted
//! (Ctrl-C or SIGTERM).

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::api::{RcClient, RcConfig};
use super::report::Report;
use super::run::{self, Event, ImportSpec, RunError};
use crate::frontend::ExitCode;
use crate::frontend::color::ColorChoice;
use crate::secret::Secret;

pub use super::{AUTH_TOKEN_ENV, URL_ENV, USER_ID_ENV};

const EXIT_CODES: &str = "\
Exit codes: 0 success; 1 the import failed, was canceled or invalidated, or users failed
(without --allow-user-errors); 2 usage; 3 timed out; 4 credentials or permission refused;
6 API or network error; 130 interrupted (Ctrl-C or SIGTERM).

Environment: ROCKETCHAT_URL (e.g. https://chat.example.com), ROCKETCHAT_USER_ID,
ROCKETCHAT_AUTH_TOKEN (a personal access token of a user with the run-import permission).";

/// Import users into Rocket.Chat (bulk user import API) and wait for the import.
#[derive(Debug, Parser)]
#[command(name = "rocketchat-import", version, after_long_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// When to colour the log: auto (when stderr is a terminal and NO_COLOR is not set),
    /// always, never.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t)]
    pub color: ColorChoice,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Import the users of a JSON file and wait for the import to end.
    Run(RunArgs),
    /// Show the current import operation.
    Status(StatusArgs),
    /// GitHub Action mode: read the `INPUT_*` variables set by the action, write
    /// `$GITHUB_OUTPUT` and `$GITHUB_STEP_SUMMARY`.
    #[command(hide = true)]
    Action,
    /// Print a shell completion script (e.g. `rocketchat-import completions bash >
    /// ~/.local/share/bash-completion/completions/rocketchat-import`).
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) on stdout (e.g. `rocketchat-import man | man -l -`), or
    /// write one page per command into a directory.
    Man {
        /// Write rocketchat-import.1 and a page per subcommand (rocketchat-import-run.1…) here.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// JSON array of user objects (`emails` and `importIds` required; `username`, `name`,
    /// `roles`, ... optional); `-` reads stdin.
    #[arg(long, value_name = "FILE|-")]
    pub users: PathBuf,
    /// If another import operation is running, abort it (import.new does) instead of waiting
    /// for it to end.
    #[arg(long)]
    pub abort_running: bool,
    /// Succeed even when some users failed to import (count.error > 0).
    #[arg(long)]
    pub allow_user_errors: bool,
    /// Print the outcome as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Give up waiting after this long (exit 3).
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = duration)]
    pub timeout: Duration,
    /// Shortest time between two status reads (reads are also spread over the rate-limit
    /// window).
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = duration)]
    pub poll_interval: Duration,
    /// Also append the outcome to the file named by `GITHUB_OUTPUT` (the GitHub Action's
    /// outputs: outcome, operation-id, state, count-total, count-completed, count-error,
    /// aborted-operation-id, message).
    #[arg(long)]
    pub github_output: bool,
    /// If this run's operation cannot be run (interrupted, timed out or refused while its users
    /// are staged), keep it on the server instead of clearing it (import.clear).
    #[arg(long)]
    pub keep_staged: bool,
    /// Users per import.addUsers call.
    #[arg(long, value_name = "N", default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch_size: u32,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print the status as JSON.
    #[arg(long)]
    pub json: bool,
}

fn duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (expected e.g. 500ms, 5s, 2m)"))
}

fn usage(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::Usage
}

/// A setting from the environment: `Ok(None)` when unset or blank, a usage error naming the
/// variable when it is not UTF-8 (its value is never shown).
fn env_setting(name: &str) -> Result<Option<String>, String> {
    match std::env::var(name) {
        Ok(v) => Ok(Some(v.trim().to_owned()).filter(|v| !v.is_empty())),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(format!(
            "{name} is not valid UTF-8: set it to plain text (its value is not shown)"
        )),
    }
}

/// The client from the environment, or a usage error naming the variable; nothing is sent.
fn client_from_env() -> Result<RcClient, String> {
    let (url, user, token) = (
        env_setting(URL_ENV)?,
        env_setting(USER_ID_ENV)?,
        env_setting(AUTH_TOKEN_ENV)?,
    );
    let url = url.ok_or_else(|| {
        format!(
            "{URL_ENV} is not set: the base URL of your Rocket.Chat server, e.g. https://chat.example.com"
        )
    })?;
    let user = user.ok_or_else(|| {
        format!("{USER_ID_ENV} is not set: the id of a user with the run-import permission")
    })?;
    let token = token.ok_or_else(|| {
        format!("{AUTH_TOKEN_ENV} is not set: a personal access token of that user")
    })?;
    RcClient::new(RcConfig {
        base_url: url,
        user_id: user,
        auth_token: Secret::new(token),
        request_timeout: Duration::from_secs(30),
    })
    .map_err(|e| e.to_string())
}

fn read_users(path: &PathBuf) -> Result<Vec<Value>, String> {
    let shown = path.display().to_string();
    let text = if shown == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| format!("--users -: cannot read stdin: {e}"))?;
        s
    } else {
        std::fs::read_to_string(path).map_err(|e| format!("--users {shown}: cannot read: {e}"))?
    };
    let value: Value =
        serde_json::from_str(&text).map_err(|e| format!("--users {shown}: not valid JSON: {e}"))?;
    run::check_users(&value).map_err(|e| format!("--users {shown}: {e}"))
}

pub(crate) fn code_of_error(e: &RunError) -> ExitCode {
    match e {
        RunError::Backend(e)
        | RunError::Staging { source: e, .. }
        | RunError::AfterStart { source: e, .. }
            if e.is_auth() =>
        {
            ExitCode::Auth
        }
        RunError::Backend(e) if e.is_config() => ExitCode::Usage,
        RunError::Backend(_)
        | RunError::Staging { .. }
        | RunError::StartUnclear { .. }
        | RunError::AfterStart { .. } => ExitCode::ApiError,
        RunError::TimedOut { .. } => ExitCode::TimedOut,
        RunError::Cancelled { .. } => ExitCode::Interrupted,
    }
}

/// One progress event as a line (the same words in the CLI and the GitHub Action).
pub fn event_line(event: &Event) -> String {
    event.line("--abort-running")
}

/// Cancels `cancel` on Ctrl-C or SIGTERM (the same signals as `woosmap-import`).
fn cancel_on_signal(cancel: CancellationToken) {
    tokio::spawn(async move {
        crate::frontend::signals::interrupted().await;
        cancel.cancel();
    });
}

/// The users and the client, or why not (a usage error: nothing was sent).
fn prepare(args: &RunArgs) -> Result<(Vec<Value>, RcClient), String> {
    let users = read_users(&args.users)?;
    let client = client_from_env()?;
    Ok((users, client))
}

/// `rocketchat-import run`.
pub async fn run(args: RunArgs) -> ExitCode {
    let (code, report) = match prepare(&args) {
        Ok((users, client)) => import(&args, users, &client).await,
        Err(message) => (ExitCode::Usage, Report::of_usage(&message)),
    };
    if args.github_output
        && let Err(e) = write_github_output(&report)
    {
        eprintln!("warning: could not write the action's outputs: {e}");
    }
    let mut out = std::io::stdout().lock();
    let _ = if args.json {
        writeln!(out, "{}", report.to_json())
    } else if code == ExitCode::Success {
        writeln!(out, "{}", report.message)
    } else {
        eprintln!("error: {}", report.message);
        Ok(())
    };
    code
}

/// Runs the import; its exit code and report.
async fn import(args: &RunArgs, users: Vec<Value>, client: &RcClient) -> (ExitCode, Report) {
    let spec = ImportSpec {
        users,
        batch_size: args.batch_size as usize,
        abort_running: args.abort_running,
        allow_user_errors: args.allow_user_errors,
        poll_interval: args.poll_interval,
        keep_staged: args.keep_staged,
    };
    let cancel = CancellationToken::new();
    cancel_on_signal(cancel.clone());
    let mut progress = super::progress::Progress::new();
    let mut events = |e: Event| progress.show(&event_line(&e));
    let result = run::import(client, &spec, args.timeout, &cancel, &mut events).await;
    progress.finish();
    code_and_report(&result)
}

/// The exit code of an import's result and the report that goes with it (the CLI and the
/// GitHub Action end the same way).
pub(crate) fn code_and_report(result: &Result<run::Outcome, RunError>) -> (ExitCode, Report) {
    match result {
        Ok(outcome) => {
            let code = if outcome.succeeded() {
                ExitCode::Success
            } else {
                ExitCode::ImportFailed
            };
            (code, Report::of_outcome(outcome, code))
        }
        Err(e) => {
            let code = code_of_error(e);
            (code, Report::of_error(e, code))
        }
    }
}

/// Appends the report's fields to `$GITHUB_OUTPUT` (the message made one line).
pub(crate) fn write_github_output(report: &Report) -> std::io::Result<()> {
    use crate::frontend::github::{OUTPUT_ENV, outputs};
    let path = std::env::var_os(OUTPUT_ENV)
        .ok_or_else(|| std::io::Error::other("GITHUB_OUTPUT is not set"))?;
    let text = |v: Option<&str>| v.unwrap_or_default().replace(['\r', '\n'], " ");
    let count = |f: fn(&super::api::Counts) -> u64| {
        report
            .count
            .as_ref()
            .map(|c| f(c).to_string())
            .unwrap_or_default()
    };
    let pairs = [
        ("outcome", report.outcome.to_owned()),
        ("operation-id", text(report.operation_id.as_deref())),
        ("state", text(report.state.as_deref())),
        ("count-total", count(|c| c.total)),
        ("count-completed", count(|c| c.completed)),
        ("count-error", count(|c| c.error)),
        (
            "aborted-operation-id",
            text(report.aborted_operation_id.as_deref()),
        ),
        ("message", text(Some(&report.message))),
    ];
    outputs::append(std::path::Path::new(&path), |buf| {
        outputs::write_outputs(buf, &pairs)
    })
}

/// `rocketchat-import status`.
pub async fn status(args: StatusArgs) -> ExitCode {
    let client = match client_from_env() {
        Ok(c) => c,
        Err(message) => return usage(&message),
    };
    match client.status().await {
        Ok(st) => {
            if args.json {
                println!("{}", json!(st));
            } else if let Some(op) = &st.operation {
                println!(
                    "Operation {}: {} ({}{}); users total {}, completed {}, error {}.",
                    op.id,
                    st.state,
                    op.status,
                    if op.valid { "" } else { ", invalidated" },
                    op.count.total,
                    op.count.completed,
                    op.count.error
                );
            } else {
                println!("No import operation ({}).", st.state);
            }
            ExitCode::Success
        }
        Err(e) => {
            eprintln!("error: {e}");
            if e.is_auth() {
                ExitCode::Auth
            } else {
                ExitCode::ApiError
            }
        }
    }
}

/// `rocketchat-import completions SHELL`: the completion script on stdout.
pub fn completions(shell: clap_complete::Shell) -> ExitCode {
    use clap::CommandFactory;
    crate::frontend::cli_docs::completions(Cli::command(), "rocketchat-import", shell)
}

/// `rocketchat-import man`: the manual page (roff) on stdout, or every page into `dir`.
pub fn man(dir: Option<&std::path::Path>) -> ExitCode {
    use clap::CommandFactory;
    crate::frontend::cli_docs::man(Cli::command(), dir)
}
