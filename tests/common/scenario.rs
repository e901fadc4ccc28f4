//! One `woosmap-import` scenario against the sandbox: a fresh dataset set up as the test needs
//! (its outcome, delays, faults), optionally a pacer folder of the scenario's own, the CLI run
//! on that dataset; and [`Running`], a CLI (of either service) started in the background to be
//! interrupted.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::Receiver;
use std::time::Duration;

use woosmap_sandbox::{DatasetConfig, DatasetStats, Fault, Outcome, SandboxHandle};

use super::{Ran, cli, dataset, run, sandbox};

/// `--poll-interval 300ms`: polls at the sandbox's status window.
pub const POLL: [&str; 2] = ["--poll-interval", "300ms"];

/// `--poll-interval 300ms --json`: the arguments most `run` scenarios add.
pub const POLL_JSON: [&str; 3] = ["--poll-interval", "300ms", "--json"];

/// A fresh dataset of `sb` set up with `config`, for the tests that need several.
pub fn dataset_with(sb: &SandboxHandle, config: DatasetConfig) -> String {
    let id = dataset();
    sb.configure_dataset(&id, config).unwrap();
    id
}

/// A sandbox and one fresh dataset in it.
pub struct Scenario {
    pub sb: SandboxHandle,
    pub id: String,
    pacer: Option<tempfile::TempDir>,
}

impl Scenario {
    /// The dataset as the sandbox seeds it: a successful previous run, imports that succeed.
    pub async fn new() -> Scenario {
        Scenario {
            sb: sandbox().await,
            id: dataset(),
            pacer: None,
        }
    }

    /// The dataset set up with `config`.
    pub async fn with(config: DatasetConfig) -> Scenario {
        let sb = sandbox().await;
        Scenario {
            id: dataset_with(&sb, config),
            sb,
            pacer: None,
        }
    }

    /// The dataset's imports end with `outcome`.
    pub async fn ending(outcome: Outcome) -> Scenario {
        Scenario::with(DatasetConfig::default().outcome(outcome)).await
    }

    /// The dataset has a run going, lasting `duration` from now.
    pub async fn running_for(duration: Duration) -> Scenario {
        Scenario::with(DatasetConfig::default().duration(duration).running()).await
    }

    /// Sets the dataset up anew with `config`.
    pub fn configure(&self, config: DatasetConfig) -> &Scenario {
        self.sb.configure_dataset(&self.id, config).unwrap();
        self
    }

    /// Queues `fault` in the sandbox.
    pub fn inject(&self, fault: Fault) -> &Scenario {
        self.sb.inject(fault);
        self
    }

    /// The CLI processes of this scenario pace in a fresh folder of its own instead of the test
    /// binary's shared one (so that no other test's windows delay them).
    pub fn own_pacer(mut self) -> Scenario {
        self.pacer = Some(tempfile::tempdir().unwrap());
        self
    }

    /// The scenario's own pacer folder ([`Scenario::own_pacer`]).
    pub fn pacer_dir(&self) -> &Path {
        self.pacer.as_ref().expect("own_pacer() was called").path()
    }

    /// `woosmap-import` for this sandbox, in the scenario's pacer folder, with `args`.
    pub fn cli(&self, args: &[&str]) -> Command {
        let mut cmd = cli(&self.sb);
        if let Some(dir) = &self.pacer {
            cmd.env("WOOSMAP_PACER_DIR", dir.path());
        }
        cmd.args(args);
        cmd
    }

    /// `woosmap-import run --dataset-id ID` followed by `args`.
    pub fn run_command(&self, args: &[&str]) -> Command {
        let mut cmd = self.cli(&["run", "--dataset-id", &self.id]);
        cmd.args(args);
        cmd
    }

    /// Runs `woosmap-import run --dataset-id ID` followed by `args` to its end.
    pub async fn run(&self, args: &[&str]) -> Ran {
        run(self.run_command(args)).await
    }

    /// `woosmap-import status --dataset-id ID --json`.
    pub fn status_command(&self) -> Command {
        self.cli(&["status", "--dataset-id", &self.id, "--json"])
    }

    /// Runs `woosmap-import status --dataset-id ID --json` to its end; it must succeed.
    pub async fn status_ok(&self) -> Ran {
        let ran = run(self.status_command()).await;
        assert_eq!(ran.code, 0, "{ran:?}");
        ran
    }

    /// What the sandbox counted for the dataset so far.
    pub fn stats(&self) -> DatasetStats {
        self.sb
            .stats()
            .dataset(&self.id)
            .cloned()
            .unwrap_or_else(|| panic!("the sandbox never saw dataset {}", self.id))
    }
}

/// Runs `cmd` to its end and expects `code`; returns the first JSON line of its stdout.
pub async fn report(cmd: Command, code: i32) -> serde_json::Value {
    let ran = run(cmd).await;
    assert_eq!(ran.code, code, "{ran:?}");
    ran.json()
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no JSON line: {ran:?}"))
}

/// A CLI started in the background with its output piped, to be interrupted mid-way.
pub struct Running {
    child: Child,
}

impl Running {
    pub fn spawn(mut cmd: Command) -> Running {
        let child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the CLI starts");
        Running { child }
    }

    /// Its stderr line by line, read by a thread of its own (stderr is not read again by
    /// [`Running::finish`]).
    pub fn stderr_lines(&mut self) -> Receiver<String> {
        let stderr = self.child.stderr.take().expect("stderr not taken yet");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        rx
    }

    /// Waits (blocking this worker, the sandbox serves on others) until `done` holds, for at
    /// most `limit`; panics naming `what` past it.
    pub fn until(&self, what: &str, limit: Duration, done: impl FnMut() -> bool) {
        tokio::task::block_in_place(|| super::wait::until(what, limit, done));
    }

    /// Sends `signal` (`"INT"`, `"TERM"`) to the process, as a terminal or CI would.
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -{signal}");
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits for its end off the async runtime and returns its output.
    pub async fn output(self) -> Output {
        let child = self.child;
        tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
            .await
            .unwrap()
    }

    /// Waits for its end off the async runtime and returns what it printed.
    pub async fn finish(self) -> Ran {
        self.output().await.into()
    }
}

/// Receives lines from `rx` until one contains `marker`; returns all seen, that one last.
/// Panics with `what` when no line came for `limit`.
pub fn lines_until(
    rx: &Receiver<String>,
    marker: &str,
    limit: Duration,
    what: &str,
) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let line = rx.recv_timeout(limit).unwrap_or_else(|e| {
            panic!("{what} ({e}); stderr so far: {seen:?}");
        });
        let found = line.contains(marker);
        seen.push(line);
        if found {
            return seen;
        }
    }
}
