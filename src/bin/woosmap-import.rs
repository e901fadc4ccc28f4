//! `woosmap-import`: trigger Woosmap dataset imports and wait for them (see `--help`).

fn main() -> std::process::ExitCode {
    woosmap::cli::main()
}
