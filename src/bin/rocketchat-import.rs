//! `rocketchat-import`: import users into Rocket.Chat and wait for the import (see `--help`).
//! Parses the command line and hands it to `woosmap::rocketchat::cli`.

use clap::Parser;
use woosmap::frontend::{ExitCode, logging};
use woosmap::rocketchat::cli::{Cli, Command};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    logging::init();
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
            Command::Run(args) => woosmap::rocketchat::cli::run(args).await,
            Command::Status(args) => woosmap::rocketchat::cli::status(args).await,
        }
    });
    code.into()
}
