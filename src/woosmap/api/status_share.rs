//! Status answers shared across processes: the last answer to `GET /datasets/{id}/status`
//! that a process received, kept in the pacer folder so that other processes following the
//! same dataset with the same key use it instead of each spending a status window of their own
//! (the per-dataset status limit is shared by every client of the key: N processes each
//! reading for themselves see the status N times more slowly).
//!
//! When an answer may be used instead of a read of one's own (decided in `pacer`): only while
//! the caller's own slot is not free (a window not yet over, a 429 hold-off, another request
//! in flight), and only if the answer's request was **sent after the caller asked** for the
//! status. Such an answer shows the dataset at a moment after the call began, as the caller's
//! own read would (later still, by at most the wait the caller saved), so every decision the
//! engine takes on it (the run seen before a trigger, a run new since a trigger, a run started
//! since the invocation began) is one it could take on its own read. "Sent after" holds on the
//! wall clock and, where there is one shared by all processes (`CLOCK_MONOTONIC` on Unix),
//! on that clock too, so that a wall clock set back cannot make an older answer look new. An answer is never older
//! than the call, never crosses datasets, base URLs or keys (the file name is a SHA-256 of the
//! three; the key never appears in clear), and only answers that the client reads as a result
//! are shared: a run (2xx) or "no run" (404, replayed as the 404 it was). Errors, 429s and
//! unreadable bodies are never recorded.
//!
//! File: `<hash>.answer`, a line of JSON (`v`, `sent_us`, `sent_mono_ns`, `received_us`,
//! `status`, `date`, `body_len`) followed by the body exactly as received. Written only under the key's pacer
//! lock, to a fresh temporary file that is then renamed over the old one (readers never see a
//! half-written answer), and never over an answer sent later. Read without following
//! symlinks; a file that is not a regular file, not owned by this user, readable or writable
//! by others, too large, from the future or that does not parse is ignored (the caller then
//! reads the status itself).

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::types::DatasetId;
use crate::secret::Secret;

/// Largest body shared (as large as the client reads at all).
const MAX_BODY: usize = 4 << 20;
/// Longest first line (the JSON header).
const MAX_HEADER: usize = 1024;
/// Longest `Date` value kept.
const MAX_DATE: usize = 64;

/// Which file holds the answers for one (base URL, key, dataset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AnswerKey {
    file: String,
}

impl AnswerKey {
    /// The file name for answers to `private_key` about `dataset` at `base_url`.
    pub(crate) fn new(base_url: &str, private_key: &Secret, dataset: &DatasetId) -> AnswerKey {
        let mut hash = Sha256::new();
        for part in [
            "woosmap status answer v1",
            base_url,
            private_key.expose(),
            dataset.as_str(),
        ] {
            hash.update(u64::try_from(part.len()).unwrap_or(u64::MAX).to_le_bytes());
            hash.update(part.as_bytes());
        }
        let digest = hash.finalize();
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        AnswerKey {
            file: format!("{hex}.answer"),
        }
    }
}

/// An answer to a status read, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SharedAnswer {
    /// When the request left (taken just before sending: never later than the departure).
    pub sent: SystemTime,
    /// The same moment on the machine's monotonic clock ([`mono_now`]), if it has one.
    pub sent_mono: Option<u64>,
    /// When the answer arrived.
    pub received: SystemTime,
    /// The HTTP status (2xx or 404).
    pub status: u16,
    /// The server's `Date` header, if any (for the server-clock estimate).
    pub date: Option<String>,
    pub body: Vec<u8>,
}

/// A call that is willing to take another caller's answer: the key's file, and when the call
/// asked for the status (an answer counts only if its request was sent after that).
#[derive(Debug, Clone)]
pub(crate) struct AnswerWish {
    pub key: AnswerKey,
    pub asked: SystemTime,
    /// `asked` on the monotonic clock ([`mono_now`]).
    pub asked_mono: Option<u64>,
}

impl AnswerWish {
    /// A wish for `key`, asked now.
    pub(crate) fn now(key: AnswerKey) -> AnswerWish {
        AnswerWish {
            key,
            asked: SystemTime::now(),
            asked_mono: mono_now(),
        }
    }

    /// Whether `answer` is fresh enough for this call: sent after it asked, on the wall clock
    /// and on the monotonic clock when both sides have it.
    pub(crate) fn accepts(&self, answer: &SharedAnswer) -> bool {
        // Compared in whole microseconds, strictly: `sent_us > asked_us` implies sent > asked.
        let wall = micros(answer.sent) > micros(self.asked);
        let mono = match (answer.sent_mono, self.asked_mono) {
            (Some(sent), Some(asked)) => sent > asked,
            _ => true,
        };
        wall && mono
    }
}

