//! `woosmap-import`: trigger Woosmap dataset imports and wait for them (see `--help`). Parses
//! the command line and hands each subcommand to its front end: `run`, `status`,
//! `datasets`, `completions` and `man` to `woosmap_import::woosmap::cli`, `action` (GitHub Action mode) to
//! `woosmap_import::woosmap::action`.

use clap::Parser;
use woosmap_import::frontend::{self, color, logging};
use woosmap_import::woosmap::cli::{Cli, Command};
use woosmap_import::woosmap::settings::LOG_ENV;

fn main() -> std::process::ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => parse_error(e),
    };
    match &cli.command {
        Command::Completions { shell } => {
            return woosmap_import::woosmap::cli::completions(*shell).into();
        }
        Command::Man { dir } => return woosmap_import::woosmap::cli::man(dir.as_deref()).into(),
        // A bad environment value is an error before anything else (the action reports
        // its own configuration problems as workflow annotations).
        Command::Run(_) | Command::Status(_) | Command::Datasets(_) => {
            if let Err(code) = woosmap_import::woosmap::cli::check_env() {
                return code.into();
            }
        }
        Command::Action => {}
    }
    logging::init(LOG_ENV, color::apply(cli.color));
    frontend::block_on(None, async move {
        match cli.command {
            Command::Run(args) => woosmap_import::woosmap::cli::run(args).await,
            Command::Status(args) => woosmap_import::woosmap::cli::status(args).await,
            Command::Datasets(args) => woosmap_import::woosmap::cli::datasets::datasets(args).await,
            Command::Action => woosmap_import::woosmap::action::run().await,
            Command::Completions { .. } | Command::Man { .. } => unreachable!("handled above"),
        }
    })
    .into()
}

/// Prints clap's error (or help) and exits as clap would, except that a URL's userinfo in it
/// (clap echoes what was typed) is replaced by `***`: a password is never printed.
fn parse_error(e: clap::Error) -> ! {
    let plain = e.render().to_string();
    let redacted = woosmap_import::frontend::parse::redact_url_userinfo(&plain);
    if redacted == plain {
        e.exit();
    }
    if e.use_stderr() {
        eprint!("{redacted}");
    } else {
        print!("{redacted}");
    }
    std::process::exit(e.exit_code());
}
