//! `woosmap-import`: trigger Woosmap dataset imports and wait for them (see `--help`). Parses
//! the command line and hands each subcommand to its front end: `run`, `status`,
//! `datasets`, `completions` and `man` to `woosmap::cli`, `action` (GitHub Action mode) to
//! `woosmap::action`.

use clap::Parser;
use woosmap::cli::{Cli, Command};
use woosmap::frontend::{ExitCode, logging};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Command::Completions { shell } => return woosmap::cli::completions(*shell).into(),
        Command::Man { dir } => return woosmap::cli::man(dir.as_deref()).into(),
        // A bad environment value is an error before anything else (the action reports
        // its own configuration problems as workflow annotations).
        Command::Run(_) | Command::Status(_) | Command::Datasets(_) => {
            if let Err(code) = woosmap::cli::check_env() {
                return code.into();
            }
        }
        Command::Action => {}
    }
    logging::init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::ApiError.into();
        }
    };
    let code = runtime.block_on(async move {
        match cli.command {
            Command::Run(args) => woosmap::cli::run(args).await,
            Command::Status(args) => woosmap::cli::status(args).await,
            Command::Datasets(args) => woosmap::cli::datasets::datasets(args).await,
            Command::Action => woosmap::action::run().await,
            Command::Completions { .. } | Command::Man { .. } => unreachable!("handled above"),
        }
    });
    code.into()
}
