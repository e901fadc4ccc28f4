//! Stale records: a writer that died leaves its `.tmp` file; records and answers nobody has
//! touched for a day describe windows long over. Both are removed once per process, in the
//! background, when a service's folder is first used (`folder` starts it; this module only
//! knows a directory and the file layer). A record is removed under its lock (a
//! locker that finds its file gone takes the lock on a fresh one).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::host::process_exists;

/// Records untouched for this long are removed.
pub const STALE_AFTER: Duration = Duration::from_secs(24 * 3600);
/// A temporary file of a live writer older than this is abandoned too.
const TMP_STALE_AFTER: Duration = Duration::from_secs(3600);

/// Cleans `dir` on a background thread.
pub(crate) fn start(dir: PathBuf) {
    let _ = std::thread::Builder::new()
        .name("pacer-cleanup".into())
        .spawn(move || clean(&dir, SystemTime::now()));
}

/// Removes what is stale in `dir` as of `now`; returns how many files went.
pub fn clean(dir: &Path, now: SystemTime) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let age = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .unwrap_or_default();
        let name = entry.file_name().to_string_lossy().into_owned();
        let gone = if name.ends_with(".tmp") {
            (age > TMP_STALE_AFTER || writer_gone(&name)) && std::fs::remove_file(&path).is_ok()
        } else if name.ends_with(".answer") {
            age > STALE_AFTER && std::fs::remove_file(&path).is_ok()
        } else if [".pace", ".book", ".lock"]
            .iter()
            .any(|ext| name.ends_with(ext))
        {
            age > STALE_AFTER && remove_locked(&path, now)
        } else {
            false
        };
        removed += usize::from(gone);
    }
    removed
}

/// Whether the process that named a `<name>.<pid>.<random>.tmp` file is gone.
fn writer_gone(name: &str) -> bool {
    let mut parts = name.rsplit('.');
    let (_tmp, _random, pid) = (parts.next(), parts.next(), parts.next());
    pid.and_then(|p| p.parse::<u32>().ok())
        .is_some_and(|pid| !process_exists(pid))
}

/// Removes a record under its lock, if it is still stale then.
fn remove_locked(path: &Path, now: SystemTime) -> bool {
    let Ok(locked) = crate::file::lock(path, std::time::Instant::now(), "being cleaned up") else {
        return false;
    };
    let stale = std::fs::symlink_metadata(path)
        .ok()
        .and_then(|m| m.modified().ok())
        .and_then(|m| now.duration_since(m).ok())
        .is_some_and(|age| age > STALE_AFTER);
    let removed = stale && std::fs::remove_file(path).is_ok();
    drop(locked);
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn dead_writers_temporary_files_and_day_old_records_go_fresh_ones_stay() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let gone = child.id();
        child.wait().unwrap();
        let me = std::process::id();
        let names = [
            format!("a.pace.{gone}.00ff.tmp"),
            format!("a.pace.{me}.00ff.tmp"),
            "b.pace".to_owned(),
            "c.answer".to_owned(),
            "d.book".to_owned(),
            "notes.txt".to_owned(),
        ];
        for name in &names {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        // Now: only the dead writer's file goes.
        assert_eq!(clean(dir.path(), SystemTime::now()), 1);
        // A day and more later: every record, and the abandoned temporary file, but not
        // files that are not ours.
        let later = SystemTime::now() + STALE_AFTER + Duration::from_secs(60);
        assert_eq!(clean(dir.path(), later), 4);
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(left, ["notes.txt"]);
    }
}
