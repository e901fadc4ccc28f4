//! The process-wide pacer: one slot per [`SlotKey`], shared by every caller in the process
//! and, through the key's record in the folder (`slot_file`), by every process of the user on
//! this machine.
//!
//! - A static map holds one `tokio::sync::Mutex<SlotState>` per key. A caller takes the lock
//!   (FIFO: concurrent callers for the same key queue), waits until the slot is free, sends its
//!   request and records when the response was *received* before releasing the lock. The next
//!   slot opens `interval` (which includes the caller's safety margin) after that moment, so a
//!   slow response cannot make two requests land closer together on the server than allowed.
//! - A 429 additionally pushes a `not_before` instant (Retry-After or the documented window)
//!   that every caller of the key honours.
//! - If the slot would open after the caller's deadline, the caller gets [`PaceError`] at once
//!   instead of sleeping.
//! - A slot dropped without an explicit outcome (the caller's future was cancelled mid-request)
//!   counts as used now: the request may have reached the server.
//! - Across processes: under the key's file lock, a caller merges what other processes
//!   recorded, waits while one of their requests is in flight, and reserves the slot in the
//!   file before it sends. A lock held by another process is waited for (until the deadline),
//!   never skipped: no request leaves unreserved while sharing is on. File work runs on
//!   tokio's blocking threads, never on the async workers.
//! - Reads that others make too may be served by an answer another caller received
//!   ([`acquire_or_answer`], `answers`): while the caller's own slot is not free, an answer
//!   whose request was sent after the caller asked is given to it at once.
//! - Claims ([`acquire_claim`]): an action that must happen once for everyone who asked since
//!   a moment (a Woosmap trigger): a claim accepted since then is answered instead of a slot.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::OwnedMutexGuard;
use tokio::time::Instant;

use crate::answers::{self, AnswerKey, AnswerWish, SharedAnswer};
use crate::slot_file::{self, Bounds, ClaimMark, Outcome, Shared, SlotFile, SlotKey, Unshared};

#[derive(Debug, Default)]
struct SlotState {
    /// When the last response for this key was received (or the request given up).
    last: Option<Instant>,
    /// Nobody may send before this instant (set by a 429).
    not_before: Option<Instant>,
    /// The last accepted claim.
    claimed: Option<ClaimMark>,
}

/// What an acquisition gives.
pub enum Acquired {
    /// The slot is ours: send.
    Slot(Slot),
    /// A claim was accepted (by this process or another sharing the folder) at or after the
    /// claimed moment: do not send; `note` is what its claimer left.
    AlreadyClaimed { note: Option<String> },
    /// The slot is free now, but the caller had to wait for it: the world may have changed
    /// meanwhile, so look again before claiming (then claim again).
    Waited,
    /// An answer received by another caller, sent after this caller asked: use it instead of
    /// sending (see [`acquire_or_answer`]).
    Shared(SharedAnswer),
}

type Slots = Mutex<HashMap<SlotKey, Arc<tokio::sync::Mutex<SlotState>>>>;

static SLOTS: OnceLock<Slots> = OnceLock::new();

fn slot_for(key: &SlotKey) -> Arc<tokio::sync::Mutex<SlotState>> {
    let map = SLOTS.get_or_init(Default::default);
    let mut map = map.lock().unwrap_or_else(|p| p.into_inner());
    map.entry(key.clone()).or_default().clone()
}

/// The slot could not be had before the deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaceError {
    /// When the slot would have opened, if known (`None`: still queued behind another caller,
    /// or another process held the key's lock).
    pub ready_at: Option<Instant>,
}

/// The right to send one request for a key. Record the outcome with one of the methods; a
/// slot dropped without one counts as used at the moment of the drop.
pub struct Slot {
    key: SlotKey,
    guard: Option<OwnedMutexGuard<SlotState>>,
    /// The slot is also reserved in the shared folder.
    shared: Option<Bounds>,
    /// When the slot was taken (the request left right after).
    taken_at: Instant,
}

impl Slot {
    /// A response (of any status) was received now.
    pub async fn received(mut self) {
        self.finish(Outcome::Received, None).await;
    }

    /// An answer that other callers may use was received now (see `answers`); it is written
    /// to the folder under this key's lock.
    pub async fn answered(mut self, key: AnswerKey, answer: SharedAnswer) {
        self.finish(Outcome::Received, Some((key, answer))).await;
    }

