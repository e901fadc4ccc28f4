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

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::OwnedMutexGuard;
use tokio::time::Instant;

use super::pacer_file;
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
}

/// Shares the slot's state with other processes (see `pacer_file`).
fn publish(key: &PaceKey, state: &SlotState) {
    pacer_file::store(
        key,
        pacer_file::Recorded {
            last: state.last,
            not_before: state.not_before,
        },
    );
}

impl Slot {
    /// A response (of any status) was received now.
    pub fn received(mut self) {
        if let Some(mut g) = self.guard.take() {
            g.last = Some(Instant::now());
            publish(&self.key, &g);
        }
    }

    /// The request surely never reached the server (e.g. connection refused): the slot stays
    /// as it was.
    pub fn not_sent(mut self) {
        self.guard.take();
    }

    /// A 429 was received now: nobody sends for this key before `now + wait`. The refused
    /// request itself is not counted as a use of the window (the server did not act on it), so
    /// a short `Retry-After` from the server is honoured as such.
    pub fn rate_limited(mut self, wait: Duration) {
        if let Some(mut g) = self.guard.take() {
            let until = Instant::now() + wait;
            g.not_before = Some(g.not_before.map_or(until, |nb| nb.max(until)));
            publish(&self.key, &g);
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(mut g) = self.guard.take() {
            g.last = Some(Instant::now());
            publish(&self.key, &g);
        }
    }
}

/// Waits for the key's next slot: at least `interval` after the last recorded response and not
/// before any `not_before`. Fails at once if that lies past `deadline`, or if queueing behind
/// other callers lasts until the deadline.
pub(crate) async fn acquire(
    key: &PaceKey,
    interval: Duration,
    deadline: Instant,
) -> Result<Slot, PaceError> {
    let slot = slot_for(key);
    let mut guard = match tokio::time::timeout_at(deadline, slot.lock_owned()).await {
        Ok(g) => g,
        Err(_) => return Err(PaceError { ready_at: None }),
    };
    // Another process (an earlier Terraform walk, a previous CLI call) may have used the slot.
    let other = pacer_file::load(key);
    guard.last = guard.last.max(other.last);
    guard.not_before = guard.not_before.max(other.not_before);
    let ready = ready_at(&guard, interval);
    if let Some(ready) = ready {
        if ready > deadline {
            return Err(PaceError {
                ready_at: Some(ready),
            });
        }
        if ready > Instant::now() {
            tracing::trace!(
                dataset_id = %key.dataset,
                kind = ?key.kind,
                wait_ms = (ready - Instant::now()).as_millis() as u64,
                "pacing: waiting for the next slot"
            );
            tokio::time::sleep_until(ready).await;
        }
    }
    Ok(Slot {
        key: key.clone(),
        guard: Some(guard),
    })
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

    fn uuid_v4() -> String {
        format!("{:032x}", fastrand::u128(..))
    }

    #[tokio::test(start_paused = true)]
    async fn first_call_is_immediate_then_spaced_from_receipt() {
        let k = key(PaceKind::Status);
        let far = Instant::now() + Duration::from_secs(3600);
        let t0 = Instant::now();
        let s = acquire(&k, Duration::from_secs(5), far).await.unwrap();
        assert_eq!(Instant::now(), t0);
        // the response takes 2 s to arrive
        tokio::time::sleep(Duration::from_secs(2)).await;
        s.received();
        let _s = acquire(&k, Duration::from_secs(5), far).await.unwrap();
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
                let s = acquire(&k, Duration::from_secs(10), far).await.unwrap();
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
        acquire(&k, Duration::from_secs(5), t0 + Duration::from_secs(60))
            .await
            .unwrap()
            .received();
        let err = acquire(&k, Duration::from_secs(5), t0 + Duration::from_secs(3))
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
        acquire(&k, Duration::from_secs(90), far)
            .await
            .unwrap()
            .not_sent();
        let s = acquire(&k, Duration::from_secs(90), far).await.unwrap();
        assert_eq!(Instant::now(), t0, "a request never sent uses no slot");
        s.rate_limited(Duration::from_secs(120));
        let s = acquire(&k, Duration::from_secs(90), far).await.unwrap();
        assert_eq!(Instant::now() - t0, Duration::from_secs(120));
        drop(s); // dropped mid-request: counts as used now
        let _s = acquire(&k, Duration::from_secs(90), far).await.unwrap();
        assert_eq!(Instant::now() - t0, Duration::from_secs(210));
    }

    #[tokio::test(start_paused = true)]
    async fn keys_are_independent() {
        let a = key(PaceKind::Status);
        let mut b = a.clone();
        b.kind = PaceKind::Trigger;
        let far = Instant::now() + Duration::from_secs(3600);
        let t0 = Instant::now();
        acquire(&a, Duration::from_secs(5), far)
            .await
            .unwrap()
            .received();
        acquire(&b, Duration::from_secs(5), far)
            .await
            .unwrap()
            .received();
        assert_eq!(Instant::now(), t0);
    }
}
