//! Action `rocketchat_user_import` (Terraform 1.14+): the resource's import without state.
//! Validation and plan check the configuration (the users, `timeout`) without calling the API;
//! invoke runs the import on the engine loop, sends one progress message per engine event
//! (worded for Terraform: `abort_running = true`, counts in the status lines) and the outcome
//! sentence, and ends with an error naming the outcome for a failed import (user errors
//! without `allow_user_errors = true`, an error, canceled or invalidated operation), a timeout
//! or a cancellation (Ctrl-C, or Terraform going away: the import keeps running on the
//! server's side).

use std::time::Duration;

use tfplugin::{
    ActionProgress, AttrPath, AttrType, Attribute, Block, CancellationToken, Diagnostic,
    Diagnostics, Schema, Value,
};

use super::users::{self, flag};
use crate::rocketchat::api::{RcClient, RcError};
use crate::rocketchat::run::{self, Event, ImportSpec, RunError};

/// The action's type name (actions have their own namespace:
/// `action.rocketchat_user_import.NAME`).
pub const ACTION: &str = "rocketchat_user_import";

const ABORT_RUNNING: &str = "abort_running = true";
const ALLOW_USER_ERRORS: &str = "allow_user_errors = true";

/// The action's `config` block.
pub fn schema() -> Schema {
    Schema::new(
        Block::new()
            .description("Runs one Rocket.Chat bulk user import (import.new, addUsers, run) and waits for it, showing its progress and counts in the Terraform run. An action keeps no state: run it by hand with `terraform apply -invoke=action.rocketchat_user_import.NAME` or after a change with a resource's `lifecycle { action_trigger { ... } }`.")
            .attribute(users::users_json_attribute())
            .block(users::users_blocks())
            .attribute(
                Attribute::new("wait", AttrType::Bool)
                    .optional()
                    .description("Wait for the import to end (default `true`). When false, the action ends once the import has started."),
            )
            .attribute(
                Attribute::new("timeout", AttrType::String)
                    .optional()
                    .description("Longest wait, as a duration such as `30m` (default) or `1h30m`, including the wait for an operation already running. The import keeps running on the server after a timeout."),
            )
            .attribute(Attribute::new("abort_running", AttrType::Bool).optional().description(
                "Abort an operation this invocation did not create that is in progress (`new`, `loading`, `ready` or `importing`) instead of waiting for it to end (import.new aborts it). Default `false`.",
            ))
            .attribute(Attribute::new("keep_staged", AttrType::Bool).optional().description(
                "When this invocation's operation cannot be run (stopped or refused while its users are staged), keep it on the server instead of clearing it (import.clear). Default `false`.",
            ))
            .attribute(
                Attribute::new("allow_user_errors", AttrType::Bool)
                    .optional()
                    .description("Succeed even when some users fail to import (count.error > 0). Default `false`."),
            ),
    )
}

/// `timeout`: `Ok(None)` when unset or unknown.
fn timeout(config: &Value) -> Result<Option<Duration>, Diagnostic> {
    users::duration(config.attr("timeout"), AttrPath::attr("timeout"), "timeout")
}

/// ValidateActionConfig and PlanAction: the users and `timeout`, as far as they are known.
/// Never calls the API.
pub fn validate(config: &Value) -> Diagnostics {
    let mut diags = users::check(config);
    if let Err(d) = timeout(config) {
        diags.push(d);
    }
    diags
}

/// The import described by a fully known `config`, and whether to wait for its end.
fn spec(config: &Value) -> Result<(ImportSpec, Duration, bool), Diagnostics> {
    let diags = validate(config);
    if diags.has_errors() {
        return Err(diags);
    }
    let users = users::users(config)?;
    let timeout = timeout(config)
        .ok()
        .flatten()
        .unwrap_or(users::DEFAULT_TIMEOUT);
    let spec = ImportSpec {
        users,
        batch_size: users::BATCH_SIZE,
        abort_running: flag(config, "abort_running", false),
        allow_user_errors: flag(config, "allow_user_errors", false),
        poll_interval: users::POLL_INTERVAL,
        keep_staged: flag(config, "keep_staged", false),
    };
    Ok((spec, timeout, flag(config, "wait", true)))
}

