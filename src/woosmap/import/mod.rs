//! Woosmap's dataset import as a backend of the shared engine (`crate::engine`): observe the
//! dataset's latest run → wait for a running one → trigger → identify the new run → follow it
//! to its end. [`run_import`] → [`Outcome`], progress [`Event`]s through an [`EventSink`],
//! many datasets at once with [`run_many`].
//!
//! Knows nothing of Terraform, GitHub or terminals. All pacing and HTTP retries live in
//! `crate::woosmap::api`; the backend adds the one retry the API layer cannot decide alone:
//! after a trigger whose outcome is unknown, it looks for a new run before triggering again.
//!
//! - `backend`: the Woosmap backend of the engine (`run_import`).
//! - `events`: Woosmap's `Event`, `EventSink`.
//! - `adopt`: adopting the import a dataset's creation may start by itself.
//! - `progress`: turning status snapshots into step/entry events, each once.

mod adopt;
mod backend;
mod events;
mod progress;

use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::secret::Secret;
use crate::woosmap::api::{ApiError, Client, DatasetId, Instant, Run, RunStatus};

pub use adopt::{CREATION_GRACE_READS, CreationImport, adopt_creation_import};
pub use backend::{CONFIRM_MIN, run_import};
pub use events::{Event, EventSink};

/// Default spacing of status reads while waiting.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(5);
/// Default limit on the whole `run_import`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Shortest accepted poll interval (shorter values are paced to the API's limit anyway).
pub const MIN_POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Longest accepted poll interval.
pub const MAX_POLL_INTERVAL: Duration = Duration::from_secs(3600);
/// Longest accepted timeout: past this a typo ("300h") is more likely than intent.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);
/// How long [`latest_run`] may take (pacing included).
pub const LATEST_RUN_BUDGET: Duration = Duration::from_secs(60);

/// How to start the import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TriggerVia {
    /// `POST /datasets/{id}/import` with the client's private key.
    Api,
    /// `POST /datasets/hooks/reimport/{key}` with the dataset's reimport key.
    Webhook(Secret),
}

/// One import to run.
#[derive(Debug, Clone)]
pub struct ImportSpec {
    pub dataset_id: DatasetId,
    pub via: TriggerVia,
    /// Wait for the new run to end (`false`: return once triggered).
    pub wait: bool,
    /// Spacing of status reads (never below the API's status limit).
    pub poll_interval: Duration,
    /// Limit on the whole `run_import`, counted from its start.
    pub timeout: Duration,
}

impl ImportSpec {
    /// An API-triggered, waited-for import with the default poll interval (5 s) and timeout
    /// (30 min).
    pub fn new(dataset_id: DatasetId) -> ImportSpec {
        ImportSpec {
            dataset_id,
            via: TriggerVia::Api,
            wait: true,
            poll_interval: DEFAULT_POLL_INTERVAL,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// How an import ended. A failed import is an `Outcome` whose run status is `Failed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub dataset_id: DatasetId,
    /// The latest run before the trigger (`None`: never imported, or not readable without a
    /// private key).
    pub previous_run_id: Option<String>,
    /// The new run, terminal. `None` only when the spec did not ask to wait.
    pub run: Option<Run>,
    /// Whether this call started an import (always true for a returned `Outcome` today).
    pub triggered: bool,
}

impl Outcome {
    /// The new run's status, if waited for.
    pub fn status(&self) -> Option<RunStatus> {
        self.run.as_ref().map(|r| r.status)
    }

    /// True when the new run succeeded, or when it was triggered without waiting.
    pub fn succeeded(&self) -> bool {
        match &self.run {
            Some(r) => r.status == RunStatus::Success,
            None => self.triggered,
        }
    }
}

/// Why `run_import` gave no outcome.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    /// A call to Woosmap failed for good (credentials, unknown dataset, persistent faults…).
    #[error(transparent)]
    Api(#[from] ApiError),

    /// The timeout passed before the import ended. `run` is the last snapshot of the new run,
    /// if it had shown up; `waited` is the timeout that ran out (`spec.timeout`). The engine
    /// returns as soon as no further status read fits before the deadline, so this can come a
    /// little (at most one poll interval) before the full timeout.
    #[error(
        "The import did not finish within {}{}. Allow a longer timeout (timeouts / --timeout / \
         timeout), or follow the import in the Woosmap console.",
        crate::woosmap::api::error::fmt_duration(*waited), describe_run(run)
    )]
    TimedOut {
        run: Option<Run>,
        waited: Duration,
        /// The run that was latest before this invocation triggered (or joined), when known.
        previous_run_id: Option<String>,
    },

