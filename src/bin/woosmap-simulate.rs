//! `woosmap-simulate`: the deterministic simulation of Woosmap and Rocket.Chat imports
//! (`scripts/simulate.sh`; see `woosmap_import::sim`). `--seeds N` runs seeds 0..N (from
//! `--from`) of both services, `--seed S` replays one and prints its traces, `--only NAME`
//! runs one service. Exit 0 when every invariant held, 1 with the failing seed,
//! invariant and trace.

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (mut from, mut count, mut show_trace) = (0u64, 500u64, false);
    let mut services = woosmap_import::sim::SERVICES.to_vec();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| -> u64 {
            match args.next().map(|v| v.parse()) {
                Some(Ok(v)) => v,
                _ => {
                    eprintln!("{name} needs a number");
                    std::process::exit(2);
                }
            }
        };
        match arg.as_str() {
            "--seeds" => count = value("--seeds"),
            "--from" => from = value("--from"),
            "--seed" => {
                from = value("--seed");
                count = 1;
                show_trace = true;
            }
            "--only" => {
                let name = args.next().unwrap_or_default();
                services.retain(|s| s.name == name);
                if services.is_empty() {
                    eprintln!("--only needs woosmap or rocketchat");
                    return ExitCode::from(2);
                }
            }
            "-h" | "--help" => {
                println!(
                    "usage: woosmap-simulate [--only woosmap|rocketchat] [--seeds N] [--from S] | --seed S"
                );
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("unknown argument {other:?} (usage: --seeds N [--from S] | --seed S)");
                return ExitCode::from(2);
            }
        }
    }
    // Pacing stays within the process: the pacer folder lives on the real clock.
    // SAFETY: nothing else runs yet (no threads were started).
    unsafe { std::env::set_var("WOOSMAP_PACER_DIR", "off") };
    let mut out = std::io::stdout().lock();
    if woosmap_import::sim::main_loop(&services, from, count, show_trace, &mut out) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
