//! The process-wide pacer: one slot per (base URL, dataset, endpoint kind), shared by every
//! `Client` (and every clone) in the process, so that our own calls never exceed Woosmap's
//! published rate limits however many front ends, resources or datasets run at once.
//!
//! Design:
//! - A static map holds one `tokio::sync::Mutex<SlotState>` per key. A caller takes the lock
//!   (FIFO: concurrent callers for the same key queue), waits until the slot is free, sends its
//!   request and records when the response was *received* before releasing the lock. The next
//!   slot opens `interval` (which includes the caller's safety margin) after that moment, so a
//!   slow response cannot make two requests land closer together on the server than allowed.
//! - A 429 additionally pushes a `not_before` instant (Retry-After or the documented window)
//!   that every caller of the key honours.
//! - If the slot would open after the caller's deadline, the caller gets `PaceError` at once
//!   instead of sleeping.
//! - A slot dropped without an explicit outcome (the caller's future was cancelled mid-request)
//!   counts as used now: the request may have reached the server.
//! - Across processes, the same rules hold through `pacer_file`: under the key's file lock,
//!   a caller merges what other processes recorded, waits while one of their requests is in
//!   flight, and reserves the slot in the file before it sends.
//! - Status reads ([`acquire_status`]) may be served instead by an answer another caller
//!   received (`status_share`): while the caller's own slot is not free, an answer whose
//!   request was sent after the caller asked is given to it at once. (A caller may thus see
//!   answers more often than its own interval when another caller polls faster; that costs
//!   the API nothing.)

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::OwnedMutexGuard;
use tokio::time::Instant;

use super::pacer_file;
use super::status_share::{self, AnswerKey, AnswerWish, SharedAnswer};
use super::types::DatasetId;

/// Which rate limit a request counts against. Both trigger endpoints share one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum PaceKind {
    Trigger,
    Status,
    /// The dataset management endpoints (`datasets.rs`), one slot per endpoint whatever the
    /// dataset (their keys use the nil dataset id).
    DatasetCreate,
    DatasetList,
    DatasetRead,
    DatasetUpdate,
    DatasetDelete,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct PaceKey {
    pub base_url: Arc<str>,
    pub dataset: DatasetId,
    pub kind: PaceKind,
}

#[derive(Debug, Default)]
struct SlotState {
    /// When the last response for this key was received (or the request given up).
    last: Option<Instant>,
    /// Nobody may send before this instant (set by a 429).
    not_before: Option<Instant>,
    /// The last trigger that Woosmap accepted, for `Trigger` keys.
    triggered: Option<TriggerMark>,
}

/// A trigger accepted by Woosmap: when it was sent and the run that was latest before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TriggerMark {
    pub at: Instant,
    pub previous_run_id: Option<String>,
}

/// What [`acquire_trigger`] gives.
pub(crate) enum Acquired {
    /// The slot is ours: send.
    Slot(Slot),
    /// A trigger was sent (by this process or another sharing the folder) at or after the
    /// claimed moment: do not send; follow the run that replaces `previous_run_id`.
    AlreadyTriggered { previous_run_id: Option<String> },
    /// The slot is free now, but the caller had to wait for it: an import may have started
    /// meanwhile, so look at the status again before triggering (then claim again).
    Waited,
    /// A status answer received by another caller, sent after this caller asked: use it
    /// instead of sending (see [`acquire_status`]).
    Shared(SharedAnswer),
}

type Slots = Mutex<HashMap<PaceKey, Arc<tokio::sync::Mutex<SlotState>>>>;

static SLOTS: OnceLock<Slots> = OnceLock::new();

fn slot_for(key: &PaceKey) -> Arc<tokio::sync::Mutex<SlotState>> {
    let map = SLOTS.get_or_init(Default::default);
    let mut map = map.lock().unwrap_or_else(|p| p.into_inner());
    map.entry(key.clone()).or_default().clone()
}

/// The slot could not be had before the deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PaceError {
    /// When the slot would have opened, if known (`None`: still queued behind another caller).
    pub ready_at: Option<Instant>,
}

