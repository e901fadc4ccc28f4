//! Retry timing: capped exponential backoff with jitter for transient faults, and the parsing
//! of a 429's `Retry-After` header (delta-seconds or an HTTP date).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// First backoff delay.
pub(crate) const BACKOFF_BASE: Duration = Duration::from_millis(500);
/// Largest backoff delay (before jitter).
pub(crate) const BACKOFF_CAP: Duration = Duration::from_secs(8);
/// Jitter: each delay is scaled by a random factor in `1 ± JITTER`.
const JITTER: f64 = 0.2;
/// A `Retry-After` longer than this is treated as this (the deadline bounds it anyway, and it
/// is what other processes may be told to hold off through the shared pacer).
pub(crate) const RETRY_AFTER_CAP: Duration = pacer::RETRY_AFTER_CAP;

/// Capped exponential backoff: 0.5 s, 1 s, 2 s, 4 s, 8 s, 8 s, … each ±20 %.
#[derive(Debug, Clone, Default)]
pub(crate) struct Backoff {
    attempt: u32,
}

impl Backoff {
    pub fn new() -> Self {
        Backoff { attempt: 0 }
    }

    /// The delay before the next retry.
    pub fn next_delay(&mut self) -> Duration {
        let raw = self.nominal();
        self.attempt = self.attempt.saturating_add(1);
        let factor = 1.0 + JITTER * (2.0 * fastrand::f64() - 1.0);
        raw.mul_f64(factor)
    }

    /// The delay before jitter for the current attempt.
    fn nominal(&self) -> Duration {
        let shift = self.attempt.min(16);
        BACKOFF_BASE
            .checked_mul(1u32 << shift)
            .unwrap_or(BACKOFF_CAP)
            .min(BACKOFF_CAP)
    }
}

/// Parses a `Retry-After` value: delta-seconds (`"120"`) or an IMF-fixdate
/// (`"Sun, 06 Nov 1994 08:49:37 GMT"`, measured against `now`). Returns `None` when the value
/// is neither, so the caller falls back to the documented window.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs).min(RETRY_AFTER_CAP));
    }
    if let Ok(secs) = value.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Some(Duration::from_secs_f64(
                secs.min(RETRY_AFTER_CAP.as_secs_f64()),
            ));
        }
        return None;
    }
    let at = parse_http_date(value)?;
    Some(
        at.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(RETRY_AFTER_CAP),
    )
}

/// IMF-fixdate only (the form HTTP/1.1 senders must generate).
pub(crate) fn parse_http_date(value: &str) -> Option<SystemTime> {
    let parts: Vec<&str> = value.split_whitespace().collect();
    let [_dow, day, month, year, time, zone] = parts.as_slice() else {
        return None;
    };
    if !zone.eq_ignore_ascii_case("GMT") {
        return None;
    }
    let day: u32 = day.parse().ok()?;
    let month = match month.to_ascii_lowercase().as_str() {
        "jan" => 1,
        "feb" => 2,
        "mar" => 3,
        "apr" => 4,
        "may" => 5,
        "jun" => 6,
        "jul" => 7,
        "aug" => 8,
        "sep" => 9,
        "oct" => 10,
        "nov" => 11,
        "dec" => 12,
        _ => return None,
    };
    let year: i64 = year.parse().ok()?;
    let mut hms = time.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    if hms.next().is_some() || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    if days < 0 {
        return None;
    }
    let secs = days as u64 * 86_400 + h * 3600 + m * 60 + s;
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_cap_with_jitter() {
        let mut b = Backoff::new();
        let nominal = [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0];
        for n in nominal {
            let d = b.next_delay().as_secs_f64();
            assert!(d >= n * 0.8 - 1e-9 && d <= n * 1.2 + 1e-9, "{d} vs {n}");
        }
        for _ in 0..100 {
            assert!(b.next_delay() <= BACKOFF_CAP.mul_f64(1.2));
        }
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("1.5", now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now),
            Some(Duration::from_secs(30))
        );
        // a date in the past means "now"
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
        assert_eq!(parse_retry_after("99999999999", now), Some(RETRY_AFTER_CAP));
    }

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1994, 11, 6), 9_075);
    }
}
