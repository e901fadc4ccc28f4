//! The engine's backend trait and the backend-neutral reconcile-and-wait loop that serves it.
//!
//! What differs per service is one [`Backend`]: observe the current operation, start one (and
//! stage its data), map an observed operation to a [`Phase`], say whether a running operation
//! would be disturbed by starting another, pace status reads, and describe an operation's step
//! and counts. What stays here, written once: reconcile (wait for a running operation, or
//! abort it only when asked), start, poll until a final phase or until the operation is
//! replaced, the deadline, cancellation, progress events and the outcome.
//!
//! Rocket.Chat's import runs on it (`rocketchat::run`). Woosmap's engine (`crate::engine`)
//! does not yet: it keeps its own loop (trigger identification, the shared pacer, webhook
//! triggers); moving it onto this trait is the next step once the engine work in flight lands.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// Where an observed operation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    InProgress,
    Succeeded,
    Failed,
    Cancelled,
}

/// One service's side of an import.
pub trait Backend: Sync {
    /// An observed operation (a snapshot of its status).
    type Op: Clone + Send;
    /// What to import.
    type Spec: Sync;
    type Error: std::error::Error + Send;

    /// The current operation, if any.
    fn observe(&self) -> impl Future<Output = Result<Option<Self::Op>, Self::Error>> + Send;
    /// Starts an operation (staging its data); returns the new operation's id. `step` reports
    /// sub-steps ("staged 500/1000 users").
    fn start(
        &self,
        spec: &Self::Spec,
        step: &mut (dyn FnMut(String) + Send),
    ) -> impl Future<Output = Result<String, Self::Error>> + Send;
    /// The operation's id.
    fn id(op: &Self::Op) -> String;
    /// The operation's phase.
    fn phase(op: &Self::Op) -> Phase;
    /// Its state in the service's own words (for messages).
    fn state(op: &Self::Op) -> String;
    /// True when starting another operation now would disturb this one (abort it, or start
    /// a duplicate): the engine waits for it unless told to abort it.
    fn blocks_start(op: &Self::Op) -> bool;
    /// Its step and counts, one line.
    fn describe(op: &Self::Op) -> String;
    /// How long to wait before the next status read.
    fn pause(&self) -> Duration;
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
    /// A sub-step of starting (backend's words).
    Step(String),
    Started {
        operation_id: String,
    },
    /// The operation's status changed (backend's description).
    Progress(String),
}

/// How the import ended.
#[derive(Debug, Clone)]
pub struct Finished<Op> {
    pub operation_id: String,
    /// The last observation of our operation; `None` when another operation replaced it.
    pub last: Option<Op>,
    pub phase: Phase,
    pub waited_for: Option<String>,
    pub aborted: Option<String>,
}

