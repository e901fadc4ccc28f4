//! `rocketchat-import`: import users into Rocket.Chat and wait for the import (see `--help`).
//! Parses the command line and hands it to `woosmap_import::rocketchat::cli`.

use clap::Parser;
use woosmap_import::frontend::{ExitCode, color, logging};
use woosmap_import::rocketchat::cli::{Cli, Command};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Command::Completions { shell } => {
            return woosmap_import::rocketchat::cli::completions(*shell).into();
        }
        Command::Man { dir } => {
            return woosmap_import::rocketchat::cli::man(dir.as_deref()).into();
        }
        _ => {}
    }
    logging::init(color::apply(cli.color));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
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
            Command::Run(args) => woosmap_import::rocketchat::cli::run(args).await,
            Command::Status(args) => woosmap_import::rocketchat::cli::status(args).await,
            Command::Action => woosmap_import::rocketchat::action::run().await,
            Command::Completions { .. } | Command::Man { .. } => unreachable!("handled above"),
        }
    });
    code.into()
}
