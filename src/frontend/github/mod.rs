//! GitHub Actions plumbing that every service's action mode shares: workflow commands and
//! their escaping ([`commands`]), a step log folded into one group per item ([`log`]), step
//! outputs and the runner's files ([`outputs`]), Markdown escaping for the job summary
//! ([`summary`]), and writing a command line to stdout ([`say`]).
//! It knows no service: what a service reports is decided in its own slice.

pub mod commands;
pub mod log;
pub mod outputs;
pub mod summary;

use std::io::Write;

/// The runner's file for step outputs.
pub const OUTPUT_ENV: &str = "GITHUB_OUTPUT";
/// The runner's file for the job summary.
pub const SUMMARY_ENV: &str = "GITHUB_STEP_SUMMARY";

/// Prints lines on stdout, where the runner reads workflow commands.
pub fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
