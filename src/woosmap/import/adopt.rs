//! `adopt_creation_import`: for an import that follows the creation of its dataset in the same
//! run (a `woosmap_dataset_import` chained on a `woosmap_dataset` being created).
//!
//! Woosmap's reference does not say whether `POST /datasets/` starts the first import by
//! itself. If it does, triggering right away would import the same file twice (and the status
//! may answer 404 for a moment before that first run shows). So before triggering, the engine
//! reads the status for a short grace period: a run that shows up is the creation's import,
//! which is followed to its end and adopted instead of triggering another; if none shows up,
//! the caller triggers as usual (`run_import`).

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::events::{Event, EventSink};
use super::{EngineError, ImportSpec};
use crate::woosmap::api::{ApiError, Client, Instant, Run, RunStatus};

/// How many status windows the grace period lasts: the first run of a new dataset can take a
/// few seconds to show in the status.
pub const CREATION_GRACE_READS: u32 = 3;

/// What [`adopt_creation_import`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreationImport {
    /// A run showed up by itself; terminal when `spec.wait` (else as last seen).
    Found(Run),
    /// No run within `grace`: nothing started by itself.
    None { grace: Duration },
}

/// Looks for an import the dataset's creation started (see the module doc). The grace period
/// is [`CREATION_GRACE_READS`] status windows (at least the poll interval each), bounded by
/// `spec.timeout`.
pub async fn adopt_creation_import(
    client: &Client,
    spec: &ImportSpec,
    events: EventSink,
    cancel: CancellationToken,
) -> Result<CreationImport, EngineError> {
    let start = Instant::now();
    let deadline = start
        .checked_add(spec.timeout)
        .unwrap_or_else(|| start + Duration::from_secs(24 * 3600));
    let window = spec.poll_interval.max(client.limits().status);
    let grace = window * CREATION_GRACE_READS;
    let id = &spec.dataset_id;
    let read = || async {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => Err(EngineError::Cancelled { run: None, previous_run_id: None }),
            r = client.status(id, spec.poll_interval, deadline) => r.map_err(|e| match e {
                ApiError::DeadlineExceeded { .. } => EngineError::TimedOut { run: None, waited: spec.timeout, previous_run_id: None },
                e => EngineError::Api(e),
            }),
        }
    };
    let mut found = loop {
        match read().await? {
            Some(run) => break run,
            None if start.elapsed() >= grace => {
                events.emit(Event::Observed {
                    dataset_id: id.clone(),
                    previous: None,
                });
                return Ok(CreationImport::None { grace });
            }
            None => {}
        }
    };
    events.emit(Event::Observed {
        dataset_id: id.clone(),
        previous: Some(found.clone()),
    });
    if found.status == RunStatus::InProgress {
        events.emit(Event::WaitingForRunning {
            dataset_id: id.clone(),
            run_id: found.id.clone(),
        });
    }
    while spec.wait && found.status == RunStatus::InProgress {
        let next = read().await.map_err(|e| match e {
            EngineError::Cancelled { .. } => EngineError::Cancelled {
                run: Some(found.clone()),
                previous_run_id: None,
            },
            EngineError::TimedOut { waited, .. } => EngineError::TimedOut {
                run: Some(found.clone()),
                waited,
                previous_run_id: None,
            },
            e => e,
        })?;
        if let Some(run) = next {
            found = run;
        }
    }
    if found.status != RunStatus::InProgress {
        events.emit(Event::Finished {
            dataset_id: id.clone(),
            run_id: found.id.clone(),
            status: found.status,
        });
    }
    Ok(CreationImport::Found(found))
}