/// The right to send one request for a key. Record the outcome with one of the methods; a
/// slot dropped without one counts as used at the moment of the drop.
pub(crate) struct Slot {
    key: PaceKey,
    guard: Option<OwnedMutexGuard<SlotState>>,
    /// The slot is also reserved in the shared folder (see `pacer_file`).
    shared: bool,
    /// When the slot was taken (the request left right after).
    taken_at: Instant,
}

impl Slot {
    /// A response (of any status) was received now.
    pub fn received(mut self) {
        self.finish(pacer_file::Outcome::Received);
    }

    /// A status answer that other callers may use was received now (see `status_share`).
    pub fn answered(mut self, key: AnswerKey, answer: SharedAnswer) {
        self.finish(pacer_file::Outcome::Answered(Box::new((key, answer))));
    }

    /// The request surely never reached the server (e.g. connection refused): the slot stays
    /// as it was.
    pub fn not_sent(mut self) {
        self.finish(pacer_file::Outcome::NotSent);
    }

    /// A 429 was received now: nobody sends for this key before `now + wait`. The refused
    /// request itself is not counted as a use of the window (the server did not act on it), so
    /// a short `Retry-After` from the server is honoured as such. `retry_after`: the wait comes
    /// from the server's `Retry-After` (other processes accept up to 15 min of it) rather than
    /// the documented window.
    pub fn rate_limited(mut self, wait: Duration, retry_after: bool) {
        self.finish(pacer_file::Outcome::Held { wait, retry_after });
    }

    /// Woosmap accepted this trigger (answered now); `previous_run_id` was the latest run
    /// before it. Other callers that claimed a moment at or before this request's departure
    /// then follow its run instead of triggering again.
    pub fn triggered(mut self, previous_run_id: Option<String>) {
        let sent_wall = std::time::SystemTime::now()
            .checked_sub(self.taken_at.elapsed())
            .unwrap_or(std::time::UNIX_EPOCH);
        if let Some(g) = self.guard.as_mut() {
            g.triggered = Some(TriggerMark {
                at: self.taken_at,
                previous_run_id: previous_run_id.clone(),
            });
        }
        self.finish(pacer_file::Outcome::Triggered {
            sent: sent_wall,
            previous_run_id,
        });
    }