/// Now on a clock that all processes of the machine share and that is never set back
/// (`CLOCK_MONOTONIC`), in nanoseconds; `None` where there is none.
pub(crate) fn mono_now() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Unix.
        if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) } != 0 {
            return None;
        }
        let secs = u64::try_from(ts.tv_sec).ok()?;
        let nanos = u64::try_from(ts.tv_nsec).ok()?;
        secs.checked_mul(1_000_000_000)?.checked_add(nanos)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Whether an answer with this HTTP status may be shared (what the client reads as a result).
pub(crate) fn shareable(status: u16) -> bool {
    (200..300).contains(&status) || status == 404
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    v: u32,
    sent_us: u64,
    #[serde(default)]
    sent_mono_ns: Option<u64>,
    received_us: u64,
    status: u16,
    #[serde(default)]
    date: Option<String>,
    body_len: usize,
}

fn micros(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

fn from_micros(us: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(us)
}

/// The file's bytes for an answer (`None`: not shareable).
fn encode(answer: &SharedAnswer) -> Option<Vec<u8>> {
    if !shareable(answer.status)
        || answer.body.len() > MAX_BODY
        || answer.received < answer.sent
        || answer.date.as_ref().is_some_and(|d| d.len() > MAX_DATE)
    {
        return None;
    }
    let header = Header {
        v: 1,
        sent_us: micros(answer.sent),
        sent_mono_ns: answer.sent_mono,
        received_us: micros(answer.received),
        status: answer.status,
        date: answer.date.clone(),
        body_len: answer.body.len(),
    };
    let mut out = serde_json::to_vec(&header).ok()?;
    out.push(b'\n');
    out.extend_from_slice(&answer.body);
    Some(out)
}

/// Why a file's bytes are not an answer to use now.
fn decode(bytes: &[u8], now: SystemTime) -> Result<SharedAnswer, &'static str> {
    let newline = bytes
        .iter()
        .take(MAX_HEADER)
        .position(|b| *b == b'\n')
        .ok_or("no header line")?;
    let header: Header =
        serde_json::from_slice(&bytes[..newline]).map_err(|_| "the header does not parse")?;
    let body = &bytes[newline + 1..];
    if header.v != 1 {
        return Err("unknown format version");
    }
    if header.body_len != body.len() || body.len() > MAX_BODY {
        return Err("the body is cut or too long");
    }
    if !shareable(header.status) {
        return Err("not a shareable HTTP status");
    }
    if header.sent_us > header.received_us || header.received_us > micros(now) {
        return Err("its times are inconsistent or in the future");
    }
    if header.date.as_ref().is_some_and(|d| d.len() > MAX_DATE) {
        return Err("the Date value is too long");
    }
    Ok(SharedAnswer {
        sent: from_micros(header.sent_us),
        sent_mono: header.sent_mono_ns,
        received: from_micros(header.received_us),
        status: header.status,
        date: header.date,
        body: body.to_vec(),
    })
}

/// Opens a file for reading without following a symlink (nor blocking on a FIFO).
fn open_read(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    options.open(path)
}

/// Whether an open answer file may be trusted: a regular file of this user that nobody else
/// can read or write, of a bounded size.
fn trusted_file(file: &File) -> Result<(), &'static str> {
    let meta = file.metadata().map_err(|_| "cannot be inspected")?;
    if !meta.is_file() {
        return Err("not a regular file");
    }
    if meta.len() > (MAX_BODY + MAX_HEADER + 1) as u64 {
        return Err("too large");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me {
            return Err("owned by another user");
        }
        if meta.mode() & 0o077 != 0 {
            return Err("open to other users");
        }
    }
    Ok(())
}

/// The answer recorded in `dir` for `key`, if there is a usable one.
pub(crate) fn load(dir: &Path, key: &AnswerKey) -> Option<SharedAnswer> {
    let path = dir.join(&key.file);
    let mut file = match open_read(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::debug!(error = %e, "shared status answer: cannot open the file; ignored");
            return None;
        }
    };
    let verdict = trusted_file(&file).and_then(|()| {
        let mut bytes = Vec::new();
        Read::by_ref(&mut file)
            .take((MAX_BODY + MAX_HEADER + 2) as u64)
            .read_to_end(&mut bytes)
            .map_err(|_| "cannot be read")?;
        decode(&bytes, SystemTime::now())
    });
    match verdict {
        Ok(answer) => Some(answer),
        Err(why) => {
            tracing::debug!("shared status answer ignored: {why}");
            None
        }
    }
}