    /// The request surely never reached the server (e.g. connection refused): the slot stays
    /// as it was.
    pub async fn not_sent(mut self) {
        self.finish(Outcome::NotSent, None).await;
    }

    /// A 429 was received now: nobody sends for this key before `now + wait`. The refused
    /// request itself is not counted as a use of the window. `retry_after`: the wait comes
    /// from the server's `Retry-After` (other processes accept up to
    /// [`crate::RETRY_AFTER_CAP`] of it) rather than the documented window.
    pub async fn rate_limited(mut self, wait: Duration, retry_after: bool) {
        self.finish(Outcome::Held { wait, retry_after }, None).await;
    }

    /// The server accepted this request as the claim (answered now); `note` is left for the
    /// others. Callers that claimed a moment at or before this request's departure then
    /// follow it instead of claiming again.
    pub async fn claimed(mut self, note: Option<String>) {
        if let Some(g) = self.guard.as_mut() {
            g.claimed = Some(ClaimMark {
                at: self.taken_at,
                note: note.clone(),
            });
        }
        let sent = self.taken_at;
        self.finish(Outcome::Claimed { sent, note }, None).await;
    }

    /// Records the outcome here, then in the folder on a blocking thread, and waits for it
    /// (so that a process that ends right after has recorded it).
    async fn finish(&mut self, outcome: Outcome, answer: Option<(AnswerKey, SharedAnswer)>) {
        if let Some(work) = self.settle(outcome, answer) {
            let _ = tokio::task::spawn_blocking(work).await;
        }
    }

    /// Records the outcome in this process; returns the folder's share of the work, which
    /// releases the in-process slot once the record is written (so the next caller of this
    /// process reads it).
    fn settle(
        &mut self,
        outcome: Outcome,
        answer: Option<(AnswerKey, SharedAnswer)>,
    ) -> Option<impl FnOnce() + Send + 'static> {
        let mut g = self.guard.take()?;
        let now = Instant::now();
        match &outcome {
            Outcome::Received | Outcome::Claimed { .. } => g.last = Some(now),
            Outcome::NotSent => {}
            Outcome::Held { wait, .. } => {
                let until = now + *wait;
                g.not_before = Some(g.not_before.map_or(until, |nb| nb.max(until)));
            }
        }
        let bounds = self.shared?;
        let key = self.key.clone();
        Some(move || {
            record(&key, bounds, outcome, answer);
            drop(g);
        })
    }
}

impl Drop for Slot {
    /// Dropped without an outcome (the caller's future was cancelled mid-request): used now.
    fn drop(&mut self) {
        if let Some(work) = self.settle(Outcome::Received, None) {
            blocking(work);
        }
    }
}

/// Runs file work on tokio's blocking threads when there is a runtime, else here.
fn blocking(work: impl FnOnce() + Send + 'static) {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => drop(handle.spawn_blocking(work)),
        Err(_) => work(),
    }
}

/// Records how this process's request for `key` ended (blocking).
fn record(
    key: &SlotKey,
    bounds: Bounds,
    outcome: Outcome,
    answer: Option<(AnswerKey, SharedAnswer)>,
) {
    // Recording must not wait forever behind a stuck process; a record not written leaves
    // this process's reservation, which ends with the process or its request timeout.
    let give_up = std::time::Instant::now() + bounds.request_limit;
    let Ok(file) = slot_file::lock(key, give_up, bounds) else {
        return;
    };
    if let (Some((answer_key, shared)), Some(dir)) = (answer, file.dir()) {
        answers::store(dir, &answer_key, &shared);
    }
    file.record(outcome);
}

/// How often a caller looks again while another process's request for its key is in flight.
const INFLIGHT_POLL: Duration = Duration::from_millis(20);

/// What a caller wants besides a slot.
#[derive(Debug, Clone, Default)]
struct Wants {
    /// A claim on behalf of callers since this instant, looking again after this long.
    claim: Option<(Instant, Duration)>,
    /// An answer another caller received.
    wish: Option<AnswerWish>,
}

