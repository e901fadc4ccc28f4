//! Generic parsers for values users type into any front end (a flag, an action input, an
//! environment variable). Each error says what was expected; the caller names the field.
//! Values whose rules belong to one service are parsed in that service's slice.

use std::time::Duration;

/// Parses a humantime duration, with a message that says what a valid value looks like.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim())
        .map_err(|e| format!("expected a duration such as 30s, 5m or 1h30m, got {s:?} ({e})"))
}
