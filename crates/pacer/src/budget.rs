//! Budgets announced by a server (limit, remaining, reset time: Rocket.Chat's
//! `X-RateLimit-*` headers), one book per (service, key) shared by every process of the user
//! on this machine: read and replaced under the book's file lock, so that back-to-back or
//! concurrent runs never spend a budget another run already used. A route whose budget is
//! spent is not called until its window resets.
//!
//! The book is a hint like every record (see `slot_file`): a book that does not parse, of an
//! older format, or whose stamp is not believable is ignored and replaced; a newer format's
//! book is neither used nor overwritten (this process then keeps its book in memory). A reset
//! further than [`MAX_WAIT`] from when the book was written is not believed.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::file::{self, LockError};
use crate::folder::Service;
use crate::stamp::{Stamp, wall_ms};
use crate::warnings::warn;

/// Margin added to a server's reset time before calling again.
const RESET_MARGIN_MS: u64 = 150;
/// A reset further away than this is not believed (clock skew, bad header).
pub const MAX_WAIT: Duration = Duration::from_secs(15 * 60);
/// The books' format.
const FORMAT: u32 = 2;

/// Now on the wall clock, in milliseconds since the Unix epoch (the servers' reset times are
/// on it).
pub fn now_ms() -> u64 {
    wall_ms(SystemTime::now())
}

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
    #[serde(default)]
    v: u32,
    #[serde(default)]
    stamp: Option<Stamp>,
    #[serde(default)]
    routes: BTreeMap<String, Budget>,
    /// Fields of a later version of this format, kept as they were.
    #[serde(flatten)]
    extra: serde_json::Map<String, serde_json::Value>,
}

impl Book {
    /// The book a file holds (`Err`: of a newer format).
    fn read(bytes: &[u8], changed: Option<SystemTime>) -> Result<Book, ()> {
        let Ok(book) = serde_json::from_slice::<Book>(bytes) else {
            return Ok(Book::default());
        };
        if book.v > FORMAT {
            return Err(());
        }
        let believable = book.v == FORMAT
            && book
                .stamp
                .as_ref()
                .is_some_and(|s| s.check(changed).is_ok())
            && book.routes.values().all(|b| {
                let written = book.stamp.as_ref().map_or(0, |s| s.wall_ms);
                b.reset_ms <= written.saturating_add(MAX_WAIT.as_millis() as u64)
            });
        Ok(if believable { book } else { Book::default() })
    }
}

/// The rule of [`Budgets::wait_blocking`] on a book of budgets per route, at `now` (ms since
/// the Unix epoch): how long to wait before `route` may be called, nothing reserved. For
/// callers that keep their own book on their own clock (a simulation).
pub fn wait_in(routes: &BTreeMap<String, Budget>, route: &str, now: u64) -> Option<Duration> {
    let budget = routes.get(route)?;
    (budget.remaining == 0 && budget.reset_ms + RESET_MARGIN_MS > now)
        .then(|| Duration::from_millis(budget.reset_ms + RESET_MARGIN_MS - now).min(MAX_WAIT))
}

/// The rule of [`Budgets::reserve_blocking`] on a book of budgets per route, at `now`: how
/// long to wait before calling `route`, one call reserved when none is needed; a budget whose
/// window has reset is forgotten.
pub fn reserve_in(
    routes: &mut BTreeMap<String, Budget>,
    route: &str,
    now: u64,
) -> Option<Duration> {
    let budget = routes.get_mut(route)?;
    if budget.reset_ms + RESET_MARGIN_MS <= now {
        routes.remove(route);
        return None;
    }
    if budget.remaining == 0 {
        let wait = Duration::from_millis(budget.reset_ms + RESET_MARGIN_MS - now);
        return Some(wait.min(MAX_WAIT));
    }
    budget.remaining -= 1;
    None
}

/// The budgets of one (service, key): in its file, or in memory when sharing is not possible.
pub struct Budgets {
    path: Option<PathBuf>,
    memory: std::sync::Mutex<Book>,
}

