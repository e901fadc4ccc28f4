//! The private pacer folder of a test binary: every product process a test starts (the CLI,
//! the providers under Terraform, the actions under act) shares its pacing in a folder of this
//! test binary's own, created on first use in the temporary directory and removed when the
//! binary exits, instead of the user's default folders (`woosmap-pacer-$UID`,
//! `rocketchat-import-$UID`, `$XDG_RUNTIME_DIR/{woosmap,rocketchat-import}`). The tests of one
//! binary share it as they would share the user's; a test that needs a folder of its own sets
//! `WOOSMAP_PACER_DIR` / `XDG_RUNTIME_DIR` after calling [`private_pacer`]. `scripts/test.sh`
//! fails when the suite added anything to the default folders.
//!
//! Also the tests' tools for doctoring a folder's records: [`dated_ahead`], [`files_with`],
//! [`date_slot_records_ahead`].

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Once, OnceLock};
use std::time::Duration;

/// Name prefix of the folders, so that one left by a killed test binary is recognisable.
pub const PREFIX: &str = "woosmap-tests-";

static ROOT: OnceLock<PathBuf> = OnceLock::new();

extern "C" fn remove_root() {
    if let Some(root) = ROOT.get() {
        let _ = std::fs::remove_dir_all(root);
    }
}

/// The folder (mode 0700), created on first call; removed at the binary's exit (`atexit`: the
/// test harness ends by returning from `main` or by `process::exit`, both run it).
pub fn root() -> &'static Path {
    ROOT.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix(PREFIX)
            .tempdir()
            .expect("a private pacer folder in the temporary directory")
            .keep();
        // SAFETY: registers a plain function with no arguments; it only reads a OnceLock
        // that is set by now.
        let registered = unsafe { libc::atexit(remove_root) };
        assert_eq!(
            registered,
            0,
            "atexit refused the clean-up of {}",
            dir.display()
        );
        dir
    })
}

/// `WOOSMAP_PACER_DIR`: the Woosmap clients' folder.
pub fn woosmap_dir() -> PathBuf {
    root().join("woosmap")
}

/// `XDG_RUNTIME_DIR`: Rocket.Chat's pacing lives in its `rocketchat-import` folder (and the
/// Woosmap default would be its `woosmap` folder, were `WOOSMAP_PACER_DIR` unset).
pub fn runtime_dir() -> PathBuf {
    root().to_path_buf()
}

/// The variables, for a process started with a cleared environment or through act's `--env`.
pub fn vars() -> [(&'static str, OsString); 2] {
    [
        ("WOOSMAP_PACER_DIR", woosmap_dir().into_os_string()),
        ("XDG_RUNTIME_DIR", runtime_dir().into_os_string()),
    ]
}

/// Points `cmd` (a product binary, Terraform, a script) at the private folder.
pub fn private_pacer(cmd: &mut Command) -> &mut Command {
    cmd.envs(vars())
}

/// The same as `act` arguments (`--env NAME=VALUE`): act passes only these to the steps.
pub fn act_args() -> Vec<String> {
    vars()
        .into_iter()
        .flat_map(|(name, value)| {
            [
                "--env".to_owned(),
                format!("{name}={}", value.to_string_lossy()),
            ]
        })
        .collect()
}

/// For a test that calls the library's client in this process (not a child): points this
/// process's own environment at the private folder, once, before the library first reads it
/// (it reads the folder once per process).
pub fn in_process() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for (name, value) in vars() {
            // SAFETY: std serialises its own environment reads and writes (Command spawns
            // included); the tests that call this read no variable from C code meanwhile.
            unsafe { std::env::set_var(name, value) };
        }
    });
}

/// Every time in a pacer record (a JSON object, nested ones too) moved later by `ahead`: the
/// fields named `*_ms`, `*_us` and `*_ns` that hold a time (0 means none and stays).
pub fn dated_ahead(value: &mut serde_json::Value, ahead: Duration) {
    match value {
        serde_json::Value::Object(map) => {
            for (name, field) in map.iter_mut() {
                let unit = match name.rsplit('_').next() {
                    Some("ms") => ahead.as_millis(),
                    Some("us") => ahead.as_micros(),
                    Some("ns") => ahead.as_nanos(),
                    _ => {
                        dated_ahead(field, ahead);
                        continue;
                    }
                };
                if let Some(t) = field.as_u64().filter(|t| *t > 0) {
                    *field = (t + u64::try_from(unit).unwrap()).into();
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| dated_ahead(v, ahead)),
        _ => {}
    }
}

/// The files of the pacer folder with this extension.
pub fn files_with(dir: &Path, ext: &str) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect()
}

/// Moves every time in each slot record (`*.pace`) of `dir` later by `ahead`, as a wall clock
/// stepped back since the records were written (or a corrupt write) would leave them; returns
/// how many records were changed.
pub fn date_slot_records_ahead(dir: &Path, ahead: Duration) -> usize {
    let records = files_with(dir, "pace");
    for path in &records {
        let mut record: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        dated_ahead(&mut record, ahead);
        std::fs::write(path, record.to_string()).unwrap();
    }
    records.len()
}
