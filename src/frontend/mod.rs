//! Front-end plumbing that every service's command line and action mode share, so that
//! neither front end imports the other and no service's names appear here: exit codes and
//! their ranking ([`exit`]), generic value parsers ([`parse`]), diagnostic logging
//! ([`logging`]) and whether terminal output is coloured ([`color`]), the signals that stop a
//! wait ([`signals`]) and GitHub Actions workflow commands, outputs and job-summary helpers
//! ([`github`]). What is specific to a service (its reports, its settings, its exit-code
//! mapping) lives in that service's slice, e.g. `crate::woosmap::{report, settings, values,
//! exit}`.

pub mod color;
pub mod exit;
pub mod github;
pub mod logging;
pub mod parse;
pub mod signals;

pub use exit::ExitCode;