/// Pacing parameters of one acquisition.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// Spacing between two requests, from the previous response.
    pub interval: Duration,
    /// The documented window: the longest hold-off a 429 without `Retry-After` justifies.
    pub window: Duration,
    /// The longest a request may be in flight (another process's reservation is honoured at
    /// most this long).
    pub request_limit: Duration,
}

/// Waits for the key's next slot: at least `interval` after the last recorded response (in
/// this process or any process sharing the folder), not before any hold-off, and not while
/// another process's request for the key is in flight; then reserves it, in the folder too,
/// before returning. Fails at once if the slot lies past `deadline`, or if queueing behind
/// other callers (or another process's lock) lasts until the deadline.
pub async fn acquire(key: &SlotKey, pace: Pace, deadline: Instant) -> Result<Slot, PaceError> {
    match acquire_with(key, pace, deadline, true, Wants::default()).await? {
        Acquired::Slot(slot) => Ok(slot),
        _ => unreachable!("no claim was made, no answer wished"),
    }
}

/// [`acquire`] for a read that may be served by another caller's answer (`wish`; `None`:
/// [`acquire`] exactly): while this caller's slot is not free, an answer recorded whose
/// request was sent after `wish.asked` is returned as [`Acquired::Shared`] instead. While
/// another process's request is in flight, looks again until the deadline (its answer may
/// serve). Answers `Slot` or `Shared`.
pub async fn acquire_or_answer(
    key: &SlotKey,
    pace: Pace,
    deadline: Instant,
    wish: Option<&AnswerWish>,
) -> Result<Acquired, PaceError> {
    let wants = Wants {
        claim: None,
        wish: wish.cloned(),
    };
    acquire_with(key, pace, deadline, true, wants).await
}

/// [`acquire`] for a claim on behalf of callers since `since`: if a claim of the key was
/// accepted at or after `since` (here or in another process), or gets accepted while this
/// caller waits, answers `AlreadyClaimed`. While the slot is not free, answers `Waited` after
/// at most `recheck`, so that the caller looks at the world again rather than sleeping out a
/// whole window.
pub async fn acquire_claim(
    key: &SlotKey,
    pace: Pace,
    deadline: Instant,
    since: Instant,
    recheck: Duration,
) -> Result<Acquired, PaceError> {
    let wants = Wants {
        claim: Some((since, recheck)),
        wish: None,
    };
    acquire_with(key, pace, deadline, true, wants).await
}

/// A key's record locked, what it says, and the wished answer found beside it.
type Looked = (Option<SlotFile>, Shared, Option<SharedAnswer>);

/// Locks and reads the key's record on a blocking thread (`Err`: the lock stayed busy until
/// the deadline).
async fn look(
    key: &SlotKey,
    pace: Pace,
    deadline: Instant,
    wish: Option<&AnswerWish>,
) -> Result<Looked, PaceError> {
    let give_up = std::time::Instant::now() + deadline.saturating_duration_since(Instant::now());
    let bounds = Bounds {
        window: pace.window,
        request_limit: pace.request_limit,
    };
    let (key, wish) = (key.clone(), wish.cloned());
    let work = move || match slot_file::lock(&key, give_up, bounds) {
        Ok(mut file) => {
            let shared = file.shared();
            let answer = wish
                .zip(file.dir())
                .and_then(|(wish, dir)| answers::load(dir, &wish.key).filter(|a| wish.accepts(a)));
            Ok((Some(file), shared, answer))
        }
        Err(Unshared::Off) => Ok((None, Shared::default(), None)),
        Err(Unshared::Busy) => Err(PaceError { ready_at: None }),
    };
    match tokio::task::spawn_blocking(work).await {
        Ok(looked) => looked,
        Err(_) => Ok((None, Shared::default(), None)),
    }
}

/// What to do after one look.
enum Step {
    Done(Result<Acquired, PaceError>),
    /// Sleep until then and look again; `Waited` afterwards if the flag says so.
    Sleep(Instant, bool),
    Reserve(Option<SlotFile>),
}

