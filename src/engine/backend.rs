//! The engine's backend trait: what differs per service (each service's slice implements it).
//! A backend reads the current operation at its own pace, says whether an
//! operation blocks a start or already serves this call, starts one (confirming unclear starts
//! its own way), tells which observed operation is the one started, turns the engine's
//! lifecycle [`Step`]s into its own progress events, and words the deadline and the
//! cancellation as its own errors, from the engine's [`State`]. Reconcile-and-wait itself is
//! `super::reconcile`.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// One service's side of an import.
pub trait Backend: Send {
    /// A snapshot of an operation (a run, an import status: the service's own type).
    type Op: Clone + Send + Sync;
    /// How the backend's imports fail; also carries the timeout and the cancellation.
    type Error: Send;

    /// False when the current operation cannot be read at all (e.g. a start through a webhook,
    /// without the credentials a status read needs): the engine then starts without observing and returns once started.
    fn can_observe(&self) -> bool {
        true
    }

    /// The current operation, if any. Paces itself (every backend knows its rate limits and
    /// its poll interval), so the engine never sleeps on its own.
    fn observe(&mut self) -> impl Future<Output = Result<Option<Self::Op>, Self::Error>> + Send;

    /// The operation's id.
    fn op_id(op: &Self::Op) -> &str;

    /// True when the operation has ended (successfully or not).
    fn is_final(&self, op: &Self::Op) -> bool;

    /// True when `op`, already under way, serves this call (e.g. an operation with server
    /// evidence that it started since this invocation began): it is followed instead of starting
    /// another. `at_first_observation`: `op` was the operation seen at the invocation's first
    /// observation (else it showed up later). Never asked about an operation that had already
    /// ended at the first observation: that one is never this call's.
    fn serves_this_call(&self, _op: &Self::Op, _at_first_observation: bool) -> bool {
        false
    }

    /// True when starting now would disturb `op` (start a duplicate, or abort it): the engine
    /// waits for it to end, or, when the caller asked to abort it, starts anyway and says so.
    fn blocks_start(&self, op: &Self::Op) -> bool;

    /// Starts an operation; `previous` is the operation observed just before. `sending` must
    /// be marked ([`SendMark::mark`]) before any request that may start an operation leaves
    /// the process: the engine then knows, whatever happens next (a lost answer, the deadline,
    /// a cancellation), that an operation may be running.
    fn start(
        &mut self,
        previous: Option<&Self::Op>,
        sending: &SendMark,
    ) -> impl Future<Output = Result<Started<Self::Op>, Self::Error>> + Send;

    /// Whether an observation after the start shows the started operation. `ours` is its id
    /// when the start returned one; `previous` the operation observed before the start.
    fn identify(
        &self,
        op: Option<&Self::Op>,
        ours: Option<&str>,
        previous: Option<&str>,
    ) -> Identified;

