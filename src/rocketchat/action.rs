//! `rocketchat-import action`: the CLI in GitHub Action mode, run by the action's thin shell
//! step. In order: mask the token (`::add-mask::`, before any other output), read and check the
//! inputs (a bad value is an `::error` naming the input, a job summary, exit 2, nothing sent),
//! run the import with its progress folded in a log group, then write the step outputs
//! (`$GITHUB_OUTPUT`), the job summary table (`$GITHUB_STEP_SUMMARY`) and, unless it
//! succeeded, an `::error` annotation with the outcome sentence. Exit codes are the CLI's.
//!
//! Inputs come as `INPUT_<NAME>` (name uppercased, hyphens kept, as GitHub sets them for
//! JavaScript and Docker actions) or with underscores (what a composite action's `env:` block
//! can name): `users` or `users-file`, `url`, `user-id`, `auth-token` (each of the last three
//! falls back to its `ROCKETCHAT_*` variable), `abort-running`, `allow-user-errors`,
//! `keep-staged`, `timeout`, `poll-interval`.

use std::time::Duration;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::api::{RcClient, RcConfig};
use super::cli::{event_line, write_github_output};
use super::report::Report;
use super::run::{self, Event, ImportSpec};
use super::{AUTH_TOKEN_ENV, URL_ENV, USER_ID_ENV};
use crate::frontend::ExitCode;
use crate::frontend::github::{SUMMARY_ENV, commands, outputs, say, summary as md};
use crate::secret::Secret;

/// A bad input: which one, and what was expected.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
struct BadInput {
    input: &'static str,
    message: String,
}

fn bad(input: &'static str, message: impl Into<String>) -> BadInput {
    BadInput {
        input,
        message: message.into(),
    }
}

/// An input's text, trimmed (`None`: unset or blank). Not UTF-8 is a bad input.
fn input(name: &'static str) -> Result<Option<String>, BadInput> {
    let upper = name.to_ascii_uppercase();
    for var in [
        format!("INPUT_{upper}"),
        format!("INPUT_{}", upper.replace('-', "_")),
    ] {
        match std::env::var(&var) {
            Ok(v) if !v.trim().is_empty() => return Ok(Some(v.trim().to_owned())),
            Ok(_) | Err(std::env::VarError::NotPresent) => {}
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(bad(name, format!("`{name}` is not valid UTF-8")));
            }
        }
    }
    Ok(None)
}

/// An input, else the variable `env`, else a bad input saying what is expected.
fn setting(name: &'static str, env: &str, expected: &str) -> Result<String, BadInput> {
    if let Some(v) = input(name)? {
        return Ok(v);
    }
    match std::env::var(env) {
        Ok(v) if !v.trim().is_empty() => Ok(v.trim().to_owned()),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(bad(name, format!("{env} is not valid UTF-8")))
        }
        _ => Err(bad(
            name,
            format!("`{name}` is required (or {env}): {expected}"),
        )),
    }
}

fn flag(name: &'static str) -> Result<bool, BadInput> {
    match input(name)?.as_deref() {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(bad(
            name,
            format!("`{name}` must be true or false, not {other:?}"),
        )),
    }
}

fn duration(name: &'static str, default: Duration) -> Result<Duration, BadInput> {
    match input(name)? {
        None => Ok(default),
        Some(text) => humantime::parse_duration(&text).map_err(|e| {
            bad(
                name,
                format!("`{name}` {text:?} is not a duration ({e}; expected e.g. 30m, 2s)"),
            )
        }),
    }
}

/// The users: `users` (a JSON array) or `users-file` (its path), exactly one.
fn users() -> Result<Vec<Value>, BadInput> {
    let (text, name) = match (input("users")?, input("users-file")?) {
        (Some(_), Some(_)) => {
            return Err(bad(
                "users",
                "give either `users` or `users-file`, not both",
            ));
        }
        (Some(text), None) => (text, "users"),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                bad(
                    "users-file",
                    format!("`users-file` {path:?}: cannot read: {e}"),
                )
            })?;
            (text, "users-file")
        }
        (None, None) => {
            return Err(bad(
                "users",
                "`users` (a JSON array of user objects) or `users-file` is required",
            ));
        }
    };
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| bad(name, format!("`{name}` is not valid JSON: {e}")))?;
    run::check_users(&value).map_err(|e| bad(name, format!("`{name}`: {e}")))
}

/// Everything the inputs say.
struct Inputs {
    client: RcClient,
    spec: ImportSpec,
    timeout: Duration,
}

