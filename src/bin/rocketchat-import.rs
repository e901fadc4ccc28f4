//! `rocketchat-import`: import users into Rocket.Chat and wait for the import (see `--help`).
//! Parses the command line and hands it to `woosmap_import::rocketchat::cli`.

use clap::Parser;
use woosmap_import::frontend::{self, color, logging};
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
    // The product's one log variable, which rocketchat-import has always read too.
    logging::init("WOOSMAP_LOG", color::apply(cli.color));
    frontend::block_on(Some(2), async move {
        match cli.command {
            Command::Run(args) => woosmap_import::rocketchat::cli::run(args).await,
            Command::Status(args) => woosmap_import::rocketchat::cli::status(args).await,
            Command::Action => woosmap_import::rocketchat::action::run().await,
            Command::Completions { .. } | Command::Man { .. } => unreachable!("handled above"),
        }
    })
    .into()
}