/// One engine event as the progress line Terraform shows under the action.
pub fn progress_line(event: &Event) -> String {
    event.line(ABORT_RUNNING)
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Why the run has no outcome, as an error diagnostic.
fn run_error(e: &RunError) -> Diagnostic {
    match e {
        RunError::Backend(e @ RcError::Unauthorized { .. }) => Diagnostic::error(
            "Rocket.Chat import failed",
            format!("{e}, or user_id and auth_token in the provider block."),
        ),
        RunError::Backend(e) => Diagnostic::error("Rocket.Chat import failed", format!("{e}.")),
        RunError::AfterStart { .. } => Diagnostic::error(
            "Stopped following the Rocket.Chat import",
            capitalized(&format!("{e}.")),
        ),
        RunError::StartUnclear { .. } => Diagnostic::error(
            "Rocket.Chat import may have been started",
            capitalized(&format!("{e}.")),
        ),
        RunError::Staging { .. } => Diagnostic::error(
            "Rocket.Chat import failed while staging its users",
            capitalized(&format!("{e}.")),
        ),
        RunError::TimedOut { at, .. } => Diagnostic::error(
            "Rocket.Chat import did not finish in time",
            format!(
                "{}{} Raise timeout, or invoke the action again: it waits for a running import before starting another.",
                capitalized(&format!("{e}.")),
                if at.operation_id.is_some() && at.leftover.is_none() {
                    " That operation keeps running on the server."
                } else {
                    ""
                }
            ),
        ),
        RunError::Cancelled { .. } => Diagnostic::error(
            "Stopped waiting for the Rocket.Chat import",
            // "Interrupted while operation X was importing; it keeps running on the server."
            capitalized(&format!("{e}.")),
        ),
    }
}

/// InvokeAction: runs the import, reporting progress, until it ends, times out or `cancel`
/// fires (StopProvider, or Terraform no longer reading the events).
pub async fn invoke(
    client: Option<&RcClient>,
    config: &Value,
    progress: ActionProgress,
    cancel: CancellationToken,
) -> Diagnostics {
    let Some(client) = client else {
        return Diagnostic::error(
            "Provider not configured",
            "Terraform invoked rocketchat_user_import before configuring the provider.",
        )
        .into();
    };
    let (spec, timeout, wait) = match spec(config) {
        Ok(s) => s,
        Err(diags) => return diags,
    };
    tracing::info!(
        users = spec.users.len(),
        wait,
        abort_running = spec.abort_running,
        "action: starting import"
    );
    let sink = progress.clone();
    let mut events = move |e: Event| {
        tracing::info!("{e:?}");
        sink.send(progress_line(&e));
    };
    let outcome = match run::import_with(client, &spec, timeout, &cancel, wait, &mut events).await {
        Ok(o) => o,
        Err(e) => return run_error(&e).into(),
    };
    let sentence = run::describe_with(&outcome, ABORT_RUNNING, ALLOW_USER_ERRORS);
    let mut diags = Diagnostics::new();
    if !wait && outcome.state == "importing" {
        progress.send(format!(
            "{sentence} Not waiting for the import to end (wait = false)."
        ));
    } else if outcome.succeeded() {
        progress.send(sentence);
    } else {
        diags.error("Rocket.Chat import did not succeed", sentence);
        return diags;
    }
    if let Some(id) = &outcome.aborted_operation_id {
        diags.warning(
            "Running import aborted",
            format!("Operation {id} was aborted ({ABORT_RUNNING})."),
        );
    }
    diags
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rocketchat::api::RcConfig;
    use crate::secret::Secret;
    use woosmap_sandbox::rocketchat::{
        DEFAULT_AUTH_TOKEN, DEFAULT_USER_ID, ForeignOperation, RocketChatConfig, RocketChatSandbox,
    };

    /// The action's configuration: `users` an empty list, the rest null, then `pairs`.
    fn config(pairs: &[(&str, Value)]) -> Value {
        let names = "users_json users wait timeout abort_running keep_staged allow_user_errors";
        let pairs = [&[("users", Value::list([]))][..], pairs].concat();
        crate::tfglue::config_with(names, &pairs)
    }

    /// Starts another administrator's import on `sb` that runs for ten minutes; its id.
    fn start_long_foreign_import(sb: &woosmap_sandbox::rocketchat::RocketChatHandle) -> String {
        sb.start_foreign(&ForeignOperation {
            state: "importing".into(),
            duration_ms: Some(600_000),
            users: Some(3),
            user: None,
        })
        .unwrap()
    }

    const USERS: &str = r#"[{"emails":["ann@example.com"],"importIds":["ann"],"username":"ann"}]"#;

    #[test]
    fn validation_names_the_attribute() {
        let bad = config(&[
            ("users_json", Value::from(r#"[{"emails":["a@b.c"]}]"#)),
            ("timeout", Value::from("soon")),
        ]);
        let diags = validate(&bad);
        let summaries: Vec<_> = diags.iter().map(|d| d.summary.as_str()).collect();
        assert_eq!(summaries, ["Invalid users_json", "Invalid timeout"]);
        assert!(validate(&config(&[("users_json", Value::Unknown)])).is_empty());
        let (spec, timeout, wait) = spec(&config(&[("users_json", Value::from(USERS))])).unwrap();
        assert_eq!(
            (spec.users.len(), timeout, wait),
            (1, users::DEFAULT_TIMEOUT, true)
        );
        assert!(!spec.abort_running && !spec.allow_user_errors);
    }

    #[test]
    fn progress_lines_name_the_setting() {
        let waiting = progress_line(&Event::WaitingForRunning(
            crate::rocketchat::ownership::Foreign {
                id: "op1".into(),
                state: "importing".into(),
                user: Some("u2".into()),
                same_user: false,
            },
        ));
        assert!(
            waiting.contains("op1") && waiting.contains("not aborted"),
            "{waiting}"
        );
        assert!(waiting.contains("abort_running = true"), "{waiting}");
    }

    fn client(sb: &woosmap_sandbox::rocketchat::RocketChatHandle) -> RcClient {
        RcClient::new(RcConfig {
            base_url: sb.base_url(),
            user_id: DEFAULT_USER_ID.into(),
            auth_token: Secret::new(DEFAULT_AUTH_TOKEN),
            request_timeout: Duration::from_secs(30),
        })
        .unwrap()
    }

    /// `timeout` bounds the wait for a running operation too; the error names it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn timeout_names_the_operation_and_the_setting() {
        let sb = RocketChatSandbox::start(RocketChatConfig::default())
            .await
            .unwrap();
        let foreign = start_long_foreign_import(&sb);
        let (progress, _lines) = ActionProgress::channel();
        let config = config(&[
            ("users_json", Value::from(USERS)),
            ("timeout", Value::from("1s")),
        ]);
        let diags = invoke(
            Some(&client(&sb)),
            &config,
            progress,
            CancellationToken::new(),
        )
        .await;
        let d = diags.iter().next().expect("a diagnostic");
        assert_eq!(d.summary, "Rocket.Chat import did not finish in time");
        assert!(
            d.detail
                .starts_with("Timed out after 1s waiting for operation")
                && d.detail.contains(&foreign)
                && d.detail.contains("created by user someone-else")
                && d.detail.contains("Raise timeout"),
            "{d:?}"
        );
        assert_eq!(sb.stats().aborts, 0);
    }

    /// A cancelled invocation (StopProvider, or the event stream dropped) ends at once with a
    /// diagnostic, leaving the running operation alone.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cancel_ends_the_wait_without_aborting() {
        let sb = RocketChatSandbox::start(RocketChatConfig {
            limit_window: Duration::from_secs(2),
            ..RocketChatConfig::default()
        })
        .await
        .unwrap();
        let foreign = start_long_foreign_import(&sb);
        let client = client(&sb);
        let (progress, mut lines) = ActionProgress::channel();
        let cancel = CancellationToken::new();
        let config = config(&[("users_json", Value::from(USERS))]);
        let run = {
            let cancel = cancel.clone();
            async move { invoke(Some(&client), &config, progress, cancel).await }
        };
        let stop = async {
            let first = lines.recv().await.expect("a progress line");
            cancel.cancel();
            first
        };
        let (diags, first) =
            tokio::time::timeout(Duration::from_secs(20), async { tokio::join!(run, stop) })
                .await
                .expect("the invocation ended soon after the cancellation");
        assert!(
            first.contains(&foreign) && first.contains("waiting"),
            "{first}"
        );
        let d = diags.iter().next().expect("a diagnostic");
        assert_eq!(d.summary, "Stopped waiting for the Rocket.Chat import");
        assert!(d.detail.contains("keeps running"), "{d:?}");
        let stats = sb.stats();
        // the only operation is the foreign one: ours never started, nothing was aborted
        assert_eq!((stats.aborts, stats.operations), (0, 1), "{stats:?}");
    }
}
