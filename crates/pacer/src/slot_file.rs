//! One slot's record across processes: a small JSON file per (service, key, route), read and
//! replaced only under its OS file lock. A process that wants to send locks it, reads what the
//! others recorded, and either reserves the slot (writes "in flight since now", then unlocks
//! and sends) or unlocks and waits; when its answer arrives it locks again and records when
//! (or the 429 hold-off, or an accepted claim), dropping its reservation.
//!
//! Records are hints, never evidence: a record that does not parse, of an older format, whose
//! stamp is not believable (another boot, dated in the future, clocks stepped since), or that
//! holds a time it could not have known when it was written (a past event after its stamp, a
//! hold-off longer than the caller's cap, a reservation longer than [`MAX_RESERVATION`]) is
//! ignored as a whole, never clamped: none of its claims, reservations or
//! hold-offs count, and it is replaced at once by a record that only says "used now" (so a
//! corrupt or planted file costs at most one window, and never a 429). A record of a newer format is
//! neither used nor overwritten (that key is then paced within the process, with a warning).
//! Fields this version does not know are kept when the record is rewritten.
//!
//! A believable reservation is honoured for at most the reader's own request timeout from when
//! it was made (a process with a longer timeout may have written it).
//!
//! Times are nanoseconds of the boot's monotonic clock (shared by every process of the boot).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::file::{self, LockError, Locked};
use crate::folder::Service;
use crate::host::process_exists;
use crate::stamp::{Stamp, mono_now, ns, to_instant, to_mono};
use crate::warnings::warn;

/// The slot records' format.
pub(crate) const FORMAT: u32 = 2;
/// The longest reservation any process may record (a reader honours one for at most its own
/// request timeout from when it was made).
pub const MAX_RESERVATION: Duration = Duration::from_secs(15 * 60);
/// Longest note kept with a claim.
pub const MAX_NOTE: usize = 100;

/// Which budget a request counts against: a service, a key within it (for example a base URL
/// and a dataset), and a route (the endpoint, or the group of endpoints sharing one limit).
#[derive(Debug, Clone)]
pub struct SlotKey {
    pub service: &'static Service,
    pub scope: Arc<str>,
    pub route: &'static str,
}

impl SlotKey {
    /// The scope on one line, for log lines (a scope may join its parts with newlines).
    pub fn scope_label(&self) -> String {
        self.scope.replace(['\n', '\r'], " ")
    }
}

impl PartialEq for SlotKey {
    fn eq(&self, other: &SlotKey) -> bool {
        self.service.name == other.service.name
            && self.scope == other.scope
            && self.route == other.route
    }
}

impl Eq for SlotKey {}

impl std::hash::Hash for SlotKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (self.service.name, &*self.scope, self.route).hash(state);
    }
}

impl SlotKey {
    /// FNV-1a of the three parts: a stable, short file name free of URL characters.
    pub(crate) fn file_name(&self) -> String {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in format!("{}\n{}\n{}", self.service.name, self.scope, self.route).bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        format!("{hash:016x}.pace")
    }

    fn path(&self) -> Option<PathBuf> {
        Some(self.service.dir()?.join(self.file_name()))
    }
}

/// An accepted claim (for example a trigger Woosmap accepted): when its request left, and a
/// note the claimer left for the others (for example the run that was latest before it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimMark {
    pub at: Instant,
    pub note: Option<String>,
}

/// One file's content.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Record {
    pub v: u32,
    /// When and where it was written.
    pub stamp: Option<Stamp>,
    /// When the last answer was received (0: never).
    #[serde(default)]
    pub last_ns: u64,
    /// Nobody sends before this (0: no hold-off), set by a 429.
    #[serde(default)]
    pub hold_until_ns: u64,
    /// The hold-off came from the server's `Retry-After` rather than the documented window.
    #[serde(default)]
    pub hold_retry_after: bool,
    /// A request is in flight until its answer, or at most until this (0: none).
    #[serde(default)]
    pub inflight_until_ns: u64,
    /// The process whose request is in flight; its reservation ends with it.
    #[serde(default)]
    pub inflight_pid: u32,
    /// When the request of the last accepted claim left (0: none).
    #[serde(default)]
    pub claimed_ns: u64,
    #[serde(default)]
    pub claim_note: Option<String>,
    /// Fields of a later version of this format, kept as they were.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// What other processes recorded for a key, as instants of this process's clock.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Shared {
    pub last: Option<Instant>,
    pub not_before: Option<Instant>,
    /// Another request for the key is in flight; it ends by this instant at the latest.
    pub inflight_until: Option<Instant>,
    pub claimed: Option<ClaimMark>,
}

