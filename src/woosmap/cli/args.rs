//! Command-line arguments of `woosmap-import`: every value is parsed and checked here, before
//! any request is made, so a typo fails fast with a message that names the flag.

use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::frontend::color::ColorChoice;
use crate::woosmap::api::{DatasetId, Secret};
pub use crate::woosmap::values::{
    parse_base_url, parse_dataset_id, parse_duration, parse_poll_interval, parse_timeout,
};

const EXIT_CODES: &str = "\
Exit codes of `run`:
  0    every import succeeded (with --no-wait: every import was triggered)
  1    at least one import failed (its error entries are printed)
  2    invalid arguments or configuration, nothing sent: a malformed flag or environment
       value, or WOOSMAP_PRIVATE_KEY missing; or a dataset the API does not know (404) or
       rejects (422)
  3    timed out waiting (the import keeps running on Woosmap's side)
  4    authentication failed: the API refused the private key (401, 403) or the reimport key
  5    out of quota (HTTP 402)
  6    other API or network error (connection refused at the base URL, rate limited past the
       timeout, server or network fault)
  7    nothing was triggered: the timeout passed first (rate limit or a running import)
  130  interrupted by Ctrl-C or SIGTERM (an import already triggered keeps running on
       Woosmap's side)
When several datasets end differently, the highest-ranked code in this order wins:
130, 2, 4, 5, 6, 7, 3, 1.

Exit codes of `status`: 0 when the latest run was read, whatever its outcome (with
--exit-status: 1 when it failed, 3 when it is still in progress); 2 when no run is found (the
dataset was never imported or does not exist) or the configuration is invalid; 4, 5, 6 and
130 as for `run`.";

/// The text after the options in `--help`: exit codes, then every environment variable.
fn after_help() -> String {
    format!(
        "{EXIT_CODES}\n\n{}",
        crate::woosmap::settings::help_section()
    )
}

/// Trigger Woosmap dataset imports and wait for them to finish.
#[derive(Debug, Parser)]
#[command(name = "woosmap-import", version, after_help = after_help())]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// When to colour the log and the progress display: auto (when stderr is a terminal and
    /// NO_COLOR is not set), always, never.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t)]
    pub color: ColorChoice,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Trigger an import of each dataset, wait for it and report the outcome.
    #[command(after_help = after_help())]
    Run(RunArgs),
    /// Show the latest import run of a dataset.
    #[command(after_help = after_help())]
    Status(StatusArgs),
    /// List every dataset of the key's project: id, name, URL, last update, deletion date.
    Datasets(DatasetsArgs),
    /// GitHub Action mode: read the `INPUT_*` variables set by action.yml, write
    /// `$GITHUB_OUTPUT` and `$GITHUB_STEP_SUMMARY` (see guide/github-action.md).
    #[command(hide = true)]
    Action,
    /// Print a shell completion script (e.g. `woosmap-import completions bash >
    /// ~/.local/share/bash-completion/completions/woosmap-import`).
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) on stdout (e.g. `woosmap-import man | man -l -`), or
    /// write one page per command into a directory.
    Man {
        /// Write woosmap-import.1 and a page per subcommand (woosmap-import-run.1…) here.
        #[arg(long, value_name = "DIR")]
        dir: Option<std::path::PathBuf>,
    },
}

/// Options shared by every command that talks to the API.
#[derive(Debug, Args)]
pub struct ApiArgs {
    /// Woosmap API base URL [default: WOOSMAP_BASE_URL, else https://api.woosmap.com]
    // The variable is read by `base_url()`, not by clap: clap would list an exported
    // WOOSMAP_BASE_URL as a used `--base-url` in the usage line of every error.
    // Checked by `base_url()`, not by clap: clap's error would echo the value, and a URL may
    // hold a password (`http://user:pass@host`) that must never be printed.
    #[arg(long = "base-url", value_name = "URL")]
    pub base_url_flag: Option<String>,

    /// Print one JSON object per dataset on stdout instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Dataset to import (a UUID). Repeat the flag to import several datasets concurrently.
    #[arg(long = "dataset-id", value_name = "UUID", required = true, value_parser = parse_dataset_id)]
    pub dataset_ids: Vec<DatasetId>,

    /// Trigger through the dataset's reimport webhook with this key instead of the private key.
    /// Give it once per --dataset-id, in the same order. For one dataset prefer the variable
    /// WOOSMAP_REIMPORT_KEY (flags show in `ps`).
    // The variable is read by `reimport_keys()`, not by clap (see `base_url_flag`).
    #[arg(long = "reimport-key", value_name = "KEY", value_parser = parse_secret)]
    pub reimport_key_flags: Vec<Secret>,

    /// Return as soon as the imports are triggered, without waiting for them to finish. An
    /// import already running (started by someone else) is still waited for first, since a
    /// trigger never lands on a running import; Ctrl-C during that wait triggers nothing.
    #[arg(long)]
    pub no_wait: bool,

    /// Give up waiting after this long (e.g. 30m, 1h30m).
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = parse_timeout)]
    pub timeout: Duration,

    /// Time between two status reads of a dataset (the API allows one every 5s).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_poll_interval)]
    pub poll_interval: Duration,

    #[command(flatten)]
    pub api: ApiArgs,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Dataset to inspect (a UUID). Repeat the flag for several datasets.
    #[arg(long = "dataset-id", value_name = "UUID", required = true, value_parser = parse_dataset_id)]
    pub dataset_ids: Vec<DatasetId>,

    /// Exit 1 when the latest run failed and 3 when it is still in progress (as
    /// `gh run view --exit-status` does); without it a run read is exit 0 whatever its outcome.
    #[arg(long)]
    pub exit_status: bool,

    #[command(flatten)]
    pub api: ApiArgs,
}

