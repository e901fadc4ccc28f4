//! Time on the server's side: RFC 3339 timestamps of the status (any offset, not only `Z`),
//! and the server's clock at a local instant, estimated from the `Date` header of each answer
//! and the monotonic clock. The engine uses both to tell whether a run started after an
//! invocation began ("when is a run mine", README).

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use super::retry::{days_from_civil, parse_http_date};

/// Parses an RFC 3339 date-time: `2026-01-02T03:04:05Z`, `…05.678+00:00`, `…05-07:30`; a
/// space instead of `T` and a lowercase `t`/`z` are accepted. `None` if it is not one.
pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let s = text.trim().as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = s.get(range)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    if s.len() < 20
        || s[4] != b'-'
        || s[7] != b'-'
        || !matches!(s[10], b'T' | b't' | b' ')
        || s[13] != b':'
        || s[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }
    let mut i = 19;
    let mut nanos: u64 = 0;
    if s.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while s.get(i).is_some_and(u8::is_ascii_digit) {
            if i - start < 9 {
                nanos = nanos * 10 + u64::from(s[i] - b'0');
            }
            i += 1;
        }
        if i == start {
            return None;
        }
        for _ in (i - start).min(9)..9 {
            nanos *= 10;
        }
    }
    let offset_secs: i64 = match s.get(i)? {
        b'Z' | b'z' if i + 1 == s.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == s.len() && s[i + 3] == b':' => {
            let (h, m) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
            if h > 23 || m > 59 {
                return None;
            }
            let secs = i64::from(h * 3600 + m * 60);
            if *sign == b'+' { secs } else { -secs }
        }
        _ => return None,
    };
    let days = days_from_civil(i64::from(year), month, day);
    let local = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second.min(59));
    let utc = u64::try_from(local - offset_secs).ok()?;
    UNIX_EPOCH.checked_add(Duration::from_secs(utc) + Duration::from_nanos(nanos))
}

/// The server's clock, estimated from the `Date` headers of our own answers and this
/// machine's monotonic clock (never its wall clock, which an NTP step can move). An answer
/// dated `D` (whole seconds: the server's clock read between `D` and `D + 1 s`) to a request
/// sent at the local instant `t` and received at `r` was produced between `t` and `r`, so at a
/// local instant `S` the server's clock read less than `D + 1 s - (t - S)` (the upper bound)
/// and at least `D - (r - S)` (the lower bound). Each bound kept is the largest over all
/// answers: a lagging `Date` makes the upper bound later (more cautious) and leaves the lower
/// bound a true one.
#[derive(Debug)]
pub(crate) struct ServerClock {
    /// The local instant offsets are counted from.
    anchor: Instant,
    /// max over answers of `(D + 1 s) - (t - anchor)` and of `D - (r - anchor)`, in ms since
    /// the Unix epoch.
    bounds_ms: Mutex<Option<(i64, i64)>>,
}

impl Default for ServerClock {
    fn default() -> Self {
        ServerClock {
            anchor: Instant::now(),
            bounds_ms: Mutex::new(None),
        }
    }
}

impl ServerClock {
    /// Notes a `Date` header received at the local instant `received` for a request sent at
    /// `sent`.
    pub(crate) fn observe(&self, date_header: &str, sent: Instant, received: Instant) {
        let Some(date) = parse_http_date(date_header.trim()) else {
            return;
        };
        let upper = signed_ms(date) + 1000 - self.since_anchor_ms(sent);
        let lower = signed_ms(date) - self.since_anchor_ms(received);
        let mut bounds = self.bounds_ms.lock().unwrap_or_else(|p| p.into_inner());
        *bounds = Some(match *bounds {
            Some((u, l)) => (u.max(upper), l.max(lower)),
            None => (upper, lower),
        });
    }

    /// The latest time the server's clock can have read at the local instant `local`; `None`
    /// before any `Date` header was seen (then there is no evidence of the server's time).
    pub(crate) fn latest_server_time(&self, local: Instant) -> Option<SystemTime> {
        let (upper, _) = (*self.bounds_ms.lock().unwrap_or_else(|p| p.into_inner()))?;
        Some(self.at(upper, local))
    }