/// How a request ended, as recorded for the others.
#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    /// An answer arrived now (or the request was given up): the window counts from now.
    Received,
    /// The request never reached the server: only the reservation is dropped.
    NotSent,
    /// A 429: nobody sends before `now + wait`.
    Held { wait: Duration, retry_after: bool },
    /// An answer arrived now, accepting the claim whose request left at `sent`.
    Claimed { sent: Instant, note: Option<String> },
}

/// The bounds a reader puts on what it believes: the longest hold-off a 429 without
/// `Retry-After` can justify (`window`), with one ([`crate::RETRY_AFTER_CAP`]), and the
/// longest a request may be in flight (`request_limit`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    pub window: Duration,
    pub request_limit: Duration,
}

/// Why a record is not a hint to use (it is then ignored and replaced).
fn unbelievable(r: &Record, changed: Option<std::time::SystemTime>, b: Bounds) -> Option<String> {
    let Some(stamp) = &r.stamp else {
        return Some("it has no stamp".into());
    };
    if let Err(why) = stamp.check(changed) {
        return Some(why.into());
    }
    let at = stamp.mono_ns;
    let hold_cap = if r.hold_retry_after {
        crate::RETRY_AFTER_CAP.max(b.window)
    } else {
        b.window
    };
    let after = |limit: Duration| at.saturating_add(ns(limit + crate::stamp::CLOCK_TOLERANCE));
    if r.last_ns > at || r.claimed_ns > at {
        return Some("it holds an event dated after it was written".into());
    }
    if r.hold_until_ns > after(hold_cap) || r.inflight_until_ns > after(MAX_RESERVATION) {
        return Some("it holds a wait longer than any this process allows".into());
    }
    if r.claim_note.as_ref().is_some_and(|n| n.len() > MAX_NOTE) {
        return Some("its claim note is too long".into());
    }
    None
}

/// A slot's record, locked until dropped.
pub(crate) struct SlotFile {
    locked: Locked,
    pub record: Record,
    key: SlotKey,
    bounds: Bounds,
}

/// Why a slot's record is not there to use.
pub(crate) enum Unshared {
    /// Sharing is off, or the record cannot be used (a warning said why): pace in-process.
    Off,
    /// Another process held the lock until the caller's deadline.
    Busy,
}

/// Locks and reads a key's record (blocking: run it off the async workers) until `give_up`.
pub(crate) fn lock(
    key: &SlotKey,
    give_up: std::time::Instant,
    bounds: Bounds,
) -> Result<SlotFile, Unshared> {
    let path = key.path().ok_or(Unshared::Off)?;
    let locked = match file::lock(&path, give_up, key.route) {
        Ok(locked) => locked,
        Err(LockError::Busy) => return Err(Unshared::Busy),
        Err(LockError::Failed(e)) => {
            warn(format!(
                "cannot lock the shared pacing record {} ({e}); pacing within this process only",
                path.display()
            ));
            return Err(Unshared::Off);
        }
    };
    let (record, replace) = match read_record(&locked, bounds) {
        Seen::Empty => (Record::default(), false),
        Seen::Usable(record) => (record, false),
        // Not believed, but something was recorded: whatever it was, a window from now is
        // the most it may cost (it is never evidence of anything).
        Seen::Ignored => (
            Record {
                last_ns: mono_now().unwrap_or_default(),
                ..Record::default()
            },
            true,
        ),
        Seen::Newer(newer) => {
            warn(format!(
                "the shared pacing record {} was written by a newer version (format {newer}); \
                 it is left as it is, and this process paces that key on its own",
                path.display()
            ));
            return Err(Unshared::Off);
        }
    };
    let mut file = SlotFile {
        locked,
        record,
        key: key.clone(),
        bounds,
    };
    if replace {
        file.write();
    }
    Ok(file)
}

/// What a record file holds for a reader.
enum Seen {
    Empty,
    Usable(Record),
    /// Something not to believe: ignored, and replaced.
    Ignored,
    /// A newer format (this version): neither used nor overwritten.
    Newer(u32),
}

fn read_record(locked: &Locked, bounds: Bounds) -> Seen {
    let why = match &locked.content {
        Ok(content) if content.bytes.is_empty() => return Seen::Empty,
        Ok(content) => match parse(&content.bytes) {
            Ok(record) => match unbelievable(&record, content.changed, bounds) {
                None => return Seen::Usable(record),
                Some(why) => why,
            },
            Err(Some(v)) => return Seen::Newer(v),
            Err(None) => "it does not parse or is of an older format".to_owned(),
        },
        Err(why) => (*why).to_owned(),
    };
    tracing::debug!(
        "pacer: ignoring the shared record {}: {why}",
        locked.path().display()
    );
    Seen::Ignored
}