async fn acquire_with(
    key: &SlotKey,
    pace: Pace,
    deadline: Instant,
    share: bool,
    wants: Wants,
) -> Result<Acquired, PaceError> {
    let slot = slot_for(key);
    let mut guard = match tokio::time::timeout_at(deadline, slot.lock_owned()).await {
        Ok(g) => g,
        Err(_) => return Err(PaceError { ready_at: None }),
    };
    let mut waited = false;
    loop {
        let (file, other, answer) = if share && key.service.dir().is_some() {
            look(key, pace, deadline, wants.wish.as_ref()).await?
        } else {
            (None, Shared::default(), None)
        };
        merge(&mut guard, &other);
        match step(
            &guard, key, pace, deadline, &wants, file, &other, answer, waited,
        ) {
            Step::Done(result) => return result,
            Step::Sleep(until, then_waited) => {
                waited = true;
                tokio::time::sleep_until(until).await;
                if then_waited {
                    return Ok(Acquired::Waited);
                }
            }
            Step::Reserve(file) => {
                let shared = file.is_some().then_some(Bounds {
                    window: pace.window,
                    request_limit: pace.request_limit,
                });
                if let Some(file) = file {
                    let limit = pace.request_limit;
                    // A reservation that cannot be written: warned about; paced in-process.
                    let _ = tokio::task::spawn_blocking(move || file.reserve(limit)).await;
                }
                return Ok(Acquired::Slot(Slot {
                    key: key.clone(),
                    guard: Some(guard),
                    shared,
                    taken_at: Instant::now(),
                }));
            }
        }
    }
}

fn merge(state: &mut SlotState, other: &Shared) {
    state.last = state.last.max(other.last);
    state.not_before = state.not_before.max(other.not_before);
    if let Some(mark) = &other.claimed
        && state.claimed.as_ref().is_none_or(|m| m.at < mark.at)
    {
        state.claimed = Some(mark.clone());
    }
}

/// One decision of [`acquire_with`], on what this process and the folder say.
#[allow(clippy::too_many_arguments)]
fn step(
    state: &SlotState,
    key: &SlotKey,
    pace: Pace,
    deadline: Instant,
    wants: &Wants,
    file: Option<SlotFile>,
    other: &Shared,
    answer: Option<SharedAnswer>,
    waited: bool,
) -> Step {
    let since = wants.claim.map(|(since, _)| since);
    if let Some(since) = since
        && let Some(mark) = state.claimed.as_ref().filter(|m| m.at >= since)
    {
        return Step::Done(Ok(Acquired::AlreadyClaimed {
            note: mark.note.clone(),
        }));
    }
    let now = Instant::now();
    let ready = ready_at(state, pace.interval);
    let must_wait = other.inflight_until.is_some() || ready.is_some_and(|r| r > now);
    if must_wait && let Some(answer) = answer {
        tracing::trace!(scope = %key.scope, "pacing: using an answer another caller received");
        return Step::Done(Ok(Acquired::Shared(answer)));
    }
    if let Some(busy_until) = other.inflight_until {
        // Another process's request is in flight: our window starts at its answer.
        let earliest = ready.map_or(now, |r| r.max(now)) + pace.interval;
        // With an answer wished for, the request in flight may serve this caller.
        let give_up = if wants.wish.is_some() {
            now >= deadline
        } else {
            earliest > deadline
        };
        if give_up {
            return Step::Done(Err(PaceError {
                ready_at: Some(earliest),
            }));
        }
        return Step::Sleep(busy_until.min(now + INFLIGHT_POLL).min(deadline), false);
    }
    match ready {
        Some(ready) if ready > now => {
            if ready > deadline {
                return Step::Done(Err(PaceError {
                    ready_at: Some(ready),
                }));
            }
            tracing::trace!(
                scope = %key.scope,
                route = key.route,
                wait_ms = (ready - now).as_millis() as u64,
                "pacing: waiting for the next slot"
            );
            // Look again afterwards: another process may have taken the slot meanwhile. A
            // claim is told to look at the world again after `recheck` at most.
            match wants.claim {
                Some((_, recheck)) => match now.checked_add(recheck) {
                    Some(t) if t < ready => Step::Sleep(t, true),
                    _ => Step::Sleep(ready, false),
                },
                None => Step::Sleep(ready, false),
            }
        }
        _ if waited && since.is_some() => Step::Done(Ok(Acquired::Waited)),
        _ => Step::Reserve(file),
    }
}

fn ready_at(state: &SlotState, interval: Duration) -> Option<Instant> {
    let after_last = state.last.map(|l| l + interval);
    match (after_last, state.not_before) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests;