impl Budgets {
    /// The book of `key` (for example a server's URL; its file is named by a hash of it).
    pub fn new(service: &'static Service, key: &str) -> Budgets {
        let path = service.dir().map(|dir| {
            let name = crate::answers::AnswerKey::new(service.name, &["budget", key]);
            let hash = name.file_name().trim_end_matches(".answer").to_owned();
            dir.join(format!("{hash}.book"))
        });
        Budgets {
            path,
            memory: Default::default(),
        }
    }

    /// An in-memory book (no sharing).
    pub fn in_memory() -> Budgets {
        Budgets {
            path: None,
            memory: Default::default(),
        }
    }

    /// Reads, changes and writes the book under the file lock (or in memory). Blocking.
    fn with_book<T>(&self, f: impl FnOnce(&mut BTreeMap<String, Budget>) -> T) -> T {
        if let Some(path) = &self.path {
            let give_up = std::time::Instant::now() + MAX_WAIT;
            match file::lock(path, give_up, "of rate-limit budgets") {
                Ok(locked) => {
                    let read = match &locked.content {
                        Ok(c) if c.bytes.is_empty() => Ok(Book::default()),
                        Ok(c) => Book::read(&c.bytes, c.changed),
                        Err(_) => Ok(Book::default()),
                    };
                    if let Ok(mut book) = read {
                        let out = f(&mut book.routes);
                        book.v = FORMAT;
                        book.stamp = Stamp::now();
                        let written = serde_json::to_vec(&book)
                            .map_err(std::io::Error::other)
                            .and_then(|bytes| file::write_atomic(path, &bytes));
                        if let Err(e) = written {
                            warn(format!(
                                "could not share rate-limit budgets in {} ({e})",
                                path.display()
                            ));
                        }
                        return out;
                    }
                    warn(format!(
                        "the budget book {} was written by a newer version; it is left as it \
                         is, and this process keeps its budgets in memory",
                        path.display()
                    ));
                }
                Err(LockError::Busy) | Err(LockError::Failed(_)) => warn(format!(
                    "cannot lock the budget book {}; this process keeps its budgets in memory",
                    path.display()
                )),
            }
        }
        let mut book = self.memory.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut book.routes)
    }

    /// How long to wait before `route` may be called (nothing reserved). Blocking.
    pub fn wait_blocking(&self, route: &str) -> Option<Duration> {
        let now = now_ms();
        self.with_book(|routes| wait_in(routes, route, now))
    }

    /// How long to wait before calling `route`, reserving one call when none is needed.
    /// Blocking: see [`Budgets::reserve`].
    pub fn reserve_blocking(&self, route: &str) -> Option<Duration> {
        let now = now_ms();
        self.with_book(|routes| reserve_in(routes, route, now))
    }

    /// Records the budget a response announced. Blocking: see [`Budgets::record`].
    pub fn record_blocking(&self, route: &str, budget: Budget) {
        self.with_book(|routes| {
            routes.insert(route.to_owned(), budget);
        });
    }

    /// The last known budget of `route` (for spreading calls over a window), read without
    /// the lock (books are replaced whole, never written in place).
    pub fn budget(&self, route: &str) -> Option<Budget> {
        if let Some(path) = &self.path
            && let Ok(Some(content)) = file::read(path)
            && let Ok(book) = Book::read(&content.bytes, content.changed)
            && let Some(budget) = book.routes.get(route)
        {
            return Some(*budget);
        }
        let book = self.memory.lock().unwrap_or_else(|p| p.into_inner());
        book.routes.get(route).copied()
    }
}

impl Budgets {
    /// [`Budgets::reserve_blocking`] on a blocking thread.
    pub async fn reserve(self: &std::sync::Arc<Self>, route: &str) -> Option<Duration> {
        let (me, route) = (self.clone(), route.to_owned());
        tokio::task::spawn_blocking(move || me.reserve_blocking(&route))
            .await
            .unwrap_or(None)
    }

    /// [`Budgets::wait_blocking`] on a blocking thread.
    pub async fn wait(self: &std::sync::Arc<Self>, route: &str) -> Option<Duration> {
        let (me, route) = (self.clone(), route.to_owned());
        tokio::task::spawn_blocking(move || me.wait_blocking(&route))
            .await
            .unwrap_or(None)
    }