fn parse(bytes: &[u8]) -> Result<Record, Option<u32>> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|_| None)?;
    let v = value.get("v").and_then(|v| v.as_u64()).ok_or(None)?;
    if v > u64::from(FORMAT) {
        return Err(Some(u32::try_from(v).unwrap_or(u32::MAX)));
    }
    if v < u64::from(FORMAT) {
        return Err(None);
    }
    serde_json::from_value(value).map_err(|_| None)
}

impl SlotFile {
    /// What the record says, as instants of this process's clock (a reservation of a
    /// process that no longer exists is dropped).
    pub(crate) fn shared(&mut self) -> Shared {
        let (Some(mono), now) = (mono_now(), Instant::now()) else {
            return Shared::default();
        };
        let r = &mut self.record;
        if r.inflight_until_ns != 0 && r.inflight_pid != 0 && !process_exists(r.inflight_pid) {
            // Its request may have left before the process died (killed mid-request): count
            // it as sent when the record was last written, so the next one keeps its distance.
            let written = r.stamp.as_ref().map_or(0, |s| s.mono_ns);
            r.last_ns = r.last_ns.max(written);
            r.inflight_until_ns = 0;
            r.inflight_pid = 0;
        }
        let at = |t: u64| to_instant(t, mono, now);
        // A reservation (written when it was made) is honoured for at most this reader's own
        // request timeout from then.
        let made = r.stamp.as_ref().map_or(0, |s| s.mono_ns);
        let patience = made.saturating_add(ns(self.bounds.request_limit));
        Shared {
            last: at(r.last_ns),
            not_before: at(r.hold_until_ns),
            inflight_until: at(r.inflight_until_ns.min(patience)).filter(|t| *t > now),
            claimed: at(r.claimed_ns).map(|at| ClaimMark {
                at,
                note: r.claim_note.clone(),
            }),
        }
    }

    /// Reserves the slot: a request leaves now and may be in flight for `limit`. `false`: the
    /// reservation could not be written (a warning said why).
    pub(crate) fn reserve(mut self, limit: Duration) -> bool {
        let now = mono_now().unwrap_or_default();
        self.record.inflight_until_ns = now.saturating_add(ns(limit));
        self.record.inflight_pid = std::process::id();
        self.write()
    }

    /// Records how this process's request ended, and drops its reservation.
    pub(crate) fn record(mut self, outcome: Outcome) {
        let (Some(mono), now) = (mono_now(), Instant::now()) else {
            return;
        };
        let r = &mut self.record;
        if r.inflight_pid == std::process::id() {
            r.inflight_until_ns = 0;
            r.inflight_pid = 0;
        }
        match outcome {
            Outcome::Received => r.last_ns = r.last_ns.max(mono),
            Outcome::Claimed { sent, note } => {
                r.last_ns = r.last_ns.max(mono);
                let sent = to_mono(sent, mono, now).min(mono);
                if sent >= r.claimed_ns {
                    r.claimed_ns = sent;
                    r.claim_note = note.filter(|n| n.len() <= MAX_NOTE);
                }
            }
            Outcome::NotSent => {}
            Outcome::Held { wait, retry_after } => {
                let until = mono.saturating_add(ns(wait));
                if until >= r.hold_until_ns {
                    r.hold_until_ns = until;
                    r.hold_retry_after = retry_after;
                }
            }
        }
        self.write();
    }

    fn write(&mut self) -> bool {
        self.record.v = FORMAT;
        self.record.stamp = Stamp::now();
        let written = serde_json::to_vec(&self.record)
            .map_err(std::io::Error::other)
            .and_then(|bytes| file::write_atomic(self.locked.path(), &bytes));
        match written {
            Ok(()) => true,
            Err(e) => {
                warn(format!(
                    "could not write the shared pacing record {} ({e}); its slot is paced \
                     within this process only",
                    self.locked.path().display()
                ));
                false
            }
        }
    }

