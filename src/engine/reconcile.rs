//! Reconcile-and-wait, written once for every backend: observe the current operation → follow
//! it when it already serves this call → wait for a running one to end (or abort it when asked)
//! → start → identify the started operation → follow it until it ends, within a deadline and
//! until cancelled. Backends (`super::backend::Backend`) supply the service's side.
//!
//! The loop owns the invocation's [`State`]: every outcome (the operation followed, the
//! deadline, the cancellation) is worded by the backend from that state, never from a tracker
//! of its own. The transitions (state × event → state):
//!
//! | state | event | next state |
//! |---|---|---|
//! | Observing | no operation, or one that ended | Starting |
//! | Observing | an operation that serves this call (never one already ended at the first observation; the backend is told whether it is the first observation's) | Started (joined, `sent` unchanged) |
//! | Observing | a running operation that blocks a start | WaitingFor(op) |
//! | WaitingFor(op) | it ended (or the caller asked to abort it) | Starting |
//! | Starting | a start request may leave (`SendMark`) | Starting, `sent = AnswerUnknown` |
//! | Starting | the service accepted it, or the started operation was seen | Started, `sent = Accepted` |
//! | Starting | another caller's start serves this call (nothing sent) | Started (joined) |
//! | Starting | nothing sent, look again (`Recheck`) | Observing (`sent` unchanged) |
//! | Started | the started operation observed | Started { id, last } |
//! | Started | it ended (or `until` reached) | outcome: `Finished` |
//! | any | the deadline passed (or a backend error that only says so) | outcome: `timed_out(state)` |
//! | any | cancelled | outcome: `cancelled(state)` |

use tokio_util::sync::CancellationToken;

use super::backend::{
    Backend, Finished, Identified, SendMark, Sent, Stage, Started, State, Step, Until,
};
use tokio::time::Instant;

/// What the caller asks of one import.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Abort a running operation instead of waiting for it (only for services whose start
    /// aborts the running operation; never for the others).
    pub abort_running: bool,
    /// When to return.
    pub until: Until,
    /// Bound on everything.
    pub deadline: Instant,
}

/// Runs one import against `backend`: the outcome, or the backend's error (its own, or its
/// wording of the deadline or the cancellation from the engine's state).
pub async fn reconcile<B: Backend>(
    backend: &mut B,
    plan: Plan,
    cancel: &CancellationToken,
) -> Result<Finished<B::Op>, B::Error> {
    enum Stop<T> {
        Done(T),
        Deadline,
        Cancelled,
    }
    let mut state = State::default();
    let sending = SendMark::default();
    let stop = {
        let work = drive(backend, plan, &mut state, &sending);
        tokio::select! {
            biased;
            () = cancel.cancelled() => Stop::Cancelled,
            () = tokio::time::sleep_until(plan.deadline) => Stop::Deadline,
            r = work => Stop::Done(r),
        }
    };
    // A start request that may have left while the work was cut short still counts.
    note_sending(&mut state, &sending);
    match stop {
        Stop::Done(Err(e)) if backend.is_deadline(&e) => Err(backend.timed_out(&state, Some(e))),
        Stop::Done(r) => r,
        Stop::Deadline => Err(backend.timed_out(&state, None)),
        Stop::Cancelled => Err(backend.cancelled(&state)),
    }
}

/// `sent` after a start attempt: a request that may have left and got no clear answer leaves
/// it unknown; an accepted one makes it accepted.
fn note_sending<Op>(state: &mut State<Op>, sending: &SendMark) {
    if sending.is_marked() && state.sent == Sent::Nothing {
        state.sent = Sent::AnswerUnknown;
    }
}

/// The work of one import, which [`reconcile`] cuts short at the deadline or on cancellation:
/// start at once when the backend cannot observe; else observe and start
/// ([`observe_and_start`]), then follow the started operation ([`follow`]) unless the caller
/// only asked for the start.
async fn drive<B: Backend>(
    backend: &mut B,
    plan: Plan,
    state: &mut State<B::Op>,
    sending: &SendMark,
) -> Result<Finished<B::Op>, B::Error> {
    let mut done = Finished {
        previous_id: None,
        id: None,
        last: None,
        started_here: true,
        sent: Sent::Nothing,
        replaced: false,
        waited_for: None,
        aborted: None,
    };

    if !backend.can_observe() {
        return start_blind(backend, state, sending, done).await;
    }

    let seen = observe_and_start(backend, plan, state, sending, &mut done).await?;
    done.sent = state.sent;
    if plan.until == Until::Started {
        return Ok(done);
    }
    follow(backend, plan, state, seen, done).await
}

