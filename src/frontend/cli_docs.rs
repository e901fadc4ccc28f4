//! The documents every CLI prints about itself: shell completions and the manual page,
//! generated from its clap command.

use std::io::Write;

use super::ExitCode;

/// `BIN completions SHELL`: the completion script of `cmd` (named `bin`) on stdout.
pub fn completions(mut cmd: clap::Command, bin: &str, shell: clap_complete::Shell) -> ExitCode {
    clap_complete::generate(shell, &mut cmd, bin, &mut std::io::stdout());
    ExitCode::Success
}

/// `BIN man`: the manual page (roff) of `cmd` on stdout, or every page into `dir`.
pub fn man(cmd: clap::Command, dir: Option<&std::path::Path>) -> ExitCode {
    let cmd = cmd.disable_help_subcommand(true);
    let written = match dir {
        Some(dir) => std::fs::create_dir_all(dir).and_then(|()| clap_mangen::generate_to(cmd, dir)),
        None => {
            let mut out = std::io::stdout().lock();
            clap_mangen::Man::new(cmd)
                .render(&mut out)
                .and_then(|()| out.flush())
        }
    };
    match written {
        Ok(()) => ExitCode::Success,
        Err(e) => {
            eprintln!("error: could not write the manual page: {e}");
            ExitCode::ApiError
        }
    }
}