    /// A lifecycle step, for the backend's own progress events.
    fn on_step(&mut self, step: Step<'_, Self::Op>);

    /// True when `err`, returned by one of the backend's calls, only says that the deadline
    /// passed (or that the next attempt would start after it): the engine then words the
    /// outcome from its state with [`Backend::timed_out`], passing `err` as the cause.
    fn is_deadline(&self, _err: &Self::Error) -> bool {
        false
    }

    /// The error for a deadline that passed in state `at`. `cause`: the backend's own error
    /// that reported it (see [`Backend::is_deadline`]), for details such as when a slot
    /// reopens. Must say whether a start request may have left ([`State::sent`]).
    fn timed_out(&self, at: &State<Self::Op>, cause: Option<Self::Error>) -> Self::Error;

    /// The error for a cancellation in state `at`; says whether a start request may have left.
    fn cancelled(&self, at: &State<Self::Op>) -> Self::Error;
}

/// Marks the moments a start request may leave the process. Shared between the engine and the
/// backend's `start` (the engine reads it even when the start's future was dropped by the
/// deadline or a cancellation). A mark is undone only for a request that surely never left
/// (its connection failed): once a request may have left, an operation may be running,
/// whatever the answer said or whether it came.
#[derive(Debug, Clone, Default)]
pub struct SendMark(Arc<AtomicUsize>);

impl SendMark {
    /// A start request is about to leave (or may have left) the process.
    pub fn mark(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    /// The request last marked surely never left (its connection failed).
    pub fn never_left(&self) {
        let _ = self
            .0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
    }

    /// Whether a start request may have left.
    pub fn is_marked(&self) -> bool {
        self.0.load(Ordering::SeqCst) > 0
    }
}

/// Whether a start request of this invocation left the process, and what came of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sent {
    /// No start request left the process: nothing was started by this invocation.
    #[default]
    Nothing,
    /// A start request left (or may have), and its answer was lost: an operation may be
    /// running, and whether it is has not been seen.
    AnswerUnknown,
    /// The service accepted a start of this invocation, or the started operation was seen.
    Accepted,
}

/// The invocation's state, owned by the engine: the only source of the outcome.
#[derive(Debug, Clone)]
pub struct State<Op> {
    /// How far the invocation got.
    pub stage: Stage<Op>,
    /// Whether a start request left the process (never goes back to `Nothing`).
    pub sent: Sent,
    /// The operation observed just before the (last) start, if any.
    pub previous_id: Option<String>,
    /// The running operation last waited for, if any (it is not this call's).
    pub waited_for: Option<String>,
}

impl<Op> Default for State<Op> {
    fn default() -> Self {
        State {
            stage: Stage::Observing,
            sent: Sent::Nothing,
            previous_id: None,
            waited_for: None,
        }
    }
}

impl<Op> State<Op> {
    /// True when a start request may have left the process: an operation may be running.
    pub fn may_have_started(&self) -> bool {
        self.sent != Sent::Nothing
    }
}

/// What a start did.
#[derive(Debug, Clone)]
pub enum Started<Op> {
    /// An operation started. `id` when the service names it at once; `seen`
    /// when it was already observed (while confirming an unclear start).
    Sent {
        id: Option<String>,
        seen: Option<Op>,
    },
    /// Nothing was sent: a start made by another caller since this call began serves it. Its
    /// operation is the first after `previous_id` (when given, else after the one observed).
    Joined { previous_id: Option<String> },
    /// Nothing was sent, and the situation may have changed: observe again first.
    Recheck,
}

/// What an observation after the start shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identified {
    /// The started operation does not show yet.
    NotYet,
    /// It is the started operation (or the latest one, which the backend follows instead).
    Ours,
    /// Another operation replaced the started one: it will never end on its own.
    Replaced,
}

/// Lifecycle steps the engine reports to the backend, in order.
#[derive(Debug)]
pub enum Step<'a, Op> {
    /// The first read of a round (and the read after every `Recheck`).
    Observed(Option<&'a Op>),
    /// A running operation is waited for (once per operation).
    WaitingFor(&'a Op),
    /// A running operation will be aborted by the start, as the caller asked.
    Aborting(&'a Op),
    /// An operation already under way serves this call (`None`: another caller's start,
    /// whose operation does not show yet).
    Joined(Option<&'a Op>),
    /// The start went through.
    Started { id: Option<&'a str> },
    /// An observation of the operation followed (each one, final included).
    Following(&'a Op),
}

/// How far the import got (with [`State::sent`], what the outcome is made of).
#[derive(Debug, Clone, Default)]
pub enum Stage<Op> {
    /// Reading the current operation.
    #[default]
    Observing,
    /// Waiting for a running operation that is not ours.
    WaitingFor(Op),
    /// Starting: between the decision to start and the start's answer (whether a request left
    /// is [`State::sent`]).
    Starting,
    /// Started (or joined); `last` is the latest observation of it.
    Started {
        id: Option<String>,
        last: Option<Op>,
    },
}

/// When the engine returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// As soon as the operation has started.
    Started,
    /// At the first observation of the started operation.
    Seen,
    /// When the operation has ended.
    Final,
}

/// How the import ended.
#[derive(Debug, Clone)]
pub struct Finished<Op> {
    /// The operation observed just before starting (`None`: none, or unknown).
    pub previous_id: Option<String>,
    /// The started operation's id, when known.
    pub id: Option<String>,
    /// The last observation of it (final with [`Until::Final`]); `None` when not observed
    /// (returned once started, or replaced before it showed).
    pub last: Option<Op>,
    /// True when this call started it, false when it joined one under way.
    pub started_here: bool,
    /// Whether a start request of this call left the process.
    pub sent: Sent,
    /// Another operation replaced it.
    pub replaced: bool,
    /// The running operation waited for before starting.
    pub waited_for: Option<String>,
    /// The running operation aborted by the start (asked for by the caller).
    pub aborted: Option<String>,
}