/// Nothing to look at: start, and return at once (the caller did not ask to wait).
async fn start_blind<B: Backend>(
    backend: &mut B,
    state: &mut State<B::Op>,
    sending: &SendMark,
    mut done: Finished<B::Op>,
) -> Result<Finished<B::Op>, B::Error> {
    state.stage = Stage::Starting;
    loop {
        let started = backend.start(None, sending).await;
        note_sending(state, sending);
        match started? {
            Started::Sent { id, .. } => {
                state.sent = Sent::Accepted;
                backend.on_step(Step::Started { id: id.as_deref() });
                done.id = id;
                done.sent = state.sent;
                return Ok(done);
            }
            Started::Joined { previous_id } => {
                backend.on_step(Step::Joined(None));
                done.previous_id = previous_id;
                done.started_here = false;
                done.sent = state.sent;
                return Ok(done);
            }
            Started::Recheck => continue,
        }
    }
}

/// Observes, follows what serves this call, waits for what runs, starts. Returns once started
/// (or joined), with the started operation when it was already seen.
async fn observe_and_start<B: Backend>(
    backend: &mut B,
    plan: Plan,
    state: &mut State<B::Op>,
    sending: &SendMark,
    done: &mut Finished<B::Op>,
) -> Result<Option<B::Op>, B::Error> {
    // The operation at the first observation, and whether it had ended then (an operation
    // already ended at the first observation is never this call's).
    let mut first: Option<Option<(String, bool)>> = None;
    loop {
        state.stage = Stage::Observing;
        // Decided again from this observation (after a `Recheck` the one to abort may be gone).
        done.aborted = None;
        let current = backend.observe().await?;
        let first = first
            .get_or_insert_with(|| {
                current
                    .as_ref()
                    .map(|op| (B::op_id(op).to_owned(), backend.is_final(op)))
            })
            .clone();
        backend.on_step(Step::Observed(current.as_ref()));
        let current =
            match clear_the_way(backend, plan, state, done, first.as_ref(), current).await? {
                Way::Served(op) => return Ok(op),
                Way::Clear(current) => current,
            };
        done.previous_id = current.as_ref().map(|op| B::op_id(op).to_owned());
        state.previous_id.clone_from(&done.previous_id);
        state.stage = Stage::Starting;
        let started = backend.start(current.as_ref(), sending).await;
        note_sending(state, sending);
        match record_start(backend, state, done, started?) {
            AfterStart::Follow(seen) => return Ok(seen),
            AfterStart::Observe => continue,
        }
    }
}

/// What the operation in view leaves to do before a start.
enum Way<Op> {
    /// It serves this call: joined (the operation, to follow).
    Served(Option<Op>),
    /// Start now (after the operation in view, if any: ended, not blocking, or to abort).
    Clear(Option<Op>),
}

/// From the operation observed (`current`) to a clear way for a start: one that serves this
/// call is joined; one that runs and blocks a start is waited for (observed again until it
/// ends), or marked to abort when the plan says so. `first` is the operation of the first
/// observation and whether it had ended then.
async fn clear_the_way<B: Backend>(
    backend: &mut B,
    plan: Plan,
    state: &mut State<B::Op>,
    done: &mut Finished<B::Op>,
    first: Option<&(String, bool)>,
    mut current: Option<B::Op>,
) -> Result<Way<B::Op>, B::Error> {
    while let Some(op) = current.as_ref() {
        let at_first = first.filter(|(id, _)| id == B::op_id(op));
        let old = at_first.is_some_and(|(_, ended)| *ended);
        if !old && backend.serves_this_call(op, at_first.is_some()) {
            backend.on_step(Step::Joined(Some(op)));
            done.started_here = false;
            done.previous_id = None;
            state.stage = Stage::Started {
                id: None,
                last: None,
            };
            return Ok(Way::Served(current));
        }
        if !backend.blocks_start(op) {
            break;
        }
        let id = B::op_id(op).to_owned();
        if plan.abort_running {
            backend.on_step(Step::Aborting(op));
            done.aborted = Some(id);
            break;
        }
        if done.waited_for.as_deref() != Some(id.as_str()) {
            backend.on_step(Step::WaitingFor(op));
            done.waited_for = Some(id.clone());
            state.waited_for = Some(id);
        }
        state.stage = Stage::WaitingFor(op.clone());
        current = backend.observe().await?;
    }
    Ok(Way::Clear(current))
}

