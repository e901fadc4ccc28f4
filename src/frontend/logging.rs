//! Diagnostic logging of a command line: `tracing` events to stderr, at the level named by
//! the variable the binary gives (off, error, warn, info, debug, trace; default warn; for
//! both binaries `WOOSMAP_LOG`), coloured only as [`super::color`] decided. Progress and results are not logs: they are written by
//! `progress.rs` and `report.rs`.

use tracing_subscriber::filter::LevelFilter;

/// Parses a level name; `None` when the name is unknown.
pub fn parse_level(s: &str) -> Option<LevelFilter> {
    Some(match s.trim().to_ascii_lowercase().as_str() {
        "off" | "none" => LevelFilter::OFF,
        "error" => LevelFilter::ERROR,
        "warn" | "warning" => LevelFilter::WARN,
        "info" => LevelFilter::INFO,
        "debug" => LevelFilter::DEBUG,
        "trace" => LevelFilter::TRACE,
        _ => return None,
    })
}

/// Installs the stderr logger at the level the variable `level_var` names, with colour codes
/// only when `color` (see [`super::color::apply`]). An unknown level is reported once and
/// treated as `warn`.
pub fn init(level_var: &str, color: bool) {
    let raw = std::env::var(level_var).unwrap_or_default();
    let level = if raw.trim().is_empty() {
        LevelFilter::WARN
    } else {
        parse_level(&raw).unwrap_or_else(|| {
            eprintln!(
                "warning: {level_var}={raw:?} is not a log level (off, error, warn, info, debug, trace); using warn"
            );
            LevelFilter::WARN
        })
    };
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_ansi(color)
        .with_target(false)
        .try_init();
}
