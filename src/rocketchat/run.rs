//! Rocket.Chat as a backend of the engine (`crate::engine::backend::Backend`): observing is
//! `import.status`, paced so that the route's rate-limit budget lasts its window (an operation
//! that is `loading`, `ready` or `importing` blocks a start, because `import.new` would abort
//! it: the engine waits for it unless asked to abort it); starting is `import.new`,
//! `import.addUsers` in batches, `import.run`; `done`, `error`, `canceled` or an invalidated
//! operation end the wait. Also: Rocket.Chat's progress events and errors, the check of a user
//! list, and the outcome with its counts.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::api::{Counts, ImportStatus, RcClient, RcError};
use crate::engine::backend::{Backend, Identified, SendMark, Stage, Started, State, Step, Until};
use crate::engine::reconcile::{Plan, reconcile};
use tokio::time::Instant;

/// Where an observed operation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    InProgress,
    Succeeded,
    Failed,
    Cancelled,
}

/// Progress of one import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Another operation is running: waiting for it, not disturbing it.
    WaitingForRunning {
        operation_id: String,
        state: String,
    },
    /// Aborting the running operation, as the caller asked.
    AbortingRunning {
        operation_id: String,
        state: String,
    },
    /// A sub-step of starting ("Staged 500/1000 users.").
    Step(String),
    Started {
        operation_id: String,
    },
    /// The operation's status changed (state, status and counts in one line).
    Progress(String),
}

/// Why the run did not reach an outcome.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Backend(RcError),
    #[error("timed out after {}{}", humantime::format_duration(*after), operation_id.as_ref().map(|id| format!(" while operation {id} was {state}")).unwrap_or_default())]
    TimedOut {
        after: Duration,
        operation_id: Option<String>,
        state: String,
    },
    #[error("interrupted{}", operation_id.as_ref().map(|id| format!(" while operation {id} was {state}; it keeps running on the server")).unwrap_or_else(|| ": no import was started".to_owned()))]
    Cancelled {
        operation_id: Option<String>,
        state: String,
    },
}

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

/// One import, as the engine's backend.
struct RocketChat<'a> {
    client: &'a RcClient,
    spec: &'a ImportSpec,
    events: &'a mut (dyn FnMut(Event) + Send),
    /// The whole run's limit (for the timeout message).
    timeout: Duration,
    /// When the last status read ended (reads are spaced from it).
    last_read: Option<Instant>,
    /// The last progress line reported (each change once).
    last_line: Option<String>,
}

impl RocketChat<'_> {
    /// At least the poll interval, and spread so that the remaining budget of
    /// `import.status` lasts until its window resets.
    fn pause(&self) -> Duration {
        let mut wait = self.spec.poll_interval;
        if let Some(b) = self.client.status_budget() {
            let left = Duration::from_millis(b.reset_ms.saturating_sub(super::pace::now_ms()));
            let spread = left / (b.remaining.max(1) as u32);
            wait = wait.max(spread.min(Duration::from_secs(60)));
        }
        wait
    }

    /// The operation and its state in words, for the deadline and interruption messages.
    fn whereabouts(at: &Stage<ImportStatus>) -> (Option<String>, String) {
        match at {
            Stage::Observing => (None, String::new()),
            Stage::WaitingFor(op) => (
                Some(Self::op_id(op).to_owned()),
                format!("{} (not ours)", op.state),
            ),
            Stage::Starting => (None, "starting".to_owned()),
            Stage::Started { id, last } => (
                id.clone(),
                last.as_ref()
                    .map_or_else(|| "starting".to_owned(), |op| op.state.clone()),
            ),
        }
    }
}

