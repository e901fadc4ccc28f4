//! Shared by the integration tests: an in-process sandbox with short windows, and a runner for
//! the real `woosmap-import` binary against it over loopback HTTP.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

pub mod act;
pub mod action_step;
pub mod pacer;
pub mod rocketchat;
pub mod rocketchat_tf;
pub mod terraform;
pub mod wait;

use woosmap_sandbox::{Sandbox, SandboxConfig, SandboxHandle};

/// The private key the test sandboxes accept.
pub const KEY: &str = "test-key-0c0ffee-5ecret";

/// Sandbox windows and timings, short so that each test takes seconds; the client is told the
/// same windows through WOOSMAP_TRIGGER_INTERVAL / WOOSMAP_STATUS_INTERVAL.
pub const TRIGGER_WINDOW: Duration = Duration::from_secs(2);
pub const STATUS_WINDOW: Duration = Duration::from_millis(300);

pub fn fast_config() -> SandboxConfig {
    SandboxConfig {
        private_keys: vec![KEY.to_owned()],
        trigger_window: TRIGGER_WINDOW,
        status_window: STATUS_WINDOW,
        start_delay: Duration::from_millis(500),
        import_duration: Duration::from_millis(1500),
        ..SandboxConfig::default()
    }
}

pub async fn sandbox() -> SandboxHandle {
    Sandbox::start(fast_config()).await.expect("sandbox starts")
}

/// A fresh dataset id, so that tests sharing nothing also share no dataset.
pub fn dataset() -> String {
    let n: u128 = fastrand::u128(..);
    uuid::Builder::from_random_bytes(n.to_le_bytes())
        .into_uuid()
        .to_string()
}

/// Path of a binary of this package.
pub fn bin(name: &str) -> PathBuf {
    match name {
        "woosmap-import" => PathBuf::from(env!("CARGO_BIN_EXE_woosmap-import")),
        "terraform-provider-woosmap" => {
            PathBuf::from(env!("CARGO_BIN_EXE_terraform-provider-woosmap"))
        }
        "terraform-provider-rocketchat" => {
            PathBuf::from(env!("CARGO_BIN_EXE_terraform-provider-rocketchat"))
        }
        other => panic!("unknown binary {other}"),
    }
}

/// The environment every front end gets in the tests: the key, the sandbox's URL and its
/// windows (so that the client paces to them), the test binary's private pacer folder, and no
/// terminal input.
pub fn sandbox_env<'c>(cmd: &'c mut Command, base_url: &str) -> &'c mut Command {
    pacer::private_pacer(cmd)
        .env("WOOSMAP_PRIVATE_KEY", KEY)
        .env("WOOSMAP_BASE_URL", base_url)
        .env(
            "WOOSMAP_TRIGGER_INTERVAL",
            humantime::format_duration(TRIGGER_WINDOW).to_string(),
        )
        .env(
            "WOOSMAP_STATUS_INTERVAL",
            humantime::format_duration(STATUS_WINDOW).to_string(),
        )
        .stdin(Stdio::null())
}

/// `woosmap-import` set up for a sandbox: key, base URL and the sandbox's windows.
pub fn cli(sb: &SandboxHandle) -> Command {
    let mut cmd = Command::new(bin("woosmap-import"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    sandbox_env(&mut cmd, &sb.base_url());
    cmd
}

/// What a finished command printed.
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
    /// The JSON lines of stdout.
    pub fn json(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
            .collect()
    }
}

impl std::fmt::Debug for Ran {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl From<Output> for Ran {
    fn from(o: Output) -> Self {
        Ran {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// Runs a command to its end off the async runtime (the sandbox keeps serving meanwhile).
pub async fn run(mut cmd: Command) -> Ran {
    tokio::task::spawn_blocking(move || cmd.output().expect("command runs").into())
        .await
        .expect("join")
}

/// Credentials the suites use besides [`KEY`]: wrong keys, no-quota keys and reimport keys.
/// Every one of them is a secret as far as [`assert_no_secrets`] is concerned.
pub const OTHER_KEYS: &[&str] = &[
    "not-the-right-key-41c7",
    "quota-gone-key-9f03",
    "rk-fault-matrix-5d2e",
];

/// Asserts that `text` (an output, a log, a state or plan file, named by `what`) holds none
/// of the suites' keys ([`KEY`], [`OTHER_KEYS`]) nor any of `extra`. The message names the
/// key by its position only, so a failing check does not print the key either.
pub fn assert_no_secrets(what: &str, text: &str, extra: &[&str]) {
    let keys = std::iter::once(KEY)
        .chain(OTHER_KEYS.iter().copied())
        .chain(extra.iter().copied());
    for (i, key) in keys.enumerate() {
        assert!(
            key.len() >= 8,
            "secret #{i} is too short to search for safely"
        );
        if let Some(at) = text.find(key) {
            let line = text[..at].matches('\n').count() + 1;
            panic!("secret #{i} appears in {what} (line {line})");
        }
    }
}

/// `text` with the suites' keys ([`KEY`], [`OTHER_KEYS`]) and `extra` (non-empty values only)
/// replaced by `[secret]`, for echoing what a command printed.
pub fn masked(text: &str, extra: &[&str]) -> String {
    std::iter::once(KEY)
        .chain(OTHER_KEYS.iter().copied())
        .chain(extra.iter().copied())
        .filter(|key| !key.is_empty())
        .fold(text.to_owned(), |text, key| text.replace(key, "[secret]"))
}

/// [`assert_no_secrets`] over every file under `dir` (recursively): Terraform state and its
/// backups, plan files, JSON renderings, logs. Returns how many files were scanned.
pub fn assert_no_secrets_in_dir(dir: &std::path::Path, extra: &[&str]) -> usize {
    let mut scanned = 0;
    for path in files_below(dir) {
        if let Ok(bytes) = std::fs::read(&path) {
            let text = String::from_utf8_lossy(&bytes);
            assert_no_secrets(&path.display().to_string(), &text, extra);
            scanned += 1;
        }
    }
    scanned
}

pub mod scenario;

/// Asserts that `dir` holds a manual page for the front end `program` and for each of its
/// `run` and `status` commands (`man --dir`).
pub fn assert_man_pages(dir: &std::path::Path, program: &str) {
    for page in [
        format!("{program}.1"),
        format!("{program}-run.1"),
        format!("{program}-status.1"),
    ] {
        let text =
            std::fs::read_to_string(dir.join(&page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains(".TH"), "{page}");
    }
}

/// The platform of this build in Terraform's words (`linux_amd64`), as release assets name it.
pub fn platform() -> String {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    format!("{os}_{arch}")
}

/// Every file below `dir`, recursively (a folder that cannot be read is skipped), sorted.
pub fn files_below(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}