/// What a start's answer leaves the loop to do.
enum AfterStart<Op> {
    /// Started or joined: follow (the started operation, when the backend already saw it).
    Follow(Option<Op>),
    /// Nothing was sent: observe again.
    Observe,
}

/// Records a start's answer in the state and the outcome.
fn record_start<B: Backend>(
    backend: &mut B,
    state: &mut State<B::Op>,
    done: &mut Finished<B::Op>,
    started: Started<B::Op>,
) -> AfterStart<B::Op> {
    match started {
        Started::Sent { id, seen } => {
            state.sent = Sent::Accepted;
            backend.on_step(Step::Started { id: id.as_deref() });
            state.stage = Stage::Started {
                id: id.clone(),
                last: None,
            };
            done.id = id;
            AfterStart::Follow(seen)
        }
        Started::Joined { previous_id } => {
            backend.on_step(Step::Joined(None));
            done.started_here = false;
            if previous_id.is_some() {
                done.previous_id.clone_from(&previous_id);
                state.previous_id = previous_id;
            }
            state.stage = Stage::Started {
                id: None,
                last: None,
            };
            AfterStart::Follow(None)
        }
        Started::Recheck => AfterStart::Observe,
    }
}

/// Identifies the started operation and follows it to its end (or `plan.until`).
async fn follow<B: Backend>(
    backend: &mut B,
    plan: Plan,
    state: &mut State<B::Op>,
    mut seen: Option<B::Op>,
    mut done: Finished<B::Op>,
) -> Result<Finished<B::Op>, B::Error> {
    loop {
        let op = match seen.take() {
            Some(op) => Some(op),
            None => backend.observe().await?,
        };
        let ours = done.id.as_deref();
        match backend.identify(op.as_ref(), ours, done.previous_id.as_deref()) {
            Identified::NotYet => continue,
            Identified::Replaced => {
                done.replaced = true;
                return Ok(done);
            }
            Identified::Ours => {}
        }
        let Some(op) = op else { continue };
        backend.on_step(Step::Following(&op));
        let end = backend.is_final(&op) || plan.until == Until::Seen;
        // A backend that names the operation only once it shows is told the id of
        // the one identified last: it follows the latest.
        let id = B::op_id(&op).to_owned();
        state.stage = Stage::Started {
            id: Some(id.clone()),
            last: Some(op.clone()),
        };
        done.last = Some(op);
        if end {
            done.id = Some(id);
            return Ok(done);
        }
    }
}

#[cfg(test)]
mod tests {
    //! The loop against a scripted backend, on tokio's paused clock.
    use super::*;
    use std::time::Duration;

    /// (id, final, blocks a start)
    type Op = (String, bool, bool);

    /// Observations served in order (the last one repeats, one per second); counts starts.
    /// `start_hangs`: the start marks its request as leaving, then never answers (a lost
    /// answer). `serves`: which operations under way serve this call (none by default).
    struct Scripted {
        seen: Vec<Option<Op>>,
        started: u32,
        start_id: Option<String>,
        steps: Vec<String>,
        start_hangs: bool,
        serves: fn(&Op) -> bool,
    }

    #[derive(Debug, PartialEq)]
    enum Err {
        TimedOut(String),
        Cancelled(Sent),
    }