fn read_inputs() -> Result<Inputs, BadInput> {
    let users = users()?;
    let url = setting("url", URL_ENV, "the Rocket.Chat server's base URL")?;
    let user = setting(
        "user-id",
        USER_ID_ENV,
        "the id of a user with the run-import permission",
    )?;
    let token = setting(
        "auth-token",
        AUTH_TOKEN_ENV,
        "a personal access token of that user",
    )?;
    let spec = ImportSpec {
        users,
        batch_size: 500,
        abort_running: flag("abort-running")?,
        allow_user_errors: flag("allow-user-errors")?,
        poll_interval: duration("poll-interval", Duration::from_secs(2))?,
        keep_staged: flag("keep-staged")?,
    };
    let timeout = duration("timeout", Duration::from_secs(30 * 60))?;
    let client = RcClient::new(RcConfig {
        base_url: url,
        user_id: user,
        auth_token: Secret::new(token),
        request_timeout: Duration::from_secs(30),
    })
    .map_err(|e| {
        let input = match &e {
            super::api::RcError::InvalidSetting { name, .. } if *name == USER_ID_ENV => "user-id",
            super::api::RcError::InvalidSetting { name, .. } if *name == AUTH_TOKEN_ENV => {
                "auth-token"
            }
            _ => "url",
        };
        bad(input, e.to_string())
    })?;
    Ok(Inputs {
        client,
        spec,
        timeout,
    })
}

/// Runs the action with the process environment.
pub async fn run() -> ExitCode {
    // The token first: nothing may be printed before the runner masks it.
    for name in ["auth-token"] {
        if let Ok(Some(token)) = input(name) {
            say(&commands::add_mask(&token));
        }
    }
    if let Ok(token) = std::env::var(AUTH_TOKEN_ENV)
        && !token.trim().is_empty()
    {
        say(&commands::add_mask(token.trim()));
    }
    let inputs = match read_inputs() {
        Ok(i) => i,
        Err(e) => {
            let report = Report::of_usage(&e.message);
            say(&commands::error(
                Some(&format!("Invalid input `{}`", e.input)),
                &e.message,
            ));
            finish(&report);
            return ExitCode::Usage;
        }
    };
    let cancel = CancellationToken::new();
    let signal = cancel.clone();
    tokio::spawn(async move {
        crate::frontend::signals::interrupted().await;
        signal.cancel();
    });
    say(&commands::group(&format!(
        "Rocket.Chat import of {} user(s)",
        inputs.spec.users.len()
    )));
    let mut events = |e: Event| say(&commands::neutralize(&event_line(&e)));
    let result = run::import(
        &inputs.client,
        &inputs.spec,
        inputs.timeout,
        &cancel,
        &mut events,
    )
    .await;
    say(commands::end_group());
    let (code, report) = super::cli::code_and_report(&result);
    if code != ExitCode::Success {
        say(&commands::error(
            Some(&format!("Rocket.Chat import ({})", report.outcome)),
            &report.message,
        ));
    }
    finish(&report);
    code
}

/// Writes the outputs and the job summary (a warning line when either cannot be written).
fn finish(report: &Report) {
    if let Err(e) = write_github_output(report) {
        say(&format!("::warning::could not write the step outputs: {e}"));
    }
    if let Err(e) = write_summary(report) {
        say(&format!("::warning::could not write the job summary: {e}"));
    }
}

/// The job summary: a heading with the outcome and a table of what is known.
pub fn summary(report: &Report) -> String {
    let mark = if report.outcome == "success" {
        "✅"
    } else {
        "❌"
    };
    let mut rows: Vec<(&str, String)> = vec![("Outcome", report.outcome.to_owned())];
    if let Some(id) = &report.operation_id {
        rows.push(("Operation", format!("`{}`", md::cell(id))));
    }
    if let Some(state) = &report.state {
        let status = report.status.as_deref().unwrap_or_default();
        rows.push((
            "State",
            md::text(&if status.is_empty() {
                state.clone()
            } else {
                format!("{state} ({status})")
            }),
        ));
    }
    if let Some(c) = &report.count {
        rows.push((
            "Users",
            format!(
                "total {}, completed {}, error {}",
                c.total, c.completed, c.error
            ),
        ));
    }
    if let Some(id) = &report.waited_for_operation_id {
        rows.push(("Waited for", format!("`{}` (not aborted)", md::cell(id))));
    }
    if let Some(id) = &report.aborted_operation_id {
        rows.push(("Aborted", format!("`{}` (abort-running)", md::cell(id))));
    }
    if let Some(left) = &report.leftover {
        rows.push(("Left staged", md::text(&left.to_string())));
    }
    rows.push(("Message", md::text(&report.message)));
    let mut out = format!(
        "### {mark} Rocket.Chat import: {}\n\n| | |\n|---|---|\n",
        report.outcome
    );
    for (name, value) in rows {
        out.push_str(&format!("| {name} | {value} |\n"));
    }
    out.push('\n');
    out
}

fn write_summary(report: &Report) -> std::io::Result<()> {
    let Some(path) = std::env::var_os(SUMMARY_ENV) else {
        return Ok(());
    };
    outputs::append(std::path::Path::new(&path), |buf| {
        buf.extend_from_slice(summary(report).as_bytes());
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_is_a_table_with_escaped_cells() {
        let mut r = Report::of_usage("`users`: user #2 | <bad>\nline");
        r.operation_id = Some("op1".into());
        let s = summary(&r);
        assert!(s.starts_with("### ❌ Rocket.Chat import: usage\n"), "{s}");
        assert!(s.contains("| Operation | `op1` |\n"), "{s}");
        assert!(
            s.contains("| Message | `users`: user #2 \\| &lt;bad&gt; line |\n"),
            "{s}"
        );
    }
}
