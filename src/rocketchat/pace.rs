//! Pacing by Rocket.Chat's `X-RateLimit-*` headers, shared by every process of this user on
//! this machine: the last known budget of each route (limit, remaining, reset as a ms epoch)
//! lives in a small JSON file per server, read and updated under an OS file lock, so that
//! back-to-back or concurrent runs never spend a budget another run already used. A route
//! whose budget is spent is not called until its window resets.
//!
//! The same folder holds one lock file per server ([`lock_server`], at the end of this file,
//! self-contained so that it can move with the pacing code): an import holds it from its last
//! status read through `import.run`, so two runs on this machine queue instead of replacing
//! each other's operation.
//!
//! The folder is `$WOOSMAP_PACER_DIR/rocketchat-import` when that is set (`off`: in memory
//! only, no lock), else `$XDG_RUNTIME_DIR/rocketchat-import`, else a per-user folder in the
//! temp dir; it must be a directory of this user that nobody else can write.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Margin added to a server's reset time before calling again.
const RESET_MARGIN_MS: u64 = 150;
/// A reset further away than this is not believed (clock skew, bad header).
const MAX_WAIT: Duration = Duration::from_secs(15 * 60);

/// The budget of one route as last answered.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Budget {
    pub limit: u64,
    pub remaining: u64,
    /// Milliseconds since the Unix epoch.
    pub reset_ms: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Book {
    routes: BTreeMap<String, Budget>,
}

/// The per-server budget file; `None` path means in memory only.
pub struct Pacer {
    path: Option<PathBuf>,
    memory: std::sync::Mutex<Book>,
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

/// The private folder for budget and lock files (see the module doc), created 0700; `None` if
/// sharing is off or it cannot be made private.
fn folder() -> Option<PathBuf> {
    // Unit tests: a folder of the test process's own, removed when it exits.
    #[cfg(test)]
    let base = crate::test_dirs::private("rocketchat-import");
    #[cfg(not(test))]
    let base = {
        let shared = std::env::var_os("WOOSMAP_PACER_DIR").filter(|v| !v.is_empty());
        if let Some(dir) = &shared {
            if dir
                .to_str()
                .is_some_and(|d| d.trim().eq_ignore_ascii_case("off"))
            {
                return None;
            }
            let _ = fs::create_dir_all(dir);
        }
        let base = shared
            .map(|d| PathBuf::from(d).join("rocketchat-import"))
            .or_else(|| {
                std::env::var_os("XDG_RUNTIME_DIR")
                    .map(PathBuf::from)
                    .filter(|p| p.is_dir())
                    .map(|p| p.join("rocketchat-import"))
            })
            .unwrap_or_else(|| {
                #[cfg(unix)]
                let uid = unsafe { libc::geteuid() };
                #[cfg(not(unix))]
                let uid = 0;
                std::env::temp_dir().join(format!("rocketchat-import-{uid}"))
            });
        base
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
        let _ = fs::DirBuilder::new().mode(0o700).create(&base);
        let meta = fs::symlink_metadata(&base).ok()?;
        let mine = meta.uid() == unsafe { libc::geteuid() };
        if !meta.is_dir() || !mine || meta.permissions().mode() & 0o077 != 0 {
            return None;
        }
    }
    #[cfg(not(unix))]
    fs::create_dir_all(&base).ok()?;
    Some(base)
}

impl Pacer {
    /// The pacer for the server at `base_url` (its file is named by a hash of the URL).
    pub fn for_server(base_url: &str) -> Pacer {
        let path = folder().map(|dir| dir.join(format!("{}.json", server_name(base_url))));
        Pacer {
            path,
            memory: Default::default(),
        }
    }

    /// Reads, changes and writes the book under the file lock (or in memory).
    fn with_book<T>(&self, f: impl FnOnce(&mut Book) -> T) -> T {
        if let Some(path) = &self.path
            && let Some((mut file, mut book)) = open_locked(path)
        {
            let out = f(&mut book);
            write_back(&mut file, &book);
            return out;
        }
        let mut book = self
            .memory
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut book)
    }

    /// How long to wait before `route` may be called (nothing reserved).
    pub fn wait(&self, route: &str) -> Option<Duration> {
        let now = now_ms();
        self.with_book(|book| {
            let budget = book.routes.get(route)?;
            (budget.remaining == 0 && budget.reset_ms + RESET_MARGIN_MS > now).then(|| {
                Duration::from_millis(budget.reset_ms + RESET_MARGIN_MS - now).min(MAX_WAIT)
            })
        })
    }

    /// How long to wait before calling `route`, reserving one call when none is needed.
    pub fn reserve(&self, route: &str) -> Option<Duration> {
        let now = now_ms();
        self.with_book(|book| {
            let budget = book.routes.get_mut(route)?;
            if budget.reset_ms + RESET_MARGIN_MS <= now {
                book.routes.remove(route);
                return None;
            }
            if budget.remaining == 0 {
                let wait = Duration::from_millis(budget.reset_ms + RESET_MARGIN_MS - now);
                return Some(wait.min(MAX_WAIT));
            }
            budget.remaining -= 1;
            None
        })
    }

    /// Records the budget a response announced.
    pub fn record(&self, route: &str, budget: Budget) {
        self.with_book(|book| {
            book.routes.insert(route.to_owned(), budget);
        });
    }

    /// The last known budget of `route` (for spreading polls over a window).
    pub fn budget(&self, route: &str) -> Option<Budget> {
        self.with_book(|book| book.routes.get(route).copied())
    }
}

