//! The warnings of the crate: a folder or record that cannot be used, a lock busy for long.
//! Each is logged once per process and kept until a front end that hides the log (Terraform)
//! takes it with [`take_warnings`] to show it otherwise. The lowest layer: it knows nothing of
//! files or folders.

use std::sync::Mutex;

/// Warnings given so far that a front end may still show (taken by [`take_warnings`]).
static WARNINGS: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// Every warning given in this process (each is given once).
static GIVEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Logs `message` as a warning, once per process, and keeps it for [`take_warnings`].
pub(crate) fn warn(message: String) {
    let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
    if given.contains(&message) {
        return;
    }
    tracing::warn!("{message}");
    given.push(message.clone());
    WARNINGS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(message);
}

/// The warnings given since the last call (for a front end that shows them otherwise than
/// in the log, e.g. as Terraform warning diagnostics).
pub fn take_warnings() -> Vec<String> {
    std::mem::take(&mut *WARNINGS.lock().unwrap_or_else(|p| p.into_inner()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_warning_is_given_once_and_kept_for_the_front_end() {
        let message = format!("test warning {:x}", fastrand::u64(..));
        warn(message.clone());
        warn(message.clone());
        let kept = take_warnings();
        assert_eq!(kept.iter().filter(|m| **m == message).count(), 1);
        assert!(!take_warnings().contains(&message));
    }
}
