//! Reconcile and wait for one Rocket.Chat bulk user import: read `import.status` first; an
//! operation that is `loading`, `ready` or `importing` is waited on (never aborted, unless the
//! caller asked to abort it); then `import.new`, `import.addUsers` in batches, `import.run`,
//! and poll until `done`, `error`, `canceled` or the operation is invalidated. Polls are
//! spread over the route's rate-limit window; a deadline and a cancellation token bound the
//! whole run.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::api::{Counts, ImportStatus, RcClient, RcError};

/// Where a status string leaves an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    InProgress,
    Succeeded,
    Failed,
    Cancelled,
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

/// Progress, for the front end's display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Another operation is running: waiting for it (not aborting it).
    WaitingForRunning {
        operation_id: String,
        state: String,
    },
    /// Aborting another running operation, as asked.
    AbortingRunning {
        operation_id: String,
        state: String,
    },
    Created {
        operation_id: String,
    },
    UsersAdded {
        added: usize,
        total: usize,
    },
    Started,
    Status {
        state: String,
        status: String,
        count: Counts,
    },
}

/// How the import ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub operation_id: String,
    /// `done`, `error`, `canceled`, or `invalidated` (another client replaced it).
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
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Api(#[from] RcError),
    #[error("timed out after {after:?}{}", operation_id.as_ref().map(|id| format!(" while operation {id} was {state}")).unwrap_or_default())]
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

/// Where the run is, for the timeout and interruption messages.
#[derive(Default)]
struct Where {
    operation_id: Option<String>,
    state: String,
}

/// Runs one import; `events` sees progress. `timeout` bounds everything.
pub async fn import(
    client: &RcClient,
    spec: &ImportSpec,
    timeout: Duration,
    cancel: &CancellationToken,
    events: &mut (dyn FnMut(Event) + Send),
) -> Result<Outcome, RunError> {
    let mut at = Where::default();
    let work = reconcile_and_wait(client, spec, &mut at, events);
    let result = tokio::select! {
        r = tokio::time::timeout(timeout, work) => r.map_err(|_| None),
        () = cancel.cancelled() => Err(Some(())),
    };
    match result {
        Ok(r) => r,
        Err(None) => Err(RunError::TimedOut {
            after: timeout,
            operation_id: at.operation_id,
            state: at.state,
        }),
        Err(Some(())) => Err(RunError::Cancelled {
            operation_id: at.operation_id,
            state: at.state,
        }),
    }
}

/// Sleeps before the next status read: at least `poll_interval`, and spread so that the
/// remaining budget of `import.status` lasts until its window resets.
async fn pause(client: &RcClient, spec: &ImportSpec) {
    let mut wait = spec.poll_interval;
    if let Some(b) = client.status_budget() {
        let left = Duration::from_millis(b.reset_ms.saturating_sub(super::pace::now_ms()));
        // Keep one call in hand for the next run's first read.
        let spread = left / (b.remaining.max(1) as u32);
        wait = wait.max(spread.min(Duration::from_secs(60)));
    }
    tokio::time::sleep(wait).await;
}

async fn reconcile_and_wait(
    client: &RcClient,
    spec: &ImportSpec,
    at: &mut Where,
    events: &mut (dyn FnMut(Event) + Send),
) -> Result<Outcome, RunError> {
    let mut status = client.status().await?;
    let mut waited_for = None;
    let mut aborted = None;
    while running(&status) {
        let id = status
            .operation
            .as_ref()
            .map(|o| o.id.clone())
            .unwrap_or_default();
        if spec.abort_running {
            events(Event::AbortingRunning {
                operation_id: id.clone(),
                state: status.state.clone(),
            });
            aborted = Some(id);
            break;
        }
        if waited_for.as_deref() != Some(id.as_str()) {
            events(Event::WaitingForRunning {
                operation_id: id.clone(),
                state: status.state.clone(),
            });
            waited_for = Some(id.clone());
        }
        at.operation_id = Some(id);
        at.state = format!("{} (someone else's operation)", status.state);
        pause(client, spec).await;
        status = client.status().await?;
    }
    let op = client.new_operation().await?;
    let id = op.id.clone();
    at.operation_id = Some(id.clone());
    at.state = "new".into();
    events(Event::Created {
        operation_id: id.clone(),
    });
    let total = spec.users.len();
    let mut added = 0;
    for batch in spec.users.chunks(spec.batch_size.max(1)) {
        client.add_users(batch).await?;
        added += batch.len();
        events(Event::UsersAdded { added, total });
    }
    at.state = "ready".into();
    client.run().await?;
    events(Event::Started);
    at.state = "importing".into();
    let mut last = None;
    loop {
        pause(client, spec).await;
        let status = client.status().await?;
        let op = status.operation.clone();
        let mine = op.as_ref().is_some_and(|o| o.id == id);
        if !mine {
            // Another client's import.new replaced ours: it was aborted.
            return Ok(Outcome {
                operation_id: id,
                state: "invalidated".into(),
                status: "replaced by another operation".into(),
                count: Counts::default(),
                aborted_operation_id: aborted,
                waited_for_operation_id: waited_for,
                user_errors_allowed: spec.allow_user_errors,
            });
        }
        let op = op.expect("mine implies an operation");
        let seen = (status.state.clone(), op.status.clone(), op.count);
        if last.as_ref() != Some(&seen) {
            events(Event::Status {
                state: seen.0.clone(),
                status: seen.1.clone(),
                count: seen.2,
            });
            last = Some(seen);
        }
        at.state = status.state.clone();
        let phase = phase(&status);
        if phase != Phase::InProgress {
            let state = if !op.valid && status.state != "done" {
                "invalidated".to_owned()
            } else {
                status.state.clone()
            };
            return Ok(Outcome {
                operation_id: id,
                state,
                status: op.status,
                count: op.count,
                aborted_operation_id: aborted,
                waited_for_operation_id: waited_for,
                user_errors_allowed: spec.allow_user_errors,
            });
        }
    }
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
