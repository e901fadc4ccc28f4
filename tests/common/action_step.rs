//! The GitHub Action's step process run directly, as action.yml runs it: `woosmap-import
//! action` in a clean environment, its inputs as `INPUT_*` variables, the runner's output
//! files in a scratch folder, and the sandbox's windows.

use std::path::Path;
use std::process::Command;

/// The inputs of one step (`wait` is on, `poll-interval` 300 ms).
pub struct Inputs<'a> {
    pub dataset_id: &'a str,
    pub private_key: &'a str,
    /// Empty: none.
    pub reimport_key: &'a str,
    pub timeout: &'a str,
    pub base_url: &'a str,
}

/// The step with `inputs`, `GITHUB_OUTPUT` and `GITHUB_STEP_SUMMARY` in `scratch`, the
/// sandbox's windows and the test binary's private pacer folder.
pub fn command(inputs: &Inputs, scratch: &Path) -> Command {
    let mut cmd = Command::new(super::bin("woosmap-import"));
    cmd.arg("action")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("INPUT_DATASET-ID", inputs.dataset_id)
        .env("INPUT_PRIVATE-KEY", inputs.private_key)
        .env("INPUT_REIMPORT-KEY", inputs.reimport_key)
        .env("INPUT_WAIT", "true")
        .env("INPUT_TIMEOUT", inputs.timeout)
        .env("INPUT_POLL-INTERVAL", "300ms")
        .env("INPUT_BASE-URL", inputs.base_url)
        .env("GITHUB_OUTPUT", scratch.join("output"))
        .env("GITHUB_STEP_SUMMARY", scratch.join("summary"))
        .env(
            "WOOSMAP_TRIGGER_INTERVAL",
            humantime::format_duration(super::TRIGGER_WINDOW).to_string(),
        )
        .env(
            "WOOSMAP_STATUS_INTERVAL",
            humantime::format_duration(super::STATUS_WINDOW).to_string(),
        );
    super::pacer::private_pacer(&mut cmd);
    cmd
}
