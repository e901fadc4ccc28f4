//! Unit tests only: the folders a test process uses in place of the user's defaults (the
//! pacers' shared folders), inside one folder of this process's own in the temporary
//! directory, removed when the process exits.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

static ROOT: OnceLock<PathBuf> = OnceLock::new();

extern "C" fn remove_root() {
    if let Some(root) = ROOT.get() {
        let _ = std::fs::remove_dir_all(root);
    }
}

fn root() -> &'static Path {
    ROOT.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("woosmap-unit-tests-")
            .tempdir()
            .expect("a folder in the temporary directory")
            .keep();
        remove_at_exit(&dir);
        dir
    })
}

/// Has [`remove_root`] remove the root (`dir`, once `ROOT` holds it) when the process exits:
/// the test harness ends by returning from `main` or by `process::exit`, and both run it.
fn remove_at_exit(dir: &Path) {
    // SAFETY: registers a function without arguments that only reads a OnceLock, set by then.
    let registered = unsafe { libc::atexit(remove_root) };
    assert_eq!(registered, 0, "atexit refused the clean-up of {dir:?}");
}

/// `name` inside the process's folder (not created: the callers create their folder 0700).
pub(crate) fn private(name: &str) -> PathBuf {
    root().join(name)
}