    /// [`Budgets::record_blocking`] on a blocking thread.
    pub async fn record(self: &std::sync::Arc<Self>, route: &str, budget: Budget) {
        let (me, route) = (self.clone(), route.to_owned());
        let _ = tokio::task::spawn_blocking(move || me.record_blocking(&route, budget)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spent_budget_waits_for_its_reset_and_a_fresh_one_is_reserved() {
        let p = Budgets::in_memory();
        assert_eq!(
            p.reserve_blocking("import.new"),
            None,
            "unknown budget: call"
        );
        let reset_ms = now_ms() + 10_000;
        p.record_blocking(
            "import.new",
            Budget {
                limit: 10,
                remaining: 1,
                reset_ms,
            },
        );
        assert_eq!(
            p.reserve_blocking("import.new"),
            None,
            "one call left: reserved"
        );
        let wait = p.reserve_blocking("import.new").expect("spent: wait");
        assert!(wait > Duration::from_secs(9) && wait <= Duration::from_secs(11));
        assert_eq!(
            p.reserve_blocking("import.status"),
            None,
            "routes are separate"
        );
    }

    #[test]
    fn wait_reserves_nothing() {
        let p = Budgets::in_memory();
        let one_left = Budget {
            limit: 10,
            remaining: 1,
            reset_ms: now_ms() + 10_000,
        };
        p.record_blocking("import.new", one_left);
        assert_eq!(p.wait_blocking("import.new"), None);
        assert_eq!(p.wait_blocking("import.new"), None, "still one left");
        assert_eq!(p.reserve_blocking("import.new"), None);
        assert!(p.wait_blocking("import.new").is_some(), "spent");
    }

    #[test]
    fn a_past_window_is_forgotten_and_a_far_reset_is_capped() {
        let p = Budgets::in_memory();
        let spent = |reset_ms| Budget {
            limit: 1,
            remaining: 0,
            reset_ms,
        };
        p.record_blocking("r", spent(now_ms() - 1_000));
        assert_eq!(p.reserve_blocking("r"), None);
        p.record_blocking("r", spent(now_ms() + 86_400_000));
        assert_eq!(p.reserve_blocking("r"), Some(MAX_WAIT));
    }

    fn shared(path: &std::path::Path) -> Budgets {
        Budgets {
            path: Some(path.to_owned()),
            memory: Default::default(),
        }
    }

    #[test]
    fn the_book_is_shared_through_its_file_and_a_doctored_one_is_ignored() {
        if Stamp::now().is_none() {
            return; // no boot id: nothing is shared
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("book.book");
        let (a, b) = (shared(&path), shared(&path));
        let spent = Budget {
            limit: 10,
            remaining: 0,
            reset_ms: now_ms() + 5_000,
        };
        a.record_blocking("import.run", spent);
        assert!(
            b.reserve_blocking("import.run").is_some(),
            "b sees a's spent budget"
        );
        // The same book dated an hour ahead, or of an older format: ignored.
        let text = std::fs::read_to_string(&path).unwrap();
        let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
        value["stamp"]["wall_ms"] = (now_ms() + 3_600_000).into();
        file::write_atomic(&path, value.to_string().as_bytes()).unwrap();
        assert_eq!(
            b.reserve_blocking("import.run"),
            None,
            "future-dated book believed"
        );
        a.record_blocking("import.run", spent);
        let mut value: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        value["v"] = 1.into();
        file::write_atomic(&path, value.to_string().as_bytes()).unwrap();
        assert_eq!(
            b.reserve_blocking("import.run"),
            None,
            "older format believed"
        );
        // A newer format's book is left as it is; fields it adds survive our rewrites.
        value["v"] = 3.into();
        file::write_atomic(&path, value.to_string().as_bytes()).unwrap();
        b.record_blocking("import.run", spent);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), value.to_string());
        a.record_blocking("import.status", spent);
    }

    #[test]
    fn unknown_fields_are_kept() {
        if Stamp::now().is_none() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("book.book");
        let a = shared(&path);
        a.record_blocking("r", Budget::default());
        let mut value: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        value["later_field"] = "kept".into();
        file::write_atomic(&path, value.to_string().as_bytes()).unwrap();
        a.record_blocking("s", Budget::default());
        let after: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(after["later_field"], "kept");
        assert!(after["routes"]["s"].is_object());
    }
}