    fn finish(&mut self, outcome: pacer_file::Outcome) {
        let Some(mut g) = self.guard.take() else {
            return;
        };
        let now = Instant::now();
        match &outcome {
            pacer_file::Outcome::Received
            | pacer_file::Outcome::Answered(_)
            | pacer_file::Outcome::Triggered { .. } => g.last = Some(now),
            pacer_file::Outcome::NotSent => {}
            pacer_file::Outcome::Held { wait, .. } => {
                let until = now + *wait;
                g.not_before = Some(g.not_before.map_or(until, |nb| nb.max(until)));
            }
        }
        if self.shared {
            pacer_file::record(&self.key, outcome);
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.finish(pacer_file::Outcome::Received);
    }
}

/// How often a caller looks again while another process's request for its key is in flight.
const INFLIGHT_POLL: Duration = Duration::from_millis(20);

/// Waits for the key's next slot: at least `interval` after the last recorded response (in
/// this process or any process sharing the pacer folder), not before any `not_before`, and not
/// while another process's request for the key is in flight; then reserves it, in the shared
/// folder too, before returning. `request_limit` bounds how long another process's
/// reservation is honoured. Fails at once if the slot lies past `deadline`, or if queueing
/// behind other callers lasts until the deadline.
pub(crate) async fn acquire(
    key: &PaceKey,
    interval: Duration,
    request_limit: Duration,
    deadline: Instant,
) -> Result<Slot, PaceError> {
    match acquire_with(key, interval, request_limit, deadline, true, None, None).await? {
        Acquired::Slot(slot) => Ok(slot),
        Acquired::AlreadyTriggered { .. } | Acquired::Waited | Acquired::Shared(_) => {
            unreachable!("no claim was made, no answer wished")
        }
    }
}

/// [`acquire`] for a status read that may be served by another caller's answer (`wish`;
/// `None`: [`acquire`] exactly): while this caller's slot is not free (the window not over, a
/// hold-off, a request of another process in flight), an answer recorded in the folder whose
/// request was sent after `wish.asked` is returned as [`Acquired::Shared`] instead of waiting.
/// While another process's request is in flight, looks again until the deadline (its answer
/// may serve), instead of failing at once when the slot after it lies past the deadline.
/// Answers `Slot` or `Shared`.
pub(crate) async fn acquire_status(
    key: &PaceKey,
    interval: Duration,
    request_limit: Duration,
    deadline: Instant,
    wish: Option<&AnswerWish>,
) -> Result<Acquired, PaceError> {
    acquire_with(key, interval, request_limit, deadline, true, None, wish).await
}

/// [`acquire`] for a trigger on behalf of an invocation that began at `since`: if a trigger
/// of the key was accepted at or after `since` (in this process or another one sharing the
/// folder), or gets accepted while this caller waits, answers `AlreadyTriggered` instead of a
/// slot. While the slot is not free, answers `Waited` after at most `recheck` (a status
/// window): the import of the trigger that holds the slot may show meanwhile and serve this
/// invocation, so the caller looks at the status again rather than sleeping out the whole
/// trigger window.
pub(crate) async fn acquire_trigger(
    key: &PaceKey,
    interval: Duration,
    request_limit: Duration,
    deadline: Instant,
    since: Instant,
    recheck: Duration,
) -> Result<Acquired, PaceError> {
    acquire_with(
        key,
        interval,
        request_limit,
        deadline,
        true,
        Some((since, recheck)),
        None,
    )
    .await
}

/// A shared answer `wish` accepts, read from the folder (the caller holds the key's lock).
fn shared_answer(wish: Option<&AnswerWish>, locked: bool) -> Option<SharedAnswer> {
    let wish = wish.filter(|_| locked)?;
    let dir = pacer_file::dir()?;
    status_share::load(dir, &wish.key).filter(|answer| wish.accepts(answer))
}

#[allow(clippy::too_many_arguments)]
async fn acquire_with(
    key: &PaceKey,
    interval: Duration,
    request_limit: Duration,
    deadline: Instant,
    share: bool,
    claim: Option<(Instant, Duration)>,
    wish: Option<&AnswerWish>,
) -> Result<Acquired, PaceError> {
    let since = claim.map(|(since, _)| since);
    let slot = slot_for(key);
    let mut guard = match tokio::time::timeout_at(deadline, slot.lock_owned()).await {
        Ok(g) => g,
        Err(_) => return Err(PaceError { ready_at: None }),
    };
    let mut waited = false;
    loop {
        let mut file = if share {
            pacer_file::lock(key).await
        } else {
            None
        };
        let other = file
            .as_mut()
            .map(|f| f.shared(interval, request_limit))
            .unwrap_or_default();
        guard.last = guard.last.max(other.last);
        guard.not_before = guard.not_before.max(other.not_before);
        if let Some(mark) = other.triggered
            && guard.triggered.as_ref().is_none_or(|m| m.at < mark.at)
        {
            guard.triggered = Some(mark);
        }
        if let Some(since) = since
            && let Some(mark) = guard.triggered.as_ref().filter(|m| m.at >= since)
        {
            return Ok(Acquired::AlreadyTriggered {
                previous_run_id: mark.previous_run_id.clone(),
            });
        }
        let now = Instant::now();
        let must_wait =
            other.inflight_until.is_some() || ready_at(&guard, interval).is_some_and(|r| r > now);
        if must_wait && let Some(answer) = shared_answer(wish, file.is_some()) {
            // Another caller's answer, sent after this one asked: as fresh as it needs.
            drop(file);
            tracing::trace!(
                dataset_id = %key.dataset,
                "pacing: using a status answer another caller received"
            );
            return Ok(Acquired::Shared(answer));
        }
        if let Some(busy_until) = other.inflight_until {
            // Another process's request is in flight: our window starts at its answer.
            drop(file);
            let earliest = ready_at(&guard, interval).map_or(now, |r| r.max(now)) + interval;
            // With an answer wished for, the request in flight may serve this caller: keep
            // looking until the deadline rather than giving up on the window after it.
            let give_up = if wish.is_some() {
                now >= deadline
            } else {
                earliest > deadline
            };
            if give_up {
                return Err(PaceError {
                    ready_at: Some(earliest),
                });
            }
            waited = true;
            tokio::time::sleep_until(busy_until.min(now + INFLIGHT_POLL).min(deadline)).await;
            continue;
        }
        match ready_at(&guard, interval) {
            Some(ready) if ready > now => {
                drop(file);
                if ready > deadline {
                    return Err(PaceError {
                        ready_at: Some(ready),
                    });
                }
                tracing::trace!(
                    dataset_id = %key.dataset,
                    kind = ?key.kind,
                    wait_ms = (ready - now).as_millis() as u64,
                    "pacing: waiting for the next slot"
                );
                // Look again afterwards: another process may have taken the slot meanwhile.
                // A trigger claim is told to look at the status again after `recheck` at most.
                waited = true;
                let until = match claim {
                    Some((_, recheck)) => now.checked_add(recheck).map_or(ready, |t| ready.min(t)),
                    None => ready,
                };
                tokio::time::sleep_until(until).await;
                if until < ready {
                    return Ok(Acquired::Waited);
                }
            }
            _ if waited && since.is_some() => return Ok(Acquired::Waited),
            _ => {
                let shared = file.is_some();
                if let Some(file) = file {
                    file.reserve(request_limit);
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

fn ready_at(state: &SlotState, interval: Duration) -> Option<Instant> {
    let after_last = state.last.map(|l| l + interval);
    match (after_last, state.not_before) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kind: PaceKind) -> PaceKey {
        PaceKey {
            base_url: Arc::from("http://pacer.test"),
            dataset: DatasetId::parse(&uuid_v4()).unwrap(),
            kind,
        }
    }

    /// The in-process pacer alone (the tokio clock is paused here; the shared files, on the
    /// wall clock, are tested in `pacer_file` and across real processes in `tests/`).
    async fn local(k: &PaceKey, interval: Duration, deadline: Instant) -> Result<Slot, PaceError> {
        match acquire_with(
            k,
            interval,
            Duration::from_secs(30),
            deadline,
            false,
            None,
            None,
        )
        .await?
        {
            Acquired::Slot(slot) => Ok(slot),
            Acquired::AlreadyTriggered { .. } | Acquired::Waited | Acquired::Shared(_) => {
                panic!("no claim was made")
            }
        }
    }

    /// A claim that sleeps out the whole window.
    const NO_RECHECK: Duration = Duration::MAX;

    #[tokio::test(start_paused = true)]
    async fn a_claim_waiting_for_the_slot_looks_again_after_each_recheck() {
        let k = key(PaceKind::Trigger);
        let far = Instant::now() + Duration::from_secs(3600);
        let window = Duration::from_secs(90);
        let claim = |since, recheck| {
            acquire_with(
                &k,
                window,
                Duration::from_secs(30),
                far,
                false,
                Some((since, recheck)),
                None,
            )
        };
        let Acquired::Slot(slot) = claim(Instant::now(), NO_RECHECK).await.unwrap() else {
            panic!("nothing was triggered yet")
        };
        slot.triggered(None);
        tokio::time::sleep(Duration::from_millis(1)).await;
        let t0 = Instant::now();
        let recheck = Duration::from_secs(5);
        assert!(matches!(
            claim(t0, recheck).await.unwrap(),
            Acquired::Waited
        ));
        assert_eq!(
            Instant::now() - t0,
            recheck,
            "looks again after one recheck"
        );
        // Near the end of the window, the wait stops at the slot, which is then free.
        tokio::time::sleep(window - recheck - Duration::from_secs(1)).await;
        assert!(matches!(
            claim(t0, recheck).await.unwrap(),
            Acquired::Waited
        ));
        assert!(matches!(
            claim(t0, recheck).await.unwrap(),
            Acquired::Slot(_)
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn a_trigger_sent_since_the_claim_is_not_repeated() {
        let k = key(PaceKind::Trigger);
        let far = Instant::now() + Duration::from_secs(3600);
        let before = Instant::now();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let since = Instant::now();
        let first = acquire_with(
            &k,
            Duration::from_secs(90),
            Duration::from_secs(30),
            far,
            false,
            Some((since, NO_RECHECK)),
            None,
        );
        let Acquired::Slot(slot) = first.await.unwrap() else {
            panic!("nothing was triggered yet")
        };
        slot.triggered(Some("run-0".into()));
        // A claim from before the trigger was sent is served by it, at once.
        for claim in [since, before] {
            let again = acquire_with(
                &k,
                Duration::from_secs(90),
                Duration::from_secs(30),
                far,
                false,
                Some((claim, NO_RECHECK)),
                None,
            );
            match again.await.unwrap() {
                Acquired::AlreadyTriggered { previous_run_id } => {
                    assert_eq!(previous_run_id.as_deref(), Some("run-0"))
                }
                Acquired::Slot(_) | Acquired::Waited | Acquired::Shared(_) => {
                    panic!("triggered twice")
                }
            }
        }
        assert_eq!(Instant::now(), since);
        // A claim from after it waits for the window, then is told to look again (an import
        // may have started meanwhile); claiming again once the window is open gets the slot.
        let later = Instant::now() + Duration::from_millis(1);
        tokio::time::sleep(Duration::from_millis(1)).await;
        let claim = || {
            acquire_with(
                &k,
                Duration::from_secs(90),
                Duration::from_secs(30),
                far,
                false,
                Some((later, NO_RECHECK)),
                None,
            )
        };
        assert!(matches!(claim().await.unwrap(), Acquired::Waited));
        assert!(Instant::now() - since >= Duration::from_secs(90));
        let waited_until = Instant::now();
        assert!(matches!(claim().await.unwrap(), Acquired::Slot(_)));
        assert_eq!(Instant::now(), waited_until, "no second wait");
    }

    /// Shared status answers, through the (test) pacer folder on the wall clock: a call that
    /// asked before an answer's request left takes it instead of waiting for its slot; a call
    /// that asked later, or for another dataset or key, does not.
    #[tokio::test]
    async fn status_answers_serve_only_calls_that_asked_before_they_were_sent() {
        use std::time::SystemTime;

        use crate::secret::Secret;

        let k = key(PaceKind::Status);
        let (interval, limit) = (Duration::from_secs(5), Duration::from_secs(30));
        let far = Instant::now() + Duration::from_secs(60);
        let secret = Secret::new("a-private-key");
        let answers = AnswerKey::new(&k.base_url, &secret, &k.dataset);
        let wish = |key: &AnswerKey| AnswerWish::now(key.clone());
        let early = wish(&answers);
        tokio::time::sleep(Duration::from_millis(2)).await;
        let Acquired::Slot(slot) = acquire_status(&k, interval, limit, far, Some(&early))
            .await
            .unwrap()
        else {
            panic!("nothing to share yet: the first call reads")
        };
        let (sent, sent_mono) = (SystemTime::now(), status_share::mono_now());
        tokio::time::sleep(Duration::from_millis(2)).await;
        let late = wish(&answers);
        let body = br#"{"id":"run-1","status":"in_progress","steps":[]}"#.to_vec();
        slot.answered(
            answers.clone(),
            SharedAnswer {
                sent,
                sent_mono,
                received: SystemTime::now(),
                status: 200,
                date: None,
                body: body.clone(),
            },
        );

        // Asked before that read left: served at once instead of waiting 5 s.
        let t0 = Instant::now();
        match acquire_status(&k, interval, limit, far, Some(&early)).await {
            Ok(Acquired::Shared(answer)) => assert_eq!(answer.body, body),
            _ => panic!("the shared answer was not used"),
        }
        assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());

        // Asked after it left (it is older than what this call wants), another key, another
        // dataset whose own slot is busy, or no wish at all: no answer, the slot is too late.
        let soon = || Instant::now() + Duration::from_millis(200);
        let other_key = AnswerWish {
            key: AnswerKey::new(&k.base_url, &Secret::new("another-key"), &k.dataset),
            ..early.clone()
        };
        for (what, w) in [("asked later", &late), ("another key", &other_key)] {
            let got = acquire_status(&k, interval, limit, soon(), Some(w)).await;
            assert!(
                matches!(got, Err(PaceError { ready_at: Some(_) })),
                "{what}"
            );
        }
        let k2 = key(PaceKind::Status);
        acquire_status(&k2, interval, limit, far, None)
            .await
            .ok()
            .unwrap();
        let elsewhere = AnswerWish {
            key: AnswerKey::new(&k2.base_url, &secret, &k2.dataset),
            ..early.clone()
        };
        let got = acquire_status(&k2, interval, limit, soon(), Some(&elsewhere)).await;
        assert!(matches!(got, Err(PaceError { .. })), "another dataset");
        assert!(
            acquire(&k, interval, limit, soon()).await.is_err(),
            "no wish"
        );
    }

    fn uuid_v4() -> String {
        format!("{:032x}", fastrand::u128(..))
    }

    #[tokio::test(start_paused = true)]
    async fn first_call_is_immediate_then_spaced_from_receipt() {
        let k = key(PaceKind::Status);
        let far = Instant::now() + Duration::from_secs(3600);
        let t0 = Instant::now();
        let s = local(&k, Duration::from_secs(5), far).await.unwrap();
        assert_eq!(Instant::now(), t0);
        // the response takes 2 s to arrive
        tokio::time::sleep(Duration::from_secs(2)).await;
        s.received();
        let _s = local(&k, Duration::from_secs(5), far).await.unwrap();
        assert_eq!(Instant::now() - t0, Duration::from_secs(7));
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_queue() {
        let k = key(PaceKind::Trigger);
        let far = Instant::now() + Duration::from_secs(3600);
        let t0 = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..3 {
            let k = k.clone();
            tasks.push(tokio::spawn(async move {
                let s = local(&k, Duration::from_secs(10), far).await.unwrap();
                let at = Instant::now();
                s.received();
                at - t0
            }));
        }
        let mut times = Vec::new();
        for t in tasks {
            times.push(t.await.unwrap());
        }
        times.sort();
        assert_eq!(
            times,
            vec![
                Duration::ZERO,
                Duration::from_secs(10),
                Duration::from_secs(20)
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn deadline_fails_fast_without_sleeping() {
        let k = key(PaceKind::Status);
        let t0 = Instant::now();
        local(&k, Duration::from_secs(5), t0 + Duration::from_secs(60))
            .await
            .unwrap()
            .received();
        let err = local(&k, Duration::from_secs(5), t0 + Duration::from_secs(3))
            .await
            .err()
            .unwrap();
        assert_eq!(err.ready_at, Some(t0 + Duration::from_secs(5)));
        assert_eq!(
            Instant::now(),
            t0,
            "must not sleep when the slot is too late"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn not_sent_keeps_slot_and_429_pushes_it() {
        let k = key(PaceKind::Trigger);
        let far = Instant::now() + Duration::from_secs(3600);
        let t0 = Instant::now();
        local(&k, Duration::from_secs(90), far)
            .await
            .unwrap()
            .not_sent();
        let s = local(&k, Duration::from_secs(90), far).await.unwrap();
        assert_eq!(Instant::now(), t0, "a request never sent uses no slot");
        s.rate_limited(Duration::from_secs(120), false);
        let s = local(&k, Duration::from_secs(90), far).await.unwrap();
        assert_eq!(Instant::now() - t0, Duration::from_secs(120));
        drop(s); // dropped mid-request: counts as used now
        let _s = local(&k, Duration::from_secs(90), far).await.unwrap();
        assert_eq!(Instant::now() - t0, Duration::from_secs(210));
    }

    #[tokio::test(start_paused = true)]
    async fn keys_are_independent() {
        let a = key(PaceKind::Status);
        let mut b = a.clone();
        b.kind = PaceKind::Trigger;
        let far = Instant::now() + Duration::from_secs(3600);
        let t0 = Instant::now();
        local(&a, Duration::from_secs(5), far)
            .await
            .unwrap()
            .received();
        local(&b, Duration::from_secs(5), far)
            .await
            .unwrap()
            .received();
        assert_eq!(Instant::now(), t0);
    }
}