    /// The timeout passed before a trigger could be sent: nothing was triggered. `reason`
    /// says what held the trigger back; `next_slot_in`, when known, how long after the
    /// failure the next trigger could be sent.
    #[error(
        "Nothing was triggered for dataset {dataset_id}: the timeout of {} passed while {reason}.{}",
        crate::woosmap::api::error::fmt_duration(*waited),
        next_slot_text(next_slot_in)
    )]
    NotTriggered {
        dataset_id: DatasetId,
        reason: NotTriggeredReason,
        next_slot_in: Option<Duration>,
        waited: Duration,
    },

    /// The caller cancelled the wait. An import that was triggered keeps running on Woosmap.
    #[error("Cancelled while waiting for the import{}.", describe_run(run))]
    Cancelled {
        run: Option<Run>,
        /// As for `TimedOut`.
        previous_run_id: Option<String>,
    },
}

impl EngineError {
    /// The last snapshot of the new run, if any.
    pub fn run(&self) -> Option<&Run> {
        match self {
            EngineError::Api(_) | EngineError::NotTriggered { .. } => None,
            EngineError::TimedOut { run, .. } | EngineError::Cancelled { run, .. } => run.as_ref(),
        }
    }

    /// The run that was latest before this invocation triggered, when it is known.
    pub fn previous_run_id(&self) -> Option<&str> {
        match self {
            EngineError::Api(_) | EngineError::NotTriggered { .. } => None,
            EngineError::TimedOut {
                previous_run_id, ..
            }
            | EngineError::Cancelled {
                previous_run_id, ..
            } => previous_run_id.as_deref(),
        }
    }
}

/// What kept a trigger from being sent before the deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotTriggeredReason {
    /// The trigger rate limit of the dataset (one per window) had not reopened since the last
    /// trigger.
    TriggerWindow,
    /// Another import was still running; a new one is never triggered over it.
    RunningImport { run_id: String },
    /// Woosmap refused the trigger (HTTP 429): another client had just triggered the dataset.
    RateLimited,
    /// The status, needed before triggering, could not be read in time.
    StatusNotRead,
}

impl std::fmt::Display for NotTriggeredReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotTriggeredReason::TriggerWindow => f.write_str(
                "waiting for the dataset's trigger rate limit (one trigger per window) to reopen \
                 after the previous trigger",
            ),
            NotTriggeredReason::RunningImport { run_id } => write!(
                f,
                "waiting for import run {run_id}, still running, to end (a new import is never \
                 triggered over a running one)"
            ),
            NotTriggeredReason::RateLimited => f.write_str(
                "waiting out a rate limit answer (HTTP 429): another client had just triggered \
                 this dataset",
            ),
            NotTriggeredReason::StatusNotRead => {
                f.write_str("waiting to read the dataset's status, needed before triggering")
            }
        }
    }
}

fn next_slot_text(next: &Option<Duration>) -> String {
    match next {
        Some(d) => format!(
            " The next trigger slot opens in {}; allow a longer timeout or run again then.",
            crate::woosmap::api::error::fmt_duration(*d)
        ),
        None => " Allow a longer timeout.".to_owned(),
    }
}

fn describe_run(run: &Option<Run>) -> String {
    match run {
        Some(r) => format!(" (run {} was {})", r.id, r.status),
        None => " (no new run had shown up yet)".to_owned(),
    }
}

/// The latest run of a dataset (`None`: never imported, or unknown dataset). Paced like every
/// status read; gives up after [`LATEST_RUN_BUDGET`].
pub async fn latest_run(client: &Client, id: &DatasetId) -> Result<Option<Run>, ApiError> {
    client
        .status(id, Duration::ZERO, Instant::now() + LATEST_RUN_BUDGET)
        .await
}

/// Runs every spec concurrently on the current runtime and returns one result per dataset, in
/// the order of `specs`. A dataset listed twice runs once (the first spec wins): two imports
/// of one dataset at once would race each other. Events of all datasets go to `events`;
/// cancelling `cancel` ends them all.
pub async fn run_many(
    client: &Client,
    specs: Vec<ImportSpec>,
    events: EventSink,
    cancel: CancellationToken,
) -> Vec<(DatasetId, Result<Outcome, EngineError>)> {
    let mut set = JoinSet::new();
    let mut seen = std::collections::HashSet::new();
    let mut count = 0;
    for spec in specs {
        if !seen.insert(spec.dataset_id.clone()) {
            tracing::debug!(dataset_id = %spec.dataset_id, "dataset listed twice: running it once");
            continue;
        }
        let (client, events, cancel) = (client.clone(), events.clone(), cancel.clone());
        let index = count;
        count += 1;
        set.spawn(async move {
            let id = spec.dataset_id.clone();
            let result = run_import(&client, spec, events, cancel).await;
            (index, id, result)
        });
    }
    let mut results = Vec::with_capacity(count);
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(r) => results.push(r),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => unreachable!("run_many tasks are never aborted: {e}"),
        }
    }
    results.sort_by_key(|(i, _, _)| *i);
    results.into_iter().map(|(_, id, r)| (id, r)).collect()
}

#[cfg(test)]
mod tests;
