//! Woosmap values a user types into any front end (a CLI flag, an action input, an
//! environment variable): parsed and checked here, once, so that every front end accepts and
//! refuses the same things with the same words. Each error says what was expected; the caller
//! names the field. Generic parsers (durations) are in [`crate::frontend::parse`].

use std::time::Duration;

pub use crate::frontend::parse::parse_duration;

use crate::woosmap::api::DatasetId;
use crate::woosmap::import::{MAX_POLL_INTERVAL, MAX_TIMEOUT, MIN_POLL_INTERVAL};

/// A dataset id: a UUID in any accepted spelling.
pub fn parse_dataset_id(s: &str) -> Result<DatasetId, String> {
    DatasetId::parse(s).map_err(|e| e.to_string())
}

/// A wait deadline: longer than zero, at most [`MAX_TIMEOUT`].
pub fn parse_timeout(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d.is_zero() {
        return Err("the timeout must be longer than zero".into());
    }
    if d > MAX_TIMEOUT {
        return Err(format!(
            "the timeout must be at most {}",
            humantime::format_duration(MAX_TIMEOUT)
        ));
    }
    Ok(d)
}

/// A poll interval between [`MIN_POLL_INTERVAL`] and [`MAX_POLL_INTERVAL`].
pub fn parse_poll_interval(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d < MIN_POLL_INTERVAL {
        return Err("the poll interval must be at least 100ms (the API allows one status read every 5s; shorter values are paced to that)".into());
    }
    if d > MAX_POLL_INTERVAL {
        return Err("the poll interval must be at most 1h".into());
    }
    Ok(d)
}

/// An API base URL (see [`crate::woosmap::api::check_base_url`]).
pub fn parse_base_url(s: &str) -> Result<String, String> {
    crate::woosmap::api::check_base_url(s).map_err(|e| e.to_string())
}