    impl Backend for Scripted {
        type Op = Op;
        type Error = Err;
        async fn observe(&mut self) -> Result<Option<Op>, Err> {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok(if self.seen.len() > 1 {
                self.seen.remove(0)
            } else {
                self.seen[0].clone()
            })
        }
        fn op_id(op: &Op) -> &str {
            &op.0
        }
        fn is_final(&self, op: &Op) -> bool {
            op.1
        }
        fn serves_this_call(&self, op: &Op, _: bool) -> bool {
            (self.serves)(op)
        }
        fn blocks_start(&self, op: &Op) -> bool {
            op.2
        }
        async fn start(&mut self, _: Option<&Op>, sending: &SendMark) -> Result<Started<Op>, Err> {
            self.started += 1;
            sending.mark();
            if self.start_hangs {
                std::future::pending::<()>().await;
            }
            Ok(Started::Sent {
                id: self.start_id.clone(),
                seen: None,
            })
        }
        fn identify(&self, op: Option<&Op>, ours: Option<&str>, prev: Option<&str>) -> Identified {
            match (op, ours) {
                (Some(op), Some(ours)) if op.0 == ours => Identified::Ours,
                (_, Some(_)) => Identified::Replaced,
                (Some(op), None) if Some(op.0.as_str()) != prev => Identified::Ours,
                _ => Identified::NotYet,
            }
        }
        fn on_step(&mut self, step: Step<'_, Op>) {
            self.steps.push(match step {
                Step::Observed(op) => format!("observed {:?}", op.map(|o| &o.0)),
                Step::WaitingFor(op) => format!("waiting {}", op.0),
                Step::Aborting(op) => format!("aborting {}", op.0),
                Step::Joined(op) => format!("joined {:?}", op.map(|o| &o.0)),
                Step::Started { id } => format!("started {id:?}"),
                Step::Following(op) => format!("following {}", op.0),
            });
        }
        fn timed_out(&self, at: &State<Op>, _: Option<Err>) -> Err {
            Err::TimedOut(match &at.stage {
                Stage::Started { id, .. } => format!("started {id:?}"),
                Stage::WaitingFor(op) => format!("waiting {}", op.0),
                Stage::Starting => format!("starting, sent {:?}", at.sent),
                other => format!("{other:?}"),
            })
        }
        fn cancelled(&self, at: &State<Op>) -> Err {
            Err::Cancelled(at.sent)
        }
    }

    fn backend(seen: &[Option<(&str, bool, bool)>], start_id: Option<&str>) -> Scripted {
        Scripted {
            seen: seen
                .iter()
                .map(|o| o.map(|(a, b, c)| (a.to_owned(), b, c)))
                .collect(),
            started: 0,
            start_id: start_id.map(str::to_owned),
            steps: Vec::new(),
            start_hangs: false,
            serves: |_| false,
        }
    }

    /// `reconcile` of `b` under `plan`, never cancelled.
    async fn run(b: &mut Scripted, plan: Plan) -> Result<Finished<Op>, Err> {
        reconcile(b, plan, &CancellationToken::new()).await
    }

