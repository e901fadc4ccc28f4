//! Rocket.Chat as an engine backend ([`crate::backend::Backend`]): observing is `import.status`
//! (an operation that is `loading`, `ready` or `importing` blocks a start, because
//! `import.new` would abort it: the engine waits for it unless asked to abort it); starting is
//! `import.new`, `import.addUsers` in batches, `import.run`; `done`, `error`, `canceled` or an
//! invalidated operation end the wait. Status reads are spread over the route's rate-limit
//! window. Also: the check of a user list, and the outcome with its counts.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::api::{Counts, ImportStatus, RcClient, RcError};
use crate::backend::{Backend, WaitError};
pub use crate::backend::{Event, Phase};

/// The documented mapping of `state` (and validity) to a phase.
pub fn phase(status: &ImportStatus) -> Phase {
    let valid = status.operation.as_ref().is_none_or(|o| o.valid);
    match status.state.as_str() {
        "done" => Phase::Succeeded,
        "canceled" => Phase::Cancelled,
        "error" => Phase::Failed,
        _ if !valid => Phase::Failed,
        _ => Phase::InProgress,
    }
}

/// True when another operation is running and `import.new` would abort it.
pub fn running(status: &ImportStatus) -> bool {
    matches!(status.state.as_str(), "loading" | "ready" | "importing")
        && status.operation.as_ref().is_none_or(|o| o.valid)
}

/// What to import and how.
#[derive(Debug, Clone)]
pub struct ImportSpec {
    pub users: Vec<Value>,
    pub batch_size: usize,
    pub abort_running: bool,
    pub allow_user_errors: bool,
    /// Shortest time between two status reads.
    pub poll_interval: Duration,
}

/// How the import ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub operation_id: String,
    /// `done`, `error`, `canceled`, or `invalidated` (aborted by another `import.new` or
    /// `import.clear`).
    pub state: String,
    pub status: String,
    pub count: Counts,
    /// The running operation this run aborted (with `abort_running`).
    pub aborted_operation_id: Option<String>,
    /// The running operation this run waited for before starting.
    pub waited_for_operation_id: Option<String>,
    /// `count.error > 0` was allowed.
    pub user_errors_allowed: bool,
}

impl Outcome {
    /// Success: `done`, and no user failed unless allowed.
    pub fn succeeded(&self) -> bool {
        self.state == "done" && (self.count.error == 0 || self.user_errors_allowed)
    }
}

/// Why the run did not reach an outcome.
pub type RunError = WaitError<RcError>;

/// Rocket.Chat as an engine backend.
struct RocketChat<'a> {
    client: &'a RcClient,
    poll_interval: Duration,
}

impl Backend for RocketChat<'_> {
    type Op = ImportStatus;
    type Spec = ImportSpec;
    type Error = RcError;

    async fn observe(&self) -> Result<Option<ImportStatus>, RcError> {
        let status = self.client.status().await?;
        Ok(status.operation.is_some().then_some(status))
    }

    async fn start(
        &self,
        spec: &ImportSpec,
        step: &mut (dyn FnMut(String) + Send),
    ) -> Result<String, RcError> {
        let op = self.client.new_operation().await?;
        step(format!("Created import operation {}.", op.id));
        let total = spec.users.len();
        let mut added = 0;
        for batch in spec.users.chunks(spec.batch_size.max(1)) {
            self.client.add_users(batch).await?;
            added += batch.len();
            step(format!("Staged {added}/{total} users."));
        }
        self.client.run().await?;
        Ok(op.id)
    }

    fn id(op: &ImportStatus) -> String {
        op.operation
            .as_ref()
            .map(|o| o.id.clone())
            .unwrap_or_default()
    }

    fn phase(op: &ImportStatus) -> Phase {
        phase(op)
    }

    fn state(op: &ImportStatus) -> String {
        op.state.clone()
    }

    fn blocks_start(op: &ImportStatus) -> bool {
        running(op)
    }

    fn describe(op: &ImportStatus) -> String {
        let (status, c) = op
            .operation
            .as_ref()
            .map(|o| (o.status.as_str(), o.count))
            .unwrap_or(("none", Counts::default()));
        format!(
            "{} ({status}): {} of {} users done, {} failed",
            op.state, c.completed, c.total, c.error
        )
    }

    /// At least the poll interval, and spread so that the remaining budget of
    /// `import.status` lasts until its window resets.
    fn pause(&self) -> Duration {
        let mut wait = self.poll_interval;
        if let Some(b) = self.client.status_budget() {
            let left = Duration::from_millis(b.reset_ms.saturating_sub(super::pace::now_ms()));
            let spread = left / (b.remaining.max(1) as u32);
            wait = wait.max(spread.min(Duration::from_secs(60)));
        }
        wait
    }
}

/// Runs one import on the engine loop (`crate::backend`); `events` sees progress.
pub async fn import(
    client: &RcClient,
    spec: &ImportSpec,
    timeout: Duration,
    cancel: &CancellationToken,
    events: &mut (dyn FnMut(Event) + Send),
) -> Result<Outcome, RunError> {
    import_with(client, spec, timeout, cancel, true, events).await
}

