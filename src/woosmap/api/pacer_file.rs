//! The pacer across processes: one small file per (base URL, dataset, endpoint kind) in a
//! private per-user folder, read and updated only under an OS file lock, so that any number of
//! processes on one machine (Terraform walks, CLI calls in parallel CI steps) share each slot.
//!
//! Protocol: a process that wants to send locks the file, reads what the others recorded, and
//! either reserves the slot (writes "in flight since now", then unlocks and sends) or unlocks
//! and waits. When its answer arrives it locks again and records when (or the 429 hold-off),
//! clearing its reservation. A slot is therefore taken *before* the request leaves, and a
//! request in flight in one process holds back every other one.
//!
//! Trust: the folder is `WOOSMAP_PACER_DIR` if set (`off` turns sharing off), else
//! `$XDG_RUNTIME_DIR/woosmap`, else `<temp>/woosmap-pacer-<uid>`, created `0700`. A folder that
//! is a symlink, is not owned by this user, or can be written by group or others is not used
//! (one warning; pacing then stays within the process). Files are opened without following
//! symlinks. What is read is bounded: a file that does not parse counts as empty; a "last
//! response" in the future counts as now; a hold-off is never longer than the documented
//! window (plus margin) or, for a `Retry-After`, [`RETRY_AFTER_CAP`]; a reservation never
//! outlasts the reader's own request timeout. A planted or corrupt file thus delays a call by
//! at most one window.
//!
//! Times are stored as wall-clock milliseconds (processes share no monotonic clock).
//!
//! The same folder holds each dataset's last status answer (`status_share`), written under
//! the status key's lock when the answer is recorded here.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::pacer::{PaceKey, PaceKind, TriggerMark};
use super::retry::RETRY_AFTER_CAP;
use super::status_share::{self, AnswerKey, SharedAnswer};

/// The variable that moves the folder (`off`: no sharing).
pub(crate) const PACER_DIR_ENV: &str = "WOOSMAP_PACER_DIR";

/// How long a process keeps trying to take a file's lock before pacing without it (the lock
/// is only ever held for a read and a write).
const LOCK_PATIENCE: Duration = Duration::from_secs(2);

/// One file's content.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    /// Format version (1).
    v: u32,
    /// When the last answer was received (wall ms, 0: never).
    #[serde(default)]
    last_ms: u64,
    /// Nobody sends before this (wall ms; 0: no hold-off), set by a 429.
    #[serde(default)]
    hold_until_ms: u64,
    /// The hold-off came from a `Retry-After` (bounded by 15 min) rather than the window.
    #[serde(default)]
    hold_retry_after: bool,
    /// A request is in flight until its answer, or at most until this (wall ms; 0: none).
    #[serde(default)]
    inflight_until_ms: u64,
    /// The process whose request is in flight (0: unknown). A reservation of a process that
    /// no longer exists (killed mid-request) is dropped.
    #[serde(default)]
    inflight_pid: u32,
    /// When the last accepted trigger was sent (wall ms; 0: none), for trigger keys.
    #[serde(default)]
    triggered_ms: u64,
    /// The run that was latest before that trigger.
    #[serde(default)]
    triggered_previous: Option<String>,
}

/// Longest run id kept from a file (ids are UUIDs).
const MAX_RUN_ID: usize = 100;

/// What other processes recorded for a key, as instants of this process's clock, bounded as
/// the module doc says.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Shared {
    pub last: Option<Instant>,
    pub not_before: Option<Instant>,
    /// Another request for the key is in flight; it ends by this instant at the latest.
    pub inflight_until: Option<Instant>,
    /// The last accepted trigger (never later than now).
    pub triggered: Option<TriggerMark>,
}

/// How an answer is recorded.
#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    /// An answer arrived now (or the request was given up): the window counts from now.
    Received,
    /// A status answer arrived now that other processes may use (see `status_share`); it is
    /// written to the folder under this key's lock.
    Answered(Box<(AnswerKey, SharedAnswer)>),
    /// The request never reached the server: only the reservation is dropped.
    NotSent,
    /// A 429: nobody sends before `now + wait`.
    Held { wait: Duration, retry_after: bool },
    /// An answer arrived now and it says Woosmap accepted the trigger sent at `sent`.
    Triggered {
        sent: SystemTime,
        previous_run_id: Option<String>,
    },
}