    fn plan(abort_running: bool, until: Until, secs: u64) -> Plan {
        Plan {
            abort_running,
            until,
            deadline: Instant::now() + Duration::from_secs(secs),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_running_operation_is_waited_for_then_ours_is_followed() {
        let mut b = backend(
            &[
                Some(("theirs", false, true)),
                Some(("theirs", false, true)),
                Some(("theirs", true, false)),
                Some(("theirs", true, false)),
                Some(("mine", false, true)),
                Some(("mine", true, false)),
            ],
            None,
        );
        let done = run(&mut b, plan(false, Until::Final, 60)).await.unwrap();
        assert_eq!(done.last.as_ref().map(|o| o.0.as_str()), Some("mine"));
        assert_eq!(done.id.as_deref(), Some("mine"));
        assert_eq!(done.previous_id.as_deref(), Some("theirs"));
        assert_eq!(done.waited_for.as_deref(), Some("theirs"));
        assert_eq!((done.aborted, b.started), (None, 1));
        assert_eq!(
            b.steps,
            [
                "observed Some(\"theirs\")",
                "waiting theirs",
                "started None",
                "following mine",
                "following mine"
            ],
            "one wait event per operation; the previous run is not taken for ours"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn abort_running_starts_at_once_and_says_which() {
        let mut b = backend(
            &[Some(("theirs", false, true)), Some(("mine", true, false))],
            Some("mine"),
        );
        let done = run(&mut b, plan(true, Until::Final, 60)).await.unwrap();
        assert_eq!(done.aborted.as_deref(), Some("theirs"));
        assert_eq!(done.waited_for, None);
        assert!(b.steps.contains(&"aborting theirs".to_owned()));
    }

    #[tokio::test(start_paused = true)]
    async fn an_operation_serving_this_call_is_followed_not_started() {
        // The scripted backend, treating "joinable" as serving this call.
        let mut b = Scripted {
            serves: |op| op.0 == "joinable",
            ..backend(
                &[
                    Some(("joinable", false, true)),
                    Some(("joinable", true, false)),
                ],
                None,
            )
        };
        let done = run(&mut b, plan(false, Until::Final, 60)).await.unwrap();
        assert_eq!((b.started, done.started_here), (0, false));
        assert_eq!(done.id.as_deref(), Some("joinable"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_replaced_operation_ends_and_a_deadline_names_the_stage() {
        let mut b = backend(&[None, Some(("other", false, true))], Some("mine"));
        let done = run(&mut b, plan(false, Until::Final, 60)).await.unwrap();
        assert!(done.replaced && done.last.is_none());

        let mut b = backend(&[None, Some(("mine", false, true))], Some("mine"));
        let err = run(&mut b, plan(false, Until::Final, 30))
            .await
            .unwrap_err();
        assert_eq!(err, Err::TimedOut("started Some(\"mine\")".into()));

        let mut b = backend(&[Some(("theirs", false, true))], None);
        let err = run(&mut b, plan(false, Until::Final, 30))
            .await
            .unwrap_err();
        assert_eq!(err, Err::TimedOut("waiting theirs".into()));
        assert_eq!(b.started, 0, "never started over a running operation");
    }

    #[tokio::test(start_paused = true)]
    async fn cancellation_and_returning_early() {
        let cancel = CancellationToken::new();
        cancel.cancel();
        let mut b = backend(&[None], Some("mine"));
        let err = reconcile(&mut b, plan(false, Until::Final, 60), &cancel)
            .await
            .unwrap_err();
        assert_eq!((err, b.started), (Err::Cancelled(Sent::Nothing), 0));

        let mut b = backend(&[None, Some(("mine", false, false))], Some("mine"));
        let done = run(&mut b, plan(false, Until::Started, 60)).await.unwrap();
        assert!(done.last.is_none() && done.id.as_deref() == Some("mine"));

        let mut b = backend(&[None, Some(("mine", false, false))], Some("mine"));
        let done = run(&mut b, plan(false, Until::Seen, 60)).await.unwrap();
        assert_eq!(
            done.last.map(|o| o.1),
            Some(false),
            "returned while running"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_start_whose_answer_never_comes_is_not_nothing_started() {
        // The deadline passes while the start's request is out: the outcome says a start may
        // have left (a backend's own tracker used to say "nothing was triggered").
        let mut b = backend(&[None], None);
        b.start_hangs = true;
        let err = run(&mut b, plan(false, Until::Final, 30))
            .await
            .unwrap_err();
        assert_eq!(err, Err::TimedOut("starting, sent AnswerUnknown".into()));

        // Cancelled (Ctrl-C) while the answer is awaited: same truth.
        let mut b = backend(&[None], None);
        b.start_hangs = true;
        let cancel = CancellationToken::new();
        let later = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(5)).await;
            later.cancel();
        });
        let err = reconcile(&mut b, plan(false, Until::Final, 30), &cancel)
            .await
            .unwrap_err();
        assert_eq!(err, Err::Cancelled(Sent::AnswerUnknown));

        // Nothing marked: nothing sent.
        let mut b = backend(&[Some(("theirs", false, true))], None);
        let err = run(&mut b, plan(false, Until::Final, 30))
            .await
            .unwrap_err();
        assert_eq!(err, Err::TimedOut("waiting theirs".into()));
    }

    #[tokio::test(start_paused = true)]
    async fn an_operation_ended_at_the_first_observation_never_serves_this_call() {
        // Would take anything (as a lagging clock might make it).
        let mut b = Scripted {
            serves: |_| true,
            ..backend(
                &[Some(("old", true, false)), Some(("mine", true, false))],
                None,
            )
        };
        let done = run(&mut b, plan(false, Until::Final, 60)).await.unwrap();
        assert_eq!(b.started, 1, "the old, ended run was not adopted");
        assert_eq!(done.id.as_deref(), Some("mine"));
        assert_eq!((done.started_here, done.sent), (true, Sent::Accepted));
    }
}
