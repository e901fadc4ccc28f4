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
use super::run::{self, Event, ImportSpec, RunError};
use crate::frontend::ExitCode;
use crate::frontend::color::ColorChoice;
use crate::secret::Secret;

pub use super::{AUTH_TOKEN_ENV, URL_ENV, USER_ID_ENV};
use run::describe;

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

/// The client from the environment, or a usage error naming the variable.
fn client_from_env() -> Result<RcClient, ExitCode> {
    let var = |name: &str| {
        std::env::var(name)
            .ok()
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let url = var(URL_ENV).ok_or_else(|| {
        usage(&format!(
            "{URL_ENV} is not set: the base URL of your Rocket.Chat server, e.g. https://chat.example.com"
        ))
    })?;
    let user = var(USER_ID_ENV).ok_or_else(|| {
        usage(&format!(
            "{USER_ID_ENV} is not set: the id of a user with the run-import permission"
        ))
    })?;
    let token = var(AUTH_TOKEN_ENV).ok_or_else(|| {
        usage(&format!(
            "{AUTH_TOKEN_ENV} is not set: a personal access token of that user"
        ))
    })?;
    RcClient::new(RcConfig {
        base_url: url,
        user_id: user,
        auth_token: Secret::new(token),
        request_timeout: Duration::from_secs(30),
    })
    .map_err(|e| usage(&e.to_string()))
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

fn code_of_error(e: &RunError) -> ExitCode {
    match e {
        RunError::Backend(e) if e.is_auth() => ExitCode::Auth,
        RunError::Backend(_) => ExitCode::ApiError,
        RunError::TimedOut { .. } => ExitCode::TimedOut,
        RunError::Cancelled { .. } => ExitCode::Interrupted,
    }
}

fn show_event(event: &Event) {
    let line = match event {
        Event::WaitingForRunning {
            operation_id,
            state,
        } => format!(
            "Another import operation ({operation_id}) is {state}: waiting for it to end; it is not aborted (--abort-running would abort it)."
        ),
        Event::AbortingRunning {
            operation_id,
            state,
        } => format!(
            "Aborting the running import operation {operation_id} ({state}) as asked by --abort-running."
        ),
        Event::Step(line) | Event::Progress(line) => line.clone(),
        Event::Started { operation_id } => format!("Import {operation_id} started."),
    };
    eprintln!("{line}");
}

/// Cancels `cancel` on Ctrl-C or SIGTERM (the same signals as `woosmap-import`).
fn cancel_on_signal(cancel: CancellationToken) {
    tokio::spawn(async move {
        crate::frontend::signals::interrupted().await;
        cancel.cancel();
    });
}

/// `rocketchat-import run`.
pub async fn run(args: RunArgs) -> ExitCode {
    let users = match read_users(&args.users) {
        Ok(u) => u,
        Err(e) => return usage(&e),
    };
    let client = match client_from_env() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let spec = ImportSpec {
        users,
        batch_size: args.batch_size as usize,
        abort_running: args.abort_running,
        allow_user_errors: args.allow_user_errors,
        poll_interval: args.poll_interval,
    };
    let cancel = CancellationToken::new();
    cancel_on_signal(cancel.clone());
    let mut events = |e: Event| show_event(&e);
    let result = run::import(&client, &spec, args.timeout, &cancel, &mut events).await;
    let (code, report) = match &result {
        Ok(outcome) => {
            let code = if outcome.succeeded() {
                ExitCode::Success
            } else {
                ExitCode::ImportFailed
            };
            let status = match (code, outcome.state.as_str()) {
                (ExitCode::Success, _) => "success",
                (_, "done") => "user_errors",
                _ => "failed",
            };
            let mut report = json!(outcome);
            report["outcome"] = json!(status);
            report["message"] = json!(describe(outcome));
            (code, report)
        }
        Err(e) => {
            let code = code_of_error(e);
            let status = match code {
                ExitCode::TimedOut => "timed_out",
                ExitCode::Interrupted => "interrupted",
                _ => "error",
            };
            let (op, state) = match e {
                RunError::TimedOut {
                    operation_id,
                    state,
                    ..
                }
                | RunError::Cancelled {
                    operation_id,
                    state,
                } => (operation_id.clone(), Some(state.clone())),
                RunError::Backend(_) => (None, None),
            };
            (
                code,
                json!({"outcome": status, "operation_id": op, "state": state, "message": e.to_string()}),
            )
        }
    };
    if args.github_output
        && let Err(e) = write_github_output(&report)
    {
        eprintln!("warning: could not write the action's outputs: {e}");
    }
    let text = report["message"].as_str().unwrap_or_default().to_owned();
    let mut out = std::io::stdout().lock();
    let _ = if args.json {
        writeln!(out, "{report}")
    } else if code == ExitCode::Success {
        writeln!(out, "{text}")
    } else {
        eprintln!("error: {text}");
        Ok(())
    };
    code
}

/// Appends the report's fields to `$GITHUB_OUTPUT` (one `name=value` line each; the message
/// is made one line).
fn write_github_output(report: &Value) -> std::io::Result<()> {
    let path = std::env::var_os("GITHUB_OUTPUT")
        .ok_or_else(|| std::io::Error::other("GITHUB_OUTPUT is not set"))?;
    let field = |v: &Value| match v {
        Value::String(s) => s.replace(['\r', '\n'], " "),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let mut lines = String::new();
    for (name, value) in [
        ("outcome", &report["outcome"]),
        ("operation-id", &report["operation_id"]),
        ("state", &report["state"]),
        ("count-total", &report["count"]["total"]),
        ("count-completed", &report["count"]["completed"]),
        ("count-error", &report["count"]["error"]),
        ("aborted-operation-id", &report["aborted_operation_id"]),
        ("message", &report["message"]),
    ] {
        lines.push_str(&format!("{name}={}\n", field(value)));
    }
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)?
        .write_all(lines.as_bytes())
}

/// `rocketchat-import status`.
pub async fn status(args: StatusArgs) -> ExitCode {
    let client = match client_from_env() {
        Ok(c) => c,
        Err(code) => return code,
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
