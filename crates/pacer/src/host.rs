//! What the operating system says about this user and its processes: the effective user id
//! (who must own the folder and every file in it) and whether a process still exists (a
//! reservation or a temporary file of a process that is gone counts for nothing). Knows
//! nothing of files or folders.

/// This process's effective user id.
#[cfg(unix)]
pub(crate) fn user_id() -> Option<u32> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    Some(unsafe { libc::geteuid() })
}

#[cfg(not(unix))]
pub(crate) fn user_id() -> Option<u32> {
    Some(0)
}

/// Whether a process with this id exists (the folder is per user, so any such process is
/// ours to signal).
#[cfg(unix)]
pub(crate) fn process_exists(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists; nothing is sent.
    let alive = unsafe { libc::kill(pid, 0) } == 0;
    alive || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(not(unix))]
pub(crate) fn process_exists(_pid: u32) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_process_that_ended_no_longer_exists() {
        assert!(process_exists(std::process::id()));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let gone = child.id();
        child.wait().unwrap();
        assert!(!process_exists(gone));
    }
}
