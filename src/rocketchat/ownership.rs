//! Whose an import operation is, and what this invocation may do to it.
//!
//! The rule (README, "Rocket.Chat ownership"): an operation in `new`, `ready`, `loading` or
//! `importing` that this invocation did not create is someone's work — `import.new` would
//! abort it — so it is waited for, and aborted only when the caller asked
//! (`abort_running`). An operation this invocation created and could not run (a cancel, a
//! timeout or an error while staging) is a leftover: it is cleared with `import.clear` only
//! while it is still the current operation, with the same id and the same user, unless the
//! caller asked to keep it.

use std::time::Duration;

use serde::Serialize;

use super::api::{ImportStatus, RcClient};

/// The states in which an operation is still someone's work in progress.
pub const IN_PROGRESS: [&str; 4] = ["new", "loading", "ready", "importing"];

/// True when `status` shows a valid operation in progress (`new`, `loading`, `ready`,
/// `importing`): starting now (`import.new`) would abort it.
pub fn in_progress(status: &ImportStatus) -> bool {
    IN_PROGRESS.contains(&status.state.as_str())
        && status.operation.as_ref().is_some_and(|o| o.valid)
}

/// An operation of someone else (or of this user, from another invocation), as reports name
/// it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Foreign {
    pub id: String,
    pub state: String,
    /// `operation.user`: who created it (`None` when the server does not say).
    pub user: Option<String>,
    /// Created with the same user id as this invocation: a leftover of an earlier run, or a
    /// run elsewhere with the same credentials.
    pub same_user: bool,
}

impl Foreign {
    /// `status`'s operation, seen by `me` (this invocation's user id).
    pub fn of(status: &ImportStatus, me: &str) -> Foreign {
        let op = status.operation.as_ref();
        let user = op.and_then(|o| o.user.clone());
        Foreign {
            id: op.map(|o| o.id.clone()).unwrap_or_default(),
            state: status.state.clone(),
            same_user: user.as_deref() == Some(me),
            user,
        }
    }

    /// "operation X (ready, created by user U)", with a word on a same-user operation.
    pub fn describe(&self) -> String {
        let who = match (&self.user, self.same_user) {
            (Some(u), true) => format!(
                "created by {u}, the same user as this run: a leftover of an earlier run, or a run elsewhere with the same credentials"
            ),
            (Some(u), false) => format!("created by user {u}"),
            (None, _) => "creator unknown".to_owned(),
        };
        format!("operation {} ({}, {who})", self.id, self.state)
    }
}

/// What became of an operation this invocation created but did not run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "action", content = "detail")]
pub enum Cleanup {
    /// `import.clear`ed: nothing of ours is left staged.
    Cleared,
    /// Kept, as the caller asked.
    Kept,
    /// No longer the current operation (replaced, or ended): left alone.
    NotCurrent(String),
    /// Could not be cleared (the reason); it stays on the server.
    Failed(String),
}

/// An operation this invocation created and left before `import.run` went through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Leftover {
    pub operation_id: String,
    /// `new` (nothing staged yet) or `ready` (some users staged).
    pub state: String,
    pub cleanup: Cleanup,
}

impl std::fmt::Display for Leftover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "operation {} was created and left in state {}: ",
            self.operation_id, self.state
        )?;
        match &self.cleanup {
            Cleanup::Cleared => write!(f, "cleared it (import.clear); nothing of ours is left"),
            Cleanup::Kept => write!(
                f,
                "kept, as asked; it blocks other imports until it is run, cleared or replaced"
            ),
            Cleanup::NotCurrent(now) => {
                write!(
                    f,
                    "it is no longer the current operation ({now}): left alone"
                )
            }
            Cleanup::Failed(why) => write!(
                f,
                "could not clear it ({why}); it blocks other imports until cleared or replaced (--abort-running)"
            ),
        }
    }
}

/// How long clearing a leftover may take (it runs after a cancel or a deadline too).
const CLEAR_LIMIT: Duration = Duration::from_secs(20);

/// Clears the operation `id` this invocation created, staged up to `state`, when it is still
/// the current operation, with this user, valid and not run; unless `keep`.
pub async fn clear_leftover(client: &RcClient, id: &str, state: &str, keep: bool) -> Leftover {
    let cleanup = if keep {
        Cleanup::Kept
    } else {
        match tokio::time::timeout(CLEAR_LIMIT, clear_if_ours(client, id)).await {
            Ok(c) => c,
            Err(_) => Cleanup::Failed(format!("no answer within {}s", CLEAR_LIMIT.as_secs())),
        }
    };
    Leftover {
        operation_id: id.to_owned(),
        state: state.to_owned(),
        cleanup,
    }
}

/// After `import.new` was sent and its answer lost: the current operation when it may be the
/// one that request created (valid, `new`, created by this user, not `before`, the one read
/// right before sending). Only named, never cleared: another run with the same credentials
/// may have created it.
pub async fn probable_own_new(client: &RcClient, before: Option<&str>) -> Option<Foreign> {
    let status = tokio::time::timeout(CLEAR_LIMIT, client.status())
        .await
        .ok()?
        .ok()?;
    let op = status.operation.as_ref()?;
    let mine = op.user.as_deref().is_none_or(|u| u == client.user_id());
    (op.valid && status.state == "new" && mine && Some(op.id.as_str()) != before)
        .then(|| Foreign::of(&status, client.user_id()))
}

async fn clear_if_ours(client: &RcClient, id: &str) -> Cleanup {
    let status = match client.status().await {
        Ok(s) => s,
        Err(e) => return Cleanup::Failed(format!("its status could not be read: {e}")),
    };
    let Some(op) = status.operation.as_ref() else {
        return Cleanup::NotCurrent("no operation".to_owned());
    };
    let ours = op.id == id && op.user.as_deref().is_none_or(|u| u == client.user_id());
    if !ours {
        return Cleanup::NotCurrent(format!("the current one is {}", op.id));
    }
    if !op.valid || !matches!(status.state.as_str(), "new" | "ready") {
        return Cleanup::NotCurrent(format!("it is {} now", status.state));
    }
    match client.clear().await {
        Ok(()) => Cleanup::Cleared,
        Err(e) => Cleanup::Failed(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn st(state: &str, valid: bool, user: &str) -> ImportStatus {
        serde_json::from_value(json!({"state": state, "operation": {"_id": "x", "status": "s", "valid": valid, "user": user}}))
            .unwrap()
    }

    #[test]
    fn every_unfinished_state_is_someones_work() {
        for s in IN_PROGRESS {
            assert!(in_progress(&st(s, true, "u")), "{s}");
            assert!(!in_progress(&st(s, false, "u")), "{s} invalidated");
        }
        for s in ["done", "error", "canceled", "none"] {
            assert!(!in_progress(&st(s, true, "u")), "{s}");
        }
    }

    #[test]
    fn a_same_user_operation_is_named_as_such() {
        let f = Foreign::of(&st("new", true, "me"), "me");
        assert!(f.same_user);
        assert!(
            f.describe().contains("the same user as this run"),
            "{}",
            f.describe()
        );
        let f = Foreign::of(&st("ready", true, "other"), "me");
        assert_eq!(f.describe(), "operation x (ready, created by user other)");
    }
}