/// [`import`]; with `wait` false it returns once the import has started (state `importing`
/// or later).
pub async fn import_with(
    client: &RcClient,
    spec: &ImportSpec,
    timeout: Duration,
    cancel: &CancellationToken,
    wait: bool,
    events: &mut (dyn FnMut(Event) + Send),
) -> Result<Outcome, RunError> {
    let rc = RocketChat {
        client,
        poll_interval: spec.poll_interval,
    };
    let done =
        crate::backend::import_opts(&rc, spec, spec.abort_running, wait, timeout, cancel, events)
            .await?;
    let (state, status, count) = match &done.last {
        Some(st) => {
            let op = st.operation.as_ref();
            let valid = op.is_none_or(|o| o.valid);
            let state = if !valid && st.state != "done" {
                "invalidated".to_owned()
            } else {
                st.state.clone()
            };
            (
                state,
                op.map(|o| o.status.clone()).unwrap_or_default(),
                op.map(|o| o.count).unwrap_or_default(),
            )
        }
        None => (
            "invalidated".to_owned(),
            "replaced by another operation".to_owned(),
            Counts::default(),
        ),
    };
    Ok(Outcome {
        operation_id: done.operation_id,
        state,
        status,
        count,
        aborted_operation_id: done.aborted,
        waited_for_operation_id: done.waited_for,
        user_errors_allowed: spec.allow_user_errors,
    })
}

/// The outcome as one or two sentences.
pub fn describe(outcome: &Outcome) -> String {
    describe_with(outcome, "--abort-running", "--allow-user-errors")
}

/// [`describe`] naming the settings as a front end calls them (`abort_running = true`, ...).
pub fn describe_with(outcome: &Outcome, abort_running: &str, allow_user_errors: &str) -> String {
    let c = outcome.count;
    let mut s = format!(
        "Operation {}: {} ({}); users total {}, completed {}, error {}.",
        outcome.operation_id, outcome.state, outcome.status, c.total, c.completed, c.error
    );
    if let Some(id) = &outcome.aborted_operation_id {
        s.push_str(&format!(
            " The running operation {id} was aborted first ({abort_running})."
        ));
    }
    if let Some(id) = &outcome.waited_for_operation_id {
        s.push_str(&format!(
            " Waited for the running operation {id} to end first (not aborted)."
        ));
    }
    if outcome.state == "done" && c.error > 0 {
        if outcome.user_errors_allowed {
            s.push_str(&format!(
                " {} user(s) failed and stay in the staging area (allowed by {allow_user_errors}).",
                c.error
            ));
        } else {
            s.push_str(&format!(
                " {} user(s) failed to import (they stay in the staging area): failing; set {allow_user_errors} to accept this.",
                c.error
            ));
        }
    }
    if outcome.state == "invalidated" {
        s.push_str(" Another import.new or import.clear aborted this operation.");
    }
    s
}

/// Checks a user list: a JSON array of objects with `emails` and `importIds` (non-empty
/// arrays of strings); an error names the user and the field.
pub fn check_users(value: &Value) -> Result<Vec<Value>, String> {
    let users = value.as_array().ok_or(
        "the users file must hold a JSON array of user objects, e.g. [{\"emails\": [\"ann@example.com\"], \"importIds\": [\"ann\"], \"username\": \"ann\"}]",
    )?;
    if users.is_empty() {
        return Err("the users array is empty: give at least one user".into());
    }
    for (i, u) in users.iter().enumerate() {
        let Some(obj) = u.as_object() else {
            return Err(format!("user #{} (index {i}) is not a JSON object", i + 1));
        };
        for field in ["emails", "importIds"] {
            let ok = obj
                .get(field)
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_string));
            if !ok {
                return Err(format!(
                    "user #{} (index {i}): `{field}` is required: a non-empty array of strings, e.g. {}",
                    i + 1,
                    if field == "emails" {
                        "[\"ann@example.com\"]"
                    } else {
                        "[\"ldap-42\"]"
                    }
                ));
            }
        }
    }
    Ok(users.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn st(state: &str, valid: bool) -> ImportStatus {
        serde_json::from_value(
            json!({"state": state, "operation": {"_id": "x", "status": "s", "valid": valid}}),
        )
        .unwrap()
    }

    #[test]
    fn states_map_to_phases_as_documented() {
        assert_eq!(phase(&st("done", true)), Phase::Succeeded);
        assert_eq!(phase(&st("error", false)), Phase::Failed);
        assert_eq!(phase(&st("canceled", true)), Phase::Cancelled);
        assert_eq!(phase(&st("importing", true)), Phase::InProgress);
        assert_eq!(phase(&st("importing", false)), Phase::Failed);
        for s in ["loading", "ready", "importing"] {
            assert!(running(&st(s, true)), "{s}");
        }
        for s in ["new", "done", "error", "canceled", "none"] {
            assert!(!running(&st(s, true)), "{s}");
        }
    }

    #[test]
    fn a_user_list_names_the_missing_field() {
        let err =
            check_users(&json!([{"emails": ["a@b.c"], "importIds": ["a"]}, {"emails": ["b@c.d"]}]))
                .unwrap_err();
        assert!(
            err.contains("user #2") && err.contains("importIds"),
            "{err}"
        );
        assert!(check_users(&json!({"users": []})).is_err());
        assert_eq!(
            check_users(&json!([{"emails": ["a@b.c"], "importIds": ["a"]}]))
                .unwrap()
                .len(),
            1
        );
    }
}
