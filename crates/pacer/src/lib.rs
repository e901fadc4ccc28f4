//! A cross-process rate budget that knows no service: the processes of one user on one
//! machine (Terraform walks, CLI calls in parallel CI steps, several front ends) share, through
//! a private folder, per (service, key, route) slots reserved under a file lock before
//! sending ([`slots`]), answers others may use instead of asking again ([`answers`]), claims
//! of actions that must happen once ([`Acquired::AlreadyClaimed`]), and budgets a server
//! announces ([`budget`]), and exclusive sections per (service, key) ([`section`]).
//!
//! Local files are hints, never evidence: a record from another boot, dated in the future, of
//! an unknown format or without a monotonic stamp of this boot is ignored and replaced, never
//! clamped (`stamp`, `slot_file`). Sharing is single-host; see README.md.
//!
//! Modules are layers, each using only those before it (data flows one way):
//! 1. `stamp` (boot id, clocks), `host` (user id, live processes), `warnings` (once per
//!    process, kept for the front end): they know nothing of files;
//! 2. `file`: trusted reads, atomic writes and locks of one file; it knows nothing of folders;
//! 3. [`cleanup`]: stale files of a directory (dead writers' `.tmp`, day-old records);
//! 4. `folder`: where a service's folder is and whether it may be trusted (cleaned once, on
//!    first use);
//! 5. `slot_file`: one slot's record in a service's folder;
//! 6. `answers`, then [`budget`] and [`section`] (named by an answer key);
//! 7. `slots`: the process-wide pacer over all of them.

mod answers;
pub mod budget;
pub mod cleanup;
mod file;
mod folder;
mod host;
pub mod section;
mod slot_file;
mod slots;
mod stamp;
mod warnings;

use std::time::Duration;

pub use answers::{AnswerKey, AnswerWish, SharedAnswer};
pub use folder::{FolderSpec, Service, trusted};
pub use slot_file::{ClaimMark, SlotKey};
pub use slots::{Acquired, Pace, PaceError, Slot, acquire, acquire_claim, acquire_or_answer};
pub use stamp::{Stamp, boot_id, mono_now};
pub use warnings::take_warnings;

/// The longest hold-off another process's `Retry-After` is believed for.
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(15 * 60);

/// Answers and the shared folder, for callers that store or load them outside a slot.
pub mod shared {
    pub use crate::answers::{load, store};
}
