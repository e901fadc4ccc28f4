//! Rocket.Chat as a backend of the engine (`crate::engine::backend::Backend`): observing is
//! `import.status`, paced so that the route's rate-limit budget lasts its window. An operation
//! that is `new`, `loading`, `ready` or `importing` blocks a start, because `import.new` would
//! abort it (`super::ownership`): the engine waits for it unless asked to abort it. Starting
//! takes the per-server lock of this machine (`pacer::section::enter`, held until the run
//! has seen its import end), reads the status again after any pacing wait, immediately before
//! `import.new`, then `import.addUsers` in batches and `import.run`; an operation created but not run is cleared (or kept, if asked)
//! and reported. `done`, `error`, `canceled` or an invalidated operation end the wait. Also:
//! Rocket.Chat's progress events and errors, the check of a user list, and the outcome with
//! its counts.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::api::{Counts, ImportStatus, RcClient, RcError};
use super::ownership::{self, Foreign, Leftover};
use crate::engine::backend::{Backend, Identified, SendMark, Stage, Started, State, Step, Until};
use crate::engine::reconcile::{Plan, reconcile};
use pacer::section::{Entered, Held as ServerLock};
use tokio::time::Instant;

pub use super::userlist::check_users;

/// The least time the owner of an operation this run waited for gets to read its outcome.
const GRACE: Duration = Duration::from_secs(2);

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
    /// Another operation is in progress: waiting for it, not disturbing it.
    WaitingForRunning(Foreign),
    /// Aborting the operation in progress, as the caller asked.
    AbortingRunning(Foreign),
    /// Another run of this machine (CLI or Terraform) holds the server's lock: waiting for it
    /// to finish its import.
    WaitingForLocalRun,
    /// A sub-step of starting ("Staged 500/1000 users.").
    Step(String),
    Started {
        operation_id: String,
    },
    /// The operation's status changed (state, status and counts in one line).
    Progress(String),
}

impl Event {
    /// The event as one progress line, naming the setting that aborts a running import as
    /// `abort_setting` (`--abort-running` on the command line, `abort_running = true` in
    /// Terraform).
    pub fn line(&self, abort_setting: &str) -> String {
        match self {
            Event::WaitingForRunning(f) => format!(
                "Another import {} is in progress: waiting for it to end; it is not aborted ({abort_setting} would abort it).",
                f.describe()
            ),
            Event::AbortingRunning(f) => format!(
                "Aborting the import {} as asked by {abort_setting}.",
                f.describe()
            ),
            Event::WaitingForLocalRun => "Another run on this machine (rocketchat-import or Terraform) is importing into this server: waiting for it to finish (one import per server at a time).".to_owned(),
            Event::Step(line) | Event::Progress(line) => line.clone(),
            Event::Started { operation_id } => format!("Import {operation_id} started."),
        }
    }
}

/// Why the run did not reach an outcome.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Backend(RcError),
    /// A call failed while our operation was being staged (before `import.run` went through).
    #[error("{source}; {left}")]
    Staging { source: RcError, left: Leftover },
    /// `import.new` was sent and its answer was lost (or said the server failed): an operation
    /// may have been created. `current`: the current operation read afterwards when it may be
    /// that one (valid, `new`, this user, not the one seen before).
    #[error("{source}; {}", unclear_start(current.as_ref()))]
    StartUnclear {
        source: RcError,
        current: Option<Foreign>,
    },
    /// A call failed after our operation was started (`import.run` went through): it keeps
    /// running on the server.
    #[error("{source}; {}", after_start(operation_id, state.as_deref()))]
    AfterStart {
        source: RcError,
        operation_id: String,
        state: Option<String>,
    },
    #[error("timed out after {}{}", humantime::format_duration(*after), at.describe())]
    TimedOut { after: Duration, at: Whereabouts },
    #[error("interrupted{}", at.describe_interrupted())]
    Cancelled { at: Whereabouts },
}

impl RunError {
    /// Our operation, when the run had created one.
    pub fn operation_id(&self) -> Option<&str> {
        match self {
            RunError::Backend(_) | RunError::StartUnclear { .. } => None,
            RunError::AfterStart { operation_id, .. } => Some(operation_id),
            RunError::Staging { left, .. } => Some(&left.operation_id),
            RunError::TimedOut { at, .. } | RunError::Cancelled { at } => {
                at.operation_id.as_deref()
            }
        }
    }