    /// The earliest time the server's clock can have read at the local instant `local`;
    /// `None` before any `Date` header was seen.
    pub(crate) fn earliest_server_time(&self, local: Instant) -> Option<SystemTime> {
        let (_, lower) = (*self.bounds_ms.lock().unwrap_or_else(|p| p.into_inner()))?;
        Some(self.at(lower, local))
    }

    fn at(&self, offset_ms: i64, local: Instant) -> SystemTime {
        let ms = offset_ms.saturating_add(self.since_anchor_ms(local));
        if ms >= 0 {
            UNIX_EPOCH + Duration::from_millis(ms.unsigned_abs())
        } else {
            UNIX_EPOCH
        }
    }

    fn since_anchor_ms(&self, at: Instant) -> i64 {
        if at >= self.anchor {
            i64::try_from((at - self.anchor).as_millis()).unwrap_or(i64::MAX)
        } else {
            -i64::try_from((self.anchor - at).as_millis()).unwrap_or(i64::MAX)
        }
    }
}

fn signed_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64, millis: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis)
    }

    #[test]
    fn rfc3339_with_any_offset() {
        // 2024-05-01T10:00:00Z = 1714557600
        let z = parse_rfc3339("2024-05-01T10:00:00Z").unwrap();
        assert_eq!(z, at(1_714_557_600, 0));
        assert_eq!(parse_rfc3339("2024-05-01T10:00:00+00:00"), Some(z));
        assert_eq!(parse_rfc3339("2024-05-01T12:00:00+02:00"), Some(z));
        assert_eq!(parse_rfc3339("2024-05-01T02:30:00-07:30"), Some(z));
        assert_eq!(parse_rfc3339("2024-05-01 10:00:00z"), Some(z));
        assert_eq!(
            parse_rfc3339("2024-05-01T10:00:00.678+00:00"),
            Some(at(1_714_557_600, 678))
        );
        assert_eq!(
            parse_rfc3339("2024-05-01T10:00:00.123456789123Z"),
            Some(at(1_714_557_600, 123) + Duration::from_nanos(456_789))
        );
        for bad in [
            "",
            "2024-05-01",
            "2024-05-01T10:00:00",
            "2024-05-01T10:00:00+0000",
            "2024-13-01T10:00:00Z",
            "2024-05-01T10:00:00.Z",
            "2024-05-01T10:00:00Zjunk",
            "yesterday at noon, roughly",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn server_clock_is_an_upper_bound_on_the_monotonic_clock() {
        let clock = ServerClock::default();
        let start = Instant::now();
        assert_eq!(
            clock.latest_server_time(start),
            None,
            "no Date: no evidence"
        );
        tokio::time::sleep(Duration::from_millis(2500)).await;
        // Sent 2.5 s after `start`, answered "08:49:40": at `start` the server read less than
        // 08:49:41 - 2.5 s = 08:49:38.500.
        let sent = Instant::now();
        // Received 0.5 s later: at `start` the server read at least 08:49:40 - 3 s.
        let received = sent + Duration::from_millis(500);
        clock.observe("Sun, 06 Nov 1994 08:49:40 GMT", sent, received);
        assert_eq!(clock.latest_server_time(start), Some(at(784_111_778, 500)));
        assert_eq!(clock.earliest_server_time(start), Some(at(784_111_777, 0)));
        // A lagging Date (10 s behind) moves neither bound earlier.
        clock.observe("Sun, 06 Nov 1994 08:49:30 GMT", sent, received);
        assert_eq!(clock.latest_server_time(start), Some(at(784_111_778, 500)));
        assert_eq!(clock.earliest_server_time(start), Some(at(784_111_777, 0)));
        // One ahead moves the upper bound later (more cautious).
        clock.observe("Sun, 06 Nov 1994 08:49:50 GMT", sent, sent);
        assert_eq!(clock.latest_server_time(start), Some(at(784_111_788, 500)));
        clock.observe("not a date", sent, sent);
        assert_eq!(clock.latest_server_time(start), Some(at(784_111_788, 500)));
        // Later local instants map to later server times.
        assert_eq!(
            clock.latest_server_time(start + Duration::from_secs(1)),
            Some(at(784_111_789, 500))
        );
    }
}