/// `datasets`: only the API settings (the listing is `datasets.rs`).
#[derive(Debug, Args)]
pub struct DatasetsArgs {
    #[command(flatten)]
    pub api: ApiArgs,
}

impl ApiArgs {
    /// `--base-url`, else `WOOSMAP_BASE_URL` (checked like the flag, the error naming the
    /// variable), else the Woosmap API.
    pub fn base_url(&self) -> Result<String, String> {
        self.base_url_with(|n| std::env::var(n).ok())
    }

    /// [`ApiArgs::base_url`] with the environment read through `lookup`.
    pub fn base_url_with(&self, lookup: impl Fn(&str) -> Option<String>) -> Result<String, String> {
        // The messages show the URL as `check_base_url` does: without userinfo.
        let word = |e: String| crate::woosmap::knobs::Knobs::CLI.word(&e);
        if let Some(url) = &self.base_url_flag {
            return parse_base_url(url)
                .map_err(|e| format!("--base-url is not valid: {}", word(e)));
        }
        match lookup(BASE_URL_ENV).filter(|v| !v.trim().is_empty()) {
            Some(v) => parse_base_url(v.trim())
                .map_err(|e| format!("{BASE_URL_ENV} is not valid: {}", word(e))),
            None => Ok(crate::woosmap::api::DEFAULT_BASE_URL.to_owned()),
        }
    }
}

impl RunArgs {
    /// The `--reimport-key` flags, else `WOOSMAP_REIMPORT_KEY` (one key), else none.
    pub fn reimport_keys(&self) -> Vec<Secret> {
        if !self.reimport_key_flags.is_empty() {
            return self.reimport_key_flags.clone();
        }
        std::env::var(REIMPORT_KEY_ENV)
            .ok()
            .and_then(|k| parse_secret(&k).ok())
            .into_iter()
            .collect()
    }
}

/// The variable that sets the base URL when `--base-url` is not given.
pub const BASE_URL_ENV: &str = "WOOSMAP_BASE_URL";
/// The variable that holds a reimport key when `--reimport-key` is not given.
pub const REIMPORT_KEY_ENV: &str = "WOOSMAP_REIMPORT_KEY";

fn parse_secret(s: &str) -> Result<Secret, String> {
    if s.trim().is_empty() {
        return Err("the reimport key is empty".into());
    }
    Ok(Secret::new(s.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("woosmap-import").chain(args.iter().copied()))
    }

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn rejects_a_dataset_id_that_is_not_a_uuid() {
        let err = parse(&["run", "--dataset-id", "stores"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("--dataset-id"), "{err}");
        assert!(err.to_lowercase().contains("uuid"), "{err}");
    }

    #[test]
    fn rejects_a_bad_duration_naming_the_flag() {
        let id = "8c4c51f1-f6f3-43bc-b65d-7415e8ef22c0";
        let err = parse(&["run", "--dataset-id", id, "--timeout", "soon"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("--timeout"), "{err}");
        assert!(err.contains("duration"), "{err}");
        let err = parse(&["run", "--dataset-id", id, "--poll-interval", "0s"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("--poll-interval"), "{err}");
    }

    #[test]
    fn rejects_a_base_url_with_a_query() {
        let id = "8c4c51f1-f6f3-43bc-b65d-7415e8ef22c0";
        let Command::Run(run) = parse(&[
            "run",
            "--dataset-id",
            id,
            "--base-url",
            "https://x.test/?private_key=1",
        ])
        .unwrap()
        .command
        else {
            panic!("expected run")
        };
        let err = run.api.base_url_with(|_| None).unwrap_err();
        assert!(err.contains("--base-url"), "{err}");
        assert!(!err.contains("private_key=1"), "{err}");
    }

    #[test]
    fn a_password_in_a_base_url_is_never_shown() {
        let id = "8c4c51f1-f6f3-43bc-b65d-7415e8ef22c0";
        let url = "https://user:hunter2@x.test/?q=1";
        let Command::Run(run) = parse(&["run", "--dataset-id", id, "--base-url", url])
            .unwrap()
            .command
        else {
            panic!("expected run")
        };
        let err = run.api.base_url_with(|_| None).unwrap_err();
        assert!(
            err.contains("--base-url") && !err.contains("hunter2"),
            "{err}"
        );
        let Command::Run(run) = parse(&["run", "--dataset-id", id]).unwrap().command else {
            panic!("expected run")
        };
        let err = run
            .api
            .base_url_with(|n| (n == BASE_URL_ENV).then(|| url.to_owned()))
            .unwrap_err();
        assert!(
            err.contains(BASE_URL_ENV) && !err.contains("hunter2"),
            "{err}"
        );
    }

    #[test]
    fn accepts_defaults() {
        let id = "8C4C51F1-F6F3-43BC-B65D-7415E8EF22C0";
        let cli = parse(&["run", "--dataset-id", id]).unwrap();
        let Command::Run(run) = cli.command else {
            panic!("expected run")
        };
        assert_eq!(run.timeout, Duration::from_secs(1800));
        assert_eq!(run.poll_interval, Duration::from_secs(5));
        assert_eq!(
            run.dataset_ids[0].as_str(),
            "8c4c51f1-f6f3-43bc-b65d-7415e8ef22c0"
        );
    }
}