/// The folder, once checked (`None`: sharing is off or the folder is not trusted).
pub(super) fn dir() -> Option<&'static PathBuf> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        let (dir, ours) = match std::env::var(PACER_DIR_ENV) {
            Ok(v) if v.trim().eq_ignore_ascii_case("off") => return None,
            Ok(v) if !v.trim().is_empty() => (PathBuf::from(v), false),
            _ => (default_dir()?, true),
        };
        match prepare(&dir, ours) {
            Ok(()) => Some(dir),
            Err(reason) => {
                tracing::warn!(
                    "not sharing rate-limit pacing with other processes: the folder {} {reason}; \
                     pacing within this process only (set {PACER_DIR_ENV} to a private folder)",
                    dir.display()
                );
                None
            }
        }
    })
    .as_ref()
}

/// Unit tests of the library: a folder of the test process's own, removed when it exits, so
/// that they exercise the files without touching the user's.
#[cfg(test)]
fn default_dir() -> Option<PathBuf> {
    Some(crate::test_dirs::private("woosmap"))
}

#[cfg(not(test))]
fn default_dir() -> Option<PathBuf> {
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(runtime) if Path::new(&runtime).is_absolute() => {
            Some(PathBuf::from(runtime).join("woosmap"))
        }
        _ => Some(std::env::temp_dir().join(format!("woosmap-pacer-{}", user_id()?))),
    }
}

/// Creates the folder (0700) if missing, then checks that it can be trusted. `ours`: the
/// default location, whose parent is shared (a missing parent is not created).
fn prepare(dir: &Path, ours: bool) -> Result<(), String> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(!ours);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    if let Err(e) = builder.create(dir)
        && e.kind() != std::io::ErrorKind::AlreadyExists
    {
        return Err(format!("could not be created ({e})"));
    }
    trusted(dir)
}