    /// Its last known state.
    pub fn state(&self) -> Option<&str> {
        match self {
            RunError::Backend(_) | RunError::StartUnclear { .. } => None,
            RunError::AfterStart { state, .. } => state.as_deref(),
            RunError::Staging { left, .. } => Some(&left.state),
            RunError::TimedOut { at, .. } | RunError::Cancelled { at } => at.state.as_deref(),
        }
    }

    /// The operation of someone else being waited for when the run stopped.
    pub fn waiting_for(&self) -> Option<&Foreign> {
        match self {
            RunError::TimedOut { at, .. } | RunError::Cancelled { at } => at.waiting_for.as_ref(),
            _ => None,
        }
    }

    /// The operation we created and did not run, and what became of it.
    pub fn leftover(&self) -> Option<&Leftover> {
        match self {
            RunError::Staging { left, .. } => Some(left),
            RunError::TimedOut { at, .. } | RunError::Cancelled { at } => at.leftover.as_ref(),
            RunError::Backend(_) | RunError::StartUnclear { .. } | RunError::AfterStart { .. } => {
                None
            }
        }
    }
}

/// What a report says of our operation `id`, started and no longer followed.
fn after_start(id: &str, state: Option<&str>) -> String {
    let seen = state.map_or_else(|| "not seen since".to_owned(), |s| format!("last seen {s}"));
    format!("import operation {id} was started ({seen}) and keeps running on the server")
}

/// How far a run got when it timed out or was interrupted.
#[derive(Debug, Clone, Default)]
pub struct Whereabouts {
    /// Our operation (created by this invocation), if any.
    pub operation_id: Option<String>,
    /// Its last known state (`None`: unknown).
    pub state: Option<String>,
    /// Someone else's operation being waited for.
    pub waiting_for: Option<Foreign>,
    /// Our operation, created and not run: cleared or kept.
    pub leftover: Option<Leftover>,
    /// Waiting for another run of this machine to finish its import on the server.
    pub queued: bool,
    /// `import.new` was sent and its answer did not come: an operation may have been created
    /// (`Some`: what the current operation was read to be then, when it may be that one).
    pub start_unclear: Option<Option<Foreign>>,
}

/// What a report says when `import.new` may have created an operation whose id it never
/// learnt, `current` the operation that may be it.
fn unclear_start(current: Option<&Foreign>) -> String {
    let head =
        "import.new was sent and its answer was lost: an import operation may have been created";
    match current {
        Some(f) => format!(
            "{head}; the current one is {}, probably it: it is left as it is (it blocks other imports until run, cleared, or replaced with --abort-running)",
            f.describe()
        ),
        None => format!("{head}; none that could be it shows on the server"),
    }
}

impl Whereabouts {
    fn describe(&self) -> String {
        if let Some(current) = &self.start_unclear {
            return format!(" while starting: {}", unclear_start(current.as_ref()));
        }
        if let Some(left) = &self.leftover {
            return format!(" while staging: {left}");
        }
        if self.queued {
            return " waiting for another run on this machine to finish its import on this server; nothing of ours was started".to_owned();
        }
        if let Some(f) = &self.waiting_for {
            return format!(
                " waiting for {} to end; it keeps running on the server, and nothing of ours was started",
                f.describe()
            );
        }
        match (&self.operation_id, &self.state) {
            (Some(id), Some(state)) => format!(" while operation {id} was {state}"),
            (Some(id), None) => format!(" while operation {id} was starting"),
            _ => String::new(),
        }
    }

