//! Progress events of an import and `EventSink`, the cheap-to-clone place they go.
//!
//! `EventSink` wraps an optional `Arc<dyn Fn(Event) + Send + Sync>`: the engine calls it
//! synchronously, in order, from the task running the import, so the callback must be quick
//! and must not block (push to a channel, update a progress bar, write a line). For a channel,
//! use [`EventSink::channel`] or [`EventSink::from_sender`] (unbounded: the engine never waits
//! on a slow consumer).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use crate::woosmap::api::{DatasetId, Run, RunStatus};

/// What happened during an import. Every event names its dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The status read before anything else: the latest run so far (`None`: never imported).
    Observed {
        dataset_id: DatasetId,
        previous: Option<Run>,
    },
    /// An import is already running; the engine waits for it to end before triggering.
    /// Emitted once per running run.
    WaitingForRunning {
        dataset_id: DatasetId,
        run_id: String,
    },
    /// Woosmap accepted the trigger (or a new run proved an unclear trigger went through).
    Triggered {
        dataset_id: DatasetId,
        via_webhook: bool,
    },
    /// No trigger is sent: an import that started since this invocation began (another
    /// invocation's, on this machine or elsewhere) is followed as this one's result. `run_id`
    /// when its run is already visible.
    Joined {
        dataset_id: DatasetId,
        run_id: Option<String>,
    },
    /// The run started by the trigger showed up in the status.
    RunIdentified {
        dataset_id: DatasetId,
        run_id: String,
    },
    /// A step (`fetch`, `import`) of the run started.
    StepStarted {
        dataset_id: DatasetId,
        run_id: String,
        step: String,
        start: Option<String>,
    },
    /// A step ended.
    StepFinished {
        dataset_id: DatasetId,
        run_id: String,
        step: String,
        status: RunStatus,
        end: Option<String>,
    },
    /// A new log entry of a step (each entry once, however many polls show it).
    Entry {
        dataset_id: DatasetId,
        run_id: String,
        step: String,
        entry: crate::woosmap::api::Entry,
    },
    /// A call failed or was refused and will be tried again after `delay`.
    Retrying {
        dataset_id: DatasetId,
        reason: String,
        delay: Duration,
    },
    /// The run ended.
    Finished {
        dataset_id: DatasetId,
        run_id: String,
        status: RunStatus,
    },
}

impl Event {
    /// The dataset this event is about.
    pub fn dataset_id(&self) -> &DatasetId {
        match self {
            Event::Observed { dataset_id, .. }
            | Event::WaitingForRunning { dataset_id, .. }
            | Event::Triggered { dataset_id, .. }
            | Event::Joined { dataset_id, .. }
            | Event::RunIdentified { dataset_id, .. }
            | Event::StepStarted { dataset_id, .. }
            | Event::StepFinished { dataset_id, .. }
            | Event::Entry { dataset_id, .. }
            | Event::Retrying { dataset_id, .. }
            | Event::Finished { dataset_id, .. } => dataset_id,
        }
    }
}

/// One sentence per event, as every front end shows it (the dataset id is not included).
impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Observed { previous, .. } => match previous {
                Some(run) => write!(f, "latest run {} is {}", run.id, run.status),
                None => f.write_str("no import has run yet"),
            },
            Event::WaitingForRunning { run_id, .. } => write!(
                f,
                "an import is already running (run {run_id}); waiting for it to end first"
            ),
            Event::Triggered { via_webhook, .. } => f.write_str(if *via_webhook {
                "import triggered through the reimport webhook"
            } else {
                "import triggered"
            }),
            Event::Joined { run_id, .. } => match run_id {
                Some(run_id) => write!(
                    f,
                    "run {run_id} started since this invocation began: following it instead of \
                     triggering another import"
                ),
                None => f.write_str(
                    "another local process triggered this dataset since this invocation began: \
                     following its import instead of triggering another",
                ),
            },
            Event::RunIdentified { run_id, .. } => write!(f, "new run {run_id} started"),
            Event::StepStarted { step, .. } => write!(f, "step {step} started"),
            Event::StepFinished { step, status, .. } => write!(f, "step {step} {status}"),
            Event::Entry { step, entry, .. } => {
                write!(f, "[{step}] {}: {}", entry.level, entry.detail)
            }
            Event::Retrying { reason, delay, .. } => write!(
                f,
                "{reason}; retrying in {}",
                humantime::format_duration(Duration::from_millis(delay.as_millis() as u64))
            ),
            Event::Finished { run_id, status, .. } => write!(f, "run {run_id} ended: {status}"),
        }
    }
}

/// Where progress events go. Cheap to clone; [`EventSink::none`] (the default) drops them.
#[derive(Clone, Default)]
pub struct EventSink(Option<Arc<dyn Fn(Event) + Send + Sync>>);

impl EventSink {
    /// Discards every event.
    pub fn none() -> EventSink {
        EventSink(None)
    }

    /// Calls `f` for every event (synchronously; keep it quick).
    pub fn new(f: impl Fn(Event) + Send + Sync + 'static) -> EventSink {
        EventSink(Some(Arc::new(f)))
    }

    /// Sends every event into an unbounded channel; a closed receiver is ignored.
    pub fn from_sender(tx: UnboundedSender<Event>) -> EventSink {
        EventSink::new(move |e| {
            let _ = tx.send(e);
        })
    }

    /// A sink and the receiver of its events.
    pub fn channel() -> (EventSink, UnboundedReceiver<Event>) {
        let (tx, rx) = unbounded_channel();
        (EventSink::from_sender(tx), rx)
    }

    /// Delivers one event.
    pub fn emit(&self, event: Event) {
        tracing::trace!(?event, "event");
        if let Some(f) = &self.0 {
            f(event);
        }
    }
}

impl fmt::Debug for EventSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "EventSink(fn)"
        } else {
            "EventSink(none)"
        })
    }
}
