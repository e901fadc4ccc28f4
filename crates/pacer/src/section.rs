//! Exclusive sections per (service, key): one lock file in the service's folder, held by at
//! most one process of this user at a time (for example a Rocket.Chat import from its last
//! status read through `import.run`, so two runs on this machine queue instead of replacing
//! each other's operation). The OS drops the lock when the holder ends, however it ends.

use std::fs::File;

use crate::folder::Service;

/// A section held by this process until dropped.
#[derive(Debug)]
pub struct Held {
    _file: File,
}

/// Whether the section was free.
#[derive(Debug)]
pub enum Entered {
    /// Entered at once.
    Free(Held),
    /// Another process holds it: [`Pending::wait`] for it.
    Busy(Pending),
}

/// A section another process holds.
#[derive(Debug)]
pub struct Pending {
    file: File,
}

impl Pending {
    /// Waits for the section, on a blocking thread (dropping the future leaves that thread to
    /// take and release it). `None`: the lock failed.
    pub async fn wait(self) -> Option<Held> {
        let file = self.file;
        tokio::task::spawn_blocking(move || file.lock().ok().map(|()| Held { _file: file }))
            .await
            .ok()
            .flatten()
    }
}

/// Enters the section of `key` for `service`; `None` when there is no usable folder (sharing
/// off or not trusted: nothing to queue on) or the lock cannot be taken at all.
pub fn enter(service: &'static Service, key: &str) -> Option<Entered> {
    let dir = service.dir()?;
    let name = crate::answers::AnswerKey::new(service.name, &["section", key]);
    let hash = name.file_name().trim_end_matches(".answer");
    enter_path(&dir.join(format!("{hash}.lock")))
}

fn enter_path(path: &std::path::Path) -> Option<Entered> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    let file = options.open(path).ok()?;
    match file.try_lock() {
        Ok(()) => Some(Entered::Free(Held { _file: file })),
        Err(std::fs::TryLockError::WouldBlock) => Some(Entered::Busy(Pending { file })),
        Err(std::fs::TryLockError::Error(e)) => {
            crate::warnings::warn(format!(
                "cannot lock {} ({e}); runs of this machine do not queue on it",
                path.display()
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_second_holder_queues_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.lock");
        let Some(Entered::Free(first)) = enter_path(&path) else {
            panic!("free at first");
        };
        let Some(Entered::Busy(pending)) = enter_path(&path) else {
            panic!("held by the first");
        };
        let waiter = tokio::spawn(pending.wait());
        drop(first);
        assert!(waiter.await.unwrap().is_some(), "taken once released");
        assert!(matches!(enter_path(&path), Some(Entered::Free(_))));
    }
}
