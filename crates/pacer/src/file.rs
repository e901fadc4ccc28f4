//! Record files: opened without following symlinks, trusted only when they are
//! regular files of this user that nobody else can read or write, written atomically (a fresh
//! temporary file renamed over the old one: a reader or a full disk never leaves half a
//! record), and locked with the OS file lock. A lock is taken on the record file itself and
//! checked after taking it: if a writer replaced the file meanwhile, the lock is taken again
//! on the new one. Files only: which folder they are in, and whether it is trusted, is the
//! `folder` layer's business, above this one.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Largest record read (a shared answer's body is the largest).
pub(crate) const MAX_FILE: u64 = (4 << 20) + 4096;

/// How long a lock may stay busy before the wait is reported (once per process).
const BUSY_WARNING: Duration = Duration::from_secs(2);

/// A record file's bytes and when the kernel last changed it.
pub(crate) struct Content {
    pub bytes: Vec<u8>,
    pub changed: Option<SystemTime>,
}

/// Opens a file for reading without following a symlink (nor blocking on a FIFO).
fn open_read(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    options.open(path)
}

/// Whether an open file may be trusted: a regular file of this user that nobody else can read
/// or write, of a bounded size.
pub(crate) fn trusted_file(meta: &std::fs::Metadata) -> Result<(), &'static str> {
    if !meta.is_file() {
        return Err("not a regular file");
    }
    if meta.len() > MAX_FILE {
        return Err("too large");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if Some(meta.uid()) != crate::host::user_id() {
            return Err("owned by another user");
        }
        if meta.mode() & 0o077 != 0 {
            return Err("open to other users");
        }
    }
    Ok(())
}

/// When the kernel last changed the file (its inode change time; a writer cannot set it).
fn changed(meta: &std::fs::Metadata) -> Option<SystemTime> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let secs = u64::try_from(meta.ctime()).ok()?;
        let nanos = u32::try_from(meta.ctime_nsec()).ok()?;
        SystemTime::UNIX_EPOCH.checked_add(Duration::new(secs, nanos))
    }
    #[cfg(not(unix))]
    {
        meta.modified().ok()
    }
}

/// Reads an open file, if it may be trusted (`Ok(None)`: missing or empty).
fn read_open(file: &mut File) -> Result<Content, &'static str> {
    let meta = file.metadata().map_err(|_| "cannot be inspected")?;
    trusted_file(&meta)?;
    let mut bytes = Vec::new();
    Read::by_ref(file)
        .take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|_| "cannot be read")?;
    Ok(Content {
        bytes,
        changed: changed(&meta),
    })
}

/// A file's bytes, if it exists and may be trusted (why not otherwise; `Ok(None)`: missing).
pub(crate) fn read(path: &Path) -> Result<Option<Content>, &'static str> {
    let mut file = match open_read(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(_) => return Err("cannot be opened (a symbolic link?)"),
    };
    read_open(&mut file).map(Some)
}

/// Creates `path` (0600, never an existing file or a symlink) with `bytes`.
pub(crate) fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.flush()
}

/// Replaces `path` with `bytes` at once: written to `<path>.<pid>.<random>.tmp`, then renamed
/// over it (a symlink in its place is replaced, never followed).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(
        ".{}.{:016x}.tmp",
        std::process::id(),
        fastrand::u64(..)
    ));
    let tmp = PathBuf::from(tmp);
    let written = write_new(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Opens (creating, 0600) a file to lock, without following a symlink.
fn open_lock(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    options.open(path)
}

/// A record file locked by this process until dropped, with what it held when locked.
pub(crate) struct Locked {
    file: File,
    path: PathBuf,
    pub content: Result<Content, &'static str>,
}

impl Locked {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Locked {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

/// Why a lock was not taken.
#[derive(Debug)]
pub(crate) enum LockError {
    /// Still held by another process at `give_up`.
    Busy,
    /// The file cannot be opened or locked at all (the message says why).
    Failed(String),
}

/// Whether the locked file is still the one at `path` (a writer may have renamed a new one
/// over it, or a cleaner removed it, between our open and our lock).
fn still_there(file: &File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), std::fs::symlink_metadata(path)) {
            (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (file, path);
        true
    }
}

/// Locks the record file at `path` (blocking: call it off the async workers), waiting while
/// another process holds it, until `give_up`. A wait longer than two seconds is reported once
/// (`what` names the record).
pub(crate) fn lock(
    path: &Path,
    give_up: std::time::Instant,
    what: &str,
) -> Result<Locked, LockError> {
    let started = std::time::Instant::now();
    loop {
        let mut file = open_lock(path).map_err(|e| LockError::Failed(e.to_string()))?;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) => {}
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(LockError::Failed(e.to_string()));
                }
            }
            let now = std::time::Instant::now();
            if now >= give_up {
                return Err(LockError::Busy);
            }
            if now - started >= BUSY_WARNING {
                crate::warnings::warn(format!(
                    "the shared pacing record {what} ({}) has been locked by another process \
                     for over {} s; waiting for it (requests are not sent unreserved)",
                    path.display(),
                    BUSY_WARNING.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(2).min(give_up - now));
        }
        if !still_there(&file, path) {
            continue;
        }
        let content = read_open(&mut file);
        return Ok(Locked {
            file,
            path: path.to_owned(),
            content,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn private_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        dir
    }

    #[test]
    fn atomic_writes_leave_no_temporary_file_and_replace_symlinks() {
        let dir = private_dir();
        let path = dir.path().join("a.pace");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(read(&path).unwrap().unwrap().bytes, b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        #[cfg(unix)]
        {
            let target = dir.path().join("target");
            std::fs::write(&target, "keep").unwrap();
            let link = dir.path().join("link.pace");
            std::os::unix::fs::symlink(&target, &link).unwrap();
            assert!(read(&link).is_err(), "symlink followed");
            assert!(open_lock(&link).is_err(), "symlink followed");
            write_atomic(&link, b"new").unwrap();
            assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
        }
    }

    #[test]
    fn a_busy_lock_is_waited_for_until_given_up_and_a_replaced_file_is_relocked() {
        let dir = private_dir();
        let path = dir.path().join("k.pace");
        let far = std::time::Instant::now() + Duration::from_secs(60);
        let held = lock(&path, far, "k").unwrap();
        let soon = std::time::Instant::now() + Duration::from_millis(30);
        assert!(matches!(lock(&path, soon, "k"), Err(LockError::Busy)));
        // The holder replaces the file, then lets go: the next locker locks the new one.
        write_atomic(&path, b"new").unwrap();
        drop(held);
        let again = lock(&path, far, "k").unwrap();
        assert_eq!(again.content.as_ref().unwrap().bytes, b"new");
    }

    #[cfg(unix)]
    #[test]
    fn files_open_to_others_are_not_trusted() {
        use std::os::unix::fs::PermissionsExt;
        let dir = private_dir();
        let path = dir.path().join("a.answer");
        write_atomic(&path, b"x").unwrap();
        for mode in [0o644, 0o622, 0o604] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            assert!(read(&path).is_err(), "mode {mode:o}");
        }
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        assert!(read(&path).is_err(), "a directory");
    }
}