/// Why there is no outcome.
#[derive(Debug, thiserror::Error)]
pub enum WaitError<E: std::error::Error> {
    #[error(transparent)]
    Backend(E),
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

/// Where the run is, for the timeout and interruption messages.
#[derive(Default)]
struct Where {
    operation_id: Option<String>,
    state: String,
}

/// Reconciles, starts and waits, within `timeout` and until `cancel`.
pub async fn import<B: Backend>(
    backend: &B,
    spec: &B::Spec,
    abort_running: bool,
    timeout: Duration,
    cancel: &CancellationToken,
    events: &mut (dyn FnMut(Event) + Send),
) -> Result<Finished<B::Op>, WaitError<B::Error>> {
    import_opts(backend, spec, abort_running, true, timeout, cancel, events).await
}

/// [`import`], optionally returning as soon as the operation has started (`wait_for_end`
/// false: the outcome is the first observation after the start, phase in progress). A running
/// operation is still waited for (or aborted when asked) before starting.
pub async fn import_opts<B: Backend>(
    backend: &B,
    spec: &B::Spec,
    abort_running: bool,
    wait_for_end: bool,
    timeout: Duration,
    cancel: &CancellationToken,
    events: &mut (dyn FnMut(Event) + Send),
) -> Result<Finished<B::Op>, WaitError<B::Error>> {
    let mut at = Where::default();
    let result = {
        let work = reconcile_and_wait(backend, spec, abort_running, wait_for_end, &mut at, events);
        tokio::select! {
            r = tokio::time::timeout(timeout, work) => r.map_err(|_| false),
            () = cancel.cancelled() => Err(true),
        }
    };
    match result {
        Ok(r) => r.map_err(WaitError::Backend),
        Err(false) => Err(WaitError::TimedOut {
            after: timeout,
            operation_id: at.operation_id,
            state: at.state,
        }),
        Err(true) => Err(WaitError::Cancelled {
            operation_id: at.operation_id,
            state: at.state,
        }),
    }
}

async fn reconcile_and_wait<B: Backend>(
    backend: &B,
    spec: &B::Spec,
    abort_running: bool,
    wait_for_end: bool,
    at: &mut Where,
    events: &mut (dyn FnMut(Event) + Send),
) -> Result<Finished<B::Op>, B::Error> {
    let mut current = backend.observe().await?;
    let mut waited_for = None;
    let mut aborted = None;
    while let Some(op) = current.as_ref().filter(|op| B::blocks_start(op)) {
        let id = B::id(op);
        if abort_running {
            events(Event::AbortingRunning {
                operation_id: id.clone(),
                state: B::state(op),
            });
            aborted = Some(id);
            break;
        }
        if waited_for.as_deref() != Some(id.as_str()) {
            events(Event::WaitingForRunning {
                operation_id: id.clone(),
                state: B::state(op),
            });
            waited_for = Some(id.clone());
        }
        at.operation_id = Some(id);
        at.state = format!("{} (not ours)", B::state(op));
        tokio::time::sleep(backend.pause()).await;
        current = backend.observe().await?;
    }
    at.operation_id = None;
    at.state = "starting".into();
    let mut step = |s: String| events(Event::Step(s));
    let id = backend.start(spec, &mut step).await?;
    events(Event::Started {
        operation_id: id.clone(),
    });
    at.operation_id = Some(id.clone());
    let mut last_line = None;
    loop {
        tokio::time::sleep(backend.pause()).await;
        let op = backend.observe().await?;
        let Some(op) = op.filter(|op| B::id(op) == id) else {
            return Ok(Finished {
                operation_id: id,
                last: None,
                phase: Phase::Failed,
                waited_for,
                aborted,
            });
        };
        let line = B::describe(&op);
        if last_line.as_ref() != Some(&line) {
            events(Event::Progress(line.clone()));
            last_line = Some(line);
        }
        at.state = B::state(&op);
        let phase = B::phase(&op);
        if phase != Phase::InProgress || !wait_for_end {
            return Ok(Finished {
                operation_id: id,
                last: Some(op),
                phase,
                waited_for,
                aborted,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    //! The loop against a scripted backend, on tokio's paused clock.
    use super::*;
    use std::sync::Mutex;

    /// Observations served in order (the last one repeats); counts starts.
    struct Scripted {
        seen: Mutex<Vec<Option<(String, Phase, bool)>>>,
        started: Mutex<u32>,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("never")]
    struct Never;

    impl Backend for Scripted {
        type Op = (String, Phase, bool);
        type Spec = ();
        type Error = Never;
        async fn observe(&self) -> Result<Option<Self::Op>, Never> {
            let mut seen = self.seen.lock().unwrap();
            Ok(if seen.len() > 1 {
                seen.remove(0)
            } else {
                seen[0].clone()
            })
        }
        async fn start(
            &self,
            _: &(),
            step: &mut (dyn FnMut(String) + Send),
        ) -> Result<String, Never> {
            *self.started.lock().unwrap() += 1;
            step("staged".into());
            Ok("mine".into())
        }
        fn id(op: &Self::Op) -> String {
            op.0.clone()
        }
        fn phase(op: &Self::Op) -> Phase {
            op.1
        }
        fn state(op: &Self::Op) -> String {
            format!("{:?}", op.1)
        }
        fn blocks_start(op: &Self::Op) -> bool {
            op.2
        }
        fn describe(op: &Self::Op) -> String {
            format!("{op:?}")
        }
        fn pause(&self) -> Duration {
            Duration::from_secs(1)
        }
    }

    fn backend(seen: Vec<Option<(&str, Phase, bool)>>) -> Scripted {
        Scripted {
            seen: Mutex::new(
                seen.into_iter()
                    .map(|o| o.map(|(a, b, c)| (a.to_owned(), b, c)))
                    .collect(),
            ),
            started: Mutex::new(0),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_running_operation_is_waited_for_then_ours_is_followed() {
        let b = backend(vec![
            Some(("theirs", Phase::InProgress, true)),
            Some(("theirs", Phase::InProgress, true)),
            Some(("theirs", Phase::Succeeded, false)),
            Some(("mine", Phase::InProgress, true)),
            Some(("mine", Phase::Succeeded, false)),
        ]);
        let mut events = Vec::new();
        let mut sink = |e: Event| events.push(e);
        let done = import(
            &b,
            &(),
            false,
            Duration::from_secs(60),
            &CancellationToken::new(),
            &mut sink,
        )
        .await
        .unwrap();
        assert_eq!(done.phase, Phase::Succeeded);
        assert_eq!(done.waited_for.as_deref(), Some("theirs"));
        assert_eq!(done.aborted, None);
        assert_eq!(*b.started.lock().unwrap(), 1);
        let waits = events
            .iter()
            .filter(|e| matches!(e, Event::WaitingForRunning { .. }))
            .count();
        assert_eq!(waits, 1, "one event per operation waited for");
    }

    #[tokio::test(start_paused = true)]
    async fn abort_running_starts_at_once_and_says_which() {
        let b = backend(vec![
            Some(("theirs", Phase::InProgress, true)),
            Some(("mine", Phase::Succeeded, false)),
        ]);
        let mut sink = |_: Event| {};
        let done = import(
            &b,
            &(),
            true,
            Duration::from_secs(60),
            &CancellationToken::new(),
            &mut sink,
        )
        .await
        .unwrap();
        assert_eq!(done.aborted.as_deref(), Some("theirs"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_replaced_operation_fails_and_a_deadline_names_the_operation() {
        let b = backend(vec![None, Some(("other", Phase::InProgress, true))]);
        let mut sink = |_: Event| {};
        let done = import(
            &b,
            &(),
            false,
            Duration::from_secs(60),
            &CancellationToken::new(),
            &mut sink,
        )
        .await
        .unwrap();
        assert!(done.last.is_none() && done.phase == Phase::Failed);

        let b = backend(vec![None, Some(("mine", Phase::InProgress, true))]);
        let err = import(
            &b,
            &(),
            false,
            Duration::from_secs(30),
            &CancellationToken::new(),
            &mut sink,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(&err, WaitError::TimedOut { operation_id: Some(id), .. } if id == "mine"),
            "{err}"
        );
    }
}
