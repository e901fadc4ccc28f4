//! Front-end plumbing that every service's command line and action mode share, so that
//! neither front end imports the other and no service's names appear here: exit codes and
//! their ranking ([`exit`]), generic value parsers ([`parse`]), environment variable tables
//! and their common checks ([`env`]), diagnostic logging ([`logging`]) and whether terminal
//! output is coloured ([`color`]), the signals that stop a wait ([`signals`]), GitHub Actions
//! workflow commands, outputs and job-summary helpers ([`github`]), the command lines' completions
//! and manual pages ([`cli_docs`]), and starting a front end's runtime ([`block_on`]). What is specific to a
//! service (its reports, its settings, its exit-code mapping) lives in that service's slice,
//! e.g. `crate::woosmap::{report, settings, values, exit}`.

pub mod cli_docs;
pub mod color;
pub mod env;
pub mod exit;
pub mod github;
pub mod logging;
pub mod parse;
pub mod signals;

pub use exit::ExitCode;

/// Runs a front end's future on a multi-threaded runtime (`worker_threads`: `None` for one per
/// core) and returns its exit code; a runtime that cannot start is an error on stderr and
/// [`ExitCode::ApiError`].
pub fn block_on(
    worker_threads: Option<usize>,
    front_end: impl std::future::Future<Output = ExitCode>,
) -> ExitCode {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = worker_threads {
        builder.worker_threads(n);
    }
    match builder.enable_all().build() {
        Ok(runtime) => runtime.block_on(front_end),
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            ExitCode::ApiError
        }
    }
}
