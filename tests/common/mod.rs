//! Shared by the integration tests: an in-process sandbox with short windows, and a runner for
//! the real `woosmap-import` binary against it over loopback HTTP.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

pub mod terraform;

use woosmap::sandbox::{Sandbox, SandboxConfig, SandboxHandle};

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
        "woosmap-sandbox" => PathBuf::from(env!("CARGO_BIN_EXE_woosmap-sandbox")),
        "terraform-provider-woosmap" => {
            PathBuf::from(env!("CARGO_BIN_EXE_terraform-provider-woosmap"))
        }
        other => panic!("unknown binary {other}"),
    }
}

/// `woosmap-import` set up for a sandbox: key, base URL and the sandbox's windows.
pub fn cli(sb: &SandboxHandle) -> Command {
    let mut cmd = Command::new(bin("woosmap-import"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("WOOSMAP_PRIVATE_KEY", KEY)
        .env("WOOSMAP_BASE_URL", sb.base_url())
        .env(
            "WOOSMAP_TRIGGER_INTERVAL",
            humantime::format_duration(TRIGGER_WINDOW).to_string(),
        )
        .env(
            "WOOSMAP_STATUS_INTERVAL",
            humantime::format_duration(STATUS_WINDOW).to_string(),
        )
        .stdin(Stdio::null());
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