impl Backend for RocketChat<'_> {
    type Op = ImportStatus;
    type Error = RunError;

    async fn observe(&mut self) -> Result<Option<ImportStatus>, RunError> {
        if let Some(last) = self.last_read {
            tokio::time::sleep_until(last + self.pause()).await;
        }
        let status = self.client.status().await;
        self.last_read = Some(Instant::now());
        let status = status.map_err(RunError::Backend)?;
        Ok(status.operation.is_some().then_some(status))
    }

    fn op_id(op: &ImportStatus) -> &str {
        op.operation.as_ref().map_or("", |o| o.id.as_str())
    }

    fn is_final(&self, op: &ImportStatus) -> bool {
        phase(op) != Phase::InProgress
    }

    fn blocks_start(&self, op: &ImportStatus) -> bool {
        running(op)
    }

    async fn start(
        &mut self,
        _previous: Option<&ImportStatus>,
        sending: &SendMark,
    ) -> Result<Started<ImportStatus>, RunError> {
        sending.mark();
        let op = self
            .client
            .new_operation()
            .await
            .map_err(RunError::Backend)?;
        (self.events)(Event::Step(format!("Created import operation {}.", op.id)));
        let total = self.spec.users.len();
        let mut added = 0;
        for batch in self.spec.users.chunks(self.spec.batch_size.max(1)) {
            self.client
                .add_users(batch)
                .await
                .map_err(RunError::Backend)?;
            added += batch.len();
            (self.events)(Event::Step(format!("Staged {added}/{total} users.")));
        }
        self.client.run().await.map_err(RunError::Backend)?;
        Ok(Started::Sent {
            id: Some(op.id),
            seen: None,
        })
    }

    /// `import.new` names the operation: any other one (or none) means it was replaced.
    fn identify(
        &self,
        op: Option<&ImportStatus>,
        ours: Option<&str>,
        _previous: Option<&str>,
    ) -> Identified {
        match op {
            Some(op) if Some(Self::op_id(op)) == ours => Identified::Ours,
            _ => Identified::Replaced,
        }
    }

    fn on_step(&mut self, step: Step<'_, ImportStatus>) {
        let event = match step {
            Step::WaitingFor(op) => Event::WaitingForRunning {
                operation_id: Self::op_id(op).to_owned(),
                state: op.state.clone(),
            },
            Step::Aborting(op) => Event::AbortingRunning {
                operation_id: Self::op_id(op).to_owned(),
                state: op.state.clone(),
            },
            Step::Started { id } => Event::Started {
                operation_id: id.unwrap_or_default().to_owned(),
            },
            Step::Following(op) => {
                let line = describe_status(op);
                if self.last_line.as_ref() == Some(&line) {
                    return;
                }
                self.last_line = Some(line.clone());
                Event::Progress(line)
            }
            // Nothing to say before the start; no operation serves a call without starting.
            Step::Observed(_) | Step::Joined(_) => return,
        };
        (self.events)(event);
    }

    fn timed_out(&self, at: &State<ImportStatus>, _cause: Option<RunError>) -> RunError {
        let (operation_id, state) = Self::whereabouts(&at.stage);
        RunError::TimedOut {
            after: self.timeout,
            operation_id,
            state,
        }
    }

    fn cancelled(&self, at: &State<ImportStatus>) -> RunError {
        let (operation_id, state) = Self::whereabouts(&at.stage);
        RunError::Cancelled {
            operation_id,
            state,
        }
    }
}

/// An observed operation's step and counts, one line.
fn describe_status(op: &ImportStatus) -> String {
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

/// Runs one import on the engine; `events` sees progress.
pub async fn import(
    client: &RcClient,
    spec: &ImportSpec,
    timeout: Duration,
    cancel: &CancellationToken,
    events: &mut (dyn FnMut(Event) + Send),
) -> Result<Outcome, RunError> {
    import_with(client, spec, timeout, cancel, true, events).await
}

/// [`import`]; with `wait` false it returns at the first status read after the start (state
/// `importing` or later).
pub async fn import_with(
    client: &RcClient,
    spec: &ImportSpec,
    timeout: Duration,
    cancel: &CancellationToken,
    wait: bool,
    events: &mut (dyn FnMut(Event) + Send),
) -> Result<Outcome, RunError> {
    let plan = Plan {
        abort_running: spec.abort_running,
        until: if wait { Until::Final } else { Until::Seen },
        deadline: Instant::now() + timeout,
    };
    let mut rc = RocketChat {
        client,
        spec,
        events,
        timeout,
        last_read: None,
        last_line: None,
    };
    let done = reconcile(&mut rc, plan, cancel).await?;
    let (state, status, count) = match &done.last {
        Some(st) if !done.replaced => {
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
        _ => (
            "invalidated".to_owned(),
            "replaced by another operation".to_owned(),
            Counts::default(),
        ),
    };
    Ok(Outcome {
        operation_id: done.id.unwrap_or_default(),
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