    fn describe_interrupted(&self) -> String {
        if self.leftover.is_some()
            || self.waiting_for.is_some()
            || self.queued
            || self.start_unclear.is_some()
        {
            return self.describe();
        }
        match &self.operation_id {
            Some(_) => format!("{}; it keeps running on the server", self.describe()),
            None => ": no import was started".to_owned(),
        }
    }
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

/// True when an operation is in progress and `import.new` would abort it.
pub fn running(status: &ImportStatus) -> bool {
    ownership::in_progress(status)
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
    /// Keep an operation we created but could not run (instead of `import.clear`ing it).
    pub keep_staged: bool,
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

/// Our operation between `import.new` and `import.run`.
#[derive(Debug, Clone)]
struct Staging {
    id: String,
    /// `new`, then `ready` once a batch is staged.
    state: &'static str,
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
    /// Our operation while it is being staged (recorded the moment `import.new` answers).
    staging: Option<Staging>,
    /// The operation of someone else waited for last.
    waited: Option<String>,
    /// Waiting for this machine's per-server lock.
    queued: bool,
    /// This machine's per-server lock, from the last status read before `import.new` until
    /// this run has seen its import end (or, not waiting, start): another local run that
    /// starts as soon as our import is `done` would replace our operation before we read its
    /// outcome.
    lock: Option<ServerLock>,
    /// The current operation read right before `import.new` (to tell a new one from it).
    before_new: Option<String>,
    /// Our operation once started, and its state last seen.
    started: Option<(String, Option<String>)>,
}

impl RocketChat<'_> {
    /// At least the poll interval, and spread so that the remaining budget of
    /// `import.status` lasts until its window resets.
    fn pause(&self) -> Duration {
        let mut wait = self.spec.poll_interval;
        if let Some(b) = self.client.status_budget() {
            let left = Duration::from_millis(b.reset_ms.saturating_sub(self.client.now_ms()));
            let spread = left / (b.remaining.max(1) as u32);
            wait = wait.max(spread.min(Duration::from_secs(60)));
        }
        wait
    }

    /// The operation and its state, for the deadline and interruption messages.
    fn whereabouts(&self, state: &State<ImportStatus>) -> Whereabouts {
        let me = self.client.user_id();
        match &state.stage {
            Stage::Observing => Whereabouts::default(),
            Stage::WaitingFor(op) => Whereabouts {
                waiting_for: Some(Foreign::of(op, me)),
                ..Whereabouts::default()
            },
            Stage::Starting => Whereabouts {
                operation_id: self.staging.as_ref().map(|s| s.id.clone()),
                state: self.staging.as_ref().map(|s| s.state.to_owned()),
                queued: self.queued,
                // import.new left and its answer did not come (else staging would be known)
                start_unclear: (self.staging.is_none() && state.may_have_started()).then_some(None),
                ..Whereabouts::default()
            },
            Stage::Started { id, last } => Whereabouts {
                operation_id: id.clone(),
                state: last.as_ref().map(|op| op.state.clone()),
                ..Whereabouts::default()
            },
        }
    }

    /// The per-server lock of this machine, waiting (and saying so) while another run holds
    /// it; `None` when there is no pacer folder to lock in.
    async fn take_lock(&mut self) -> Option<ServerLock> {
        match pacer::section::enter(&super::api::ROCKETCHAT, self.client.origin())? {
            Entered::Free(lock) => Some(lock),
            Entered::Busy(pending) => {
                (self.events)(Event::WaitingForLocalRun);
                self.queued = true;
                let lock = pending.wait().await;
                self.queued = false;
                lock
            }
        }
    }

    /// Waits for the `import.new` budget, then reads the status; `Some(fresh)` when it
    /// changed from `previous` (the engine decides again), `None` once a call of `import.new`
    /// is reserved right after a read that confirmed the decision.
    async fn confirm(
        &mut self,
        previous: Option<&ImportStatus>,
    ) -> Result<Option<ImportStatus>, RunError> {
        loop {
            while let Some(wait) = self.client.pacing_wait("import.new").await {
                tracing::info!("import.new: rate-limit budget spent; waiting {wait:?}");
                tokio::time::sleep(wait).await;
            }
            let fresh = self.client.status().await.map_err(RunError::Backend)?;
            self.last_read = Some(Instant::now());
            self.before_new = fresh.operation.as_ref().map(|o| o.id.clone());
            if changed(previous, &fresh, self.spec.abort_running) {
                return Ok(Some(fresh));
            }
            match self.client.reserve("import.new").await {
                None => return Ok(None),
                // Another process spent the budget since: wait, and read again.
                Some(wait) => tokio::time::sleep(wait).await,
            }
        }
    }

    /// After an operation of someone else that this run waited for has ended, its owner gets
    /// time to read its outcome before our `import.new` replaces it as the current operation
    /// (the API shows the current operation only): twice our pause, at least [`GRACE`].
    async fn grace(&mut self, previous: Option<&ImportStatus>) {
        let Some(prev) = previous else { return };
        if self.waited.as_deref() != Some(Self::op_id(prev)) || phase(prev) == Phase::InProgress {
            return;
        }
        self.waited = None;
        let wait = (self.pause() * 2).max(GRACE);
        (self.events)(Event::Step(format!(
            "Operation {} ended ({}); giving its owner {} to read its outcome before starting.",
            Self::op_id(prev),
            prev.state,
            humantime::format_duration(wait)
        )));
        tokio::time::sleep(wait).await;
    }

    /// `import.addUsers` in batches, then `import.run`, on our operation `id`.
    async fn stage_and_run(&mut self) -> Result<(), RcError> {
        let total = self.spec.users.len();
        let mut added = 0;
        for batch in self.spec.users.chunks(self.spec.batch_size.max(1)) {
            self.client.add_users(batch).await?;
            if let Some(s) = self.staging.as_mut() {
                s.state = "ready";
            }
            added += batch.len();
            (self.events)(Event::Step(format!("Staged {added}/{total} users.")));
        }
        // import.run runs the current operation, whoever's: run only ours, still ready.
        let status = self.client.status().await?;
        let ours = self.staging.as_ref().map(|s| s.id.as_str());
        let current = status.operation.as_ref().filter(|o| o.valid);
        if current.map(|o| o.id.as_str()) != ours || status.state != "ready" {
            return Err(RcError::NotOurs {
                route: "import.run".to_owned(),
                current: Foreign::of(&status, self.client.user_id()).describe(),
            });
        }
        self.client.run().await
    }

    /// A step of following our operation: the lock goes at its end; each new line is said
    /// once (`None`: nothing new).
    fn follow(&mut self, op: &ImportStatus) -> Option<Event> {
        if self.is_final(op) {
            self.lock = None;
        }
        let line = describe_status(op);
        if self.last_line.as_ref() == Some(&line) {
            return None;
        }
        self.last_line = Some(line.clone());
        Some(Event::Progress(line))
    }

    /// Clears our operation that was created and not run (or keeps it, if asked).
    async fn leave(&mut self) -> Option<Leftover> {
        let s = self.staging.take()?;
        let keep = self.spec.keep_staged;
        Some(ownership::clear_leftover(self.client, &s.id, s.state, keep).await)
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

    /// Before our start nothing observed is ours: any operation in progress is someone's.
    fn blocks_start(&self, op: &ImportStatus) -> bool {
        running(op)
    }

    async fn start(
        &mut self,
        previous: Option<&ImportStatus>,
        sending: &SendMark,
    ) -> Result<Started<ImportStatus>, RunError> {
        self.grace(previous).await;
        self.lock = self.take_lock().await;
        if let Some(fresh) = self.confirm(previous).await? {
            self.lock = None;
            if running(&fresh) {
                let f = Foreign::of(&fresh, self.client.user_id());
                (self.events)(Event::Step(format!(
                    "Read again before starting: {} is in progress; not starting.",
                    f.describe()
                )));
            }
            return Ok(Started::Recheck);
        }
        sending.mark();
        let op = match self.client.new_operation_reserved().await {
            Ok(op) => op,
            // Sent, and no clear answer: an operation may have been created. Say so, naming
            // the one that may be it.
            Err(source) if source.may_have_acted() => {
                let before = self.before_new.clone();
                let current = ownership::probable_own_new(self.client, before.as_deref()).await;
                return Err(RunError::StartUnclear { source, current });
            }
            Err(e) => return Err(RunError::Backend(e)),
        };
        self.staging = Some(Staging {
            id: op.id.clone(),
            state: "new",
        });
        (self.events)(Event::Step(format!("Created import operation {}.", op.id)));
        if let Err(source) = self.stage_and_run().await {
            let left = self.leave().await.expect("staging was recorded");
            return Err(RunError::Staging { source, left });
        }
        self.staging = None;
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
        let me = self.client.user_id();
        let event = match step {
            Step::WaitingFor(op) => {
                self.waited = Some(Self::op_id(op).to_owned());
                Event::WaitingForRunning(Foreign::of(op, me))
            }
            Step::Aborting(op) => Event::AbortingRunning(Foreign::of(op, me)),
            Step::Started { id } => {
                self.started = id.map(|id| (id.to_owned(), None));
                Event::Started {
                    operation_id: id.unwrap_or_default().to_owned(),
                }
            }
            Step::Following(op) => {
                if let Some((id, state)) = self.started.as_mut()
                    && Self::op_id(op) == id
                {
                    *state = Some(op.state.clone());
                }
                match self.follow(op) {
                    Some(event) => event,
                    None => return,
                }
            }
            // Nothing to say before the start; no operation serves a call without starting.
            Step::Observed(_) | Step::Joined(_) => return,
        };
        (self.events)(event);
    }

    fn timed_out(&self, at: &State<ImportStatus>, _cause: Option<RunError>) -> RunError {
        RunError::TimedOut {
            after: self.timeout,
            at: self.whereabouts(at),
        }
    }

    fn cancelled(&self, at: &State<ImportStatus>) -> RunError {
        RunError::Cancelled {
            at: self.whereabouts(at),
        }
    }
}

/// True when `fresh`, read right before `import.new`, is not what the engine decided on
/// (`previous`): an operation in progress appeared, or the one to abort changed or ended.
fn changed(previous: Option<&ImportStatus>, fresh: &ImportStatus, abort_running: bool) -> bool {
    let id = |s: &ImportStatus| s.operation.as_ref().map(|o| o.id.clone());
    let was = previous.filter(|p| running(p));
    match (was, running(fresh)) {
        (None, false) => false,
        (Some(p), true) => !abort_running || id(p) != id(fresh),
        _ => true,
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
        staging: None,
        waited: None,
        queued: false,
        lock: None,
        before_new: None,
        started: None,
    };
    let done = match reconcile(&mut rc, plan, cancel).await {
        Ok(done) => done,
        // Stopped while staging our operation: clear it (or keep it) and say so.
        Err(mut e @ (RunError::TimedOut { .. } | RunError::Cancelled { .. })) => {
            if let RunError::TimedOut { at, .. } | RunError::Cancelled { at } = &mut e {
                at.leftover = rc.leave().await;
                if let Some(None) = at.start_unclear {
                    let before = rc.before_new.as_deref();
                    at.start_unclear = Some(ownership::probable_own_new(client, before).await);
                }
            }
            return Err(e);
        }
        // A call failed once our operation was started: it keeps running; say which.
        Err(RunError::Backend(source)) if rc.started.is_some() => {
            let (operation_id, state) = rc.started.take().expect("checked");
            return Err(RunError::AfterStart {
                source,
                operation_id,
                state,
            });
        }
        Err(e) => return Err(e),
    };
    Ok(outcome(done, spec))
}

/// The status of our operation once another one replaced it as the current one.
const REPLACED: &str = "replaced by another operation";

/// The outcome of a finished run.
fn outcome(done: crate::engine::backend::Finished<ImportStatus>, spec: &ImportSpec) -> Outcome {
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
            REPLACED.to_owned(),
            Counts::default(),
        ),
    };
    Outcome {
        operation_id: done.id.unwrap_or_default(),
        state,
        status,
        count,
        aborted_operation_id: done.aborted,
        waited_for_operation_id: done.waited_for,
        user_errors_allowed: spec.allow_user_errors,
    }
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
    if outcome.state == "invalidated" && outcome.status == REPLACED {
        // Only the current operation can be read: once replaced, ours may have ended first.
        s.push_str(" Another import.new or import.clear replaced it before its end could be read: that aborted this operation if it was still running.");
    } else if outcome.state == "invalidated" {
        s.push_str(" Another import.new or import.clear aborted this operation.");
    }
    s
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
        for s in ["new", "loading", "ready", "importing"] {
            assert!(running(&st(s, true)), "{s}");
        }
        for s in ["done", "error", "canceled", "none"] {
            assert!(!running(&st(s, true)), "{s}");
        }
    }

    fn op(id: &str, state: &str) -> ImportStatus {
        serde_json::from_value(json!({"state": state, "operation": {"_id": id, "status": "s"}}))
            .unwrap()
    }

    /// The read right before import.new: start only when it shows what was decided on.
    #[test]
    fn a_fresh_read_that_differs_from_the_decision_is_looked_at_again() {
        let done = op("a", "done");
        let staging = op("b", "new");
        let importing = op("b", "importing");
        // nothing in progress, then still nothing: start
        assert!(!changed(Some(&done), &op("a", "done"), false));
        assert!(!changed(None, &done, false));
        // someone's operation appeared (being staged, or importing): decide again
        assert!(changed(Some(&done), &staging, false));
        assert!(changed(None, &importing, true));
        // aborting as asked: the same operation still in progress, start (and abort it)
        assert!(!changed(Some(&staging), &importing, true));
        // ... but another one, or none any more: decide again
        assert!(changed(Some(&staging), &op("c", "ready"), true));
        assert!(changed(Some(&staging), &op("b", "done"), true));
        // not asked to abort: an operation in progress is never started over
        assert!(changed(Some(&staging), &importing, false));
    }
}
