#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs the real tools the tests drive (Terraform, act,
# the workflow linters, cargo-fuzz) into .venv and .tools, checks formatting and lints, runs
# every test, then fuzzes each target briefly. Extra arguments go to `cargo test`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup-tools.sh
export PATH="$root/scripts:$root/.venv/bin:$PATH"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --features fuzz --locked -- -D warnings
mkdir -p target
log="$root/target/test-output.log"
status=0
cargo test --workspace --features fuzz --locked --no-fail-fast "$@" 2>&1 | tee "$log" || status=$?
scripts/fuzz.sh 20 || status=$?
# Deterministic simulation of the engine (issue 20; src/sim): a few hundred seeds.
scripts/simulate.sh --seeds 300 || status=$?
# One closing line for the whole run (cargo prints one per test binary, fuzzing came after),
# printed whether or not something failed.
awk '/^test result:/ { p += $4; f += $6; i += $8 } END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, i }' "$log"
exit "$status"