/// Opens (no symlink followed) and locks the file, and reads its book; `None` on any I/O
/// problem, so that the caller falls back to memory. The lock is released when the file is
/// dropped.
fn open_locked(path: &Path) -> Option<(File, Book)> {
    let mut opts = OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    let mut file: File = opts.open(path).ok()?;
    file.lock().ok()?;
    let mut text = String::new();
    let _ = file.read_to_string(&mut text);
    let book: Book = serde_json::from_str(&text).unwrap_or_default();
    Some((file, book))
}

/// Replaces the file's content with `book` (best effort: a lost write only costs pacing
/// knowledge).
fn write_back(file: &mut File, book: &Book) {
    if let Ok(json) = serde_json::to_string(book) {
        let _ = file
            .seek(SeekFrom::Start(0))
            .and_then(|_| file.set_len(0))
            .and_then(|()| file.write_all(json.as_bytes()));
    }
    let _ = file.unlock();
}

/// A file name for the server at `base_url`: a hash of the URL.
fn server_name(base_url: &str) -> String {
    let digest = Sha256::digest(base_url.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

// ---- The per-server import lock (self-contained: moves with the pacing code). ----

/// Held while an import goes from its last status read through `import.run`; released when
/// dropped (or when the process ends, however it ends: the OS drops the lock).
#[derive(Debug)]
pub struct ServerLock {
    _file: File,
}

/// Whether the lock was free.
#[derive(Debug)]
pub enum Locked {
    /// Taken at once.
    Free(ServerLock),
    /// Another process of this user holds it: call [`ServerLock::wait`] on this.
    Busy(PendingLock),
}

/// A lock another process holds.
#[derive(Debug)]
pub struct PendingLock {
    file: File,
}

impl PendingLock {
    /// Waits for the lock (on a blocking thread; dropping the future leaves that thread to
    /// take and release it).
    pub async fn wait(self) -> Option<ServerLock> {
        let file = self.file;
        tokio::task::spawn_blocking(move || file.lock().ok().map(|()| ServerLock { _file: file }))
            .await
            .ok()
            .flatten()
    }
}

/// The lock of imports on the server at `base_url` in the pacer folder; `None` when there is
/// no usable folder (sharing off or untrusted: nothing to queue on).
pub fn lock_server(base_url: &str) -> Option<Locked> {
    let path = folder()?.join(format!("{}.lock", server_name(base_url)));
    lock_file(&path)
}

fn lock_file(path: &Path) -> Option<Locked> {
    let mut opts = OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    let file = opts.open(path).ok()?;
    match file.try_lock() {
        Ok(()) => Some(Locked::Free(ServerLock { _file: file })),
        Err(std::fs::TryLockError::WouldBlock) => Some(Locked::Busy(PendingLock { file })),
        Err(std::fs::TryLockError::Error(_)) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory() -> Pacer {
        Pacer {
            path: None,
            memory: Default::default(),
        }
    }

    #[test]
    fn a_spent_budget_waits_for_its_reset_and_a_fresh_one_is_reserved() {
        let p = memory();
        assert_eq!(p.reserve("import.new"), None, "unknown budget: call");
        let reset_ms = now_ms() + 10_000;
        p.record(
            "import.new",
            Budget {
                limit: 10,
                remaining: 1,
                reset_ms,
            },
        );
        assert_eq!(p.reserve("import.new"), None, "one call left: reserved");
        let wait = p.reserve("import.new").expect("spent: wait");
        assert!(wait > Duration::from_secs(9) && wait <= Duration::from_secs(11));
        assert_eq!(p.reserve("import.status"), None, "routes are separate");
    }

    #[test]
    fn a_past_window_is_forgotten_and_a_far_reset_is_capped() {
        let p = memory();
        p.record(
            "r",
            Budget {
                limit: 1,
                remaining: 0,
                reset_ms: now_ms() - 1_000,
            },
        );
        assert_eq!(p.reserve("r"), None);
        p.record(
            "r",
            Budget {
                limit: 1,
                remaining: 0,
                reset_ms: now_ms() + 86_400_000,
            },
        );
        assert_eq!(p.reserve("r"), Some(MAX_WAIT));
    }

    #[test]
    fn the_book_is_shared_through_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("book.json");
        let a = Pacer {
            path: Some(path.clone()),
            memory: Default::default(),
        };
        let b = Pacer {
            path: Some(path),
            memory: Default::default(),
        };
        a.record(
            "import.run",
            Budget {
                limit: 10,
                remaining: 0,
                reset_ms: now_ms() + 5_000,
            },
        );
        assert!(b.reserve("import.run").is_some(), "b sees a's spent budget");
    }

    #[tokio::test]
    async fn the_server_lock_queues_a_second_holder_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.lock");
        let Some(Locked::Free(first)) = lock_file(&path) else {
            panic!("free at first");
        };
        let Some(Locked::Busy(pending)) = lock_file(&path) else {
            panic!("held by the first");
        };
        let waiter = tokio::spawn(pending.wait());
        drop(first);
        assert!(waiter.await.unwrap().is_some(), "taken once released");
        assert!(matches!(lock_file(&path), Some(Locked::Free(_))));
    }

    #[test]
    fn wait_reserves_nothing() {
        let p = memory();
        p.record(
            "import.new",
            Budget {
                limit: 10,
                remaining: 1,
                reset_ms: now_ms() + 10_000,
            },
        );
        assert_eq!(p.wait("import.new"), None);
        assert_eq!(p.wait("import.new"), None, "still one left");
        assert_eq!(p.reserve("import.new"), None);
        assert!(p.wait("import.new").is_some(), "spent");
    }
}
