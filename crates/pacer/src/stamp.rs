//! When and where a record was written: the boot of the machine, its monotonic clock and its
//! wall clock. A record is a hint only while its stamp is believable (see [`Stamp::check`]);
//! every time inside a record is on the monotonic clock of the boot that wrote it, so a wall
//! clock stepped back or forward moves nothing.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// How far a stamp's two clocks may disagree with the reader's (NTP slews the wall clock by
/// at most 0.5 ms a second: well under this over the life of a record), and how far a stamp
/// may lie after the moment its file was last changed (the kernel's coarse clock).
pub const CLOCK_TOLERANCE: Duration = Duration::from_secs(1);

/// This boot's id (`/proc/sys/kernel/random/boot_id`); `None` where there is none, and then
/// nothing is shared (records of another boot could not be told apart).
pub fn boot_id() -> Option<&'static str> {
    static BOOT: OnceLock<Option<String>> = OnceLock::new();
    BOOT.get_or_init(|| {
        let text = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
        let id = text.trim();
        (!id.is_empty() && id.len() <= 64).then(|| id.to_owned())
    })
    .as_deref()
}

/// Now on the machine's monotonic clock (`CLOCK_MONOTONIC`, shared by every process of a
/// boot and never set back), in nanoseconds; `None` where there is none.
pub fn mono_now() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Unix.
        if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) } != 0 {
            return None;
        }
        let secs = u64::try_from(ts.tv_sec).ok()?;
        let nanos = u64::try_from(ts.tv_nsec).ok()?;
        secs.checked_mul(1_000_000_000)?.checked_add(nanos)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// A wall-clock time in milliseconds since the Unix epoch (0 before it).
pub fn wall_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A duration in whole nanoseconds, saturating.
pub(crate) fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The stamp of a record: written on boot `boot` at `mono_ns` (monotonic) = `wall_ms` (wall).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    pub boot: String,
    pub mono_ns: u64,
    pub wall_ms: u64,
}

impl Stamp {
    /// Now, on this boot (`None` without a boot id or a monotonic clock).
    pub fn now() -> Option<Stamp> {
        Some(Stamp {
            boot: boot_id()?.to_owned(),
            mono_ns: mono_now()?,
            wall_ms: wall_ms(SystemTime::now()),
        })
    }

    /// Why a record with this stamp is not a hint to use now, if it is not: written on another
    /// boot, dated in the future (on either clock, or after `changed`, when its file was last
    /// changed: the kernel sets that time, a writer cannot), or with clocks that disagree with
    /// the reader's (one of them was stepped since). Such a record is ignored, never clamped.
    pub fn check(&self, changed: Option<SystemTime>) -> Result<(), &'static str> {
        let now = Stamp::now().ok_or("this machine has no boot id or monotonic clock")?;
        if self.boot != now.boot {
            return Err("written on another boot");
        }
        let tol_ms = CLOCK_TOLERANCE.as_millis() as u64;
        if self.mono_ns > now.mono_ns || self.wall_ms > now.wall_ms + tol_ms {
            return Err("dated in the future");
        }
        if let Some(changed) = changed
            && self.wall_ms > wall_ms(changed).saturating_add(tol_ms)
        {
            return Err("dated after its file was last changed");
        }
        // Both clocks must have moved alike since the stamp.
        let mono_age_ms = (now.mono_ns - self.mono_ns) / 1_000_000;
        let wall_age_ms = now.wall_ms.saturating_sub(self.wall_ms);
        if mono_age_ms.abs_diff(wall_age_ms) > tol_ms {
            return Err("its clocks disagree with this process's (a clock was stepped)");
        }
        Ok(())
    }
}

/// A monotonic time of this boot as an instant of the caller's (tokio) clock, read as "now" at
/// `(mono_now, now)`.
pub(crate) fn to_instant(
    mono: u64,
    mono_now: u64,
    now: tokio::time::Instant,
) -> Option<tokio::time::Instant> {
    if mono == 0 {
        return None;
    }
    if mono >= mono_now {
        now.checked_add(Duration::from_nanos(mono - mono_now))
    } else {
        now.checked_sub(Duration::from_nanos(mono_now - mono))
    }
}

/// An instant of the caller's clock as a monotonic time of this boot.
pub(crate) fn to_mono(at: tokio::time::Instant, mono_now: u64, now: tokio::time::Instant) -> u64 {
    if at >= now {
        mono_now.saturating_add(ns(at - now))
    } else {
        mono_now.saturating_sub(ns(now - at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_stamp_passes_and_a_doctored_one_does_not() {
        let Some(now) = Stamp::now() else {
            return; // no boot id here: nothing is ever shared
        };
        assert_eq!(now.check(Some(SystemTime::now())), Ok(()));
        let hour_ms = 3_600_000;
        let cases = [
            (
                Stamp {
                    boot: "another".into(),
                    ..now.clone()
                },
                "another boot",
            ),
            (
                Stamp {
                    mono_ns: now.mono_ns + 3_600_000_000_000,
                    wall_ms: now.wall_ms + hour_ms,
                    ..now.clone()
                },
                "future",
            ),
            (
                Stamp {
                    mono_ns: now.mono_ns.saturating_sub(3_600_000_000_000),
                    ..now.clone()
                },
                "disagree",
            ),
        ];
        for (stamp, why) in cases {
            let err = stamp.check(None).unwrap_err();
            assert!(err.contains(why), "{why}: {err}");
        }
        // Consistent clocks, but later than the file's last change: planted ahead of time.
        let ahead = Stamp {
            mono_ns: now.mono_ns,
            wall_ms: now.wall_ms,
            ..now.clone()
        };
        let changed = SystemTime::now() - Duration::from_secs(10);
        assert!(
            ahead
                .check(Some(changed))
                .unwrap_err()
                .contains("after its file")
        );
    }

    #[test]
    fn monotonic_times_round_trip_through_instants() {
        let now = tokio::time::Instant::now();
        let mono: u64 = 5_000_000_000;
        for offset in [-2_000_000_000i64, 0, 3_000_000_000] {
            let at = mono.checked_add_signed(offset).unwrap();
            let instant = to_instant(at, mono, now).unwrap();
            assert_eq!(to_mono(instant, mono, now), at);
        }
        assert_eq!(to_instant(0, mono, now), None);
    }
}