/// Why a folder must not be used, if it must not.
#[cfg(unix)]
pub(crate) fn trusted(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = std::fs::symlink_metadata(dir).map_err(|e| format!("cannot be read ({e})"))?;
    if meta.file_type().is_symlink() {
        return Err("is a symbolic link".to_owned());
    }
    if !meta.is_dir() {
        return Err("is not a directory".to_owned());
    }
    let me = user_id().ok_or("has an owner that cannot be checked")?;
    if meta.uid() != me {
        return Err(format!(
            "is owned by uid {}, not by you (uid {me})",
            meta.uid()
        ));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o022 != 0 {
        return Err(format!(
            "can be written by other users (mode {mode:o}; expected 700)"
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
pub(crate) fn trusted(dir: &Path) -> Result<(), String> {
    let meta = std::fs::symlink_metadata(dir).map_err(|e| format!("cannot be read ({e})"))?;
    if meta.file_type().is_symlink() || !meta.is_dir() {
        return Err("is not a plain directory".to_owned());
    }
    Ok(())
}

#[cfg(unix)]
fn user_id() -> Option<u32> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    Some(unsafe { libc::geteuid() })
}

#[cfg(not(unix))]
fn user_id() -> Option<u32> {
    Some(0)
}

/// FNV-1a: a stable file name for a key (the dataset id is not a secret, but the name stays
/// short and free of URL characters).
fn file_name(key: &PaceKey) -> String {
    let kind = match key.kind {
        PaceKind::Trigger => "trigger",
        PaceKind::Status => "status",
        PaceKind::DatasetCreate => "dataset-create",
        PaceKind::DatasetList => "dataset-list",
        PaceKind::DatasetRead => "dataset-read",
        PaceKind::DatasetUpdate => "dataset-update",
        PaceKind::DatasetDelete => "dataset-delete",
    };
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in format!("{}\n{}\n{kind}", key.base_url, key.dataset).bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}.pace")
}

/// Opens (creating, 0600) a key's file without following a symlink.
fn open(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    options.open(path)
}

/// A key's file, locked until dropped.
pub(crate) struct Locked {
    file: File,
    record: Record,
}

impl Drop for Locked {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

/// Why the file could not be locked.
enum LockFailure {
    /// Try again shortly.
    Busy,
    /// No sharing for this call.
    Unavailable,
}

fn try_lock(key: &PaceKey) -> Result<Locked, LockFailure> {
    let dir = dir().ok_or(LockFailure::Unavailable)?;
    let path = dir.join(file_name(key));
    let mut file = open(&path).map_err(|e| {
        tracing::debug!(error = %e, "pacer: cannot open the shared slot file");
        LockFailure::Unavailable
    })?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Err(LockFailure::Busy),
        Err(std::fs::TryLockError::Error(e)) => {
            tracing::debug!(error = %e, "pacer: cannot lock the shared slot file");
            return Err(LockFailure::Unavailable);
        }
    }
    let mut text = String::new();
    let record = match file.read_to_string(&mut text) {
        Ok(_) => serde_json::from_str::<Record>(text.trim())
            .ok()
            .filter(|r| r.v == 1)
            .unwrap_or_default(),
        Err(_) => Record::default(),
    };
    Ok(Locked { file, record })
}

/// Locks a key's file, waiting (asynchronously) while another process holds it. `None`: no
/// sharing for this call (off, untrusted, I/O error, or the lock stayed busy).
pub(crate) async fn lock(key: &PaceKey) -> Option<Locked> {
    let give_up = Instant::now() + LOCK_PATIENCE;
    loop {
        match try_lock(key) {
            Ok(locked) => return Some(locked),
            Err(LockFailure::Unavailable) => return None,
            Err(LockFailure::Busy) if Instant::now() >= give_up => return None,
            Err(LockFailure::Busy) => tokio::time::sleep(Duration::from_millis(2)).await,
        }
    }
}

/// Like [`lock`], for synchronous callers (recording an outcome): spins briefly.
fn lock_blocking(key: &PaceKey) -> Option<Locked> {
    let give_up = std::time::Instant::now() + LOCK_PATIENCE;
    loop {
        match try_lock(key) {
            Ok(locked) => return Some(locked),
            Err(LockFailure::Unavailable) => return None,
            Err(LockFailure::Busy) if std::time::Instant::now() >= give_up => return None,
            Err(LockFailure::Busy) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
}

impl Locked {
    /// What the file says, bounded: `window` is the longest hold-off a 429 without
    /// `Retry-After` can justify, `request_limit` the longest a request may be in flight.
    ///
    /// Values out of bounds are brought within them and written back, so that a planted or
    /// corrupt file costs at most one window once, instead of a wait that recedes each time
    /// it is read.
    pub(crate) fn shared(&mut self, window: Duration, request_limit: Duration) -> Shared {
        let (now_wall, now) = (SystemTime::now(), Instant::now());
        let now_ms = wall_ms(now_wall);
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let hold_cap = if self.record.hold_retry_after {
            RETRY_AFTER_CAP.max(window)
        } else {
            window
        };
        let before = self.record.clone();
        let r = &mut self.record;
        r.last_ms = r.last_ms.min(now_ms);
        r.triggered_ms = r.triggered_ms.min(now_ms);
        r.hold_until_ms = r.hold_until_ms.min(now_ms.saturating_add(ms(hold_cap)));
        r.inflight_until_ms = r
            .inflight_until_ms
            .min(now_ms.saturating_add(ms(request_limit)));
        if r.inflight_until_ms != 0 && r.inflight_pid != 0 && !process_exists(r.inflight_pid) {
            r.inflight_until_ms = 0;
            r.inflight_pid = 0;
        }
        if r.triggered_previous
            .as_ref()
            .is_some_and(|id| id.len() > MAX_RUN_ID)
        {
            r.triggered_previous = None;
        }
        if self.record != before {
            tracing::debug!("pacer: a shared slot file held values out of bounds; bounded them");
            self.write();
        }
        let r = &self.record;
        let at = |ms: u64| to_instant(ms, now_wall, now);
        Shared {
            last: at(r.last_ms),
            not_before: at(r.hold_until_ms),
            inflight_until: at(r.inflight_until_ms).filter(|t| *t > now),
            triggered: at(r.triggered_ms).map(|at| TriggerMark {
                at,
                previous_run_id: r.triggered_previous.clone(),
            }),
        }
    }

    /// Reserves the slot: a request leaves now and may be in flight for `limit`.
    pub(crate) fn reserve(mut self, limit: Duration) {
        self.record.inflight_until_ms = wall_ms(SystemTime::now() + limit);
        self.record.inflight_pid = std::process::id();
        self.write();
    }

    fn write(&mut self) {
        self.record.v = 1;
        let text = serde_json::to_string(&self.record).unwrap_or_default();
        let result = self
            .file
            .set_len(0)
            .and_then(|()| self.file.seek(SeekFrom::Start(0)).map(drop))
            .and_then(|()| self.file.write_all(text.as_bytes()));
        if let Err(e) = result {
            tracing::debug!(error = %e, "pacer: could not record the slot for other processes");
        }
    }
}

/// Records how this process's request for `key` ended, and drops its reservation.
pub(crate) fn record(key: &PaceKey, outcome: Outcome) {
    let Some(mut locked) = lock_blocking(key) else {
        return;
    };
    let now = SystemTime::now();
    locked.record.inflight_until_ms = 0;
    locked.record.inflight_pid = 0;
    match outcome {
        Outcome::Received => locked.record.last_ms = locked.record.last_ms.max(wall_ms(now)),
        Outcome::Answered(answer) => {
            locked.record.last_ms = locked.record.last_ms.max(wall_ms(now));
            if let Some(dir) = dir() {
                status_share::store(dir, &answer.0, &answer.1);
            }
        }
        Outcome::Triggered {
            sent,
            previous_run_id,
        } => {
            locked.record.last_ms = locked.record.last_ms.max(wall_ms(now));
            let sent = wall_ms(sent);
            if sent >= locked.record.triggered_ms {
                locked.record.triggered_ms = sent;
                locked.record.triggered_previous = previous_run_id;
            }
        }
        Outcome::NotSent => {}
        Outcome::Held { wait, retry_after } => {
            let until = wall_ms(now + wait);
            if until >= locked.record.hold_until_ms {
                locked.record.hold_until_ms = until;
                locked.record.hold_retry_after = retry_after;
            }
        }
    }
    locked.write();
}

/// Whether a process with this id exists (the folder is per user, so any such process is
/// ours to signal).
#[cfg(unix)]
fn process_exists(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists; nothing is sent.
    let alive = unsafe { libc::kill(pid, 0) } == 0;
    alive || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(not(unix))]
fn process_exists(_pid: u32) -> bool {
    true
}

fn wall_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A wall-clock time (ms) as an instant of this process's clock.
fn to_instant(ms: u64, now_wall: SystemTime, now: Instant) -> Option<Instant> {
    if ms == 0 {
        return None;
    }
    let at = UNIX_EPOCH.checked_add(Duration::from_millis(ms))?;
    match at.duration_since(now_wall) {
        Ok(ahead) => now.checked_add(ahead),
        Err(behind) => now.checked_sub(behind.duration()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kind: PaceKind) -> PaceKey {
        PaceKey {
            base_url: "http://pacer-file.test".into(),
            dataset: super::super::DatasetId::parse(&format!("{:032x}", fastrand::u128(..)))
                .unwrap(),
            kind,
        }
    }

    fn path(key: &PaceKey) -> PathBuf {
        dir()
            .expect("the test folder is usable")
            .join(file_name(key))
    }

    #[test]
    fn wall_ms_round_trips_through_instants() {
        let (now_wall, now) = (SystemTime::now(), Instant::now());
        for ahead in [0u64, 1, 90_000] {
            let ms = wall_ms(now_wall + Duration::from_millis(ahead));
            let back = to_instant(ms, now_wall, now).unwrap();
            let want = now + Duration::from_millis(ahead);
            let diff = if back > want {
                back - want
            } else {
                want - back
            };
            assert!(diff <= Duration::from_millis(1), "{ahead}: {diff:?}");
        }
        assert_eq!(to_instant(0, now_wall, now), None);
    }

    #[test]
    fn file_names_differ_per_key() {
        let a = key(PaceKind::Status);
        let b = PaceKey {
            kind: PaceKind::Trigger,
            ..a.clone()
        };
        assert_ne!(file_name(&a), file_name(&b));
        assert_eq!(file_name(&a), file_name(&a.clone()));
    }

    #[tokio::test]
    async fn reservation_and_outcomes_are_seen_by_the_next_reader() {
        let k = key(PaceKind::Trigger);
        let window = Duration::from_secs(90);
        let mut locked = lock(&k).await.unwrap();
        assert_eq!(locked.shared(window, window), Shared::default());
        locked.reserve(Duration::from_secs(30));
        let seen = lock(&k)
            .await
            .unwrap()
            .shared(window, Duration::from_secs(30));
        assert!(seen.inflight_until.is_some(), "{seen:?}");
        record(
            &k,
            Outcome::Triggered {
                sent: SystemTime::now(),
                previous_run_id: Some("run-1".into()),
            },
        );
        let seen = lock(&k).await.unwrap().shared(window, window);
        assert_eq!(seen.inflight_until, None);
        let mark = seen.triggered.clone().unwrap();
        assert_eq!(mark.previous_run_id.as_deref(), Some("run-1"));
        let last = seen.last.unwrap();
        assert!(last <= Instant::now() && last + Duration::from_secs(5) > Instant::now());
        record(
            &k,
            Outcome::Held {
                wait: Duration::from_secs(60),
                retry_after: true,
            },
        );
        let seen = lock(&k).await.unwrap().shared(window, window);
        assert!(seen.not_before.unwrap() > Instant::now() + Duration::from_secs(50));
    }

    #[tokio::test]
    async fn garbage_and_far_future_records_are_bounded() {
        let k = key(PaceKind::Status);
        let window = Duration::from_secs(5);
        std::fs::write(path(&k), "not json at all").unwrap();
        assert_eq!(
            lock(&k).await.unwrap().shared(window, window),
            Shared::default()
        );
        let far = wall_ms(SystemTime::now() + Duration::from_secs(10 * 3600));
        for retry_after in [false, true] {
            let planted = Record {
                v: 1,
                last_ms: far,
                hold_until_ms: far,
                hold_retry_after: retry_after,
                inflight_until_ms: far,
                inflight_pid: 0,
                triggered_ms: far,
                triggered_previous: Some("x".repeat(1000)),
            };
            std::fs::write(path(&k), serde_json::to_string(&planted).unwrap()).unwrap();
            let before = Instant::now();
            let seen = lock(&k)
                .await
                .unwrap()
                .shared(window, Duration::from_secs(2));
            let after = Instant::now();
            assert!(
                seen.last.unwrap() <= after,
                "a last answer in the future is now"
            );
            let cap = if retry_after { RETRY_AFTER_CAP } else { window };
            assert!(seen.not_before.unwrap() <= after + cap);
            let slack = Duration::from_millis(5);
            assert!(seen.not_before.unwrap() + slack >= before + cap.min(window));
            // Bounded once and written back: a later read does not push the wait further.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let again = lock(&k)
                .await
                .unwrap()
                .shared(window, Duration::from_secs(2));
            assert!(again.not_before.unwrap() <= seen.not_before.unwrap() + slack);
            assert!(again.inflight_until.unwrap() <= seen.inflight_until.unwrap() + slack);
            let mark = seen.triggered.clone().unwrap();
            assert!(mark.at <= after && mark.previous_run_id.is_none());
            assert!(seen.inflight_until.unwrap() <= after + Duration::from_secs(2));
        }
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_reservation_of_a_process_that_is_gone_is_dropped() {
        let k = key(PaceKind::Status);
        let window = Duration::from_secs(5);
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let gone = child.id();
        child.wait().unwrap();
        let until = wall_ms(SystemTime::now() + Duration::from_secs(30));
        for (pid, in_flight) in [(gone, false), (std::process::id(), true)] {
            let planted = format!(r#"{{"v":1,"inflight_until_ms":{until},"inflight_pid":{pid}}}"#);
            std::fs::write(path(&k), planted).unwrap();
            let seen = lock(&k)
                .await
                .unwrap()
                .shared(window, Duration::from_secs(30));
            assert_eq!(seen.inflight_until.is_some(), in_flight, "pid {pid}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn untrusted_folders_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let base = tempfile::tempdir().unwrap();
        let open_dir = base.path().join("open");
        std::fs::create_dir(&open_dir).unwrap();
        std::fs::set_permissions(&open_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = trusted(&open_dir).unwrap_err();
        assert!(err.contains("written by other users"), "{err}");
        let link = base.path().join("link");
        let private = base.path().join("private");
        std::fs::create_dir(&private).unwrap();
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::symlink(&private, &link).unwrap();
        assert!(trusted(&link).unwrap_err().contains("symbolic link"));
        assert_eq!(trusted(&private), Ok(()));
        assert!(prepare(&base.path().join("new"), false).is_ok());
        let root_owned = Path::new("/");
        if user_id() != Some(0) {
            assert!(trusted(root_owned).unwrap_err().contains("owned by uid 0"));
        }
    }

    #[cfg(unix)]
    #[test]
    fn slot_files_are_not_followed_through_symlinks() {
        let base = tempfile::tempdir().unwrap();
        let target = base.path().join("target");
        std::fs::write(&target, "keep").unwrap();
        let link = base.path().join("link.pace");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(open(&link).is_err());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    }
}