/// Records `answer` for `key` in `dir`, unless the file holds an answer sent later. The
/// caller holds the key's pacer lock, so writers do not race; readers see the old file or the
/// new one, never a mix.
pub(crate) fn store(dir: &Path, key: &AnswerKey, answer: &SharedAnswer) {
    let Some(bytes) = encode(answer) else {
        return;
    };
    if load(dir, key).is_some_and(|held| {
        held.sent > answer.sent
            || matches!((held.sent_mono, answer.sent_mono), (Some(h), Some(a)) if h > a)
    }) {
        return;
    }
    let tmp = dir.join(format!(
        "{}.{}.{:016x}.tmp",
        key.file,
        std::process::id(),
        fastrand::u64(..)
    ));
    let written = write_new(&tmp, &bytes).and_then(|()| std::fs::rename(&tmp, dir.join(&key.file)));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        tracing::debug!(error = %e, "shared status answer: could not record it for other processes");
    }
}

/// Creates `path` (0600, never an existing file or a symlink) with `bytes`.
fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    options.open(path)?.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dataset() -> DatasetId {
        DatasetId::parse(&format!("{:032x}", fastrand::u128(..))).unwrap()
    }

    fn answer(sent: SystemTime) -> SharedAnswer {
        SharedAnswer {
            sent,
            sent_mono: None,
            received: sent + Duration::from_millis(3),
            status: 200,
            date: Some("Wed, 02 Dec 2026 03:00:00 GMT".into()),
            body: br#"{"id":"run-1","status":"in_progress","steps":[]}"#.to_vec(),
        }
    }

    fn private_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        dir
    }

    #[test]
    fn keys_separate_base_urls_private_keys_and_datasets_and_hide_the_key() {
        let (d1, d2) = (dataset(), dataset());
        let k = Secret::new("a-private-key-7f3e");
        let base = AnswerKey::new("https://api.woosmap.com", &k, &d1);
        assert_eq!(base, AnswerKey::new("https://api.woosmap.com", &k, &d1));
        for other in [
            AnswerKey::new("https://api.woosmap.com", &k, &d2),
            AnswerKey::new("http://127.0.0.1:1", &k, &d1),
            AnswerKey::new("https://api.woosmap.com", &Secret::new("another-key"), &d1),
        ] {
            assert_ne!(base, other);
        }
        // Concatenations that collide without length prefixes do not here.
        assert_ne!(
            AnswerKey::new("a", &Secret::new("bc"), &d1),
            AnswerKey::new("ab", &Secret::new("c"), &d1)
        );
        assert!(!base.file.contains("a-private-key"), "{}", base.file);
        assert!(!format!("{base:?}").contains("a-private-key"));
    }

    #[test]
    fn an_answer_round_trips_and_keeps_the_body_as_received() {
        let dir = private_dir();
        let key = AnswerKey::new("http://x", &Secret::new("k"), &dataset());
        assert_eq!(load(dir.path(), &key), None);
        let mut a = answer(SystemTime::now() - Duration::from_secs(1));
        a.body = b"{\"id\":\"r\"}\n\xff not utf-8 after a newline".to_vec();
        a.sent_mono = mono_now();
        store(dir.path(), &key, &a);
        let back = load(dir.path(), &key).unwrap();
        assert_eq!(back.body, a.body);
        assert_eq!(back.status, 200);
        assert_eq!(back.date, a.date);
        assert_eq!(micros(back.sent), micros(a.sent));
        assert_eq!(back.sent_mono, a.sent_mono);
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(&key.file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_later_answer_replaces_an_earlier_one_never_the_reverse() {
        let dir = private_dir();
        let key = AnswerKey::new("http://x", &Secret::new("k"), &dataset());
        let now = SystemTime::now() - Duration::from_secs(5);
        let (early, late) = (answer(now), answer(now + Duration::from_secs(1)));
        store(dir.path(), &key, &late);
        store(dir.path(), &key, &early);
        assert_eq!(
            micros(load(dir.path(), &key).unwrap().sent),
            micros(late.sent)
        );
        let later = answer(now + Duration::from_secs(2));
        store(dir.path(), &key, &later);
        assert_eq!(
            micros(load(dir.path(), &key).unwrap().sent),
            micros(later.sent)
        );
    }

    #[test]
    fn errors_and_unreadable_statuses_are_never_shared() {
        let dir = private_dir();
        let key = AnswerKey::new("http://x", &Secret::new("k"), &dataset());
        for status in [401, 403, 429, 500, 503, 302] {
            let mut a = answer(SystemTime::now() - Duration::from_secs(1));
            a.status = status;
            store(dir.path(), &key, &a);
            assert_eq!(load(dir.path(), &key), None, "{status}");
        }
        // A 404 ("no run yet") is shared as the 404 it was.
        let mut a = answer(SystemTime::now() - Duration::from_secs(1));
        a.status = 404;
        store(dir.path(), &key, &a);
        assert_eq!(load(dir.path(), &key).unwrap().status, 404);
        // A planted error status is not taken either.
        let planted = "{\"v\":1,\"sent_us\":1,\"received_us\":2,\"status\":500,\"body_len\":2}\n{}";
        std::fs::write(dir.path().join(&key.file), planted).unwrap();
        assert_eq!(load(dir.path(), &key), None);
    }

    #[test]
    fn only_answers_sent_after_the_call_asked_are_accepted() {
        let asked = SystemTime::now() - Duration::from_secs(10);
        let wish = AnswerWish {
            key: AnswerKey::new("http://x", &Secret::new("k"), &dataset()),
            asked,
            asked_mono: Some(5_000),
        };
        assert!(!wish.accepts(&answer(asked - Duration::from_millis(1))));
        assert!(!wish.accepts(&answer(asked)), "sent in the same instant");
        let later = answer(asked + Duration::from_millis(1));
        assert!(wish.accepts(&later));
        // The wall clock says later, the monotonic clock says earlier (the wall clock was set
        // back meanwhile): not accepted.
        let set_back = SharedAnswer {
            sent_mono: Some(4_000),
            ..later.clone()
        };
        assert!(!wish.accepts(&set_back));
        let both = SharedAnswer {
            sent_mono: Some(6_000),
            ..later
        };
        assert!(wish.accepts(&both));
        let (a, b) = (mono_now(), mono_now());
        #[cfg(unix)]
        assert!(a.unwrap() <= b.unwrap());
        #[cfg(not(unix))]
        assert_eq!((a, b), (None, None));
    }

    #[test]
    fn garbage_cut_or_future_files_are_ignored() {
        let dir = private_dir();
        let key = AnswerKey::new("http://x", &Secret::new("k"), &dataset());
        let path = dir.path().join(&key.file);
        let good = encode(&answer(SystemTime::now() - Duration::from_secs(1))).unwrap();
        let future = encode(&answer(SystemTime::now() + Duration::from_secs(3600))).unwrap();
        let mut longer = good.clone();
        longer.push(b'x');
        let mut v2 = String::from_utf8(good.clone()).unwrap();
        v2 = v2.replacen("\"v\":1", "\"v\":2", 1);
        for (what, bytes) in [
            ("garbage", b"\x00garbage{{{".to_vec()),
            ("cut", good[..good.len() - 3].to_vec()),
            ("longer than said", longer),
            ("future", future),
            ("version", v2.into_bytes()),
            ("empty", Vec::new()),
        ] {
            std::fs::write(&path, &bytes).unwrap();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            }
            assert_eq!(load(dir.path(), &key), None, "{what}");
        }
        std::fs::write(&path, &good).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        assert!(load(dir.path(), &key).is_some(), "the good one is read");
    }

    #[cfg(unix)]
    #[test]
    fn symlinked_open_or_foreign_owned_files_are_ignored() {
        use std::os::unix::fs::PermissionsExt;
        let dir = private_dir();
        let key = AnswerKey::new("http://x", &Secret::new("k"), &dataset());
        let path = dir.path().join(&key.file);
        let good = encode(&answer(SystemTime::now() - Duration::from_secs(1))).unwrap();

        // A symlink to a perfectly good answer elsewhere.
        let elsewhere = private_dir();
        let target = elsewhere.path().join("answer");
        std::fs::write(&target, &good).unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::symlink(&target, &path).unwrap();
        assert_eq!(load(dir.path(), &key), None, "symlink followed");
        // Storing replaces the link itself, never writes through it.
        store(dir.path(), &key, &answer(SystemTime::now()));
        assert_eq!(std::fs::read(&target).unwrap(), good);
        assert!(
            !std::fs::symlink_metadata(&path)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        std::fs::remove_file(&path).unwrap();

        // Readable or writable by others.
        for mode in [0o644, 0o622, 0o604] {
            std::fs::write(&path, &good).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            assert_eq!(load(dir.path(), &key), None, "mode {mode:o}");
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(load(dir.path(), &key).is_some());

        // Owned by someone else (only root can hand a file over).
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } == 0 {
            std::os::unix::fs::chown(&path, Some(65534), None).unwrap();
            assert_eq!(load(dir.path(), &key), None, "foreign owner");
        }

        // A directory or a FIFO in its place.
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        assert_eq!(load(dir.path(), &key), None);
        std::fs::remove_dir(&path).unwrap();
        let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo only creates a file.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        assert_eq!(load(dir.path(), &key), None, "a FIFO (must not block)");
    }
}
