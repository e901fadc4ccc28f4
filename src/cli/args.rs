//! Command-line arguments of `woosmap-import`: every value is parsed and checked here, before
//! any request is made, so a typo fails fast with a message that names the flag.

use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::api::{DatasetId, Secret};
pub use crate::frontend::values::{
    parse_base_url, parse_dataset_id, parse_duration, parse_poll_interval, parse_timeout,
};

const EXIT_CODES: &str = "\
Exit codes:
  0    every import succeeded (with --no-wait: every import was triggered)
  1    at least one import failed (its error entries are printed)
  2    invalid arguments or configuration: a malformed value or a missing key (nothing
       was sent), or a dataset the API does not know (404) or rejects (422)
  3    timed out waiting (the import keeps running on Woosmap's side)
  4    authentication failed: the private key is missing, unknown or lacks permission
  5    out of quota (HTTP 402)
  6    other API or network error (rate limited past the timeout, server or network fault)
  130  interrupted by Ctrl-C (the import keeps running on Woosmap's side)
When several datasets end differently, the highest-ranked code in this order wins:
130, 4, 5, 6, 3, 1.

Environment:
  WOOSMAP_PRIVATE_KEY   private key with write permission (sent as the X-Api-Key header)
  WOOSMAP_BASE_URL      API base URL (default https://api.woosmap.com)";

/// Trigger Woosmap dataset imports and wait for them to finish.
#[derive(Debug, Parser)]
#[command(name = "woosmap-import", version, after_long_help = EXIT_CODES, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Trigger an import of each dataset, wait for it and report the outcome.
    Run(RunArgs),
    /// Show the latest import run of a dataset.
    Status(StatusArgs),
    /// List every dataset of the key's project: id, name, URL, last update, deletion date.
    Datasets(super::datasets::DatasetsArgs),
    /// GitHub Action mode: read the `INPUT_*` variables set by action.yml, write
    /// `$GITHUB_OUTPUT` and `$GITHUB_STEP_SUMMARY` (see docs/github-action.md).
    #[command(hide = true)]
    Action,
}

/// Options shared by every command that talks to the API.
#[derive(Debug, Args)]
pub struct ApiArgs {
    /// Woosmap API base URL.
    #[arg(long, env = "WOOSMAP_BASE_URL", default_value = "https://api.woosmap.com", value_parser = parse_base_url)]
    pub base_url: String,

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
    /// Give it once per --dataset-id, in the same order. Prefer WOOSMAP_REIMPORT_KEY for one dataset.
    #[arg(long = "reimport-key", value_name = "KEY", env = "WOOSMAP_REIMPORT_KEY", hide_env_values = true, value_parser = parse_secret)]
    pub reimport_keys: Vec<Secret>,

    /// Trigger the imports and return without waiting for them to finish.
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

    #[command(flatten)]
    pub api: ApiArgs,
}

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
        let err = parse(&[
            "run",
            "--dataset-id",
            id,
            "--base-url",
            "https://x.test/?private_key=1",
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("--base-url"), "{err}");
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