    /// The folder the record is in.
    pub(crate) fn dir(&self) -> Option<&Path> {
        self.key.service.dir()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::folder::tests::TEST_SERVICE;

    fn key() -> SlotKey {
        SlotKey {
            service: &TEST_SERVICE,
            scope: Arc::from(format!("{:032x}", fastrand::u128(..))),
            route: "trigger",
        }
    }

    const BOUNDS: Bounds = Bounds {
        window: Duration::from_secs(90),
        request_limit: Duration::from_secs(30),
    };

    fn far() -> std::time::Instant {
        std::time::Instant::now() + Duration::from_secs(30)
    }

    fn written(k: &SlotKey) -> serde_json::Value {
        let path = k.path().unwrap();
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    /// Writes a record as a process of this user would (mode 600).
    fn plant(k: &SlotKey, value: &serde_json::Value) {
        file::write_atomic(&k.path().unwrap(), value.to_string().as_bytes()).unwrap();
    }

    #[tokio::test]
    async fn a_claim_is_seen_by_the_next_reader_and_a_future_dated_one_is_not() {
        if Stamp::now().is_none() {
            return; // no boot id: nothing is shared
        }
        let k = key();
        let file = lock(&k, far(), BOUNDS).ok().unwrap();
        assert!(file.reserve(Duration::from_secs(30)));
        let seen = lock(&k, far(), BOUNDS).ok().unwrap().shared();
        assert!(seen.inflight_until.is_some(), "{seen:?}");
        let sent = Instant::now();
        let note = Some("run-1".to_owned());
        let file = lock(&k, far(), BOUNDS).ok().unwrap();
        file.record(Outcome::Claimed { sent, note });
        let seen = lock(&k, far(), BOUNDS).ok().unwrap().shared();
        assert_eq!(seen.inflight_until, None);
        assert_eq!(seen.claimed.unwrap().note.as_deref(), Some("run-1"));

        // The same record dated an hour later (a clock stepped back since, or planted): its
        // claim is not believed, and the record is replaced by one that only says "used now".
        let mut value = written(&k);
        let hour_ns = 3_600_000_000_000u64;
        for field in ["claimed_ns", "last_ns"] {
            value[field] = (value[field].as_u64().unwrap() + hour_ns).into();
        }
        value["stamp"]["mono_ns"] = (value["stamp"]["mono_ns"].as_u64().unwrap() + hour_ns).into();
        value["stamp"]["wall_ms"] =
            (value["stamp"]["wall_ms"].as_u64().unwrap() + 3_600_000).into();
        plant(&k, &value);
        let before = Instant::now();
        let seen = lock(&k, far(), BOUNDS).ok().unwrap().shared();
        assert_eq!(seen.claimed, None, "a future-dated claim was believed");
        let last = seen.last.expect("costs one window from now");
        assert!(last >= before - Duration::from_millis(50) && last <= Instant::now());
        assert_eq!(written(&k)["claimed_ns"], 0, "replaced");
    }

    #[tokio::test]
    async fn other_boots_older_formats_and_unbounded_waits_are_ignored() {
        let Some(stamp) = Stamp::now() else {
            return;
        };
        let k = key();
        let base = serde_json::json!({ "v": FORMAT, "stamp": stamp, "claimed_ns": stamp.mono_ns });
        let mut other_boot = base.clone();
        other_boot["stamp"]["boot"] = "00000000-0000-0000-0000-000000000000".into();
        let mut older = base.clone();
        older["v"] = 1.into();
        let mut unstamped = base.clone();
        unstamped.as_object_mut().unwrap().remove("stamp");
        let mut long_hold = base.clone();
        long_hold["hold_until_ns"] = (stamp.mono_ns + 3_600_000_000_000).into();
        for (what, value) in [
            ("another boot", other_boot),
            ("older format", older),
            ("no stamp", unstamped),
            ("hold longer than the window", long_hold),
        ] {
            plant(&k, &value);
            let seen = lock(&k, far(), BOUNDS).ok().unwrap().shared();
            assert_eq!(seen.claimed, None, "{what}");
            assert_eq!(seen.not_before, None, "{what}");
        }
        plant(&k, &base);
        let seen = lock(&k, far(), BOUNDS).ok().unwrap().shared();
        assert!(seen.claimed.is_some(), "the believable one is read");
    }

    #[tokio::test]
    async fn a_newer_format_is_left_alone_and_unknown_fields_survive_a_rewrite() {
        let Some(stamp) = Stamp::now() else {
            return;
        };
        let k = key();
        let newer = serde_json::json!({ "v": FORMAT + 1, "whatever": [1, 2] });
        plant(&k, &newer);
        assert!(matches!(lock(&k, far(), BOUNDS), Err(Unshared::Off)));
        assert_eq!(written(&k), newer, "overwritten");
        let known = serde_json::json!({ "v": FORMAT, "stamp": stamp, "later_field": "kept" });
        plant(&k, &known);
        let file = lock(&k, far(), BOUNDS).ok().unwrap();
        file.record(Outcome::Received);
        let after = written(&k);
        assert_eq!(after["later_field"], "kept");
        assert!(after["last_ns"].as_u64().unwrap() > 0);
    }

    #[test]
    fn a_lock_held_by_another_holder_is_waited_for_then_reported_busy() {
        let k = key();
        let held = lock(&k, far(), BOUNDS).ok().unwrap();
        let soon = std::time::Instant::now() + Duration::from_millis(30);
        assert!(matches!(lock(&k, soon, BOUNDS), Err(Unshared::Busy)));
        drop(held);
        assert!(lock(&k, far(), BOUNDS).is_ok());
    }
}
