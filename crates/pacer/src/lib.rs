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
//! Modules, lowest first: `stamp` (boot id, clocks), `file` (trusted reads, atomic writes,
//! locks), `folder` (where, trust, warnings), `cleanup`, `slot_file`, `answers`, `budget`,
//! `slots`.

mod answers;
pub mod budget;
pub mod cleanup;
mod file;
mod folder;
pub mod section;
mod slot_file;
mod slots;
mod stamp;

use std::time::Duration;

pub use answers::{AnswerKey, AnswerWish, SharedAnswer};
pub use folder::{FolderSpec, Service, take_warnings, trusted};
pub use slot_file::{ClaimMark, SlotKey};
pub use slots::{Acquired, Pace, PaceError, Slot, acquire, acquire_claim, acquire_or_answer};
pub use stamp::{Stamp, boot_id, mono_now};

/// The longest hold-off another process's `Retry-After` is believed for.
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(15 * 60);

/// Answers and the shared folder, for callers that store or load them outside a slot.
pub mod shared {
    pub use crate::answers::{load, store};
}
