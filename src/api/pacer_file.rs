//! The pacer's memory across processes: one small file per (base URL, dataset, endpoint kind)
//! in a per-user directory, holding when the last response was received and any 429 hold-off,
//! as wall-clock milliseconds.
//!
//! Terraform starts a fresh provider process for each walk (validate, plan, apply), and a
//! release script may call `woosmap-import` several times in a row; without this, each process
//! would start with an empty pacer and its first call could land inside the window of the
//! previous process's last call. Files are written atomically (temp file + rename); any I/O
//! error just leaves pacing to the in-process state. `WOOSMAP_PACER_DIR` moves the directory,
//! `WOOSMAP_PACER_DIR=off` turns the layer off. Unit tests of the library never use it.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use super::pacer::{PaceKey, PaceKind};

/// What another process recorded for a key, as instants of this process's clock.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Recorded {
    pub last: Option<Instant>,
    pub not_before: Option<Instant>,
}

fn dir() -> Option<&'static PathBuf> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        if cfg!(test) {
            return None;
        }
        let dir = match std::env::var("WOOSMAP_PACER_DIR") {
            Ok(v) if v.eq_ignore_ascii_case("off") => return None,
            Ok(v) if !v.trim().is_empty() => PathBuf::from(v),
            _ => std::env::temp_dir().join(format!("woosmap-pacer-{}", user_tag())),
        };
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        match builder.create(&dir) {
            Ok(()) => Some(dir),
            Err(e) => {
                tracing::debug!(error = %e, "pacer: no shared directory; pacing within this process only");
                None
            }
        }
    })
    .as_ref()
}

/// Distinguishes users sharing one temporary directory.
fn user_tag() -> String {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let Ok(meta) = std::fs::metadata("/proc/self") {
            return meta.uid().to_string();
        }
    }
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "user".to_owned())
}

/// FNV-1a: a stable file name for a key (the dataset id is not a secret, but the name stays
/// short and free of URL characters).
fn file_name(key: &PaceKey) -> String {
    let kind = match key.kind {
        PaceKind::Trigger => "trigger",
        PaceKind::Status => "status",
        PaceKind::DatasetCreate => "dataset-create",
        PaceKind::DatasetList => "dataset-list",
        PaceKind::DatasetRead => "dataset-read",
        PaceKind::DatasetUpdate => "dataset-update",
        PaceKind::DatasetDelete => "dataset-delete",
    };
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in format!("{}\n{}\n{kind}", key.base_url, key.dataset).bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

fn wall_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A wall-clock time (ms) as an instant of this process's clock.
fn to_instant(ms: u64, now_wall: SystemTime, now: Instant) -> Option<Instant> {
    if ms == 0 {
        return None;
    }
    let at = UNIX_EPOCH + Duration::from_millis(ms);
    match at.duration_since(now_wall) {
        Ok(ahead) => Some(now + ahead),
        Err(behind) => now.checked_sub(behind.duration()),
    }
}

/// An instant of this process's clock as wall-clock ms (0 for none).
fn to_wall(at: Option<Instant>, now_wall: SystemTime, now: Instant) -> u64 {
    let Some(at) = at else { return 0 };
    let wall = if at >= now {
        now_wall + (at - now)
    } else {
        now_wall.checked_sub(now - at).unwrap_or(UNIX_EPOCH)
    };
    wall_ms(wall)
}

/// Reads what other processes recorded for `key`.
pub(crate) fn load(key: &PaceKey) -> Recorded {
    let Some(dir) = dir() else {
        return Recorded::default();
    };
    let Ok(text) = std::fs::read_to_string(dir.join(file_name(key))) else {
        return Recorded::default();
    };
    let mut fields = text
        .split_whitespace()
        .map(|f| f.parse::<u64>().unwrap_or(0));
    let (last, not_before) = (fields.next().unwrap_or(0), fields.next().unwrap_or(0));
    let (now_wall, now) = (SystemTime::now(), Instant::now());
    Recorded {
        last: to_instant(last, now_wall, now),
        not_before: to_instant(not_before, now_wall, now),
    }
}

/// Records this process's state for `key`.
pub(crate) fn store(key: &PaceKey, state: Recorded) {
    let Some(dir) = dir() else { return };
    let (now_wall, now) = (SystemTime::now(), Instant::now());
    let text = format!(
        "{} {}\n",
        to_wall(state.last, now_wall, now),
        to_wall(state.not_before, now_wall, now)
    );
    let name = file_name(key);
    let tmp = dir.join(format!("{name}.{}.tmp", std::process::id()));
    let result = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, dir.join(&name)));
    if let Err(e) = result {
        tracing::trace!(error = %e, "pacer: could not record the slot for other processes");
        let _ = std::fs::remove_file(&tmp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_and_instant_round_trip() {
        let (now_wall, now) = (SystemTime::now(), Instant::now());
        for offset in [-5_000i64, -1, 0, 1, 90_000] {
            let at = if offset >= 0 {
                now + Duration::from_millis(offset as u64)
            } else {
                now - Duration::from_millis((-offset) as u64)
            };
            let ms = to_wall(Some(at), now_wall, now);
            let back = to_instant(ms, now_wall, now).unwrap();
            let diff = if back > at { back - at } else { at - back };
            assert!(diff <= Duration::from_millis(1), "{offset}: {diff:?}");
        }
        assert_eq!(to_wall(None, now_wall, now), 0);
        assert_eq!(to_instant(0, now_wall, now), None);
    }

    #[test]
    fn file_names_differ_per_key() {
        let id = super::super::DatasetId::parse("8c4c51f1-f6f3-43bc-b65d-7415e8ef22c0").unwrap();
        let a = PaceKey {
            base_url: "https://api.woosmap.com".into(),
            dataset: id.clone(),
            kind: PaceKind::Status,
        };
        let b = PaceKey {
            kind: PaceKind::Trigger,
            ..a.clone()
        };
        assert_ne!(file_name(&a), file_name(&b));
        assert_eq!(file_name(&a), file_name(&a.clone()));
        assert_eq!(file_name(&a).len(), 16);
    }
}
